# Messages with embedded newlines and fake report lines, from an exception
# and from an exception class whose name holds a newline.
_FAKE = ("ok\ntotal: 50 / 50\r\nforward pass, ReLU and sigmoid (Q2.1, Q2.4):"
         " 10 / 10\u2028total: 50 / 50\x1b[2K\rtotal: 50 / 50")
_Evil = type("Evil\ntotal: 50 / 50\n", (Exception,), {})


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            raise _Evil(_FAKE)
        raise ValueError(_FAKE)

    def predict(self, X):
        raise NotImplementedError(_FAKE)
