"""Fuzzing the IDX reader: every input gives a correct array or a named ValueError.

Two levels are fuzzed:

* :func:`utils.parse_idx` on byte strings; an accepted array must have the
  shape, type and values an independent reading of the header gives;
* the file-level MNIST reader ``_mnist_files._read_mnist_file`` (what
  :func:`utils.load_mnist` calls for each file) on plain and ``.gz`` files
  in a temporary folder; anything that is not the real file must be a
  ValueError naming the file, and a few cases go through ``load_mnist``.

The inputs are the real MNIST headers truncated at every offset and with
every single byte changed, headers claiming giant dimensions, random and
randomly damaged byte strings (hypothesis), and broken gzip streams up to
zip bombs.

Every input is also timed and its memory traced. The time limit, 1 s per
input, is generous so that a busy machine cannot make it flake, yet a
100 GB allocation would take far longer or fail. The memory limit uses the
tracemalloc peak, which includes NumPy's array buffers: a rejected byte
string may cost only a constant, anything else a small multiple of the
bytes involved plus a constant. ``pytest -s`` prints the measured figures.
"""
import contextlib
import gzip
import math
import statistics
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import _mnist_files
import utils

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
LABELS = "t10k-labels-idx1-ubyte"  # 10 kB: the file most file-level fuzzing uses
IMAGES = "t10k-images-idx3-ubyte"

# The IDX type bytes and what they mean, (kind, item size), from the format
# description; the oracle below reads headers with these and ``struct``.
IDX_TYPES = {0x08: ("u", 1), 0x09: ("i", 1), 0x0B: ("i", 2),
             0x0C: ("i", 4), 0x0D: ("f", 4), 0x0E: ("f", 8)}
# The real label file's header: unsigned bytes, one dimension, 10000 items.
LABELS_HEADER = bytes([0, 0, 0x08, 1]) + (10000).to_bytes(4, "big")
LABELS_SIZE = 8 + 10000
BIG = 2**32 - 1  # the largest dimension an IDX header can state

SECONDS = 1.0  # of CPU time per input: what other processes do not change
PARSE_SLACK = 64 << 10  # bytes a rejected byte string may cost
FILE_SLACK = 1 << 20  # bytes on top of 4x the data for a file


# ---------------------------------------------------------------------------
# Measuring and judging one input
# ---------------------------------------------------------------------------

class Meter:
    """Runs one input at a time, timing it and tracing its memory peak.

    tracemalloc runs only during the call (unless it was already running),
    so hypothesis and the test code between inputs are not slowed down.
    The figures of every input are kept for the summary printed at the end
    of the module.
    """

    def __init__(self):
        self.figures = {}  # function name -> [(seconds, peak bytes)]

    def run(self, budget, func, *args):
        """``func(*args)``, or the Exception it raised, within the limits.

        ``budget`` is either a number of bytes, or a pair (bytes if it
        raises, bytes if it returns).
        """
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        start = time.process_time()
        try:
            outcome = func(*args)
        except Exception as exc:  # judged by the caller
            outcome = exc
        seconds = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1] - before
        if started:
            tracemalloc.stop()
        self.figures.setdefault(func.__name__, []).append((seconds, peak))
        if isinstance(budget, tuple):
            budget = budget[0] if isinstance(outcome, Exception) else budget[1]
        assert seconds < SECONDS, f"one input took {seconds:.2f} s of CPU time"
        assert peak <= budget, f"one input needed {peak} bytes, more than {budget}"
        return outcome

    def summary(self):
        lines = []
        for function, figures in self.figures.items():
            ms = [1000 * seconds for seconds, _ in figures]
            kib = [peak / 1024 for _, peak in figures]
            lines.append(
                f"{function}: {len(figures)} inputs; CPU time median "
                f"{statistics.median(ms):.3f} ms, max {max(ms):.1f} ms; "
                f"tracemalloc peak median {statistics.median(kib):.1f} KiB, "
                f"max {max(kib):.1f} KiB")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def meter():
    """One Meter for the module; its summary is printed at the end."""
    meter = Meter()
    yield meter
    print(f"\n{__name__}:\n{meter.summary()}")


def fail_unless_named_error(outcome, name):
    """``outcome`` must be a ValueError whose message contains ``name``."""
    if not isinstance(outcome, Exception):
        raise AssertionError(f"accepted an input it should reject: {outcome!r:.200}")
    if not isinstance(outcome, ValueError):
        raise AssertionError(f"not a ValueError: {outcome!r}") from outcome
    assert str(name) in str(outcome), f"{name!s} not in: {outcome}"


def check_idx(data, outcome, name="fuzz.idx"):
    """Judge parse_idx's ``outcome`` on ``data`` against the IDX format.

    A rejection must be a ValueError naming the data. An accepted array
    must have the header's dimensions, a native dtype of the header's type
    and exactly the values of the bytes after the header. Returns whether
    ``data`` was accepted.
    """
    if isinstance(outcome, Exception):
        fail_unless_named_error(outcome, name)
        return False
    array = outcome
    assert isinstance(array, np.ndarray)
    assert data[0] == data[1] == 0 and data[2] in IDX_TYPES
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    kind, itemsize = IDX_TYPES[data[2]]
    assert array.shape == dims
    assert (array.dtype.kind, array.dtype.itemsize) == (kind, itemsize)
    assert array.dtype.isnative
    body = data[4 + 4 * ndim:]
    assert array.size * itemsize == len(body)
    assert array.astype(array.dtype.newbyteorder(">")).tobytes() == body
    return True


def parse(meter, data):
    """parse_idx on ``data`` under the meter, judged by check_idx."""
    budget = (PARSE_SLACK, 4 * len(data) + PARSE_SLACK)
    outcome = meter.run(budget, utils.parse_idx, data, "fuzz.idx")
    return check_idx(data, outcome)


@pytest.fixture(scope="module")
def real(mnist_dir):
    """The decompressed content of the four real files, by name."""
    return {name: gzip.decompress((mnist_dir / (name + ".gz")).read_bytes())
            for name in NAMES}


@pytest.fixture(scope="module")
def real_gz(mnist_dir):
    """The compressed real files, by name."""
    return {name: (mnist_dir / (name + ".gz")).read_bytes() for name in NAMES}


def header_size(name):
    return 16 if "images" in name else 8


# ---------------------------------------------------------------------------
# parse_idx: the real headers, exhaustively
# ---------------------------------------------------------------------------

def test_parse_idx_accepts_the_real_files(real, meter):
    for name, data in real.items():
        assert parse(meter, data)


def test_parse_idx_every_truncation_of_the_real_files(real, meter):
    """Cut at every header offset and a few body offsets: always an error."""
    for name, data in real.items():
        view = memoryview(data)  # slicing a view copies nothing
        size = header_size(name)
        for cut in [*range(size + 1), size + 1, len(data) // 2, len(data) - 1]:
            assert not parse(meter, view[:cut])


def test_parse_idx_every_single_byte_change_of_the_real_headers(real, meter):
    """All 255 other values of every header byte: error or correct array.

    Only the type byte 0x08 -> 0x09 (uint8 -> int8) keeps the file valid.
    """
    accepted = []
    for name, data in real.items():
        mutable = bytearray(data)
        for offset in range(header_size(name)):
            original = mutable[offset]
            for value in range(256):
                if value == original:
                    continue
                mutable[offset] = value
                if parse(meter, mutable):
                    accepted.append((name, offset, value))
            mutable[offset] = original
    assert accepted == [(name, 2, 0x09) for name in NAMES]


GIANT_SHAPES = [
    (2**31,),
    (BIG,),
    (BIG, BIG),
    (BIG, BIG, BIG),  # 2**96 items: more than 64 bits can count
    (2**31, 28, 28),
    (60000, BIG, 28),
    (BIG,) * 32,
    (2**16, 2**16, 2**16, 2**16),  # exactly 2**64 items
    (0, BIG, BIG),  # empty, but NumPy cannot represent the other dimensions
    (BIG, BIG, 0),
    (0, 2**31, 2**31),  # empty and representable
]


def shape_id(shape):
    return "x".join(map(str, shape)) if len(shape) < 5 else f"{len(shape)}x{shape[0]}"


@pytest.mark.parametrize("shape", GIANT_SHAPES, ids=shape_id)
@pytest.mark.parametrize("type_code", [0x08, 0x0C, 0x0E], ids=hex)
@pytest.mark.parametrize("body", [0, 1, 100], ids=lambda n: f"{n}-byte-body")
def test_parse_idx_giant_dimension_claims(meter, shape, type_code, body):
    data = (bytes([0, 0, type_code, len(shape)])
            + struct.pack(f">{len(shape)}I", *shape) + bytes(body))
    accepted = parse(meter, data)
    # Only an empty shape with an empty body can be right, and only if
    # NumPy can represent it: (0, 2**31, 2**31) of uint8 spans 2**62 bytes.
    assert accepted == (body == 0 and shape == (0, 2**31, 2**31)
                        and type_code == 0x08)


@pytest.mark.parametrize("ndim", [0, 65, 128, 255])
def test_parse_idx_dimension_counts_out_of_range(meter, ndim):
    """No dimensions, or more than NumPy's 64, with a matching length.

    Each dimension is 1 and one item follows, so only the count is wrong.
    """
    data = (bytes([0, 0, 0x08, ndim]) + struct.pack(f">{ndim}I", *[1] * ndim)
            + b"\x07")
    assert not parse(meter, data)


# ---------------------------------------------------------------------------
# parse_idx: hypothesis
# ---------------------------------------------------------------------------

type_bytes = st.sampled_from(sorted(IDX_TYPES)) | st.integers(0, 255)
giant = st.sampled_from([0, 1, 28, 2**31 - 1, 2**31, BIG]) | st.integers(0, BIG)


@st.composite
def header_like(draw):
    """Two zero bytes, a type byte, a dimension count, then random bytes."""
    return (bytes([0, 0, draw(type_bytes), draw(st.integers(0, 255))])
            + draw(st.binary(max_size=64)))


@st.composite
def giant_claims(draw):
    """A header with up to 40 dimensions of giant sizes and a short body."""
    dims = draw(st.lists(giant, min_size=1, max_size=40))
    return (bytes([0, 0, draw(type_bytes), len(dims)])
            + struct.pack(f">{len(dims)}I", *dims)
            + draw(st.binary(max_size=64)))


@st.composite
def idx_files(draw):
    """A valid IDX file of a small random shape."""
    type_code = draw(st.sampled_from(sorted(IDX_TYPES)))
    dims = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4))
    size = IDX_TYPES[type_code][1] * math.prod(dims)
    return (bytes([0, 0, type_code, len(dims)])
            + struct.pack(f">{len(dims)}I", *dims)
            + draw(st.binary(min_size=size, max_size=size)))


@st.composite
def damaged(draw, original, max_edits=3):
    """``original`` with 1 to ``max_edits`` random edits.

    Edits: cut at a random offset, append, insert or delete bytes, set a
    byte to a random value, flip a bit, or set one of the four-byte slots
    where an IDX header keeps its dimensions to a giant size.
    """
    data = bytearray(original)
    for _ in range(draw(st.integers(1, max_edits))):
        edit = draw(st.sampled_from(
            ["cut", "append", "insert", "delete", "set", "flip", "dimension"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if edit == "cut":
            del data[at:]
        elif edit == "append":
            data += draw(st.binary(min_size=1, max_size=32))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif edit == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif edit == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif edit == "dimension" and len(data) >= 8 and data[3]:
            slot = 4 + 4 * draw(st.integers(0, data[3] - 1))
            if slot + 4 <= len(data):
                data[slot:slot + 4] = draw(giant).to_bytes(4, "big")
    return bytes(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80) | header_like() | giant_claims())
def test_parse_idx_random_bytes(meter, data):
    parse(meter, data)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_parse_idx_valid_files_and_damaged_copies(meter, data):
    original = data.draw(idx_files(), label="original")
    assert parse(meter, original), "a valid IDX file was rejected"
    parse(meter, data.draw(damaged(original), label="damaged"))


# ---------------------------------------------------------------------------
# The MNIST file reader
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the fuzzed files, each input overwriting the last."""
    return tmp_path_factory.mktemp("fuzz")


def read_file(meter, path, name, data_size, reference=None):
    """Read ``path`` as MNIST file ``name`` under the meter, judge, return it.

    ``data_size`` is the number of bytes the reader may legitimately hold
    besides the file (what it decompresses to). The outcome must be a
    ValueError naming ``path``, unless ``reference`` (the real array) is
    given: then the array may also be returned if it equals it.
    """
    budget = 4 * (path.stat().st_size + data_size) + FILE_SLACK
    outcome = meter.run(budget, _mnist_files._read_mnist_file, path, name)
    if reference is not None and not isinstance(outcome, Exception):
        np.testing.assert_array_equal(outcome, reference)
    else:
        fail_unless_named_error(outcome, path)
    return outcome


def write(folder, name, compressed, content):
    """Store ``content`` as ``name`` or, compressed, as ``name.gz``."""
    path = folder / (name + ".gz" if compressed else name)
    path.write_bytes(gzip.compress(content, 1) if compressed else content)
    return path


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gz"])
def test_file_every_truncation_of_the_real_headers(real, scratch, meter, compressed):
    """Offsets 0..16 (images) and 0..8 (labels), and a few in the body."""
    for name, data in real.items():
        size = header_size(name)
        for cut in [*range(size + 1), size + 100]:
            path = write(scratch, name, compressed, data[:cut])
            read_file(meter, path, name, cut)
            path.unlink()


def stored(data):
    """``data`` as one uncompressed gzip member: its length depends only on
    the length of ``data``, so a new header can overwrite the old in place.
    """
    return gzip.compress(data, compresslevel=0, mtime=0)


def overwrite(file, data):
    """Write ``data`` at the start of the open ``file``, keeping its length.

    Cheaper than rewriting the file, which matters for thousands of inputs.
    """
    file.seek(0)
    file.write(data)
    file.flush()


def with_changed_header(name, data, values, scratch, meter, compressed=True):
    """Read ``data`` with each header byte changed to each of ``values``.

    ``values(offset, original)`` gives the values to try at each offset.
    Each changed file is read plain and, if ``compressed``, as a .gz file of
    two gzip members, the changed header and the body, which decompress to
    one stream (so this also covers concatenated members).
    """
    size = header_size(name)
    plain = scratch / name
    plain.write_bytes(data)
    encoders = {plain: bytes}  # file -> how its header bytes are written
    if compressed:
        packed = scratch / (name + ".gz")
        packed.write_bytes(stored(data[:size]) + gzip.compress(data[size:], 1))
        encoders[packed] = stored
    with contextlib.ExitStack() as stack:
        files = {path: stack.enter_context(open(path, "r+b")) for path in encoders}
        for offset in range(size):
            for value in values(offset, data[offset]):
                header = bytearray(data[:size])
                header[offset] = value
                for path, encode in encoders.items():
                    overwrite(files[path], encode(header))
                    read_file(meter, path, name, len(data))
    for path in encoders:
        path.unlink()


def test_file_every_single_byte_change_of_the_labels_header(real, scratch, meter):
    """All 8 x 255 changed headers, as a plain file and as a .gz file."""
    def values(offset, original):
        return [value for value in range(256) if value != original]
    with_changed_header(LABELS, real[LABELS], values, scratch, meter)


def test_file_changed_bytes_in_the_images_header(real, scratch, meter):
    """Every header byte of the 7.8 MB test images set to other values.

    Each input reads 7.8 MB, so each byte gets a sample of values: four
    in a plain file, one in a .gz file.
    """
    def plain_values(offset, original):
        return sorted({original ^ 0x01, original ^ 0x80, 0x00, 0xFF} - {original})

    def one_value(offset, original):
        return [original ^ 0x01]

    data = real[IMAGES]
    with_changed_header(IMAGES, data, plain_values, scratch, meter, compressed=False)
    with_changed_header(IMAGES, data, one_value, scratch, meter)


@settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=300)
       | st.binary(max_size=300).map(lambda body: LABELS_HEADER + body),
       form=st.sampled_from(["plain", "gz-named", "gzip"]))
def test_file_random_bytes(scratch, meter, content, form):
    """Random content: as a plain file, raw in a .gz file, and gzipped."""
    if form == "gz-named":
        path = scratch / (LABELS + ".gz")
        path.write_bytes(content)
    else:
        path = write(scratch, LABELS, form == "gzip", content)
    try:
        read_file(meter, path, LABELS, max(len(content), LABELS_SIZE + 1))
    finally:
        path.unlink()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_file_damaged_copies_of_the_real_labels(real, real_gz, scratch, meter, data):
    """Random edits of the real file: of its .gz bytes, or of its content.

    Some edits of the gzip header (the time stamp, say) or trailing zero
    bytes leave the content intact; then the real array is the right answer.
    """
    reference = np.frombuffer(real[LABELS], np.uint8, offset=8)
    compressed = data.draw(st.booleans(), label="compressed")
    if compressed:
        content = data.draw(damaged(real_gz[LABELS]), label="gz bytes")
        path = scratch / (LABELS + ".gz")
        data_size = LABELS_SIZE + 1
    else:
        content = data.draw(damaged(real[LABELS]), label="content")
        path = scratch / LABELS
        data_size = len(content)
    path.write_bytes(content)
    try:
        read_file(meter, path, LABELS, data_size, reference)
    finally:
        path.unlink()


def gzip_cases(content, packed):
    """Broken and unusual gzip files made from the real labels.

    Name -> (file bytes, whether the content is still the real one).
    """
    crc_at = len(packed) - 8  # the trailer is CRC-32 then size, little-endian
    wrong_crc = bytearray(packed)
    wrong_crc[crc_at] ^= 0xFF
    wrong_size = bytearray(packed)
    wrong_size[crc_at + 4] ^= 0x01
    middle = len(content) // 2
    return {
        "the real file": (packed, True),
        "empty file": (b"", False),
        "empty member": (gzip.compress(b""), False),
        "gzip header only": (packed[:10], False),
        "no trailer": (packed[:crc_at], False),
        "half the trailer": (packed[:crc_at + 4], False),
        "wrong CRC": (bytes(wrong_crc), False),
        "wrong size in trailer": (bytes(wrong_size), False),
        "garbage appended": (packed + b"garbage", False),
        "a lone gzip magic byte appended": (packed + b"\x1f", False),
        "real file twice": (packed + packed, False),
        "extra member with one byte": (packed + gzip.compress(b"\0"), False),
        "two members splitting the content": (
            gzip.compress(content[:middle]) + gzip.compress(content[middle:]), True),
        "empty member appended": (packed + gzip.compress(b""), True),
        "zero padding appended": (packed + bytes(100), True),
        "content with a byte changed": (
            gzip.compress(content[:-1] + bytes([(content[-1] + 1) % 10])), False),
    }


def test_file_gzip_structure(real, real_gz, scratch, meter):
    """Deterministic gzip damage: empty, truncated, bad trailer, members."""
    reference = np.frombuffer(real[LABELS], np.uint8, offset=8)
    path = scratch / (LABELS + ".gz")
    for case, (packed, intact) in gzip_cases(real[LABELS], real_gz[LABELS]).items():
        path.write_bytes(packed)
        outcome = read_file(meter, path, LABELS, LABELS_SIZE + 1, reference)
        assert isinstance(outcome, np.ndarray) == intact, case
    path.unlink()


@pytest.fixture(scope="module")
def bombs():
    """Small .gz files that expand enormously.

    ``one member``: a labels header claiming 2**31 labels, then 64 MiB of
    zeros, in a single gzip member (about 65 kB). ``many members``: 64
    members of 16 MiB of zeros each, 1 GiB in all (about 1 MB).
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    zeros = bytes(1 << 20)
    parts = [packer.compress(bytes([0, 0, 8, 1]) + (2**31).to_bytes(4, "big"))]
    parts += [packer.compress(zeros) for _ in range(64)]
    parts.append(packer.flush())
    return {
        "one member": (b"".join(parts), 64 << 20),
        "many members": (gzip.compress(bytes(16 << 20)) * 64, 1 << 30),
    }


@pytest.mark.parametrize("bomb", ["one member", "many members"])
@pytest.mark.parametrize("name", [LABELS, IMAGES])
def test_file_zip_bomb_is_refused_early(bombs, scratch, meter, bomb, name):
    """Decompression stops one byte past the expected size.

    The memory budget allows the expected size, not the bomb's: expanding
    the bomb fully would need 64 MiB or 1 GiB.
    """
    packed, expanded = bombs[bomb]
    path = scratch / (name + ".gz")
    path.write_bytes(packed)
    limit = _mnist_files._expected_size(name) + 1
    assert 4 * (len(packed) + limit) + FILE_SLACK < expanded
    outcome = read_file(meter, path, name, limit)
    assert "decompresses to more than" in str(outcome)
    path.unlink()


# ---------------------------------------------------------------------------
# The same through load_mnist
# ---------------------------------------------------------------------------

FIRST = NAMES[0]  # load_mnist reads the training images first
UNREPRESENTABLE = bytes([0, 0, 8, 3]) + struct.pack(">3I", 0, BIG, BIG)

# Case -> the broken training images file: (file name, bytes), made from
# the real content.
FIRST_FILE_CASES = {
    "header cut at 9, plain": lambda real: (FIRST, real[:9]),
    "header cut at 9, gz": lambda real: (FIRST + ".gz", gzip.compress(real[:9])),
    "claims 2**31 images": lambda real: (
        FIRST + ".gz",
        gzip.compress(real[:4] + (2**31).to_bytes(4, "big") + real[8:116])),
    "empty but unrepresentable shape": lambda real: (
        FIRST + ".gz", gzip.compress(UNREPRESENTABLE)),
    "random bytes as .gz": lambda real: (FIRST + ".gz", bytes(range(256)) * 4),
    "empty .gz": lambda real: (FIRST + ".gz", b""),
    "zip bomb": lambda real: (FIRST + ".gz", gzip.compress(bytes(16 << 20)) * 8),
}


@pytest.mark.parametrize("case", FIRST_FILE_CASES)
def test_load_mnist_names_the_broken_file(real, mnist_dir, tmp_path, meter, case):
    """A broken file among three real ones: load_mnist names it."""
    filename, content = FIRST_FILE_CASES[case](real[FIRST])
    folder = tmp_path / "data"
    folder.mkdir()
    for name in NAMES[1:]:
        (folder / (name + ".gz")).symlink_to((mnist_dir / (name + ".gz")).resolve())
    path = folder / filename
    path.write_bytes(content)
    budget = 4 * (len(content) + _mnist_files._expected_size(FIRST)) + FILE_SLACK
    outcome = meter.run(budget, utils.load_mnist, folder)
    fail_unless_named_error(outcome, path)
