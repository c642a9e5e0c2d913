"""The README as a newcomer meets it: short, two commands, links that
lead somewhere, and a first command that leaves the checkout as it was."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = sorted((ROOT / "docs").glob("*.md"))


def commands():
    """The Quick start's commands: the lines of its shell block that are
    not comments."""
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, re.S)
    assert block, "no shell block in the Quick start"
    return [line for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_is_short_and_has_two_commands():
    assert len(README.splitlines()) <= 200
    first, second = commands()
    assert "nbconvert" in first and "pset3.ipynb" in first
    assert second.endswith("python -m pytest")


def test_command_one_leaves_the_tracked_files_as_they_were():
    """It writes the executed notebook into a folder git ignores, never
    over pset3.ipynb."""
    words = shlex.split(commands()[0].split("&&")[-1])
    assert "--inplace" not in words
    out = [w.split("=", 1)[1] for w in words if w.startswith("--output-dir=")]
    assert out, "command 1 must say where the executed notebook goes"
    ignored = subprocess.run(["git", "check-ignore", "-q",
                              f"{out[0]}/pset3.ipynb"], cwd=ROOT)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.returncode == 0, f"{out[0]}/ is not ignored by git"


@pytest.mark.parametrize("document", [ROOT / "README.md", *DOCS],
                         ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file(document):
    text = document.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{document.name} links to {target}"
