# On a correct solution: predict never returns. Only the checks that call
# predict may fail, each after its time limit.
class TwoLayerMLP(TwoLayerMLP):
    def predict(self, X):
        while True:
            pass
