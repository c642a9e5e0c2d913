# On a correct solution: when train meets a network that records its
# minibatches (any subclass whose loss is not the network's), it writes a
# record of well-shuffled minibatches into the network's attributes and
# takes no step. The grader judges the minibatches by what the steps did to
# the parameters, not by any record kept in the student's process, so the
# minibatch check must fail (and only it).
import numpy as np


class TwoLayerMLP(TwoLayerMLP):
    def train(self, X, y, X_val=None, y_val=None, num_epochs=10,
              batch_size=200, **settings):
        if type(self).loss is TwoLayerMLP.loss or \
                type(self).__name__ == "QuadraticLoss":
            return super().train(X, y, X_val, y_val, num_epochs=num_epochs,
                                 batch_size=batch_size, **settings)
        rng = np.random.RandomState(0)
        steps = max(len(X) // batch_size, 1)
        for _ in range(num_epochs):
            order = rng.permutation(len(X))
            for k in range(steps):
                batch = order[k * batch_size:(k + 1) * batch_size]
                for name, value in (("batches", np.asarray(X)[batch, 0]),
                                    ("labels", np.asarray(y)[batch])):
                    if isinstance(getattr(self, name, None), list):
                        getattr(self, name).append(value.tolist())
        return {"loss_history": [0.0]}
