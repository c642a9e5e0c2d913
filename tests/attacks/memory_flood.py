# On a correct solution: predict allocates memory until there is no more.
# Only the checks that call predict may fail.
class TwoLayerMLP(TwoLayerMLP):
    def predict(self, X):
        blocks = []
        for _ in range(10_000):                 # at most 1 TB asked for
            blocks.append(bytearray(100 << 20))
        return super().predict(X)
