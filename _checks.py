"""Argument checking, error messages and file handling for ``mlp.py``
(and, at the end, the argument checks of ``utils.py``).

Nothing in this module computes any part of the network. It keeps out of
``mlp.py`` and ``utils.py`` everything that is not the network, the
gradient check or a picture:

* checks of arguments and data, so that bad input is refused with an error
  that names the argument, says what was wrong and how to fix it, before
  NumPy sees it;
* the diagnosis of a result that is not finite (is it the input or the
  weights?), which runs only when something already went wrong;
* the Ctrl-C guard of training, and the reading and validation of saved
  model files.
"""
import contextlib
import math
import numbers
import operator
import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

DTYPES = (np.float32, np.float64)
SAVE_FORMAT_VERSION = 1
PARAM_NAMES = ("W1", "b1", "W2", "b2")


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value, name, minimum=1):
    """``value`` as a Python int >= minimum."""
    if not _is_int(value):
        raise TypeError(
            f"{name} must be an integer >= {minimum}, got {value!r} "
            f"of type {type(value).__name__}"
        )
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def real(value, name, ok, requirement, hint=""):
    """``value`` as a Python float after checking ``ok(value)``.

    ``requirement`` says in words what ``ok`` tests (e.g. "> 0"). A Python
    float, not a NumPy scalar, is returned on purpose: a Python float times
    a float32 array stays float32, a np.float64 scalar would upcast it.
    """
    if type(value) is float and math.isfinite(value) and ok(value):
        return value                         # the common case, quickly
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be a real number {requirement}, got {value!r} "
            f"of type {type(value).__name__}"
        )
    value = float(value)
    if not (np.isfinite(value) and ok(value)):
        message = f"{name} must be a finite number {requirement}, got {value!r}"
        raise ValueError(message + (f"; {hint}" if hint else ""))
    return value


def seed(value):
    """None, or an integer that np.random.RandomState accepts."""
    if value is None:
        return None
    if not _is_int(value):
        raise TypeError(f"seed must be None or an integer, got {value!r} "
                        f"of type {type(value).__name__}")
    if not 0 <= value < 2**32:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, got {value}")
    return int(value)


def choice(value, name, table):
    """``value`` if it is a key of ``table`` (activations, penalties)."""
    if not isinstance(value, str) or value not in table:
        listed = ", ".join(repr(c) for c in table)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def dtype(value):
    try:
        resolved = np.dtype(value)
    except TypeError:
        resolved = None
    if resolved is None or resolved.type not in DTYPES:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {value!r}")
    return resolved


def flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def samples(X, net, name="X", finite=True):
    """X as an (N, D) array of the model's dtype (the caller's own array
    when it already has that dtype: it is only ever read).

    With ``finite=False`` an X that already has the model's dtype is not
    scanned for NaN and infinity: :meth:`TwoLayerMLP.loss` does that only
    when its result is not finite (see :func:`not_finite`), since any such
    value in X makes the gradient of W1 NaN or infinite.
    """
    D = net.input_size
    if type(X) is np.ndarray and X.dtype == net.dtype and X.ndim == 2 \
            and X.shape[1] == D and X.shape[0] and not finite:
        return X                                # the common case, quickly
    if X is None:
        raise TypeError(f"{name} must be an array of shape (N, {D}), got None")
    try:
        X = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be turned into an array ({exc}); "
                         f"every row must have the same length, {D}") from None
    if X.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got an array of dtype "
            f"{X.dtype}; convert it with np.asarray({name}, dtype=float)"
        )
    if X.ndim != 2:
        hint = {1: f"; for a single sample use {name}.reshape(1, -1)"}.get(
            X.ndim, f"; flatten each sample, e.g. {name}.reshape(len({name}), -1)"
            if X.ndim > 2 else "")
        raise ValueError(f"{name} must be a 2-D array of shape (N, {D}), "
                         f"got {X.ndim}-D shape {X.shape}{hint}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}); "
                         f"pass at least one sample")
    if X.shape[1] != D:
        raise ValueError(
            f"{name} has {X.shape[1]} columns but this network has "
            f"input_size={D}; each row of {name} must be one sample with "
            f"{D} features"
        )
    converted = X
    if X.dtype != net.dtype:
        finite = True        # a value may overflow the model's dtype
        with np.errstate(over="ignore"):    # values too large: reported below
            converted = X.astype(net.dtype)
    # min and max are NaN or infinite exactly when some value is: two
    # quick passes with no temporary the size of X.
    if finite and not (np.isfinite(converted.min())
                       and np.isfinite(converted.max())):
        raise _bad_values(X, converted, name)
    return converted


def _bad_values(original, converted, name):
    """The error for an X whose values are not finite in the model's dtype."""
    if original.dtype.kind == "f" and not np.isfinite(original).all():
        row, col = np.argwhere(~np.isfinite(original))[0]
        return ValueError(
            f"{name} contains NaN or infinite values (first at row {row}, "
            f"column {col}); remove or impute them first"
        )
    return ValueError(
        f"{name} holds values too large for this {converted.dtype.name} model "
        f"(largest allowed magnitude {np.finfo(converted.dtype).max:.3g}); "
        f"rescale the inputs"
    )


def labels(y, num_samples, net, name="y", x_name="X"):
    """y as an int64 vector of num_samples labels in 0 .. C-1."""
    C = net.output_size
    if type(y) is np.ndarray and y.dtype == np.int64 and y.shape == (
            num_samples,) and 0 <= np.minimum.reduce(y) \
            and np.maximum.reduce(y) < C:
        return y                                # the common case, quickly
    if y is None:
        raise TypeError(f"{name} must be a 1-D array of integer labels, "
                        f"got None")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of {num_samples} integer labels, "
            f"got shape {y.shape}"
            + ("; if it is one-hot, pass y.argmax(axis=1)" if y.ndim == 2
               else "")
        )
    if y.shape[0] != num_samples:
        raise ValueError(f"{name} has {y.shape[0]} labels but {x_name} has "
                         f"{num_samples} rows; they must match")
    if y.dtype.kind == "f" and not (np.isfinite(y).all()
                                    and (y == np.round(y)).all()):
        raise TypeError(
            f"{name} must hold integer class labels, got dtype {y.dtype} "
            f"with non-integer values; labels are 0 .. {C - 1}"
        )
    if y.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer class labels, got dtype "
                        f"{y.dtype}; labels are 0 .. {C - 1}")
    # The range is checked before converting, so that a huge label cannot
    # wrap around into a valid-looking one.
    if np.minimum.reduce(y) < 0 or np.maximum.reduce(y) >= C:
        bad = y[(y < 0) | (y >= C)][0]
        raise ValueError(f"{name} contains the label {bad}, outside 0 .. "
                         f"{C - 1} (output_size={C})")
    return y.astype(np.int64, copy=False)


def training_data(net, X, y, X_val, y_val):
    """The arguments of train: X, y and the optional validation pair."""
    X = samples(X, net)
    y = labels(y, X.shape[0], net)
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val must be given together (or both "
                         "None to train without a validation set)")
    if X_val is not None:
        X_val = samples(X_val, net, "X_val")
        y_val = labels(y_val, X_val.shape[0], net, "y_val", "X_val")
    return X, y, X_val, y_val


def training_rates(learning_rate, learning_rate_decay, reg, momentum):
    return (
        real(learning_rate, "learning_rate", lambda v: v > 0, "> 0",
             hint="typical values lie between 1e-4 and 1"),
        real(learning_rate_decay, "learning_rate_decay", lambda v: v > 0,
             "> 0", hint="use 1.0 for a constant learning rate"),
        real(reg, "reg", lambda v: v >= 0, ">= 0"),
        real(momentum, "momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
    )


def training_options(num_epochs, batch_size, penalty, penalties, verbose,
                     seed_value):
    return (positive_int(num_epochs, "num_epochs", minimum=0),
            positive_int(batch_size, "batch_size"),
            choice(penalty, "penalty", penalties),
            flag(verbose, "verbose"),
            seed(seed_value))


# ---------------------------------------------------------------------------
# Parameters and results
# ---------------------------------------------------------------------------

def param_shapes(D, H, C):
    """The shape of each parameter of a D-H-C network, in params order."""
    return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}


def trainable_params(net):
    """Refuse parameters that were replaced by hand with unusable ones."""
    shapes = param_shapes(net.input_size, net.hidden_size, net.output_size)
    if not isinstance(net.params, dict) or set(net.params) != set(shapes):
        raise ValueError("params must be a dict with exactly the keys "
                         "W1, b1, W2, b2")
    for name, shape in shapes.items():
        value = net.params[name]
        if not isinstance(value, np.ndarray) or value.shape != shape \
                or value.dtype != net.dtype:
            what = (f"a {value.dtype} array of shape {value.shape}"
                    if isinstance(value, np.ndarray) else type(value).__name__)
            raise ValueError(f"params[{name!r}] must be a {net.dtype.name} "
                             f"array of shape {shape}, got {what}")
    problem = _weights_problem(net, huge=False)
    if problem:
        raise ValueError(problem)


def all_finite(*arrays):
    """True when every entry of every array is finite.

    A sum of squares is finite exactly when every entry is, unless it
    overflows; only then is the slower elementwise test needed. None (a
    gradient of the handout whose backward pass is not written yet) is
    skipped: :func:`require_gradients` reports it where it is used.
    """
    for array in arrays:
        if array is None:
            continue
        # np.vdot goes to BLAS, which does not warn about overflow.
        if not (math.isfinite(np.vdot(array, array))
                or np.isfinite(array).all()):
            return False
    return True


def _weights_problem(net, huge=True):
    """Why the parameters themselves are unusable (not finite, or with
    ``huge`` also far beyond any trained network), or None."""
    advice = ("they come from a diverged training run or were set by hand; "
              "build a new network and train it with a smaller learning_rate")
    for name, value in net.params.items():
        if not np.isfinite(value).all():
            return f"params[{name!r}] contains NaN or infinite values: {advice}"
    largest = max(float(np.abs(p).max()) for p in net.params.values())
    if huge and largest > 1e8:
        return f"the parameters have grown to {largest:.3g} in magnitude: {advice}"
    return None


def not_finite(net, X, what, name="X"):
    """The error for a result (``what``: the scores, or the loss and its
    gradients) that came out NaN or infinite. The cause is bad values in X
    (an X of the model's dtype is only scanned now), parameters that have
    blown up, or astronomically large inputs."""
    if not (np.isfinite(X.min()) and np.isfinite(X.max())):
        return _bad_values(X, X, name)
    problem = _weights_problem(net) or (
        f"the largest |{name}| is {float(np.abs(X).max()):.3g}; rescale the "
        f"inputs (e.g. to [0, 1])")
    return FloatingPointError(f"{what} overflowed {net.dtype.name}: {problem}")


def require_gradients(grads):
    """Raise NotImplementedError if loss returned a gradient of None."""
    missing = [name for name, grad in grads.items() if grad is None]
    if missing:
        raise NotImplementedError(
            f"TwoLayerMLP.loss: the backward pass is not implemented yet "
            f"(the gradients of {', '.join(missing)} are None)")


def step_problem(loss, grads, new_params, limit=math.inf):
    """Why a training step must not be taken, or None when it is safe
    (``limit``: the loss of a diverging run, see :func:`loss_limit`)."""
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    if loss > limit:
        return (f"the loss grew to {loss:.3g}, over {DIVERGENCE_FACTOR} "
                f"times the loss training started from")
    if all_finite(*new_params.values()):
        return None
    bad = [name for name, g in grads.items() if not np.isfinite(g).all()]
    if bad:
        return f"the gradient of {', '.join(bad)} became NaN or infinite"
    dtype = next(iter(new_params.values())).dtype
    return f"the update would make the parameters overflow {dtype.name}"


#: train stops when a minibatch's loss exceeds this many times the loss it
#: started from: the first minibatch's, or ln C (the loss of a network that
#: gives every one of the C classes the same probability) if that is larger.
DIVERGENCE_FACTOR = 1000


def loss_limit(first_loss, num_classes):
    """The loss above which training has diverged (see DIVERGENCE_FACTOR)."""
    return DIVERGENCE_FACTOR * max(first_loss, math.log(num_classes))


def divergence(epoch, iteration, problem, learning_rate):
    if iteration is None:
        where, kept = f"epoch {epoch} (after its last step)", ""
    else:
        where = f"epoch {epoch}, iteration {iteration}"
        kept = (" That step was not taken: the parameters keep their values "
                "from before it.")
    return FloatingPointError(
        f"training diverged at {where}: {problem}.{kept} Try a smaller "
        f"learning_rate (it was {learning_rate:g} at this point)."
    )


# ---------------------------------------------------------------------------
# Ctrl-C during training
# ---------------------------------------------------------------------------

class _CtrlC:
    """What :func:`ctrl_c_between_steps` yields: call :meth:`check`."""

    def __init__(self):
        self.pressed = False

    def remember(self, signum, frame):
        self.pressed = True

    def check(self):
        """Raise KeyboardInterrupt if Ctrl-C was pressed since the last check."""
        if self.pressed:
            self.pressed = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_between_steps():
    """Hold Ctrl-C (SIGINT) back until the next ``check()``.

    Inside the block a SIGINT is only remembered; ``check()``, called by
    train before each step, raises it as KeyboardInterrupt, and one still
    pending at the end of the block is raised on leaving it, after the
    previous handler is back. So a step and its record are never cut in
    half. Python delivers signals to the main thread only; in other
    threads, or when the current handler was not installed from Python
    (for example SIG_IGN), nothing is changed.
    """
    guard = _CtrlC()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield guard
        return
    try:
        signal.signal(signal.SIGINT, guard.remember)
        yield guard
    finally:
        signal.signal(signal.SIGINT, previous)
    guard.check()


# ---------------------------------------------------------------------------
# Model files
# ---------------------------------------------------------------------------

def npz_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), "
                        f"got {type(path).__name__}")
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def existing_model_file(path):
    """The file to load: ``path`` itself, else ``path`` + ``.npz``."""
    given = Path(path) if isinstance(path, (str, os.PathLike)) else None
    path = given if given is not None and given.is_file() else npz_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    return path


def read_model_fields(path, activations):
    """Every array of a saved model file, after checking them all."""
    fields, problem = _read_npz(path)
    if problem is None:
        problem = _model_fields_problem(fields, activations)
    if problem is not None:
        raise ValueError(f"{str(path)!r} is not a valid TwoLayerMLP file: "
                         f"{problem}")
    return fields


def _read_npz(path):
    """(fields, None) with every array of the archive, or (None, problem)."""
    with open(path, "rb") as f:
        start = f.read(6)
    if not start.startswith(b"PK"):            # every .npz is a zip archive
        what = ("it is empty" if not start else
                "it is a single .npy array, not an .npz archive"
                if start == b"\x93NUMPY" else
                "it is not an .npz archive (a zip file), as save() writes")
        return None, what
    try:
        # Opening the file ourselves guarantees it is closed even when
        # np.load fails half-way through a damaged archive. Pickles are
        # refused, so nothing in the file is ever executed.
        with open(path, "rb") as f:
            archive = np.load(f, allow_pickle=False)
            if not hasattr(archive, "files"):
                return None, "it holds a single array, not an .npz archive"
            with archive:
                return {name: archive[name] for name in archive.files}, None
    except Exception as exc:   # zipfile.BadZipFile, pickle refusal, ...
        return None, (f"could not read it as an .npz archive "
                      f"({type(exc).__name__}: {exc})")


def _model_fields_problem(fields, activations):
    """The first problem with the fields of a saved model, or None."""
    needed = ("format_version", "sizes", "activation") + PARAM_NAMES
    missing = [name for name in needed if name not in fields]
    if missing:
        return f"missing {', '.join(missing)}"
    version = fields["format_version"]
    if version.shape != () or version.dtype.kind not in "iu" \
            or int(version) != SAVE_FORMAT_VERSION:
        return f"unsupported format_version {version!r}"
    sizes = fields["sizes"]
    if sizes.shape != (3,) or sizes.dtype.kind not in "iu" or (sizes < 1).any():
        return f"sizes must be three positive integers, got {sizes!r}"
    activation = fields["activation"]
    if activation.shape != () or activation.dtype.kind != "U":
        return (f"activation must be one name, one of "
                f"{tuple(activations)}, got an array of {activation.dtype} "
                f"with shape {activation.shape}")
    if str(activation) not in activations:
        return (f"its activation {str(activation)!r} is not registered in "
                f"this session (known: {', '.join(map(repr, activations))});"
                f" add it to mlp.ACTIVATIONS first, as when it was trained: "
                f"ACTIVATIONS[{str(activation)!r}] = (f, f_derivative)")
    dtype = fields["W1"].dtype
    if dtype.type not in DTYPES:
        return f"W1 has dtype {dtype}, expected float32 or float64"
    for name, shape in param_shapes(*(int(s) for s in sizes)).items():
        value = fields[name]
        if value.shape != shape:
            return f"{name} has shape {value.shape}, expected {shape}"
        if value.dtype != dtype:
            return (f"{name} has dtype {value.dtype}, but W1 has {dtype}; "
                    f"all parameters must share one dtype")
        if not np.isfinite(value).all():
            return f"{name} contains NaN or infinite values"
    return None


# ---------------------------------------------------------------------------
# Arguments of utils.py
# ---------------------------------------------------------------------------

def scalar_result(value):
    """``value`` as a Python float, or a TypeError/ValueError saying why not."""
    if isinstance(value, np.ndarray) and value.ndim != 0:
        raise ValueError(
            f"f must return a scalar, got an array of shape {value.shape}; "
            f"reduce it first, e.g. with .sum()"
        )
    if np.iscomplexobj(value):
        raise TypeError(f"f must return a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"f must return a real number, got {type(value).__name__}; "
            f"for a net, pass a function returning only the loss"
        ) from None


def numerical_gradient_args(f, x, h):
    """Refuse what eval_numerical_gradient cannot work with."""
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        what = f"{x.dtype} array" if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(
            f"x must be a floating-point NumPy array (it is perturbed in "
            f"place and f must see that), got {what}; convert it first, e.g. "
            f"x = np.asarray(x, dtype=np.float64)"
        )
    if not x.flags.writeable:
        raise ValueError(
            "x is read-only, but it must be perturbed in place; pass a "
            "writeable array (e.g. x.copy())"
        )
    finite_difference_step(h)


def finite_difference_step(h):
    """Refuse a step h that is not a positive, finite real number."""
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating, np.integer)):
        raise TypeError(f"h must be a real number, got {type(h).__name__}")
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be positive and finite, got {h}")


def net_params(net, h):
    """The float64 params of a net for check_gradients, after checking h."""
    params = getattr(net, "params", None)
    if not isinstance(params, Mapping) or not callable(getattr(net, "loss", None)):
        raise TypeError(
            f"net must have a params dict and a loss method (like TwoLayerMLP), "
            f"got {type(net).__name__}"
        )
    for name, value in params.items():
        if not isinstance(value, np.ndarray) or value.dtype != np.float64:
            what = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise ValueError(
                f"parameter {name!r} is {what}, but gradient checking needs "
                f"float64 parameters; build the net with dtype=np.float64"
            )
    finite_difference_step(h)
    return params


def loss_and_gradients(result, params):
    """(loss, copies of the gradients in float64) from net.loss's result."""
    if not (isinstance(result, tuple) and len(result) == 2
            and isinstance(result[1], Mapping)):
        raise TypeError(
            "net.loss(X, y, ...) must return (loss, grads) with grads a dict; "
            "did you pass y=None?"
        )
    loss0, grads = scalar_result(result[0]), result[1]
    # Copies, because later loss calls might reuse the arrays they returned.
    analytic = {}
    require_gradients(grads)
    for name, value in params.items():
        if name not in grads:
            raise ValueError(f"net.loss returned no gradient for parameter {name!r}")
        grad = np.array(grads[name], dtype=np.float64)
        if grad.shape != value.shape:
            raise ValueError(
                f"the gradient of {name!r} has shape {grad.shape}, but the "
                f"parameter has shape {value.shape}"
            )
        analytic[name] = grad
    return loss0, analytic


def grid_args(Xs, ubound, padding):
    """Xs as an array of N >= 1 finite images, ubound and padding checked."""
    Xs = np.asarray(Xs)
    if Xs.dtype.kind not in "biuf":
        raise TypeError(f"Xs must hold real numbers, got dtype {Xs.dtype}")
    if not (Xs.ndim == 3 or (Xs.ndim == 4 and Xs.shape[3] == 3)):
        raise ValueError(
            f"Xs must have shape (N, H, W) or (N, H, W, 3), got {Xs.shape}; "
            f"reshape flat images first, e.g. X.reshape(-1, 28, 28)"
        )
    N, H, W = Xs.shape[:3]
    if N == 0 or H == 0 or W == 0:
        raise ValueError(f"Xs must contain at least one non-empty image, got shape {Xs.shape}")
    if not np.isfinite(Xs).all():
        raise ValueError("Xs contains NaN or infinite values, which cannot be rescaled")
    if isinstance(ubound, bool) or not isinstance(ubound, (int, float, np.integer, np.floating)):
        raise TypeError(f"ubound must be a number, got {type(ubound).__name__}")
    if not (math.isfinite(ubound) and ubound > 0):
        raise ValueError(f"ubound must be positive and finite, got {ubound}")
    if isinstance(padding, bool):
        raise TypeError("padding must be an integer number of pixels, got a bool")
    try:
        padding = operator.index(padding)
    except TypeError:
        raise TypeError(
            f"padding must be an integer number of pixels, got {type(padding).__name__}"
        ) from None
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    return Xs, ubound, padding


_STATS_KEYS = ("grad_magnitude_history", "loss_history", "train_acc_history",
               "val_acc_history")


def training_record(stats):
    """The four histories of a TwoLayerMLP.train record, as float arrays."""
    if not isinstance(stats, Mapping):
        raise TypeError(
            f"stats must be the dict returned by TwoLayerMLP.train, got "
            f"{type(stats).__name__}"
        )
    missing = [key for key in _STATS_KEYS if key not in stats]
    if missing:
        raise ValueError(
            f"stats lacks {', '.join(missing)}; pass the dict returned by "
            f"TwoLayerMLP.train (it has {', '.join(_STATS_KEYS)})"
        )
    series = {}
    for key in _STATS_KEYS:
        try:
            values = np.asarray(stats[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"stats[{key!r}] must be a sequence of numbers") from None
        if values.ndim != 1:
            raise ValueError(
                f"stats[{key!r}] must be 1-D (one value per step), got shape "
                f"{values.shape}"
            )
        series[key] = values
    train_acc, val_acc = series["train_acc_history"], series["val_acc_history"]
    # An empty val_acc_history is a run without a validation set.
    if len(val_acc) and len(val_acc) != len(train_acc):
        raise ValueError(
            f"train_acc_history has {len(train_acc)} epochs but "
            f"val_acc_history has {len(val_acc)}; they must match (or "
            f"val_acc_history be empty, for training without validation)"
        )
    return series


def square_first_layer(net):
    """(W1, side): a net's W1, (D, H) with D = side * side."""
    params = getattr(net, "params", None)
    if not isinstance(params, Mapping) or "W1" not in params:
        raise TypeError(
            f"net must have a params dict with 'W1' (like TwoLayerMLP), got "
            f"{type(net).__name__}"
        )
    W1 = np.asarray(params["W1"])
    if W1.ndim != 2 or 0 in W1.shape:
        raise ValueError(
            f"show_net_weights draws each column of W1 as an image, so W1 "
            f"must have shape (D, H) with D, H >= 1 (input_size D, H hidden "
            f"units); got W1 of shape {W1.shape}"
        )
    D, H = W1.shape
    side = math.isqrt(D)
    if side * side != D:
        raise ValueError(
            f"show_net_weights draws each column of W1 as a square image, but "
            f"W1 has shape {W1.shape} and {D} (the net's input_size) is not a "
            f"perfect square such as 64 (8x8) or 784 (28x28); for images of "
            f"height x width = {D} pixels, show visualize_grid(net.params["
            f"'W1'].T.reshape(-1, height, width)) with imshow instead"
        )
    return W1, side
