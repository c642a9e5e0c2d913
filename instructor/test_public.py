"""Checks of your mlp.py: run them with ``python -m pytest``.

Each test calls one method of ``TwoLayerMLP`` and compares it with the
problem set's reference numbers or with finite differences. A failure
says which method is wrong and by how much; a method that still raises
``NotImplementedError`` is reported as "not implemented yet".
"""
import numpy as np
import pytest

from mlp import TwoLayerMLP
from utils import check_gradients


def call(what, function, *args, **kwargs):
    """function(*args, **kwargs), or a clear failure if it is not written yet."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError as error:
        pytest.fail(f"{what} is not implemented yet ({error})", pytrace=False)


def toy_net(activation):
    np.random.seed(0)
    return TwoLayerMLP(4, 10, 3, std=1e-1, activation=activation)


def toy_data():
    np.random.seed(1)
    return 10 * np.random.randn(5, 4), np.array([0, 1, 2, 2, 1])


def test_scores_have_one_row_per_sample_and_one_column_per_class():
    X, _ = toy_data()
    for activation in ("relu", "sigmoid"):
        scores = call("TwoLayerMLP.loss(X) (the forward pass)",
                      toy_net(activation).loss, X)
        assert np.shape(scores) == (5, 3), (
            f"TwoLayerMLP.loss(X) with {activation}: scores have shape "
            f"{np.shape(scores)}, expected (N, C) = (5, 3)")


def check_toy_loss(activation, reference):
    X, y = toy_data()
    loss, _ = call("TwoLayerMLP.loss(X, y)", toy_net(activation).loss, X, y,
                   reg=0.1)
    difference = abs(loss - reference)
    assert difference < 1e-7, (
        f"TwoLayerMLP.loss with {activation}: the toy loss is {loss:.8f}, "
        f"the reference {reference:.8f} (difference {difference:.1e}); "
        f"check the forward pass, the softmax cross-entropy and the penalty")


def test_toy_loss_sigmoid():
    check_toy_loss("sigmoid", 1.18224798)


def test_toy_loss_relu():
    check_toy_loss("relu", 1.30378789)


def check_toy_gradients(activation):
    X, y = toy_data()
    check = call("TwoLayerMLP.loss(X, y) (the backward pass)",
                 check_gradients, toy_net(activation), X, y, reg=0.0)
    wrong = {name: error for name, error in check.items()
             if not error < check.threshold}
    assert not wrong, (
        f"TwoLayerMLP.loss with {activation}: the gradients of "
        + ", ".join(f"{name} (relative error {error:.1e})"
                    for name, error in wrong.items())
        + f" differ from finite differences (right is below "
        f"{check.threshold:g}); check the backward pass")


def test_gradients_sigmoid():
    check_toy_gradients("sigmoid")


def test_gradients_relu():
    check_toy_gradients("relu")


def test_toy_training():
    """Q2.3: full-batch training of the sigmoid toy network."""
    X, y = toy_data()
    net = toy_net("sigmoid")
    stats = call("TwoLayerMLP.train", net.train, X, y, X, y,
                 learning_rate=0.5, reg=1e-5, num_epochs=100)
    final, reference = stats["loss_history"][-1], 0.109268
    assert abs(final - reference) < 1e-5, (
        f"TwoLayerMLP.train: the final toy loss is {final:.6f}, the "
        f"reference {reference:.6f}; check the update of the parameters "
        f"and the decay of the learning rate")


def test_predictions_are_labels():
    X, _ = toy_data()
    predicted = call("TwoLayerMLP.predict", toy_net("relu").predict, X)
    assert np.shape(predicted) == (5,) and np.issubdtype(
        np.asarray(predicted).dtype, np.integer), (
        f"TwoLayerMLP.predict should return N = 5 integer labels, got "
        f"{np.asarray(predicted).dtype} of shape {np.shape(predicted)}")
