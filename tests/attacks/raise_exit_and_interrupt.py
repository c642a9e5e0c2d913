# SystemExit and KeyboardInterrupt out of the student's methods.
class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        raise SystemExit(0)

    def predict(self, X):
        raise KeyboardInterrupt
