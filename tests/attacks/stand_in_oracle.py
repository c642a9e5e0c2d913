# Ask the grader for the reference answer of every call, as a network whose
# loss and predict are stood in for would, and return it: the grader must
# answer such questions only inside the checks that stand in for a part,
# and otherwise end the check.
import sys


def _oracle(method, arguments):
    entry = sys.modules.get("__main__")
    ask = getattr(entry, "ask_grader", None)
    if ask is None:
        raise RuntimeError("no way to ask the grader")
    return ask(method, arguments)


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        return _oracle("loss", {"params": self.params, "X": X, "y": y,
                                "reg": reg})

    def predict(self, X):
        return _oracle("predict", {"params": self.params, "X": X})
