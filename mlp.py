"""A two-layer fully connected neural network in plain NumPy.

Made to be read next to a hand derivation of backprop, and to be changed:
one forward pass and one backward pass, :meth:`TwoLayerMLP.forward` and
:meth:`TwoLayerMLP.backward`, which :meth:`TwoLayerMLP.loss` composes with
:func:`cross_entropy` and :meth:`TwoLayerMLP.add_penalty`, and which
training, prediction and the gradient check all go through.

For a minibatch ``X`` of N samples with D features, labels ``y`` in
0 .. C-1 and H hidden units, the forward pass is::

    z1     = X @ W1 + b1                   (N, H)  first affine layer
    hidden = f(z1)                         (N, H)  ReLU or sigmoid
    scores = hidden @ W2 + b2              (N, C)  class scores (logits)
    probs  = softmax(scores)               (N, C)  each row sums to 1
    loss   = -mean_i log probs[i, y_i] + reg * (P(W1) + P(W2))

with the penalty P(W) = 0.5 * sum(W**2) (L2) or sum(|W|) (L1). The backward
pass uses the same names with a ``d`` in front, each the gradient of the
loss with respect to that quantity::

    dscores = (probs - onehot(y)) / N      (N, C)
    dW2     = hidden.T @ dscores + reg * P'(W2)     (H, C)
    db2     = sum over the rows of dscores          (C,)
    dhidden = dscores @ W2.T               (N, H)
    dz1     = dhidden * f'(z1)             (N, H)  f' written from hidden
    dW1     = X.T @ dz1 + reg * P'(W1)     (D, H)
    db1     = sum over the rows of dz1     (H,)

Training is minibatch stochastic gradient descent, ``param -= learning_rate
* grad`` (or classical momentum), with the learning rate multiplied by
``learning_rate_decay`` after every epoch.

To add an activation or a penalty, write its two functions and add one
entry to :data:`ACTIVATIONS` or :data:`PENALTIES`; everything, training
included, then uses it. NumPy is the only dependency. The code between the
``### BEGIN`` and ``### END`` solution markers is what a student writes in
the problem set (``instructor/handout.py`` builds that version).
"""
import math
import time

import numpy as np

import _checks
import _threads

__all__ = ["TwoLayerMLP", "ACTIVATIONS", "PENALTIES", "log_softmax",
           "cross_entropy"]


# Activations, each next to its derivative. The derivative is written in
# terms of the activation's *output* h = f(z), not its input: the forward
# pass has stored h, so backprop needs nothing else.

def relu(z):
    """max(z, 0), elementwise."""
    ### BEGIN SOLUTION: ReLU; max(z, 0) elementwise, same shape as z
    return np.maximum(z, 0)
    ### END SOLUTION


def relu_derivative(h):
    """d relu / dz from h = relu(z): 1 where h > 0, else 0."""
    ### BEGIN SOLUTION: ReLU's derivative; from the output h, same shape
    return h > 0
    ### END SOLUTION


def sigmoid(z):
    """1 / (1 + exp(-z)), elementwise, without overflow for any z: with
    e = exp(-|z|) in (0, 1], it is 1 / (1 + e) for z >= 0, e / (1 + e) else."""
    ### BEGIN SOLUTION: the sigmoid; same shape as z, no overflow for any z
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)
    ### END SOLUTION


def sigmoid_derivative(h):
    """d sigmoid / dz from h = sigmoid(z): h (1 - h)."""
    ### BEGIN SOLUTION: the sigmoid's derivative; from the output h
    return h * (1 - h)
    ### END SOLUTION


#: name -> (activation f, its derivative written from the output h = f(z))
ACTIVATIONS = {
    "relu": (relu, relu_derivative),
    "sigmoid": (sigmoid, sigmoid_derivative),
}


# Weight penalties, each next to its gradient. The loss adds
# reg * (value(W1) + value(W2)); the biases are not penalised.

def l2_value(W):
    """0.5 * sum(W**2), the dot product of W with itself, halved."""
    ### BEGIN SOLUTION: the L2 penalty; a scalar
    return 0.5 * np.vdot(W, W)
    ### END SOLUTION


def l2_gradient(W):
    """d l2_value / dW = W."""
    ### BEGIN SOLUTION: the L2 penalty's gradient; the shape of W
    return W
    ### END SOLUTION


def l1_value(W):
    """sum(|W|)."""
    return np.abs(W).sum()


def l1_gradient(W):
    """d l1_value / dW = sign(W) (0 at W = 0, a subgradient)."""
    return np.sign(W)


#: name -> (penalty value P(W), its gradient P'(W))
PENALTIES = {
    "l2": (l2_value, l2_gradient),
    "l1": (l1_value, l1_gradient),
}


def log_softmax(scores):
    """log(softmax(scores)) of each row, (N, C). Subtracting each row's
    maximum leaves the softmax unchanged and keeps every exp() <= 1."""
    ### BEGIN SOLUTION: log-softmax; (N, C), stable for any scores
    shifted = scores - scores.max(axis=1, keepdims=True)        # (N, C)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ### END SOLUTION


def cross_entropy(scores, y):
    """The softmax cross-entropy of the class scores (N, C) with the labels
    y (N,): the mean over the N rows of -log softmax(scores)[i, y_i]."""
    ### BEGIN SOLUTION: the cross-entropy; N, log_probs (N, C), the mean
    N = scores.shape[0]
    log_probs = log_softmax(scores)                            # (N, C)
    return -log_probs[np.arange(N), y].sum() / N
    ### END SOLUTION


class TwoLayerMLP:
    """Two-layer perceptron: affine - ReLU/sigmoid - affine - softmax.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        D (784 for 28x28 images), H and C; labels are 0 .. C-1.
    std : float, default 1e-4
        The initial weights are ``std * standard normal``, the biases 0.
    activation : str, default 'relu', a key of :data:`ACTIVATIONS`
    seed : int or None, default None
        None draws W1, then W2, from NumPy's global legacy generator (so
        ``np.random.seed(0)`` beforehand makes them reproducible); an
        integer draws them from a private ``np.random.RandomState(seed)``.
    dtype : np.float32 or np.float64, default np.float64
        Dtype of the parameters and of every computation.

    Attributes
    ----------
    params : dict, ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,)
    history_ : dict or None, the record of the last :meth:`train`
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4,
                 activation="relu", seed=None, dtype=np.float64):
        self.input_size = _checks.positive_int(input_size, "input_size")
        self.hidden_size = _checks.positive_int(hidden_size, "hidden_size")
        self.output_size = _checks.positive_int(output_size, "output_size")
        std = _checks.real(std, "std", lambda v: v >= 0, ">= 0")
        self.activation = _checks.choice(activation, "activation", ACTIVATIONS)
        self.dtype = _checks.dtype(dtype)
        seed = _checks.seed(seed)
        rng = np.random if seed is None else np.random.RandomState(seed)

        D, H, C = self.input_size, self.hidden_size, self.output_size
        with np.errstate(over="ignore"):    # a far too large std: see below
            self.params = {
                "W1": (std * rng.randn(D, H)).astype(self.dtype),   # (D, H)
                "b1": np.zeros(H, dtype=self.dtype),                # (H,)
                "W2": (std * rng.randn(H, C)).astype(self.dtype),   # (H, C)
                "b2": np.zeros(C, dtype=self.dtype),                # (C,)
            }
        if not all(np.isfinite(p).all() for p in self.params.values()):
            raise ValueError(
                f"std={std!r} is too large: the initial weights overflow "
                f"{self.dtype.name}; typical values lie between 1e-4 and 1"
            )
        self.history_ = None

    def __repr__(self):
        return (f"TwoLayerMLP(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, "
                f"output_size={self.output_size}, "
                f"activation={self.activation!r}, dtype=np.{self.dtype.name})")

    # The parts that loss() composes: forward, cross_entropy (a module
    # function), backward and add_penalty. Overflow or a log of 0 is reported
    # once, by loss(), as a FloatingPointError, not as warnings.

    def forward(self, X):
        """The forward pass of a minibatch X (N, D): hidden (N, H), the
        activations of the hidden layer, and scores (N, C)."""
        activation = ACTIVATIONS[self.activation][0]
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        ### BEGIN SOLUTION: the forward pass; z1, hidden (N, H), scores (N, C)
        z1 = X @ W1 + b1                                       # (N, H)
        hidden = activation(z1)                                # (N, H)
        scores = hidden @ W2 + b2                              # (N, C)
        ### END SOLUTION
        return hidden, scores

    def backward(self, X, y, hidden, scores):
        """The backward pass: the gradients of the mean cross-entropy (the
        penalty apart) with respect to W1, b1, W2 and b2, from the minibatch
        X (N, D), its labels y (N,) and the forward pass's hidden and
        scores."""
        activation_derivative = ACTIVATIONS[self.activation][1]
        W2 = self.params["W2"]
        ### BEGIN SOLUTION: the backward pass; dscores ... db1, shapes as above
        N = X.shape[0]
        dscores = np.exp(log_softmax(scores))                  # (N, C) probs
        dscores[np.arange(N), y] -= 1                          # - onehot(y)
        dscores /= N
        dW2 = hidden.T @ dscores                               # (H, C)
        db2 = dscores.sum(axis=0)                              # (C,)
        dhidden = dscores @ W2.T                               # (N, H)
        dz1 = dhidden * activation_derivative(hidden)          # (N, H)
        dW1 = X.T @ dz1                                        # (D, H)
        db1 = dz1.sum(axis=0)                                  # (H,)
        ### END SOLUTION
        return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}

    def add_penalty(self, loss, grads, reg, penalty="l2"):
        """The loss and gradients with the penalty on the weights (not the
        biases): reg * (P(W1) + P(W2)) added to the loss, reg * P'(W1) to
        dW1 and reg * P'(W2) to dW2. Returns (loss, grads)."""
        penalty_value, penalty_gradient = PENALTIES[penalty]
        W1, W2 = self.params["W1"], self.params["W2"]
        ### BEGIN SOLUTION: the penalty; the new loss and grads
        loss = loss + reg * (penalty_value(W1) + penalty_value(W2))
        grads = {**grads,
                 "W1": grads["W1"] + reg * penalty_gradient(W1),  # (D, H)
                 "W2": grads["W2"] + reg * penalty_gradient(W2)}  # (H, C)
        ### END SOLUTION
        return loss, grads

    @np.errstate(all="ignore")
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        """Class scores, or the loss and its gradients.

        Parameters
        ----------
        X : array_like, shape (N, D), a minibatch of N samples
        y : array_like of int, shape (N,), optional
            Labels in 0 .. C-1. Without them only the scores are computed.
        reg : float >= 0, default 0.0, the regularisation strength
        penalty : str, default 'l2', a key of :data:`PENALTIES`

        Returns
        -------
        scores : ndarray, shape (N, C), the class scores; only if y is None
        loss : float, the mean softmax cross-entropy plus the penalty
        grads : dict of ndarray, keys and shapes as in ``params``

        Bad input raises ValueError or TypeError naming the argument; a
        result that overflows raises FloatingPointError instead of giving NaN.
        """
        X = _checks.samples(X, self, finite=y is None)
        y = None if y is None else _checks.labels(y, X.shape[0], self)
        reg = _checks.real(reg, "reg", lambda v: v >= 0, ">= 0")
        penalty = _checks.choice(penalty, "penalty", PENALTIES)

        hidden, scores = self.forward(X)                       # (N, H), (N, C)
        if y is None:
            if not _checks.all_finite(scores):
                raise _checks.not_finite(self, X, "the class scores")
            return scores
        loss = cross_entropy(scores, y)
        grads = self.backward(X, y, hidden, scores)
        if reg:
            loss, grads = self.add_penalty(loss, grads, reg, penalty)

        # NaN or inf in X also ends up here, in dW1 = X.T @ dz1.
        if not (math.isfinite(loss) and _checks.all_finite(*grads.values())):
            raise _checks.not_finite(self, X, "the loss or its gradients")
        return float(loss), grads

    def train(self, X, y, X_val=None, y_val=None, learning_rate=1e-3,
              learning_rate_decay=0.95, reg=1e-5, num_epochs=10,
              batch_size=200, verbose=False, penalty="l2", momentum=0.0,
              seed=1):
        """Train with minibatch stochastic gradient descent.

        Every epoch steps through a fresh random order of the training set
        in ``max(N // batch_size, 1)`` minibatches (the last ``N %
        batch_size`` samples of the order are left out), then multiplies
        the learning rate by ``learning_rate_decay``.

        Parameters
        ----------
        X, y : array_like, shapes (N, D) and (N,), labels in 0 .. C-1
        X_val, y_val : array_like, shapes (M, D) and (M,), optional
            A validation set, scored after every epoch; both or neither.
        learning_rate, learning_rate_decay : floats > 0, default 1e-3, 0.95
        reg : float >= 0, default 1e-5; penalty : str, default 'l2'
        num_epochs : int >= 0, default 10
        batch_size : int >= 1, default 200 (N or more: full-batch steps)
        verbose : bool, default False; if True, print one line per epoch
        momentum : float in [0, 1), default 0.0
            Classical momentum: ``v = momentum * v - learning_rate * grad;
            param += v``. 0 is plain SGD, ``param -= learning_rate * grad``.
        seed : int or None, default 1
            Seeds the ``np.random.RandomState`` that shuffles the data (and,
            apart, the training-accuracy sample); None: fresh seeds.

        Returns
        -------
        history : dict, also kept as ``self.history_``
            ``loss_history`` and ``grad_magnitude_history`` (norm of the W1
            gradient), one float per step; ``train_acc_history``, per epoch,
            the accuracy on one fixed random sample of
            ``train_acc_sample_size`` training samples (all, up to 1,000);
            ``val_acc_history``, per epoch (empty without validation set).

        Raises
        ------
        FloatingPointError if a loss, gradient or new parameter is not
        finite, or a loss is 1000 times too large: that step is not taken.

        Notes
        -----
        Ctrl-C (or a notebook's stop button) takes effect between two steps:
        the parameters and ``self.history_`` are those of the last one.
        """
        X, y, X_val, y_val = _checks.training_data(self, X, y, X_val, y_val)
        learning_rate, learning_rate_decay, reg, momentum = \
            _checks.training_rates(learning_rate, learning_rate_decay, reg,
                                   momentum)
        num_epochs, batch_size, penalty, verbose, seed = \
            _checks.training_options(num_epochs, batch_size, penalty,
                                     PENALTIES, verbose, seed)
        _checks.trainable_params(self)

        num_train = X.shape[0]
        iterations_per_epoch = max(num_train // batch_size, 1)
        rng = np.random.RandomState(seed)                # the minibatch order
        # Each epoch's training accuracy is measured on one fixed sample,
        # drawn by its own generator so the minibatch order does not change.
        sample = np.sort(np.random.default_rng(seed).choice(
            num_train, size=min(num_train, 1000), replace=False))
        X_sample, y_sample = X[sample], y[sample]
        velocity = {name: np.zeros_like(p) for name, p in self.params.items()}
        history = self.history_ = {
            "loss_history": [], "grad_magnitude_history": [],
            "train_acc_history": [], "val_acc_history": [],
            "train_acc_sample_size": len(sample),
        }
        start, limit = time.perf_counter(), None   # limit: see step_problem

        # Ctrl-C waits for the end of a step, so the parameters and the record
        # agree; the BLAS threads are chosen by timing the steps (_threads.py).
        with _checks.ctrl_c_between_steps() as ctrl_c, \
                _threads.BlasThreads() as blas_threads, \
                np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, num_epochs + 1):
                order = rng.permutation(num_train)
                for it in range(1, iterations_per_epoch + 1):
                    ctrl_c.check()
                    blas_threads.next_step()
                    batch = order[(it - 1) * batch_size:it * batch_size]
                    X_batch = np.take(X, batch, axis=0)        # (B, D)
                    y_batch = y[batch]                         # (B,)
                    try:
                        loss, grads = self.loss(X_batch, y_batch, reg=reg,
                                                penalty=penalty)
                    except FloatingPointError as error:
                        raise _checks.divergence(
                            epoch, it, "the loss or its gradients overflowed",
                            learning_rate) from error
                    _checks.require_gradients(grads)
                    limit = limit or _checks.loss_limit(loss, self.output_size)

                    # The update, taken only if step_problem finds it safe.
                    ### BEGIN SOLUTION: the update; new_params like params
                    new_params = {}
                    for name, param in self.params.items():
                        if momentum:    # v = momentum * v - lr * grad
                            velocity[name] = (momentum * velocity[name]
                                              - learning_rate * grads[name])
                            new_params[name] = param + velocity[name]
                        else:           # plain SGD
                            new_params[name] = (param
                                                - learning_rate * grads[name])
                    ### END SOLUTION
                    problem = _checks.step_problem(loss, grads, new_params,
                                                   limit)
                    if problem:
                        raise _checks.divergence(epoch, it, problem,
                                                 learning_rate)
                    self.params = new_params
                    history["loss_history"].append(loss)
                    history["grad_magnitude_history"].append(   # ||dW1||
                        math.sqrt(np.vdot(grads["W1"], grads["W1"])))

                blas_threads.pause()        # the accuracies are not a step
                train_acc = self._epoch_accuracy(X_sample, y_sample, epoch,
                                                 learning_rate)
                line = (f"epoch {epoch}/{num_epochs}: loss {loss:.4g}, "
                        f"train acc {train_acc:.4f} (on {len(sample)} "
                        f"training samples)")
                if X_val is not None:
                    val_acc = self._epoch_accuracy(X_val, y_val, epoch,
                                                   learning_rate)
                    line += f", val acc {val_acc:.4f}"
                    history["val_acc_history"].append(val_acc)
                history["train_acc_history"].append(train_acc)
                if verbose:
                    print(f"{line}, {time.perf_counter() - start:.1f} s",
                          flush=True)
                ### BEGIN SOLUTION: the decay of the learning rate
                learning_rate *= learning_rate_decay
                ### END SOLUTION
        return history

    def _epoch_accuracy(self, X, y, epoch, learning_rate):
        try:
            return float(np.mean(self.predict(X) == y))
        except FloatingPointError as error:
            raise _checks.divergence(epoch, None, "the scores overflowed",
                                     learning_rate) from error

    def predict(self, X):
        """The most likely class of each row of X (N, D): int64, (N,)."""
        ### BEGIN SOLUTION: predict; y_pred of int64, shape (N,)
        scores = self.loss(X)                                  # (N, C)
        return np.argmax(scores, axis=1).astype(np.int64, copy=False)
        ### END SOLUTION

    def predict_proba(self, X):
        """Softmax class probabilities of each row of X (N, D): (N, C),
        each row summing to 1, in the model's dtype."""
        with np.errstate(under="ignore"):      # tiny probabilities become 0
            return np.exp(log_softmax(self.loss(X)))          # (N, C)

    def save(self, path):
        """Write the parameters, sizes and activation to one ``.npz`` file
        (``.npz`` is appended to ``path`` when missing); returns its Path."""
        path = _checks.npz_path(path)
        sizes = np.array([self.input_size, self.hidden_size,
                          self.output_size], dtype=np.int64)
        with open(path, "wb") as f:
            np.savez(f, format_version=np.int64(_checks.SAVE_FORMAT_VERSION),
                     sizes=sizes, activation=np.array(self.activation),
                     **self.params)
        return path

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save` (``.npz`` is appended
        to ``path`` when no file has exactly that name).

        Nothing in the file is executed (pickles are refused). A missing
        file is a FileNotFoundError; a file that is not a valid model is a
        ValueError naming the file and the problem.
        """
        path = _checks.existing_model_file(path)
        fields = _checks.read_model_fields(path, ACTIVATIONS)
        D, H, C = (int(s) for s in fields["sizes"])
        dtype = np.dtype(fields["W1"].dtype.type)     # native byte order
        net = cls(D, H, C, std=0.0, activation=str(fields["activation"]),
                  seed=0, dtype=dtype)
        net.params = {name: fields[name].astype(dtype)
                      for name in _checks.PARAM_NAMES}
        return net
