"""Property-based tests of TwoLayerMLP's public API, with Hypothesis.

Each test states a property that must hold for *every* network and
minibatch, and Hypothesis searches for a counterexample over random sizes
(D, H, C from 1 to 20, N from 1 to 30), both activations, both penalties
and regularisation strengths from 0 to 1, in float64 unless a test says
otherwise.

A drawn case is a :class:`Problem`: a handful of numbers (sizes, choices,
``reg`` and a seed) from which the arrays are generated with NumPy's random
generators. Drawing a seed instead of whole arrays keeps generation fast,
and a failure is reported (and shrunk) as a short, exactly reproducible
``Problem(...)`` that can be pasted into ``@example``.

How many cases are tried, and whether the choice is random, is set by the
Hypothesis profiles registered in ``conftest.py`` (deterministic in CI).
"""
import dataclasses
import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import mlp
from mlp import TwoLayerMLP
from utils import check_gradients

PARAM_NAMES = ("W1", "b1", "W2", "b2")

# Finite differences in check_gradients move a parameter by h = 1e-5, which
# moves a pre-activation z1 by at most h * max|X| (< 1e-4 for the standard
# normal inputs used here). Farther than this from a kink, the loss is
# smooth over the whole finite-difference step.
KINK_MARGIN = 1e-4

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


@dataclasses.dataclass(frozen=True)
class Problem:
    """A network and a labelled minibatch, described by a few numbers.

    Parameters
    ----------
    D, H, C, N : int
        Input size, hidden size, number of classes, number of samples.
    activation : {'relu', 'sigmoid'}
    penalty : {'l2', 'l1'}
    reg : float
        Regularisation strength passed to ``loss``.
    seed : int
        Seeds the network (``TwoLayerMLP(..., seed=seed)``) and, through a
        different generator, the biases and the data.
    weight_scale : float, default 1.0
        Overall scale of the parameters; 1 gives pre-activations and scores
        of order 1.
    """

    D: int
    H: int
    C: int
    N: int
    activation: str
    penalty: str
    reg: float
    seed: int
    weight_scale: float = 1.0

    def build(self):
        """The float64 network and data ``(net, X, y)`` of this problem.

        The weights are ``weight_scale`` times standard normal divided by
        the square root of the layer's fan-in, and then pushed at least
        ``1e-3 * weight_scale`` away from 0, so that the L1 penalty is
        differentiable at every weight; the biases are ``weight_scale / 2``
        times standard normal (not zero, so that their gradients are
        exercised); X is standard normal and y uniform over the classes.
        """
        net = TwoLayerMLP(self.D, self.H, self.C, std=self.weight_scale,
                          activation=self.activation, seed=self.seed)
        # A different generator than the net's RandomState(seed), so that
        # the biases and data are independent of the weights.
        rng = np.random.default_rng(self.seed)
        params = net.params
        params["W1"] /= math.sqrt(self.D)
        params["W2"] /= math.sqrt(self.H)
        floor = 1e-3 * self.weight_scale
        for name in ("W1", "W2"):
            w = params[name]
            w[...] = np.copysign(np.maximum(np.abs(w), floor), w)
        bias_std = 0.5 * self.weight_scale
        params["b1"][...] = bias_std * rng.standard_normal(self.H)
        params["b2"][...] = bias_std * rng.standard_normal(self.C)
        X = rng.standard_normal((self.N, self.D))
        y = rng.integers(self.C, size=self.N)
        return net, X, y

    def loss(self, net, X, y, reg=None):
        """``net.loss`` with this problem's penalty (and reg, by default)."""
        return net.loss(X, y, reg=self.reg if reg is None else reg,
                        penalty=self.penalty)


@st.composite
def problems(draw, weight_scales=st.just(1.0), max_size=20, max_samples=30):
    """Strategy for :class:`Problem` (sizes first, so they shrink first)."""
    sizes = st.integers(1, max_size)
    return Problem(
        D=draw(sizes), H=draw(sizes), C=draw(sizes),
        N=draw(st.integers(1, max_samples)),
        activation=draw(st.sampled_from(sorted(mlp.ACTIVATIONS))),
        penalty=draw(st.sampled_from(["l2", "l1"])),
        reg=draw(st.floats(0.0, 1.0)),
        seed=draw(st.integers(0, 2**32 - 1)),
        weight_scale=draw(weight_scales),
    )


# Weight scales for the properties that must hold for any finite network,
# from nearly uniform predictions to very confident (saturated) ones.
ANY_SCALE = st.floats(1e-2, 1e2)


def penalty_term(net, reg, penalty):
    """The documented penalty: 0.5 reg sum W**2 (l2) or reg sum |W| (l1)."""
    weights = (net.params["W1"], net.params["W2"])
    if penalty == "l2":
        return 0.5 * reg * sum(float(np.sum(w * w)) for w in weights)
    return reg * sum(float(np.sum(np.abs(w))) for w in weights)


def pre_activations(net, X):
    """z1 = X W1 + b1, computed here from the public parameters."""
    return X @ net.params["W1"] + net.params["b1"]


def rounding_bounds(net, X, reg, eps):
    """Bounds on the rounding errors of ``net``'s outputs on X.

    Each output is built from sums of products; rounding perturbs it by at
    most about (length of the chain of operations) * eps times the
    *magnitude of its terms*, which may be far larger than the output when
    terms cancel. The magnitudes are computed here in float64 from
    absolute values, and the chain length ``k = N + D + H + C + 8`` is a
    worst case (rounding errors rarely all add up), so a bound is only
    exceeded by a real discrepancy, not by a different order of summation
    or by float32 arithmetic.

    Parameters
    ----------
    net : TwoLayerMLP
    X : ndarray, shape (N, D)
    reg : float
        The regularisation strength used (with either penalty).
    eps : float
        Machine epsilon of the arithmetic whose rounding is bounded.

    Returns
    -------
    dict of float
        Absolute bounds for ``scores``, ``proba``, ``loss`` and each
        gradient (keys of ``net.params``).
    """
    p = {name: np.abs(v.astype(np.float64)) for name, v in net.params.items()}
    absX = np.abs(X.astype(np.float64))
    N, D = X.shape
    H, C = p["W2"].shape
    k = float(N + D + H + C + 8)
    # Magnitudes of the terms of z1, of hidden (|relu(z)| <= |z|,
    # 0 < sigmoid < 1), and of the scores, including how an error in z1
    # spreads into the scores (relu and sigmoid are 1-Lipschitz).
    z1 = absX @ p["W1"] + p["b1"]
    hidden = z1 if net.activation == "relu" else np.ones_like(z1)
    scores = hidden @ p["W2"] + p["b2"] + z1 @ p["W2"]
    scale = 1.0 + scores.max() + z1.max()
    bound = {"scores": k * eps * scores.max(), "proba": k * eps * scale}
    bound["loss"] = k * eps * (scale + penalty_term(net, reg, "l2")
                               + penalty_term(net, reg, "l1"))
    # Gradient magnitudes with every |dscores| entry at its bound 1/N and
    # every activation derivative at its bound 1; the relative error of
    # dscores is at most about k eps scale.
    dscores = np.full((N, C), 1.0 / N)
    dz1 = dscores @ p["W2"].T
    magnitude = {"W2": hidden.T @ dscores, "b2": dscores.sum(axis=0),
                 "W1": absX.T @ dz1, "b1": dz1.sum(axis=0)}
    for name, m in magnitude.items():
        # reg |W| (l2) or reg (l1) for the weights; biases are not penalised.
        penalty = reg * (p[name].max() + 1) if name in ("W1", "W2") else 0.0
        bound[name] = k * eps * (scale * m.max() + penalty)
    return bound


def assert_grads_close(actual, desired, rtol, atol, what):
    """assert_allclose for every parameter, naming it on failure.

    ``atol`` is a number or a dict of numbers, one per parameter.
    """
    assert set(actual) == set(desired) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        tol = atol[name] if isinstance(atol, dict) else atol
        np.testing.assert_allclose(actual[name], desired[name], rtol=rtol,
                                   atol=tol, err_msg=f"{what}: {name}")


# ---------------------------------------------------------------------------
# 1. Analytic gradients agree with finite differences
# ---------------------------------------------------------------------------

@given(problem=problems())
def test_gradients_match_finite_differences(problem):
    """The backward pass computes the derivative of the loss.

    ``check_gradients`` compares ``loss``'s gradients with centred
    differences of ``loss`` itself; where the loss is differentiable they
    must agree to the accuracy of finite differences (rel. error < 1e-5).

    It is not differentiable at a ReLU kink (a pre-activation z1 = 0) nor,
    for the L1 penalty, at a zero weight. Weights are kept away from 0 by
    construction (see :meth:`Problem.build`); the rare draws with some
    ``|z1| < 1e-4`` under ReLU are rejected.

    Finite differences also cannot judge gradient entries that are tiny
    but not zero: their absolute error is about eps |loss| / h ~ 1e-11
    |loss| (a few times that in practice), which ``rel_error`` divides by
    the entry itself. Entries below 3e-6 (1 + |loss|) arise by chance
    cancellation (say of the data term against ``reg * W``) or saturation;
    those draws (about one in ten) are rejected. Without this, about one
    draw in 200 fails for this reason alone. Exact zeros (a dead ReLU
    unit, a single class) are kept: finite differences are exactly zero
    there as well.
    """
    net, X, y = problem.build()
    if problem.activation == "relu":
        assume(np.abs(pre_activations(net, X)).min() > KINK_MARGIN)
    loss, grads = problem.loss(net, X, y)
    smallest = 3e-6 * (1.0 + abs(loss))
    assume(all(np.all((g == 0) | (np.abs(g) > smallest))
               for g in grads.values()))

    errors = check_gradients(net, X, y, reg=problem.reg,
                             penalty=problem.penalty)
    assert set(errors) == set(PARAM_NAMES)
    assert max(errors.values()) < 1e-5, errors


# ---------------------------------------------------------------------------
# 2. The loss and the probabilities are well formed
# ---------------------------------------------------------------------------

@given(problem=problems(weight_scales=ANY_SCALE))
def test_loss_and_probabilities_are_well_formed(problem):
    """Cross-entropy is >= 0, probabilities are a distribution per row.

    The loss is mean cross-entropy plus the penalty, and cross-entropy is
    ``-log`` of a probability, so the loss is finite and at least the
    penalty term. ``predict_proba`` is a softmax: non-negative rows summing
    to 1, whose largest entry is the class ``predict`` returns (softmax is
    increasing, so it is also the largest score). At reg = 0 the loss is
    the mean of ``-log predict_proba[i, y_i]``.
    """
    net, X, y = problem.build()
    loss, grads = problem.loss(net, X, y)
    penalty = penalty_term(net, problem.reg, problem.penalty)
    assert math.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads.values())
    assert loss >= penalty * (1 - 1e-12)

    proba = net.predict_proba(X)
    assert proba.shape == (problem.N, problem.C)
    assert proba.dtype == np.float64
    assert (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)

    predicted = net.predict(X)
    assert predicted.shape == (problem.N,)
    np.testing.assert_array_equal(predicted, proba.argmax(axis=1))
    np.testing.assert_array_equal(predicted, net.loss(X).argmax(axis=1))

    cross_entropy, _ = problem.loss(net, X, y, reg=0.0)
    assert cross_entropy >= 0
    p_true = proba[np.arange(problem.N), y]
    if (p_true > 1e-200).all():     # else a p may have underflowed to 0
        assert cross_entropy == pytest.approx(-np.mean(np.log(p_true)),
                                              rel=1e-10, abs=1e-13)


@given(problem=problems(weight_scales=ANY_SCALE))
def test_penalty_adds_exactly_the_documented_term(problem):
    """loss(reg) = loss(0) + penalty, and likewise for the gradients.

    ``loss`` documents the penalty as ``0.5 reg (sum W1**2 + sum W2**2)``
    (l2) or ``reg (sum |W1| + sum |W2|)`` (l1), biases excluded, so its
    gradient is ``reg W`` or ``reg sign(W)``. The gradient check cannot
    see an error made consistently in both the penalty and its gradient
    (say a missing 0.5); this comparison can.
    """
    net, X, y = problem.build()
    reg, W = problem.reg, {k: net.params[k] for k in ("W1", "W2")}
    loss, grads = problem.loss(net, X, y)
    loss0, grads0 = problem.loss(net, X, y, reg=0.0)
    penalty = penalty_term(net, reg, problem.penalty)
    assert loss == pytest.approx(loss0 + penalty, rel=1e-12, abs=1e-300)

    slope = {name: reg * (w if problem.penalty == "l2" else np.sign(w))
             for name, w in W.items()}
    expected = dict(grads0, **{name: grads0[name] + slope[name]
                               for name in slope})
    # Rounding is relative to the larger of the two terms being added.
    atol = {name: 1e-14 * (np.abs(grads0[name]).max()
                           + np.abs(slope.get(name, 0.0)).max())
            for name in PARAM_NAMES}
    assert_grads_close(grads, expected, rtol=1e-12, atol=atol,
                       what="gradient with the penalty")


@given(problem=problems())
def test_loss_is_its_parts_composed(problem):
    """``loss`` is nothing but its parts: the scores are ``forward``'s, the
    loss at reg = 0 is ``cross_entropy`` of them and its gradients are
    ``backward``'s, and with the penalty both are what ``add_penalty``
    makes of those, exactly. ``add_penalty`` returns a new dict and leaves
    the gradients it is given as they were."""
    net, X, y = problem.build()
    hidden, scores = net.forward(X)
    assert hidden.shape == (problem.N, problem.H)
    np.testing.assert_array_equal(net.loss(X), scores)
    data_loss = mlp.cross_entropy(scores, y)
    data_grads = net.backward(X, y, hidden, scores)
    loss0, grads0 = problem.loss(net, X, y, reg=0.0)
    assert loss0 == data_loss
    assert set(data_grads) == set(PARAM_NAMES)
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(grads0[name], data_grads[name],
                                      err_msg=name)

    before = {name: g.copy() for name, g in data_grads.items()}
    penalised, new_grads = net.add_penalty(data_loss, data_grads,
                                           problem.reg, problem.penalty)
    assert new_grads is not data_grads
    loss, grads = problem.loss(net, X, y)
    assert loss == penalised
    for name in PARAM_NAMES:
        np.testing.assert_array_equal(grads[name], new_grads[name],
                                      err_msg=name)
        np.testing.assert_array_equal(data_grads[name], before[name],
                                      err_msg=f"{name} given to add_penalty")


# ---------------------------------------------------------------------------
# 3. The loss is a mean over the samples
# ---------------------------------------------------------------------------

@given(problem=problems(weight_scales=ANY_SCALE), data=st.data())
def test_loss_is_invariant_to_permuting_the_samples(problem, data):
    """The order of the samples in a minibatch does not matter.

    The loss is a mean over samples (plus a penalty not involving them),
    so permuting the rows of X together with y changes the loss and the
    gradients only by rounding (the sums are taken in another order).
    """
    net, X, y = problem.build()
    order = np.array(data.draw(st.permutations(range(problem.N)),
                               label="order"), dtype=np.intp)
    loss, grads = problem.loss(net, X, y)
    loss_p, grads_p = problem.loss(net, X[order], y[order])
    assert loss_p == pytest.approx(loss, rel=1e-12)
    # Both sides are rounded, each within the bound.
    atol = rounding_bounds(net, X, problem.reg, 2 * EPS64)
    assert_grads_close(grads_p, grads, rtol=0, atol=atol,
                       what="gradient of the permuted batch")


@given(problem=problems(weight_scales=ANY_SCALE))
def test_batch_gradient_is_the_mean_of_per_sample_gradients(problem):
    """Without the penalty, loss and gradients are per-sample means.

    The cross-entropy of a batch is the mean of the single-sample
    cross-entropies, so by linearity its gradient is the mean of the
    single-sample gradients. This pins down the 1/N. It is tested at
    reg = 0: with a penalty (identical on both sides) a large penalty
    term could hide an error in the data term within the tolerance.
    """
    net, X, y = problem.build()
    loss, grads = net.loss(X, y, reg=0.0)
    singles = [net.loss(X[i:i + 1], y[i:i + 1], reg=0.0)
               for i in range(problem.N)]
    assert loss == pytest.approx(np.mean([s[0] for s in singles]),
                                 rel=1e-12, abs=1e-300)
    per_sample = {name: np.stack([s[1][name] for s in singles])
                  for name in PARAM_NAMES}
    mean = {name: g.mean(axis=0) for name, g in per_sample.items()}
    atol = rounding_bounds(net, X, 0.0, 2 * EPS64)
    assert_grads_close(grads, mean, rtol=0, atol=atol,
                       what="batch gradient vs. mean of per-sample ones")


# ---------------------------------------------------------------------------
# 4. Extreme but finite inputs
# ---------------------------------------------------------------------------

@given(problem=problems(),
       x_max=st.floats(0, 6).map(lambda e: 10.0 ** e),
       w_max=st.floats(0, 3).map(lambda e: 10.0 ** e),
       layout=st.sampled_from(["gaussian", "corners", "aligned"]),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_extreme_inputs_give_finite_results_without_warnings(
        problem, x_max, w_max, layout, dtype):
    """|X| up to 1e6 and parameters up to 1e3 are computed without trouble.

    Scores of order 1e15 are far from overflowing either dtype, so the
    loss, gradients and probabilities must come out finite, with no
    FloatingPointError and no warning: softmax and sigmoid must be
    evaluated in their overflow-safe forms. Overflow, invalid operations
    and division by zero are made to raise (except inside mlp.py's own
    ``np.errstate`` blocks, which silence them and then check that the
    result is finite, so they fail through that check instead). Underflow
    is harmless and does happen legitimately (e.g. when the backward pass
    divides subnormal probabilities by N), so it is allowed.

    ``layout`` places the values: ``gaussian`` rescales the usual normal
    draws so that the largest magnitudes are exactly ``x_max`` and
    ``w_max``; ``corners`` puts every entry at +-max; ``aligned`` makes
    every entry +max, so that nothing cancels and the scores are largest.
    """
    net64, X, y = problem.build()
    arrays = dict(net64.params, X=X)
    for name, a in arrays.items():
        limit = x_max if name == "X" else w_max
        if layout == "gaussian":
            a *= limit / np.abs(a).max()
        else:
            a[...] = limit if layout == "aligned" else np.copysign(limit, a)
    net = TwoLayerMLP(problem.D, problem.H, problem.C,
                      activation=problem.activation, seed=0, dtype=dtype)
    net.params = {name: arrays[name].astype(dtype) for name in PARAM_NAMES}
    X = X.astype(dtype)

    with warnings.catch_warnings(), \
            np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        loss, grads = problem.loss(net, X, y)
        proba = net.predict_proba(X)
        predicted = net.predict(X)

    assert math.isfinite(loss) and loss >= 0
    for name, g in grads.items():
        assert g.dtype == dtype and np.isfinite(g).all(), name
    assert np.isfinite(proba).all() and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0,
                               atol=10 * problem.C * np.finfo(dtype).eps)
    assert ((predicted >= 0) & (predicted < problem.C)).all()


# ---------------------------------------------------------------------------
# 5. float32 agrees with float64
# ---------------------------------------------------------------------------

@given(problem=problems())
def test_float32_agrees_with_float64(problem):
    """A float32 model computes what a float64 one does, to float32 precision.

    Both models get the same parameters and inputs (rounded to float32
    once, so that only the arithmetic differs). Scores, probabilities,
    the loss and every gradient must then differ by no more than float32
    rounding, bounded by :func:`rounding_bounds`. Under ReLU, draws
    with a pre-activation within that rounding of 0 are rejected: there
    the two precisions may legitimately disagree about the kink.
    """
    net64, X, y = problem.build()
    params32 = {name: v.astype(np.float32) for name, v in net64.params.items()}
    X32 = X.astype(np.float32)
    net32 = TwoLayerMLP(problem.D, problem.H, problem.C,
                        activation=problem.activation, seed=0,
                        dtype=np.float32)
    net32.params = params32
    net64.params = {name: v.astype(np.float64) for name, v in params32.items()}
    X64 = X32.astype(np.float64)
    tol = rounding_bounds(net64, X64, problem.reg, EPS32)
    if problem.activation == "relu":
        z1 = pre_activations(net64, X64)
        terms = np.abs(X64) @ np.abs(net64.params["W1"]) \
            + np.abs(net64.params["b1"])
        assume((np.abs(z1) > 4 * (problem.D + 2) * EPS32 * terms).all())

    scores32, scores64 = net32.loss(X32), net64.loss(X64)
    proba32, proba64 = net32.predict_proba(X32), net64.predict_proba(X64)
    assert scores32.dtype == proba32.dtype == np.float32
    np.testing.assert_allclose(scores32, scores64, rtol=0,
                               atol=tol["scores"])
    np.testing.assert_allclose(proba32, proba64, rtol=0, atol=tol["proba"])

    loss32, grads32 = problem.loss(net32, X32, y)
    loss64, grads64 = problem.loss(net64, X64, y)
    assert abs(loss32 - loss64) <= tol["loss"], (loss32, loss64, tol["loss"])
    assert all(g.dtype == np.float32 for g in grads32.values())
    assert_grads_close(grads32, grads64, rtol=0, atol=tol,
                       what="float32 vs float64 gradient")


# ---------------------------------------------------------------------------
# 6. Saving and loading
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """One folder for the saved models of the round-trip property.

    Module-scoped, because Hypothesis runs many examples in one call of a
    test, which function-scoped fixtures such as ``tmp_path`` do not fit.
    """
    return tmp_path_factory.mktemp("models")


@given(problem=problems(weight_scales=ANY_SCALE),
       dtype=st.sampled_from([np.float64, np.float32]))
def test_save_load_round_trip_is_exact(model_dir, problem, dtype):
    """A loaded model is the saved one: same sizes, activation, dtype and
    bit-identical parameters, hence bit-identical predictions."""
    net64, X, _ = problem.build()
    net = TwoLayerMLP(problem.D, problem.H, problem.C,
                      activation=problem.activation, seed=0, dtype=dtype)
    net.params = {name: v.astype(dtype) for name, v in net64.params.items()}

    loaded = TwoLayerMLP.load(net.save(model_dir / "net.npz"))
    assert (loaded.input_size, loaded.hidden_size, loaded.output_size) == (
        problem.D, problem.H, problem.C)
    assert loaded.activation == problem.activation
    assert loaded.dtype == np.dtype(dtype)
    for name in PARAM_NAMES:
        assert loaded.params[name].dtype == np.dtype(dtype)
        assert loaded.params[name].tobytes() == net.params[name].tobytes()
    np.testing.assert_array_equal(loaded.predict_proba(X),
                                  net.predict_proba(X))
