"""MNIST from local files: the split, the preprocessing, and bad files.

Expected values come from the data folder's README (label counts, pixel
mean and standard deviation) and from an independent minimal reader below,
never from the loader itself.
"""
import gzip
import os
import shutil
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import utils

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_MEAN, TRAIN_STD = 0.1307, 0.3081  # over all 60000 images, pixels / 255


def read_direct(mnist_dir, name):
    """Independent reader: skip the IDX header, trust the README's layout."""
    with gzip.open(mnist_dir / (name + ".gz")) as f:
        data = f.read()
    if "images" in name:
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(-1, 784)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


@pytest.fixture(scope="module")
def reference(mnist_dir):
    return {name: read_direct(mnist_dir, name) for name in NAMES}


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No test here may download or touch the real cache folder."""
    def refuse(*args, **kwargs):
        raise AssertionError("no download may be attempted here")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def snapshot(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


# ---------------------------------------------------------------------------
# The default call and the split
# ---------------------------------------------------------------------------

def test_default_split_subtracts_the_training_mean(mnist_dir, reference):
    X_train, y_train, X_val, y_val, X_test, y_test = utils.get_MNIST_data(
        data_dir=mnist_dir, progress=False)

    assert X_train.shape == (50000, 784) and X_train.dtype == np.float64
    assert X_val.shape == (10000, 784) and X_val.dtype == np.float64
    assert X_test.shape == (10000, 784) and X_test.dtype == np.float64
    for y, n in ((y_train, 50000), (y_val, 10000), (y_test, 10000)):
        assert y.shape == (n,) and y.dtype == np.int64

    train = reference["train-images-idx3-ubyte"]
    mean_image = train[:50000].mean(axis=0, dtype=np.float64)
    # Comparing every training row would need several 300 MB temporaries;
    # a zero mean over all rows plus every 97th row in full is as telling.
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-9)
    rows = np.arange(0, 50000, 97)
    np.testing.assert_allclose(X_train[rows], train[rows] - mean_image, atol=1e-9)
    np.testing.assert_allclose(X_val, train[50000:] - mean_image, atol=1e-9)
    test = reference["t10k-images-idx3-ubyte"]
    np.testing.assert_allclose(X_test, test - mean_image, atol=1e-9)
    # The mean image is a real image: over 0..255 and far from constant.
    assert 0 <= mean_image.min() and mean_image.max() <= 255
    assert mean_image.max() > 100

    labels = reference["train-labels-idx1-ubyte"]
    np.testing.assert_array_equal(y_train, labels[:50000])
    np.testing.assert_array_equal(y_val, labels[50000:])
    np.testing.assert_array_equal(y_test, reference["t10k-labels-idx1-ubyte"])
    np.testing.assert_array_equal(
        np.bincount(y_train, minlength=10) + np.bincount(y_val, minlength=10),
        TRAIN_COUNTS)


def test_full_sets_have_the_readme_label_counts_and_pixel_statistics(mnist_dir):
    X_train, y_train, X_val, y_val, X_test, y_test = utils.get_MNIST_data(
        num_training=60000, num_validation=0, data_dir=mnist_dir,
        normalize="scale", dtype=np.float32, progress=False)
    assert X_val.shape == (0, 784) and y_val.shape == (0,)
    assert X_train.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y_train), TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(y_test), TEST_COUNTS)
    assert X_train.min() == 0 and X_train.max() == 1
    assert round(float(X_train.mean(dtype=np.float64)), 4) == TRAIN_MEAN
    assert round(float(X_train.std(dtype=np.float64)), 4) == TRAIN_STD


def test_split_boundaries(mnist_dir, reference):
    train = reference["train-images-idx3-ubyte"]
    labels = reference["train-labels-idx1-ubyte"]
    X_train, y_train, X_val, y_val, X_test, y_test = utils.get_MNIST_data(
        num_training=100, num_validation=7, num_test=5, data_dir=mnist_dir,
        normalize=None, progress=False)
    assert (X_train.shape, X_val.shape, X_test.shape) == ((100, 784), (7, 784), (5, 784))
    np.testing.assert_array_equal(X_train[-1], train[99])
    np.testing.assert_array_equal(X_val[0], train[100])
    np.testing.assert_array_equal(X_val[-1], train[106])
    np.testing.assert_array_equal(y_val, labels[100:107])
    np.testing.assert_array_equal(X_test, reference["t10k-images-idx3-ubyte"][:5])

    # The standard split: the first validation image is training image 50000,
    # and training plus validation use up the training set.
    _, _, X_val, y_val, _, _ = utils.get_MNIST_data(
        num_training=50000, num_validation=10000, num_test=0,
        data_dir=mnist_dir, normalize=None, progress=False)
    np.testing.assert_array_equal(X_val[0], train[50000])
    np.testing.assert_array_equal(X_val[-1], train[59999])
    assert y_val[0] == labels[50000]


def test_normalize_none_gives_raw_pixels(mnist_dir, reference):
    X_train, _, _, _, X_test, _ = utils.get_MNIST_data(
        num_training=2000, num_validation=0, num_test=2000,
        data_dir=mnist_dir, normalize=None, progress=False)
    assert X_train.dtype == np.float64
    assert X_train.min() == 0 and X_train.max() == 255
    np.testing.assert_array_equal(X_train, reference["train-images-idx3-ubyte"][:2000])
    np.testing.assert_array_equal(X_test, reference["t10k-images-idx3-ubyte"][:2000])


def test_scale_and_mean_in_float32(mnist_dir, reference):
    train = reference["train-images-idx3-ubyte"][:1000].astype(np.float64)
    X, *_ = utils.get_MNIST_data(num_training=1000, num_validation=0, num_test=0,
                                 data_dir=mnist_dir, normalize="scale",
                                 dtype=np.float32, progress=False)
    assert X.dtype == np.float32
    np.testing.assert_allclose(X, train / 255, rtol=1e-6)
    X, _, X_val, _, _, _ = utils.get_MNIST_data(
        num_training=1000, num_validation=10, num_test=0, data_dir=mnist_dir,
        dtype="float32", progress=False)
    assert X.dtype == X_val.dtype == np.float32
    np.testing.assert_allclose(X, train - train.mean(axis=0), atol=1e-4)


def test_load_mnist_gives_the_raw_arrays(mnist_dir, reference):
    arrays = utils.load_mnist(mnist_dir, progress=False)
    shapes = [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    for name, array, shape in zip(NAMES, arrays, shapes):
        assert array.shape == shape and array.dtype == np.uint8
        assert not array.flags.writeable
        np.testing.assert_array_equal(array.reshape(len(array), -1),
                                      reference[name].reshape(len(array), -1))


def test_results_are_fresh_writeable_arrays(mnist_dir):
    first = utils.get_MNIST_data(num_training=10, num_validation=10, num_test=10,
                                 data_dir=mnist_dir, normalize=None, progress=False)
    for array in first:
        assert array.flags.writeable and array.flags.owndata
        array[...] = 0
    second = utils.get_MNIST_data(num_training=10, num_validation=10, num_test=10,
                                  data_dir=mnist_dir, normalize=None, progress=False)
    assert second[0].max() == 255


# ---------------------------------------------------------------------------
# Where the files are found, and that nothing is written there
# ---------------------------------------------------------------------------

def test_mnist_data_dir_environment_variable(mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
    _, y_train, *_ = utils.get_MNIST_data(num_training=60000, num_validation=0,
                                          normalize=None, progress=False)
    np.testing.assert_array_equal(np.bincount(y_train), TRAIN_COUNTS)
    assert not (tmp_path / "xdg").exists()


def test_data_dir_argument_wins_over_environment(mnist_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    X, *_ = utils.get_MNIST_data(num_training=5, num_validation=0, num_test=0,
                                 data_dir=str(mnist_dir), progress=False)
    assert X.shape == (5, 784)


def test_read_only_folder_is_never_written(mnist_dir, tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    for name in NAMES:
        shutil.copy(mnist_dir / (name + ".gz"), folder)
        os.chmod(folder / (name + ".gz"), 0o444)
    os.chmod(folder, 0o555)
    # Root ignores permissions, so compare the listings instead.
    before = snapshot(folder)
    before_real = snapshot(mnist_dir)
    try:
        utils.get_MNIST_data(data_dir=folder, progress=False)
        utils.get_MNIST_data(data_dir=mnist_dir, progress=False)
    finally:
        os.chmod(folder, 0o755)
    assert snapshot(folder) == before
    assert snapshot(mnist_dir) == before_real
    assert not (tmp_path / "xdg").exists()


def test_files_in_the_cache_folder_are_used_as_they_are(mnist_dir, tmp_path):
    cache = tmp_path / "xdg" / "mnist"
    cache.mkdir(parents=True)
    for name in NAMES:
        shutil.copy(mnist_dir / (name + ".gz"), cache)
    before = snapshot(cache)
    X, *_ = utils.get_MNIST_data(num_training=10, num_validation=0, num_test=0,
                                 progress=False)
    assert X.shape == (10, 784)
    assert snapshot(cache) == before


def test_plain_and_gzip_files_can_be_mixed(mnist_dir, tmp_path, reference):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in NAMES[:2]:
        (folder / (name + ".gz")).symlink_to((mnist_dir / (name + ".gz")).resolve())
    for name in NAMES[2:]:
        with gzip.open(mnist_dir / (name + ".gz")) as f:
            (folder / name).write_bytes(f.read())
    *_, X_test, y_test = utils.get_MNIST_data(
        num_training=10, num_validation=0, data_dir=folder, normalize=None,
        progress=False)
    np.testing.assert_array_equal(X_test, reference["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, reference["t10k-labels-idx1-ubyte"])


# ---------------------------------------------------------------------------
# Broken local files
# ---------------------------------------------------------------------------

def labels_file(values, count=None):
    """IDX label bytes (magic 2049) for ``values``, declaring ``count`` items."""
    count = len(values) if count is None else count
    return bytes([0, 0, 8, 1]) + count.to_bytes(4, "big") + bytes(values)


def folder_with(tmp_path, mnist_dir, filename, content):
    """A data folder with the real files, except ``filename`` = ``content``."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in NAMES:
        (folder / (name + ".gz")).symlink_to((mnist_dir / (name + ".gz")).resolve())
    target = folder / filename
    if target.is_symlink():
        target.unlink()
    target.write_bytes(content)
    return target


def real_test_labels(mnist_dir):
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        return f.read()


@pytest.mark.parametrize("case, match", [
    ("truncated-gzip", "not a valid gzip"),
    ("not-gzip", "not a valid gzip"),
    ("changed-label", "SHA-256"),
    ("label-10", "label 10"),
    ("too-few-items", r"shape \(9999,\)"),
    ("lying-header", "truncated"),
    ("images-as-labels", "more than"),
    ("plain-wrong-size", "is 10 bytes"),
    ("plain-preferred-over-gz", "is 3 bytes"),
])
def test_broken_file_is_an_error_naming_it(mnist_dir, tmp_path, case, match):
    labels = real_test_labels(mnist_dir)
    gz_name = "t10k-labels-idx1-ubyte.gz"
    content = {
        "truncated-gzip": (mnist_dir / gz_name).read_bytes()[:2000],
        "not-gzip": labels,
        "changed-label": gzip.compress(labels[:8] + bytes([(labels[8] + 1) % 10]) + labels[9:]),
        "label-10": gzip.compress(labels[:8] + b"\x0a" + labels[9:]),
        "too-few-items": gzip.compress(labels_file(labels[8:-1])),
        # Declares 10000 labels (like the real file) but holds 10.
        "lying-header": gzip.compress(labels_file(labels[8:18], count=10000)),
        "images-as-labels": (mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes(),
    }
    filename = gz_name
    if case == "plain-wrong-size":
        filename, data = "t10k-labels-idx1-ubyte", b"0123456789"
    elif case == "plain-preferred-over-gz":
        filename, data = "t10k-labels-idx1-ubyte", b"abc"
    else:
        data = content[case]
    target = folder_with(tmp_path, mnist_dir, filename, data)
    before = snapshot(target.parent)
    with pytest.raises(ValueError, match=match) as info:
        utils.get_MNIST_data(data_dir=target.parent, progress=False)
    assert str(target) in str(info.value)
    assert snapshot(target.parent) == before


# ---------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_training": 60001, "num_validation": 0}, ValueError, "num_training"),
    ({"num_training": 50001}, ValueError, "num_training \\+ num_validation"),
    ({"num_training": 0, "num_validation": 60001}, ValueError, "num_validation"),
    ({"num_test": 10001}, ValueError, "num_test"),
    ({"num_test": -1}, ValueError, "num_test"),
    ({"num_training": 1.5}, TypeError, "num_training must be an integer"),
    ({"num_training": "100"}, TypeError, "num_training"),
    ({"num_validation": True}, TypeError, "num_validation"),
    ({"normalize": "std"}, ValueError, "normalize"),
    ({"normalize": "MEAN"}, ValueError, "normalize"),
    ({"normalize": 1}, ValueError, "normalize"),
    ({"normalize": "mean", "num_training": 0}, ValueError, "num_training >= 1"),
    ({"dtype": np.int64}, ValueError, "floating"),
    ({"dtype": "not a type"}, TypeError, "dtype"),
    ({"data_dir": 42}, TypeError, "data_dir"),
])
def test_bad_arguments(kwargs, error, match, tmp_path):
    # Arguments are checked before any file is looked for.
    kwargs.setdefault("data_dir", tmp_path / "nothing-here")
    with pytest.raises(error, match=match):
        utils.get_MNIST_data(**kwargs)


def test_numpy_integers_are_accepted(mnist_dir):
    X, *_ = utils.get_MNIST_data(num_training=np.int64(3), num_validation=np.uint8(0),
                                 num_test=0, data_dir=mnist_dir, progress=False)
    assert X.shape == (3, 784)


# ---------------------------------------------------------------------------
# parse_idx on hand-made bytes
# ---------------------------------------------------------------------------

def test_parse_idx_uint8_and_int16():
    data = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    np.testing.assert_array_equal(utils.parse_idx(data), [[0, 1, 2], [3, 4, 5]])
    # Big-endian int16: 0x0102 = 258, 0xFFFE = -2.
    data = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    array = utils.parse_idx(data)
    assert array.dtype == np.int16 and array.dtype.isnative
    np.testing.assert_array_equal(array, [258, -2])


@pytest.mark.parametrize("data, match", [
    (b"", "too short"),
    (bytes([1, 0, 8, 1]), "two zero bytes"),
    (bytes([0, 0, 7, 1]), "data type 0x07"),
    (bytes([0, 0, 8, 0]), "0 dimensions"),
    (bytes([0, 0, 8, 200]) + bytes(800), "200 dimensions"),
    (bytes([0, 0, 8, 3, 0, 0]), "needs 16 bytes"),
    # Declares 2**32-1 x 2**32-1 items: must fail without allocating.
    (bytes([0, 0, 8, 2]) + b"\xff" * 8 + b"abc", "truncated"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 2]) + b"abc", "extra bytes"),
])
def test_parse_idx_rejects_bad_headers(data, match):
    with pytest.raises(ValueError, match=match):
        utils.parse_idx(data, name="sample.idx")


def test_parse_idx_rejects_text():
    with pytest.raises(TypeError, match="binary mode"):
        utils.parse_idx("\x00\x00\x08\x01")


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=48))
def test_parse_idx_on_random_bytes(data):
    try:
        array = utils.parse_idx(data)
    except ValueError:
        return
    # Whatever is accepted is consistent with its own header.
    assert data[:2] == b"\0\0" and array.ndim == data[3]
    assert 4 + 4 * array.ndim + array.nbytes == len(data)
