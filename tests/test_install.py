"""pyproject.toml: after ``pip install .`` (or ``-e .``), ``import mlp`` and
``import utils`` work from any folder.

The repository's files are copied to a temporary folder first, so that
building leaves nothing in the checkout; the new virtual environment also sees
the packages of the one running the tests (NumPy, matplotlib, pip,
setuptools), so nothing is downloaded.
"""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """\
import sys
import mlp, utils
from mlp import TwoLayerMLP
net = TwoLayerMLP(3, 4, 2, seed=0)
net.train([[0.0, 1, 2], [1, 0, 2]], [0, 1], num_epochs=2, batch_size=2)
print(mlp.__file__)
print(utils.__file__)
print(net.predict([[1.0, 2.0, 3.0]]).tolist())
"""


@pytest.mark.parametrize("editable", [False, True])
def test_installed_modules_import_from_any_folder(tmp_path, editable):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "mlp.py", "utils.py",
                 "_checks.py", "_threads.py", "_mnist_files.py"):
        shutil.copyfile(ROOT / name, source / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    str(venv)], check=True)
    python = venv / "bin" / "python"
    # The packages of the environment running the tests (pip and
    # setuptools included), after the new environment's own.
    inner = subprocess.run([str(python), "-c", "import sysconfig; print("
                            "sysconfig.get_path('purelib'))"],
                           capture_output=True, text=True, check=True)
    (Path(inner.stdout.strip()) / "_outer.pth").write_text("".join(
        f"{path}\n" for path in sys.path
        if path.endswith(("site-packages", "dist-packages"))))
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index",
         "--disable-pip-version-check"] + (["-e"] if editable else [])
        + [str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "my_script.py").write_text(SCRIPT)
    done = subprocess.run([str(python), "my_script.py"], cwd=elsewhere,
                          capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg",
                               "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    mlp_file, utils_file, prediction = done.stdout.splitlines()
    home = source if editable else venv
    assert Path(mlp_file).resolve().is_relative_to(home.resolve())
    assert Path(utils_file).resolve().is_relative_to(home.resolve())
    assert prediction in ("[0]", "[1]")
