"""Everything around the two-layer network: MNIST data, gradient checks, plots.

``mlp.py`` holds the network and does not import this module. Its parts:

Data
    :func:`get_MNIST_data` gives the train / validation / test split of
    MNIST as flat float arrays, :func:`load_mnist` the raw uint8 arrays,
    from a folder you name or downloaded once into a per-user cache. The
    file machinery behind them (finding, downloading, verifying, the IDX
    reader :func:`parse_idx`) is in the private module ``_mnist_files.py``;
    the argument checks of this module are in ``_checks.py``.
Gradient checking
    :func:`eval_numerical_gradient`, :func:`rel_error` and
    :func:`check_gradients`, which returns a :class:`GradientCheck`.
Pictures
    :func:`visualize_grid` lays images out in a grid array;
    :func:`plot_stats` and :func:`show_net_weights` return a new Figure made
    without pyplot (no window, pyplot's current figure unchanged, nothing
    to close); a notebook shows it as a cell's value or via ``display``.
"""
import math

import numpy as np
from matplotlib import colormaps, ticker
from matplotlib.figure import Figure

import _checks
import _mnist_files
from _mnist_files import (DEFAULT_MIRRORS, MNIST_FILES, MNISTDownloadError,
                          MNISTNotFoundError, mnist_cache_dir, parse_idx)

__all__ = [
    "get_MNIST_data", "load_mnist", "mnist_cache_dir", "MNIST_FILES",  # data
    "parse_idx", "DEFAULT_MIRRORS", "MNISTDownloadError", "MNISTNotFoundError",
    "eval_numerical_gradient", "rel_error", "check_gradients",    # gradients
    "GradientCheck", "GRADIENT_ERROR_THRESHOLD",
    "visualize_grid", "plot_stats", "show_net_weights",           # pictures
]


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def load_mnist(data_dir=None, *, mirrors=None, timeout=30.0, progress=True):
    """The four MNIST arrays, raw, from a local folder or a verified download.

    Where the files are looked for, in order:

    1. ``data_dir`` if given;
    2. else ``$MNIST_DATA_DIR`` if set and not empty;
    3. else the per-user cache folder :func:`mnist_cache_dir`
       (``$XDG_CACHE_HOME/mnist`` or ``~/.cache/mnist``).

    Each of the four files ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte`` may be stored plain or gzip-compressed
    (``.gz``); if both exist, the plain one is used.

    A folder given explicitly (``data_dir`` or ``$MNIST_DATA_DIR``) must
    hold all four files: a missing one is an error and nothing is
    downloaded, because silently fetching 11 MB to some other place would
    hide a typo in the path. Only when relying on the cache folder are the
    missing ``.gz`` files downloaded into it, from each mirror in turn until
    one delivers a file whose content passes the checks. Files are never
    written to a folder in which they were found: an explicit folder is only
    read (it may be read-only), and in the cache folder only files that are
    absent are added.

    Every file is checked before use: IDX structure (magic number, 60000 or
    10000 items, 28x28 images, labels 0..9, lengths agree with the header)
    and the SHA-256 of its decompressed content.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder holding the four files.
    mirrors : list of str or str, optional
        Base URLs to download from, tried in order; the file name (e.g.
        ``train-images-idx3-ubyte.gz``) is appended, after a ``/`` if the
        base does not end in one. A string is split at commas. Default:
        ``$MNIST_MIRRORS`` (comma-separated) if set, else
        :data:`DEFAULT_MIRRORS`.
    timeout : float, optional
        Seconds a download may wait for the server to connect or to send
        more data before that mirror counts as failed.
    progress : bool, optional
        Report download progress on stderr.

    Returns
    -------
    train_images : ndarray of uint8, shape (60000, 28, 28)
    train_labels : ndarray of uint8, shape (60000,)
    test_images : ndarray of uint8, shape (10000, 28, 28)
    test_labels : ndarray of uint8, shape (10000,)
        Read-only arrays.

    Raises
    ------
    MNISTNotFoundError (a FileNotFoundError)
        If ``data_dir`` or ``$MNIST_DATA_DIR`` does not hold all four files.
    ValueError
        If a file is truncated, corrupt or not the original (the message
        names the file and the problem), or an argument is invalid.
    MNISTDownloadError
        If files are missing from the cache folder and no mirror delivered
        them; the message gives the fix, then every URL tried and why it
        failed (Jupyter shows both errors' messages without a traceback).
    """
    return _mnist_files.load_files(data_dir, mirrors, timeout, progress)


def get_MNIST_data(num_training=50000, num_validation=10000, num_test=10000,
                   data_dir=None, normalize="mean", dtype=np.float64, *,
                   mirrors=None, timeout=30.0, progress=True):
    """MNIST split into training, validation and test sets, as flat images.

    Training is the first ``num_training`` images of the official
    60,000-image training set, validation the ``num_validation`` images
    that follow them, and test the first ``num_test`` images of the
    official 10,000-image test set.

    Where the files come from, and when they are downloaded, is described
    in :func:`load_mnist`: ``data_dir``, else ``$MNIST_DATA_DIR``, else the
    per-user cache folder, which is the only place downloads go to.

    Parameters
    ----------
    num_training, num_validation : int, optional
        Sizes of the training and validation splits; together at most 60000.
    num_test : int, optional
        Size of the test split, at most 10000.
    data_dir : str or os.PathLike, optional
        Folder holding the four MNIST files (see :func:`load_mnist`).
    normalize : {'mean', 'scale', None}, optional
        ``'mean'``: pixel values 0..255 with the mean image of the training
        split subtracted from all three splits (the preprocessing the
        problem set's hyperparameters were tuned for; needs
        ``num_training >= 1``). ``'scale'``: pixels divided by 255, to
        [0, 1]. ``None``: raw values 0..255.
    dtype : floating dtype, optional
        Type of the returned images. The mean image is computed in float64
        whatever ``dtype`` is.
    mirrors, timeout, progress
        Download settings, see :func:`load_mnist`.

    Returns
    -------
    X_train : ndarray of dtype, shape (num_training, 784)
    y_train : ndarray of int64, shape (num_training,)
    X_val : ndarray of dtype, shape (num_validation, 784)
    y_val : ndarray of int64, shape (num_validation,)
    X_test : ndarray of dtype, shape (num_test, 784)
    y_test : ndarray of int64, shape (num_test,)
        Fresh, writeable arrays; labels are 0..9.

    Raises
    ------
    ValueError, TypeError
        For invalid arguments, e.g. more images than MNIST has.
    MNISTNotFoundError, MNISTDownloadError
        When the files are missing; see :func:`load_mnist`.
    """
    num_training, num_validation, num_test, dtype = _mnist_files.check_split(
        num_training, num_validation, num_test, normalize, dtype)
    train_images, train_labels, test_images, test_labels = load_mnist(
        data_dir, mirrors=mirrors, timeout=timeout, progress=progress)
    end_val = num_training + num_validation
    X_train = train_images[:num_training].reshape(-1, 784).astype(dtype)
    X_val = train_images[num_training:end_val].reshape(-1, 784).astype(dtype)
    X_test = test_images[:num_test].reshape(-1, 784).astype(dtype)
    y_train = train_labels[:num_training].astype(np.int64)
    y_val = train_labels[num_training:end_val].astype(np.int64)
    y_test = test_labels[:num_test].astype(np.int64)

    if normalize == "mean":
        mean_image = X_train.mean(axis=0, dtype=np.float64).astype(dtype)
        for X in (X_train, X_val, X_test):
            X -= mean_image
    elif normalize == "scale":
        for X in (X_train, X_val, X_test):
            X /= 255
    return X_train, y_train, X_val, y_val, X_test, y_test


# ---------------------------------------------------------------------------
# Gradient checking
# ---------------------------------------------------------------------------

def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function by centered differences.

    Each ``x[i]`` is raised and lowered by ``h``; the slope is
    ``(f(x+) - f(x-)) / (x+[i] - x-[i])`` with the values actually stored,
    which differ from ``x[i] +- h`` by rounding (noticeably in float32).

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real scalar. It must read ``x`` itself (not a
        copy made earlier), since ``x`` is perturbed in place.
    x : ndarray of floating dtype, any shape
        The point; modified in place, and restored exactly afterwards (also
        when ``f`` raises).
    verbose : bool, optional
        Print each index and its slope.
    h : float, optional
        The step. 1e-5 is meant for float64; for float32 use about 1e-2 and
        expect only 2-3 correct digits.

    Returns
    -------
    ndarray of float64, same shape as x

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not a floating-point ndarray, or
        ``f`` does not return a real number.
    ValueError
        If ``x`` is read-only, ``h`` is not positive and finite, ``f``
        returns an array, or ``h`` is lost to rounding in ``x``'s dtype.
    """
    _checks.numerical_gradient_args(f, x, h)
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index].copy()  # a 0-d copy keeps the exact bits
        try:
            x[index] = old + h
            high = float(x[index])
            f_high = _checks.scalar_result(f(x))
            x[index] = old - h
            low = float(x[index])
            f_low = _checks.scalar_result(f(x))
        finally:
            x[index] = old
        if high == low:
            raise ValueError(
                f"h={h} is lost to rounding at x{list(index)} = {float(old)} "
                f"in {x.dtype}; use a larger h or a float64 array")
        grad[index] = (f_high - f_low) / (high - low)
        if verbose:
            print(index, grad[index])
    return grad


def rel_error(x, y):
    """Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``.

    Parameters
    ----------
    x, y : array_like of real numbers, same shape
        No broadcasting: different shapes are an error, since comparing a
        gradient with the wrong array is a bug.

    Returns
    -------
    float
        The maximum over all elements; 0.0 for empty arrays, NaN if any
        element is NaN or infinite.

    Raises
    ------
    TypeError
        If an input is not real-valued numeric.
    ValueError
        If the shapes differ.
    """
    arrays = []
    for label, value in (("x", x), ("y", y)):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"rel_error: {label} must hold real numbers, "
                            f"got dtype {array.dtype}")
        arrays.append(array.astype(np.float64))
    x, y = arrays
    if x.shape != y.shape:
        raise ValueError(
            f"rel_error: x has shape {x.shape} but y has shape {y.shape}; "
            f"compare arrays of the same shape")
    if x.size == 0:
        return 0.0
    # The ratio is scale-free, so halving both parts keeps x - y from
    # overflowing for values near the float64 limit.
    with np.errstate(invalid="ignore"):
        diff = np.abs(x / 2 - y / 2)
        denom = np.maximum(0.5e-8, np.abs(x) / 2 + np.abs(y) / 2)
        return float(np.max(diff / denom))


#: check_gradients calls a gradient right when its error lies below this.
GRADIENT_ERROR_THRESHOLD = 1e-6


class GradientCheck(dict):
    """What :func:`check_gradients` returns: a dict ``{name: error}``.

    ``kinks[name]`` counts the entries left out of the error because their
    finite difference straddled a kink; ``ok`` says whether every error
    lies below ``threshold`` (:data:`GRADIENT_ERROR_THRESHOLD`). Printing
    it gives one line per parameter, in words.
    """

    def __init__(self, errors, kinks, sizes):
        super().__init__(errors)
        self.kinks, self.sizes = kinks, sizes
        self.threshold = GRADIENT_ERROR_THRESHOLD

    @property
    def ok(self):
        return all(error < self.threshold for error in self.values())

    def __str__(self):
        lines = []
        for name, error in self.items():
            verdict = "right" if error < self.threshold else "WRONG"
            line = f"{name}: relative error {error:.2e} ({verdict})"
            if self.kinks[name]:
                line += (f"; {self.kinks[name]} of {self.sizes[name]} entries "
                         f"left out: their finite difference crossed a kink "
                         f"(a ReLU unit switching on or off, or an L1-"
                         f"penalised weight crossing 0), where the numeric "
                         f"slope is meaningless")
            lines.append(line)
        return "\n".join(lines)

    def __repr__(self):
        return f"GradientCheck({dict(self)!r}, kinks={self.kinks!r})"


def _loss_at_offsets(f, x, index, offsets):
    """f with x[index] moved by each offset in turn (x restored exactly
    afterwards), and the offsets actually stored in x's dtype."""
    old = x[index].copy()          # a 0-d copy keeps the exact bits
    values, steps = [], []
    try:
        for offset in offsets:
            x[index] = old + offset
            steps.append(float(x[index]) - float(old))
            values.append(_checks.scalar_result(f(x)))
    finally:
        x[index] = old
    return values, steps


def check_gradients(net, X, y, reg=0.0, h=1e-5, **loss_kwargs):
    """Compare the analytic gradients of a net with numerical ones.

    Each parameter entry is moved by -h, -h/2, +h/2 and +h in turn. The
    numerical slope is the centred difference over +-h. Where the loss has
    a kink within that stretch (a ReLU unit switching on or off for some
    sample, or an L1-penalised weight crossing 0), that is not the
    derivative at all, so the entry is left out and counted in ``kinks``.
    To find kinks, the loss at +-h/2 is compared with the parabola through
    the loss at -h, 0 and +h: a kink in the stretch moves it away by at
    least h/4 times the error the kink causes in the slope, a smooth loss
    only by O(h**3).

    A parameter's error is ``||numeric - analytic|| / max(||numeric|| +
    ||analytic||, floor)`` over its other entries; unlike the largest
    elementwise relative error, it does not blow up on entries whose
    gradient is close to 0. Below :data:`GRADIENT_ERROR_THRESHOLD` (1e-6)
    the gradient is right (1e-8 or less is typical); a wrong one gives
    1e-3 or more. The floor is what rounding alone can do: rounding each
    loss to about ``eps * |loss|`` (eps = 2.2e-16) moves each slope by
    ``noise = eps * max(|loss|, 1) / h``, and ``floor = 50 * sqrt(n) *
    noise / 1e-6`` for a parameter of n entries, so differences within 50
    times the noise never count as wrong, at any scale of the gradient. A
    kink is counted when it could move a slope by more than 20 times the
    noise (and by a visible share of the error).

    Parameters
    ----------
    net : TwoLayerMLP
        Any object with a ``params`` dict of float64 arrays and a method
        ``loss(X, y, reg=..., **loss_kwargs)`` returning ``(loss, grads)``
        with one gradient per parameter. It is left unchanged: parameters
        are perturbed in place and restored exactly.
    X : ndarray, shape (N, D)
        Inputs; keep N and the net small: each entry costs four losses.
    y : ndarray of int, shape (N,)
        Labels.
    reg : float, optional
        Regularization strength passed to ``net.loss``.
    h : float, optional
        The finite-difference step.
    **loss_kwargs
        Further keyword arguments for ``net.loss``, e.g. ``penalty='l1'``.

    Returns
    -------
    GradientCheck
        ``{param_name: error}`` in the order of ``net.params`` (NaN when all
        entries of the parameter were left out), with ``.kinks`` (entries
        left out per parameter) and ``.ok``; print it for a summary.

    Raises
    ------
    TypeError
        If ``net`` lacks ``params`` or ``loss``, ``loss`` does not return
        ``(loss, grads)``, or ``h`` is not a number.
    ValueError
        If a parameter is not float64 (numerical gradients in lower
        precision are too inaccurate to judge anything), a gradient is
        missing or has the wrong shape, or ``h`` is not positive and finite.
    """
    params = _checks.net_params(net, h)
    loss0, analytic = _checks.loss_and_gradients(
        net.loss(X, y, reg=reg, **loss_kwargs), params)

    def loss_only(_):
        return net.loss(X, y, reg=reg, **loss_kwargs)[0]

    # Rounding the loss to float64 moves each finite-difference slope by
    # about this much; smaller differences cannot be measured.
    noise = np.finfo(np.float64).eps * max(abs(loss0), 1.0) / h
    errors, kinks, sizes = {}, {}, {}
    for name, value in params.items():
        numeric = np.zeros(value.shape)
        kink_error = np.zeros(value.shape)    # what a kink may do to numeric
        for index in np.ndindex(value.shape):
            (f_minus, f_half_minus, f_half_plus, f_plus), steps = \
                _loss_at_offsets(loss_only, value, index, (-h, -h/2, h/2, h))
            numeric[index] = (f_plus - f_minus) / (steps[3] - steps[0])
            # The parabola through (-h, f_minus), (0, loss0), (h, f_plus),
            # at -h/2 and +h/2.
            parabola_minus = 0.375 * f_minus - 0.125 * f_plus + 0.75 * loss0
            parabola_plus = 0.375 * f_plus - 0.125 * f_minus + 0.75 * loss0
            kink_error[index] = 4 / h * max(abs(f_half_minus - parabola_minus),
                                            abs(f_half_plus - parabola_plus))
        floor = 50 * math.sqrt(value.size) * noise / GRADIENT_ERROR_THRESHOLD
        scale = max(np.linalg.norm(numeric) + np.linalg.norm(analytic[name]),
                    floor)
        # Entries whose possible kink error could matter, beyond rounding.
        kinked = kink_error > max(20 * noise, 0.1 * GRADIENT_ERROR_THRESHOLD
                                  * scale / math.sqrt(value.size))
        smooth = ~kinked
        difference = np.linalg.norm(numeric[smooth] - analytic[name][smooth])
        total = (np.linalg.norm(numeric[smooth])
                 + np.linalg.norm(analytic[name][smooth]))
        errors[name] = (float(difference / max(total, floor))
                        if smooth.any() else float("nan"))
        kinks[name], sizes[name] = int(kinked.sum()), value.size
    return GradientCheck(errors, kinks, sizes)


# ---------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------

def visualize_grid(Xs, ubound=255.0, padding=1, *, fill=0.0):
    """Lay out images in a near-square grid, each rescaled to [0, ubound].

    Parameters
    ----------
    Xs : array_like, shape (N, H, W) or (N, H, W, 3)
        N >= 1 grayscale or RGB images of finite real values.
    ubound : float, optional
        Each image is mapped linearly from its own [min, max] to
        [0, ubound]; a constant image becomes all zeros.
    padding : int, optional
        Pixels of ``fill`` between neighbouring cells.
    fill : float, optional
        Value of the padding and unused cells: finite, or NaN, which imshow
        draws in the colormap's "bad" colour (as :func:`show_net_weights`).

    Returns
    -------
    ndarray of float64, shape (G*(H+padding)-padding, G*(W+padding)-padding)
        (plus a trailing 3 for RGB), ``G = ceil(sqrt(N))``. Images fill the
        grid row by row; unused cells and padding are ``fill``, 0 by default.

    Raises
    ------
    TypeError
        If ``Xs`` is not real-valued or ``ubound``, ``padding`` or ``fill``
        has the wrong type.
    ValueError
        If the shape is wrong, N is 0, a value is not finite, ``ubound`` is
        not positive, ``padding`` is negative or ``fill`` is infinite.
    """
    Xs, ubound, padding = _checks.grid_args(Xs, ubound, padding)
    if not (isinstance(fill, (float, np.floating)) and math.isnan(fill)):
        fill = _checks.real(fill, "fill", lambda value: True, "or NaN")
    N, H, W = Xs.shape[:3]
    G = math.isqrt(N - 1) + 1  # ceil(sqrt(N)), exactly, for N >= 1
    grid = np.full((G * (H + padding) - padding, G * (W + padding) - padding)
                   + Xs.shape[3:], fill)
    for i in range(N):
        row, col = divmod(i, G)
        # Halved values: their differences cannot overflow float64.
        image = Xs[i].astype(np.float64) / 2
        low, high = image.min(), image.max()
        top, left = row * (H + padding), col * (W + padding)
        grid[top:top + H, left:left + W] = (
            ubound * ((image - low) / (high - low)) if high > low else 0.0)
    return grid


def plot_stats(stats):
    """Plot the training record of ``TwoLayerMLP.train``.

    Parameters
    ----------
    stats : dict
        With 1-D sequences ``grad_magnitude_history`` and ``loss_history``
        (one value per iteration) and ``train_acc_history`` and
        ``val_acc_history`` (one value per epoch; the latter may be empty,
        for training without a validation set). ``train_acc_sample_size``,
        when present, labels the training accuracy with the size of the
        sample it was measured on; other keys are ignored.

    Returns
    -------
    matplotlib.figure.Figure
        New, unknown to pyplot, with three stacked axes: the W1 gradient
        magnitude and the loss per iteration, and the training and
        validation accuracy per epoch (both counted from 1; whole epochs
        ticked). A per-iteration plot has a log y-scale, so the large first
        steps do not flatten the rest, if every value is > 0, otherwise
        (e.g. a gradient magnitude of exactly 0, or NaN) a linear one.

    Raises
    ------
    TypeError
        If ``stats`` is not a dict or a history is not numeric.
    ValueError
        If a key is missing, a history is not 1-D, or a non-empty
        ``val_acc_history`` differs in length from ``train_acc_history``.
    """
    series = _checks.training_record(stats)
    train_acc, val_acc = series["train_acc_history"], series["val_acc_history"]
    # Without pyplot, the figure is not pyplot's current one (where a student's
    # next plt.plot would draw), and pyplot neither keeps nor counts it.
    fig = Figure(figsize=(8, 10), layout="constrained")
    ax_grad, ax_loss, ax_acc = fig.subplots(3, 1)
    for ax, key, title, ylabel in (
            (ax_grad, "grad_magnitude_history", "Gradient magnitude of W1",
             "Gradient magnitude"),
            (ax_loss, "loss_history", "Training loss", "Loss")):
        ax.plot(np.arange(1, len(series[key]) + 1), series[key])
        log = series[key].size > 0 and bool(np.all(series[key] > 0))
        ax.set(title=title, xlabel="Iteration", ylabel=ylabel,
               yscale="log" if log else "linear")

    epochs = np.arange(1, len(train_acc) + 1)
    # TwoLayerMLP.train measures the training accuracy on a fixed sample.
    sample_size = stats.get("train_acc_sample_size")
    train_label = ("train" if sample_size is None
                   else f"train (sample of {sample_size:,})")
    ax_acc.plot(epochs, train_acc, marker="o", label=train_label)
    if len(val_acc):
        ax_acc.plot(epochs, val_acc, marker="o", label="validation")
    ax_acc.set(title="Classification accuracy", xlabel="Epoch",
               ylabel="Accuracy")
    whole = ticker.MaxNLocator(integer=True, min_n_ticks=1)  # also 1 epoch
    ax_acc.xaxis.set_major_locator(whole)
    ax_acc.legend()
    return fig


def show_net_weights(net):
    """Show the first-layer weights of a net as a grid of square images.

    Parameters
    ----------
    net : TwoLayerMLP
        A net for flattened square images, not modified: ``params['W1']``
        has shape (D, H) with D a perfect square, e.g. 784 for MNIST
        (28x28) or 64 for scikit-learn's digits (8x8).

    Returns
    -------
    matplotlib.figure.Figure
        New, unknown to pyplot, with one gray-scale image: column j of W1
        as a ``sqrt(D) x sqrt(D)`` image is cell j of :func:`visualize_grid`
        (rescaled to its own range), ``max(1, sqrt(D) // 9)`` pixels apart.
        The padding and unused cells are masked (NaN) and drawn in blue
        (``tab:blue``, the colormap's "bad" colour), unlike any gray tile.

    Raises
    ------
    TypeError
        If ``net`` has no ``params`` dict with ``W1``.
    ValueError
        If W1 is not of shape (D, H) with D, H >= 1, or D is not a perfect
        square.
    """
    W1, side = _checks.square_first_layer(net)
    H = W1.shape[1]
    grid = visualize_grid(W1.T.reshape(H, side, side), ubound=255.0,
                          padding=max(1, side // 9), fill=np.nan)
    fig = Figure(figsize=(6, 6), layout="constrained")
    ax = fig.subplots()
    cmap = colormaps["gray"].with_extremes(bad="tab:blue")  # NaN: borders
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(f"First-layer weights ({H} hidden units, {side}x{side} "
                 f"pixels each)")
    ax.axis("off")
    return fig
