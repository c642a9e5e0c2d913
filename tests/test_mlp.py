"""Behaviour of TwoLayerMLP: the reference numbers, gradients, training,
dtypes, prediction and the numerical safety of the activations."""
from pathlib import Path

import numpy as np
import pytest

import mlp
import toy
from mlp import TwoLayerMLP
from utils import check_gradients, eval_numerical_gradient

#: The problem set's toy problem (instructor/toy.py), and its sizes.
TOY = toy.TOY
SIZES = TOY.sizes


def toy_net(activation, **kwargs):
    np.random.seed(TOY.weight_seed)
    return TwoLayerMLP(*SIZES, std=TOY.std, activation=activation, **kwargs)


def toy_data():
    np.random.seed(TOY.data_seed)
    X = TOY.data_scale * np.random.randn(TOY.samples, TOY.inputs)
    y = np.array(TOY.labels)
    return X, y


def random_problem(D, H, C, N, activation="relu", seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    net = TwoLayerMLP(D, H, C, std=0.5, activation=activation, seed=seed,
                      dtype=dtype)
    # Non-zero biases so that their gradients are tested in general.
    net.params["b1"][:] = rng.randn(H)
    net.params["b2"][:] = rng.randn(C)
    X = rng.randn(N, D)
    y = rng.randint(C, size=N)
    return net, X, y


# ---------------------------------------------------------------------------
# Reference numbers of the problem set
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", toy.ACTIVATIONS)
def test_toy_loss_matches_reference(activation):
    """mlp.py's toy losses are the grader's reference's (instructor/toy.py
    computes them with instructor/reference.py), with and without the
    penalty, and so are the scores."""
    X, y = toy_data()
    numbers = toy.numbers()
    net = toy_net(activation)
    loss, _ = net.loss(X, y, reg=TOY.reg)
    assert abs(loss - numbers.loss[activation]) < 1e-12
    assert abs(net.loss(X, y)[0] - numbers.data_loss[activation]) < 1e-12
    np.testing.assert_allclose(net.loss(X), numbers.scores[activation],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
def test_toy_gradients_match_numeric(activation):
    X, y = toy_data()
    errors = check_gradients(toy_net(activation), X, y, reg=0.1)
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    for name in ("W1", "W2", "b2"):
        assert errors[name] < 1e-6, (name, errors[name])
    assert errors["b1"] < 1e-5


@pytest.mark.parametrize("activation", toy.ACTIVATIONS)
def test_toy_training_matches_reference(activation):
    """train with the toy's settings (Q2.3, Q2.4) ends at the reference's
    full-batch gradient descent's loss (instructor/toy.py)."""
    X, y = toy_data()
    net = toy_net(activation)
    run = TOY.training[activation]
    stats = net.train(X, y, X, y, learning_rate=run.learning_rate,
                      reg=run.reg, num_epochs=run.num_epochs)
    assert len(stats["loss_history"]) == run.num_epochs   # 1 full batch
    assert abs(stats["loss_history"][-1]
               - toy.numbers().trained[activation]) < 1e-9
    # Training really lowered the loss from its starting value.
    assert stats["loss_history"][-1] < stats["loss_history"][0] / 5


# ---------------------------------------------------------------------------
# Gradients on other problems
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
@pytest.mark.parametrize("penalty", sorted(mlp.PENALTIES))
@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("sizes", [(1, 1, 2, 1), (7, 5, 4, 9), (12, 3, 6, 2)])
def test_gradients_on_random_problems(activation, penalty, reg, sizes):
    D, H, C, N = sizes
    net, X, y = random_problem(D, H, C, N, activation,
                               seed=D * 100 + H * 10 + N)
    z1 = X @ net.params["W1"] + net.params["b1"]
    # Finite differences are meaningless across a ReLU kink or an L1 kink.
    assert np.abs(z1).min() > 1e-3
    assert min(np.abs(net.params["W1"]).min(),
               np.abs(net.params["W2"]).min()) > 1e-4
    errors = check_gradients(net, X, y, reg=reg, penalty=penalty)
    for name, err in errors.items():
        assert err < 1e-5, (name, err)


def test_check_gradients_would_catch_a_wrong_gradient(monkeypatch):
    """The gradient tests can fail: break the sigmoid derivative and see."""
    X, y = toy_data()
    monkeypatch.setitem(mlp.ACTIVATIONS, "sigmoid", (mlp.sigmoid, lambda h: h))
    errors = check_gradients(toy_net("sigmoid"), X, y, reg=0.1)
    assert errors["W1"] > 1e-2 and errors["b1"] > 1e-2
    assert not errors.ok


def test_penalty_terms_are_added_exactly():
    net, X, y = random_problem(6, 4, 3, 8, seed=3)
    W1, W2 = net.params["W1"], net.params["W2"]
    base, _ = net.loss(X, y, reg=0.0)
    l2, _ = net.loss(X, y, reg=0.7, penalty="l2")
    l1, _ = net.loss(X, y, reg=0.7, penalty="l1")
    assert l2 - base == pytest.approx(
        0.35 * ((W1 ** 2).sum() + (W2 ** 2).sum()), rel=1e-12)
    assert l1 - base == pytest.approx(
        0.7 * (np.abs(W1).sum() + np.abs(W2).sum()), rel=1e-12)


def test_biases_are_not_penalised():
    net, X, y = random_problem(5, 4, 3, 6, seed=4)
    _, g0 = net.loss(X, y, reg=0.0)
    for penalty in ("l1", "l2"):
        _, g = net.loss(X, y, reg=2.0, penalty=penalty)
        np.testing.assert_array_equal(g["b1"], g0["b1"])
        np.testing.assert_array_equal(g["b2"], g0["b2"])


def test_loss_matches_a_direct_computation():
    """Softmax cross-entropy written out the naive way, one sample at a time."""
    net, X, y = random_problem(5, 6, 4, 7, activation="sigmoid", seed=5)
    p = net.params
    total = 0.0
    for x_i, y_i in zip(X, y):
        h = 1.0 / (1.0 + np.exp(-(x_i @ p["W1"] + p["b1"])))
        s = h @ p["W2"] + p["b2"]
        total += -np.log(np.exp(s[y_i]) / np.exp(s).sum())
    loss, _ = net.loss(X, y)
    assert loss == pytest.approx(total / len(X), rel=1e-12)


def test_scores_without_labels():
    net, X, _ = random_problem(5, 6, 4, 7, seed=6)
    scores = net.loss(X)
    p = net.params
    expected = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    assert scores.shape == (7, 4)
    np.testing.assert_allclose(scores, expected, rtol=1e-13)


# ---------------------------------------------------------------------------
# loss composes forward, cross_entropy, backward and add_penalty
# ---------------------------------------------------------------------------

def record_the_parts(monkeypatch, net):
    """Wrap net's forward, backward and add_penalty and mlp.cross_entropy
    (which loss looks up when it runs) so that each call is recorded:
    [(part, args, result)] in the order of the calls."""
    calls = []

    def recorded(name, function):
        def wrapper(*args):
            result = function(*args)
            calls.append((name, args, result))
            return result
        return wrapper

    for name in ("forward", "backward", "add_penalty"):
        monkeypatch.setattr(net, name, recorded(name, getattr(net, name)))
    monkeypatch.setattr(mlp, "cross_entropy",
                        recorded("cross_entropy", mlp.cross_entropy))
    return calls


@pytest.mark.parametrize("penalty", sorted(mlp.PENALTIES))
def test_loss_goes_through_its_parts(monkeypatch, penalty):
    """loss(X) is forward's scores; loss(X, y) hands forward's hidden and
    scores to cross_entropy and backward, and, only when reg > 0, their
    loss and gradients to add_penalty; what it returns is what the last
    part returned."""
    net, X, y = random_problem(5, 4, 3, 6, activation="sigmoid", seed=26)
    calls = record_the_parts(monkeypatch, net)

    scores = net.loss(X)
    assert [name for name, _, _ in calls] == ["forward"]
    np.testing.assert_array_equal(calls[0][1][0], X)
    assert scores is calls[0][2][1]

    for reg in (0.0, 0.3):
        calls.clear()
        loss, grads = net.loss(X, y, reg=reg, penalty=penalty)
        parts = {name: (args, result) for name, args, result in calls}
        assert [name for name, _, _ in calls] == \
            ["forward", "cross_entropy", "backward"] + \
            (["add_penalty"] if reg else [])
        hidden, scores = parts["forward"][1]
        (ce_scores, ce_y), data_loss = parts["cross_entropy"]
        assert ce_scores is scores
        np.testing.assert_array_equal(ce_y, y)
        (bX, by, b_hidden, b_scores), data_grads = parts["backward"]
        np.testing.assert_array_equal(bX, X)
        np.testing.assert_array_equal(by, y)
        assert b_hidden is hidden and b_scores is scores
        if not reg:
            assert loss == data_loss and grads is data_grads
            continue
        (p_loss, p_grads, p_reg, p_penalty), result = parts["add_penalty"]
        assert p_loss == data_loss and p_grads is data_grads
        assert (p_reg, p_penalty) == (reg, penalty)
        assert loss == result[0] and grads is result[1]


def test_add_penalty_returns_new_gradients_and_leaves_its_input_alone():
    """add_penalty adds reg * P(W) to the loss and reg * P'(W) to the
    weights' gradients (not the biases'), in a new dict: the dict it is
    given, and the arrays in it, are left as they were."""
    net, X, y = random_problem(5, 4, 3, 6, seed=27)
    W1, W2 = net.params["W1"], net.params["W2"]
    loss0, grads0 = net.loss(X, y)
    arrays = dict(grads0)
    before = {name: g.copy() for name, g in grads0.items()}
    for penalty, (value, gradient) in sorted(mlp.PENALTIES.items()):
        loss, grads = net.add_penalty(loss0, grads0, 0.3, penalty)
        assert grads is not grads0
        assert list(grads0) == list(arrays)
        for name, g in grads0.items():
            assert g is arrays[name], name
            np.testing.assert_array_equal(g, before[name])
        assert loss == pytest.approx(
            loss0 + 0.3 * (value(W1) + value(W2)), rel=1e-12)
        for name, W in (("W1", W1), ("W2", W2)):
            np.testing.assert_allclose(
                grads[name], before[name] + 0.3 * gradient(W), rtol=1e-12)
        np.testing.assert_array_equal(grads["b1"], before["b1"])
        np.testing.assert_array_equal(grads["b2"], before["b2"])


# ---------------------------------------------------------------------------
# Numerical safety
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_exact_and_silent_for_huge_inputs(dtype):
    z = np.array([-1e4, -1000.0, -88.0, -30.0, -1.0, 0.0, 1.0, 30.0, 88.0,
                  1000.0, 1e4], dtype=dtype)
    # Any overflow would raise here; underflow to 0 is exact enough.
    with np.errstate(all="raise", under="ignore"):
        h = mlp.sigmoid(z)
    assert h.dtype == dtype
    # An independent formulation: sigmoid(z) = exp(-log(1 + exp(-z))).
    z64 = z.astype(np.float64)
    with np.errstate(under="ignore"):
        expected = np.exp(-np.logaddexp(0.0, -z64))
    np.testing.assert_allclose(h, expected,
                               rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert np.all((h >= 0) & (h <= 1))


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
def test_huge_inputs_give_finite_loss_without_warnings(activation):
    net, X, y = random_problem(6, 5, 4, 8, activation, seed=7)
    loss, grads = net.loss(1e4 * X, y, reg=0.1)
    assert np.isfinite(loss)
    assert all(np.isfinite(g).all() for g in grads.values())
    probs = net.predict_proba(1e4 * X)
    assert np.isfinite(probs).all()


def test_activation_derivatives_are_written_from_the_output():
    h = np.array([0.0, 0.25, 0.5, 0.9])
    np.testing.assert_array_equal(mlp.ACTIVATIONS["sigmoid"][1](h),
                                  h * (1 - h))
    np.testing.assert_array_equal(mlp.ACTIVATIONS["relu"][1](h),
                                  [False, True, True, True])


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
def test_each_derivative_matches_its_activation(activation):
    """Every table entry: f'(z), computed from h = f(z), is the slope of f
    (away from kinks)."""
    f, derivative = mlp.ACTIVATIONS[activation]
    z = np.linspace(-4, 4, 41) + 0.05          # no z exactly at 0
    slope = (f(z + 1e-6) - f(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(derivative(f(z)), slope, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("penalty", sorted(mlp.PENALTIES))
def test_each_penalty_gradient_matches_its_value(penalty):
    value, gradient = mlp.PENALTIES[penalty]
    W = np.random.RandomState(0).randn(4, 3)
    numeric = eval_numerical_gradient(lambda w: value(w), W, verbose=False)
    np.testing.assert_allclose(gradient(W), numeric, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------
# Construction
# ---------------------------------------------------------------------------

def test_initialisation_uses_global_generator_without_seed():
    np.random.seed(42)
    expected_W1 = 0.3 * np.random.randn(5, 4)
    expected_W2 = 0.3 * np.random.randn(4, 3)
    np.random.seed(42)
    net = TwoLayerMLP(5, 4, 3, std=0.3)
    np.testing.assert_array_equal(net.params["W1"], expected_W1)
    np.testing.assert_array_equal(net.params["W2"], expected_W2)
    np.testing.assert_array_equal(net.params["b1"], np.zeros(4))
    np.testing.assert_array_equal(net.params["b2"], np.zeros(3))


def test_integer_seed_is_private_and_reproducible():
    np.random.seed(7)
    state = np.random.get_state()[1].copy()
    a = TwoLayerMLP(5, 4, 3, std=0.3, seed=11)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    rng = np.random.RandomState(11)
    np.testing.assert_array_equal(a.params["W1"], 0.3 * rng.randn(5, 4))
    np.testing.assert_array_equal(a.params["W2"], 0.3 * rng.randn(4, 3))
    b = TwoLayerMLP(5, 4, 3, std=0.3, seed=11)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])


def test_unknown_activation_lists_the_choices():
    # Listed from the table, whatever it holds; the bad name has a space,
    # so it can never be a registered activation.
    listed = ".*".join(repr(name) for name in mlp.ACTIVATIONS)
    with pytest.raises(ValueError, match=f"activation.*{listed}"):
        TwoLayerMLP(4, 3, 2, activation="no such activation")


def test_repr_names_the_architecture():
    text = repr(TwoLayerMLP(4, 3, 2, activation="sigmoid", dtype=np.float32))
    assert "input_size=4" in text and "sigmoid" in text and "float32" in text


# ---------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
def test_float32_model_stays_float32(activation):
    net32, X, y = random_problem(6, 5, 4, 20, activation, seed=8,
                                 dtype=np.float32)
    for p in net32.params.values():
        assert p.dtype == np.float32
    # Float64 input is cast to the model's dtype, not the other way round.
    assert net32.loss(X).dtype == np.float32
    loss32, grads = net32.loss(X, y, reg=0.1)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert net32.predict_proba(X).dtype == np.float32
    stats = net32.train(X, y, X, y, learning_rate=0.1, reg=0.1,
                        num_epochs=3, batch_size=7, momentum=0.5)
    assert all(p.dtype == np.float32 for p in net32.params.values())
    assert len(stats["loss_history"]) == 6

    # The arithmetic really is single precision: the same parameters in
    # float64 give a loss that differs at float32 rounding level.
    net64, _, _ = random_problem(6, 5, 4, 20, activation, seed=8)
    for name in net64.params:
        net64.params[name] = net32.params[name].astype(np.float64)
    net32b, _, _ = random_problem(6, 5, 4, 20, activation, seed=8,
                                  dtype=np.float32)
    net32b.params = {k: v.copy() for k, v in net32.params.items()}
    l32, _ = net32b.loss(X, y, reg=0.1)
    l64, _ = net64.loss(X, y, reg=0.1)
    assert l32 != l64
    assert l32 == pytest.approx(l64, rel=1e-5)


def float_dtypes(value):
    """The dtypes of the floating-point arrays and NumPy scalars in value
    (through tuples, lists and dicts)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [dtype for item in value for dtype in float_dtypes(item)]
    if isinstance(value, (np.ndarray, np.floating)) and \
            value.dtype.kind == "f":
        return [value.dtype]
    return []


def test_float32_loss_is_computed_in_float32(monkeypatch):
    """Every array made inside the float32 loss is float32: spy on the
    activation, and on what each part of loss (forward, cross_entropy,
    backward, add_penalty) is given and returns."""
    seen = []
    original, derivative = mlp.ACTIVATIONS["sigmoid"]

    def spy(z):
        seen.append(z.dtype)
        out = original(z)
        seen.append(out.dtype)
        return out

    monkeypatch.setitem(mlp.ACTIVATIONS, "sigmoid", (spy, derivative))
    net, X, y = random_problem(6, 5, 4, 10, "sigmoid", seed=9,
                               dtype=np.float32)
    calls = record_the_parts(monkeypatch, net)
    for penalty in ("l1", "l2"):
        _, grads = net.loss(X, y, reg=0.5, penalty=penalty)   # X float64
        assert all(g.dtype == np.float32 for g in grads.values())
    assert seen and all(dt == np.float32 for dt in seen)
    assert sorted({name for name, _, _ in calls}) == [
        "add_penalty", "backward", "cross_entropy", "forward"]
    for name, args, result in calls:
        dtypes = float_dtypes([args, result])
        assert dtypes and all(dt == np.float32 for dt in dtypes), \
            (name, dtypes)


def test_unsupported_dtype_is_rejected():
    with pytest.raises(ValueError, match="dtype"):
        TwoLayerMLP(4, 3, 2, dtype=np.float16)
    with pytest.raises(ValueError, match="dtype"):
        TwoLayerMLP(4, 3, 2, dtype=int)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

def test_history_layout_and_counts():
    net, X, y = random_problem(6, 5, 3, 23, seed=10)
    Xv, yv = X[:9], y[:9]
    stats = net.train(X, y, Xv, yv, learning_rate=0.05, num_epochs=4,
                      batch_size=5)
    assert stats is net.history_
    assert len(stats["loss_history"]) == 4 * (23 // 5)
    assert len(stats["grad_magnitude_history"]) == 4 * (23 // 5)
    assert len(stats["train_acc_history"]) == 4
    assert len(stats["val_acc_history"]) == 4
    # The last accuracies are those of the final parameters; with fewer
    # than 1,000 samples the training accuracy is taken on all of them.
    assert stats["val_acc_history"][-1] == np.mean(net.predict(Xv) == yv)
    assert stats["train_acc_sample_size"] == 23
    assert stats["train_acc_history"][-1] == np.mean(net.predict(X) == y)


def test_training_accuracy_uses_a_fixed_sample_of_1000():
    """With more than 1,000 samples the training accuracy is measured on a
    fixed sample of 1,000 of them, and drawing it changes nothing else."""
    rng = np.random.RandomState(5)
    X, y = rng.randn(1500, 3), rng.randint(2, size=1500)
    nets = [TwoLayerMLP(3, 4, 2, std=0.5, seed=2) for _ in range(2)]
    stats = nets[0].train(X, y, learning_rate=0.1, num_epochs=2,
                          batch_size=100, seed=3)
    assert stats["train_acc_sample_size"] == 1000
    for acc in stats["train_acc_history"]:      # a share of 1,000 samples
        assert acc * 1000 == pytest.approx(round(acc * 1000), abs=1e-9)
    # The minibatch order is that of RandomState(seed) alone: a replay
    # without any sampling gives the same loss history.
    losses, _ = replay_training(nets[1], X, y, learning_rate=0.1, decay=0.95,
                                reg=1e-5, penalty="l2", momentum=0.0,
                                num_epochs=2, batch_size=100, seed=3)
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=1e-12)


def test_first_step_records_loss_and_w1_gradient_norm():
    net, X, y = random_problem(6, 5, 3, 8, seed=11)
    loss0, grads0 = net.loss(X, y, reg=0.01)
    stats = net.train(X, y, X, y, learning_rate=0.1, reg=0.01, num_epochs=1,
                      batch_size=100)
    assert stats["loss_history"][0] == pytest.approx(loss0, rel=1e-12)
    assert stats["grad_magnitude_history"][0] == pytest.approx(
        np.sqrt((grads0["W1"] ** 2).sum()), rel=1e-12)


def test_sgd_steps_and_learning_rate_decay_by_hand():
    """Two epochs of two minibatches each: the step size is lr during the
    first epoch and lr * decay during the second, and each epoch follows
    RandomState(seed).permutation."""
    net, X, y = random_problem(6, 5, 3, 8, seed=12)
    twin, _, _ = random_problem(6, 5, 3, 8, seed=12)
    lr, decay, reg = 0.2, 0.5, 0.03
    rng = np.random.RandomState(3)
    for epoch in range(2):
        order = rng.permutation(8)
        for batch in (order[:4], order[4:]):
            _, g = twin.loss(X[batch], y[batch], reg=reg)
            for name in twin.params:
                twin.params[name] = (twin.params[name]
                                     - lr * decay ** epoch * g[name])
    net.train(X, y, X, y, learning_rate=lr, learning_rate_decay=decay,
              reg=reg, num_epochs=2, batch_size=4, seed=3)
    for name in net.params:
        np.testing.assert_allclose(net.params[name], twin.params[name],
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_momentum_steps_by_hand(dtype):
    """Classical momentum, v = mu v - lr grad; param += v, replayed with the
    clear loss; and the velocity is kept in the model's dtype."""
    net, X, y = random_problem(6, 5, 3, 8, seed=13, dtype=dtype)
    twin, _, _ = random_problem(6, 5, 3, 8, seed=13, dtype=dtype)
    lr, mu = 0.1, 0.9
    velocity = {k: np.zeros_like(v) for k, v in twin.params.items()}
    rng = np.random.RandomState(1)      # train's default seed
    for _ in range(3):
        order = rng.permutation(8)
        _, g = twin.loss(X[order], y[order], reg=0.0)
        for name in twin.params:
            velocity[name] = mu * velocity[name] - lr * g[name]
            twin.params[name] = twin.params[name] + velocity[name]

    net.train(X, y, X, y, learning_rate=lr, learning_rate_decay=1.0, reg=0.0,
              num_epochs=3, batch_size=8, momentum=mu)
    tolerance = (dict(rtol=1e-12, atol=1e-14) if dtype == np.float64
                 else dict(rtol=1e-5, atol=1e-6))
    for name in net.params:
        assert net.params[name].dtype == dtype
        np.testing.assert_allclose(net.params[name], twin.params[name],
                                   **tolerance)


class RecordingMLP(TwoLayerMLP):
    """Records the minibatches that train() passes to loss()."""

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is not None:
            self.seen.append(np.array(X, copy=True))
        return super().loss(X, y, reg=reg, penalty=penalty)


def test_each_epoch_reshuffles_with_the_given_seed():
    """Minibatches follow np.random.RandomState(seed).permutation per epoch."""
    _, X, y = random_problem(4, 3, 2, 6, seed=14)
    net = RecordingMLP(4, 3, 2, std=0.5, seed=14)
    net.seen = seen = []
    net.train(X, y, X, y, num_epochs=2, batch_size=2, seed=5)
    rng = np.random.RandomState(5)
    expected = []
    for _ in range(2):
        order = rng.permutation(6)
        expected += [X[order[i:i + 2]] for i in (0, 2, 4)]
    assert len(seen) == 6
    for got, want in zip(seen, expected):
        np.testing.assert_array_equal(got, want)


def test_training_is_deterministic():
    runs = []
    for _ in range(2):
        net, X, y = random_problem(6, 5, 3, 40, seed=15)
        stats = net.train(X, y, X[:10], y[:10], learning_rate=0.1,
                          num_epochs=3, batch_size=8, momentum=0.5)
        runs.append((stats, net.params))
    (s1, p1), (s2, p2) = runs
    assert s1 == s2     # lists of floats, compared exactly
    for name in p1:
        np.testing.assert_array_equal(p1[name], p2[name])


def test_zero_epochs_changes_nothing():
    net, X, y = random_problem(4, 3, 2, 6, seed=16)
    before = {k: v.copy() for k, v in net.params.items()}
    stats = net.train(X, y, X, y, num_epochs=0)
    assert stats == {"loss_history": [], "grad_magnitude_history": [],
                     "train_acc_history": [], "val_acc_history": [],
                     "train_acc_sample_size": 6}
    for name in before:
        np.testing.assert_array_equal(net.params[name], before[name])


def test_training_without_validation_set():
    net, X, y = random_problem(4, 3, 2, 6, seed=17)
    twin, _, _ = random_problem(4, 3, 2, 6, seed=17)
    stats = net.train(X, y, num_epochs=2, batch_size=3)     # no X_val, y_val
    assert stats["val_acc_history"] == []
    assert len(stats["train_acc_history"]) == 2
    # The same training as with an explicit "no validation set".
    twin_stats = twin.train(X, y, None, None, num_epochs=2, batch_size=3)
    assert stats == twin_stats


def test_verbose_prints_one_line_per_epoch(capsys):
    net, X, y = random_problem(4, 3, 2, 6, seed=18)
    net.train(X, y, X, y, num_epochs=3, batch_size=3, verbose=True)
    stats = net.history_
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3")
    # The line reports the epoch's last loss and its accuracies, saying
    # what the training accuracy was measured on.
    last = lines[-1]
    assert f"loss {stats['loss_history'][-1]:.4g}," in last
    assert (f"train acc {stats['train_acc_history'][-1]:.4f} "
            f"(on 6 training samples)") in last
    assert f"val acc {stats['val_acc_history'][-1]:.4f}" in last
    assert last.endswith(" s")


def test_verbose_loss_is_compact_at_any_size(capsys):
    """A huge loss prints as 1.16e+304, not as 300 digits."""
    class HugeLoss(TwoLayerMLP):
        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            result = super().loss(X, y, reg=reg, penalty=penalty)
            return result if y is None else (1.16e304, result[1])

    _, X, y = random_problem(4, 3, 2, 6, seed=18)
    HugeLoss(4, 3, 2, std=0.5, seed=0).train(X, y, num_epochs=1,
                                             verbose=True)
    line = capsys.readouterr().out
    assert "loss 1.16e+304," in line and len(line) < 150


def test_silent_by_default(capsys):
    net, X, y = random_problem(4, 3, 2, 6, seed=18)
    net.train(X, y, X, y, num_epochs=2)
    assert capsys.readouterr().out == ""


def test_inputs_are_not_modified():
    net, X, y = random_problem(5, 4, 3, 12, seed=19)
    X32 = X.astype(np.float32)
    X.flags.writeable = False      # any write would raise
    y.flags.writeable = False
    copies = [X.copy(), y.copy(), X32.copy()]
    net.loss(X, y, reg=0.1)
    net.train(X, y, X32, y, num_epochs=2, batch_size=4, reg=0.1)
    net.predict(X)
    net.predict_proba(X32)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(y, copies[1])
    np.testing.assert_array_equal(X32, copies[2])


def test_astronomical_inputs_raise_instead_of_returning_nan():
    net, X, y = random_problem(6, 5, 4, 8, "relu", seed=25)
    X = np.full_like(X, 1e308)
    for call in (net.loss, net.predict, net.predict_proba,
                 lambda X: net.loss(X, y)):
        with pytest.raises(FloatingPointError, match="rescale"):
            call(X)


def test_saturated_sigmoid_stays_exact_for_astronomical_inputs():
    """sigmoid(+-inf) is exactly 1 or 0 and its slope exactly 0, so a
    sigmoid net still gives finite, correct results: no error is raised."""
    net, X, y = random_problem(6, 5, 4, 8, "sigmoid", seed=25)
    X = np.full_like(X, 1e308)
    # Every row of X @ W1 is 1e308 * (column sums of W1): +-inf.
    hidden = (np.sign(net.params["W1"].sum(axis=0)) + 1) / 2
    expected = hidden @ net.params["W2"] + net.params["b2"]
    np.testing.assert_allclose(net.loss(X)[0], expected, rtol=1e-12)
    loss, grads = net.loss(X, y)
    assert np.isfinite(loss)
    np.testing.assert_array_equal(grads["W1"], 0.0)     # saturated units


def test_lists_and_integer_inputs_are_accepted():
    net = TwoLayerMLP(3, 4, 2, std=0.5, seed=0)
    X = [[0, 1, 2], [3, 4, 5]]
    y = [0.0, 1.0]                 # whole-number floats are fine labels
    loss, _ = net.loss(X, y)
    loss_arr, _ = net.loss(np.array(X, dtype=float), np.array([0, 1]))
    assert loss == loss_arr


# ---------------------------------------------------------------------------
# Divergence
# ---------------------------------------------------------------------------

def test_divergence_raises_and_keeps_finite_parameters():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(200, 30)).astype(float)   # pixel scale
    y = rng.randint(10, size=200)
    net = TwoLayerMLP(30, 20, 10, std=0.1, seed=0)
    with pytest.raises(FloatingPointError) as info:
        # With reg=0.5 each step scales the weights by (1 - 10 * 0.5) = -4.
        net.train(X, y, X, y, learning_rate=10.0, reg=0.5, num_epochs=20,
                  batch_size=20)
    message = str(info.value)
    assert "epoch" in message and "iteration" in message
    assert "smaller learning_rate" in message
    assert all(np.isfinite(p).all() for p in net.params.values())
    # The history so far is kept, and the model still predicts.
    assert all(np.isfinite(net.history_["loss_history"]))
    assert net.predict(X).shape == (200,)


class ScriptedLoss(TwoLayerMLP):
    """A network whose minibatch losses are given in advance (gradients
    of 1): train's divergence rule can be tested at its threshold."""

    def __init__(self, losses, num_classes):
        super().__init__(3, 2, num_classes, seed=0)
        self.losses = list(losses)

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            return super().loss(X)
        return self.losses.pop(0), {k: np.ones_like(v)
                                    for k, v in self.params.items()}


@pytest.mark.parametrize("first, num_classes, limit", [
    (2.0, 10, 1000 * np.log(10)),    # from ln C: nothing learned yet
    (5.0, 10, 5000.0),               # from the first loss, the larger
    (0.01, 2, 1000 * np.log(2)),     # a network trained before
])
def test_training_stops_when_the_loss_grows_a_thousandfold(first,
                                                           num_classes,
                                                           limit):
    """The documented rule: a minibatch loss over 1000 times the larger of
    the first minibatch's loss and ln C stops train before that step,
    with the message an overflow gives; a loss at the limit does not."""
    assert mlp._checks.DIVERGENCE_FACTOR == 1000
    X, y = np.zeros((4, 3)), np.zeros(4, dtype=int)
    below = ScriptedLoss([first, limit * 0.999, limit * 0.5], num_classes)
    below.train(X, y, learning_rate=0.1, num_epochs=3, batch_size=4)
    assert len(below.history_["loss_history"]) == 3

    net = ScriptedLoss([first, limit * 0.999, limit * 1.001, 1.0],
                       num_classes)
    with pytest.raises(FloatingPointError) as info:
        net.train(X, y, learning_rate=0.1, learning_rate_decay=1.0,
                  num_epochs=4, batch_size=4)
    message = str(info.value)
    assert message.startswith("training diverged at epoch 3, iteration 1: "
                              "the loss grew to ")
    assert "over 1000 times the loss training started from" in message
    assert "That step was not taken" in message
    assert "Try a smaller learning_rate (it was 0.1" in message
    # Two steps of -0.1 each were taken, the third was not.
    assert np.allclose(net.params["b2"], -0.2)
    assert len(net.history_["loss_history"]) == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_batch_divergence_raises_without_warnings(dtype):
    """Pixel-scale inputs and a far too large step: the error must come as
    a FloatingPointError, never as an overflow warning (warnings are
    errors in this test suite)."""
    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, size=(200, 30)).astype(float)
    y = rng.randint(10, size=200)
    net = TwoLayerMLP(30, 20, 10, std=0.1, seed=0, dtype=dtype)
    with pytest.raises(FloatingPointError, match="diverged"):
        net.train(X, y, X, y, learning_rate=10.0, learning_rate_decay=1.0,
                  reg=0.5, num_epochs=1000, batch_size=200)
    assert all(np.isfinite(p).all() for p in net.params.values())
    # Every accuracy recorded comes from finite scores.
    assert len(net.history_["val_acc_history"]) >= 1


def test_overflowing_update_is_not_applied():
    """Finite gradients, but a step so large that the new weights would be
    infinite: refused, and the weights are those from before the step."""
    X, y = toy_data()
    X = 100 * X
    net = toy_net("relu")
    _, grads = net.loss(X, y, reg=1e-5)
    assert max(np.abs(g).max() for g in grads.values()) > 2  # lr * 2 = inf
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(FloatingPointError, match="would make .* overflow"):
        net.train(X, y, X, y, learning_rate=1e308, num_epochs=5)
    assert net.history_["loss_history"] == []
    for name in before:
        np.testing.assert_array_equal(net.params[name], before[name])


def test_failing_step_is_not_applied():
    X, y = toy_data()
    reference = toy_net("relu")
    reference.train(X, y, X, y, learning_rate=0.1, num_epochs=2)

    class ThirdStepFails(TwoLayerMLP):
        """loss() is the one train() runs: a NaN it returns stops training."""
        calls = 0

        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            result = super().loss(X, y, reg=reg, penalty=penalty)
            if y is not None:
                ThirdStepFails.calls += 1
                if ThirdStepFails.calls == 3:
                    result[1]["b2"][0] = np.nan
            return result

    np.random.seed(TOY.weight_seed)
    net = ThirdStepFails(*SIZES, std=TOY.std, activation="relu")
    with pytest.raises(FloatingPointError, match="epoch 3, iteration 1.*b2"):
        net.train(X, y, X, y, learning_rate=0.1, num_epochs=5)
    for name in net.params:
        np.testing.assert_array_equal(net.params[name],
                                      reference.params[name])
    assert len(net.history_["loss_history"]) == 2


# ---------------------------------------------------------------------------
# Prediction and save/load
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_and_probabilities(dtype):
    net, X, _ = random_problem(6, 5, 4, 30, "sigmoid", seed=20, dtype=dtype)
    probs = net.predict_proba(X)
    pred = net.predict(X)
    assert probs.shape == (30, 4) and pred.shape == (30,)
    assert pred.dtype == np.int64
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0,
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(pred, probs.argmax(axis=1))
    np.testing.assert_array_equal(pred, net.loss(X).argmax(axis=1))


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trip(tmp_path, activation, dtype):
    net, X, y = random_problem(6, 5, 4, 30, activation, seed=21, dtype=dtype)
    net.train(X, y, X, y, learning_rate=0.1, num_epochs=2, batch_size=10)
    written = net.save(tmp_path / "model")
    assert written == tmp_path / "model.npz" and written.is_file()
    loaded = TwoLayerMLP.load(written)
    assert loaded.activation == activation and loaded.dtype == dtype
    assert (loaded.input_size, loaded.hidden_size, loaded.output_size) == \
        (6, 5, 4)
    for name in net.params:
        assert loaded.params[name].dtype == dtype
        np.testing.assert_array_equal(loaded.params[name], net.params[name])
    np.testing.assert_array_equal(loaded.predict_proba(X),
                                  net.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def _write_npz(path, **fields):
    with open(path, "wb") as f:
        np.savez(f, **fields)
    return path


def _good_fields(net):
    return dict(format_version=np.int64(1), sizes=np.array([6, 5, 4]),
                activation=np.array("relu"), **net.params)


@pytest.mark.parametrize("change, message", [
    (lambda f: f.pop("W2"), "missing W2"),
    (lambda f: f.update(W1=np.zeros((5, 6))), "W1 has shape"),
    (lambda f: f.update(b2=np.zeros(4, dtype=np.float32)), "b2 has dtype"),
    (lambda f: f.update(W1=np.zeros((6, 5), dtype=np.int32)), "W1 has dtype"),
    (lambda f: f.update(activation=np.array("no such activation")),
     "activation"),
    (lambda f: f.update(sizes=np.array([6, 5])), "sizes"),
    (lambda f: f.update(sizes=np.array([6, -5, 4])), "sizes"),
    (lambda f: f.update(sizes=np.array([6.0, 5.0, 4.0])), "sizes"),
    (lambda f: f.update(b1=np.full(5, np.nan)), "NaN"),
    (lambda f: f.update(format_version=np.int64(99)), "format_version"),
])
def test_load_rejects_malformed_files(tmp_path, change, message):
    net, _, _ = random_problem(6, 5, 4, 3, seed=22)
    fields = _good_fields(net)
    change(fields)
    path = _write_npz(tmp_path / "bad.npz", **fields)
    with pytest.raises(ValueError, match=message):
        TwoLayerMLP.load(path)


def test_load_refuses_pickled_objects(tmp_path):
    net, _, _ = random_problem(6, 5, 4, 3, seed=22)
    fields = _good_fields(net)
    # An object array where a float array belongs: only a pickle could
    # restore it, and pickles are refused.
    fields["b1"] = np.array([0.0, None, 0.0, 0.0, 0.0], dtype=object)
    path = _write_npz(tmp_path / "pickled.npz", **fields)
    with pytest.raises(ValueError, match="not a valid TwoLayerMLP.*pickle"):
        TwoLayerMLP.load(path)


def test_save_and_load_agree_on_the_file_name(tmp_path):
    net, X, _ = random_problem(6, 5, 4, 3, seed=23)
    net.save(tmp_path / "model")
    loaded = TwoLayerMLP.load(tmp_path / "model")     # finds model.npz
    np.testing.assert_array_equal(loaded.predict_proba(X),
                                  net.predict_proba(X))


def test_load_converts_to_native_byte_order(tmp_path):
    net, X, _ = random_problem(6, 5, 4, 3, seed=24, dtype=np.float32)
    fields = _good_fields(net)
    for name in ("W1", "b1", "W2", "b2"):
        fields[name] = fields[name].astype(">f4")
    loaded = TwoLayerMLP.load(_write_npz(tmp_path / "big.npz", **fields))
    assert loaded.dtype == np.dtype(np.float32)
    assert loaded.dtype.isnative
    for name in ("W1", "b1", "W2", "b2"):
        assert loaded.params[name].dtype.isnative, name
        np.testing.assert_array_equal(loaded.params[name], net.params[name])


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
def test_a_saved_file_holds_the_parameters_as_they_are(tmp_path,
                                                       activation):
    """Read with NumPy alone, not with load(): every array is the network's
    own, with its shape, so that anyone can use the file."""
    net, X, y = random_problem(6, 5, 4, 30, activation, seed=25)
    net.train(X, y, learning_rate=0.1, num_epochs=2, batch_size=10)
    with np.load(net.save(tmp_path / "model"), allow_pickle=False) as saved:
        for name, value in net.params.items():
            assert saved[name].shape == value.shape, name
            np.testing.assert_array_equal(saved[name], value)
        np.testing.assert_array_equal(saved["sizes"], [6, 5, 4])
        assert str(saved["activation"]) == activation


def test_load_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        TwoLayerMLP.load(tmp_path / "nothing.npz")
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a valid TwoLayerMLP") as info:
        TwoLayerMLP.load(text)
    assert "not an .npz archive (a zip file)" in str(info.value)
    assert "pickle" not in str(info.value)
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="it is empty"):
        TwoLayerMLP.load(tmp_path / "empty.npz")
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="a single .npy array, not an .npz"):
        TwoLayerMLP.load(single)
    net, _, _ = random_problem(6, 5, 4, 3, seed=22)
    good = net.save(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a valid TwoLayerMLP"):
        TwoLayerMLP.load(truncated)


# ---------------------------------------------------------------------------
# A real data set that needs no download
# ---------------------------------------------------------------------------

def test_digits_accuracy_float64_and_float32():
    from sklearn.datasets import load_digits
    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    order = np.random.RandomState(0).permutation(len(X))
    cut = int(0.8 * len(X))
    train, test = order[:cut], order[cut:]
    accuracy = {}
    for dtype in (np.float64, np.float32):
        net = TwoLayerMLP(64, 64, 10, std=np.sqrt(2 / 64), seed=0,
                          dtype=dtype)
        net.train(X[train], y[train], X[test], y[test], learning_rate=0.1,
                  learning_rate_decay=0.98, reg=1e-4, num_epochs=50,
                  batch_size=50)
        accuracy[dtype] = np.mean(net.predict(X[test]) == y[test])
    assert accuracy[np.float64] >= 0.95
    assert abs(accuracy[np.float32] - accuracy[np.float64]) <= 0.01


# ---------------------------------------------------------------------------
# The training step is the clear loss, only with preallocated buffers
# ---------------------------------------------------------------------------

def replay_training(net, X, y, learning_rate, decay, reg, penalty, momentum,
                    num_epochs, batch_size, seed, max_steps=None):
    """SGD written out with the public, clear net.loss: the reference that
    train's faster step must reproduce (stopping after max_steps steps)."""
    rng = np.random.RandomState(seed)
    velocity = {k: np.zeros_like(v) for k, v in net.params.items()}
    losses, norms = [], []
    for _ in range(num_epochs):
        order = rng.permutation(len(X))
        for it in range(max(len(X) // batch_size, 1)):
            if len(losses) == max_steps:
                return losses, norms
            batch = order[it * batch_size:(it + 1) * batch_size]
            loss, grads = net.loss(X[batch], y[batch], reg=reg,
                                   penalty=penalty)
            losses.append(loss)
            norms.append(np.linalg.norm(grads["W1"]))
            for name, param in net.params.items():
                velocity[name] = momentum * velocity[name] \
                    - learning_rate * grads[name]
                param += velocity[name]
        learning_rate *= decay
    return losses, norms


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
@pytest.mark.parametrize("penalty", sorted(mlp.PENALTIES))
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_training_step_matches_the_clear_loss(activation, penalty, momentum):
    rng = np.random.RandomState(30)
    X = rng.rand(120, 20) * 4 - 1
    y = rng.randint(5, size=120)
    settings = dict(learning_rate=0.05, reg=0.01, penalty=penalty,
                    momentum=momentum, num_epochs=4, batch_size=25, seed=7)
    fast = TwoLayerMLP(20, 16, 5, std=0.3, activation=activation, seed=3)
    clear = TwoLayerMLP(20, 16, 5, std=0.3, activation=activation, seed=3)
    stats = fast.train(X, y, None, None, learning_rate_decay=0.9, **settings)
    losses, norms = replay_training(clear, X, y, decay=0.9, **settings)
    assert len(stats["loss_history"]) == len(losses) == 16
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=1e-12)
    np.testing.assert_allclose(stats["grad_magnitude_history"], norms,
                               rtol=1e-12)
    for name in fast.params:
        np.testing.assert_allclose(fast.params[name], clear.params[name],
                                   rtol=1e-12, atol=1e-14)


def test_float32_training_step_matches_the_clear_loss():
    rng = np.random.RandomState(31)
    X = rng.rand(120, 20).astype(np.float32)
    y = rng.randint(5, size=120)
    settings = dict(learning_rate=0.05, reg=0.01, penalty="l2", momentum=0.5,
                    num_epochs=3, batch_size=30, seed=7)
    fast = TwoLayerMLP(20, 16, 5, std=0.3, seed=3, dtype=np.float32)
    clear = TwoLayerMLP(20, 16, 5, std=0.3, seed=3, dtype=np.float32)
    stats = fast.train(X, y, None, None, learning_rate_decay=1.0, **settings)
    losses, _ = replay_training(clear, X, y, decay=1.0, **settings)
    np.testing.assert_allclose(stats["loss_history"], losses, rtol=1e-5)
    for name in fast.params:
        assert fast.params[name].dtype == np.float32
        np.testing.assert_allclose(fast.params[name], clear.params[name],
                                   rtol=1e-5, atol=1e-6)


def test_training_replaces_the_parameters_and_leaves_old_arrays_alone():
    """Each step binds new arrays to params: arrays that a caller took out
    of params before training keep their values."""
    net, X, y = random_problem(6, 5, 3, 20, seed=32)
    arrays = dict(net.params)
    before = {k: v.copy() for k, v in arrays.items()}
    net.train(X, y, None, None, learning_rate=0.1, num_epochs=2,
              batch_size=5)
    for name, array in arrays.items():
        np.testing.assert_array_equal(array, before[name])
        assert not np.array_equal(net.params[name], before[name])
        assert net.params[name].dtype == array.dtype


@pytest.mark.parametrize("name, value, message", [
    ("W1", np.zeros((6, 5), dtype=np.float32), "float64 array of shape"),
    ("b1", np.zeros(4), "shape"),
    ("W2", [[0.0] * 3] * 5, "list"),
    ("b2", np.full(3, np.nan), "NaN"),
])
def test_training_refuses_parameters_replaced_by_bad_ones(name, value,
                                                          message):
    net, X, y = random_problem(6, 5, 3, 20, seed=33)
    net.params[name] = value
    with pytest.raises(ValueError, match=message):
        net.train(X, y, None, None, num_epochs=1)


# ---------------------------------------------------------------------------
# Interrupted training: Ctrl-C at any point leaves a consistent model
# ---------------------------------------------------------------------------

INTERRUPT_SETTINGS = dict(learning_rate=0.05, reg=0.01, penalty="l2",
                          momentum=0.5, num_epochs=3, batch_size=10, seed=4)


def interrupt_problem():
    rng = np.random.RandomState(40)
    X = rng.randn(40, 6)
    y = rng.randint(3, size=40)
    return TwoLayerMLP(6, 5, 3, std=0.3, seed=9), X, y


def interrupt_at(net, method, call, before=True):
    """Make net.<method> raise KeyboardInterrupt on its call-th call, before
    or after doing its work. For loss, only the training steps' calls
    (with labels) count."""
    original = getattr(net, method)
    calls = []

    def wrapper(X, *args, **kwargs):
        counted = method != "loss" or args or kwargs.get("y") is not None
        calls.extend([1] if counted else [])
        if counted and before and len(calls) == call:
            raise KeyboardInterrupt
        result = original(X, *args, **kwargs)
        if counted and not before and len(calls) == call:
            raise KeyboardInterrupt
        return result

    setattr(net, method, wrapper)


@pytest.mark.parametrize("method, call, before, completed, epochs", [
    ("loss", 1, True, 0, 0),        # before the first step
    ("loss", 6, True, 5, 1),        # mid-epoch
    ("loss", 9, True, 8, 2),        # first step of the third epoch
    ("loss", 3, False, 2, 0),       # gradients computed, update not taken
    ("predict", 1, True, 4, 0),     # the training accuracy of epoch 1
    ("predict", 2, True, 4, 0),     # between the two accuracies of epoch 1
    ("predict", 4, False, 8, 1),    # end of the second epoch
])
def test_interrupted_training_keeps_the_last_completed_step(
        method, call, before, completed, epochs):
    net, X, y = interrupt_problem()
    interrupt_at(net, method, call, before)
    with pytest.raises(KeyboardInterrupt):
        net.train(X, y, X, y, learning_rate_decay=0.9, **INTERRUPT_SETTINGS)

    # The parameters are exactly those after `completed` steps, and the
    # history records exactly those steps.
    reference, _, _ = interrupt_problem()
    losses, _ = replay_training(reference, X, y, decay=0.9,
                                max_steps=completed, **INTERRUPT_SETTINGS)
    assert len(losses) == completed
    for name in reference.params:
        np.testing.assert_allclose(net.params[name], reference.params[name],
                                   rtol=1e-12, atol=1e-14)
    history = net.history_
    np.testing.assert_allclose(history["loss_history"], losses, rtol=1e-12)
    assert len(history["grad_magnitude_history"]) == completed
    # An epoch's record is written whole (both accuracies) or not at all.
    assert len(history["train_acc_history"]) == epochs
    assert len(history["val_acc_history"]) == epochs
    # The model is still usable, and training can simply be started again.
    assert net.predict(X).shape == (40,)
    del net.__dict__[method]             # remove the interrupting wrapper
    net.train(X, y, None, None, num_epochs=1)


def test_training_on_a_single_sample():
    net = TwoLayerMLP(3, 4, 2, std=0.5, seed=0)
    X, y = np.array([[1.0, -2.0, 0.5]]), np.array([1])
    stats = net.train(X, y, X, y, learning_rate=0.5, num_epochs=20)
    assert len(stats["loss_history"]) == 20
    assert stats["loss_history"][-1] < stats["loss_history"][0]
    assert stats["val_acc_history"][-1] == 1.0


class _Payload:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_load_never_runs_code_from_the_file(tmp_path):
    net, _, _ = random_problem(6, 5, 4, 3, seed=22)
    marker = tmp_path / "code_ran"
    fields = _good_fields(net)
    fields["W1"] = np.array([_Payload(marker)], dtype=object)
    path = tmp_path / "evil.npz"
    with open(path, "wb") as f:
        np.savez(f, **fields)             # object arrays are pickled
    with pytest.raises(ValueError, match="not a valid TwoLayerMLP"):
        TwoLayerMLP.load(path)
    assert not marker.exists()


def test_divergence_on_real_mnist_keeps_a_usable_model(mnist_dir):
    """The problem set's network on raw MNIST pixels with a learning rate
    10,000 times too large: a FloatingPointError, and a model that still
    holds finite parameters and predicts."""
    from utils import get_MNIST_data
    X, y, X_val, y_val, _, _ = get_MNIST_data(
        num_training=2000, num_validation=500, num_test=0,
        data_dir=mnist_dir, normalize=None, progress=False)
    net = TwoLayerMLP(784, 64, 10, std=0.1, seed=0)
    with pytest.raises(FloatingPointError, match="smaller learning_rate"):
        net.train(X, y, X_val, y_val, learning_rate=10.0, reg=0.5,
                  num_epochs=20, batch_size=100)
    assert all(np.isfinite(p).all() for p in net.params.values())
    assert len(net.history_["loss_history"]) >= 1
    assert np.isfinite(net.history_["loss_history"]).all()
    # Predicting with the blown-up weights either works or says that the
    # weights are the problem (not the inputs).
    try:
        assert net.predict(X_val).shape == (500,)
    except FloatingPointError as error:
        assert "parameters" in str(error) and "learning_rate" in str(error)
        assert "rescale" not in str(error)


@pytest.mark.parametrize("learning_rate", [0.1, 1.0])
def test_a_far_too_large_learning_rate_on_mnist_stops_at_once(
        mnist_dir, learning_rate):
    """The problem set's ReLU network and settings (raw pixels, reg 0.5)
    with a learning rate 100 or 1000 times its own: the loss explodes
    without overflowing, and train says so within the first epoch."""
    from utils import get_MNIST_data
    X, y, _, _, _, _ = get_MNIST_data(
        num_training=2000, num_validation=0, num_test=0, data_dir=mnist_dir,
        progress=False)
    net = TwoLayerMLP(784, 64, 10, std=0.1, activation="relu", seed=0)
    with pytest.raises(FloatingPointError, match=(
            r"diverged at epoch 1, iteration \d+: the loss grew to .* "
            r"Try a smaller learning_rate")):
        net.train(X, y, learning_rate=learning_rate, reg=0.5, num_epochs=5,
                  batch_size=100)
    assert np.isfinite(net.history_["loss_history"]).all()


@pytest.mark.parametrize("activation, settings", [
    # large steps whose loss jumps about without running away
    ("sigmoid", dict(learning_rate=1.0, reg=0.5, std=0.1, scale=None)),
    # the notebook's tuned network: momentum 0.9 on scaled pixels
    ("relu", dict(learning_rate=0.1, reg=1e-4, momentum=0.9,
                  std=np.sqrt(2 / 784), scale="scale")),
])
def test_large_steps_that_do_not_run_away_train_to_the_end(
        mnist_dir, activation, settings):
    from utils import get_MNIST_data
    settings = dict(settings)
    std, normalize = settings.pop("std"), settings.pop("scale")
    X, y, _, _, _, _ = get_MNIST_data(
        num_training=2000, num_validation=0, num_test=0, data_dir=mnist_dir,
        normalize=normalize, progress=False)
    net = TwoLayerMLP(784, 64, 10, std=std, activation=activation, seed=0)
    history = net.train(X, y, num_epochs=5, batch_size=100, **settings)
    losses = history["loss_history"]
    assert len(losses) == 5 * 20
    assert max(losses[1:]) > losses[-1]      # it did not only go down


class SnapshotMLP(TwoLayerMLP):
    """Keeps a copy of the parameters at each training step's loss call."""

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is not None:
            self.snapshots.append({k: v.copy() for k, v in self.params.items()})
        return super().loss(X, y, reg=reg, penalty=penalty)


def test_ctrl_c_between_any_two_bytecodes_leaves_a_consistent_model():
    """A real Ctrl-C runs the SIGINT handler between two bytecodes of
    whatever Python code is executing. Emulate exactly that at every
    bytecode of train and of the Ctrl-C guard around its steps, by calling
    the installed handler from a trace function, and check each time that
    the interrupt propagates, the parameters are those after the last
    recorded step, and the records agree with each other."""
    import signal
    import sys

    import _checks

    settings = dict(learning_rate=0.05, reg=0.01, momentum=0.5, num_epochs=2,
                    batch_size=10, seed=4)
    rng = np.random.RandomState(41)
    X, y = rng.randn(20, 4), rng.randint(3, size=20)

    def fresh():
        return TwoLayerMLP(4, 5, 3, std=0.3, seed=9)

    # The parameters after each step of an uninterrupted run.
    spy_net = SnapshotMLP(4, 5, 3, std=0.3, seed=9)
    spy_net.snapshots = snapshots = []
    spy_net.train(X, y, X, y, **settings)
    snapshots.append(spy_net.params)
    assert len(snapshots) == 5

    watched = {"train", "_epoch_accuracy", "check", "ctrl_c_between_steps"}
    files = {mlp.__file__, _checks.__file__}
    position = {"count": 0, "target": None}

    def local_trace(frame, event, arg):
        if event == "opcode":
            position["count"] += 1
            if position["count"] == position["target"]:
                handler = signal.getsignal(signal.SIGINT)
                handler(signal.SIGINT, frame)     # as CPython would
        return local_trace

    def global_trace(frame, event, arg):
        code = frame.f_code
        if code.co_name in watched and code.co_filename in files:
            frame.f_trace_opcodes = True
            return local_trace
        return None

    def run(target):
        position.update(count=0, target=target)
        net = fresh()
        sys.settrace(global_trace)
        try:
            net.train(X, y, X, y, **settings)
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sys.settrace(None)
        return net, interrupted

    handler_before = signal.getsignal(signal.SIGINT)
    run(None)
    total = position["count"]
    assert total > 500
    for target in range(1, total + 1):
        net, interrupted = run(target)
        assert interrupted, target
        assert signal.getsignal(signal.SIGINT) is handler_before
        history = net.history_ or {      # None: stopped before training
            key: [] for key in ("loss_history", "grad_magnitude_history",
                                "train_acc_history", "val_acc_history")}
        steps = len(history["loss_history"])
        assert len(history["grad_magnitude_history"]) == steps, target
        assert len(history["train_acc_history"]) == \
            len(history["val_acc_history"]), target
        for name, array in net.params.items():
            np.testing.assert_array_equal(array, snapshots[steps][name],
                                          err_msg=f"bytecode {target}")


def test_real_sigint_stops_training_between_steps():
    """The real thing: a SIGINT sent to the process while it trains."""
    import signal
    import threading

    rng = np.random.RandomState(42)
    X, y = rng.randn(200, 30), rng.randint(4, size=200)
    net = TwoLayerMLP(30, 20, 4, std=0.1, seed=0)
    timer = threading.Timer(0.2, signal.pthread_kill,
                            (threading.main_thread().ident, signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.train(X, y, X, y, learning_rate=0.01, num_epochs=100000,
                      batch_size=10)
    finally:
        timer.cancel()
        timer.join()
    history = net.history_
    steps = len(history["loss_history"])
    assert 0 < steps < 100000 * 20
    assert len(history["grad_magnitude_history"]) == steps
    assert len(history["train_acc_history"]) == \
        len(history["val_acc_history"]) >= steps // 20 - 1
    # The parameters are exactly those after `steps` steps (train's
    # defaults: decay 0.95, reg 1e-5, seed 1).
    replay = TwoLayerMLP(30, 20, 4, std=0.1, seed=0)
    losses, _ = replay_training(replay, X, y, learning_rate=0.01, decay=0.95,
                                reg=1e-5, penalty="l2", momentum=0.0,
                                num_epochs=steps // 20 + 1, batch_size=10,
                                seed=1, max_steps=steps)
    assert len(losses) == steps
    for name in replay.params:
        np.testing.assert_allclose(net.params[name], replay.params[name],
                                   rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# One implementation: what loss() computes is what train() and predict() use
# ---------------------------------------------------------------------------

def tanh(z):
    return np.tanh(z)


def tanh_derivative(h):
    """d tanh / dz from h = tanh(z): 1 - h**2."""
    return 1 - h * h


def elastic_net_value(W):
    return 0.5 * np.sum(np.abs(W)) + 0.25 * np.sum(W * W)


def elastic_net_gradient(W):
    return 0.5 * np.sign(W) + 0.5 * W


@pytest.fixture
def tanh_and_elastic_net(monkeypatch):
    """A new activation and a new penalty, registered as a student would:
    two functions and one table entry each."""
    monkeypatch.setitem(mlp.ACTIVATIONS, "tanh", (tanh, tanh_derivative))
    monkeypatch.setitem(mlp.PENALTIES, "elastic", (elastic_net_value,
                                                    elastic_net_gradient))


def test_a_registered_activation_and_penalty_are_what_train_uses(
        tanh_and_elastic_net):
    X, y = toy_data()
    np.random.seed(0)
    net = TwoLayerMLP(*SIZES, std=0.3, activation="tanh")
    p = net.params
    # The loss really is tanh with the elastic net.
    hidden = np.tanh(X @ p["W1"] + p["b1"])
    scores = hidden @ p["W2"] + p["b2"]
    log_probs = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    expected = -log_probs[np.arange(len(y)), y].mean() + 0.1 * (
        elastic_net_value(p["W1"]) + elastic_net_value(p["W2"]))
    loss0, _ = net.loss(X, y, reg=0.1, penalty="elastic")
    assert loss0 == pytest.approx(expected, rel=1e-12)
    # Its gradients are right...
    check = check_gradients(net, X, y, reg=0.1, penalty="elastic")
    assert check.ok, str(check)
    # ...and train() optimises exactly that loss: its first step is one
    # full batch, in the order of RandomState(seed=1).permutation.
    order = np.random.RandomState(1).permutation(len(y))
    first, _ = net.loss(X[order], y[order], reg=0.1, penalty="elastic")
    assert first == pytest.approx(loss0, rel=1e-14)
    stats = net.train(X, y, learning_rate=0.1, reg=0.1, penalty="elastic",
                      num_epochs=20)
    assert stats["loss_history"][0] == first
    assert stats["loss_history"][-1] < loss0
    np.testing.assert_array_equal(net.predict(X), np.argmax(
        np.tanh(X @ net.params["W1"] + net.params["b1"]) @ net.params["W2"]
        + net.params["b2"], axis=1))
    # The new names are accepted everywhere and saved with the model.
    assert repr(net).count("tanh") == 1


def test_loading_an_unregistered_activation_says_to_register_it(tmp_path,
                                                                monkeypatch):
    """A model saved with an activation registered at run time, loaded in a
    session that has not registered it."""
    monkeypatch.setitem(mlp.ACTIVATIONS, "tanh", (tanh, tanh_derivative))
    path = TwoLayerMLP(4, 6, 3, activation="tanh", seed=0).save(
        tmp_path / "tanh")
    monkeypatch.delitem(mlp.ACTIVATIONS, "tanh")
    with pytest.raises(ValueError) as info:
        TwoLayerMLP.load(path)
    message = str(info.value)
    assert "its activation 'tanh' is not registered" in message
    assert "ACTIVATIONS['tanh'] = (f, f_derivative)" in message
    assert "array(" not in message


def test_registered_activation_survives_save_and_load(tanh_and_elastic_net,
                                                      tmp_path):
    X, _ = toy_data()
    net = TwoLayerMLP(4, 6, 3, std=0.3, activation="tanh", seed=0)
    loaded = TwoLayerMLP.load(net.save(tmp_path / "tanh"))
    assert loaded.activation == "tanh"
    np.testing.assert_array_equal(loaded.predict_proba(X),
                                  net.predict_proba(X))


class HingeMLP(TwoLayerMLP):
    """A subclass with another loss (multiclass hinge) and scores shifted by
    a constant per class (100 for the last class): train() and predict()
    must follow both."""

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        shift = np.zeros(self.output_size)
        shift[-1] = 100.0
        scores = super().loss(X) + shift
        if y is None:
            return scores
        N = len(X)
        margins = np.maximum(0, scores - scores[np.arange(N), y][:, None] + 1)
        margins[np.arange(N), y] = 0
        # Only W2 learns, from the hinge loss on the hidden layer.
        hidden = np.maximum(X @ self.params["W1"] + self.params["b1"], 0)
        dscores = (margins > 0).astype(float)
        dscores[np.arange(N), y] = -dscores.sum(axis=1)
        dscores /= N
        grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        grads["W2"] = hidden.T @ dscores
        return float(margins.sum() / N), grads


def test_a_subclass_loss_is_what_train_and_predict_use():
    X, y = toy_data()
    net = HingeMLP(*SIZES, std=0.1, seed=0)
    before = {k: v.copy() for k, v in net.params.items()}
    order = np.random.RandomState(1).permutation(len(y))
    hinge0, _ = net.loss(X[order], y[order])
    stats = net.train(X, y, learning_rate=0.01, num_epochs=3)
    # The record is the hinge loss, not the softmax cross-entropy.
    assert stats["loss_history"][0] == hinge0
    # Only W2 changed, as the subclass's gradients say.
    for name in ("W1", "b1", "b2"):
        np.testing.assert_array_equal(net.params[name], before[name])
    assert not np.array_equal(net.params["W2"], before["W2"])
    # predict() takes the subclass's scores: the shift makes the last
    # class win.
    last = net.output_size - 1
    np.testing.assert_array_equal(net.predict(X), np.full(len(X), last))
    assert np.argmax(net.predict_proba(X), axis=1).tolist() == [last] * len(X)


@pytest.mark.parametrize("activation", sorted(mlp.ACTIVATIONS))
def test_gradient_check_passes_at_the_default_std(activation):
    """With std=1e-4 some pre-activations lie closer to the ReLU kink than
    the finite-difference step; the check must still call the correct
    backward pass right, and say how many entries it left out."""
    X, y = toy_data()
    np.random.seed(0)
    net = TwoLayerMLP(*SIZES, activation=activation)     # std=1e-4
    check = check_gradients(net, X, y, reg=0.1)
    assert check.ok, str(check)
    assert all(error < 1e-7 for error in check.values()), str(check)
    assert all(count < size / 2 for count, size in
               zip(check.kinks.values(), check.sizes.values()))


def test_gradient_check_reports_kinks_instead_of_errors():
    """A ReLU net whose pre-activations sit within h of 0: the old largest
    elementwise relative error is about 1 there, the check says right and
    counts the kinks."""
    X, y = toy_data()
    np.random.seed(0)
    net = TwoLayerMLP(*SIZES, activation="relu")
    z1 = X @ net.params["W1"]
    # Move one unit's pre-activation for sample 0 to 1e-7, inside the step.
    net.params["b1"][0] = 1e-7 - z1[0, 0]
    check = check_gradients(net, X, y, reg=0.1)
    assert check.kinks["b1"] >= 1 and check.kinks["W1"] >= 1
    assert check.ok, str(check)
    assert "kink" in str(check)


@pytest.mark.parametrize("blow_up", ["nan", "huge"])
def test_blown_up_weights_are_named_as_the_problem(blow_up):
    """NaN weights set by hand, or weights grown far beyond any trained
    network: loss, predict and train say the weights are the problem and
    point at the learning rate, not at inputs that are fine."""
    X, y = toy_data()
    net = toy_net("relu")
    if blow_up == "nan":
        net.params["W2"][0, 0] = np.nan
    else:
        net.params["W1"] *= 1e300
        net.params["W2"] *= 1e300
    calls = [net.predict, net.predict_proba, net.loss,
             lambda X: net.loss(X, y, reg=0.1)]
    for call in calls:
        with pytest.raises(FloatingPointError) as info:
            call(X)
        message = str(info.value)
        assert "params" in message or "parameters" in message, message
        assert "learning_rate" in message and "rescale" not in message
    if blow_up == "nan":
        with pytest.raises(ValueError, match=r"params\['W2'\].*learning_rate"):
            net.train(X, y, num_epochs=1)


def test_a_script_elsewhere_imports_the_library_as_the_readme_says(tmp_path):
    """From a folder outside the repository, with the repository's root on
    PYTHONPATH (the README's instruction), mlp and utils import and work."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    script = tmp_path / "my_script.py"
    script.write_text("from mlp import TwoLayerMLP\nimport utils\n"
                      "net = TwoLayerMLP(3, 4, 2, seed=0)\n"
                      "print(net.predict([[1.0, 2.0, 3.0]]).tolist())\n")
    env = {**os.environ, "PYTHONPATH": str(root), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("[0]", "[1]")
    assert "PYTHONPATH=/path/to/this/repository python my_script.py" in (
        root / "README.md").read_text()
