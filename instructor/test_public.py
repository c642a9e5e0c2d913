"""Checks of your mlp.py: run them with ``python -m pytest``.

Each test calls one method of ``TwoLayerMLP`` on the problem set's toy
network and compares it with the problem set's reference numbers or with
finite differences of your own loss. ``loss`` is given: it calls your
``forward``, ``cross_entropy``, ``backward`` and (when reg > 0)
``add_penalty``, and a failure says which of them to look at. A failure
is one line: which quantity is wrong, by how much, and, when the numbers
are those of a known mistake, which mistake. A part you have not written
yet is reported as "not implemented yet". These checks carry no points;
the grader runs its own, on other problems.
"""
import os
import traceback

import numpy as np
import pytest

import mlp
from mlp import TwoLayerMLP
from utils import check_gradients

#: What the grader says of each known mistake (written in by the build).
WORDS = {}  # filled in by handout.py build

# BEGIN TOY PROBLEM (generated from the reference: not to be edited)
#: The problem set's toy problem: TOY_INPUTS inputs, TOY_HIDDEN
#: hidden units, TOY_CLASSES classes, weights of standard deviation
#: TOY_STD drawn after np.random.seed(TOY_WEIGHT_SEED); TOY_SAMPLES
#: samples TOY_DATA_SCALE * randn(TOY_SAMPLES, TOY_INPUTS) drawn
#: after np.random.seed(TOY_DATA_SEED), with the labels TOY_LABELS.
TOY_INPUTS, TOY_HIDDEN, TOY_CLASSES, TOY_SAMPLES = 4, 10, 3, 5
TOY_STD, TOY_WEIGHT_SEED = 0.1, 0
TOY_DATA_SCALE, TOY_DATA_SEED = 10, 1
TOY_LABELS = [0, 1, 2, 2, 1]
#: The penalty of the reference losses, and Q2.3's training (one
#: full-batch step per epoch, the learning rate decayed by 0.95).
TOY_REG = 0.1
TOY_TRAINING = {"learning_rate": 0.5, "reg": 1e-5, "num_epochs": 100}
#: The toy network's scores, and its loss without the penalty
#: (reg = 0), right and with each known mistake that shows in them
#: (the toy's biases are zero: mistakes with them do not show).
TOY_SCORES = {"sigmoid": [[-0.20202237, -0.3826274, -0.37823944],
                          [-0.09999725, -0.29461579, -0.298211],
                          [-0.04333782, -0.29038971, -0.3097813],
                          [-0.0305597, -0.26184001, -0.30413287],
                          [-0.02637045, -0.24190783, -0.29750761]],
              "relu": [[-0.812337413, -1.276546241, -0.703359948],
                       [-0.17129677, -1.188033106, -0.473104442],
                       [-0.515904752, -1.013543141, -0.850421496],
                       [-0.154192912, -0.486296384, -0.529019524],
                       [-0.006187325, -0.12435261, -0.152269493]]}
TOY_DATA_LOSS = {"sigmoid": 1.14431714, "relu": 1.26585705}
TOY_DATA_LOSS_MISTAKES = {"sigmoid": {"loss_sum": 5.72158571,
                                      "no_activation": 1.16196805,
                                      "loss_mean_all": 0.38143905},
                          "relu": {"loss_sum": 6.32928526,
                                   "no_activation": 1.16196805,
                                   "loss_mean_all": 0.42195235}}
#: The problem set's reference loss at reg = TOY_REG, and what known
#: mistakes give instead.
TOY_LOSS = {"sigmoid": 1.18224798, "relu": 1.30378789}
TOY_LOSS_MISTAKES = {"sigmoid": {"loss_sum": 5.75951655,
                                 "l2_no_half": 1.22017882,
                                 "l2_missing_in_loss": 1.14431714,
                                 "no_activation": 1.19989889,
                                 "loss_mean_all": 0.41936989},
                     "relu": {"loss_sum": 6.3672161,
                              "l2_no_half": 1.34171873,
                              "l2_missing_in_loss": 1.26585705,
                              "no_activation": 1.19989889,
                              "loss_mean_all": 0.45988319}}
#: A loss this close to one of these numbers is taken for it.
TOY_LOSS_TOLERANCE = 1e-7
#: The final toy loss of Q2.3, and the same with the learning rate
#: never decayed.
TOY_TRAINED_LOSS = 0.109268
TOY_TRAINED_WITHOUT_DECAY = 0.014822
TOY_TRAINED_TOLERANCE = 1e-5
# END TOY PROBLEM


def call(what, function, *args, allow=(), **kwargs):
    """function(*args, **kwargs), or a one-line failure: the part that is
    not written yet, or the exception (unless of a type in ``allow``) and
    the line of mlp.py it came from."""
    try:
        return function(*args, **kwargs)
    except allow:
        raise
    except NotImplementedError as error:
        message = str(error)
    except Exception as error:                 # noqa: BLE001, one line
        frames = [f for f in traceback.extract_tb(error.__traceback__)
                  if os.path.basename(f.filename) == "mlp.py"]
        where = (f" at mlp.py line {frames[-1].lineno}: {frames[-1].line}"
                 if frames else "")
        message = f"{what} raised {type(error).__name__}: {error}{where}"
        if "NoneType" in str(error):
            message += (" (a gradient is still None: is the backward pass "
                        "written?)")
    pytest.fail(message, pytrace=False)


def fail(message):
    pytest.fail(message, pytrace=False)


def toy_net(activation):
    np.random.seed(TOY_WEIGHT_SEED)
    return TwoLayerMLP(TOY_INPUTS, TOY_HIDDEN, TOY_CLASSES, std=TOY_STD,
                       activation=activation)


def toy_data():
    np.random.seed(TOY_DATA_SEED)
    return (TOY_DATA_SCALE * np.random.randn(TOY_SAMPLES, TOY_INPUTS),
            np.array(TOY_LABELS))


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_toy_scores(activation):
    """Q2.1 and Q2.4, TwoLayerMLP.forward: the hidden layer and the class
    scores of the toy network, one row per sample."""
    X, _ = toy_data()
    net = toy_net(activation)
    where = f"TwoLayerMLP.forward(X) with {activation}"
    result = call("TwoLayerMLP.forward(X)", net.forward, X)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        fail(f"{where}: got {type(result).__name__} / expected the pair "
             f"(hidden, scores)")
    hidden, scores = result
    for name, value, shape, axes in (
            ("hidden", hidden, (TOY_SAMPLES, TOY_HIDDEN), "(N, H)"),
            ("scores", scores, (TOY_SAMPLES, TOY_CLASSES), "(N, C)")):
        if np.shape(value) != shape:
            fail(f"{where}: {name} has shape {np.shape(value)} / expected "
                 f"{axes} = {shape}")
    W1, b1, W2, b2 = (net.params[n] for n in ("W1", "b1", "W2", "b2"))
    expected = np.array(TOY_SCORES[activation])
    error = np.linalg.norm(scores - expected) / np.linalg.norm(expected)
    if error > 1e-6:
        linear = (X @ W1 + b1) @ W2 + b2
        why = (WORDS["no_activation"] if np.allclose(scores, linear) else
               "check z1 = X @ W1 + b1, hidden = f(z1) and scores = "
               "hidden @ W2 + b2")
        fail(f"{where}: the scores have relative error {error:.1e} (right "
             f"is below 1e-6); {why}")
    if not np.allclose(scores, hidden @ W2 + b2, rtol=1e-10, atol=1e-12):
        fail(f"{where}: the scores are right, but they are not hidden @ W2 "
             f"+ b2 of the hidden returned: return the hidden layer "
             f"hidden = f(z1) that the scores come from (the backward pass "
             f"uses it)")


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_toy_loss_without_the_penalty(activation):
    """Q2.1 and Q2.4, cross_entropy: the loss of the toy network at reg =
    0, which loss computes without add_penalty (the penalty comes after the
    backward pass)."""
    X, y = toy_data()
    net = toy_net(activation)
    loss, _ = call("TwoLayerMLP.loss(X, y)", net.loss, X, y)
    check_loss(loss, TOY_DATA_LOSS[activation],
               TOY_DATA_LOSS_MISTAKES[activation], f"{activation}, reg=0",
               "cross_entropy", net, X)


def log_softmax_mistake(scores):
    """The known mistake your log_softmax shows on these scores, or None
    (if it is right, or wrong in another way)."""
    scores = np.asarray(scores, dtype=float)
    try:
        with np.errstate(all="ignore"):
            got = np.asarray(mlp.log_softmax(scores), dtype=float)
    except Exception:                          # noqa: BLE001, its own test
        return None
    if got.shape != scores.shape:
        return None
    shifted = scores - scores.max(axis=1, keepdims=True)
    right = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if np.allclose(got, right, rtol=1e-9, atol=1e-9):
        return None
    if not np.isfinite(got).all():
        return "softmax_overflow"
    if np.allclose(np.exp(got).sum(axis=0), 1) and \
            not np.allclose(np.exp(got).sum(axis=1), 1):
        return "softmax_axis0"
    moderate = right > -15          # probabilities above 3e-7
    if np.allclose(got[moderate], right[moderate], rtol=1e-6, atol=1e-6) \
            and np.all(got >= right - 1e-6):
        return "log_of_probs"       # the tiny probabilities are lost
    return None


def check_loss(loss, reference, mistakes, where, parts, net, X):
    if abs(loss - reference) < TOY_LOSS_TOLERANCE:
        return
    known = [name for name, value in mistakes.items()
             if abs(loss - value) < TOY_LOSS_TOLERANCE]
    if not known:
        mistake = log_softmax_mistake(call("TwoLayerMLP.loss(X)", net.loss,
                                           X))
        known = [mistake] if mistake else []
    fail(f"TwoLayerMLP.loss with {where}: got {loss:.8f} / expected "
         f"{reference:.8f} (difference {abs(loss - reference):.1e}); "
         + (WORDS[known[0]] if known else
            f"no known mistake gives this number: check TwoLayerMLP.forward "
            f"(test_toy_scores), then {parts}"))


def test_loss_is_finite_for_large_scores():
    """Q2.1: the sigmoid toy network with its second layer 10,000 times
    larger gives scores in the thousands; the loss must still be right."""
    X, y = toy_data()
    net = toy_net("sigmoid")
    net.params["W2"] = net.params["W2"] * 10_000
    scores = call("TwoLayerMLP.loss(X)", net.loss, X)
    try:
        loss, _ = call("TwoLayerMLP.loss(X, y)", net.loss, X, y,
                       allow=FloatingPointError)
    except FloatingPointError:
        loss = "a FloatingPointError"
    shifted = scores - scores.max(axis=1, keepdims=True)
    expected = -np.mean(shifted[np.arange(len(y)), y]
                        - np.log(np.exp(shifted).sum(axis=1)))
    if isinstance(loss, str) or not np.isfinite(loss):
        fail(f"TwoLayerMLP.loss with scores in the thousands: got {loss} / "
             f"expected {expected:.6f}; {WORDS['softmax_overflow']}")
    if abs(loss - expected) > 1e-6 * expected:
        mistake = log_softmax_mistake(scores)
        fail(f"TwoLayerMLP.loss with scores in the thousands: got "
             f"{loss:.6f} / expected {expected:.6f}; "
             + (WORDS[mistake] if mistake else
                "cross_entropy(scores, y) is the mean of -log "
                "softmax(scores)[i, y_i]"))


def gradient_diagnosis(check, net, X, y, reg):
    """Why analytic gradients differ from finite differences, from how
    they differ (a factor of N, only the first layer, ...)."""
    wrong = [name for name, error in check.items()
             if not error < check.threshold]
    analytic = call("TwoLayerMLP.loss(X, y)", net.loss, X, y, reg=reg)[1]
    numeric = {}
    for name in wrong:                      # centred differences, again
        numeric[name] = np.zeros_like(net.params[name])
        for index in np.ndindex(numeric[name].shape):
            saved = net.params[name][index]
            net.params[name][index] = saved + 1e-5
            plus = net.loss(X, y, reg=reg)[0]
            net.params[name][index] = saved - 1e-5
            minus = net.loss(X, y, reg=reg)[0]
            net.params[name][index] = saved
            numeric[name][index] = (plus - minus) / 2e-5
    N = len(X)

    def times(factor, names):
        return all(np.allclose(analytic[n], factor * numeric[n], rtol=1e-4,
                               atol=1e-9) for n in names)
    mistake = log_softmax_mistake(net.loss(X))
    if mistake:                          # dscores comes from log_softmax
        return WORDS[mistake]
    for name in wrong:
        if name.startswith("b") and not np.any(numeric[name]):
            return (f"your loss does not change with {name}: is {name} "
                    f"added in the forward pass?")
    if set(wrong) <= {"b1", "b2"} and times(1 / N, wrong):
        return WORDS["bias_mean"]
    for factor, mistake in ((N, "grad_sum"), (1 / N, "grad_mean_twice")):
        if times(factor, wrong):
            return WORDS[mistake]
    if set(wrong) <= {"W1", "b1"}:
        # The first layer's gradients without the activation's derivative,
        # from the scores of the student's own forward pass.
        scores = net.loss(X)
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        dscores = probs / probs.sum(axis=1, keepdims=True)
        dscores[np.arange(N), y] -= 1
        dhidden = dscores / N @ net.params["W2"].T
        if np.allclose(analytic["W1"], X.T @ dhidden, rtol=1e-4,
                       atol=1e-9) and np.allclose(
                analytic["b1"], dhidden.sum(axis=0), rtol=1e-4, atol=1e-9):
            return WORDS["no_derivative"]
        return ("only the first layer's gradients are wrong: look at "
                "dhidden = dscores @ W2.T and the activation's derivative, "
                "written from hidden")
    if set(wrong) <= {"b1", "b2"}:
        return ("only the biases' gradients are wrong: db2 and db1 are the "
                "sums over the rows of dscores and dz1")
    return "look at dscores = (probs - onehot(y)) / N first"


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_gradients(activation):
    """Q2.2 and Q2.4: the backward pass against finite differences of your
    own loss, at reg = 0."""
    X, y = toy_data()
    net = toy_net(activation)
    _, grads = call("TwoLayerMLP.loss(X, y)", net.loss, X, y)
    for name in ("b1", "b2"):
        size = net.params[name].size
        if isinstance(grads, dict) and np.shape(grads.get(name)) == (1, size):
            fail(f"TwoLayerMLP.backward with {activation}: d{name} has shape "
                 f"(1, {size}) / expected ({size},); "
                 f"{WORDS['bias_keepdims']}")
    check = call("TwoLayerMLP.loss(X, y) (the backward pass)",
                 check_gradients, net, X, y, reg=0.0)
    wrong = {name: error for name, error in check.items()
             if not error < check.threshold}
    if wrong:
        fail(f"TwoLayerMLP.backward with {activation}: the gradients "
             + ", ".join(f"d{name} (relative error {error:.1e})"
                         for name, error in wrong.items())
             + f" differ from finite differences (right is below "
             f"{check.threshold:g}); "
             + gradient_diagnosis(check, net, X, y, 0.0))


def test_the_penalty_and_its_gradients():
    """Q2.1 and Q2.2, TwoLayerMLP.add_penalty: what reg = 0.1 adds to the
    loss, 0.1 * 0.5 * (sum(W1**2) + sum(W2**2)), and to the gradients: 0.1
    * W1 to dW1, 0.1 * W2 to dW2, nothing to db1 and db2 (biases made
    non-zero here)."""
    X, y = toy_data()
    net = toy_net("sigmoid")
    net.params["b1"] = np.linspace(-1, 1, TOY_HIDDEN)
    net.params["b2"] = np.resize([0.5, -0.5, 1.0], TOY_CLASSES)
    base, base_grads = call("TwoLayerMLP.loss(X, y)", net.loss, X, y)
    loss, grads = call("TwoLayerMLP.loss(X, y, reg=0.1)", net.loss, X, y,
                       reg=0.1)
    W1, W2, b1, b2 = (net.params[n] for n in ("W1", "W2", "b1", "b2"))
    weights = np.sum(W1 ** 2) + np.sum(W2 ** 2)
    added, expected = loss - base, 0.05 * weights
    if abs(added - expected) > 1e-9:
        known = {2 * expected: "l2_no_half", 0.0: "l2_missing_in_loss",
                 expected + 0.05 * (np.sum(b1 ** 2) + np.sum(b2 ** 2)):
                 "l2_biases_in_loss", expected - base: "penalty_replaces_loss"}
        why = next((WORDS[m] for value, m in known.items()
                    if abs(added - value) < 1e-9), "no known mistake gives "
                   "this number")
        fail(f"the penalty TwoLayerMLP.add_penalty adds to the loss at "
             f"reg=0.1: got {added:.8f} / expected {expected:.8f}; {why}")
    for name in ("W1", "W2", "b1", "b2"):
        got = grads[name] - base_grads[name]
        right = 0.1 * net.params[name] if name.startswith("W") else \
            np.zeros_like(net.params[name])
        if np.allclose(got, right, rtol=1e-6, atol=1e-10):
            continue
        known = {"l2_grad_double": 2 * right, "l2_missing_in_grad": 0 * right,
                 "l2_grad_biases": 0.1 * net.params[name],
                 "penalty_replaces_gradients": right - base_grads[name]}
        why = next((WORDS[m] for m, value in known.items()
                    if np.allclose(got, value, rtol=1e-6, atol=1e-10)),
                   "no known mistake gives this")
        fail(f"what TwoLayerMLP.add_penalty adds to d{name} at reg=0.1 is "
             f"wrong (largest difference {np.max(np.abs(got - right)):.1e});"
             f" {why}")
    # The L1 penalty (given) through the same add_penalty: 0.1 * (sum|W1| +
    # sum|W2|) added to the loss, 0.1 * sign(W) to dW1 and dW2.
    l1, l1_grads = call("TwoLayerMLP.loss(X, y, reg=0.1, penalty='l1')",
                        net.loss, X, y, reg=0.1, penalty="l1")
    added, expected = l1 - base, 0.1 * (np.abs(W1).sum() + np.abs(W2).sum())
    same_as_l2 = abs(l1 - loss) < 1e-12 and all(
        np.array_equal(l1_grads[n], grads[n]) for n in ("W1", "W2"))
    wrong = [f"d{n}" for n in ("W1", "W2") if not np.allclose(
        l1_grads[n] - base_grads[n], 0.1 * np.sign(net.params[n]),
        rtol=1e-6, atol=1e-10)]
    if abs(added - expected) > 1e-9 or wrong:
        fail("what TwoLayerMLP.add_penalty adds at reg=0.1 with "
             "penalty='l1': "
             + (f"got {added:.8f} / expected {expected:.8f} in the loss"
                if abs(added - expected) > 1e-9 else
                f"{' and '.join(wrong)} are wrong") + "; "
             + (WORDS["penalty_ignores_name"] if same_as_l2 else
                "it is reg * (penalty_value(W1) + penalty_value(W2)), and "
                "reg * penalty_gradient(W) in the gradients"))


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_toy_loss_with_the_penalty(activation):
    """Q2.1 and Q2.4: the loss of the toy network at reg = TOY_REG, the
    problem set's reference numbers."""
    X, y = toy_data()
    net = toy_net(activation)
    loss, _ = call(f"TwoLayerMLP.loss(X, y, reg={TOY_REG})", net.loss, X, y,
                   reg=TOY_REG)
    check_loss(loss, TOY_LOSS[activation], TOY_LOSS_MISTAKES[activation],
               f"{activation}, reg={TOY_REG}", "cross_entropy and "
               "add_penalty", net, X)


def test_toy_training():
    """Q2.3: full-batch training of the sigmoid toy network; it needs the
    loss and the gradients to be right first."""
    X, y = toy_data()
    net = toy_net("sigmoid")
    try:
        stats = call("TwoLayerMLP.train", net.train, X, y, X, y,
                     **TOY_TRAINING)
    except Exception as error:         # one line, not a traceback
        message = (f"TwoLayerMLP.train raised {type(error).__name__}: "
                   f"{error} (train calls loss at every step and predict "
                   f"after every epoch: do their tests pass?)")
    else:
        message = None
    if message:
        fail(message)
    final = stats["loss_history"][-1]
    if abs(final - TOY_TRAINED_LOSS) < TOY_TRAINED_TOLERANCE:
        return
    why = (WORDS["decay_never"]
           if abs(final - TOY_TRAINED_WITHOUT_DECAY) < TOY_TRAINED_TOLERANCE
           else
           "if the loss and gradient tests pass, check the update param -= "
           "learning_rate * grad and the decay after each epoch")
    fail(f"TwoLayerMLP.train: the final toy loss is {final:.6f} / expected "
         f"{TOY_TRAINED_LOSS:.6f}; {why}")


def test_predictions_are_the_labels_of_the_largest_scores():
    """Q2.3: predict on the sigmoid toy network."""
    X, _ = toy_data()
    net = toy_net("sigmoid")
    predicted = call("TwoLayerMLP.predict", net.predict, X)
    scores = call("TwoLayerMLP.loss(X)", net.loss, X)
    predicted = np.asarray(predicted)
    N = len(X)
    if predicted.shape == (N, TOY_CLASSES):
        mistake = "predict_probs" if np.allclose(predicted.sum(axis=1), 1) \
            else "predict_scores"
        fail(f"TwoLayerMLP.predict: got an array of shape {predicted.shape} "
             f"/ expected {N} labels; {WORDS[mistake]}")
    if predicted.shape != (N,) or not np.issubdtype(predicted.dtype,
                                                    np.integer):
        fail(f"TwoLayerMLP.predict: got {predicted.dtype} of shape "
             f"{predicted.shape} / expected N = {N} integer labels"
             + (f"; {WORDS['predict_float']}" if predicted.shape == (N,)
                else ""))
    if not np.array_equal(predicted, np.argmax(scores, axis=1)):
        fail(f"TwoLayerMLP.predict: got {predicted.tolist()} / expected "
             f"{np.argmax(scores, axis=1).tolist()}, the index of the "
             f"largest score of each row")


class RecordedTraining(TwoLayerMLP):
    """A network whose loss is 0.5 * sum(p**2) over the parameters, so that
    each SGD step multiplies every parameter by (1 - learning_rate), and
    which records the samples of each minibatch (column 0 of X)."""

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            return np.zeros((len(X), self.output_size))
        self.batches.append(sorted(X[:, 0].astype(int).tolist()))
        value = sum(0.5 * np.sum(p ** 2) for p in self.params.values())
        return float(value), {k: p.copy() for k, p in self.params.items()}


def recorded_training(**settings):
    """A RecordedTraining network after 2 epochs of 4 minibatches of 5 of
    20 samples (the sample's number in X's first column), the learning
    rate 0.1 halved after the first epoch; and its W1 before."""
    net = RecordedTraining(3, 4, 2, std=1.0, seed=0)
    net.batches = []
    start = net.params["W1"].copy()
    X = np.random.RandomState(0).randn(20, 3)
    X[:, 0] = np.arange(20)
    y = np.arange(20) % 2
    call("TwoLayerMLP.train", net.train, X, y, learning_rate=0.1,
         learning_rate_decay=0.5, reg=0.0, num_epochs=2, batch_size=5,
         **settings)
    return net, start


def test_minibatches_and_the_decay_of_the_learning_rate():
    """Q2.3: 2 epochs of 4 minibatches of 5 of 20 samples, the learning
    rate 0.1 halved after the first epoch."""
    net, start = recorded_training()
    sizes = [len(batch) for batch in net.batches]
    if sizes == [20] * len(sizes) and sizes:
        fail(f"TwoLayerMLP.train: {WORDS['full_batch']}")
    if sizes != [5] * 8:
        fail(f"TwoLayerMLP.train: got minibatches of sizes {sizes} / "
             f"expected 4 of 5 samples in each of the 2 epochs")
    for epoch in (net.batches[:4], net.batches[4:]):
        if sorted(sum(epoch, [])) != list(range(20)):
            fail(f"TwoLayerMLP.train: {WORDS['with_replacement']}")
    if net.batches[:4] == net.batches[4:] or \
            net.batches[:4] == [list(range(i, i + 5)) for i in (0, 5, 10, 15)]:
        fail(f"TwoLayerMLP.train: {WORDS['no_shuffle']}")
    factors = {"right": 0.9 ** 4 * 0.95 ** 4, "decay_never": 0.9 ** 8,
               "decay_every_step": np.prod([1 - 0.1 * 0.5 ** k
                                            for k in range(8)])}
    got = net.params["W1"] / start
    for name, factor in factors.items():
        if np.allclose(got, factor):
            if name != "right":
                fail(f"TwoLayerMLP.train: {WORDS[name]}")
            return
    fail(f"TwoLayerMLP.train: after 8 steps W1 is {np.mean(got):.6f} times "
         f"its start / expected {factors['right']:.6f} (param -= "
         f"learning_rate * grad, the rate halved after the first epoch)")


def test_momentum_keeps_its_velocity():
    """Q2.3: the same training with classical momentum 0.5: v = momentum *
    v - learning_rate * grad, then param += v, the velocity kept from each
    step to the next."""
    net, start = recorded_training(momentum=0.5)

    def factor(kept):
        """What the 8 steps multiply each parameter by (its gradient is
        the parameter itself)."""
        p, v, rate = 1.0, 0.0, 0.1
        for _ in range(2):
            for _ in range(4):
                v = (0.5 * v if kept else 0.0) - rate * p
                p += v
            rate *= 0.5
        return p
    got = net.params["W1"] / start
    if np.allclose(got, factor(True)):
        return
    fail(f"TwoLayerMLP.train with momentum=0.5: after 8 steps W1 is "
         f"{np.mean(got):.6f} times its start / expected "
         f"{factor(True):.6f}; "
         + (WORDS["momentum_not_kept"] if np.allclose(got, factor(False))
            else "v = momentum * v - learning_rate * grad, then param += v"))
