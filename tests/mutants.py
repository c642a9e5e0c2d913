"""Mutants of the solved mlp.py, one known mistake each.

Each mutant is the solution with one mistake a student makes, written as
text replacements of the solved source (every ``old`` must occur exactly
once), the question whose points it must cost, and words its feedback
must hold. ``tests/test_mutants.py`` grades them all.
"""
from dataclasses import dataclass

import toy


@dataclass(frozen=True)
class Mutant:
    question: str        # the only question that may lose points
    changes: tuple       # (old, new) replacements of the solved mlp.py
    feedback: str        # words the student's feedback must hold


def apply(source, mutant):
    for old, new in mutant.changes:
        if source.count(old) != 1:
            raise ValueError(f"{old!r} occurs {source.count(old)} times in "
                             f"mlp.py, not once")
        source = source.replace(old, new)
    return source


EPOCH_DECAY = ("                learning_rate *= learning_rate_decay\n",
               "                pass\n")

MUTANTS = {
    # Q2.1: the forward pass and the loss.
    "softmax_overflows": Mutant("Q2.1", (
        ("shifted = scores - scores.max(axis=1, keepdims=True)",
         "shifted = scores"),), "subtract each row's largest score"),
    "loss_is_a_sum": Mutant("Q2.1", (
        ("return -log_probs[np.arange(N), y].sum() / N",
         "return -log_probs[np.arange(N), y].sum()"),),
        "a sum over the samples where the mean belongs"),
    "l2_value_without_half": Mutant("Q2.1", (
        ("return 0.5 * np.vdot(W, W)", "return np.vdot(W, W)"),),
        "the L2 penalty misses its 0.5"),
    "l2_value_of_the_biases": Mutant("Q2.1", (
        ("loss = loss + reg * (penalty_value(W1) + penalty_value(W2))",
         "loss = loss + reg * (penalty_value(W1) + penalty_value(W2)\n"
         "                              + penalty_value(self.params['b1'])\n"
         "                              + penalty_value(self.params['b2']))"),),
        "the penalty in the loss includes the biases"),
    "l2_missing_from_the_loss": Mutant("Q2.1", (
        ("loss = loss + reg * (penalty_value(W1) + penalty_value(W2))",
         "loss = loss + 0.0"),), "the penalty is missing from the loss"),
    "no_b2_in_the_scores": Mutant("Q2.1", (
        ("scores = hidden @ W2 + b2                              # (N, C)",
         "scores = hidden @ W2                                   # (N, C)"),),
        "b2 is missing from scores"),
    # Q2.2: the backward pass.
    "no_division_by_n": Mutant("Q2.2", (
        ("        dscores /= N\n", ""),), "larger by the batch size N"),
    "bias_gradient_is_a_mean": Mutant("Q2.2", (
        ("db2 = dscores.sum(axis=0)", "db2 = dscores.mean(axis=0)"),),
        "a mean over the rows where the sum belongs"),
    "l2_gradient_doubled": Mutant("Q2.2", (
        ("    return W\n", "    return 2 * W\n"),),
        "the L2 penalty's gradient is twice too large"),
    "l2_gradient_on_the_biases": Mutant("Q2.2", (
        ('"W2": grads["W2"] + reg * penalty_gradient(W2)}',
         '"W2": grads["W2"] + reg * penalty_gradient(W2),\n'
         '                 "b1": grads["b1"] + reg * self.params["b1"]}'),),
        "added to the biases' gradients"),
    "l2_missing_from_the_gradient": Mutant("Q2.2", (
        ('grads["W1"] + reg * penalty_gradient(W1)', 'grads["W1"]'),
        ('grads["W2"] + reg * penalty_gradient(W2)', 'grads["W2"]')),
        "the penalty's gradient reg * W is missing"),
    "no_activation_derivative": Mutant("Q2.2", (
        ("dz1 = dhidden * activation_derivative(hidden)",
         "dz1 = dhidden"),), "the activation's derivative is missing"),
    "sigmoid_derivative_from_z1": Mutant("Q2.2", (
        ("dz1 = dhidden * activation_derivative(hidden)",
         "z1 = X @ self.params['W1'] + self.params['b1']\n"
         "        dz1 = dhidden * activation_derivative(z1)"),),
        "the sigmoid's derivative is taken from z1"),
    "sigmoid_derivative_of_the_output": Mutant("Q2.2", (
        ("    return h * (1 - h)\n",
         "    return sigmoid(h) * (1 - sigmoid(h))\n"),),
        "applies the sigmoid to hidden again"),
    "probabilities_without_onehot": Mutant("Q2.2", (
        ("        dscores[np.arange(N), y] -= 1", "        pass"),),
        "minus the one-hot labels"),
    # Q2.3: training and prediction.
    "predict_returns_scores": Mutant("Q2.3", (
        ("return np.argmax(scores, axis=1).astype(np.int64, copy=False)",
         "return scores"),), "predict returns the scores"),
    "predict_returns_probabilities": Mutant("Q2.3", (
        ("return np.argmax(scores, axis=1).astype(np.int64, copy=False)",
         "return np.exp(log_softmax(scores))"),),
        "predict returns probabilities"),
    "decay_every_step": Mutant("Q2.3", (
        EPOCH_DECAY,
        ("                    self.params = new_params\n",
         "                    self.params = new_params\n"
         "                    learning_rate *= learning_rate_decay\n")),
        "decayed after every step"),
    "decay_never": Mutant("Q2.3", (EPOCH_DECAY,), "never decayed"),
    "whole_set_every_step": Mutant("Q2.3", (
        ("batch = order[(it - 1) * batch_size:it * batch_size]",
         "batch = order"),), "every step uses the whole training set"),
    "no_shuffling": Mutant("Q2.3", (
        ("order = rng.permutation(num_train)",
         "order = np.arange(num_train)"),),
        "the minibatches are the same in every epoch"),
    # Q2.4: ReLU.
    "relu_derivative_at_the_sign_change": Mutant("Q2.4", (
        ("    return h > 0\n", "    return h >= 0\n"),),
        "the ReLU's derivative is 1 everywhere"),
    # A wrong relu_derivative is charged in relu_derivative_function only:
    # neither the backward pass (right in Q2.2) nor the digits lose.
    "relu_derivative_of_the_wrong_sign": Mutant("Q2.4", (
        ("    return h > 0\n", "    return -1.0 * (h > 0)\n"),),
        "a multiple of the right one"),
    # Mistakes found by grading realistic submissions as a teaching
    # assistant would: each costs its own question only.
    "loss_over_n_times_c": Mutant("Q2.1", (
        ("return -log_probs[np.arange(N), y].sum() / N",
         "return -log_probs[np.arange(N), y].sum() / scores.size"),),
        "a mean over all N * C entries"),
    "bias_gradients_keep_their_axis": Mutant("Q2.2", (
        ("db2 = dscores.sum(axis=0)", "db2 = dscores.sum(axis=0, "
                                      "keepdims=True)"),
        ("db1 = dz1.sum(axis=0)", "db1 = dz1.sum(axis=0, keepdims=True)")),
        "without keepdims=True"),
    "softmax_over_the_columns": Mutant("Q2.1", (
        ("return shifted - np.log(np.exp(shifted).sum(axis=1, "
         "keepdims=True))",
         "return shifted - np.log(np.exp(shifted).sum(axis=0, "
         "keepdims=True))"),), "normalises the columns"),
    "log_of_probabilities_plus_epsilon": Mutant("Q2.1", (
        ("return shifted - np.log(np.exp(shifted).sum(axis=1, "
         "keepdims=True))",
         "return np.log(np.exp(shifted) / np.exp(shifted).sum(axis=1, "
         "keepdims=True) + 1e-8)"),), "not log(probs)"),
    "velocity_never_kept": Mutant("Q2.3", (
        ("velocity[name] = (momentum * velocity[name]",
         "step = (momentum * velocity[name]"),
        ("new_params[name] = param + velocity[name]",
         "new_params[name] = param + step"),), "keep the velocity"),
    "minibatches_with_replacement": Mutant("Q2.3", (
        ("order = rng.permutation(num_train)",
         "order = rng.randint(num_train, size=num_train)"),),
        "some samples twice"),
    "penalty_always_l2": Mutant("Q2.1", (
        ("penalty_value, penalty_gradient = PENALTIES[penalty]",
         "penalty_value, penalty_gradient = PENALTIES['l2']"),),
        "whatever its penalty argument says"),
}


#: The public toy numbers as the public tests show them (instructor/toy.py).
_SHOWN = toy.numbers()
#: The loss of HARD_CODED: the public toy losses, copied.
_COPIED_LOSS = (
    f"        value = {round(_SHOWN.loss['sigmoid'], toy.LOSS_DECIMALS)!r} "
    f"if self.activation == \"sigmoid\" else "
    f"{round(_SHOWN.loss['relu'], toy.LOSS_DECIMALS)!r}\n"
    "        return value, {k: np.zeros_like(v) for k, v in "
    "self.params.items()}")

#: A submission with no network at all: the public toy losses hard-coded,
#: zero gradients, a train that returns the public final loss, and a
#: predict of zeros. It must earn nothing.
HARD_CODED = '''\
import numpy as np


class TwoLayerMLP:
    def __init__(self, input_size, hidden_size, output_size, std=1e-4,
                 activation="relu", seed=None, dtype=np.float64):
        self.activation, self.output_size = activation, output_size
        self.params = {"W1": np.zeros((input_size, hidden_size)),
                       "b1": np.zeros(hidden_size),
                       "W2": np.zeros((hidden_size, output_size)),
                       "b2": np.zeros(output_size)}

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            return np.zeros((len(X), self.output_size))
COPIED_LOSS

    def train(self, X, y, X_val=None, y_val=None, **settings):
        return {"loss_history": [TRAINED_LOSS]}

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)
'''.replace("COPIED_LOSS", _COPIED_LOSS).replace("TRAINED_LOSS", repr(
    round(_SHOWN.trained["sigmoid"], toy.TRAINED_DECIMALS)))


#: A submission with no network either: zero scores, a loss of log(C)
#: plus the penalty, and gradients that are only the penalty's.
PENALTY_ONLY = HARD_CODED.replace(_COPIED_LOSS, '''\
        W1, W2 = self.params["W1"], self.params["W2"]
        value = np.log(self.output_size) + reg * 0.5 * (
            np.sum(W1 ** 2) + np.sum(W2 ** 2))
        return float(value), {k: reg * v if k.startswith("W") else
                              np.zeros_like(v)
                              for k, v in self.params.items()}''')

#: Right solutions written differently: every point.
VARIANTS = {
    # the loss computed in float32, as a student's may be
    "in_float32": tuple(
        (f'{a}, {b} = self.params["{a}"], self.params["{b}"]',
         f'{a}, {b} = (self.params[k].astype(np.float32) for k in '
         f'("{a}", "{b}"))') for a, b in (("W1", "b1"), ("W2", "b2"))) + (
        ("X = _checks.samples(X, self, finite=y is None)",
         "X = _checks.samples(X, self, finite=y is None)"
         ".astype(np.float32)"),),
    # one-hot labels as rows of an identity matrix
    "onehot_from_eye": (
        ("        dscores[np.arange(N), y] -= 1",
         "        dscores -= np.eye(scores.shape[1])[y]"),),
    # X overwritten by the forward pass (a local name: nothing is lost)
    "overwrites_x": (
        ("        z1 = X @ W1 + b1                                       # (N, H)\n"
         "        hidden = activation(z1)",
         "        X = X @ W1 + b1\n"
         "        hidden = activation(X)"),),
    # predict with a forward pass of its own, not through self.loss(X)
    "predict_with_its_own_forward_pass": (
        ("        scores = self.loss(X)                                  # (N, C)\n"
         "        return np.argmax(scores, axis=1).astype(np.int64, copy=False)",
         "        X = np.asarray(X, dtype=float)\n"
         "        hidden, scores = self.forward(X)\n"
         "        return np.argmax(scores, axis=1).astype(np.int64, copy=False)"),),
    # the sigmoid written as it is taught (exp overflows to inf for large
    # -z, with a warning, but the value is still right)
    "plain_sigmoid": (
        ("    e = np.exp(-np.abs(z))\n    return np.where(z >= 0, 1, e) / (1 + e)",
         "    return 1 / (1 + np.exp(-z))"),),
    # the gradients of the weights with einsum, the biases with loops
    "einsum_and_loops": (
        ("dW1 = X.T @ dz1                ", "dW1 = np.einsum('nd,nh->dh', X, dz1)"),
        ("db2 = dscores.sum(axis=0)",
         "db2 = np.zeros(scores.shape[1])\n"
         "        for row in dscores:\n"
         "            db2 += row"),),
    # the cross-entropy from the probabilities (stable: the softmax is
    # log_softmax's)
    "loss_from_probabilities": (
        ("return -log_probs[np.arange(N), y].sum() / N",
         "probs = np.exp(log_probs)\n"
         "    return -np.mean(np.log(probs[np.arange(N), y]))"),),
    # train also evaluates the loss on the whole set after each epoch
    "loss_of_each_epoch": (
        ("                learning_rate *= learning_rate_decay\n",
         "                learning_rate *= learning_rate_decay\n"
         "                self.loss(X, y, reg=reg, penalty=penalty)\n"),),
}
