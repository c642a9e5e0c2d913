# A pure cheat: nothing of the network is written (the handout's stubs),
# and train never asks for a loss or a gradient: it keeps W1 as drawn and
# fits W2 to the training labels by ridge least squares on the hidden
# layer, which classifies held-out digits well. A network whose loss was
# never written earns nothing, the digits included.
import numpy as np


class TwoLayerMLP(TwoLayerMLP):
    def train(self, X, y, X_val=None, y_val=None, **settings):
        X = np.asarray(X, dtype=float)
        z1 = X @ self.params["W1"] + self.params["b1"]
        hidden = (np.maximum(z1, 0) if self.activation == "relu"
                  else 0.5 * (1 + np.tanh(0.5 * z1)))
        target = np.eye(self.output_size)[np.asarray(y)]
        W2 = np.linalg.solve(hidden.T @ hidden + np.eye(hidden.shape[1]),
                             hidden.T @ target)
        self.params = {**self.params, "W2": W2,
                       "b2": np.zeros(self.output_size)}
        return {"loss_history": [0.0], "train_acc_history": [],
                "val_acc_history": [], "grad_magnitude_history": []}
