"""Everything around the two-layer network: MNIST data, gradient checks, plots.

The network itself lives in ``mlp.py``, which does not import this module.

Data
    :func:`get_MNIST_data` returns the standard train / validation / test split
    of MNIST as flat float arrays, loading the four IDX files from a local
    folder and downloading them into a per-user cache only when no folder is
    configured and the cache lacks them. :func:`load_mnist` returns the raw
    uint8 arrays, and :func:`parse_idx` parses any IDX byte string.
Gradient checks
    :func:`eval_numerical_gradient`, :func:`rel_error` and
    :func:`check_gradients`.
Pictures
    :func:`visualize_grid`, :func:`plot_stats` and :func:`show_net_weights`.
    The plot functions return a matplotlib Figure and never call ``show()``;
    they work headless (Agg backend) and display as usual in a notebook.
"""
import gzip
import hashlib
import http.client
import io
import math
import operator
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

__all__ = [
    "DEFAULT_MIRRORS",
    "MNIST_FILES",
    "MNISTDownloadError",
    "GRADIENT_ERROR_THRESHOLD",
    "GradientCheck",
    "check_gradients",
    "eval_numerical_gradient",
    "get_MNIST_data",
    "load_mnist",
    "mnist_cache_dir",
    "parse_idx",
    "plot_stats",
    "rel_error",
    "show_net_weights",
    "visualize_grid",
]

# ---------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------

#: The four MNIST files: name -> (array shape, SHA-256 of the decompressed bytes).
MNIST_FILES = {
    "train-images-idx3-ubyte": (
        (60000, 28, 28),
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": (
        (60000,),
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": (
        (10000, 28, 28),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        (10000,),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

#: Base URLs tried in order; the file name (e.g. ``train-images-idx3-ubyte.gz``)
#: is appended to each.
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_TRAIN_SIZE = 60000
_TEST_SIZE = 10000
_PIXELS = 28 * 28

# IDX type byte -> big-endian NumPy dtype (the format stores everything MSB first).
_IDX_DTYPES = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
# The IDX header allows 255 dimensions; NumPy does not, and no real data set
# comes near this, so a larger count is treated as a corrupt header.
_IDX_MAX_DIMS = 32

_CHUNK = 1 << 16  # download read size
_GUNZIP_CHUNK = 1 << 18  # decompression output per read


class MNISTDownloadError(OSError):
    """The MNIST files were found nowhere and no mirror delivered them."""


def mnist_cache_dir():
    """The per-user folder where downloaded MNIST files are kept.

    Returns
    -------
    pathlib.Path
        ``$XDG_CACHE_HOME/mnist`` when ``XDG_CACHE_HOME`` is set and not
        empty, otherwise ``~/.cache/mnist``. The folder may not exist yet.
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mnist"


def parse_idx(data, name="IDX data"):
    """Parse the bytes of an (uncompressed) IDX file into an array.

    The header is two zero bytes, a type byte (0x08 uint8, 0x09 int8,
    0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of
    dimensions, and then each dimension as a big-endian uint32. The declared
    size is checked against the actual length before any array is built, so
    a lying header cannot cause a huge allocation.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The complete, decompressed file content.
    name : str, optional
        What to call the data in error messages (usually the file path).

    Returns
    -------
    numpy.ndarray
        Array of the declared shape, in native byte order. For uint8 and int8
        data it is a view of ``data`` (read-only when ``data`` is ``bytes``).

    Raises
    ------
    TypeError
        If ``data`` is not bytes-like.
    ValueError
        If the header is malformed or the data length does not match it.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"parse_idx: data must be bytes, bytearray or memoryview, "
            f"got {type(data).__name__}; read the file in binary mode ('rb')"
        )
    data = memoryview(data).cast("B")
    if len(data) < 4:
        raise ValueError(
            f"{name}: only {len(data)} bytes, too short for an IDX header "
            f"(at least 4 bytes); the file is truncated or not an IDX file"
        )
    zero0, zero1, type_code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(
            f"{name}: does not start with two zero bytes (found "
            f"0x{zero0:02x} 0x{zero1:02x}), so it is not an IDX file; if it is "
            f"gzip-compressed, its name must end in .gz"
        )
    if type_code not in _IDX_DTYPES:
        raise ValueError(
            f"{name}: unknown IDX data type 0x{type_code:02x} in the header "
            f"(known: {', '.join(f'0x{c:02x}' for c in _IDX_DTYPES)}); "
            f"the file is corrupt or not an IDX file"
        )
    if not 1 <= ndim <= _IDX_MAX_DIMS:
        raise ValueError(
            f"{name}: the header declares {ndim} dimensions, expected 1 to "
            f"{_IDX_MAX_DIMS}; the file is corrupt or not an IDX file"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"{name}: the header declares {ndim} dimensions and so needs "
            f"{header_size} bytes, but the data holds only {len(data)}; "
            f"the file is truncated"
        )
    shape = tuple(
        int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = np.dtype(_IDX_DTYPES[type_code])
    # Python integers cannot overflow, so a header with huge dimensions is
    # caught here instead of reaching NumPy.
    count = math.prod(shape)
    expected = header_size + count * dtype.itemsize
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has extra bytes at the end"
        raise ValueError(
            f"{name}: the header declares shape {shape} of {dtype.name}, "
            f"i.e. {expected} bytes in all, but the data has {len(data)} "
            f"bytes; the file is {problem}"
        )
    # With a zero dimension the length check passes whatever the others
    # claim, but NumPy refuses shapes whose non-zero dimensions span more
    # bytes than an intp can count, with an error that names no file.
    span = math.prod(size for size in shape if size) * dtype.itemsize
    if span > np.iinfo(np.intp).max:
        raise ValueError(
            f"{name}: the header declares shape {shape} of {dtype.name}, "
            f"which is empty but too large for NumPy to represent; the file "
            f"is corrupt"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header_size)
    array = array.reshape(shape)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _decompress(fileobj, source, max_size):
    """Gunzip the binary file object ``fileobj``, up to ``max_size + 1`` bytes.

    The limit keeps a corrupt or hostile file from expanding into gigabytes;
    one byte more than expected is enough to know the file is too long.
    The output is read in chunks, so memory follows what the stream really
    holds: a tiny corrupt file does not cost a buffer of ``max_size`` bytes
    (``GzipFile.read(n)`` allocates ``n`` bytes up front).
    """
    output = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=fileobj, mode="rb") as stream:
            while output.tell() <= max_size:
                wanted = min(_GUNZIP_CHUNK, max_size + 1 - output.tell())
                chunk = stream.read(wanted)
                if not chunk:
                    break
                output.write(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise ValueError(
            f"{source}: not a valid gzip file ({type(exc).__name__}: {exc}); "
            f"it is truncated or corrupt"
        ) from exc
    # getvalue() hands over the buffer without copying it.
    data = output.getvalue()
    if len(data) > max_size:
        raise ValueError(
            f"{source}: decompresses to more than the {max_size} bytes "
            f"expected, so it is not the MNIST file it is named after"
        )
    return data


def _check_mnist(data, name, source):
    """Parse and verify the decompressed content of MNIST file ``name``.

    Structure is checked before the checksum because it gives the more
    useful message (e.g. "truncated" or "wrong number of images").
    """
    shape, sha256 = MNIST_FILES[name]
    array = parse_idx(data, name=source)
    if array.dtype != np.uint8 or array.shape != shape:
        raise ValueError(
            f"{source}: holds an IDX array of shape {array.shape} and type "
            f"{array.dtype}, but {name} must hold shape {shape} of uint8; "
            f"it is the wrong file"
        )
    if array.ndim == 1 and array.max() > 9:
        raise ValueError(
            f"{source}: contains label {int(array.max())}, but MNIST labels "
            f"are 0..9; the file is corrupt"
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"{source}: SHA-256 of the decompressed content is {digest}, but "
            f"the original {name} has {sha256}; the file is corrupt or "
            f"modified"
        )
    return array


def _expected_size(name):
    shape, _ = MNIST_FILES[name]
    return 4 + 4 * len(shape) + math.prod(shape)


def _read_mnist_file(path, name):
    """Read, decompress (if .gz) and verify one local MNIST file."""
    expected = _expected_size(name)
    if path.suffix == ".gz":
        try:
            with open(path, "rb") as fileobj:
                data = _decompress(fileobj, path, expected)
        except ValueError as exc:
            raise ValueError(f"{exc}. {_replace_hint()}") from exc
    else:
        # Checking the size first avoids reading a huge wrong file.
        size = path.stat().st_size
        if size != expected:
            raise ValueError(
                f"{path}: is {size} bytes, but {name} has {expected}; the "
                f"file is truncated or the wrong file. {_replace_hint()}"
            )
        data = path.read_bytes()
    try:
        return _check_mnist(data, name, path)
    except ValueError as exc:
        raise ValueError(f"{exc}. {_replace_hint()}") from exc


def _replace_hint():
    return (
        f"Replace it with an intact copy, or, if it is in the cache folder "
        f"{str(mnist_cache_dir())!r}, delete it so that it is downloaded again."
    )


def _find_files(folder):
    """Map each MNIST name to its file in ``folder``; list the missing names.

    An uncompressed file is preferred over a .gz of the same name because
    it needs no decompression.
    """
    found, missing = {}, []
    for name in MNIST_FILES:
        for candidate in (folder / name, folder / (name + ".gz")):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            missing.append(name)
    return found, missing


def _mirror_list(mirrors):
    """The mirror base URLs: the argument, else $MNIST_MIRRORS, else defaults."""
    if mirrors is None:
        env = os.environ.get("MNIST_MIRRORS")
        if env is None:
            return list(DEFAULT_MIRRORS)
        urls = [part.strip() for part in env.split(",") if part.strip()]
        if not urls:
            raise ValueError(
                f"MNIST_MIRRORS={env!r} contains no URL; set it to comma-"
                f"separated base URLs, or unset it to use the default mirrors"
            )
        return urls
    if isinstance(mirrors, str):
        urls = [part.strip() for part in mirrors.split(",") if part.strip()]
    else:
        try:
            urls = list(mirrors)
        except TypeError:
            raise TypeError(
                f"mirrors must be a list of base URL strings, got "
                f"{type(mirrors).__name__}"
            ) from None
        if not all(isinstance(url, str) and url.strip() for url in urls):
            raise TypeError(
                f"mirrors must be a list of non-empty base URL strings, got "
                f"{urls!r}"
            )
    if not urls:
        raise ValueError(
            "mirrors is empty; give at least one base URL, or None for the "
            "default mirrors"
        )
    return urls


def _file_url(base, filename):
    # Without the slash, the file name would be glued to the last path part.
    return (base if base.endswith("/") else base + "/") + filename


def _describe_failure(exc, timeout):
    """A short human-readable reason for a failed download attempt."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, TimeoutError):
        return f"timed out (no data for {timeout} s)"
    if isinstance(exc, urllib.error.URLError):
        if isinstance(exc.reason, TimeoutError):
            return f"timed out (no data for {timeout} s)"
        return f"cannot connect: {exc.reason}"
    if isinstance(exc, ValueError):
        return str(exc)  # our own checks, already a full sentence
    return f"{type(exc).__name__}: {exc}"


class _Progress:
    """A one-line download progress report on stderr.

    On a terminal the line is redrawn in place; in logs (not a terminal)
    only the final line is written, so captured output stays short.
    """

    def __init__(self, enabled, label):
        self.label = label
        self.stream = sys.stderr
        # sys.stderr is None under pythonw; then there is nowhere to report.
        self.enabled = enabled and self.stream is not None
        self.live = self.enabled and self.stream.isatty()
        self.last_percent = None

    def _line(self, received, total):
        text = f"{self.label}: {received / 1e6:.1f}"
        if total:
            text += f" / {total / 1e6:.1f} MB ({100 * received // total}%)"
        else:
            text += " MB"
        return text

    def update(self, received, total):
        if not self.live:
            return
        percent = 100 * received // total if total else received >> 20
        if percent != self.last_percent:
            self.last_percent = percent
            self.stream.write("\r" + self._line(received, total))
            self.stream.flush()

    def finish(self, received, total, outcome):
        if self.enabled:
            prefix = "\r" if self.live else ""
            self.stream.write(f"{prefix}{self._line(received, total)} {outcome}\n")
            self.stream.flush()


def _content_length(response):
    value = response.headers.get("Content-Length")
    try:
        length = int(value)
    except (TypeError, ValueError):
        return None
    return length if length >= 0 else None


def _download_one(url, name, target, timeout, progress):
    """Download ``url`` to ``target`` via a temporary file, verified.

    The bytes go to a uniquely named ``<file>.part-*`` file next to
    ``target``; only after the content passed the structure and SHA-256
    checks is it renamed (atomically) to ``target``. On any failure, or an
    interrupt, the temporary file is deleted, so nothing that looks complete
    is ever left behind.
    """
    host = urllib.parse.urlsplit(url).netloc or url
    report = _Progress(progress, f"Downloading {target.name} from {host}")
    # gzip never grows data by more than a few bytes per 16 kB block, so
    # anything much larger than the content cannot be the right file.
    limit = _expected_size(name) * 101 // 100 + 1024
    received, total = 0, None
    part = tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=target.name + ".part-", delete=False
    )
    try:
        with part:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                total = _content_length(response)
                chunks = []
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    received += len(chunk)
                    if max(received, total or 0) > limit:
                        raise ValueError(
                            f"the server sends more than {limit} bytes, too "
                            f"many for a gzip file of {name}"
                        )
                    part.write(chunk)
                    chunks.append(chunk)
                    report.update(received, total)
            # http.client does not complain when the body ends early.
            if total is not None and received != total:
                raise ValueError(
                    f"the connection ended after {received} of the "
                    f"{total} bytes announced (Content-Length)"
                )
        data = _decompress(io.BytesIO(b"".join(chunks)), "the download",
                           _expected_size(name))
        _check_mnist(data, name, "the download")
        os.replace(part.name, target)
    except BaseException as exc:
        try:
            os.unlink(part.name)
        except FileNotFoundError:
            pass
        reason = (_describe_failure(exc, timeout) if isinstance(exc, Exception)
                  else type(exc).__name__)
        report.finish(received, total, f"failed: {reason}")
        raise
    report.finish(received, total, "done")


def _download(name, folder, mirrors, timeout, progress):
    """Fetch ``name + '.gz'`` into ``folder``, trying each mirror in turn.

    Returns the path of the verified file, or a list of (url, reason) pairs
    when every mirror failed.
    """
    filename = name + ".gz"
    target = folder / filename
    failures = []
    for base in mirrors:
        url = _file_url(base, filename)
        try:
            _download_one(url, name, target, timeout, progress)
            return target
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # it holds the open response
            failures.append((url, _describe_failure(exc, timeout)))
    return failures


def _fix_hint():
    names = ", ".join(MNIST_FILES)
    return (
        f"To fix it, put the four MNIST files ({names}; each may end in .gz) "
        f"into a folder and pass data_dir=<folder> or set the environment "
        f"variable MNIST_DATA_DIR=<folder>; or, to download, check the "
        f"internet connection or set MNIST_MIRRORS to comma-separated base "
        f"URLs that serve the .gz files."
    )


def _explicit_folder_hint(origin):
    names = ", ".join(MNIST_FILES)
    return (
        f"Nothing is downloaded into a folder given explicitly. To fix it, "
        f"put the four MNIST files ({names}; each may end in .gz) there, "
        f"point {origin} at the folder that holds them, or leave data_dir "
        f"and MNIST_DATA_DIR unset to download them into the cache folder "
        f"{str(mnist_cache_dir())!r}."
    )


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
    FileNotFoundError
        If ``data_dir`` or ``$MNIST_DATA_DIR`` does not hold all four files.
    ValueError
        If a file is truncated, corrupt or not the original (the message
        names the file and the problem), or an argument is invalid.
    MNISTDownloadError
        If files are missing from the cache folder and no mirror delivered
        them; the message lists every URL tried and why it failed.
    """
    folder, origin = _data_folder(data_dir)
    mirror_urls = _mirror_list(mirrors)
    timeout = _check_timeout(timeout)
    found, missing = _find_files(folder)
    if missing and origin != "cache":
        raise FileNotFoundError(
            f"{origin} points to {str(folder)!r}, which "
            + ("does not exist" if not folder.is_dir()
               else f"lacks {', '.join(missing)} (plain or .gz)")
            + ". " + _explicit_folder_hint(origin)
        )
    if missing:
        found.update(_fetch_missing(folder, missing, mirror_urls, timeout, progress))
    return tuple(_read_mnist_file(found[name], name) for name in MNIST_FILES)


def _data_folder(data_dir):
    """The folder to look in, and where that choice came from."""
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(
                f"data_dir must be a path (str or os.PathLike) or None, got "
                f"{type(data_dir).__name__}"
            )
        return Path(data_dir), "data_dir"
    env = os.environ.get("MNIST_DATA_DIR")
    if env:
        return Path(env), "MNIST_DATA_DIR"
    return mnist_cache_dir(), "cache"


def _check_timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds, got {type(timeout).__name__}"
        )
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    return float(timeout)


def _fetch_missing(folder, missing, mirrors, timeout, progress):
    """Download the missing files into the cache ``folder``; their paths."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTDownloadError(
            f"MNIST files not found, and the cache folder {str(folder)!r} "
            f"cannot be created to download them ({exc}). " + _fix_hint()
        ) from exc
    paths = {}
    for name in missing:
        result = _download(name, folder, mirrors, timeout, progress)
        if isinstance(result, Path):
            paths[name] = result
            continue
        tried = "\n".join(f"  {url}: {reason}" for url, reason in result)
        raise MNISTDownloadError(
            f"MNIST files not found and the download failed.\n"
            f"Looked in the cache folder {str(folder)!r} (data_dir not given, "
            f"MNIST_DATA_DIR not set); missing there: {', '.join(missing)}.\n"
            f"Downloading {name}.gz failed from every mirror:\n{tried}\n"
            + _fix_hint()
        )
    return paths


def _check_count(value, name, limit):
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {value!r} "
            f"({type(value).__name__})"
        ) from None
    if not 0 <= value <= limit:
        raise ValueError(f"{name} must be between 0 and {limit}, got {value}")
    return value


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
    FileNotFoundError, MNISTDownloadError
        When the files are missing; see :func:`load_mnist`.
    """
    num_training = _check_count(num_training, "num_training", _TRAIN_SIZE)
    num_validation = _check_count(num_validation, "num_validation", _TRAIN_SIZE)
    num_test = _check_count(num_test, "num_test", _TEST_SIZE)
    if num_training + num_validation > _TRAIN_SIZE:
        raise ValueError(
            f"num_training + num_validation = {num_training} + "
            f"{num_validation} = {num_training + num_validation}, but the "
            f"MNIST training set has only {_TRAIN_SIZE} images; reduce one "
            f"of them"
        )
    if normalize is not None and not (
        isinstance(normalize, str) and normalize in ("mean", "scale")
    ):
        raise ValueError(
            f"normalize must be 'mean', 'scale' or None, got {normalize!r}"
        )
    if normalize == "mean" and num_training == 0:
        raise ValueError(
            "normalize='mean' subtracts the mean training image, which needs "
            "num_training >= 1; use normalize='scale' or None for no "
            "training images"
        )
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy floating dtype, got {dtype!r}") from None
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(
            f"dtype must be a floating type such as np.float64 or np.float32, "
            f"got {dtype}"
        )

    train_images, train_labels, test_images, test_labels = load_mnist(
        data_dir, mirrors=mirrors, timeout=timeout, progress=progress
    )
    end_val = num_training + num_validation
    X_train = train_images[:num_training].reshape(num_training, _PIXELS).astype(dtype)
    X_val = train_images[num_training:end_val].reshape(num_validation, _PIXELS).astype(dtype)
    X_test = test_images[:num_test].reshape(num_test, _PIXELS).astype(dtype)
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

def _scalar(value):
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


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numerical gradient of a scalar function by centered differences.

    For every element ``x[i]`` the function is evaluated with ``x[i]``
    raised and lowered by ``h``; the slope is
    ``(f(x+) - f(x-)) / (x+[i] - x-[i])``, using the values actually stored,
    which differ from ``x[i] +- h`` by rounding (noticeably in float32).

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a real scalar. It must read ``x`` itself (not a
        copy made earlier), since ``x`` is perturbed in place.
    x : ndarray of floating dtype, any shape
        The point at which to evaluate the gradient. It is modified in place
        during the evaluation and restored exactly afterwards, also when
        ``f`` raises.
    verbose : bool, optional
        Print each index and its slope.
    h : float, optional
        The step. 1e-5 is meant for float64; for float32 use about 1e-2 and
        expect only 2-3 correct digits.

    Returns
    -------
    ndarray of float64, same shape as x
        The estimated gradient.

    Raises
    ------
    TypeError
        If ``f`` is not callable, ``x`` is not a floating-point ndarray, or
        ``f`` does not return a real number.
    ValueError
        If ``x`` is read-only, ``h`` is not positive and finite, ``f``
        returns an array, or ``h`` is lost to rounding in ``x``'s dtype.
    """
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
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating, np.integer)):
        raise TypeError(f"h must be a real number, got {type(h).__name__}")
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be positive and finite, got {h}")

    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        old = x[index].copy()  # a 0-d copy keeps the exact bits
        try:
            x[index] = old + h
            high = float(x[index])
            f_high = _scalar(f(x))
            x[index] = old - h
            low = float(x[index])
            f_low = _scalar(f(x))
        finally:
            x[index] = old
        if high == low:
            raise ValueError(
                f"h={h} is lost to rounding at x{list(index)} = {float(old)} "
                f"in {x.dtype}; use a larger h or a float64 array"
            )
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
            raise TypeError(
                f"rel_error: {label} must hold real numbers, got dtype {array.dtype}"
            )
        arrays.append(array.astype(np.float64))
    x, y = arrays
    if x.shape != y.shape:
        raise ValueError(
            f"rel_error: x has shape {x.shape} but y has shape {y.shape}; "
            f"compare arrays of the same shape"
        )
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
    """What :func:`check_gradients` returns: ``{name: error}``, plus

    ``kinks``
        ``{name: count}``, the entries left out of each error because
        their finite difference straddled a kink;
    ``threshold``
        :data:`GRADIENT_ERROR_THRESHOLD`; ``ok`` says whether every error
        lies below it.

    Printing it gives one line per parameter, in words.
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
            values.append(_scalar(f(x)))
    finally:
        x[index] = old
    return values, steps


def check_gradients(net, X, y, reg=0.0, h=1e-5, **loss_kwargs):
    """Compare the analytic gradients of a net with numerical ones.

    For every parameter entry the loss is evaluated with the entry moved
    by -h, -h/2, +h/2 and +h. The numerical slope is the centred
    difference over +-h. The two half steps test whether the loss is
    smooth over that stretch: where it has a kink there (a ReLU unit
    switching on or off for some sample, or an L1-penalised weight
    crossing 0), the centred difference is not the derivative at all, so
    that entry is left out and counted in ``kinks``. Concretely, the loss
    at +-h/2 is compared with the parabola through the loss at -h, 0 and
    +h: a kink within the stretch moves it away by at least h/4 times the
    error the kink causes in the centred difference, a smooth loss only by
    O(h**3).

    Each parameter's error is the norm-based relative error over its
    other entries::

        ||numeric - analytic|| / max(||numeric|| + ||analytic||, floor)

    Unlike the largest elementwise relative error, it does not blow up on
    entries whose gradient is close to 0. A gradient is right when the
    error lies below ``1e-6`` (:data:`GRADIENT_ERROR_THRESHOLD`; 1e-8 or
    less is typical); a wrong one gives 1e-3 or more. The floor is what
    rounding alone can do: each loss value is rounded to about
    ``eps * |loss|`` (eps = 2.2e-16), which moves each numerical slope by
    ``noise = eps * max(|loss|, 1) / h``, and ``floor = 50 * sqrt(n) *
    noise / 1e-6`` for a parameter of n entries. So differences within 50
    times that noise never count as wrong, at any scale of the gradient;
    a kink is counted when it could move a slope by more than 20 times
    the noise (and by a visible share of the error).

    Parameters
    ----------
    net : TwoLayerMLP
        Any object with a ``params`` dict of float64 arrays and a
        ``loss(X, y, reg=..., **loss_kwargs)`` method returning
        ``(loss, grads)`` with one gradient per parameter. It is left
        unchanged: every parameter is perturbed in place and restored
        exactly.
    X : ndarray, shape (N, D)
        Inputs; keep N and the net small, as each parameter entry costs
        four evaluations of the loss.
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
        A dict ``{param_name: error}`` in the order of ``net.params``, with
        ``.kinks`` (entries left out per parameter) and ``.ok``; print it
        for a summary in words. An error is NaN when every entry of the
        parameter was left out.

    Raises
    ------
    TypeError
        If ``net`` lacks ``params`` or ``loss``, or ``loss`` does not
        return ``(loss, grads)``.
    ValueError
        If a parameter is not float64 (numerical gradients in lower
        precision are too inaccurate to judge anything), a gradient is
        missing or has the wrong shape, or ``h`` is not positive.
    """
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
    if isinstance(h, bool) or not isinstance(h, (int, float, np.floating, np.integer)) \
            or not (math.isfinite(h) and h > 0):
        raise ValueError(f"h must be a positive finite number, got {h!r}")
    result = net.loss(X, y, reg=reg, **loss_kwargs)
    if not (isinstance(result, tuple) and len(result) == 2
            and isinstance(result[1], Mapping)):
        raise TypeError(
            "net.loss(X, y, ...) must return (loss, grads) with grads a dict; "
            "did you pass y=None?"
        )
    loss0, grads = _scalar(result[0]), result[1]
    # Copies, because later loss calls might reuse the arrays they returned.
    analytic = {}
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
                _loss_at_offsets(loss_only, value, index, (-h, -h / 2, h / 2, h))
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

def visualize_grid(Xs, ubound=255.0, padding=1):
    """Lay out images in a near-square grid, each rescaled to [0, ubound].

    Parameters
    ----------
    Xs : array_like, shape (N, H, W) or (N, H, W, 3)
        N >= 1 grayscale or RGB images of finite real values.
    ubound : float, optional
        Each image is mapped linearly from its own [min, max] to
        [0, ubound]; a constant image becomes all zeros.
    padding : int, optional
        Pixels of zeros between neighbouring cells.

    Returns
    -------
    ndarray of float64, shape (G*(H+padding)-padding, G*(W+padding)-padding)
        or with a trailing axis of 3 for RGB input, where
        ``G = ceil(sqrt(N))``. Images fill the grid row by row; unused cells
        and the padding are 0.

    Raises
    ------
    TypeError
        If ``Xs`` is not real-valued or ``ubound``/``padding`` has the
        wrong type.
    ValueError
        If the shape is wrong, N is 0, a value is not finite, ``ubound`` is
        not positive or ``padding`` is negative.
    """
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

    G = math.isqrt(N)
    if G * G < N:
        G += 1
    grid = np.zeros((G * (H + padding) - padding, G * (W + padding) - padding)
                    + Xs.shape[3:])
    for i in range(N):
        row, col = divmod(i, G)
        # Halved values: their differences cannot overflow float64.
        image = Xs[i].astype(np.float64) / 2
        low, high = image.min(), image.max()
        top, left = row * (H + padding), col * (W + padding)
        if high > low:
            grid[top:top + H, left:left + W] = ubound * ((image - low) / (high - low))
    return grid


_STATS_KEYS = (
    "grad_magnitude_history",
    "loss_history",
    "train_acc_history",
    "val_acc_history",
)


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
        Three stacked axes: the W1 gradient magnitude and the loss against
        the iteration, and the training and validation accuracy against the
        epoch (both counted from 1). Nothing is shown.

    Raises
    ------
    TypeError
        If ``stats`` is not a dict or a history is not numeric.
    ValueError
        If a key is missing, a history is not 1-D, or a non-empty
        ``val_acc_history`` differs in length from ``train_acc_history``.
    """
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

    fig, (ax_grad, ax_loss, ax_acc) = plt.subplots(
        3, 1, figsize=(8, 10), layout="constrained"
    )
    grads = series["grad_magnitude_history"]
    ax_grad.plot(np.arange(1, len(grads) + 1), grads)
    ax_grad.set_title("Gradient magnitude of W1")
    ax_grad.set_xlabel("Iteration")
    ax_grad.set_ylabel("Gradient magnitude")

    loss = series["loss_history"]
    ax_loss.plot(np.arange(1, len(loss) + 1), loss)
    ax_loss.set_title("Training loss")
    ax_loss.set_xlabel("Iteration")
    ax_loss.set_ylabel("Loss")

    epochs = np.arange(1, len(train_acc) + 1)
    # TwoLayerMLP.train measures the training accuracy on a fixed sample.
    sample_size = stats.get("train_acc_sample_size")
    train_label = ("train" if sample_size is None
                   else f"train (sample of {sample_size:,})")
    ax_acc.plot(epochs, train_acc, marker="o", label=train_label)
    if len(val_acc):
        ax_acc.plot(epochs, val_acc, marker="o", label="validation")
    ax_acc.set_title("Classification accuracy")
    ax_acc.set_xlabel("Epoch")
    ax_acc.set_ylabel("Accuracy")
    ax_acc.legend()
    return fig


def show_net_weights(net):
    """Show the first-layer weights of a net as a grid of 28x28 images.

    Parameters
    ----------
    net : TwoLayerMLP
        A net for MNIST: ``net.params['W1']`` has shape (784, H). It is not
        modified.

    Returns
    -------
    matplotlib.figure.Figure
        One gray-scale image: column j of W1 reshaped to 28x28 is cell j of
        :func:`visualize_grid` (each rescaled to its own range). Nothing is
        shown.

    Raises
    ------
    TypeError
        If ``net`` has no ``params`` dict with ``W1``.
    ValueError
        If W1 is not of shape (784, H) with H >= 1.
    """
    params = getattr(net, "params", None)
    if not isinstance(params, Mapping) or "W1" not in params:
        raise TypeError(
            f"net must have a params dict with 'W1' (like TwoLayerMLP), got "
            f"{type(net).__name__}"
        )
    W1 = np.asarray(params["W1"])
    if W1.ndim != 2 or W1.shape[0] != _PIXELS or W1.shape[1] == 0:
        raise ValueError(
            f"show_net_weights draws each column of W1 as a 28x28 image, so "
            f"W1 must have shape (784, H) with H >= 1 (a net with "
            f"input_size=784); got W1 of shape {W1.shape}"
        )
    images = W1.T.reshape(-1, 28, 28)
    grid = visualize_grid(images, ubound=255.0, padding=3)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=255)
    ax.set_title(f"First-layer weights ({W1.shape[1]} hidden units)")
    ax.axis("off")
    return fig
