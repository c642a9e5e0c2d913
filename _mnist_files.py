"""The file machinery behind ``utils.load_mnist`` and ``utils.get_MNIST_data``.

A private module: students use the public names from ``utils``. After the
constants :data:`MNIST_FILES` (names, shapes and SHA-256 checksums) and
:data:`DEFAULT_MIRRORS` come :class:`MNISTDownloadError`,
:func:`mnist_cache_dir` (the download folder), :func:`load_files` (the work
of ``utils.load_mnist``) and :func:`check_split` (the argument checks of
``utils.get_MNIST_data``), then the machinery, in two parts:

Reading and checking a file
    :func:`parse_idx` (public too), the IDX reader, which checks the header
    against the data length before it builds any array; gunzip with a
    limit on the output size; the checks every MNIST file passes
    (structure, labels 0..9, checksum) and the message that says how to
    replace a bad one.
Finding and downloading the files
    Which folder is used (``data_dir``, ``$MNIST_DATA_DIR`` or the cache
    folder), the mirror list (argument, ``$MNIST_MIRRORS`` or the
    defaults), the download of one file with a progress line, through a
    temporary file that is renamed only once its content is verified, and
    the messages that say how to fix a missing file or a failed download.
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
import textwrap
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import numpy as np


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


# ---------------------------------------------------------------------------
# The public names, re-exported by utils
# ---------------------------------------------------------------------------

class _ShownShort:
    """In IPython or Jupyter, show the message (which starts with the fix)
    instead of a traceback through this module's internals."""

    def _render_traceback_(self):
        lines = str(self).splitlines() or [""]
        return [f"{type(self).__name__}: {lines[0]}", *lines[1:]]


class MNISTDownloadError(_ShownShort, OSError):
    """The MNIST files were found nowhere and no mirror delivered them."""


class MNISTNotFoundError(_ShownShort, FileNotFoundError):
    """The folder given for MNIST (data_dir or MNIST_DATA_DIR) does not
    hold the four files; nothing is downloaded into such a folder."""


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


def load_files(data_dir, mirrors, timeout, progress):
    """The work of :func:`utils.load_mnist` (see there): find, download
    when allowed, check and read the four files."""
    folder, origin = _data_folder(data_dir)
    mirror_urls = _mirror_list(mirrors)
    timeout = _check_timeout(timeout)
    found, missing = _find_files(folder)
    if missing and origin != "cache":
        raise MNISTNotFoundError(
            f"{origin} points to {str(folder)!r}, which "
            + ("does not exist" if not folder.is_dir()
               else f"lacks {', '.join(missing)} (plain or .gz)")
            + ".\n" + _explicit_folder_hint(origin)
        )
    if missing:
        found.update(_fetch_missing(folder, missing, mirror_urls, timeout, progress))
    return tuple(_read_mnist_file(found[name], name) for name in MNIST_FILES)


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


def check_split(num_training, num_validation, num_test, normalize, dtype):
    """The arguments of :func:`utils.get_MNIST_data`, checked."""
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
    return num_training, num_validation, num_test, dtype


# ---------------------------------------------------------------------------
# Reading and checking a file
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# Finding and downloading the files
# ---------------------------------------------------------------------------

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
    return textwrap.fill(
        f"To fix it, put the four MNIST files ({names}; each may end in .gz) "
        f"into a folder and pass data_dir=<folder> or set the environment "
        f"variable MNIST_DATA_DIR=<folder>; or, to download, check the "
        f"internet connection or set MNIST_MIRRORS to comma-separated base "
        f"URLs that serve the .gz files.", 79, break_long_words=False,
        break_on_hyphens=False)


def _explicit_folder_hint(origin):
    names = ", ".join(MNIST_FILES)
    return textwrap.fill(
        f"Nothing is downloaded into a folder given explicitly. To fix it, "
        f"put the four MNIST files ({names}; each may end in .gz) there, "
        f"point {origin} at the folder that holds them, or leave data_dir "
        f"and MNIST_DATA_DIR unset to download them into the cache folder "
        f"{str(mnist_cache_dir())!r}.", 79, break_long_words=False,
        break_on_hyphens=False)


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
            f"cannot be created to download them ({exc}).\n" + _fix_hint()
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
            + _fix_hint() + "\n\n"
            f"Looked in the cache folder {str(folder)!r} (data_dir not given, "
            f"MNIST_DATA_DIR not set); missing there: {', '.join(missing)}.\n"
            f"Downloading {name}.gz failed from every mirror:\n{tried}"
        )
    return paths

