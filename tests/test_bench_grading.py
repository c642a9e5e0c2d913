"""benchmarks/bench_grading.py produces its report; its timings are never
checked. One tiny run as a user would make it, from outside the repository,
in the sandbox: three submissions, one run each of one and two jobs. And
benchmarks/digits_draws.py, on a few draws."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_grading.py"
DRAWS = ROOT / "benchmarks" / "digits_draws.py"


def test_a_tiny_run_prints_the_table(tmp_path, sandbox):
    done = subprocess.run([sys.executable, "-W", "error", str(SCRIPT),
                           "--copies", "3", "--jobs", "1", "2", "--runs", "1"],
                          cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("Grading 3 copies of the solution with "
                               "`grade-class`, 1 runs per row")
    assert "in the bubblewrap sandbox" in lines[0]
    rows = [line for line in lines if re.match(r"\| \d", line)]
    assert [row.split(" | ")[0] for row in rows] == ["| 1", "| 2"]
    for row in rows:
        assert re.fullmatch(r"\| \d \| \d+\.\d \| \d+\.\d \| \d\.\d{3} \| "
                            r"\d+\.\d\d \|", row), row
    assert rows[0].endswith("| 1.00 |")
    assert "run 1/1, 2 jobs:" in done.stderr


def test_bad_arguments_are_refused(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--copies", "0"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "must be at least 1" in done.stderr


def test_the_digits_draws_table_has_a_row_per_activation(tmp_path):
    done = subprocess.run([sys.executable, "-W", "error", str(DRAWS),
                           "--draws", "3", "--jobs", "1"], cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    rows = [line.strip("| ").split(" | ") for line in done.stdout.splitlines()
            if line.startswith(("| sigmoid", "| relu"))]
    assert [row[0] for row in rows] == ["sigmoid", "relu"]
    for row in rows:       # lowest <= median <= highest, none below 0.8
        assert float(row[2]) <= float(row[4]) <= float(row[5]) and \
            row[6] == "0", row
    assert re.fullmatch(r"\d+ / \d+", rows[1][7]), rows[1]
    bad = subprocess.run([sys.executable, str(DRAWS), "--draws", "0"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "must be at least 1" in bad.stderr
