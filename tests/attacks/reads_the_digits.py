# On a correct solution: train looks for a copy of the digits (scikit-learn
# ships them) and raises if it finds one. The grader hides scikit-learn from
# the sandbox, so train never finds them and nothing may fail.
class TwoLayerMLP(TwoLayerMLP):
    def train(self, X, y, *args, **kwargs):
        try:
            from sklearn.datasets import load_digits
            load_digits()
        except Exception:           # noqa: BLE001, not there: as it must be
            return super().train(X, y, *args, **kwargs)
        raise RuntimeError("the digits are readable in the sandbox")
