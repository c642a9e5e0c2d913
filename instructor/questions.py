"""The graded checks of Problem 2, on the trusted side of grading.

Each check is a generator: it makes its inputs (seeded random networks and
data, or the problem set's public toy problem), yields one :class:`Call`
at a time for the student's code to answer in the sandbox, receives what
the call returned, and compares that with the reference computed here. The
student's process only ever sees a call's inputs; the references, the
expected values and the verdicts stay in this module.

Every check carries its part, its points and whether it is public in the
``@check`` decorator; :data:`PARTS` lists the parts with their points, and
the module refuses to load if the two disagree or if a check has no
decorator. A failed comparison raises :class:`Wrong` with a message for
the student, which never shows a hidden check's inputs or expected values.
"""
import inspect
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

FORWARD = "forward pass, ReLU and sigmoid (Q2.1, Q2.4)"
LOSS = "softmax cross-entropy loss (Q2.1, Q2.4)"
BACKWARD = "backward pass (Q2.2, Q2.4)"
PENALTY = "L2 penalty and its gradient (Q2.1, Q2.2)"
SGD = "SGD update with learning-rate decay in train (Q2.3)"
PREDICT = "predict (Q2.5)"

#: The automatically graded parts of Problem 2 and their points (50).
PARTS = {FORWARD: 10, LOSS: 8, BACKWARD: 12, PENALTY: 6, SGD: 8, PREDICT: 6}

#: Answers graded by hand: (what, nbgrader grade_id of the notebook cell).
MANUAL = [
    ("Problem 1: backpropagation by hand, Q1.1 to Q1.6 (30 points)",
     "problem1_answers"),
    ("Q2.7: sigmoid or ReLU? (short answer)", "q2_7_answer"),
    ("Problem 3: L2 and L1 regularisation, Q3.1 and Q3.2 (20 points)",
     "problem3_answers"),
]

PARAM_NAMES = ("W1", "b1", "W2", "b2")
PARAM_SHAPES = {"W1": "(D, H)", "b1": "(H,)", "W2": "(H, C)", "b2": "(C,)"}


# ---------------------------------------------------------------------------
# What a check asks of the student's code
# ---------------------------------------------------------------------------

@dataclass
class Net:
    """A network for the sandbox to build: ``cls(D, H, C, std=, activation=,
    seed=)``, then ``params`` and any ``attributes`` set on it. ``cls`` is
    the student's ``TwoLayerMLP`` or one of the sandbox's subclasses of it
    (``QuadraticLoss``, ``GivenScores``) whose ``loss`` the grader picks."""
    sizes: tuple
    activation: str = "relu"
    params: dict = None
    cls: str = "TwoLayerMLP"
    attributes: dict = field(default_factory=dict)
    std: float = 0.5
    seed: int = 0


@dataclass
class Call:
    """``net.<method>(*args, **kwargs)``; the check receives the result,
    and with ``want_params`` the tuple (result, net.params afterwards)."""
    net: Net
    method: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    want_params: bool = False


class Other:
    """An answer that is not plain data (an object of the student's, say).
    The sandbox sends its type's name, which the student's code can choose,
    so only names from a closed list are ever shown."""

    SHOWN = {"array too large to send", "list too long to send",
             "tuple too long to send",
             *(f"ndarray of {dtype}" for dtype in (
                 "object", "complex64", "complex128", "float128", "str",
                 "bytes", "datetime64", "timedelta64", "void"))}

    def __init__(self, type_name):
        self.type_name = type_name

    def __str__(self):
        return (f"a {self.type_name}" if self.type_name in self.SHOWN
                else "an object of another type")


class Wrong(Exception):
    """A check's verdict: the student's answer is wrong, and why."""


@dataclass
class Check:
    name: str
    part: str
    points: int
    public: bool
    run: object      # the generator function


CHECKS = []


def check(part, points, public=False):
    """Register a check: its part of :data:`PARTS`, its points, and whether
    it is one of the public checks the student has (their messages may show
    the inputs and expected values, which the student knows anyway)."""
    def register(function):
        if not inspect.isgeneratorfunction(function):
            raise TypeError(f"check {function.__name__} must be a generator "
                            f"that yields Call objects")
        if part not in PARTS:
            raise ValueError(f"check {function.__name__}: unknown part "
                             f"{part!r}; add it to PARTS")
        if not (isinstance(points, int) and points > 0):
            raise ValueError(f"check {function.__name__}: points must be a "
                             f"positive integer, got {points!r}")
        CHECKS.append(Check(function.__name__, part, points, public,
                            function))
        function.registered = True
        return function
    return register


# ---------------------------------------------------------------------------
# Comparing an answer with the reference
# ---------------------------------------------------------------------------

def _kind(value):
    """What an answer is, e.g. "an ndarray of int64 with shape (5,)"."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of {value.dtype} with shape {value.shape}"
    return _type(value)


def _type(value):
    """An answer's type alone, e.g. "a list" (never its size or content)."""
    if isinstance(value, np.ndarray):
        return f"an ndarray of {value.dtype}"
    if isinstance(value, Other):
        return str(value)
    return "None" if value is None else f"a {type(value).__name__}"


def as_array(what, got, shape, expected_shape, public, labels=False):
    """got, if it is an ndarray of ``expected_shape`` (named ``shape`` in
    symbols, e.g. "(N, C)") with a float dtype (with ``labels``, an integer
    one) and finite entries; Wrong otherwise."""
    sizes = f" = {expected_shape}" if public else ""
    if not isinstance(got, np.ndarray):
        raise Wrong(f"{what}: got {_kind(got) if public else _type(got)} / "
                    f"expected an ndarray of shape {shape}{sizes}")
    if got.shape != tuple(expected_shape):
        raise Wrong(f"{what}: got shape "
                    f"{got.shape if public else 'another shape'} / expected "
                    f"{shape}{sizes}")
    if labels:
        if got.dtype.kind not in "iu":
            raise Wrong(f"{what}: got dtype {got.dtype} / expected integer "
                        f"labels; convert with .astype(np.int64)")
        return got
    if got.dtype.kind != "f":
        raise Wrong(f"{what}: got dtype {got.dtype} / expected floating "
                    f"point")
    if not np.isfinite(got).all():
        raise Wrong(f"{what}: got NaN or inf in "
                    f"{int(np.sum(~np.isfinite(got)))} of {got.size} "
                    f"entries / expected finite numbers")
    return got.astype(np.float64)


def expect_array(what, got, expected, public, shape, rtol=1e-7, atol=1e-10):
    """got is a finite float ndarray of expected's shape, within
    ``atol + rtol * |expected|`` of expected in every entry."""
    expected = np.asarray(expected, dtype=np.float64)
    got = as_array(what, got, shape, expected.shape, public)
    excess = np.abs(got - expected) / (atol + rtol * np.abs(expected))
    if np.max(excess, initial=0.0) > 1:
        error = float(np.linalg.norm(got - expected)) / max(
            float(np.linalg.norm(expected)), atol)
        values = (f"got {np.array2string(got, precision=6)} / expected "
                  f"{np.array2string(expected, precision=6)}; "
                  if public and got.size <= 12 else "")
        raise Wrong(f"{what}: {values}relative error {error:.1e}, above the "
                    f"tolerance {rtol:g}")


def expect_labels(what, got, expected, public):
    """got is an integer ndarray equal to the labels expected."""
    got = as_array(what, got, "(N,)", np.shape(expected), public, labels=True)
    if not np.array_equal(got, expected):
        raise Wrong(f"{what}: {int(np.sum(got != expected))} of {got.size} "
                    f"labels differ from the expected ones")


def as_number(what, got):
    """got as a float, if it is a finite real number (or an array holding
    one number)."""
    if isinstance(got, np.ndarray) and got.size == 1 \
            and got.dtype.kind in "iuf":
        got = got.item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got,
                                                           numbers.Real):
        raise Wrong(f"{what}: got {_kind(got)} / expected a number")
    try:
        value = float(got)
    except OverflowError:                     # an int beyond 1.8e308
        raise Wrong(f"{what}: got an integer too large for a float / "
                    f"expected a finite number") from None
    if not math.isfinite(value):
        raise Wrong(f"{what}: got {value} / expected a finite number")
    return value


def expect_number(what, got, expected, public, rtol=1e-7, atol=1e-10):
    """got is a finite number within ``atol + rtol * |expected|``."""
    got = as_number(what, got)
    if abs(got - expected) > atol + rtol * abs(expected):
        shown = (f"got {got:.8f} / expected {expected:.8f}, difference "
                 f"{abs(got - expected):.1e}" if public else
                 f"relative error "
                 f"{abs(got - expected) / max(abs(expected), atol):.1e}, "
                 f"above the tolerance {rtol:g}")
        raise Wrong(f"{what}: {shown}")


def loss_and_grads(what, got):
    """(loss, grads) from what ``loss(X, y)`` returned, or Wrong."""
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise Wrong(f"{what}: got {_kind(got)} / expected the pair "
                    f"(loss, grads)")
    loss, grads = got
    if not isinstance(grads, dict):
        raise Wrong(f"{what}: grads is {_kind(grads)} / expected a dict "
                    f"with the keys {', '.join(PARAM_NAMES)}")
    missing = [name for name in PARAM_NAMES if name not in grads]
    if missing:
        raise Wrong(f"{what}: grads has no {', '.join(missing)} / expected "
                    f"the keys {', '.join(PARAM_NAMES)}")
    return loss, grads


def params_of(what, got):
    """The dict of parameters a call sent back, or Wrong."""
    if not (isinstance(got, dict)
            and all(name in got for name in PARAM_NAMES)):
        raise Wrong(f"{what}: params is {_kind(got)} / expected a dict with "
                    f"the keys {', '.join(PARAM_NAMES)}")
    return got


# ---------------------------------------------------------------------------
# Reference formulas and problems (written out apart from mlp.py)
# ---------------------------------------------------------------------------

def reference_scores(params, X, activation):
    z1 = X @ params["W1"] + params["b1"]
    if activation == "relu":
        hidden = np.maximum(z1, 0)
    else:
        hidden = 1 / (1 + np.exp(-z1))
    return hidden, hidden @ params["W2"] + params["b2"]


def reference_loss(params, X, y, activation, reg):
    hidden, scores = reference_scores(params, X, activation)
    N = len(X)
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean() + 0.5 * reg * (
        np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    derivative = hidden > 0 if activation == "relu" else hidden * (1 - hidden)
    dz1 = dscores @ params["W2"].T * derivative
    grads = {"W1": X.T @ dz1 + reg * params["W1"], "b1": dz1.sum(axis=0),
             "W2": hidden.T @ dscores + reg * params["W2"],
             "b2": dscores.sum(axis=0)}
    return loss, grads


def problem(activation, seed):
    """A network with random parameters (biases too) and data of random
    sizes, the same for every run."""
    rng = np.random.RandomState(seed)
    D, H, C, N = (int(rng.randint(3, 12)), int(rng.randint(2, 9)),
                  int(rng.randint(2, 7)), int(rng.randint(4, 15)))
    params = {"W1": rng.randn(D, H), "b1": rng.randn(H),
              "W2": rng.randn(H, C), "b2": rng.randn(C)}
    X = rng.randn(N, D)
    y = rng.randint(C, size=N)
    return Net((D, H, C), activation, params, seed=seed), X, y


def toy_problem(activation):
    """The problem set's public toy network and data: the weights drawn as
    ``TwoLayerMLP(4, 10, 3, std=1e-1)`` draws them after np.random.seed(0)."""
    rng = np.random.RandomState(0)
    params = {"W1": 1e-1 * rng.randn(4, 10), "b1": np.zeros(10),
              "W2": 1e-1 * rng.randn(10, 3), "b2": np.zeros(3)}
    rng = np.random.RandomState(1)
    X, y = 10 * rng.randn(5, 4), np.array([0, 1, 2, 2, 1])
    return Net((4, 10, 3), activation, params, std=1e-1), X, y


#: The problem set's reference numbers for the toy problem (public).
TOY_LOSS = {"sigmoid": 1.18224798, "relu": 1.30378789}
TOY_TRAINED_LOSS = 0.109268


# ---------------------------------------------------------------------------
# The checks, part by part
# ---------------------------------------------------------------------------

def _forward(activation):
    for seed in (1, 2, 3):
        net, X, _ = problem(activation, seed)
        scores = yield Call(net, "loss", (X,))
        expect_array(f"loss(X) with {activation} (the class scores)", scores,
                     reference_scores(net.params, X, activation)[1],
                     public=False, shape="(N, C)")


@check(FORWARD, points=5)
def forward_pass_relu():
    yield from _forward("relu")


@check(FORWARD, points=5)
def forward_pass_sigmoid():
    yield from _forward("sigmoid")


def _toy_loss(activation):
    net, X, y = toy_problem(activation)
    got = yield Call(net, "loss", (X, y), {"reg": 0.1})
    loss, _ = loss_and_grads("loss(X, y) on the toy problem", got)
    expect_number(f"the toy loss with {activation} and reg=0.1", loss,
                  TOY_LOSS[activation], public=True, rtol=0, atol=1e-7)


@check(LOSS, points=2, public=True)
def toy_loss_sigmoid():
    yield from _toy_loss("sigmoid")


@check(LOSS, points=2, public=True)
def toy_loss_relu():
    yield from _toy_loss("relu")


def _loss_value(activation):
    for seed in (4, 5, 6):
        net, X, y = problem(activation, seed)
        got = yield Call(net, "loss", (X, y), {"reg": 0.0})
        loss, _ = loss_and_grads(f"loss(X, y) with {activation}", got)
        expect_number(f"the loss with {activation}", loss,
                      reference_loss(net.params, X, y, activation, 0.0)[0],
                      public=False)


@check(LOSS, points=2)
def loss_value_relu():
    yield from _loss_value("relu")


@check(LOSS, points=2)
def loss_value_sigmoid():
    yield from _loss_value("sigmoid")


def compare_gradients(grads, expected, activation, public, rtol):
    for name in PARAM_NAMES:
        expect_array(f"the gradient of {name} with {activation}", grads[name],
                     expected[name], public=public, shape=PARAM_SHAPES[name],
                     rtol=rtol)


def _toy_gradients(activation):
    net, X, y = toy_problem(activation)
    got = yield Call(net, "loss", (X, y), {"reg": 0.0})
    _, grads = loss_and_grads("loss(X, y) on the toy problem", got)
    _, expected = reference_loss(net.params, X, y, activation, 0.0)
    compare_gradients(grads, expected, activation, public=True, rtol=1e-6)


@check(BACKWARD, points=3, public=True)
def toy_gradients_sigmoid():
    yield from _toy_gradients("sigmoid")


@check(BACKWARD, points=3, public=True)
def toy_gradients_relu():
    yield from _toy_gradients("relu")


def _gradients(activation):
    for seed in (7, 8, 9):
        net, X, y = problem(activation, seed)
        got = yield Call(net, "loss", (X, y), {"reg": 0.0})
        _, grads = loss_and_grads(f"loss(X, y) with {activation}", got)
        _, expected = reference_loss(net.params, X, y, activation, 0.0)
        compare_gradients(grads, expected, activation, public=False,
                          rtol=1e-7)


@check(BACKWARD, points=3)
def gradients_relu():
    yield from _gradients("relu")


@check(BACKWARD, points=3)
def gradients_sigmoid():
    yield from _gradients("sigmoid")


@check(PENALTY, points=3)
def l2_penalty_value():
    for seed in (10, 11):
        net, X, y = problem("relu", seed)
        base, _ = loss_and_grads("loss(X, y, reg=0)", (
            yield Call(net, "loss", (X, y), {"reg": 0.0})))
        penalised, _ = loss_and_grads("loss(X, y, reg=0.7)", (
            yield Call(net, "loss", (X, y), {"reg": 0.7})))
        W1, W2 = net.params["W1"], net.params["W2"]
        expect_number("the L2 penalty added to the loss (the loss with "
                      "reg=0.7 minus the loss with reg=0)",
                      as_number("the loss with reg=0.7", penalised)
                      - as_number("the loss with reg=0", base),
                      0.35 * (np.sum(W1 ** 2) + np.sum(W2 ** 2)),
                      public=False, rtol=1e-9)


@check(PENALTY, points=3)
def l2_penalty_gradient():
    for seed in (12, 13):
        net, X, y = problem("sigmoid", seed)
        _, base = loss_and_grads("loss(X, y, reg=0)", (
            yield Call(net, "loss", (X, y), {"reg": 0.0})))
        _, penalised = loss_and_grads("loss(X, y, reg=0.7)", (
            yield Call(net, "loss", (X, y), {"reg": 0.7})))
        for name in PARAM_NAMES:
            shape = np.shape(net.params[name])
            without = as_array(f"the gradient of {name} with reg=0",
                               base[name], PARAM_SHAPES[name], shape,
                               public=False)
            if name.startswith("W"):
                expect_array(f"the L2 penalty's gradient of {name} (the "
                             f"gradient with reg=0.7 minus the one with "
                             f"reg=0)", penalised[name],
                             without + 0.7 * net.params[name], public=False,
                             shape=PARAM_SHAPES[name], rtol=1e-9)
            else:
                expect_array(f"the gradient of {name} with reg=0.7 (biases "
                             f"are not penalised)", penalised[name], without,
                             public=False, shape=PARAM_SHAPES[name],
                             rtol=1e-12)


@check(SGD, points=2, public=True)
def toy_training():
    """Q2.3: full-batch training of the sigmoid toy network."""
    net, X, y = toy_problem("sigmoid")
    history = yield Call(net, "train", (X, y, X, y),
                         {"learning_rate": 0.5, "reg": 1e-5,
                          "num_epochs": 100})
    losses = history.get("loss_history") if isinstance(history, dict) else None
    if isinstance(losses, np.ndarray) and losses.ndim == 1:
        losses = list(losses)
    if not isinstance(losses, (list, tuple)) or not losses:
        raise Wrong(f"train on the toy problem: got {_kind(history)} / "
                    f"expected the dict of histories with a non-empty "
                    f"loss_history")
    expect_number("the final toy loss after 100 epochs of train", losses[-1],
                  TOY_TRAINED_LOSS, public=True, rtol=0, atol=1e-5)


#: QuadraticLoss's curvature per parameter: its loss is the sum of
#: 0.5 * c * p**2, so each SGD step multiplies p by (1 - learning_rate * c).
CURVATURE = {"W1": 1.0, "b1": 2.0, "W2": 0.5, "b2": 3.0}


def _sgd(decay, seed):
    rng = np.random.RandomState(seed)
    N, batch_size, epochs, lr = 12, 4, 3, 0.1
    start = {"W1": rng.randn(5, 4), "b1": rng.randn(4),
             "W2": rng.randn(4, 3), "b2": rng.randn(3)}
    X, y = rng.randn(N, 5), rng.randint(3, size=N)
    net = Net((5, 4, 3), "relu", start, cls="QuadraticLoss",
              attributes={"curvature": CURVATURE}, std=1.0, seed=seed)
    _, params = yield Call(net, "train", (X, y),
                           {"learning_rate": lr, "learning_rate_decay": decay,
                            "reg": 0.0, "num_epochs": epochs,
                            "batch_size": batch_size}, want_params=True)
    params = params_of("net.params after train", params)
    steps = N // batch_size
    for name, c in CURVATURE.items():
        factor = np.prod([(1 - lr * decay ** epoch * c) ** steps
                          for epoch in range(epochs)])
        expect_array(f"train: {name} after {epochs * steps} SGD steps "
                     f"(learning-rate decay {decay})", params[name],
                     factor * start[name], public=False,
                     shape=PARAM_SHAPES[name], rtol=1e-9)


@check(SGD, points=3)
def sgd_steps():
    yield from _sgd(decay=1.0, seed=14)


@check(SGD, points=3)
def sgd_learning_rate_decay():
    yield from _sgd(decay=0.5, seed=15)


@check(PREDICT, points=3)
def predict_takes_the_largest_score():
    rng = np.random.RandomState(16)
    scores = rng.randn(20, 6)
    net = Net((3, 4, 6), cls="GivenScores", attributes={"scores": scores})
    predicted = yield Call(net, "predict", (rng.randn(20, 3),))
    expect_labels("predict (the index of the largest score of each row, "
                  "with the scores from self.loss(X))", predicted,
                  scores.argmax(axis=1), public=False)


@check(PREDICT, points=3)
def predict_returns_integer_labels():
    rng = np.random.RandomState(17)
    net = Net((3, 4, 5), cls="GivenScores",
              attributes={"scores": rng.randn(7, 5)})
    predicted = yield Call(net, "predict", (rng.randn(7, 3),))
    as_array("predict", predicted, "(N,)", (7,), public=False, labels=True)


def _verify():
    """Refuse to load when a check lacks its decorator or the points of a
    part do not add up to PARTS. (Generators whose names start with an
    underscore are helpers that checks ``yield from``.)"""
    for name, value in list(globals().items()):
        if inspect.isgeneratorfunction(value) and not name.startswith("_") \
                and not getattr(value, "registered", False):
            raise RuntimeError(f"check {name} has no @check(part, points) "
                               f"decorator")
    for part, points in PARTS.items():
        total = sum(c.points for c in CHECKS if c.part == part)
        if total != points:
            raise RuntimeError(f"the checks of {part!r} add up to {total} "
                               f"points, PARTS gives {points}")
    names = [c.name for c in CHECKS]
    if len(set(names)) != len(names):
        raise RuntimeError("two checks share a name")


_verify()
