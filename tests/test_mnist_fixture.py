"""The mnist_dir fixture finds MNIST where get_MNIST_data() does: in
$MNIST_DATA_DIR, else in the cache folder once the files are there."""
import os
import re
from pathlib import Path

from conftest import MNIST_FILES, find_mnist


def fill(folder, source):
    """Link the four real MNIST files into folder (nothing is copied)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        (folder / (name + ".gz")).symlink_to(
            Path(source).resolve() / (name + ".gz"))


def test_data_dir_wins(monkeypatch, tmp_path, mnist_dir):
    monkeypatch.setenv("MNIST_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert find_mnist() == (mnist_dir, None)


def test_cache_folder_is_used_when_it_holds_the_files(monkeypatch, tmp_path,
                                                      mnist_dir):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder, reason = find_mnist()
    assert folder is None and str(tmp_path / "mnist") in reason
    fill(tmp_path / "mnist", mnist_dir)
    assert find_mnist() == (tmp_path / "mnist", None)


def test_an_incomplete_cache_is_not_used(monkeypatch, tmp_path, mnist_dir):
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fill(tmp_path / "mnist", mnist_dir)
    os.remove(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz")
    folder, reason = find_mnist()
    assert folder is None and "four MNIST files" in reason


def test_a_wrong_data_dir_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    folder, reason = find_mnist()
    assert folder is None and "nowhere" in reason


def test_a_run_without_mnist_ends_saying_what_did_not_run(tmp_path):
    """Without the MNIST files the run stays green, and its last lines say
    how many tests did not run and the one setting that runs them: once,
    not once per test."""
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items()
           if key not in ("MNIST_DATA_DIR", "REQUIRE_MNIST")}
    env["HOME"] = str(tmp_path)                # no cached MNIST either
    env.pop("XDG_CACHE_HOME", None)
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                           "no:cacheprovider", "tests/test_utils_mnist.py"],
                          cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    last = done.stdout.strip().splitlines()[-2:]
    skipped = re.search(r"(\d+) skipped", last[1])
    assert skipped, last
    assert last[0] == (
        f"{skipped.group(1)} tests did not run for want of the MNIST files: "
        f"set MNIST_DATA_DIR to the folder with the four MNIST IDX files (or "
        f"run utils.get_MNIST_data() once to download them) to run them.")
    assert "does not hold the four MNIST files" not in done.stdout
    assert done.stdout.count("MNIST_DATA_DIR") == 1, done.stdout[-3000:]
