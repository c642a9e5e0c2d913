# On a correct solution: no network of its own (zero scores and zero
# gradients), and a train that, whenever the grader's stand-in channel is
# there, takes its steps with the reference's gradients. The digits checks
# must not answer it, and must not give points for training that does not
# go through the student's own loss.
import sys

import numpy as np


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            return np.zeros((len(X), self.output_size))
        return 0.0, {k: np.zeros_like(v) for k, v in self.params.items()}

    def train(self, X, y, X_val=None, y_val=None, learning_rate=1e-3,
              learning_rate_decay=0.95, reg=1e-5, num_epochs=10,
              batch_size=200, **options):
        ask = getattr(sys.modules.get("__main__"), "ask_grader", None)
        if ask is None or len(X) < 1000:
            return super().train(X, y, X_val, y_val, learning_rate,
                                 learning_rate_decay, reg, num_epochs,
                                 batch_size, **options)
        for _ in range(num_epochs * (len(X) // batch_size)):
            _, grads = ask("loss", {"params": self.params, "X": X[:batch_size],
                                    "y": y[:batch_size], "reg": reg})
            self.params = {k: v - learning_rate * grads[k]
                           for k, v in self.params.items()}
        return {"loss_history": []}
