"""Hidden tests of the graded parts, through the public API only.

They use ``TwoLayerMLP``'s constructor, ``params``, ``loss``, ``train`` and
``predict`` (and subclasses that override ``loss`` or ``predict``, which
``train`` must call), never private names, so any correct implementation
passes whatever its internals. Shapes and values are drawn from seeded
generators; the expected results come from the reference formulas below,
written out independently of mlp.py.
"""
import numpy as np

from mlp import TwoLayerMLP


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
    D, H, C, N = rng.randint(3, 12), rng.randint(2, 9), rng.randint(2, 7), \
        rng.randint(4, 15)
    net = TwoLayerMLP(D, H, C, std=0.5, activation=activation, seed=seed)
    net.params = {"W1": rng.randn(D, H), "b1": rng.randn(H),
                  "W2": rng.randn(H, C), "b2": rng.randn(C)}
    X = rng.randn(N, D)
    y = rng.randint(C, size=N)
    return net, X, y


def check_close(what, got, expected, rtol=1e-7, atol=1e-10):
    got = np.asarray(got, dtype=float)
    assert got.shape == np.shape(expected), (
        f"{what}: shape {got.shape}, expected {np.shape(expected)}")
    error = np.max(np.abs(got - expected) / (atol + rtol * np.abs(expected)),
                   initial=0.0)
    assert error <= 1, f"{what}: off by up to {np.max(np.abs(got - expected)):.2e}"


# -- forward pass -----------------------------------------------------------

def check_forward(activation):
    for seed in (1, 2, 3):
        net, X, _ = problem(activation, seed)
        _, expected = reference_scores(net.params, X, activation)
        check_close(f"loss(X) with {activation}", net.loss(X), expected)


def test_forward_pass_relu():
    check_forward("relu")


def test_forward_pass_sigmoid():
    check_forward("sigmoid")


# -- loss value -------------------------------------------------------------

def check_loss_value(activation):
    for seed in (4, 5, 6):
        net, X, y = problem(activation, seed)
        loss, _ = net.loss(X, y, reg=0.0)
        expected, _ = reference_loss(net.params, X, y, activation, 0.0)
        check_close(f"the loss with {activation}", loss, expected)


def test_loss_value_relu():
    check_loss_value("relu")


def test_loss_value_sigmoid():
    check_loss_value("sigmoid")


# -- backward pass ----------------------------------------------------------

def check_gradients(activation):
    for seed in (7, 8, 9):
        net, X, y = problem(activation, seed)
        _, grads = net.loss(X, y, reg=0.0)
        _, expected = reference_loss(net.params, X, y, activation, 0.0)
        for name in ("W1", "b1", "W2", "b2"):
            check_close(f"the gradient of {name} with {activation}",
                        grads[name], expected[name])


def test_gradients_relu():
    check_gradients("relu")


def test_gradients_sigmoid():
    check_gradients("sigmoid")


# -- L2 penalty -------------------------------------------------------------

def test_l2_penalty_value():
    for seed in (10, 11):
        net, X, y = problem("relu", seed)
        base, _ = net.loss(X, y, reg=0.0)
        penalised, _ = net.loss(X, y, reg=0.7)
        W1, W2 = net.params["W1"], net.params["W2"]
        check_close("the L2 penalty added to the loss", penalised - base,
                    0.35 * (np.sum(W1 ** 2) + np.sum(W2 ** 2)), rtol=1e-9)


def test_l2_penalty_gradient():
    for seed in (12, 13):
        net, X, y = problem("sigmoid", seed)
        _, base = net.loss(X, y, reg=0.0)
        _, penalised = net.loss(X, y, reg=0.7)
        for name in ("W1", "W2"):
            check_close(f"the L2 penalty's gradient of {name}",
                        np.asarray(penalised[name]) - base[name],
                        0.7 * net.params[name], rtol=1e-9)
        for name in ("b1", "b2"):
            check_close(f"the gradient of {name} (biases are not penalised)",
                        penalised[name], base[name], rtol=1e-12)


# -- SGD in train -----------------------------------------------------------

class QuadraticLoss(TwoLayerMLP):
    """loss = sum over the parameters of 0.5 * c * p**2, gradient c * p:
    train must take the steps that its own loss gives."""

    curvature = {"W1": 1.0, "b1": 2.0, "W2": 0.5, "b2": 3.0}

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is None:
            return np.zeros((len(X), self.output_size))
        value = sum(0.5 * c * np.sum(self.params[k] ** 2)
                    for k, c in self.curvature.items())
        return float(value), {k: c * self.params[k]
                              for k, c in self.curvature.items()}

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)


def check_sgd(decay, seed):
    rng = np.random.RandomState(seed)
    N, batch_size, epochs, lr = 12, 4, 3, 0.1
    net = QuadraticLoss(5, 4, 3, std=1.0, seed=seed)
    net.params["b1"] = rng.randn(4)
    net.params["b2"] = rng.randn(3)
    start = {k: np.array(v, copy=True) for k, v in net.params.items()}
    X, y = rng.randn(N, 5), rng.randint(3, size=N)
    net.train(X, y, learning_rate=lr, learning_rate_decay=decay, reg=0.0,
              num_epochs=epochs, batch_size=batch_size)
    steps = N // batch_size
    for name, c in QuadraticLoss.curvature.items():
        # Each step multiplies the parameter by (1 - learning_rate * c).
        factor = np.prod([(1 - lr * decay ** epoch * c) ** steps
                          for epoch in range(epochs)])
        check_close(f"train: {name} after {epochs * steps} SGD steps "
                    f"(decay {decay})", net.params[name],
                    factor * start[name], rtol=1e-9)


def test_sgd_steps():
    check_sgd(decay=1.0, seed=14)


def test_sgd_learning_rate_decay():
    check_sgd(decay=0.5, seed=15)


# -- predict ----------------------------------------------------------------

class GivenScores(TwoLayerMLP):
    """loss(X) returns scores chosen by the test: predict must use them."""

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        return self.scores[:len(X)]


def test_predict_takes_the_largest_score():
    rng = np.random.RandomState(16)
    net = GivenScores(3, 4, 6, seed=0)
    net.scores = rng.randn(20, 6)
    predicted = np.asarray(net.predict(rng.randn(20, 3)))
    expected = net.scores.argmax(axis=1)
    assert predicted.shape == expected.shape and (predicted == expected).all(), (
        f"predict: {predicted.tolist()} is not the index of the largest "
        f"score in each row, {expected.tolist()}")


def test_predict_returns_integer_labels():
    rng = np.random.RandomState(17)
    net = GivenScores(3, 4, 5, seed=0)
    net.scores = rng.randn(7, 5)
    predicted = np.asarray(net.predict(rng.randn(7, 3)))
    assert predicted.shape == (7,), f"predict: shape {predicted.shape}"
    assert np.issubdtype(predicted.dtype, np.integer), (
        f"predict returned {predicted.dtype}, expected integer labels")
