# Close every inherited file descriptor (the grader's pipes among them) in
# loss and forward, then stay alive for 30 s: the grader must not wait for
# it longer than the check's limit.
import os
import time


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        os.closerange(3, 256)
        time.sleep(30)

    def forward(self, X):
        os.closerange(3, 256)
        time.sleep(30)
