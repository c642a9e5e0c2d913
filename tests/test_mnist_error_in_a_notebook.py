"""Without MNIST and without a network, the notebook's first data cell
fails with a short error whose first lines say how to fix it, not with a
traceback through the loader's internals."""
import socket
from pathlib import Path

import pytest

# nbformat and nbclient are imported in the tests that use them: their
# import takes about 2 s, which the quick subset's collection skips.

import utils

ROOT = Path(__file__).resolve().parent.parent

# The most a newcomer should have to read: the message, fix first.
MAX_LINES = 15


def _unreachable_mirror():
    with socket.socket() as s:          # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/mnist/"


@pytest.mark.parametrize("setting", ["cache", "MNIST_DATA_DIR"])
def test_missing_mnist_in_a_notebook_is_short_and_says_the_fix_first(
        tmp_path, monkeypatch, setting):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if setting == "cache":
        monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
        monkeypatch.setenv("MNIST_MIRRORS", ",".join(
            [_unreachable_mirror(), _unreachable_mirror(),
             _unreachable_mirror()]))
    else:
        monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nowhere"))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from utils import get_MNIST_data\n"
        "X_train, y_train, X_val, y_val, X_test, y_test = "
        "get_MNIST_data(progress=False)")])
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    with pytest.raises(CellExecutionError):
        client.execute()
    errors = [o for o in notebook.cells[0].outputs
              if o.output_type == "error"]
    assert len(errors) == 1
    shown = "\n".join(errors[0].traceback).splitlines()
    expected = ("MNISTDownloadError" if setting == "cache"
                else "MNISTNotFoundError")
    assert shown[0].startswith(f"{expected}: ")
    assert len(shown) <= MAX_LINES, "\n".join(shown)
    assert "To fix it" in "\n".join(shown[:3]), "\n".join(shown)
    assert "\x1b[" not in "\n".join(shown)         # no colour codes
    assert "File " not in "\n".join(shown)        # no traceback


def test_the_short_form_is_the_whole_message():
    error = utils.MNISTDownloadError("first line\nsecond line")
    assert error._render_traceback_() == [
        "MNISTDownloadError: first line", "second line"]
