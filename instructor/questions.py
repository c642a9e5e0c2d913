"""The graded questions of Problem 2, on the trusted side of grading.

Each check judges one part of the student's ``mlp.py`` (or two that only
work together) and reads like the question it grades. It is a generator:
it draws its problem from ``ctx.rng`` (secret, and new for every
submission), yields :class:`Fresh` to start a fresh process of the
student's code with the reference's code set in for the parts it does not
judge, yields one :class:`Call` at a time for the student's code to
answer, and compares each answer with the reference of ``reference.py``
through the helpers of ``feedback.py``. The student's process only ever
sees a call's inputs; the references, the expected values and the verdicts
stay on this side.

Every check carries its question, its points and the parts it judges in
the ``@check`` decorator; :data:`QUESTIONS` lists the questions with their
points, and the module refuses to load if the two disagree or a check has
no decorator. Which parts stand in for a later check follows from the
verdicts of the checks before it (``ctx.verdicts``), never from asking the
student's code again: the ReLU checks use the student's forward and
backward passes unless Q2.1 or Q2.2 charged them, and the digits are
trained again with the reference standing in for the parts whose own
checks charged a mistake.
"""
import hashlib
import inspect
from dataclasses import dataclass, field

import numpy as np

import reference
import toy
from feedback import (RTOL, Raised, Wrong, and_join, as_array, as_number,
                      axes, closeness, expect_labels, kind, relative_error,
                      signature, trivial)
from reference import MISTAKES, PARAM_NAMES

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
#: Every part of mlp.py that a student writes (a function or method of the
#: solved mlp.py with a solution region), and the question whose points it
#: costs: the activations' functions, then the network's parts in the order
#: it computes them. The module refuses to load unless these are exactly
#: the solved mlp.py's parts, each judged by a check of its question.
PARTS = {"sigmoid": "Q2.1", "sigmoid_derivative": "Q2.2", "relu": "Q2.4",
         "relu_derivative": "Q2.4", "forward": "Q2.1", "log_softmax": "Q2.1",
         "cross_entropy": "Q2.1", "backward": "Q2.2", "l2_value": "Q2.1",
         "l2_gradient": "Q2.2", "add_penalty": "Q2.1", "train": "Q2.3",
         "predict": "Q2.3"}
#: Each activation's functions (f, its derivative), as the solved mlp.py's
#: ACTIVATIONS names them.
ACTIVATION_PARTS = reference.solved_tables(reference.solved_path()).get(
    "ACTIVATIONS", {})
#: Everything of the reference network but predict (its own check's).
ALL_BUT_PREDICT = tuple(p for p in PARTS if p != "predict") + ("loss",)


def network_parts(activation):
    """The parts a network with that activation trains with: its
    activation's functions, then every part that is no activation's, but
    predict."""
    others = {p for names in ACTIVATION_PARTS.values() for p in names}
    return tuple(p for p in ACTIVATION_PARTS.get(activation, ())
                 if p in PARTS) + tuple(p for p in PARTS if p not in others
                                        and p != "predict")


def _verify_tables(path):
    """Refuse to load unless PARTS are the solved mlp.py's parts and the
    activations of mlp.ACTIVATIONS and reference.ACTIVATIONS agree; say
    what to add where."""
    problems = []
    written = reference.written_parts(path)
    for part in written:
        if part not in PARTS:
            problems.append(
                f"{part} of mlp.py has a solution region but is not in "
                f"PARTS (instructor/questions.py): add {part!r}: the "
                f"question whose points it costs")
    for part in PARTS:
        if part not in written:
            problems.append(
                f"PARTS (instructor/questions.py) names {part}, which has no "
                f"solution region in mlp.py: put its code between "
                f"### BEGIN SOLUTION and ### END SOLUTION, or remove it")
    for name in ACTIVATION_PARTS:
        if name not in reference.ACTIVATIONS:
            problems.append(
                f"mlp.py's ACTIVATIONS has {name!r}, reference.ACTIVATIONS "
                f"(instructor/reference.py) has not: add {name!r}: (f, its "
                f"derivative written from the output h) there")
    for name in reference.ACTIVATIONS:
        if name not in ACTIVATION_PARTS:
            problems.append(
                f"reference.ACTIVATIONS (instructor/reference.py) has "
                f"{name!r}, mlp.py's ACTIVATIONS has not: add it to mlp.py "
                f"or remove it from reference.py")
    for name, mistakes in reference.DERIVATIVE_MISTAKES.items():
        for mistake in mistakes:
            if name not in reference.ACTIVATIONS or mistake not in MISTAKES:
                problems.append(
                    f"reference.DERIVATIVE_MISTAKES[{name!r}] has {mistake!r}"
                    f": both must be in ACTIVATIONS and MISTAKES there")
    if problems:
        raise RuntimeError(f"the grader does not match {path}:\n  "
                           + "\n  ".join(problems))


_verify_tables(reference.solved_path())


# ---------------------------------------------------------------------------
# What a check asks of the student's code
# ---------------------------------------------------------------------------

@dataclass
class Net:
    """A network for the sandbox to build: ``cls(D, H, C, std=, activation=,
    seed=)``, then ``params`` and any ``attributes`` set on it. ``cls`` is
    the student's ``TwoLayerMLP`` or the test double built on it,
    ``QuadraticLoss``."""
    sizes: tuple
    activation: str = "relu"
    params: dict = None
    cls: str = "TwoLayerMLP"
    attributes: dict = field(default_factory=dict)
    std: float = 0.5
    seed: int = 0


@dataclass
class Call:
    """``net.<method>(*args, **kwargs)``, or with ``function`` the module's
    ``<function>(*args, **kwargs)``; then each ``(method, args, kwargs)`` of
    ``then`` on the same network. The check receives the last result, or
    with ``want`` the tuple (result, *those attributes of net afterwards);
    with ``catch`` an exception comes back as :class:`Raised` instead of
    failing the check."""
    net: Net = None
    method: str = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    function: str = None
    then: tuple = ()
    want: tuple = ()
    catch: bool = False


@dataclass
class Fresh:
    """Start a fresh process of the student's code, with the reference's
    code set in for the parts named."""
    stand_ins: tuple = ()


#: The attributes a Call may want back.
WANTED = frozenset({"params"})


@dataclass
class Verdict:
    """What a check found, for the checks after it."""
    question: str
    points: int
    passed: bool
    judged: frozenset
    missing: bool = False
    wholly: bool = False
    known: bool = False       # a known mistake explains it


@dataclass
class Context:
    """What a check knows besides the student's answers: its random
    generator, drawn from the secret and the submission, the verdicts of
    the checks before it, and (set by the check) the parts it judged."""
    rng: np.random.RandomState
    verdicts: dict = field(default_factory=dict)
    judged: frozenset = frozenset()

    def charged(self, part):
        """The verdicts of the checks that judged part and found it wrong."""
        return [v for v in self.verdicts.values()
                if part in v.judged and not v.passed]

    def earned(self, question):
        return sum(v.points for v in self.verdicts.values()
                   if v.question == question and v.passed)


def seed_of(secret, submission, name):
    """The seed of a check's problems: from the grader's secret, the
    submitted mlp.py (bytes) and the check's name."""
    digest = hashlib.sha256(b"\0".join([
        secret, hashlib.sha256(submission).digest(), name.encode()]))
    return int.from_bytes(digest.digest()[:4], "big")


@dataclass
class Check:
    name: str
    question: str
    points: int
    public: bool
    run: object        # the generator function, run(ctx)
    seconds: float     # its time limit, in units of Limits.check_seconds
    judges: frozenset  # the parts it judges


CHECKS = []


def check(question, points, judges=(), public=False, seconds=1):
    """Register a check: its question of :data:`QUESTIONS`, its points (0
    for a public check: the student has its inputs and answers), the parts
    of mlp.py it judges, and whether it is public (its messages may show
    inputs and expected values). ``seconds`` multiplies the time limit of
    one check."""
    def register(function):
        if not inspect.isgeneratorfunction(function):
            raise TypeError(f"check {function.__name__} must be a generator "
                            f"that yields Fresh and Call objects")
        if question not in QUESTIONS:
            raise ValueError(f"check {function.__name__}: unknown question "
                             f"{question!r}; add it to QUESTIONS")
        if not (isinstance(points, int) and points >= 0):
            raise ValueError(f"check {function.__name__}: points must be an "
                             f"integer >= 0, got {points!r}")
        if public == bool(points):
            raise ValueError(f"check {function.__name__}: a public check "
                             f"carries no points, a hidden one does")
        unknown = set(judges) - set(PARTS)
        if unknown:
            raise ValueError(f"check {function.__name__}: no part "
                             f"{sorted(unknown)} in PARTS")
        CHECKS.append(Check(function.__name__, question, points, public,
                            function, seconds, frozenset(judges)))
        function.registered = True
        return function
    return register


# ---------------------------------------------------------------------------
# Problems: drawn from the check's generator, so secret and new for every
# submission
# ---------------------------------------------------------------------------

def distinct_sizes(rng, large=False):
    """D, H, C, N, all different (so that a shape can be named by its
    axes); N in the hundreds with ``large``."""
    while True:
        D, H, C = (int(rng.randint(3, 17)), int(rng.randint(2, 13)),
                   int(rng.randint(2, 9)))
        N = int(rng.randint(100, 251) if large else rng.randint(4, 41))
        if len({D, H, C, N}) == 4:
            return D, H, C, N


def problem(ctx, activation, large=False, scale=1.0):
    """A network with random parameters (biases too) and data, drawn from
    ctx.rng; ``scale`` multiplies W2 (large scores). Labels are uint8 (as
    MNIST's) or int64, by chance."""
    rng = ctx.rng
    D, H, C, N = distinct_sizes(rng, large)
    params = {"W1": rng.randn(D, H), "b1": rng.randn(H),
              "W2": scale * rng.randn(H, C), "b2": rng.randn(C)}
    X = rng.randn(N, D)
    y = rng.randint(C, size=N).astype(np.uint8 if rng.randint(2)
                                      else np.int64)
    return Net((D, H, C), activation, params,
               seed=int(rng.randint(2 ** 31))), X, y


def names_of(net, X):
    """The axes' names by size, for describing shapes."""
    D, H, C = net.sizes
    return {len(X): "N", D: "D", H: "H", C: "C"}


def toy_problem(activation):
    """The problem set's public toy network and data (``toy.TOY``): the
    weights drawn as ``TwoLayerMLP`` draws them after np.random.seed."""
    params, X, y = toy.problem()
    return Net(toy.TOY.sizes, activation, params, std=toy.TOY.std), X, y


# ---------------------------------------------------------------------------
# Judging an answer
# ---------------------------------------------------------------------------

def judge(what, got, expected, variants=(), shape="(N, H)", names=None):
    """got against expected; ``variants`` are (mistake, what that mistake
    gives) to name the mistake an answer shows."""
    expected = np.asarray(expected, dtype=np.float64)
    got = as_array(what, got, shape, expected.shape, names)
    error = relative_error(got, expected)
    if error <= RTOL:
        return
    for mistake, value in variants:
        if relative_error(got, value) <= RTOL:
            raise Wrong(f"{what}: {MISTAKES[mistake].words}", {mistake})
    raise Wrong(f"{what}: {closeness(error)}; {signature(got, expected)}",
                wholly=trivial(got))


def pair(what, got, first, second):
    """The two values of an answer that must be a pair."""
    if isinstance(got, Raised):
        raise Wrong(f"{what}: {got}", missing=got.not_implemented,
                    wholly=got.not_implemented)
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        raise Wrong(f"{what}: got {kind(got, False)} / expected the pair "
                    f"({first}, {second})", missing=got is None, wholly=True)
    return got


def gradients_of(what, got):
    """The dict of gradients an answer must be."""
    if not isinstance(got, dict):
        raise Wrong(f"{what}: got {kind(got, False)} / expected a dict with "
                    f"the keys {', '.join(PARAM_NAMES)}", wholly=True)
    missing = [name for name in PARAM_NAMES if name not in got]
    if missing:
        raise Wrong(f"{what}: no {', '.join(missing)} / expected the keys "
                    f"{', '.join(PARAM_NAMES)}", wholly=True)
    unset = [GRADIENT[name] for name in PARAM_NAMES if got[name] is None]
    if unset:
        raise Wrong(f"{what}: {and_join(unset)} "
                    f"{'is' if len(unset) == 1 else 'are'} None: the "
                    f"backward pass is not written yet", missing=True)
    return got


def judge_gradient(what, got, expected, compute, groups, names):
    """One gradient against the reference; ``compute(mistakes)`` gives what
    known mistakes (in ``groups`` of alternatives) give."""
    if isinstance(got, np.ndarray) and got.ndim == 2 and got.shape[0] == 1 \
            and expected.ndim == 1 and got.size == expected.size \
            and got.dtype.kind == "f" and np.isfinite(got).all() \
            and relative_error(got.ravel(), expected) <= RTOL:
        raise Wrong(f"{what}: got shape {axes(got.shape, names)} / expected "
                    f"{axes(expected.shape, names)}; "
                    f"{MISTAKES['bias_keepdims'].words}", {"bias_keepdims"})
    got = as_array(what, got, axes(expected.shape, names) or "another shape",
                   expected.shape, names)
    error = relative_error(got, expected)
    if error <= RTOL:
        return
    mistakes = reference.explain(got, compute, groups, RTOL)
    if mistakes:
        raise Wrong(f"{what}: {reference.words(sorted(mistakes))}", mistakes)
    raise Wrong(f"{what}: {closeness(error)}; {signature(got, expected)}",
                wholly=trivial(got))


# ---------------------------------------------------------------------------
# Q2.1: the forward pass and the loss with sigmoid
# ---------------------------------------------------------------------------

def _activation(ctx, name, variants):
    """name(z) on values of every size, some beyond +-700, where exp()
    overflows."""
    rng = ctx.rng
    z = 4 * rng.randn(int(rng.randint(5, 30)), int(rng.randint(2, 12)))
    z.flat[rng.choice(z.size, 4, replace=False)] = \
        rng.choice([-1, 1], 4) * rng.uniform(710, 1000, 4)
    got = yield Call(function=name, args=(z,))
    expected = reference.ACTIVATIONS[name][0](z)
    if isinstance(got, np.ndarray) and got.shape == z.shape \
            and got.dtype.kind == "f" and not np.isfinite(got).all() \
            and np.isfinite(got[np.abs(z) < 700]).all() \
            and "sigmoid_overflow" in dict(variants):
        raise Wrong(f"{name}(z): {MISTAKES['sigmoid_overflow'].words}",
                    {"sigmoid_overflow"})
    judge(f"{name}(z)", got, expected,
          [(m, f(z)) for m, f in variants], shape="of the shape of z")


def _derivative(activation, h, variants):
    """The activation's derivative at outputs h of the activation, against
    the reference's; ``variants`` are (mistake, what it gives)."""
    name = ACTIVATION_PARTS[activation][1]
    got = yield Call(function=name, args=(h,))
    judge(f"{name}(h)", got, reference.ACTIVATIONS[activation][1](h),
          variants, shape="of the shape of h")


@check("Q2.1", points=1, judges=("sigmoid",))
def sigmoid_function(ctx):
    """sigmoid(z), for z of every size. Names: a sigmoid that overflows to
    NaN, the sign of the exponent."""
    yield Fresh()
    yield from _activation(ctx, "sigmoid", [
        ("sigmoid_overflow", lambda z: np.full(z.shape, np.nan)),
        ("sigmoid_sign", lambda z: reference.sigmoid(-z))])


def _forward(ctx, activation, what):
    for large in (False, True):
        net, X, _ = problem(ctx, activation, large)
        got = pair(what, (yield Call(net, "forward", (X,))), "hidden",
                   "scores")
        names = names_of(net, X)

        def compute(mistakes):
            _, hidden, scores = reference.forward(net.params, X, activation,
                                                  mistakes)
            return np.concatenate([hidden.ravel(), scores.ravel()])
        N, H, C = len(X), net.sizes[1], net.sizes[2]
        hidden = as_array(f"{what}: hidden", got[0], "(N, H)", (N, H), names)
        scores = as_array(f"{what}: scores", got[1], "(N, C)", (N, C), names)
        both = np.concatenate([hidden.ravel(), scores.ravel()])
        error = relative_error(both, compute(frozenset()))
        if error <= RTOL:
            continue
        mistakes = reference.explain(both, compute,
                                     reference.SCORE_MISTAKES, RTOL)
        if mistakes:
            raise Wrong(f"{what}: {reference.words(sorted(mistakes))}",
                        mistakes)
        raise Wrong(f"{what}: {closeness(error)}; no known mistake gives "
                    f"these: check z1 = X @ W1 + b1, hidden = "
                    f"{activation}(z1), scores = hidden @ W2 + b2",
                    wholly=trivial(both))


@check("Q2.1", points=1, judges=("forward",))
def forward_pass(ctx):
    """forward(X) with sigmoid (the reference's sigmoid set in): hidden and
    scores. Names: b1 or b2 left out, the activation left out."""
    yield Fresh(("sigmoid",))
    yield from _forward(ctx, "sigmoid", "forward(X) with sigmoid")


@check("Q2.1", points=1, judges=("log_softmax",))
def log_softmax_function(ctx):
    """log_softmax(scores), for scores of a few units and of several
    hundreds. Names: the columns normalised instead of the rows, exp()
    overflowing (no shift by the row's maximum), log(probs) losing tiny
    probabilities."""
    yield Fresh()
    rng = ctx.rng
    for scale in (1.0, 400.0):
        scores = scale * rng.randn(int(rng.randint(4, 40)),
                                   int(rng.randint(2, 9)))
        if scale > 1:       # a score past 709 in every row: exp() overflows
            rows = np.arange(len(scores))
            scores[rows, rng.randint(scores.shape[1], size=len(rows))] = \
                rng.uniform(720, 1000, len(rows))
        what = ("log_softmax(scores)" if scale == 1 else
                "log_softmax(scores) with scores in the hundreds")
        got = yield Call(function="log_softmax", args=(scores,))
        expected = reference.log_probabilities(scores)
        if scale > 1 and isinstance(got, np.ndarray) \
                and got.shape == scores.shape and got.dtype.kind == "f":
            if not np.isfinite(got).all():
                raise Wrong(f"{what}: {MISTAKES['softmax_overflow'].words}",
                            {"softmax_overflow"})
            if relative_error(got, expected) > RTOL:
                raise Wrong(f"{what}: {MISTAKES['log_of_probs'].words}",
                            {"log_of_probs"})
        if isinstance(got, np.ndarray) and got.shape == scores.shape \
                and got.dtype.kind == "f" and np.isfinite(got).all() \
                and np.allclose(np.exp(got).sum(axis=0), 1) \
                and not np.allclose(np.exp(got).sum(axis=1), 1):
            raise Wrong(f"{what}: {MISTAKES['softmax_axis0'].words}",
                        {"softmax_axis0"})
        judge(what, got, expected, shape="(N, C)")


@check("Q2.1", points=1, judges=("cross_entropy",))
def cross_entropy_loss(ctx):
    """cross_entropy(scores, y) (the reference's log_softmax set in), for
    a few samples and for hundreds. Names: a sum where the mean belongs, a
    mean over all N * C entries, the wrong sign."""
    yield Fresh(("log_softmax",))
    for large in (False, True):
        net, X, y = problem(ctx, "sigmoid", large)
        scores = reference.forward(net.params, X, "sigmoid")[2]
        what = "cross_entropy(scores, y)"
        got = as_number(what, (yield Call(function="cross_entropy",
                                          args=(scores, y))))
        expected = reference.data_loss(scores, y)
        if abs(got - expected) <= RTOL * abs(expected):
            continue
        for mistake in ("loss_sum", "loss_mean_all", "loss_sign"):
            if abs(got - reference.data_loss(scores, y, {mistake})) <= \
                    RTOL * abs(expected):
                raise Wrong(f"{what}: {MISTAKES[mistake].words}", {mistake})
        error = abs(got - expected) / abs(expected)
        raise Wrong(f"{what}: {closeness(error)}; no known mistake gives "
                    f"this: it is the mean over the N samples of -log "
                    f"softmax(scores)[i, y_i]", wholly=got == 0)


def penalty_inputs(ctx, net):
    """A loss and gradients for add_penalty to add the penalty to."""
    rng = ctx.rng
    return (float(rng.uniform(0.5, 3.0)),
            {name: rng.randn(*np.shape(p)) for name, p in net.params.items()},
            float(rng.uniform(0.2, 2.0)))


def _l2_function(ctx, name, expected_of, variants):
    rng = ctx.rng
    W = rng.randn(int(rng.randint(2, 15)), int(rng.randint(2, 15)))
    got = yield Call(function=name, args=(W,))
    what = f"{name}(W)"
    expected = expected_of(W)
    if np.ndim(expected) == 0:
        value = as_number(what, got)
        if abs(value - expected) <= RTOL * abs(expected):
            return
        for mistake, f in variants:
            if abs(value - f(W)) <= RTOL * abs(expected):
                raise Wrong(f"{what}: {MISTAKES[mistake].words}", {mistake})
        error = abs(value - expected) / abs(expected)
        raise Wrong(f"{what}: {closeness(error)}; it is 0.5 * sum(W**2)",
                    wholly=value == 0)
    judge(what, got, expected, [(m, f(W)) for m, f in variants],
          shape="of the shape of W")


@check("Q2.1", points=1, judges=("l2_value", "add_penalty"))
def l2_penalty_in_the_loss(ctx):
    """l2_value(W) on its own, and the loss that add_penalty returns (the
    reference's penalty functions set in), with L2 and with L1. Names: the
    0.5 left out, the biases penalised, the penalty left out or returned
    alone, the penalty argument ignored."""
    yield Fresh()
    yield from _l2_function(ctx, "l2_value", lambda W: 0.5 * np.sum(W ** 2),
                            [("l2_no_half", lambda W: np.sum(W ** 2))])
    yield Fresh(("l2_value", "l2_gradient"))
    net, _, _ = problem(ctx, "sigmoid")
    loss, grads, reg = penalty_inputs(ctx, net)
    for penalty in ("l2", "l1"):
        what = f"the loss of add_penalty(loss, grads, reg, {penalty!r})"
        got = pair(what, (yield Call(net, "add_penalty",
                                     (loss, grads, reg, penalty))),
                   "loss", "grads")
        value = as_number(what, got[0])
        if penalty == "l1":
            expected = loss + reg * sum(np.abs(net.params[n]).sum()
                                        for n in ("W1", "W2"))
            variants = {"penalty_ignores_name":
                        loss + reference.penalty(net.params, reg)}
        else:
            expected = loss + reference.penalty(net.params, reg)
            variants = {m: loss + reference.penalty(net.params, reg, {m})
                        for m in ("l2_no_half", "l2_biases_in_loss")}
            variants["l2_missing_in_loss"] = loss
            variants["penalty_replaces_loss"] = reference.penalty(
                net.params, reg)
        if abs(value - expected) <= RTOL * abs(expected):
            continue
        for mistake, wrong in variants.items():
            if abs(value - wrong) <= RTOL * abs(expected):
                raise Wrong(f"{what}: {MISTAKES[mistake].words}", {mistake})
        error = abs(value - expected) / abs(expected)
        raise Wrong(f"{what}: {closeness(error)}; no known mistake gives "
                    f"this: it is loss + reg * (penalty_value(W1) + "
                    f"penalty_value(W2))", wholly=value == loss)


# ---------------------------------------------------------------------------
# Q2.2: the backward pass with sigmoid
# ---------------------------------------------------------------------------

@check("Q2.2", points=2, judges=("sigmoid_derivative",))
def sigmoid_derivative_function(ctx):
    """sigmoid_derivative(h) from outputs h = sigmoid(z). Names: the
    sigmoid applied to h again."""
    yield Fresh()
    rng = ctx.rng
    h = reference.sigmoid(3 * rng.randn(int(rng.randint(4, 30)),
                                        int(rng.randint(2, 12))))
    s = reference.sigmoid(h)
    yield from _derivative("sigmoid", h, [("sigmoid_of_hidden", s * (1 - s))])


def _backward(ctx, activation, names_wanted, stand_ins):
    """backward(X, y, hidden, scores) with hidden and scores from the
    reference's forward pass; the gradients named are judged."""
    yield Fresh(stand_ins)
    for large in (False, True):
        net, X, y = problem(ctx, activation, large)
        _, hidden, scores = reference.forward(net.params, X, activation)
        what = f"backward(X, y, hidden, scores) with {activation}"
        grads = gradients_of(what, (yield Call(net, "backward",
                                               (X, y, hidden, scores))))
        expected = reference.data_gradients(net.params, X, y, activation)
        for name in names_wanted:
            judge_gradient(
                f"{what}: {GRADIENT[name]}", grads[name], expected[name],
                lambda m, name=name: reference.data_gradients(
                    net.params, X, y, activation, m)[name],
                reference.gradient_mistakes(name, activation),
                names_of(net, X))


#: What the sigmoid's backward pass needs of the reference.
SIGMOID_BACKWARD = ("sigmoid", "sigmoid_derivative", "log_softmax")


@check("Q2.2", points=2, judges=("backward",))
def gradient_dW2(ctx):
    """dW2 of backward with sigmoid (the reference's sigmoid derivative and
    log_softmax set in). Names: no division by N or a second one, no
    one-hot labels."""
    yield from _backward(ctx, "sigmoid", ("W2",), SIGMOID_BACKWARD)


@check("Q2.2", points=1, judges=("backward",))
def gradient_db2(ctx):
    """db2. Names: those of dW2, a mean where the sum belongs, a sum that
    keeps its axis (keepdims)."""
    yield from _backward(ctx, "sigmoid", ("b2",), SIGMOID_BACKWARD)


@check("Q2.2", points=1, judges=("backward",))
def gradient_dW1(ctx):
    """dW1, through the activation's derivative. Names: those of dW2, the
    derivative left out or taken of z1."""
    yield from _backward(ctx, "sigmoid", ("W1",), SIGMOID_BACKWARD)


@check("Q2.2", points=1, judges=("backward",))
def gradient_db1(ctx):
    """db1. Names: those of dW1 and db2."""
    yield from _backward(ctx, "sigmoid", ("b1",), SIGMOID_BACKWARD)


@check("Q2.2", points=3, judges=("l2_gradient", "add_penalty"))
def l2_penalty_in_the_gradients(ctx):
    """l2_gradient(W) on its own, and the gradients that add_penalty returns
    (the reference's penalty functions set in). Names: a gradient twice too
    large, the biases penalised, the penalty's gradient left out or
    returned alone."""
    yield Fresh()
    yield from _l2_function(ctx, "l2_gradient", lambda W: W,
                            [("l2_grad_double", lambda W: 2 * W)])
    yield Fresh(("l2_value", "l2_gradient"))
    net, _, _ = problem(ctx, "sigmoid")
    loss, grads, reg = penalty_inputs(ctx, net)
    what = "the gradients of add_penalty(loss, grads, reg, 'l2')"
    got = pair(what, (yield Call(net, "add_penalty",
                                 (loss, grads, reg, "l2"))), "loss", "grads")
    got = gradients_of(what, got[1])
    names = {**{s: n for s, n in zip(net.sizes, "DHC")}}
    added = {n: reg * net.params[n] if n.startswith("W")
             else np.zeros_like(net.params[n]) for n in PARAM_NAMES}
    for name in PARAM_NAMES:
        expected = grads[name] + added[name]
        variants = [("l2_grad_double", grads[name] + 2 * added[name]),
                    ("penalty_replaces_gradients", added[name])]
        if name.startswith("W"):
            variants.append(("l2_missing_in_grad", grads[name]))
        else:
            variants.append(("l2_grad_biases",
                             grads[name] + reg * net.params[name]))
        judge(f"{what}: {GRADIENT[name]}", got[name], expected, variants,
              shape=PARAM_SHAPES[name], names=names)


# ---------------------------------------------------------------------------
# Q2.3: training and prediction
# ---------------------------------------------------------------------------

#: QuadraticLoss's curvature per parameter: its loss is the sum of
#: 0.5 * c * p**2, so each SGD step multiplies p by (1 - learning_rate * c).
CURVATURE = {"W1": 1.0, "b1": 2.0, "W2": 0.5, "b2": 3.0}


def sgd_factor(c, lr, decay, epochs, steps, momentum=0.0, mistake=None):
    """What ``steps`` steps per epoch multiply a parameter of curvature c
    by: SGD, or classical momentum, with the learning rate decayed as the
    mistake says."""
    p, v, rate = 1.0, 0.0, lr
    for _ in range(epochs):
        for _ in range(steps):
            if momentum and mistake != "momentum_not_kept":
                v = momentum * v - rate * c * p
                p += v
            else:
                p *= 1 - rate * c
            if mistake == "decay_every_step":
                rate *= decay
        if mistake not in ("decay_every_step", "decay_never"):
            rate *= decay
    return p


def quadratic_net(ctx, N, D=5):
    rng = ctx.rng
    start = {"W1": rng.randn(D, 4), "b1": rng.randn(4),
             "W2": rng.randn(4, 3), "b2": rng.randn(3)}
    X = rng.randn(N, D)
    y = rng.randint(3, size=N)
    net = Net((D, 4, 3), "relu", start, cls="QuadraticLoss",
              attributes={"curvature": CURVATURE},
              std=1.0, seed=int(rng.randint(2 ** 31)))
    return net, X, y


def _sgd(ctx, decay, momentum):
    rng = ctx.rng
    batch_size, epochs = int(rng.randint(3, 6)), int(rng.randint(2, 5))
    N = batch_size * int(rng.randint(2, 5)) + int(rng.randint(batch_size))
    lr = float(rng.uniform(0.02, 0.1))
    net, X, y = quadratic_net(ctx, N)
    _, params = yield Call(net, "train", (X, y),
                           {"learning_rate": lr, "learning_rate_decay": decay,
                            "reg": 0.0, "num_epochs": epochs,
                            "batch_size": batch_size, "momentum": momentum},
                           want=("params",))
    params = trained_params("net.params after train", params, net.params)
    steps = N // batch_size
    kind_of = ("classical momentum" if momentum else "SGD") + (
        " with a decaying learning rate" if decay != 1 else "")
    for name, c in CURVATURE.items():
        start = net.params[name]

        def after(mistake=None, c=c, sign=1):
            return sgd_factor(sign * c, lr, decay, epochs, steps, momentum,
                              mistake) * start
        error = relative_error(params[name], after())
        if error <= RTOL:
            continue
        candidates = [("decay_every_step", after("decay_every_step")),
                      ("decay_never", after("decay_never"))] \
            if decay != 1 else []
        if momentum:
            candidates.append(("momentum_not_kept",
                               after("momentum_not_kept")))
        candidates += [("no_update", start), ("update_sign", after(sign=-1))]
        known = [m for m, value in candidates
                 if relative_error(params[name], value) <= RTOL]
        hint = MISTAKES[known[0]].words if known else (
            f"{closeness(error)}; no known mistake gives this: each step is "
            f"param -= learning_rate * grad (with momentum, v = momentum * "
            f"v - learning_rate * grad; param += v), and the learning rate "
            f"is multiplied by learning_rate_decay after each epoch")
        raise Wrong(f"train: the update of {name} (after some epochs of "
                    f"{kind_of}): {hint}", known[:1] or None)


@check("Q2.3", points=1, judges=("train",))
def sgd_updates(ctx):
    """The parameters after train (plain SGD) through a loss whose
    gradients are known. Names: no update, the update's sign."""
    yield Fresh()
    yield from _sgd(ctx, decay=1.0, momentum=0.0)


@check("Q2.3", points=1, judges=("train",))
def learning_rate_decay(ctx):
    """The same with the learning rate decayed. Names: decayed after every
    step, never decayed."""
    yield Fresh()
    yield from _sgd(ctx, decay=0.5, momentum=0.0)


@check("Q2.3", points=1, judges=("train",))
def momentum_updates(ctx):
    """The same with classical momentum (the handout's v = momentum * v -
    learning_rate * grad; param += v). Names: a velocity that is not kept
    from one step to the next."""
    yield Fresh()
    yield from _sgd(ctx, decay=1.0, momentum=0.9)


def epoch_counts(b1, epochs):
    """How many times each epoch used each sample, from b1 after train
    through CountingLoss (b1[i] = sum over epochs e of n_e(i) * 16**-e);
    None if b1 is not such a sum."""
    counts, rest = [], np.array(b1, dtype=float)
    for _ in range(epochs):
        n = np.floor(rest + 1e-9)
        counts.append(n)
        rest = (rest - n) * 16
    if np.abs(rest).max(initial=0) > 1e-6 or min(
            c.min(initial=0) for c in counts) < 0:
        return None
    return np.array(counts, dtype=int)


def minibatch_problem(params, y, batch_size, epochs):
    """(why the minibatches that train used are wrong, the known mistake or
    None), or None if they are right, judged by what CountingLoss's
    gradients did to the parameters: each epoch, max(N // batch_size, 1)
    minibatches of batch_size different samples, with their labels, in a
    new random order."""
    N, C = len(y), params["W2"].shape[1]
    steps = max(N // batch_size, 1)
    b1, calls = params["b1"], params["b2"][0]
    if not b1.any():
        if not calls:
            return MISTAKES["no_update"].words, "no_update"
        return ("no step used a minibatch of batch_size samples: "
                + MISTAKES["full_batch"].words, "full_batch")
    if (b1 <= 0).all():
        return MISTAKES["update_sign"].words, "update_sign"
    counts = epoch_counts(b1, epochs)
    if counts is None:
        return ("the parameters are not what SGD with the learning rate "
                "given makes of the minibatches' gradients", None)
    if (counts > 1).any():
        return MISTAKES["with_replacement"].words, "with_replacement"
    if (counts.sum(axis=1) != steps * batch_size).any():
        return ("an epoch did not step through max(N // batch_size, 1) "
                "minibatches of batch_size samples", None)
    if relative_error(params["W2"], b1[:, None] * np.eye(C)[y]) > RTOL:
        return MISTAKES["batch_labels"].words, "batch_labels"
    if all((c == counts[0]).all() for c in counts):
        return MISTAKES["no_shuffle"].words, "no_shuffle"
    return None


@check("Q2.3", points=1, judges=("train",))
def random_minibatches(ctx):
    """Which samples, with which labels, each step of train uses, told by
    what a loss whose gradients count them does to the parameters: each
    epoch a fresh random permutation, cut into minibatches. Names: the
    whole set every step, the same samples every epoch, samples drawn with
    replacement, labels that are not the samples'."""
    yield Fresh()
    rng = ctx.rng
    batch_size, epochs = int(rng.randint(3, 7)), 3
    # N % batch_size >= 2 samples left out of each epoch, which of them
    # changes from epoch to epoch when the order does
    N = batch_size * int(rng.randint(3, 6)) + int(rng.randint(2, batch_size))
    D, C = 3, 3
    X = rng.randn(N, D)
    X[:, 0] = np.arange(N)                 # each sample's number
    y = rng.randint(C, size=N)
    start = {"W1": np.zeros((D, N)), "b1": np.zeros(N),
             "W2": np.zeros((N, C)), "b2": np.zeros(C)}
    net = Net((D, N, C), "relu", start, cls="CountingLoss",
              attributes={"batch_size": batch_size,
                          "steps": max(N // batch_size, 1), "seen": 0},
              std=1.0, seed=int(rng.randint(2 ** 31)))
    _, params = yield Call(
        net, "train", (X, y), {"learning_rate": 1.0,
                               "learning_rate_decay": 1.0, "reg": 0.0,
                               "num_epochs": epochs,
                               "batch_size": batch_size},
        want=("params",))
    params = trained_params("net.params after train", params, net.params)
    found = minibatch_problem(params, y, batch_size, epochs)
    if found:
        raise Wrong(f"train: the minibatches (told by the parameters after "
                    f"train): {found[0]}", found[1] and {found[1]})


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


def judge_predict(what, got, scores):
    mistake = predict_mistake(got, scores)
    if mistake:
        shown = "" if mistake == "predict_argmin" else \
            f"got {kind(got, False)} / expected integer labels; "
        raise Wrong(f"{what}: {shown}{MISTAKES[mistake].words}", {mistake})
    expect_labels(what, got, scores.argmax(axis=1))


@check("Q2.3", points=1, judges=("predict",))
def predict_labels(ctx):
    """predict on networks of random parameters (scores of a few units and
    of hundreds), and on a network trained by train, with the reference's
    everything but predict set in: the argmax of the network's scores, of
    an integer dtype, whether it goes through self.loss(X) or a forward
    pass of its own. Names: the scores, probabilities or floats returned,
    the argmin."""
    yield Fresh(ALL_BUT_PREDICT)
    rng = ctx.rng
    for scale in (1.0, 300.0):
        net, X, _ = problem(ctx, str(rng.choice(["relu", "sigmoid"])),
                            scale=scale)
        got = yield Call(net, "predict", (X,))
        judge_predict("predict(X)", got, reference.forward(
            net.params, X, net.activation)[2])
    net, X, y = problem(ctx, str(rng.choice(["relu", "sigmoid"])))
    X_new = rng.randn(int(rng.randint(5, 30)), X.shape[1])
    labels, params = yield Call(
        net, "train", (X, y), {"learning_rate": 0.1, "num_epochs": 3,
                               "batch_size": 4},
        then=(("predict", (X_new,), {}),), want=("params",))
    params = trained_params("net.params after train", params, net.params)
    judge_predict("predict after train", labels, reference.forward(
        params, X_new, net.activation)[2])


# ---------------------------------------------------------------------------
# Q2.4: ReLU
# ---------------------------------------------------------------------------

@check("Q2.4", points=1, judges=("relu",))
def relu_function(ctx):
    """relu(z), for z of every size."""
    yield Fresh()
    yield from _activation(ctx, "relu", [])


@check("Q2.4", points=1, judges=("relu_derivative",))
def relu_derivative_function(ctx):
    """relu_derivative(h) from outputs h = relu(z), many of them 0. Names:
    1 everywhere (h >= 0), h itself, the two values swapped."""
    yield Fresh()
    rng = ctx.rng
    h = np.maximum(rng.randn(int(rng.randint(4, 30)),
                             int(rng.randint(2, 12))), 0)
    yield from _derivative("relu", h, [
        ("relu_derivative_ones", np.ones_like(h)),
        ("relu_derivative_is_h", h),
        ("relu_derivative_reversed", (h <= 0).astype(float))])


def _stood_in(ctx, part):
    """part, if a check of another question charged it (then the reference
    stands in for it here, so that its mistake is not charged again)."""
    return (part,) if ctx.charged(part) else ()


@check("Q2.4", points=1, judges=("forward", "relu"))
def relu_scores(ctx):
    """forward(X) with ReLU: the student's relu through the student's
    forward pass, or through the reference's if Q2.1 charged it."""
    shared = _stood_in(ctx, "forward")
    ctx.judged = ctx.judged - set(shared)
    yield Fresh(shared)
    yield from _forward(ctx, "relu", "forward(X) with ReLU")
    if shared:
        return ("your forward pass is charged in Q2.1, so the reference's "
                "stood in for it here")


@check("Q2.4", points=2, judges=("backward", "relu_derivative"))
def relu_gradients(ctx):
    """All four gradients of backward with ReLU: the student's
    relu_derivative through the student's backward pass; the reference's
    backward stands in if Q2.2 charged it, else the reference's
    relu_derivative if relu_derivative_function did (so that one mistake
    is not charged twice, nor to the backward pass that Q2.2 found right).
    One of the two is always the student's: with both charged, this check
    judges the relu_derivative."""
    shared = _stood_in(ctx, "backward") or _stood_in(ctx, "relu_derivative")
    ctx.judged = ctx.judged - set(shared)
    yield from _backward(ctx, "relu", PARAM_NAMES,
                         ("relu", "log_softmax") + shared)
    if shared == ("backward",):
        return ("your backward pass is charged in Q2.2, so the reference's "
                "stood in for it here")
    if shared:
        return ("your relu_derivative is charged in relu_derivative_function, "
                "so the reference's stood in for it here")


# ---------------------------------------------------------------------------
# The public toy training (it needs every part, so it carries no points and
# is shown under the question whose part it finds at fault)
# ---------------------------------------------------------------------------

#: The parts of the sigmoid toy network's loss.
LOSS_PARTS = tuple(p for p in network_parts("sigmoid") if p != "train")


@check("Q2.3", points=0, public=True)
def toy_training(ctx):
    """The problem set's Q2.3: full-batch training of the sigmoid toy
    network with the student's own code."""
    yield Fresh()
    net, X, y = toy_problem("sigmoid")
    run = toy.TOY.training["sigmoid"]
    expected = toy.numbers().trained["sigmoid"]
    history = yield Call(net, "train", (X, y, X, y),
                         {"learning_rate": run.learning_rate, "reg": run.reg,
                          "num_epochs": run.num_epochs})
    losses = history.get("loss_history") if isinstance(history, dict) \
        else None
    if isinstance(losses, np.ndarray) and losses.ndim == 1:
        losses = list(losses)
    loss = losses[-1] if isinstance(losses, (list, tuple)) and losses \
        else None
    if loss is not None and not isinstance(loss, (Raised,)):
        try:
            if abs(as_number("", loss) - expected) <= \
                    toy.TRAINED_TOLERANCE:
                return None
        except Wrong:
            pass
    at_fault = sorted({v.question for v in ctx.verdicts.values()
                       if not v.passed and v.judged & set(LOSS_PARTS)})
    # (the loss is the student's: shown in words, so that it carries no
    # number of its own choosing)
    shown = (f"{closeness(abs(loss - expected) / expected)}"
             f" / expected {expected:.{toy.TRAINED_DECIMALS}f}"
             if isinstance(loss, float) else
             f"got {kind(history, True)} / expected the dict of histories "
             f"with a non-empty loss_history")
    wrong = Wrong(f"the final toy loss after {run.num_epochs} epochs of "
                  f"train: {shown}; "
                  + (f"your loss differs from the reference's (see "
                     f"{and_join(at_fault)}), so train cannot match it"
                     if at_fault else "check train and predict"))
    wrong.question = at_fault[0] if at_fault else "Q2.3"
    raise wrong


def blame(ctx, function):
    """The question under which a public check that raised in ``function``
    of mlp.py is shown: that part's, or (in train or the loss) the first
    question whose checks charged a part of the loss; else Q2.3."""
    part = {"_epoch_accuracy": "predict"}.get(function, function)
    if part in PARTS and part not in LOSS_PARTS and part != "train":
        return PARTS[part]
    at_fault = sorted({v.question for v in ctx.verdicts.values()
                       if not v.passed and v.judged & set(LOSS_PARTS)})
    return at_fault[0] if at_fault else "Q2.3"


# ---------------------------------------------------------------------------
# Q2.5 and Q2.6: the network learns real digits
# ---------------------------------------------------------------------------

#: The problem set's Q2.5 settings (64 hidden units, weights of standard
#: deviation 0.1, 20 epochs of minibatches of 100, learning rate decayed by
#: 0.95 after each epoch), with the learning rate and the penalty scaled to
#: the 1,437 training images of 8 x 8 digits: pixel values of 0 to 16,
#: 14 steps an epoch instead of 500.
DIGITS = {"learning_rate_decay": 0.95, "reg": 0.05, "num_epochs": 20,
          "batch_size": 100}
#: ReLU takes half the sigmoid's step: at 0.1 its first steps can kill
#: most of the 64 hidden units (53 on one draw in 7,600, too many to reach
#: PASS_ACCURACY); at 0.05 a median 6 and at most 27 died in 2,000 draws
#: (benchmarks/digits_draws.py).
LEARNING_RATE = {"sigmoid": 0.1, "relu": 0.05}
HIDDEN, STD = 64, 0.1
#: The points need this test accuracy (10 classes: chance is 0.1). In the
#: same 2,000 draws the reference reached 0.93 to 0.99 (median 0.97) with
#: ReLU and 0.91 to 0.98 (median 0.95) with sigmoid.
PASS_ACCURACY = 0.8


def trained_params(what, got, like):
    """The parameters a call sent back, as float64 arrays of the shapes of
    ``like``; an array of the right size in another shape (a bias of shape
    (1, H), say) is reshaped, as NumPy's broadcasting would use it."""
    if not (isinstance(got, dict)
            and all(name in got for name in PARAM_NAMES)):
        raise Wrong(f"{what}: params is {kind(got, False)} / expected a dict "
                    f"with the keys {', '.join(PARAM_NAMES)}", wholly=True)
    params = {}
    for name in PARAM_NAMES:
        value, shape = got[name], np.shape(like[name])
        if isinstance(value, np.ndarray) and value.size == np.prod(shape) \
                and value.shape != shape and len(shape) == 1:
            value = value.reshape(shape)
        params[name] = as_array(f"{what}: {name}", value, PARAM_SHAPES[name],
                                shape)
    return params


#: The questions of the digits checks (filled in by digits_check).
DIGITS_QUESTIONS = set()


def digits_plan(ctx, activation):
    """(the parts that stand in for the student's on the digits, the parts
    without which the network cannot earn them). A part whose checks
    charged a mistake is stood in for, unless it is missing or wholly
    wrong, or the mistake has no name and its question earned less than
    half its points: then it is refused."""
    stand_ins, refused = [], []
    for part in network_parts(activation):
        # Each digits check judges its own training: the other's failure
        # says nothing of a part that its own checks found right.
        charged = [v for v in ctx.charged(part)
                   if v.question not in DIGITS_QUESTIONS]
        if not charged:
            continue
        if not any(v.missing or v.wholly for v in charged) \
                and all(v.known or 2 * ctx.earned(v.question)
                        >= QUESTIONS[v.question][1] for v in charged):
            stand_ins.append(part)
        else:
            refused.append(part)
    return tuple(stand_ins), refused


def digits_problem(rng):
    """X, y, X_test, y_test (reference.digits) and the initial parameters
    of the digits checks, drawn from rng."""
    X, y, X_test, y_test = reference.digits(rng)
    params = {"W1": STD * rng.randn(64, HIDDEN), "b1": np.zeros(HIDDEN),
              "W2": STD * rng.randn(HIDDEN, 10), "b2": np.zeros(10)}
    return X, y, X_test, y_test, params


def _train_on_digits(net, X, y, X_test, y_test):
    """(whether the test accuracy reached PASS_ACCURACY, what happened)."""
    got = yield Call(net, "train", (X, y), {
        **DIGITS, "learning_rate": LEARNING_RATE[net.activation]},
        want=("params",), catch=True)
    if isinstance(got, Raised):
        return False, (f"{got.function or 'a part'} is not implemented yet"
                       if got.not_implemented else f"train {got}")
    try:
        params = trained_params("net.params after train", got[1], net.params)
    except Wrong as wrong:
        return False, str(wrong)
    def test_accuracy(params):
        scores = reference.forward(params, X_test, net.activation)[2]
        return float(np.mean(scores.argmax(axis=1) == y_test))

    accuracy = test_accuracy(params)
    if accuracy >= PASS_ACCURACY:
        return True, (f"the test accuracy reached {PASS_ACCURACY} on digits "
                      f"that train never saw")
    # Untrained, 3,000 draws scored 0.10 (median) and up to 0.27.
    return False, (f"the test accuracy stayed below {PASS_ACCURACY}" + (
        " (no better than before training)"
        if accuracy <= test_accuracy(net.params) else
        " (no better than chance)" if accuracy < 0.2 else ""))


#: A network's name in the feedback, where not its activation's.
NETWORK = {"relu": "ReLU"}


def _learns_digits(ctx, activation):
    """Train the student's network on the training digits (pixels and
    labels permuted by a secret permutation), then measure its accuracy
    here, with the reference's forward pass, on test digits the sandbox
    never sees. Every part the training needs must be written: a part
    that is missing or wholly wrong (see digits_plan) earns nothing here.
    The student's own code trains first, unless its train was charged
    (then what it returns proves nothing); when that does not reach the
    accuracy, the reference stands in for the parts charged in their own
    questions. The reference's predict always stands in for the student's,
    which train only uses to report its accuracy after each epoch
    (predict has a check of its own)."""
    stand_ins, refused = digits_plan(ctx, activation)
    network = f"the {NETWORK.get(activation, activation)} network"
    if refused:
        raise Wrong(f"{network} is not trained on the digits: your "
                    f"{and_join(refused)} "
                    f"{'is' if len(refused) == 1 else 'are'} not written, "
                    f"or too far from right for the reference to stand in "
                    f"(see {and_join(sorted({PARTS[p] for p in refused}))})")
    X, y, X_test, y_test, params = digits_problem(ctx.rng)
    net = Net((64, HIDDEN, 10), activation, params, std=STD)
    why = None
    if "train" not in stand_ins:
        yield Fresh(("predict",))
        reached, why = yield from _train_on_digits(net, X, y, X_test, y_test)
        if reached:
            return f"trained by your own code, {why}"
        if not stand_ins:
            raise Wrong(f"{network} trained by your own code: {why}")
    ctx.judged = ctx.judged - set(stand_ins)
    yield Fresh(("predict",) + stand_ins)
    reached, again = yield from _train_on_digits(net, X, y, X_test, y_test)
    parts = and_join(stand_ins)
    counted = ("its mistake is counted in its own question"
               if len(stand_ins) == 1 else
               "their mistakes are counted in their own questions")
    first = f"trained by your own code, {why}; " if why else ""
    if reached:
        return (f"{first}with the reference's {parts} standing in for yours "
                f"({counted}), {again}")
    raise Wrong(f"{network}: {first}with the reference's {parts} standing "
                f"in for yours: {again}")


def digits_check(question, points, activation):
    """@check for a check that trains the network with that activation on
    the digits (through _learns_digits): it judges every part the network
    trains with, and the other digits checks' verdicts do not count in
    what stands in for its parts."""
    if activation not in LEARNING_RATE:
        raise ValueError(f"no learning rate for the {activation} network on "
                         f"the digits: add {activation!r} to LEARNING_RATE "
                         f"in instructor/questions.py")
    DIGITS_QUESTIONS.add(question)
    return check(question, points, seconds=4,
                 judges=network_parts(activation))


@digits_check("Q2.5", 10, "sigmoid")
def sigmoid_learns_digits(ctx):
    """The student's network with sigmoid learns scikit-learn's 8 x 8
    digits with Q2.5's settings scaled to them."""
    return (yield from _learns_digits(ctx, "sigmoid"))


@digits_check("Q2.6", 10, "relu")
def relu_learns_digits(ctx):
    """The same with ReLU."""
    return (yield from _learns_digits(ctx, "relu"))


def _verify():
    """Refuse to load when a check lacks its decorator, the points of a
    question do not add up to QUESTIONS, or a part is judged by no check of
    its question. (Generators whose names start with an underscore are
    helpers that checks ``yield from``.)"""
    for name, value in list(globals().items()):
        if inspect.isgeneratorfunction(value) and not name.startswith("_") \
                and not getattr(value, "registered", False):
            raise RuntimeError(f"check {name} has no @check(question, points)"
                               f" decorator")
    for part, question in PARTS.items():
        if question not in QUESTIONS:
            raise RuntimeError(f"PARTS gives {part} the question {question}, "
                               f"which is not in QUESTIONS")
        if not any(part in c.judges and c.question == question
                   for c in CHECKS):
            raise RuntimeError(f"no check of {question} judges {part}: write "
                               f"one, @check({question!r}, points, "
                               f"judges=({part!r},))")
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
