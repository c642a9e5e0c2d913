# Dereference a null pointer in loss: the process dies with SIGSEGV.
import ctypes


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        ctypes.string_at(0)
