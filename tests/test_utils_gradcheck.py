"""Numerical gradients, relative errors and check_gradients.

The expected gradients are worked out by hand for each test function.
"""
import numpy as np
import pytest

import mlp
from mlp import TwoLayerMLP
from utils import check_gradients, eval_numerical_gradient, rel_error


# ---------------------------------------------------------------------------
# eval_numerical_gradient
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("f, gradient", [
    (lambda x: np.sum(x ** 2), lambda x: 2 * x),
    (lambda x: np.sum(np.sin(x)), np.cos),
    (lambda x: np.sum(np.arange(x.size).reshape(x.shape) * x),
     lambda x: np.arange(x.size, dtype=float).reshape(x.shape)),
    (lambda x: x[0, 0] * x[1, 2] ** 3,
     lambda x: np.array([[x[1, 2] ** 3, 0, 0], [0, 0, 3 * x[0, 0] * x[1, 2] ** 2]])),
])
def test_known_gradients(f, gradient):
    x = np.random.RandomState(0).randn(2, 3)
    numeric = eval_numerical_gradient(f, x, verbose=False)
    assert numeric.shape == x.shape and numeric.dtype == np.float64
    np.testing.assert_allclose(numeric, gradient(x), rtol=1e-7, atol=1e-9)


def test_zero_dimensional_and_non_contiguous_x():
    x = np.array(1.5)
    np.testing.assert_allclose(
        eval_numerical_gradient(lambda v: float(v) ** 3, x, verbose=False),
        3 * 1.5 ** 2, rtol=1e-8)
    base = np.random.RandomState(1).randn(4, 6)
    view = base[::2, 1::2]
    numeric = eval_numerical_gradient(lambda v: np.sum(v ** 2), view, verbose=False)
    np.testing.assert_allclose(numeric, 2 * view, rtol=1e-7)


def test_float32_is_perturbed_in_float32_and_restored_exactly():
    x = np.array([0.1, -3.0, 1e-30, -0.0, 123.456], dtype=np.float32)
    original = x.tobytes()
    # f computes in float64 from the float32 values; the gradient of
    # sum(x^2) is 2x also for the rounded steps actually taken.
    numeric = eval_numerical_gradient(
        lambda v: np.sum(v.astype(np.float64) ** 2), x, verbose=False)
    np.testing.assert_allclose(numeric, 2 * x.astype(np.float64), rtol=1e-5, atol=1e-6)
    assert x.dtype == np.float32 and x.tobytes() == original


def test_x_is_restored_bit_for_bit():
    x = np.random.RandomState(2).randn(3, 3) * 1e3
    x[0, 0] = -0.0
    original = x.tobytes()
    seen = []

    def f(v):
        seen.append(v.copy())
        return np.sum(np.exp(v / 1e3))

    eval_numerical_gradient(f, x, verbose=False)
    assert x.tobytes() == original
    # f saw x itself, perturbed one element at a time, twice per element.
    assert len(seen) == 2 * x.size
    assert all(np.count_nonzero(s != x) == 1 for s in seen)


def test_x_is_restored_when_f_raises():
    x = np.linspace(-1, 1, 6)
    original = x.tobytes()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError, match="boom"):
        eval_numerical_gradient(f, x, verbose=False)
    assert x.tobytes() == original


def test_verbose_prints_each_index_and_slope(capsys):
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    eval_numerical_gradient(lambda v: np.sum(v ** 2), x)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("(0, 0)") and lines[3].startswith("(1, 1)")
    assert abs(float(lines[3].split()[-1]) - 8.0) < 1e-6


def test_step_lost_to_rounding_is_an_error():
    x = np.array([1e8], dtype=np.float32)  # spacing 8 >> h
    with pytest.raises(ValueError, match="lost to rounding"):
        eval_numerical_gradient(lambda v: v.sum(), x, verbose=False)
    assert x[0] == np.float32(1e8)


@pytest.mark.parametrize("f, x, kwargs, error, match", [
    ("not callable", np.zeros(2), {}, TypeError, "callable"),
    (np.sum, [1.0, 2.0], {}, TypeError, "floating-point NumPy array"),
    (np.sum, np.arange(3), {}, TypeError, "int64"),
    (np.sum, np.zeros(2), {"h": 0}, ValueError, "positive"),
    (np.sum, np.zeros(2), {"h": float("nan")}, ValueError, "positive"),
    (np.sum, np.zeros(2), {"h": "1e-5"}, TypeError, "h must be"),
    (lambda v: v * 2, np.zeros(2), {}, ValueError, "scalar"),
    (lambda v: (v.sum(), {}), np.zeros(2), {}, TypeError, "real number"),
    (lambda v: 1j, np.zeros(2), {}, TypeError, "real number"),
])
def test_bad_arguments(f, x, kwargs, error, match):
    with pytest.raises(error, match=match):
        eval_numerical_gradient(f, x, verbose=False, **kwargs)


def test_read_only_x_is_an_error():
    x = np.zeros(3)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        eval_numerical_gradient(np.sum, x, verbose=False)


# ---------------------------------------------------------------------------
# rel_error
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("x, y, expected", [
    ([1.0, 2.0], [1.0, 3.0], 0.2),      # max(0/2, 1/5)
    ([0.0, 0.0], [0.0, 0.0], 0.0),      # the 1e-8 floor avoids 0/0
    ([1e-9], [0.0], 0.1),               # 1e-9 / max(1e-8, 1e-9)
    (3, 1, 0.5),                        # 2 / 4
    ([[1, -1]], [[-1, 1]], 1.0),        # integers, opposite signs
    ([1e308], [-1e308], 1.0),           # no overflow in x - y
    ([], [], 0.0),
])
def test_rel_error_by_hand(x, y, expected):
    result = rel_error(x, y)
    assert isinstance(result, float)
    assert result == pytest.approx(expected, rel=1e-12)


def test_rel_error_is_symmetric_and_leaves_inputs_alone():
    x = np.array([1.0, 5.0, -2.0])
    y = np.array([1.5, 5.0, -1.0])
    x_copy, y_copy = x.copy(), y.copy()
    assert rel_error(x, y) == rel_error(y, x) == pytest.approx(1 / 3)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(y, y_copy)


def test_rel_error_propagates_nan():
    assert np.isnan(rel_error([1.0, np.nan], [1.0, 1.0]))
    assert np.isnan(rel_error([np.inf], [np.inf]))


@pytest.mark.parametrize("x, y, error", [
    (np.zeros(3), np.zeros(4), ValueError),
    (np.zeros((2, 3)), np.zeros(3), ValueError),
    (["a"], ["b"], TypeError),
    (np.zeros(2, dtype=complex), np.zeros(2), TypeError),
])
def test_rel_error_bad_inputs(x, y, error):
    with pytest.raises(error, match="rel_error"):
        rel_error(x, y)


# ---------------------------------------------------------------------------
# check_gradients
# ---------------------------------------------------------------------------

def small_problem(activation="relu", seed=0):
    rng = np.random.RandomState(seed)
    net = TwoLayerMLP(4, 6, 3, std=0.5, activation=activation, seed=seed)
    net.params["b1"][:] = rng.randn(6)
    net.params["b2"][:] = rng.randn(3)
    X = rng.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
@pytest.mark.parametrize("reg, penalty", [(0.0, "l2"), (0.1, "l2"), (0.1, "l1")])
def test_check_gradients_on_a_two_layer_net(activation, reg, penalty):
    net, X, y = small_problem(activation)
    errors = check_gradients(net, X, y, reg=reg, penalty=penalty)
    assert list(errors) == ["W1", "b1", "W2", "b2"]
    for name, error in errors.items():
        assert error < 1e-6, (name, error)


def test_check_gradients_leaves_the_net_and_data_unchanged():
    net, X, y = small_problem()
    arrays = dict(net.params)
    before = {name: p.tobytes() for name, p in net.params.items()}
    X_copy, y_copy = X.copy(), y.copy()
    check_gradients(net, X, y, reg=0.05)
    assert set(net.params) == set(before)
    for name, p in net.params.items():
        assert p is arrays[name]
        assert p.tobytes() == before[name]
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)


class HalfGradientB1(TwoLayerMLP):
    """A net whose backward pass gets the gradient of b1 wrong by a
    factor 2 (loss, which calls it, is the class's own)."""

    def backward(self, X, y, hidden, scores):
        grads = super().backward(X, y, hidden, scores)
        return dict(grads, b1=grads["b1"] / 2)


def test_check_gradients_catches_a_wrong_gradient():
    _, X, y = small_problem()
    net = HalfGradientB1(4, 6, 3, std=0.5, seed=0)
    net.params["b1"][:] = 0.3
    errors = check_gradients(net, X, y)
    # |g - g/2| / (|g| + |g/2|) = 1/3 wherever g is not tiny.
    assert errors["b1"] == pytest.approx(1 / 3, rel=1e-3)
    assert errors["W2"] < 1e-6 and errors["b2"] < 1e-6
    assert not errors.ok


class DoublePenaltyGradient(TwoLayerMLP):
    """A net whose add_penalty adds the penalty's gradient twice."""

    def add_penalty(self, loss, grads, reg, penalty="l2"):
        penalised, once = super().add_penalty(loss, grads, reg, penalty)
        _, twice = super().add_penalty(loss, once, reg, penalty)
        return penalised, twice


def test_check_gradients_catches_a_wrong_penalty_gradient():
    """Only with reg > 0, where loss calls add_penalty, and only for the
    weights, which the penalty adds to."""
    net, X, y = small_problem()
    double = DoublePenaltyGradient(4, 6, 3, std=0.5, seed=0)
    double.params = {name: p.copy() for name, p in net.params.items()}
    assert check_gradients(double, X, y, reg=0.0).ok
    errors = check_gradients(double, X, y, reg=0.5)
    assert errors["W1"] > 1e-3 and errors["W2"] > 1e-3
    assert errors["b1"] < 1e-6 and errors["b2"] < 1e-6


class BackwardNotWritten(TwoLayerMLP):
    """The handout's backward pass before the student writes it: every
    gradient is None (so that the loss can be checked first)."""

    def backward(self, X, y, hidden, scores):
        return dict.fromkeys(("W1", "b1", "W2", "b2"))


def test_check_gradients_says_the_backward_pass_is_not_written():
    net, X, y = small_problem()
    stub = BackwardNotWritten(4, 6, 3, std=0.5, seed=0)
    stub.params = net.params
    loss, grads = stub.loss(X, y)          # the loss alone can be checked
    assert loss == net.loss(X, y)[0]
    assert grads == dict.fromkeys(("W1", "b1", "W2", "b2"))
    with pytest.raises(NotImplementedError,
                       match=r"the backward pass is not implemented yet \(the "
                             r"gradients of W1, b1, W2, b2 are None\)"):
        check_gradients(stub, X, y)


class Quadratic:
    """Not a TwoLayerMLP: loss = sum(c * w**2) / 2 + reg * sum(w), grad known."""

    def __init__(self):
        self.params = {"w": np.array([1.0, -2.0, 3.0])}
        self.c = np.array([1.0, 2.0, 3.0])

    def loss(self, X, y, reg=0.0, scale=1.0):
        w = self.params["w"]
        loss = scale * (0.5 * np.sum(self.c * w ** 2) + reg * np.sum(w))
        return loss, {"w": scale * (self.c * w + reg)}


def test_check_gradients_passes_reg_and_loss_kwargs_through():
    net = Quadratic()
    errors = check_gradients(net, None, None, reg=0.5, scale=3.0)
    assert errors["w"] < 1e-8


@pytest.mark.parametrize("make, error, match", [
    (lambda: object(), TypeError, "params dict"),
    (lambda: TwoLayerMLP(4, 6, 3, dtype=np.float32), ValueError, "float64"),
])
def test_check_gradients_bad_nets(make, error, match):
    _, X, y = small_problem()
    with pytest.raises(error, match=match):
        check_gradients(make(), X, y)


def test_check_gradients_needs_labels():
    net, X, _ = small_problem()
    with pytest.raises(TypeError, match=r"\(loss, grads\)"):
        check_gradients(net, X, None)


def test_check_gradients_missing_gradient():
    net = Quadratic()
    net.params["v"] = np.zeros(2)
    with pytest.raises(ValueError, match="'v'"):
        check_gradients(net, None, None)
