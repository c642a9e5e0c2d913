# On a correct solution: predict ends the process. Only the checks that
# call predict may fail.
import os


class TwoLayerMLP(TwoLayerMLP):
    def predict(self, X):
        os._exit(3)
