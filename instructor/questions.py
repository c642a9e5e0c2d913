"""The graded questions of Problem 2, on the trusted side of grading.

Each check is a generator: it makes its inputs (seeded random networks and
data), yields one :class:`Call` at a time for the student's code to answer
in the sandbox, receives what the call returned, and compares that with
the reference of ``reference.py``. The student's process only ever sees a
call's inputs; the references, the expected values and the verdicts stay
on this side.

Every check carries its question, its points and whether it is public in
the ``@check`` decorator; :data:`QUESTIONS` lists the questions with their
points, and the module refuses to load if the two disagree, if a check has
no decorator, or if a public check carries points (the student has the
public checks' inputs and answers, so they only ever inform). A failed
comparison raises :class:`Wrong` with a message for the student that says
which quantity is wrong, by how much and, when the answer is what a known
mistake gives (``reference.MISTAKES``), which mistake; it never shows a
hidden check's inputs or expected values.

Each part is judged on its own: the backward pass against the reference
computed from the student's own forward pass, the loss from the student's
own scores, ``train`` through a loss the grader chooses, ``predict``
through given scores; a mistake that belongs to another question and has
been charged there does not cost points again.
"""
import inspect
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

import reference
from reference import MISTAKES, PARAM_NAMES, words

#: The automatically graded questions of Problem 2: (what, points), 45.
QUESTIONS = {
    "Q2.1": ("forward pass and loss with sigmoid", 5),
    "Q2.2": ("backward pass with sigmoid", 10),
    "Q2.3": ("training and prediction on the toy problem", 5),
    "Q2.4": ("forward and backward pass with ReLU", 5),
    "Q2.5": ("the sigmoid network learns real digits", 10),
    "Q2.6": ("the ReLU network learns real digits", 10),
}

#: Questions graded by hand: (question, what, points, nbgrader grade_id of
#: the notebook cell that holds the answer), 55 points.
MANUAL = [
    ("Q1.1", "dL/da2 by hand", 5, "problem1_answers"),
    ("Q1.2", "dL/db2 by hand", 5, "problem1_answers"),
    ("Q1.3", "dL/dW2 by hand", 5, "problem1_answers"),
    ("Q1.4", "dL/dh1 by hand", 5, "problem1_answers"),
    ("Q1.5", "dL/db1 and dL/dW1 by hand", 5, "problem1_answers"),
    ("Q1.6", "why store the forward pass?", 5, "problem1_answers"),
    ("Q2.7", "sigmoid or ReLU?", 5, "q2_7_answer"),
    ("Q3.1", "the update with L2 regularisation", 10, "problem3_answers"),
    ("Q3.2", "the update with L1 regularisation", 10, "problem3_answers"),
]

PARAM_SHAPES = {"W1": "(D, H)", "b1": "(H,)", "W2": "(H, C)", "b2": "(C,)"}
GRADIENT = {name: "d" + name for name in PARAM_NAMES}
#: The relative error an answer may have (float32 arithmetic passes).
RTOL = 1e-5


# ---------------------------------------------------------------------------
# What a check asks of the student's code
# ---------------------------------------------------------------------------

@dataclass
class Net:
    """A network for the sandbox to build: ``cls(D, H, C, std=, activation=,
    seed=)``, then ``params`` and any ``attributes`` set on it. ``cls`` is
    the student's ``TwoLayerMLP`` or one of the sandbox's subclasses of it
    (``QuadraticLoss``, ``GivenScores``, ``StandIn``)."""
    sizes: tuple
    activation: str = "relu"
    params: dict = None
    cls: str = "TwoLayerMLP"
    attributes: dict = field(default_factory=dict)
    std: float = 0.5
    seed: int = 0


@dataclass
class Call:
    """``net.<method>(*args, **kwargs)``. The check receives the result, or
    with ``want`` the tuple (result, *those attributes of net afterwards);
    with ``catch`` an exception comes back as :class:`Raised` instead of
    failing the check; ``stand_in(method, arguments)`` answers the calls of
    a ``StandIn`` network's stood-in methods."""
    net: Net
    method: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    want: tuple = ()
    catch: bool = False
    stand_in: object = None


#: The attributes a Call may want back.
WANTED = frozenset({"params", "batches", "labels"})


@dataclass
class Raised:
    """The student's call raised: the exception's type name and the
    handout function it came from, as a hidden check may show them."""
    kind: str
    not_implemented: bool = False
    function: str = ""

    def __str__(self):
        what = "is not implemented yet" if self.not_implemented else \
            f"raised {self.kind}"
        return what + (f" (in {self.function})" if self.function else "")


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
    """A check's verdict: the student's answer is wrong, and why.
    ``mistakes``: the names of the known mistakes that explain it (None if
    no known mistake does)."""

    def __init__(self, message, mistakes=None):
        super().__init__(message)
        self.mistakes = None if mistakes is None else frozenset(mistakes)


@dataclass
class Check:
    name: str
    question: str
    points: int
    public: bool
    run: object        # the generator function
    seconds: float     # its time limit, in units of Limits.check_seconds
    isolated: bool     # in a sandbox of its own, started for it alone


CHECKS = []


def check(question, points, public=False, seconds=1, isolated=False):
    """Register a check: its question of :data:`QUESTIONS`, its points (0
    for a public check: the student has its inputs and answers), and
    whether it is public (its messages may show inputs and expected
    values). ``seconds`` multiplies the time limit of one check;
    ``isolated`` runs it in a fresh sandbox, stopped after it."""
    def register(function):
        if not inspect.isgeneratorfunction(function):
            raise TypeError(f"check {function.__name__} must be a generator "
                            f"that yields Call objects")
        if question not in QUESTIONS:
            raise ValueError(f"check {function.__name__}: unknown question "
                             f"{question!r}; add it to QUESTIONS")
        if not (isinstance(points, int) and points >= 0):
            raise ValueError(f"check {function.__name__}: points must be an "
                             f"integer >= 0, got {points!r}")
        if public and points:
            raise ValueError(f"check {function.__name__}: a public check "
                             f"carries no points (the student has its "
                             f"answers), got {points}")
        if not public and not points:
            raise ValueError(f"check {function.__name__}: a hidden check "
                             f"needs points")
        CHECKS.append(Check(function.__name__, question, points, public,
                            function, seconds, isolated))
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
    if isinstance(value, Raised):
        return f"an exception ({value})"
    return "None" if value is None else f"a {type(value).__name__}"


def as_array(what, got, shape, expected_shape, public, labels=False):
    """got, if it is an ndarray of ``expected_shape`` (named ``shape`` in
    symbols, e.g. "(N, C)") with a float dtype (with ``labels``, an integer
    one) and finite entries; Wrong otherwise."""
    sizes = f" = {tuple(expected_shape)}" if public else ""
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
        where = (f" in {int(np.sum(~np.isfinite(got)))} of {got.size} "
                 f"entries" if public else "")
        raise Wrong(f"{what}: got NaN or inf{where} / expected finite "
                    f"numbers")
    return got.astype(np.float64)


def expect_array(what, got, expected, public, shape, rtol=RTOL):
    """got is a finite float ndarray of expected's shape whose relative
    error ||got - expected|| / ||expected|| is at most rtol."""
    expected = np.asarray(expected, dtype=np.float64)
    got = as_array(what, got, shape, expected.shape, public)
    error = reference.relative_error(got, expected)
    if error > rtol:
        values = (f"got {np.array2string(got, precision=6)} / expected "
                  f"{np.array2string(expected, precision=6)}; "
                  if public and got.size <= 12 else "")
        raise Wrong(f"{what}: {values}relative error {error:.1e}, above the "
                    f"tolerance {rtol:g}")


def expect_labels(what, got, expected, public):
    """got is an integer ndarray equal to the labels expected."""
    got = as_array(what, got, "(N,)", np.shape(expected), public, labels=True)
    if not np.array_equal(got, expected):
        counted = (f"{int(np.sum(got != expected))} of {got.size} "
                   if public else "")
        raise Wrong(f"{what}: {counted or 'some '}labels differ from the "
                    f"expected ones")


def as_number(what, got):
    """got as a float, if it is a finite real number (or an array holding
    one number)."""
    if isinstance(got, np.ndarray) and got.size == 1 \
            and got.dtype.kind in "iuf":
        got = got.item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got,
                                                           numbers.Real):
        raise Wrong(f"{what}: got {_type(got)} / expected a number")
    try:
        value = float(got)
    except OverflowError:                     # an int beyond 1.8e308
        raise Wrong(f"{what}: got an integer too large for a float / "
                    f"expected a finite number") from None
    if not math.isfinite(value):
        raise Wrong(f"{what}: got {value} / expected a finite number")
    return value


def expect_number(what, got, expected, public, rtol=RTOL, atol=1e-10):
    """got is a finite number within ``atol + rtol * |expected|``."""
    got = as_number(what, got)
    if abs(got - expected) > atol + rtol * abs(expected):
        shown = (f"got {got:.8f} / expected {expected:.8f}, difference "
                 f"{abs(got - expected):.1e}" if public else
                 f"relative error "
                 f"{abs(got - expected) / max(abs(expected), atol):.1e}, "
                 f"above the tolerance {rtol:g}")
        raise Wrong(f"{what}: {shown}")


def loss_and_grads(what, got, gradients=True):
    """(loss, grads) from what ``loss(X, y)`` returned, or Wrong; with
    ``gradients`` False, gradients of None (not written yet) are let by."""
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise Wrong(f"{what}: got {_type(got)} / expected the pair "
                    f"(loss, grads)")
    loss, grads = got
    if not isinstance(grads, dict):
        raise Wrong(f"{what}: grads is {_type(grads)} / expected a dict "
                    f"with the keys {', '.join(PARAM_NAMES)}")
    missing = [name for name in PARAM_NAMES if name not in grads]
    if missing:
        raise Wrong(f"{what}: grads has no {', '.join(missing)} / expected "
                    f"the keys {', '.join(PARAM_NAMES)}")
    unset = [GRADIENT[name] for name in PARAM_NAMES if grads[name] is None]
    if unset and gradients:
        raise Wrong(f"{what}: {and_join(unset)} "
                    f"{'is' if len(unset) == 1 else 'are'} None: the "
                    f"backward pass is not written yet")
    return loss, grads


def params_of(what, got, like):
    """The parameters a call sent back, as float64 arrays shaped as in
    ``like``, or Wrong."""
    if not (isinstance(got, dict)
            and all(name in got for name in PARAM_NAMES)):
        raise Wrong(f"{what}: params is {_type(got)} / expected a dict with "
                    f"the keys {', '.join(PARAM_NAMES)}")
    return {name: as_array(f"{what}: {name}", got[name], PARAM_SHAPES[name],
                           np.shape(like[name]), public=False)
            for name in PARAM_NAMES}


# ---------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------

def problem(activation, seed, scale=1.0):
    """A network with random parameters (biases too) and data of random
    sizes, the same for every run; ``scale`` multiplies W2 (large scores).
    Odd seeds give uint8 labels, as MNIST's are; even seeds int64."""
    rng = np.random.RandomState(seed)
    D, H, C, N = (int(rng.randint(3, 12)), int(rng.randint(2, 9)),
                  int(rng.randint(2, 7)), int(rng.randint(4, 15)))
    params = {"W1": rng.randn(D, H), "b1": rng.randn(H),
              "W2": scale * rng.randn(H, C), "b2": rng.randn(C)}
    X = rng.randn(N, D)
    y = rng.randint(C, size=N).astype(np.uint8 if seed % 2 else np.int64)
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
#: The strength of the penalty in the hidden checks.
REG = 0.7


# ---------------------------------------------------------------------------
# Which mistakes an answer shows (None: none that the grader knows)
# ---------------------------------------------------------------------------

def scores_of(what, got, net, X):
    return as_array(what, got, "(N, C)", (len(X), net.sizes[2]),
                    public=False)


def score_mistakes(scores, net, X):
    return reference.explain(
        scores, lambda m: reference.forward(net.params, X, net.activation,
                                            m)[2],
        reference.SCORE_MISTAKES, RTOL)


def gradient_mistakes(grads, net, X, y, forward_mistakes):
    """{name: the mistakes that explain the data gradient of name}, for the
    gradients that differ from the reference (computed on the student's
    own forward pass, as far as its mistakes are known)."""
    found = {}
    for name in PARAM_NAMES:
        def compute(m, name=name):
            return reference.data_gradients(
                net.params, X, y, net.activation, m | forward_mistakes)[name]
        got = as_array(f"the gradient {GRADIENT[name]}", grads[name],
                       PARAM_SHAPES[name], np.shape(net.params[name]),
                       public=False)
        mistakes = reference.explain(
            got, compute, reference.gradient_mistakes(name, net.activation),
            RTOL)
        if mistakes != frozenset():
            found[name] = mistakes
    return found


def and_join(items):
    items = list(items)
    return items[0] if len(items) == 1 else \
        ", ".join(items[:-1]) + " and " + items[-1]


def unknown_signature(got, expected):
    """What an answer that no known mistake explains looks like, if it has
    a simple signature (all zeros, or a multiple of the right one)."""
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    if not np.any(got):
        return "it is all zeros: is it computed at all?"
    ratio = np.vdot(got, expected) / max(np.vdot(expected, expected), 1e-300)
    if reference.relative_error(got, ratio * expected) <= RTOL:
        return ("it is a multiple of the right one: look for a factor that "
                "does not belong")
    return "no known mistake gives this"


def describe_gradients(found, grads, net, X, y, forward_mistakes):
    """A message for gradients that are wrong: their relative errors and,
    where known, the mistake, once for the gradients that share it."""
    expected = reference.data_gradients(net.params, X, y, net.activation,
                                        forward_mistakes)
    groups = {}
    for name, mistakes in found.items():
        why = words(sorted(mistakes)) if mistakes else \
            unknown_signature(grads[name], expected[name])
        groups.setdefault(why, []).append(name)
    parts = []
    for why, names in groups.items():
        errors = [f"{reference.relative_error(grads[n], expected[n]):.1e}"
                  for n in names]
        verb = "has relative error" if len(names) == 1 else \
            "have relative errors"
        parts.append(f"{and_join(GRADIENT[n] for n in names)} {verb} "
                     f"{and_join(errors)}: {why}")
    return "; ".join(parts)


# ---------------------------------------------------------------------------
# Q2.1: the forward pass and the loss with sigmoid
# ---------------------------------------------------------------------------

def _scores(activation, seeds, forgive=True):
    """The class scores on random problems. With ``forgive``, a mistake of
    the forward pass that the sigmoid's scores show too (for ReLU) is the
    shared code's, charged in Q2.1, and not charged again."""
    notes = set()
    for seed in seeds:
        net, X, _ = problem(activation, seed)
        what = f"loss(X) with {activation} (the class scores)"
        scores = scores_of(what, (yield Call(net, "loss", (X,))), net, X)
        found = score_mistakes(scores, net, X)
        if found == frozenset():
            continue
        charged = frozenset()
        if activation == "relu" and found and forgive:
            sigmoid = Net(net.sizes, "sigmoid", net.params, seed=seed)
            other = yield Call(sigmoid, "loss", (X,), catch=True)
            if isinstance(other, np.ndarray) and other.shape == scores.shape:
                charged = score_mistakes(other.astype(float), sigmoid, X) \
                    or frozenset()
        if found and found <= charged:
            notes.add(f"the ReLU scores show the mistake counted in Q2.1: "
                      f"{words(sorted(found))}")
            continue
        error = reference.relative_error(scores, reference.forward(
            net.params, X, activation)[2])
        raise Wrong(f"{what}: relative error {error:.1e}, above the "
                    f"tolerance {RTOL:g}; " + (
                        words(sorted(found - charged)) if found else
                        f"no known mistake gives these scores: check "
                        f"z1 = X @ W1 + b1, hidden = {activation}(z1), "
                        f"scores = hidden @ W2 + b2"),
                    None if found is None else found - charged)
    return "; ".join(sorted(notes))


@check("Q2.1", points=1)
def sigmoid_scores():
    return (yield from _scores("sigmoid", (1, 2, 3)))


def own_scores(scores, net, X):
    """The student's scores if they are the reference's or explained by
    known mistakes of the forward pass (then the loss is judged on them,
    so that such a mistake is not counted twice), else the reference's."""
    if score_mistakes(scores, net, X) is None:
        return reference.forward(net.params, X, net.activation)[2]
    return scores


def _cross_entropy(activation, seeds):
    """The student's loss(X, y, reg=0) against the cross-entropy of the
    student's own scores, as far as their mistakes are known."""
    for seed in seeds:
        net, X, y = problem(activation, seed)
        what = f"loss(X, y) with {activation}"
        scores = own_scores(scores_of("loss(X) (the class scores)",
                                      (yield Call(net, "loss", (X,))),
                                      net, X), net, X)
        got, _ = loss_and_grads(what, (yield Call(net, "loss", (X, y),
                                                  {"reg": 0.0})),
                                gradients=False)
        got = as_number(f"{what}: the loss", got)
        expected = reference.data_loss(scores, y)
        if abs(got - expected) <= RTOL * abs(expected):
            continue
        summed = abs(got - reference.data_loss(scores, y, {"loss_sum"})) \
            <= RTOL * abs(got)
        raise Wrong(
            f"{what}: the softmax cross-entropy of the scores has relative "
            f"error {abs(got - expected) / abs(expected):.1e}; " + (
                MISTAKES["loss_sum"].words if summed else
                "no known mistake gives this loss: it is the mean over the "
                "samples of -log softmax(scores)[i, y_i]"),
            {"loss_sum"} if summed else None)


@check("Q2.1", points=2)
def sigmoid_cross_entropy():
    yield from _cross_entropy("sigmoid", (4, 5, 6))


@check("Q2.1", points=1)
def loss_with_large_scores():
    """Scores of several hundreds: a softmax that does not subtract the
    largest score overflows (exp(710) is inf)."""
    for seed in (7, 8):
        net, X, y = problem("sigmoid", seed, scale=400.0)
        scores = own_scores(scores_of("loss(X) (the class scores)",
                                      (yield Call(net, "loss", (X,))),
                                      net, X), net, X)
        got = yield Call(net, "loss", (X, y), {"reg": 0.0}, catch=True)
        what = "loss(X, y) with scores in the hundreds"
        overflow = MISTAKES["softmax_overflow"].words
        if isinstance(got, Raised):
            if got.kind not in ("FloatingPointError", "OverflowError"):
                raise Wrong(f"{what}: {got}")
            raise Wrong(f"{what}: {got}; {overflow}", {"softmax_overflow"})
        loss, _ = loss_and_grads(what, got, gradients=False)
        if isinstance(loss, float) and not math.isfinite(loss):
            raise Wrong(f"{what}: got {loss}; {overflow}",
                        {"softmax_overflow"})
        expect_number(what, loss, reference.data_loss(scores, y),
                      public=False)


def penalty_mistakes(added, params):
    for mistakes in ((), ("l2_no_half",), ("l2_biases_in_loss",),
                     ("l2_no_half", "l2_biases_in_loss"),
                     ("l2_missing_in_loss",)):
        expected = reference.penalty(params, REG, set(mistakes))
        if abs(added - expected) <= RTOL * max(abs(expected), 1e-3):
            return frozenset(mistakes)
    return None


def _penalty(activation, seeds):
    """What reg adds to the loss (the loss with reg minus the loss without),
    which does not depend on the rest being right."""
    for seed in seeds:
        net, X, y = problem(activation, seed)
        base, _ = loss_and_grads("loss(X, y, reg=0)", (
            yield Call(net, "loss", (X, y), {"reg": 0.0})), gradients=False)
        penalised, _ = loss_and_grads(f"loss(X, y, reg={REG})", (
            yield Call(net, "loss", (X, y), {"reg": REG})), gradients=False)
        base = as_number("the loss with reg=0", base)
        added = as_number(f"the loss with reg={REG}", penalised) - base
        if reference.explain(base, lambda m: reference.data_loss(
                reference.forward(net.params, X, activation, m)[2], y, m),
                [*reference.SCORE_MISTAKES, ("loss_sum",)], RTOL) is None:
            raise Wrong("the loss with reg=0 is wrong in a way the grader "
                        "cannot name (see the cross-entropy check): the "
                        "penalty is judged once it is right")
        found = penalty_mistakes(added, net.params)
        if found == frozenset():
            continue
        expected = reference.penalty(net.params, REG)
        raise Wrong(f"the L2 penalty added to the loss (the loss with "
                    f"reg={REG} minus the loss with reg=0): relative error "
                    f"{abs(added - expected) / expected:.1e}; " + (
                        words(sorted(found)) if found else
                        "no known mistake gives this: the penalty is reg * "
                        "0.5 * (sum(W1**2) + sum(W2**2))"), found)


@check("Q2.1", points=1)
def l2_penalty_in_the_loss():
    yield from _penalty("sigmoid", (9, 10))


# ---------------------------------------------------------------------------
# Q2.2: the backward pass with sigmoid
# ---------------------------------------------------------------------------

def _gradients(activation, seed):
    """The data gradients (reg = 0) on one problem, judged against the
    reference computed on the student's own forward pass (as far as its
    mistakes are known); returns (net, X, y, grads, {name: mistakes} for
    the wrong ones, the forward pass's mistakes)."""
    net, X, y = problem(activation, seed)
    scores = yield Call(net, "loss", (X,), catch=True)
    forward = frozenset()
    if isinstance(scores, np.ndarray) and scores.shape == (len(X),
                                                           net.sizes[2]) \
            and scores.dtype.kind == "f" and np.isfinite(scores).all():
        forward = score_mistakes(scores.astype(float), net, X) or frozenset()
    _, grads = loss_and_grads(f"loss(X, y) with {activation}", (
        yield Call(net, "loss", (X, y), {"reg": 0.0})))
    found = gradient_mistakes(grads, net, X, y, forward)
    return net, X, y, grads, found, forward


def gradients_wrong(activation, found, grads, net, X, y, forward):
    mistakes = None if any(m is None for m in found.values()) else \
        frozenset().union(*found.values())
    return Wrong(f"loss(X, y) with {activation}: " + describe_gradients(
        found, grads, net, X, y, forward), mistakes)


def _sigmoid_gradients(names, seeds):
    for seed in seeds:
        net, X, y, grads, found, forward = yield from _gradients("sigmoid",
                                                                 seed)
        found = {n: m for n, m in found.items() if n in names}
        if found:
            raise gradients_wrong("sigmoid", found, grads, net, X, y, forward)


@check("Q2.2", points=4)
def sigmoid_output_layer_gradients():
    """dW2 and db2."""
    yield from _sigmoid_gradients(("W2", "b2"), (11, 12, 13))


@check("Q2.2", points=4)
def sigmoid_hidden_layer_gradients():
    """dW1 and db1, through the sigmoid's derivative."""
    yield from _sigmoid_gradients(("W1", "b1"), (14, 15, 16))


def penalty_gradient_mistakes(added, params):
    """The mistakes that explain what reg adds to each gradient, one
    parameter at a time (None if one of them has an unknown mistake)."""
    found = set()
    for name in PARAM_NAMES:
        p = params[name]
        options = ({(): REG * p, ("l2_grad_double",): 2 * REG * p,
                    ("l2_missing_in_grad",): 0 * p} if name.startswith("W")
                   else {(): 0 * p, ("l2_grad_biases",): REG * p,
                         ("l2_grad_biases", "l2_grad_double"): 2 * REG * p})
        match = [m for m, expected in options.items()
                 if np.linalg.norm(added[name] - expected)
                 <= RTOL * REG * np.linalg.norm(p)]
        if not match:
            return None
        found.update(match[0])
    return frozenset(found)


def _penalty_gradients(activation, seeds):
    """What reg adds to each gradient (with reg minus without)."""
    for seed in seeds:
        net, X, y, base, found, _ = yield from _gradients(activation, seed)
        if any(mistakes is None for mistakes in found.values()):
            raise Wrong("the gradients with reg=0 are wrong in a way the "
                        "grader cannot name (see the gradient checks): the "
                        "penalty's gradients are judged once they are right")
        _, penalised = loss_and_grads(f"loss(X, y, reg={REG})", (
            yield Call(net, "loss", (X, y), {"reg": REG})))
        added = {}
        for name in PARAM_NAMES:
            shape = np.shape(net.params[name])
            added[name] = as_array(
                f"the gradient {GRADIENT[name]} with reg={REG}",
                penalised[name], PARAM_SHAPES[name], shape, public=False) \
                - as_array(f"the gradient {GRADIENT[name]} with reg=0",
                           base[name], PARAM_SHAPES[name], shape,
                           public=False)
        found = penalty_gradient_mistakes(added, net.params)
        if found == frozenset():
            continue
        expected = reference.penalty_gradients(net.params, REG)
        wrong = [GRADIENT[n] for n in PARAM_NAMES
                 if np.linalg.norm(added[n] - expected[n])
                 > RTOL * REG * np.linalg.norm(net.params[n])]
        raise Wrong(f"what reg={REG} adds to the gradients is wrong in "
                    f"{', '.join(wrong)}: " + (
                        words(sorted(found)) if found else
                        "no known mistake gives this: the penalty adds "
                        "reg * W1 to dW1, reg * W2 to dW2 and nothing to "
                        "db1, db2"), found)


@check("Q2.2", points=2)
def l2_penalty_in_the_gradients():
    yield from _penalty_gradients("sigmoid", (17, 18))


# ---------------------------------------------------------------------------
# Q2.3: training and prediction
# ---------------------------------------------------------------------------

#: QuadraticLoss's curvature per parameter: its loss is the sum of
#: 0.5 * c * p**2, so each SGD step multiplies p by (1 - learning_rate * c).
CURVATURE = {"W1": 1.0, "b1": 2.0, "W2": 0.5, "b2": 3.0}


def sgd_factor(c, lr, decay, epochs, steps, mistake=None):
    """What ``steps`` SGD steps per epoch multiply a parameter of curvature
    c by, with the learning rate decayed as the mistake says."""
    factor, rate = 1.0, lr
    for _ in range(epochs):
        for _ in range(steps):
            factor *= 1 - rate * c
            if mistake == "decay_every_step":
                rate *= decay
        if mistake is None:
            rate *= decay
    return factor


def quadratic_net(seed, N, D=5):
    rng = np.random.RandomState(seed)
    start = {"W1": rng.randn(D, 4), "b1": rng.randn(4),
             "W2": rng.randn(4, 3), "b2": rng.randn(3)}
    X = rng.randn(N, D)
    X[:, 0] = np.arange(N)             # each sample's number, recorded
    y = rng.randint(3, size=N)
    net = Net((D, 4, 3), "relu", start, cls="QuadraticLoss",
              attributes={"curvature": CURVATURE, "batches": [], "labels": []},
              std=1.0,
              seed=seed)
    return net, X, y


def _sgd(decay, seed):
    N, batch_size, epochs, lr = 12, 4, 3, 0.1
    net, X, y = quadratic_net(seed, N)
    _, params = yield Call(net, "train", (X, y),
                           {"learning_rate": lr, "learning_rate_decay": decay,
                            "reg": 0.0, "num_epochs": epochs,
                            "batch_size": batch_size}, want=("params",))
    params = params_of("net.params after train", params, net.params)
    steps = N // batch_size
    for name, c in CURVATURE.items():
        start = net.params[name]
        expected = sgd_factor(c, lr, decay, epochs, steps) * start
        if reference.relative_error(params[name], expected) <= RTOL:
            continue
        known = [m for m in ("decay_every_step", "decay_never")
                 if decay != 1 and reference.relative_error(
                     params[name], sgd_factor(c, lr, decay, epochs, steps, m)
                     * start) <= RTOL]
        if not known and reference.relative_error(params[name],
                                                  start) <= RTOL:
            known = ["no_update"]
        elif not known and reference.relative_error(
                params[name], sgd_factor(-c, lr, decay, epochs, steps)
                * start) <= RTOL:
            known = ["update_sign"]
        if known:
            hint = MISTAKES[known[0]].words
        else:
            hint = ("no known mistake gives this: each step is param -= "
                    "learning_rate * grad, with the learning rate "
                    "multiplied by learning_rate_decay after each epoch")
        error = reference.relative_error(params[name], expected)
        decayed = " with a decaying learning rate" if decay != 1 else ""
        raise Wrong(f"train: the update of {name} (after some epochs of "
                    f"SGD{decayed}) has relative error {error:.1e}; {hint}",
                    known or None)


@check("Q2.3", points=1)
def sgd_updates():
    yield from _sgd(decay=1.0, seed=19)


@check("Q2.3", points=1)
def learning_rate_decay():
    yield from _sgd(decay=0.5, seed=20)


def batch_problem(batches, labels, y, batch_size, epochs):
    """(why the recorded minibatches are wrong, the known mistake or None),
    or None if they are right. Calls of self.loss on the whole set (to
    record the loss of an epoch, say) are left out when minibatches are
    smaller."""
    N = len(y)
    steps = N // batch_size
    if isinstance(batches, list) and isinstance(labels, list) and \
            len(batches) == len(labels) and batch_size < N and any(
                isinstance(b, list) and len(b) != N for b in batches):
        kept = [i for i, b in enumerate(batches)
                if not (isinstance(b, list) and len(b) == N)]
        batches, labels = [batches[i] for i in kept], [labels[i] for i in kept]
    if not isinstance(batches, list) or len(batches) != epochs * steps:
        return ("train called self.loss another number of times than "
                "max(N // batch_size, 1) minibatches in each epoch", None)
    if not all(isinstance(b, list) and all(isinstance(i, (int, float))
                                           for i in b) for b in batches):
        return "the minibatches could not be read", None
    sizes = {len(b) for b in batches}
    if sizes == {N}:
        return MISTAKES["full_batch"].words, "full_batch"
    if sizes != {batch_size}:
        return "the minibatches do not hold batch_size samples each", None
    if not (isinstance(labels, list) and len(labels) == len(batches)
            and all(isinstance(b, list) and len(b) == batch_size
                    for b in labels)):
        return "train passed self.loss labels that do not fit its X", None
    ids = [[int(i) for i in b] for b in batches]
    if any(not 0 <= i < N for b in ids for i in b):
        return "the minibatches hold samples that are not in X", None
    if any(list(y[b]) != list(lab) for b, lab in zip(ids, labels)):
        return MISTAKES["batch_labels"].words, "batch_labels"
    epochs_seen = [sum(batches[e * steps:(e + 1) * steps], [])
                   for e in range(epochs)]
    if all(e == epochs_seen[0] for e in epochs_seen) or \
            epochs_seen[0] == sorted(epochs_seen[0]):
        return MISTAKES["no_shuffle"].words, "no_shuffle"
    return None


def _minibatches(seed):
    N, batch_size, epochs = 24, 6, 3
    net, X, y = quadratic_net(seed, N)
    _, batches, labels = yield Call(
        net, "train", (X, y), {"learning_rate": 0.01, "reg": 0.0,
                               "num_epochs": epochs,
                               "batch_size": batch_size},
        want=("batches", "labels"))
    found = batch_problem(batches, labels, y, batch_size, epochs)
    if found:
        raise Wrong(f"train: the minibatches (recorded by self.loss): "
                    f"{found[0]}", found[1] and {found[1]})


@check("Q2.3", points=1)
def random_minibatches():
    """Which samples each step of train uses (recorded by the loss)."""
    yield from _minibatches(21)


def predict_mistake(got, scores):
    """The known mistake a wrong answer of predict shows, or None."""
    N, C = scores.shape
    if isinstance(got, np.ndarray) and got.shape == (N, C) \
            and got.dtype.kind == "f":
        if np.allclose(got, scores):
            return "predict_scores"
        if np.allclose(got.sum(axis=1), 1):
            return "predict_probs"
    if isinstance(got, np.ndarray) and got.shape == (N,):
        if got.dtype.kind == "f" and np.array_equal(got,
                                                    scores.argmax(axis=1)):
            return "predict_float"
        if got.dtype.kind in "iu" and np.array_equal(
                got, scores.argmin(axis=1)):
            return "predict_argmin"
    return None


def _predict(seed):
    """predict through the scores of a loss the grader chooses: the labels
    must be the argmax, of an integer dtype (int64 or int32)."""
    rng = np.random.RandomState(seed)
    for N, C, spread in ((20, 6, 1.0), (9, 4, 300.0)):
        scores = spread * rng.randn(N, C)
        net = Net((3, 4, C), cls="GivenScores", attributes={"scores": scores})
        got = yield Call(net, "predict", (rng.randn(N, 3),))
        mistake = predict_mistake(got, scores)
        what = "predict (with the scores of self.loss(X))"
        if mistake:
            shown = "" if mistake == "predict_argmin" else \
                f"got {_type(got)} / expected integer labels; "
            raise Wrong(f"{what}: {shown}{MISTAKES[mistake].words}",
                        {mistake})
        expect_labels(what, got, scores.argmax(axis=1), public=False)


@check("Q2.3", points=2)
def predict_labels():
    yield from _predict(22)


@check("Q2.3", points=0, public=True)
def toy_training():
    """The problem set's Q2.3: full-batch training of the sigmoid toy
    network (it needs every part, so it carries no points of its own)."""
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


# ---------------------------------------------------------------------------
# Q2.4: ReLU
# ---------------------------------------------------------------------------

@check("Q2.4", points=2)
def relu_scores():
    return (yield from _scores("relu", (23, 24, 25)))


def _relu_gradients(seeds, forgive=True):
    """All four gradients with ReLU. With ``forgive``, a mistake that the
    sigmoid's gradients show too is the shared backward pass's, charged in
    Q2.2; only the ReLU's own (its derivative) costs points here."""
    notes = set()
    for seed in seeds:
        net, X, y, grads, found, forward = yield from _gradients("relu", seed)
        if not found:
            continue
        sigmoid = {}
        if forgive and all(found.values()):
            *_, sigmoid, _ = yield from _gradients("sigmoid", seed)
        own = {}
        for name, mistakes in found.items():
            charged = sigmoid.get(name) or frozenset()
            if mistakes and mistakes <= charged:
                notes.add(f"the ReLU gradients show the mistake counted in "
                          f"Q2.2: {words(sorted(mistakes))}")
                continue
            mine = mistakes - charged if mistakes else mistakes
            if mine and "no_derivative" in mine:   # the ReLU's alone
                mine = mine - {"no_derivative"} | {"relu_derivative_ones"}
            own[name] = mine
        if own:
            raise gradients_wrong("relu", own, grads, net, X, y, forward)
    return "; ".join(sorted(notes))


@check("Q2.4", points=3)
def relu_gradients():
    return (yield from _relu_gradients((26, 27, 28)))


# ---------------------------------------------------------------------------
# Q2.5 and Q2.6: the network learns real digits
# ---------------------------------------------------------------------------

#: The problem set's Q2.5 settings (64 hidden units, weights of standard
#: deviation 0.1, 20 epochs of minibatches of 100, learning rate decayed by
#: 0.95 after each epoch), with the learning rate and the penalty scaled to
#: the 1,437 training images of 8 x 8 digits: pixel values of 0 to 16,
#: 14 steps an epoch instead of 500.
DIGITS = {"learning_rate": 0.1, "learning_rate_decay": 0.95, "reg": 0.05,
          "num_epochs": 20, "batch_size": 100}
HIDDEN, STD = 64, 0.1
#: The points need this test accuracy; the solution reaches 0.950 with
#: sigmoid and 0.967 with ReLU (10 classes: chance is 0.1).
PASS_ACCURACY = 0.8


def _caught(run):
    """The helper check run, as a probe: a call that raises ends it with a
    Wrong that names no known mistake."""
    answer = None
    try:
        while True:
            call = run.send(answer)
            call.catch = True
            answer = yield call
            if isinstance(answer, Raised):
                raise Wrong(f"{call.method} {answer}")
    except StopIteration as stop:
        return stop.value
    finally:
        run.close()


def _known_mistakes(*runs):
    """Run the helper checks as probes; the union of the known mistakes
    they find, or None if one finds a mistake the grader cannot name."""
    found = set()
    for run in runs:
        try:
            yield from _caught(run)
        except Wrong as wrong:
            if wrong.mistakes is None:
                return None
            found |= wrong.mistakes
    return frozenset(found)


def _probe(activation):
    """What the digits check needs to know of the student's parts: the
    known mistakes of the loss, of train and of predict (None: a mistake
    the grader cannot name)."""
    net, X, _ = problem(activation, 29)       # the first problem below
    first = yield Call(net, "loss", (X,), catch=True)
    if isinstance(first, Raised):
        raise Wrong(f"loss(X) {first} (see Q2.1): the {activation} network "
                    f"cannot be trained without it")
    gradients = (_relu_gradients((31,), forgive=False)
                 if activation == "relu" else
                 _sigmoid_gradients(PARAM_NAMES, (31,)))
    loss = yield from _known_mistakes(
        _scores(activation, (29,), forgive=False),
        _cross_entropy(activation, (30,)), _penalty(activation, (32,)),
        gradients, _penalty_gradients(activation, (33,)))
    train = yield from _known_mistakes(_sgd(0.5, 34), _minibatches(35))
    predict = yield from _known_mistakes(_predict(36))
    return loss, train, predict


def stand_in_answer(activation, like):
    """Answers a StandIn network's calls with the reference (its params
    shaped as in ``like``)."""
    def answer(method, arguments):
        if not isinstance(arguments, dict) or not isinstance(
                arguments.get("params"), dict):
            raise Wrong("train called self.loss or self.predict with "
                        "something the grader cannot read")
        params = params_of("net.params during train", arguments["params"],
                           like)
        X = arguments.get("X")
        rows = len(X) if isinstance(X, np.ndarray) and X.ndim == 2 else 0
        X = as_array(f"the X train passed to self.{method}", X, "(N, D)",
                     (rows, like["W1"].shape[0]), public=False)
        scores = reference.forward(params, X, activation)[2]
        if method == "predict":
            return scores.argmax(axis=1).astype(np.int64)
        if arguments.get("y") is None:
            return scores
        y = as_array("the y train passed to self.loss", arguments["y"],
                     "(N,)", (len(X),), public=False, labels=True)
        if y.min(initial=0) < 0 or y.max(initial=0) > 9:
            raise Wrong("train passed labels outside 0 .. 9 to self.loss")
        reg = as_number("the reg train passed to self.loss",
                        arguments.get("reg"))
        return (reference.loss(params, X, y, activation, reg),
                reference.gradients(params, X, y, activation, reg))
    return answer


def digits_params(seed):
    rng = np.random.RandomState(seed)
    return {"W1": STD * rng.randn(64, HIDDEN), "b1": np.zeros(HIDDEN),
            "W2": STD * rng.randn(HIDDEN, 10), "b2": np.zeros(10)}


def _grader_training(net, X, y, loss_stands_in):
    """The problem set's SGD, run here, with the student's loss (or the
    reference's): it stands in for a train with a mistake."""
    params = net.params                   # replaced, never changed in place
    rng = np.random.RandomState(0)
    lr, B, reg = (DIGITS["learning_rate"], DIGITS["batch_size"],
                  DIGITS["reg"])
    for _ in range(DIGITS["num_epochs"]):
        order = rng.permutation(len(X))
        for step in range(len(X) // B):
            batch = order[step * B:(step + 1) * B]
            if loss_stands_in:
                grads = reference.gradients(params, X[batch], y[batch],
                                            net.activation, reg)
            else:
                _, grads = loss_and_grads("loss(X, y) on the digits", (
                    yield Call(Net(net.sizes, net.activation, params),
                               "loss", (X[batch], y[batch]), {"reg": reg})))
                grads = {n: as_array(f"the gradient {GRADIENT[n]} on the "
                                     f"digits", grads[n], PARAM_SHAPES[n],
                                     params[n].shape, public=False)
                         for n in PARAM_NAMES}
            params = {n: params[n] - lr * grads[n] for n in PARAM_NAMES}
        lr *= DIGITS["learning_rate_decay"]
    return params


def _learns_digits(activation):
    loss, train, predict = yield from _probe(activation)
    if loss is None:
        raise Wrong(f"your loss is not finished or has a mistake the "
                    f"grader cannot name (see Q2.1, Q2.2 and Q2.4), so the "
                    f"{activation} network is not trained on the digits "
                    f"until it is right")
    notes = []
    if loss:
        where = and_join(sorted({MISTAKES[m].question for m in loss}))
        notes.append(f"your loss has mistakes counted in {where}, so the "
                     f"reference's loss stood in for it")
    if predict != frozenset():
        notes.append("your predict has a mistake counted in Q2.3, so the "
                     "grader's predict stood in for it")
    X_train, y_train, X_test, y_test = reference.digits()
    stand_ins = (["loss"] if loss else []) + (
        ["predict"] if predict != frozenset() else [])
    net = Net((64, HIDDEN, 10), activation, digits_params(1), std=STD,
              cls="StandIn", attributes={"stand_ins": stand_ins})
    if train != frozenset():        # a mistake, known or not
        notes.append("your train has a mistake (see Q2.3), so the "
                     "grader's SGD trained the network")
        params = yield from _grader_training(net, X_train, y_train,
                                             bool(loss))
    else:
        got = yield Call(net, "train", (X_train, y_train), DIGITS,
                         want=("params",), catch=True,
                         stand_in=stand_in_answer(activation, net.params)
                         if stand_ins else None)
        if isinstance(got, Raised):
            raise Wrong(f"train on the digits {got}"
                        + "".join(f"; {n}" for n in notes))
        params = params_of("net.params after train on the digits", got[1],
                           net.params)
    scores = reference.forward(params, X_test, activation)[2]
    accuracy = float(np.mean(scores.argmax(axis=1) == y_test))
    reached = (f"test accuracy {accuracy:.3f} on {len(y_test)} digits "
               f"(the points need {PASS_ACCURACY})")
    if accuracy < PASS_ACCURACY:
        raise Wrong(f"the {activation} network trained by train: {reached}"
                    + "".join(f"; {n}" for n in notes))
    return "; ".join([reached, *notes])


@check("Q2.5", points=10, seconds=4, isolated=True)
def sigmoid_learns_digits():
    """The student's train (and loss, unless it has a known mistake) on
    scikit-learn's 8 x 8 digits, with Q2.5's settings scaled to them."""
    return (yield from _learns_digits("sigmoid"))


@check("Q2.6", points=10, seconds=4, isolated=True)
def relu_learns_digits():
    return (yield from _learns_digits("relu"))


def _verify():
    """Refuse to load when a check lacks its decorator or the points of a
    question do not add up to QUESTIONS. (Generators whose names start
    with an underscore are helpers that checks ``yield from``.)"""
    for name, value in list(globals().items()):
        if inspect.isgeneratorfunction(value) and not name.startswith("_") \
                and not getattr(value, "registered", False):
            raise RuntimeError(f"check {name} has no @check(question, points)"
                               f" decorator")
    for question, (_, points) in QUESTIONS.items():
        total = sum(c.points for c in CHECKS if c.question == question)
        if total != points:
            raise RuntimeError(f"the checks of {question} add up to {total} "
                               f"points, QUESTIONS gives {points}")
    names = [c.name for c in CHECKS]
    if len(set(names)) != len(names):
        raise RuntimeError("two checks share a name")
    for mistake in MISTAKES.values():
        if mistake.question not in QUESTIONS:
            raise RuntimeError(f"a mistake belongs to {mistake.question}, "
                               f"which is not in QUESTIONS")


_verify()
