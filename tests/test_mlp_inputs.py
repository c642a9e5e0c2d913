"""Bad input to TwoLayerMLP gets a clear error that names the argument.

Each case is (what to call, the exception type, words the message must
contain). The words always include the argument's name, so an error that
does not say what was wrong fails the test.
"""
import numpy as np
import pytest

from mlp import TwoLayerMLP

D, H, C, N = 4, 5, 3, 6


def make_net():
    return TwoLayerMLP(D, H, C, std=0.1, seed=0)


def good_data():
    rng = np.random.RandomState(0)
    return rng.randn(N, D), rng.randint(C, size=N)


def with_nan(X):
    X = X.copy()
    X[2, 1] = np.nan
    return X


def with_inf(X):
    X = X.copy()
    X[0, 3] = -np.inf
    return X


X0, y0 = good_data()

CONSTRUCTOR_CASES = {
    "input_size zero": (dict(input_size=0), ValueError, ["input_size", ">= 1"]),
    "hidden_size negative": (dict(hidden_size=-3), ValueError,
                             ["hidden_size"]),
    "output_size float": (dict(output_size=3.0), TypeError, ["output_size"]),
    "output_size bool": (dict(output_size=True), TypeError, ["output_size"]),
    "std negative": (dict(std=-0.1), ValueError, ["std", ">= 0"]),
    "std nan": (dict(std=float("nan")), ValueError, ["std"]),
    "std string": (dict(std="0.1"), TypeError, ["std"]),
    "activation unknown": (dict(activation="no such activation"), ValueError,
                           ["activation", "relu", "sigmoid"]),
    "activation capitalised": (dict(activation="ReLU"), ValueError,
                               ["activation"]),
    "dtype int": (dict(dtype=np.int64), ValueError, ["dtype"]),
    "dtype nonsense": (dict(dtype="banana"), ValueError, ["dtype"]),
    "seed float": (dict(seed=1.5), TypeError, ["seed"]),
    "seed negative": (dict(seed=-1), ValueError, ["seed"]),
}


@pytest.mark.parametrize("case", sorted(CONSTRUCTOR_CASES))
def test_constructor_rejects(case):
    change, error, words = CONSTRUCTOR_CASES[case]
    kwargs = dict(input_size=D, hidden_size=H, output_size=C)
    kwargs.update(change)
    with pytest.raises(error) as info:
        TwoLayerMLP(**kwargs)
    for word in words:
        assert word in str(info.value)


# Bad X or y: every entry point that takes data must refuse them.
DATA_CASES = {
    "X 1-D": (X0[0], y0[:1], ValueError, ["X", "2-D", "reshape(1, -1)"]),
    "X 3-D": (X0.reshape(N, 2, 2), y0, ValueError, ["X", "2-D"]),
    "X wrong columns": (X0[:, :3], y0, ValueError,
                        ["X", "3 columns", "input_size=4"]),
    "X empty": (np.empty((0, D)), y0[:0], ValueError, ["X", "empty"]),
    "X nan": (with_nan(X0), y0, ValueError, ["X", "NaN", "row 2"]),
    "X inf": (with_inf(X0), y0, ValueError, ["X", "infinite"]),
    "X strings": (X0.astype(str), y0, TypeError, ["X", "real numbers"]),
    "X complex": (X0 + 1j, y0, TypeError, ["X"]),
    "X None": (None, y0, TypeError, ["X"]),
    "X ragged": ([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]], y0[:2], ValueError,
                 ["X", "same length"]),
    "y 2-D": (X0, y0.reshape(-1, 1), ValueError, ["y", "1-D"]),
    "y one-hot": (X0, np.eye(C)[y0], ValueError, ["y", "argmax"]),
    "y too short": (X0, y0[:-1], ValueError, ["y", "5 labels", "6 rows"]),
    "y fractional": (X0, y0 + 0.5, TypeError, ["y", "non-integer"]),
    "y strings": (X0, y0.astype(str), TypeError, ["y", "integer"]),
    "y negative": (X0, np.r_[y0[:-1], -1], ValueError, ["y", "-1", "0 .. 2"]),
    "y too large": (X0, np.r_[y0[:-1], C], ValueError,
                    ["y", "label 3", "output_size=3"]),
    "y nan": (X0, np.r_[y0[:-1], np.nan], TypeError, ["y"]),
    "y huge float": (X0, np.r_[y0[:-1], 1e20], ValueError, ["y", "outside"]),
    "y huge unsigned": (X0, np.array(list(y0[:-1]) + [2**63], dtype=np.uint64),
                        ValueError, ["y", "9223372036854775808", "outside"]),
}


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_loss_rejects_bad_data(case):
    X, y, error, words = DATA_CASES[case]
    with pytest.raises(error) as info:
        make_net().loss(X, y)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_train_rejects_bad_training_data(case):
    X, y, error, words = DATA_CASES[case]
    with pytest.raises(error) as info:
        make_net().train(X, y, X0, y0)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("case", sorted(DATA_CASES))
def test_train_rejects_bad_validation_data(case):
    X, y, error, words = DATA_CASES[case]
    if X is None:       # X_val=None is allowed, but only together with y_val
        error, words = ValueError, ["X_val and y_val"]
    net = make_net()
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(error) as info:
        net.train(X0, y0, X, y)
    text = str(info.value)
    # The message names the validation argument, not the training one.
    for word in words:
        word = {"X": "X_val", "y": "y_val"}.get(word, word)
        assert word in text
    for name in before:                       # nothing was trained
        np.testing.assert_array_equal(net.params[name], before[name])


@pytest.mark.parametrize("case", [c for c in sorted(DATA_CASES)
                                  if c.startswith("X")])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "scores"])
def test_prediction_rejects_bad_X(case, method):
    X, _, error, words = DATA_CASES[case]
    net = make_net()
    call = net.loss if method == "scores" else getattr(net, method)
    with pytest.raises(error) as info:
        call(X)
    for word in words:
        assert word in str(info.value)


def test_validation_pair_must_be_complete():
    with pytest.raises(ValueError, match="X_val and y_val"):
        make_net().train(X0, y0, X0, None)


TRAIN_CASES = {
    "batch_size zero": (dict(batch_size=0), ValueError, ["batch_size"]),
    "batch_size float": (dict(batch_size=10.0), TypeError, ["batch_size"]),
    "batch_size string": (dict(batch_size="10"), TypeError, ["batch_size"]),
    "num_epochs negative": (dict(num_epochs=-1), ValueError, ["num_epochs"]),
    "num_epochs float": (dict(num_epochs=2.5), TypeError, ["num_epochs"]),
    "learning_rate zero": (dict(learning_rate=0.0), ValueError,
                           ["learning_rate", "> 0"]),
    "learning_rate negative": (dict(learning_rate=-1e-3), ValueError,
                               ["learning_rate"]),
    "learning_rate inf": (dict(learning_rate=float("inf")), ValueError,
                          ["learning_rate", "finite"]),
    "learning_rate nan": (dict(learning_rate=float("nan")), ValueError,
                          ["learning_rate"]),
    "learning_rate None": (dict(learning_rate=None), TypeError,
                           ["learning_rate"]),
    "learning_rate_decay zero": (dict(learning_rate_decay=0.0), ValueError,
                                 ["learning_rate_decay"]),
    "learning_rate_decay negative": (dict(learning_rate_decay=-0.5),
                                     ValueError, ["learning_rate_decay"]),
    "reg negative": (dict(reg=-1e-3), ValueError, ["reg", ">= 0"]),
    "reg inf": (dict(reg=float("inf")), ValueError, ["reg"]),
    "momentum one": (dict(momentum=1.0), ValueError, ["momentum", "[0, 1)"]),
    "momentum negative": (dict(momentum=-0.1), ValueError, ["momentum"]),
    "penalty unknown": (dict(penalty="l3"), ValueError,
                        ["penalty", "'l2'", "'l1'"]),
    "penalty upper": (dict(penalty="L2"), ValueError, ["penalty"]),
    "seed float": (dict(seed=0.5), TypeError, ["seed"]),
    "seed negative": (dict(seed=-1), ValueError, ["seed", "2**32"]),
    "seed too large": (dict(seed=2**40), ValueError, ["seed", "2**32"]),
    "verbose string": (dict(verbose="no"), TypeError, ["verbose"]),
}


@pytest.mark.parametrize("case", sorted(TRAIN_CASES))
def test_train_rejects_bad_settings(case):
    kwargs, error, words = TRAIN_CASES[case]
    net = make_net()
    before = {k: v.copy() for k, v in net.params.items()}
    with pytest.raises(error) as info:
        net.train(X0, y0, X0, y0, **kwargs)
    for word in words:
        assert word in str(info.value)
    for name in before:
        np.testing.assert_array_equal(net.params[name], before[name])


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(reg=-0.1), ValueError, "reg"),
    (dict(reg="big"), TypeError, "reg"),
    (dict(penalty="no such penalty"), ValueError, "penalty"),
])
def test_loss_rejects_bad_settings(kwargs, error, word):
    with pytest.raises(error, match=word):
        make_net().loss(X0, y0, **kwargs)


@pytest.mark.parametrize("kwargs, error, word", [
    (dict(reg=-0.1), ValueError, "reg"),
    (dict(penalty="l7"), ValueError, "penalty"),
])
def test_scores_also_check_the_settings(kwargs, error, word):
    with pytest.raises(error, match=word):
        make_net().loss(X0, **kwargs)


def test_values_beyond_float32_are_refused_by_a_float32_model():
    net = TwoLayerMLP(D, H, C, std=0.1, seed=0, dtype=np.float32)
    X = np.full((N, D), 1e39)            # finite in float64, inf in float32
    for call in (lambda X: net.loss(X, y0), net.predict,
                 lambda X: net.train(X, y0, None, None)):
        with pytest.raises(ValueError, match="too large for this float32"):
            call(X)
    # The same values are fine for a float64 model.
    assert np.isfinite(make_net().loss(X, y0)[0])


def test_std_that_overflows_the_dtype_is_refused():
    with pytest.raises(ValueError, match="std.*too large"):
        TwoLayerMLP(D, H, C, std=1e39, dtype=np.float32)
    with pytest.raises(ValueError, match="std.*too large"):
        TwoLayerMLP(D, H, C, std=1e308)


def test_numpy_scalars_are_accepted_as_settings():
    net = make_net()
    stats = net.train(X0, y0, X0, y0, learning_rate=np.float64(0.1),
                      reg=np.float32(0.01), num_epochs=np.int64(2),
                      batch_size=np.int32(3))
    assert len(stats["loss_history"]) == 4
