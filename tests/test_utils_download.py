"""Downloading MNIST: mirrors, verification, and what a failure leaves behind.

No test reaches the internet: each starts an HTTP server on 127.0.0.1 that
serves copies of the real files from ``$MNIST_DATA_DIR`` (or broken
versions of them) and stops it afterwards. The cache folder is always
inside pytest's tmp_path.
"""
import gzip
import hashlib
import http.server
import re
import shutil
import socket
import struct
import threading
import time
import urllib.request

import numpy as np
import pytest

import _mnist_files
import utils

NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# From the issue and the data folder's README, not from the code under test.
SHA256 = {
    "train-images-idx3-ubyte":
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte":
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte":
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte":
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
SMALL = "t10k-labels-idx1-ubyte"  # 4.5 kB: the file the failure tests fetch


# ---------------------------------------------------------------------------
# A local HTTP server with good and bad behaviours
# ---------------------------------------------------------------------------

class Server(http.server.ThreadingHTTPServer):
    """Serves ``files`` under ``/<mode>/<file name>``.

    ``files`` maps a file name, or ``"<mode>/<file name>"`` to override it
    for one mode, to the bytes to send. Modes: ``ok``; ``404`` and ``500``;
    ``bad`` (like ``ok``, meant for overridden, broken files);
    ``short`` (announces the full Content-Length, sends half, closes);
    ``nolength`` (no Content-Length, half the body, closes); ``reset``
    (half the body, then a TCP reset); ``stall`` (a little of the body,
    then waits until the test ends); ``silent`` (accepts the connection but
    sends nothing, not even the status line, until the test ends).
    """

    # Handler threads are joined by server_close, so none outlives a test.
    daemon_threads = False
    block_on_close = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files = {}
        self.requests = []
        self.release = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def mirror(self, mode):
        return f"{self.url}/{mode}/"

    def handle_error(self, request, client_address):
        # Clients hanging up on purpose would otherwise print tracebacks.
        pass


class Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        mode, _, name = self.path.lstrip("/").partition("/")
        body = server.files.get(f"{mode}/{name}", server.files.get(name))
        if mode == "500":
            self.send_error(500)
            return
        if mode == "silent":
            server.release.wait(10)
            return
        if mode == "404" or body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        if mode != "nolength":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode in ("ok", "bad"):
            self.wfile.write(body)
        elif mode in ("short", "nolength"):
            self.wfile.write(body[:len(body) // 2])
        elif mode == "reset":
            self.wfile.write(body[:len(body) // 2])
            # Linger 0: closing sends a TCP reset instead of a clean FIN.
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif mode == "stall":
            self.wfile.write(body[:100])
            server.release.wait(10)
        else:
            raise AssertionError(f"unknown mode {mode!r}")
        self.close_connection = True


@pytest.fixture
def server():
    httpd = Server()
    thread = threading.Thread(target=httpd.serve_forever,
                              kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="session")
def gz_files(mnist_dir):
    """The four real .gz files as bytes, by name."""
    return {name + ".gz": (mnist_dir / (name + ".gz")).read_bytes() for name in NAMES}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Point the default cache at tmp_path; return the MNIST cache folder."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.delenv("MNIST_MIRRORS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "xdg" / "mnist"


def fill(cache, mnist_dir, names):
    cache.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(mnist_dir / (name + ".gz"), cache / (name + ".gz"))


def snapshot(folder):
    """File names with size and mtime, to prove nothing was written."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def load_direct(mnist_dir, name):
    """Independent reader: skip the IDX header, trust the README's layout."""
    with gzip.open(mnist_dir / (name + ".gz")) as f:
        data = f.read()
    offset = 16 if "images" in name else 8
    return np.frombuffer(data, dtype=np.uint8, offset=offset)


# ---------------------------------------------------------------------------
# Success
# ---------------------------------------------------------------------------

def test_download_into_empty_cache_then_reuse_it(server, gz_files, cache,
                                                 mnist_dir, capsys, monkeypatch):
    server.files.update(gz_files)
    # The first mirror fails for every file; the second one delivers.
    monkeypatch.setenv("MNIST_MIRRORS",
                       f"{server.mirror('404')},{server.mirror('ok')}")

    X_train, y_train, X_val, y_val, X_test, y_test = utils.get_MNIST_data(
        num_training=1000, num_validation=200, num_test=300, normalize=None)

    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in NAMES)
    for name in NAMES:
        with gzip.open(cache / (name + ".gz")) as f:
            assert hashlib.sha256(f.read()).hexdigest() == SHA256[name]
    assert server.requests == [
        f"/{mode}/{name}.gz" for name in NAMES for mode in ("404", "ok")
    ]
    images = load_direct(mnist_dir, "train-images-idx3-ubyte").reshape(-1, 784)
    labels = load_direct(mnist_dir, "train-labels-idx1-ubyte")
    np.testing.assert_array_equal(X_train, images[:1000])
    np.testing.assert_array_equal(X_val, images[1000:1200])
    np.testing.assert_array_equal(y_val, labels[1000:1200])
    np.testing.assert_array_equal(
        y_test, load_direct(mnist_dir, "t10k-labels-idx1-ubyte")[:300])
    err = capsys.readouterr().err
    for name in NAMES:
        assert f"{name}.gz" in err
    assert "done" in err

    # A second call uses the cache: no request, nothing rewritten.
    before = snapshot(cache)
    again = utils.get_MNIST_data(num_training=1000, num_validation=200,
                                 num_test=300, normalize=None)
    np.testing.assert_array_equal(again[0], X_train)
    assert len(server.requests) == 8
    assert snapshot(cache) == before


def test_only_missing_files_are_downloaded(server, gz_files, cache, mnist_dir):
    fill(cache, mnist_dir, NAMES[:3])
    before = snapshot(cache)
    server.files.update(gz_files)
    # Without a trailing slash the file name is still appended as a path part.
    utils.load_mnist(mirrors=[server.mirror("ok").rstrip("/")], progress=False)
    assert server.requests == [f"/ok/{SMALL}.gz"]
    after = snapshot(cache)
    assert set(after) == set(before) | {f"{SMALL}.gz"}
    assert {k: after[k] for k in before} == before


def test_mirrors_argument_overrides_environment(server, gz_files, cache,
                                                mnist_dir, monkeypatch):
    fill(cache, mnist_dir, NAMES[:3])
    server.files.update(gz_files)
    monkeypatch.setenv("MNIST_MIRRORS", server.mirror("500"))
    utils.load_mnist(mirrors=server.mirror("ok"), progress=False)
    assert server.requests == [f"/ok/{SMALL}.gz"]


def test_progress_false_prints_nothing(server, gz_files, cache, mnist_dir, capsys):
    fill(cache, mnist_dir, NAMES[:3])
    server.files.update(gz_files)
    utils.load_mnist(mirrors=[server.mirror("ok")], progress=False)
    assert capsys.readouterr() == ("", "")


# ---------------------------------------------------------------------------
# Failures: a clear error, no file left behind, and a later call still works
# ---------------------------------------------------------------------------

def modified_labels(gz_bytes):
    """The test labels with the first label changed: valid IDX, wrong data."""
    data = bytearray(gzip.decompress(gz_bytes))
    data[8] = (data[8] + 1) % 10
    return gzip.compress(bytes(data))


def broken_bodies(small):
    """Wrong files to serve in place of ``small``, the real labels .gz."""
    return {
        "checksum": modified_labels(small),
        # A well-formed IDX file of the first 5000 labels.
        "half-file": gzip.compress(
            bytes([0, 0, 8, 1]) + (5000).to_bytes(4, "big")
            + gzip.decompress(small)[8:5008]),
        "not-gzip": b"<html>Service moved</html>",
        "too-long": gzip.compress(gzip.decompress(small) + b"\0" * 100),
        "huge": b"\0" * 200_000,
    }


@pytest.mark.parametrize("mode, body, expected", [
    ("404", None, "HTTP 404"),
    ("500", None, "HTTP 500"),
    ("short", None, "bytes announced"),
    ("nolength", None, "not a valid gzip"),
    ("reset", None, "/reset/"),
    ("bad", "checksum", "SHA-256"),
    ("bad", "half-file", "shape (5000,)"),
    ("bad", "not-gzip", "not a valid gzip"),
    ("bad", "too-long", "more than"),
    ("bad", "huge", "too many for a gzip file"),
])
def test_failed_download_leaves_nothing(server, gz_files, cache, mnist_dir,
                                        mode, body, expected):
    fill(cache, mnist_dir, NAMES[:3])
    before = snapshot(cache)
    server.files.update(gz_files)
    if body is not None:
        small = gz_files[f"{SMALL}.gz"]
        server.files[f"{mode}/{SMALL}.gz"] = broken_bodies(small)[body]
    url = f"{server.mirror(mode)}{SMALL}.gz"

    with pytest.raises(utils.MNISTDownloadError) as info:
        utils.load_mnist(mirrors=[server.mirror(mode)], timeout=5, progress=False)

    message = str(info.value)
    assert url in message and expected in message
    assert str(cache) in message and "MNIST_DATA_DIR" in message
    assert snapshot(cache) == before

    # The failure did not poison anything: a working mirror succeeds.
    arrays = utils.load_mnist(mirrors=[server.mirror("ok")], progress=False)
    np.testing.assert_array_equal(arrays[3], load_direct(mnist_dir, SMALL))
    assert set(snapshot(cache)) == set(before) | {f"{SMALL}.gz"}


# The timeout for tests with a stalling server: short, to keep them fast,
# yet far longer than a local server that works needs between two packets.
STALL_TIMEOUT = 0.5


@pytest.mark.parametrize("mode", ["stall", "silent"])
def test_stalled_server_times_out(server, gz_files, cache, mnist_dir, mode):
    """A server that stops sending, mid-body or before the status line.

    The download must give up after the timeout instead of hanging; the
    server would stall for 10 s, so failing within 5 s shows the timeout
    worked without depending on how busy the machine is.
    """
    fill(cache, mnist_dir, NAMES[:3])
    before = snapshot(cache)
    server.files.update(gz_files)
    start = time.monotonic()
    with pytest.raises(utils.MNISTDownloadError) as info:
        utils.load_mnist(mirrors=[server.mirror(mode)], timeout=STALL_TIMEOUT,
                         progress=False)
    assert time.monotonic() - start < 5
    assert (f"{server.mirror(mode)}{SMALL}.gz: timed out (no data for "
            f"{STALL_TIMEOUT} s)") in str(info.value)
    assert snapshot(cache) == before

    arrays = utils.load_mnist(mirrors=[server.mirror("ok")], progress=False)
    np.testing.assert_array_equal(arrays[3], load_direct(mnist_dir, SMALL))


# Every way a mirror can fail: (server mode, broken body to serve or None,
# regular expression for the reason the error gives).
FAILURES = {
    "404": ("404", None, "HTTP 404"),
    "500": ("500", None, "HTTP 500"),
    "short body": ("short", None, r"ended after \d+ of the \d+ bytes announced"),
    "cut, no length": ("nolength", None, "not a valid gzip"),
    # Whether the client sees the reset or just the end of the data
    # depends on timing; either way the file is incomplete.
    "reset": ("reset", None, "bytes announced|ConnectionResetError"),
    "stall mid-body": ("stall", None, "timed out"),
    "silent": ("silent", None, "timed out"),
    "wrong checksum": ("bad", "checksum", "SHA-256"),
}


def serve(server, gz_files, failures):
    """Serve the real files, and the broken body of each of ``failures``."""
    server.files.update(gz_files)
    bodies = broken_bodies(gz_files[f"{SMALL}.gz"])
    for failure in failures:
        mode, body, _ = FAILURES[failure]
        if body is not None:
            server.files[f"{mode}/{SMALL}.gz"] = bodies[body]


@pytest.mark.parametrize("failure", FAILURES)
def test_next_mirror_is_used_after_a_failure(server, gz_files, cache, mnist_dir,
                                             failure):
    """A failing first mirror: the second one delivers, in the same call."""
    fill(cache, mnist_dir, NAMES[:3])
    before = snapshot(cache)
    serve(server, gz_files, [failure])
    mode = FAILURES[failure][0]

    arrays = utils.load_mnist(mirrors=[server.mirror(mode), server.mirror("ok")],
                              timeout=STALL_TIMEOUT, progress=False)

    np.testing.assert_array_equal(arrays[3], load_direct(mnist_dir, SMALL))
    assert server.requests == [f"/{mode}/{SMALL}.gz", f"/ok/{SMALL}.gz"]
    # Only the verified file was added: no partial or temporary file.
    after = snapshot(cache)
    assert set(after) == set(before) | {f"{SMALL}.gz"}
    assert (cache / f"{SMALL}.gz").read_bytes() == gz_files[f"{SMALL}.gz"]


def test_every_failing_mirror_is_named_with_its_failure(server, gz_files, cache,
                                                        mnist_dir):
    """All mirrors fail, each differently: the error lists each, in order."""
    fill(cache, mnist_dir, NAMES[:3])
    before = snapshot(cache)
    serve(server, gz_files, FAILURES)
    mirrors = [server.mirror(mode) for mode, _, _ in FAILURES.values()]

    with pytest.raises(utils.MNISTDownloadError) as info:
        utils.load_mnist(mirrors=mirrors, timeout=STALL_TIMEOUT, progress=False)

    tried = [line.strip() for line in str(info.value).splitlines()
             if line.startswith("  http://")]
    assert len(tried) == len(FAILURES)
    for line, mirror, (_, _, reason) in zip(tried, mirrors, FAILURES.values()):
        url, _, why = line.partition(": ")
        assert url == f"{mirror}{SMALL}.gz"
        assert re.search(reason, why), (url, why)
    assert snapshot(cache) == before

    # Nothing the failures left behind gets in the way of a working mirror.
    arrays = utils.load_mnist(mirrors=[server.mirror("ok")], progress=False)
    np.testing.assert_array_equal(arrays[3], load_direct(mnist_dir, SMALL))
    assert set(snapshot(cache)) == set(before) | {f"{SMALL}.gz"}


def test_unreachable_mirror_is_reported(cache):
    # A port that was free a moment ago: the connection is refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist/"
    with pytest.raises(utils.MNISTDownloadError, match="cannot connect") as info:
        utils.get_MNIST_data(mirrors=[url], timeout=2, progress=False)
    assert url + "train-images-idx3-ubyte.gz" in str(info.value)
    assert list(cache.iterdir()) == []


def test_error_names_every_mirror_and_how_to_fix(server, cache):
    mirrors = [server.mirror("404"), server.mirror("500")]
    with pytest.raises(utils.MNISTDownloadError) as info:
        utils.get_MNIST_data(mirrors=mirrors, timeout=5, progress=False)
    message = str(info.value)
    assert f"{mirrors[0]}train-images-idx3-ubyte.gz: HTTP 404" in message
    assert f"{mirrors[1]}train-images-idx3-ubyte.gz: HTTP 500" in message
    for name in NAMES:
        assert name in message
    assert "MNIST_DATA_DIR" in message and "MNIST_MIRRORS" in message
    assert str(cache) in message
    assert list(cache.iterdir()) == []


def test_progress_reports_failure_on_stderr(server, cache, capsys):
    with pytest.raises(utils.MNISTDownloadError):
        utils.load_mnist(mirrors=[server.mirror("404")], timeout=5)
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "failed" in err


def test_interrupt_removes_the_partial_file(server, gz_files, cache, mnist_dir,
                                            monkeypatch):
    fill(cache, mnist_dir, NAMES[:3])
    before = snapshot(cache)
    server.files.update(gz_files)

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(_mnist_files.os, "replace", interrupted)
    # An interrupt is not a mirror failure: it must not be swallowed.
    with pytest.raises(KeyboardInterrupt):
        utils.load_mnist(mirrors=[server.mirror("ok"), server.mirror("ok")],
                         progress=False)
    assert len(server.requests) == 1
    assert snapshot(cache) == before


# ---------------------------------------------------------------------------
# When nothing is downloaded
# ---------------------------------------------------------------------------

@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("no download may be attempted here")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize("how", ["data_dir", "env"])
def test_explicit_folder_without_files_is_an_error(tmp_path, cache, mnist_dir,
                                                   no_network, monkeypatch, how):
    folder = tmp_path / "data"
    fill(folder, mnist_dir, NAMES[1:])
    before = snapshot(folder)
    if how == "env":
        monkeypatch.setenv("MNIST_DATA_DIR", str(folder))
        kwargs = {}
    else:
        kwargs = {"data_dir": folder}
    with pytest.raises(FileNotFoundError) as info:
        utils.get_MNIST_data(**kwargs)
    message = str(info.value)
    assert str(folder) in message and "train-images-idx3-ubyte" in message
    assert ("MNIST_DATA_DIR" if how == "env" else "data_dir") in message
    assert "t10k-labels-idx1-ubyte," not in message  # only the missing one
    assert snapshot(folder) == before
    assert not cache.exists()


def test_missing_explicit_folder_is_an_error(tmp_path, cache, no_network):
    folder = tmp_path / "does-not-exist"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        utils.get_MNIST_data(data_dir=folder)
    assert not folder.exists() and not cache.exists()


def test_corrupt_file_in_cache_is_reported_not_replaced(cache, mnist_dir,
                                                        gz_files, no_network):
    fill(cache, mnist_dir, NAMES[:3])
    broken = cache / f"{SMALL}.gz"
    broken.write_bytes(gz_files[f"{SMALL}.gz"][:1000])
    before = snapshot(cache)
    with pytest.raises(ValueError, match="not a valid gzip") as info:
        utils.get_MNIST_data()
    assert str(broken) in str(info.value)
    assert snapshot(cache) == before


def test_cache_folder_that_cannot_be_created(tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    with pytest.raises(utils.MNISTDownloadError, match="cannot be created"):
        utils.get_MNIST_data()
    assert blocker.read_text() == "not a folder"


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

def test_cache_dir_follows_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert utils.mnist_cache_dir() == tmp_path / "xdg" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert utils.mnist_cache_dir() == tmp_path / "home" / ".cache" / "mnist"


def test_default_mirrors():
    assert utils.DEFAULT_MIRRORS[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert all(url.endswith("/") for url in utils.DEFAULT_MIRRORS)


@pytest.mark.parametrize("kwargs, env, error, match", [
    ({"mirrors": []}, None, ValueError, "mirrors is empty"),
    ({"mirrors": ""}, None, ValueError, "mirrors is empty"),
    ({"mirrors": [1]}, None, TypeError, "base URL strings"),
    ({"mirrors": 5}, None, TypeError, "mirrors must be"),
    ({}, " , ", ValueError, "MNIST_MIRRORS"),
    ({"timeout": 0}, None, ValueError, "timeout"),
    ({"timeout": float("nan")}, None, ValueError, "timeout"),
    ({"timeout": "1"}, None, TypeError, "timeout"),
    ({"data_dir": 3}, None, TypeError, "data_dir"),
])
def test_bad_download_settings(cache, no_network, monkeypatch, kwargs, env,
                               error, match):
    if env is not None:
        monkeypatch.setenv("MNIST_MIRRORS", env)
    with pytest.raises(error, match=match):
        utils.load_mnist(**kwargs)
    assert not cache.exists()
