"""A two-layer fully connected neural network in plain NumPy.

The network computes, for a minibatch ``X`` of shape (N, D)::

    z1     = X @ W1 + b1            # (N, H)  first affine layer
    hidden = f(z1)                  # (N, H)  ReLU or sigmoid
    scores = hidden @ W2 + b2       # (N, C)  class scores (logits)
    loss   = mean cross-entropy of softmax(scores) + penalty(W1, W2)

and trains with minibatch stochastic gradient descent. The backward pass
uses the same names with a ``d`` in front (``dscores``, ``dhidden``,
``dz1``), each the gradient of the loss with respect to that quantity, so
the code can be read line by line next to a hand derivation of backprop.

NumPy is the only dependency.
"""

import contextlib
import math
import numbers
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["TwoLayerMLP"]


# ---------------------------------------------------------------------------
# Activations and their derivatives, side by side.
#
# Each derivative is written in terms of the activation's *output*
# h = f(z), not its input: that is the quantity the forward pass has
# already stored, so backprop needs nothing else.
# ---------------------------------------------------------------------------

def _relu(z, out=None):
    """max(z, 0), elementwise (into ``out`` when given)."""
    return np.maximum(z, 0, out=out)


def _sigmoid(z, out=None):
    """1 / (1 + exp(-z)), elementwise, for any finite z without overflow.

    exp(-|z|) lies in (0, 1], so it can only underflow (to 0, which is the
    right limit), never overflow: for z >= 0 the usual form 1 / (1 + e)
    is used, for z < 0 the equivalent e / (1 + e). The result goes into
    ``out`` when given (which may be z itself).
    """
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
    return np.divide(np.where(z >= 0, 1, e), 1 + e, out=out)


def _relu_derivative(h):
    """d relu / dz from the output h = relu(z): 1 where h > 0, else 0."""
    return h > 0


def _sigmoid_derivative(h):
    """d sigmoid / dz from the output h = sigmoid(z): h (1 - h)."""
    return h * (1 - h)


ACTIVATIONS = {"relu": _relu, "sigmoid": _sigmoid}
DERIVATIVES = {"relu": _relu_derivative, "sigmoid": _sigmoid_derivative}

PENALTIES = ("l2", "l1")
DTYPES = (np.float32, np.float64)

_SAVE_FORMAT_VERSION = 1


# ---------------------------------------------------------------------------
# Input checking: every public entry point goes through these, so a bad
# argument is reported by name before NumPy sees it.
# ---------------------------------------------------------------------------

def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_positive_int(value, name, minimum=1):
    if not _is_int(value):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} "
            f"of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def _check_real(value, name, ok, requirement, hint=""):
    """Return value as a Python float after checking ``ok(value)``.

    ``requirement`` says in words what ``ok`` tests (e.g. "> 0"), for the
    error message. A Python float (not a NumPy scalar) is returned on
    purpose: mixing a Python float with a float32 array keeps the result
    float32, whereas a np.float64 scalar would silently upcast it.
    """
    if not _is_real(value):
        raise TypeError(
            f"{name} must be a real number {requirement}, got {value!r} "
            f"of type {type(value).__name__}"
        )
    value = float(value)
    if not (np.isfinite(value) and ok(value)):
        message = f"{name} must be a finite number {requirement}, got {value!r}"
        raise ValueError(message + (f"; {hint}" if hint else ""))
    return value


def _check_seed(seed):
    """None, or an integer that np.random.RandomState accepts."""
    if seed is None:
        return None
    if not _is_int(seed):
        raise TypeError(
            f"seed must be None or an integer, got {seed!r} "
            f"of type {type(seed).__name__}"
        )
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {seed}")
    return int(seed)


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def _check_dtype(dtype):
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.type not in DTYPES:
        raise ValueError(
            f"dtype must be np.float32 or np.float64, got {dtype!r}"
        )
    return resolved


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------

class TwoLayerMLP:
    """Two-layer perceptron: affine - ReLU/sigmoid - affine - softmax.

    Parameters
    ----------
    input_size : int
        D, the number of input features (784 for 28x28 images).
    hidden_size : int
        H, the number of hidden units.
    output_size : int
        C, the number of classes; labels are 0 .. C-1.
    std : float, default 1e-4
        Standard deviation of the initial weights, drawn as
        ``std * standard normal``; the biases start at zero.
    activation : {'relu', 'sigmoid'}, default 'relu'
        The hidden-layer nonlinearity.
    seed : int or None, default None
        None draws W1, then W2, from NumPy's global legacy generator (so
        ``np.random.seed(0)`` beforehand makes the weights reproducible).
        An integer draws them the same way from a private
        ``np.random.RandomState(seed)`` and leaves the global state alone.
    dtype : np.float32 or np.float64, default np.float64
        Dtype of the parameters and of every computation; inputs are cast
        to it.

    Attributes
    ----------
    params : dict of ndarray
        ``W1`` (D, H), ``b1`` (H,), ``W2`` (H, C), ``b2`` (C,).
    history_ : dict or None
        The record of the most recent call to :meth:`train` (the same dict
        it returns); None before any training.

    Examples
    --------
    >>> net = TwoLayerMLP(784, 64, 10, std=0.1, seed=0)
    >>> stats = net.train(X_train, y_train, X_val, y_val)   # doctest: +SKIP
    >>> net.predict(X_test[:5])                               # doctest: +SKIP
    array([7, 2, 1, 0, 4])
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4,
                 activation="relu", seed=None, dtype=np.float64):
        self.input_size = _check_positive_int(input_size, "input_size")
        self.hidden_size = _check_positive_int(hidden_size, "hidden_size")
        self.output_size = _check_positive_int(output_size, "output_size")
        std = _check_real(std, "std", lambda v: v >= 0, ">= 0")
        self.activation = _check_choice(activation, "activation",
                                        tuple(ACTIVATIONS))
        self.dtype = _check_dtype(dtype)
        seed = _check_seed(seed)
        rng = np.random if seed is None else np.random.RandomState(seed)

        D, H, C = self.input_size, self.hidden_size, self.output_size
        with np.errstate(over="ignore"):    # checked just below
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
        return (
            f"TwoLayerMLP(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, output_size={self.output_size}, "
            f"activation={self.activation!r}, dtype=np.{self.dtype.name})"
        )

    # -- checking data ------------------------------------------------------

    def _check_X(self, X, name="X"):
        """X as a finite (N, D) array of the model's dtype.

        The result may be the caller's own array (when it already has the
        right dtype); it is only ever read.
        """
        if X is None:
            raise TypeError(f"{name} must be an array of shape (N, "
                            f"{self.input_size}), got None")
        try:
            X = np.asarray(X)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{name} could not be turned into an array ({exc}); every "
                f"row must have the same length, {self.input_size}"
            ) from None
        if X.dtype.kind not in "biuf":
            raise TypeError(
                f"{name} must hold real numbers, got an array of dtype "
                f"{X.dtype}; convert it with np.asarray({name}, dtype=float)"
            )
        if X.ndim != 2:
            if X.ndim == 1:
                hint = f"; for a single sample use {name}.reshape(1, -1)"
            elif X.ndim > 2:
                hint = (f"; flatten each sample, e.g. "
                        f"{name}.reshape(len({name}), -1)")
            else:
                hint = ""
            raise ValueError(
                f"{name} must be a 2-D array of shape (N, {self.input_size}), "
                f"got {X.ndim}-D shape {X.shape}{hint}"
            )
        if X.shape[0] == 0:
            raise ValueError(f"{name} is empty (shape {X.shape}); "
                             f"pass at least one sample")
        if X.shape[1] != self.input_size:
            raise ValueError(
                f"{name} has {X.shape[1]} columns but this network has "
                f"input_size={self.input_size}; each row of {name} must be "
                f"one sample with {self.input_size} features"
            )
        original = X
        with np.errstate(over="ignore"):    # checked just below
            X = X.astype(self.dtype, copy=False)
        # min and max are NaN or infinite exactly when some value is: two
        # quick passes, with no temporary the size of X. The slower
        # diagnosis runs only when something is wrong.
        if not (np.isfinite(X.min()) and np.isfinite(X.max())):
            if original.dtype.kind == "f" and not np.isfinite(original).all():
                row, col = np.argwhere(~np.isfinite(original))[0]
                raise ValueError(
                    f"{name} contains NaN or infinite values (first at row "
                    f"{row}, column {col}); remove or impute them first"
                )
            raise ValueError(
                f"{name} holds values too large for this {self.dtype.name} "
                f"model (largest allowed magnitude "
                f"{np.finfo(self.dtype).max:.3g}); rescale the inputs"
            )
        return X

    def _check_y(self, y, num_samples, name="y", x_name="X"):
        """y as an int64 vector of num_samples labels in 0 .. C-1."""
        if y is None:
            raise TypeError(f"{name} must be a 1-D array of integer labels, "
                            f"got None")
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-D array of {num_samples} integer labels, "
                f"got shape {y.shape}"
                + ("; if it is one-hot, pass y.argmax(axis=1)"
                   if y.ndim == 2 else "")
            )
        if y.shape[0] != num_samples:
            raise ValueError(
                f"{name} has {y.shape[0]} labels but {x_name} has "
                f"{num_samples} rows; they must match"
            )
        if y.dtype.kind == "f" and not (np.isfinite(y).all()
                                        and (y == np.round(y)).all()):
            raise TypeError(
                f"{name} must hold integer class labels, got dtype {y.dtype} "
                f"with non-integer values; labels are 0 .. "
                f"{self.output_size - 1}"
            )
        if y.dtype.kind not in "iuf":
            raise TypeError(
                f"{name} must hold integer class labels, got dtype {y.dtype}; "
                f"labels are 0 .. {self.output_size - 1}"
            )
        # The range is checked before converting, so that a huge label
        # cannot wrap around into a valid-looking one.
        outside = (y < 0) | (y >= self.output_size)
        if outside.any():
            raise ValueError(
                f"{name} contains the label {y[outside][0]}, outside 0 .. "
                f"{self.output_size - 1} (output_size={self.output_size})"
            )
        labels = y.astype(np.int64, copy=False)
        return labels

    # -- forward and backward -----------------------------------------------

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        """Class scores, or the loss and its gradients.

        Parameters
        ----------
        X : array_like, shape (N, D)
            A minibatch of N samples.
        y : array_like of int, shape (N,), optional
            Labels in 0 .. C-1. Without them only the scores are computed.
        reg : float, default 0.0
            Regularisation strength (>= 0).
        penalty : {'l2', 'l1'}, default 'l2'
            ``'l2'`` adds ``0.5 * reg * (sum W1**2 + sum W2**2)``,
            ``'l1'`` adds ``reg * (sum |W1| + sum |W2|)``. Biases are not
            penalised.

        Returns
        -------
        scores : ndarray, shape (N, C)
            Only when y is None: the class scores (logits).
        loss : float
            Mean softmax cross-entropy plus the penalty.
        grads : dict of ndarray
            Gradients of the loss, with the keys and shapes of ``params``.

        Raises
        ------
        FloatingPointError
            If the result overflows the model's dtype (inputs or weights of
            astronomical size), instead of returning NaN.
        """
        X = self._check_X(X)
        reg = _check_real(reg, "reg", lambda v: v >= 0, ">= 0")
        penalty = _check_choice(penalty, "penalty", PENALTIES)
        if y is None:
            return self._checked_scores(X)
        y = self._check_y(y, X.shape[0])
        with np.errstate(over="ignore", invalid="ignore"):   # checked below
            loss, grads = self._loss(X, y, reg, penalty)
        if not (np.isfinite(loss)
                and all(np.isfinite(g).all() for g in grads.values())):
            raise self._overflow_error(X, "the loss or its gradients")
        return loss, grads

    def _overflow_error(self, X, what):
        largest_w = max(float(np.abs(p).max()) for p in self.params.values())
        return FloatingPointError(
            f"{what} overflowed {self.dtype.name}: the largest |X| is "
            f"{float(np.abs(X).max()):.3g} and the largest parameter "
            f"magnitude {largest_w:.3g}; rescale the inputs (e.g. to [0, 1])"
        )

    def _forward(self, X):
        """Forward pass up to the scores, on checked input.

        Parameters
        ----------
        X : ndarray, shape (N, D), of the model's dtype

        Returns
        -------
        hidden : ndarray, shape (N, H)
            The hidden activations f(z1), kept for the backward pass.
        scores : ndarray, shape (N, C)
            The class scores (logits).
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        z1 = X @ W1 + b1                                      # (N, H)
        hidden = ACTIVATIONS[self.activation](z1)             # (N, H)
        scores = hidden @ W2 + b2                             # (N, C)
        return hidden, scores

    def _checked_scores(self, X):
        """Scores of checked input; a FloatingPointError if they overflow."""
        with np.errstate(over="ignore", invalid="ignore"):   # checked below
            scores = self._forward(X)[1]
        if not np.isfinite(scores).all():
            raise self._overflow_error(X, "the class scores")
        return scores

    def _loss(self, X, y, reg, penalty):
        """Loss and gradients on checked input (see :meth:`loss`).

        Parameters
        ----------
        X : ndarray, shape (N, D), of the model's dtype
        y : ndarray of int64, shape (N,), labels in 0 .. C-1
        reg : float (a Python float, so that float32 stays float32)
        penalty : {'l2', 'l1'}

        Returns
        -------
        loss : float
        grads : dict of ndarray, the keys and shapes of ``params``
        """
        W1, W2 = self.params["W1"], self.params["W2"]
        N = X.shape[0]
        rows = np.arange(N)

        # Forward pass.
        hidden, scores = self._forward(X)                     # (N, H), (N, C)

        # Softmax cross-entropy via log-sum-exp: shifting each row by its
        # maximum leaves the softmax unchanged and keeps exp() <= 1.
        shifted = scores - scores.max(axis=1, keepdims=True)  # (N, C)
        with np.errstate(under="ignore"):   # exp underflowing to 0 is exact
            exp_shifted = np.exp(shifted)                     # (N, C)
        sum_exp = exp_shifted.sum(axis=1, keepdims=True)      # (N, 1), >= 1
        log_probs = shifted - np.log(sum_exp)                 # (N, C)
        probs = exp_shifted / sum_exp                         # (N, C)
        loss = -log_probs[rows, y].mean()

        # Backward pass. dL/dscores = (probs - one_hot(y)) / N; probs is not
        # needed any more, so its buffer is reused.
        dscores = probs                                       # (N, C)
        dscores[rows, y] -= 1
        dscores /= N
        dW2 = hidden.T @ dscores                              # (H, C)
        db2 = dscores.sum(axis=0)                             # (C,)
        dhidden = dscores @ W2.T                              # (N, H)
        dz1 = dhidden * DERIVATIVES[self.activation](hidden)  # (N, H)
        dW1 = X.T @ dz1                                       # (D, H)
        db1 = dz1.sum(axis=0)                                 # (H,)

        # Penalty on the weights (not the biases).
        if penalty == "l2":
            loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
            dW1 += reg * W1
            dW2 += reg * W2
        else:
            loss += reg * (np.sum(np.abs(W1)) + np.sum(np.abs(W2)))
            dW1 += reg * np.sign(W1)
            dW2 += reg * np.sign(W2)

        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
        return float(loss), grads

    # -- training -----------------------------------------------------------

    def train(self, X, y, X_val, y_val, learning_rate=1e-3,
              learning_rate_decay=0.95, reg=1e-5, num_epochs=10,
              batch_size=200, verbose=False, penalty="l2", momentum=0.0,
              seed=1):
        """Train with minibatch stochastic gradient descent.

        Every epoch draws a fresh random order of the training set and
        steps through it in minibatches of ``batch_size``
        (``max(N // batch_size, 1)`` steps per epoch; when N is not a
        multiple of the batch size the last few samples of that epoch's
        order are skipped, a different few each epoch). After each epoch
        the learning rate is multiplied by ``learning_rate_decay``.

        Parameters
        ----------
        X : array_like, shape (N, D)
            Training samples.
        y : array_like of int, shape (N,)
            Training labels in 0 .. C-1.
        X_val : array_like, shape (M, D), or None
            Validation samples, scored after every epoch.
        y_val : array_like of int, shape (M,), or None
            Validation labels. Pass ``X_val=None, y_val=None`` to train
            without a validation set (``val_acc_history`` stays empty).
        learning_rate : float, default 1e-3
            Initial step size (> 0).
        learning_rate_decay : float, default 0.95
            Factor (> 0) applied to the step size after every epoch.
        reg : float, default 1e-5
            Regularisation strength (>= 0).
        num_epochs : int, default 10
            Passes over the training set (0 trains nothing).
        batch_size : int, default 200
            Samples per step; larger than N means full-batch steps.
        verbose : bool, default False
            Print one line per epoch.
        penalty : {'l2', 'l1'}, default 'l2'
            Weight penalty, as in :meth:`loss`.
        momentum : float in [0, 1), default 0.0
            Classical momentum: ``v = momentum * v - learning_rate * grad;
            param += v``. 0 is plain SGD, ``param -= learning_rate * grad``.
        seed : int or None, default 1
            Seed of the ``np.random.RandomState`` that shuffles the data;
            None draws a fresh seed from the operating system.

        Returns
        -------
        history : dict of list
            ``loss_history`` and ``grad_magnitude_history`` (Frobenius norm
            of the W1 gradient) for every step; ``train_acc_history``
            (accuracy on the epoch's last minibatch) and ``val_acc_history``
            for every epoch. The same dict is kept as ``self.history_``.

        Raises
        ------
        FloatingPointError
            If the loss or a gradient stops being finite, or a step would
            make a parameter overflow. The failing step is not applied, so
            the parameters keep their last finite values.

        Notes
        -----
        Training can be stopped at any moment (Ctrl-C, or the stop button
        of a notebook): the KeyboardInterrupt takes effect at the next step
        boundary and propagates; the parameters are exactly those after the
        last completed step, and ``self.history_`` holds the record of
        exactly those steps (and of the epochs completed). The parameters
        and the record are just as consistent when training stops with an
        error.

        Edge cases: ``num_epochs=0`` changes nothing and returns empty
        histories; a ``batch_size`` of N or more makes every epoch a single
        full-batch step; a single training sample is a valid training set.
        """
        X = self._check_X(X, "X")
        y = self._check_y(y, X.shape[0], "y", "X")
        if (X_val is None) != (y_val is None):
            raise ValueError(
                "X_val and y_val must be given together (or both None to "
                "train without a validation set)"
            )
        if X_val is not None:
            X_val = self._check_X(X_val, "X_val")
            y_val = self._check_y(y_val, X_val.shape[0], "y_val", "X_val")
        learning_rate = _check_real(
            learning_rate, "learning_rate", lambda v: v > 0, "> 0",
            hint="typical values lie between 1e-4 and 1")
        learning_rate_decay = _check_real(
            learning_rate_decay, "learning_rate_decay", lambda v: v > 0,
            "> 0", hint="use 1.0 for a constant learning rate")
        reg = _check_real(reg, "reg", lambda v: v >= 0, ">= 0")
        num_epochs = _check_positive_int(num_epochs, "num_epochs", minimum=0)
        batch_size = _check_positive_int(batch_size, "batch_size")
        penalty = _check_choice(penalty, "penalty", PENALTIES)
        momentum = _check_real(momentum, "momentum", lambda v: 0 <= v < 1,
                               "in [0, 1)")
        if not isinstance(verbose, (bool, np.bool_)):
            raise TypeError(f"verbose must be True or False, got {verbose!r}")
        rng = np.random.RandomState(_check_seed(seed))

        num_train = X.shape[0]
        iterations_per_epoch = max(num_train // batch_size, 1)
        self._check_params()
        history = {
            "loss_history": [],
            "grad_magnitude_history": [],
            "train_acc_history": [],
            "val_acc_history": [],
        }
        self.history_ = history
        start = time.perf_counter()

        # During training the parameters are views into one flat vector
        # (see _workspace); the caller's arrays get the trained values back
        # at the end, also when training stops with an error.
        # A diverging run overflows to inf or NaN; the checks below report
        # that once, as a FloatingPointError, instead of a stream of
        # warnings. Underflow (exp of a very negative number) is exact
        # enough. A Ctrl-C only takes effect between two steps (see
        # _interrupts_between_steps), so a step and its record are never
        # cut in half.
        with _interrupts_between_steps() as interrupts, \
                np.errstate(over="ignore", invalid="ignore", under="ignore"):
            work = self._workspace(min(batch_size, num_train), momentum > 0)
            own_params, self.params = self.params, work["params"]
            try:
                for epoch in range(1, num_epochs + 1):
                    order = rng.permutation(num_train)
                    for it in range(1, iterations_per_epoch + 1):
                        _stop_if_interrupted(interrupts)
                        batch = order[(it - 1) * batch_size:it * batch_size]
                        # mode="clip" lets np.take write straight into the
                        # buffer (the indices are valid anyway).
                        X_batch = np.take(X, batch, axis=0, mode="clip",
                                          out=work["X_batch"][:len(batch)])
                        y_batch = y[batch]

                        loss, grads = self._batch_loss(X_batch, y_batch, reg,
                                                       penalty, work)
                        grad_norm = _norm(grads["W1"])
                        problem = self._unsafe_step(loss, grad_norm,
                                                    learning_rate, momentum,
                                                    work)
                        if problem:
                            raise _divergence(epoch, it, problem,
                                              learning_rate)

                        # The history records the step exactly when the
                        # update (one in-place NumPy operation) happened,
                        # even if an exception interrupts _apply_step.
                        steps_done = work["steps"]
                        try:
                            self._apply_step(learning_rate, momentum, work)
                        finally:
                            if work["steps"] > steps_done:
                                history["loss_history"].append(loss)
                                history["grad_magnitude_history"].append(
                                    grad_norm)

                    train_acc = self._accuracy(X_batch, y_batch, epoch,
                                               "the last minibatch",
                                               learning_rate)
                    line = (f"epoch {epoch}/{num_epochs}: loss {loss:.4f}, "
                            f"train acc {train_acc:.4f}")
                    if X_val is not None:
                        val_acc = self._accuracy(X_val, y_val, epoch,
                                                 "the validation set",
                                                 learning_rate)
                        line += f", val acc {val_acc:.4f}"
                    history["train_acc_history"].append(train_acc)
                    if X_val is not None:
                        history["val_acc_history"].append(val_acc)
                    if verbose:
                        print(f"{line}, {time.perf_counter() - start:.1f} s",
                              flush=True)
                    learning_rate *= learning_rate_decay
            finally:
                for name, value in own_params.items():
                    value[...] = self.params[name]
                self.params = own_params

        return history

    def _check_params(self):
        """The parameters are arrays of the model's dtype and shapes (they
        may have been replaced by hand), so that training can update them."""
        shapes = _param_shapes(self.input_size, self.hidden_size,
                               self.output_size)
        if not isinstance(self.params, dict) or set(self.params) != set(shapes):
            raise ValueError("params must be a dict with exactly the keys "
                             "W1, b1, W2, b2")
        for name, shape in shapes.items():
            value = self.params[name]
            if not isinstance(value, np.ndarray) or value.shape != shape \
                    or value.dtype != self.dtype or not value.flags.writeable:
                what = (f"a {'' if value.flags.writeable else 'read-only '}"
                        f"{value.dtype} array of shape {value.shape}"
                        if isinstance(value, np.ndarray)
                        else type(value).__name__)
                raise ValueError(
                    f"params[{name!r}] must be a writeable {self.dtype.name} "
                    f"array of shape {shape}, got {what}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"params[{name!r}] contains NaN or infinite "
                                 f"values; the model cannot be trained")

    # -- the training step --------------------------------------------------
    #
    # Training runs the same mathematics as _loss, thousands of times, so
    # two things are arranged for speed:
    # - the large arrays (a minibatch of X, anything the size of W1) live in
    #   buffers allocated once per call of train: allocating them anew at
    #   every step costs page faults that take longer than the arithmetic;
    # - the four parameters are views into one flat vector, and so are
    #   their gradients, so that the update, the penalty and the checks are
    #   one NumPy operation each instead of one per parameter;
    # - the small (N, H) and (C, N) steps use the fastest of equivalent
    #   NumPy forms (each measured on the MNIST network), since at a
    #   microsecond or two apiece they add up to a third of a step.

    def _workspace(self, batch_size, momentum):
        """Flat parameters, gradients and buffers for :meth:`train`.

        Parameters
        ----------
        batch_size : int
            Rows of the largest minibatch.
        momentum : bool
            Whether a velocity vector is needed.

        Returns
        -------
        dict
            ``theta``: all parameters in one vector, laid out as
            [W1, W2, b1, b2] (the weights first, so that ``weights`` is one
            slice), initialised from ``self.params``; ``params``: views of
            ``theta`` shaped like ``self.params``; ``grad`` and ``grads``:
            the same for the gradients; and the buffers.
        """
        D, H, C = self.input_size, self.hidden_size, self.output_size
        dtype = self.dtype
        shapes = _param_shapes(D, H, C)
        layout = {name: shapes[name] for name in ("W1", "W2", "b1", "b2")}
        n_weights = D * H + H * C
        size = n_weights + H + C

        def views(flat):
            out, start = {}, 0
            for name, shape in layout.items():
                stop = start + math.prod(shape)
                out[name] = flat[start:stop].reshape(shape)
                start = stop
            # In the order of self.params (W1, b1, W2, b2).
            return {name: out[name] for name in self.params}

        theta, grad = np.empty(size, dtype), np.empty(size, dtype)
        params = views(theta)
        for name, value in params.items():
            value[...] = self.params[name]
        return {
            "theta": theta, "params": params,
            "grad": grad, "grads": views(grad),
            "weights": theta[:n_weights], "weight_grads": grad[:n_weights],
            "biases": theta[n_weights:],
            "grad_after_W1": grad[D * H:],
            "penalty": np.empty(n_weights, dtype),
            "velocity": np.zeros(size, dtype) if momentum else None,
            "limit": float(np.finfo(dtype).max),
            "steps": 0,                 # updates applied so far
            "X_batch": np.empty((batch_size, D), dtype),
            "z1": np.empty((batch_size, H), dtype),
            "rows": np.arange(batch_size),
            "ones": np.ones(batch_size, dtype),
            "zeros": np.zeros((batch_size, H), dtype),
            "scores_T": np.empty(C * batch_size, dtype),   # reshaped (C, N)
            "weights_size": None,       # set by _batch_loss
        }

    def _batch_loss(self, X_batch, y_batch, reg, penalty, work):
        """Loss and gradients of one minibatch, for :meth:`train`.

        The mathematics of :meth:`_loss`, step by step, so that training
        follows the parameters that :meth:`_loss` would give to rounding
        (tests check the loss history against it to 1e-12 in float64). It
        differs in form only: the large arrays are written into the
        ``work`` buffers, the scores are held transposed, and sums over the
        batch are products with a vector of ones.

        Parameters
        ----------
        X_batch : ndarray, shape (N, D), of the model's dtype
        y_batch : ndarray of int64, shape (N,)
        reg : float
        penalty : {'l2', 'l1'}
        work : dict
            From :meth:`_workspace`.

        Returns
        -------
        loss : float
        grads : dict of ndarray
            ``work['grads']``, overwritten by the next call.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        grads = work["grads"]
        N = X_batch.shape[0]
        C = self.output_size
        ones = work["ones"][:N]

        # Forward pass; the activation overwrites z1, which is not needed
        # afterwards.
        z1 = np.matmul(X_batch, W1, out=work["z1"][:N])       # (N, H)
        z1 += b1
        if self.activation == "relu":
            # max(z1, 0) taken against an array of zeros: NumPy's maximum
            # is about three times slower with the scalar 0.
            hidden = np.maximum(z1, work["zeros"][:N], out=z1)  # (N, H)
        else:
            hidden = _sigmoid(z1, out=z1)                     # (N, H)
        # The scores are kept transposed, one row per class, so that the
        # reductions over the classes below (max, sum) run down the columns
        # of a (C, N) array, which NumPy does several times faster than
        # along N short rows of length C. scores_T[c, i] = scores[i, c].
        scores_T = np.matmul(W2.T, hidden.T,                  # (C, N)
                             out=work["scores_T"][:C * N].reshape(C, N))
        scores_T += b2[:, None]

        # Softmax cross-entropy via log-sum-exp, as in _loss (train runs
        # this under np.errstate(under="ignore"): exp underflowing to 0 is
        # exact). shifted_T overwrites scores_T, exp_shifted_T overwrites
        # shifted_T.
        shifted_T = scores_T                                  # (C, N)
        shifted_T -= scores_T.max(axis=0)
        # The entries shifted_T[y_i, i] of the correct classes, addressed
        # by their positions in the flat (contiguous) array: cheaper than
        # a lookup with two index arrays.
        correct = y_batch * N + work["rows"][:N]              # (N,)
        correct_sum = shifted_T.ravel().take(correct).sum()
        exp_shifted_T = np.exp(shifted_T, out=shifted_T)      # (C, N)
        sum_exp = exp_shifted_T.sum(axis=0)                   # (N,)
        # -mean(log p[i, y_i]) with log p = shifted - log(sum_exp), without
        # forming the array of log-probabilities.
        loss = (np.log(sum_exp).sum() - correct_sum) / N

        # Backward pass. dscores = (probs - one_hot(y)) / N, in place of
        # exp_shifted_T. A bias gradient is a sum over the rows of the
        # batch, taken as a product with a vector of ones: BLAS does that
        # about three times faster than np.sum over the rows.
        dscores_T = exp_shifted_T                             # (C, N)
        dscores_T /= sum_exp                                  # probs
        dscores_T.ravel()[correct] -= 1
        dscores_T /= N
        np.matmul(hidden.T, dscores_T.T, out=grads["W2"])     # (H, C)
        np.matmul(dscores_T, ones, out=grads["b2"])           # (C,)
        dhidden = dscores_T.T @ W2.T                          # (N, H)
        dz1 = dhidden                                         # (N, H), in place
        dz1 *= DERIVATIVES[self.activation](hidden)
        np.matmul(X_batch.T, dz1, out=grads["W1"])            # (D, H)
        np.matmul(ones, dz1, out=grads["b1"])                 # (H,)

        # Penalty on the weights W1 and W2, which are one slice of the flat
        # parameters; work["penalty"] receives reg * W or reg * sign(W).
        weights, weight_grads = work["weights"], work["weight_grads"]
        # work["weights_size"] receives ||weights|| (L2) or the larger
        # sum(|weights|) (L1), which _unsafe_step needs as well.
        if penalty == "l2":
            squares = float(np.vdot(weights, weights))
            work["weights_size"] = math.sqrt(squares)
            loss += 0.5 * reg * squares
            weight_grads += np.multiply(weights, reg, out=work["penalty"])
        else:
            term = np.abs(weights, out=work["penalty"])
            work["weights_size"] = float(term.sum())
            loss += reg * work["weights_size"]
            np.sign(weights, out=term)
            term *= reg
            weight_grads += term
        return float(loss), grads

    def _unsafe_step(self, loss, grad_norm, learning_rate, momentum, work):
        """Why this SGD step must not be taken, or None if it is safe.

        Each new parameter value is at most ||theta|| + momentum ||v|| +
        learning_rate ||grad|| in magnitude (norms of the flat vectors), so
        when that bound lies below the dtype's largest value the step
        cannot overflow. ||theta|| is bounded in turn by ||weights|| +
        ||biases||, where _batch_loss has already measured the weights. A
        NaN or inf in a gradient makes its norm NaN or inf.
        """
        if not math.isfinite(loss):
            return f"the loss became {loss}"
        # The flat gradient is W1's gradient followed by the rest.
        size = math.hypot(grad_norm, _norm(work["grad_after_W1"]))
        if not (math.isfinite(grad_norm) and math.isfinite(size)):
            bad = [name for name, g in work["grads"].items()
                   if not np.isfinite(g).all()]
            return (f"the gradient of {', '.join(bad) or 'the parameters'} "
                    f"became NaN or infinite")
        bound = (work["weights_size"] + _norm(work["biases"])
                 + learning_rate * size)
        if momentum > 0:
            bound += momentum * _norm(work["velocity"])
        if not bound < work["limit"]:
            return (f"the update would make the parameters overflow "
                    f"{self.dtype.name}")
        return None

    def _apply_step(self, learning_rate, momentum, work):
        """theta -= learning_rate * grad, or the momentum step, in place.

        The gradient vector is scaled in place to learning_rate * grad; it
        is not needed any more.
        """
        step = work["grad"]
        step *= learning_rate
        if momentum > 0:
            velocity = work["velocity"]
            velocity *= momentum
            velocity -= step                    # v = momentum v - lr grad
            work["theta"] += velocity
        else:
            work["theta"] -= step
        work["steps"] += 1

    def _accuracy(self, X, y, epoch, what, learning_rate):
        """Share of correct predictions, during training (checked input)."""
        with np.errstate(over="ignore", invalid="ignore"):   # checked below
            scores = self._forward(X)[1]
        if not np.isfinite(scores).all():
            raise _divergence(epoch, None,
                              f"the scores of {what} overflowed", learning_rate)
        return float(np.mean(np.argmax(scores, axis=1) == y))

    # -- prediction ---------------------------------------------------------

    def predict(self, X):
        """Most likely class of each sample.

        Parameters
        ----------
        X : array_like, shape (N, D)

        Returns
        -------
        y_pred : ndarray of int64, shape (N,)
            Index of the largest score in each row.
        """
        scores = self._checked_scores(self._check_X(X))        # (N, C)
        return np.argmax(scores, axis=1).astype(np.int64, copy=False)

    def predict_proba(self, X):
        """Softmax class probabilities of each sample.

        Parameters
        ----------
        X : array_like, shape (N, D)

        Returns
        -------
        probs : ndarray, shape (N, C)
            Non-negative, each row summing to 1, in the model's dtype.
        """
        scores = self._checked_scores(self._check_X(X))        # (N, C)
        shifted = scores - scores.max(axis=1, keepdims=True)
        with np.errstate(under="ignore"):
            probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        return probs

    # -- saving and loading -------------------------------------------------

    def save(self, path):
        """Write the parameters, sizes and activation to one ``.npz`` file.

        Parameters
        ----------
        path : str or path-like
            Target file; ``.npz`` is appended when missing.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        path = _npz_path(path)
        sizes = np.array([self.input_size, self.hidden_size,
                          self.output_size], dtype=np.int64)
        with open(path, "wb") as f:
            np.savez(f, format_version=np.int64(_SAVE_FORMAT_VERSION),
                     sizes=sizes, activation=np.array(self.activation),
                     **self.params)
        return path

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`.

        Nothing in the file is executed (pickled objects are refused). A
        missing file is a FileNotFoundError; a file that is not an ``.npz``
        archive, or lacks or garbles a field, is a ValueError naming the
        file and the problem.

        Parameters
        ----------
        path : str or path-like
            The file; when no file has exactly this name, ``.npz`` is
            appended, as :meth:`save` does.

        Returns
        -------
        TwoLayerMLP
        """
        given = Path(path) if isinstance(path, (str, os.PathLike)) else None
        path = given if given is not None and given.is_file() \
            else _npz_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {str(path)!r}")
        fields, problem = _read_npz(path)
        if problem is None:
            problem = _check_model_fields(fields)
        if problem is not None:
            raise ValueError(f"{str(path)!r} is not a valid TwoLayerMLP "
                             f"file: {problem}")

        D, H, C = (int(s) for s in fields["sizes"])
        dtype = np.dtype(fields["W1"].dtype.type)     # native byte order
        net = cls(D, H, C, std=0.0, activation=str(fields["activation"]),
                  seed=0, dtype=dtype)
        net.params = {name: fields[name].astype(dtype)
                      for name in ("W1", "b1", "W2", "b2")}
        return net


# ---------------------------------------------------------------------------
# Helpers of train and load
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def _interrupts_between_steps():
    """Make Ctrl-C (SIGINT) stop train() only between two steps.

    Inside the block a SIGINT is only remembered, in the yielded dict
    ``state["pending"]``; :func:`_stop_if_interrupted`, called before each
    step, raises it as KeyboardInterrupt, and a SIGINT still pending at the
    end of the block is raised on leaving it, after the previous handler is
    back. So training stops within one step (or one validation pass) of
    the key press, and never half way through writing a step or a record.
    Python delivers signals to the main thread only; in other threads, or
    when the current handler was not installed from Python (for example
    SIG_IGN), nothing is changed.
    """
    state = {"pending": False}
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield state
        return

    def remember(signum, frame):
        state["pending"] = True

    try:
        signal.signal(signal.SIGINT, remember)
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)
    _stop_if_interrupted(state)


def _stop_if_interrupted(state):
    """Raise KeyboardInterrupt if a Ctrl-C arrived since the last check."""
    if state["pending"]:
        state["pending"] = False
        raise KeyboardInterrupt


def _param_shapes(D, H, C):
    """The shape of each parameter of a D-H-C network, in params order."""
    return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}


def _norm(a):
    """Frobenius norm of an array, as a Python float (NaN if a has NaN)."""
    return math.sqrt(float(np.vdot(a, a)))


def _divergence(epoch, iteration, problem, learning_rate):
    where = f"epoch {epoch}" + (f", iteration {iteration}" if iteration
                                else " (after its last step)")
    return FloatingPointError(
        f"training diverged at {where}: {problem}. The parameters keep "
        f"their values from before this step. Try a smaller learning_rate "
        f"(it was {learning_rate:g} at this point)."
    )


def _npz_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), "
                        f"got {type(path).__name__}")
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _read_npz(path):
    """(fields, None) with every array of the archive, or (None, problem)."""
    try:
        # Opening the file ourselves guarantees it is closed even when
        # np.load fails half-way through a damaged archive.
        with open(path, "rb") as f:
            archive = np.load(f, allow_pickle=False)
            if not hasattr(archive, "files"):
                return None, "it holds a single array, not an .npz archive"
            with archive:
                return {name: archive[name] for name in archive.files}, None
    except Exception as exc:   # zipfile.BadZipFile, pickle refusal, ...
        return None, (f"could not read it as an .npz archive "
                      f"({type(exc).__name__}: {exc})")


def _check_model_fields(fields):
    """The first problem with the fields of a saved model, or None."""
    needed = ("format_version", "sizes", "activation", "W1", "b1", "W2", "b2")
    missing = [name for name in needed if name not in fields]
    if missing:
        return f"missing {', '.join(missing)}"
    version = fields["format_version"]
    if version.shape != () or version.dtype.kind not in "iu" \
            or int(version) != _SAVE_FORMAT_VERSION:
        return f"unsupported format_version {version!r}"
    sizes = fields["sizes"]
    if sizes.shape != (3,) or sizes.dtype.kind not in "iu" or (sizes < 1).any():
        return f"sizes must be three positive integers, got {sizes!r}"
    activation = fields["activation"]
    if activation.shape != () or activation.dtype.kind != "U" \
            or str(activation) not in ACTIVATIONS:
        return (f"activation must be one of {tuple(ACTIVATIONS)}, "
                f"got {activation!r}")
    D, H, C = (int(s) for s in sizes)
    dtype = fields["W1"].dtype
    if dtype.type not in DTYPES:
        return f"W1 has dtype {dtype}, expected float32 or float64"
    for name, shape in _param_shapes(D, H, C).items():
        value = fields[name]
        if value.shape != shape:
            return f"{name} has shape {value.shape}, expected {shape}"
        if value.dtype != dtype:
            return (f"{name} has dtype {value.dtype}, but W1 has {dtype}; "
                    f"all parameters must share one dtype")
        if not np.isfinite(value).all():
            return f"{name} contains NaN or infinite values"
    return None
