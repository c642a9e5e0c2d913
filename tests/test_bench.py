"""benchmarks/bench_train.py produces its report; its timings are never checked.

The smoke test runs the script once, as a user would (``--quick --runs
1``, warnings as errors, from another directory), and reads the Markdown
it prints: every row is there, the accuracies are numbers and training
works. The other tests check the pieces that need no MNIST: the report
when torch is missing, and the memory meter.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_train.py"
TORCH_MISSING = "skipped: torch not installed"


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_tables(text):
    """Every Markdown table in text, as a list of dicts (header -> cell)."""
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip("|").split("|")])
            continue
        if block:
            header, separator, *rows = block
            assert all(set(cell) <= set("-:") for cell in separator), block
            assert all(len(row) == len(header) for row in rows), block
            tables.append([dict(zip(header, row)) for row in rows])
            block = []
    return tables


def find_row(table, system, dtype):
    rows = [row for row in table
            if row["system"].startswith(system) and row["dtype"] == dtype]
    assert len(rows) == 1, f"expected one {system} {dtype} row in {table}"
    return rows[0]


@pytest.fixture(scope="module")
def quick_run(mnist_dir, tmp_path_factory):
    """The script's --quick run, started from a directory outside the repo."""
    env = dict(os.environ, MNIST_DATA_DIR=str(mnist_dir.resolve()))
    return subprocess.run(
        [sys.executable, "-W", "error", str(SCRIPT), "--quick", "--runs", "1"],
        cwd=tmp_path_factory.mktemp("elsewhere"), env=env,
        capture_output=True, text=True, timeout=600,
    )


def test_quick_run_prints_the_report(quick_run):
    assert quick_run.returncode == 0, quick_run.stderr[-3000:]
    out = quick_run.stdout
    assert out.startswith("# Training benchmark"), out[:500]
    # Progress goes to stderr, so stdout is a clean Markdown file.
    assert "run 1/1" in quick_run.stderr
    assert "run 1/1" not in out
    for needle in ("Date:", "CPU:", "logical cores", f"NumPy {np.__version__}",
                   "BLAS:", "scikit-learn", "X_val=None",
                   "2 epochs (1,000 SGD steps)", "median of 1 run"):
        assert needle in out, needle


def test_quick_run_has_every_row(quick_run):
    results, targets = markdown_tables(quick_run.stdout)
    for system in ("TwoLayerMLP", "scikit-learn MLPClassifier", "floor",
                   "skeleton"):
        for dtype in ("float64", "float32"):
            row = find_row(results, system, dtype)
            float(row["train time (s)"])
            float(row["peak RSS increase (MB)"])
    torch_row = find_row(results, "PyTorch", "float32")
    if importlib.util.find_spec("torch") is None:
        assert torch_row["train time (s)"] == TORCH_MISSING
    else:
        float(torch_row["train time (s)"])
    assert len(targets) == 4
    for row in targets:
        assert row["result"] in ("met", "not met") or \
            row["result"].startswith("n/a"), row


def test_quick_run_accuracies(quick_run):
    results, _ = markdown_tables(quick_run.stdout)
    for row in results:
        if row["system"].startswith(("floor", "skeleton")) or \
                row["train time (s)"] == TORCH_MISSING:
            assert row["test accuracy"] == "\u2014"
            continue
        accuracy = float(row["test accuracy"])
        assert 0 <= accuracy <= 1, row
        if row["system"] == "TwoLayerMLP":
            # Behaviour, not speed: two epochs of SGD learn MNIST.
            assert accuracy > 0.9, row
    for system in ("TwoLayerMLP", "skeleton"):
        for dtype in ("float64", "float32"):
            assert float(find_row(results, system, dtype)["efficiency"]) > 0


def fake_results(bench):
    """Results as run_benchmarks would return them, without torch."""
    rows = []
    for i, system in enumerate(bench.systems(None)):
        row = bench.RowResult(system)
        if not system.skipped:
            row.times = [1.0 + i, 2.0 + i, 3.0 + i]
            trains = not system.key.startswith(("floor", "skeleton"))
            accuracy = 0.95 if trains else None
            row.accuracies = [accuracy] * 3
            row.memory = [1e6] * 3
            row.load = [0.0, 0.5, None]
        rows.append(row)
    return bench.Results(rows=rows, epochs=2, runs=3, num_train=1000,
                         steps=20, x_bytes={"float64": 8e6, "float32": 4e6},
                         memory_method="clear_refs", threads=2, seconds=9.0,
                         load=0.2)


def test_report_without_torch(bench):
    info = dict(date="2000-01-01T00:00:00+00:00", cpu="CPU", cores=2,
                platform="OS", python="3", numpy="2", blas=None,
                sklearn="1", torch=None)
    report = bench.format_report(info, fake_results(bench))
    results, targets = markdown_tables(report)
    torch_row = find_row(results, "PyTorch", "float32")
    assert torch_row["train time (s)"] == TORCH_MISSING
    # Median times: float32 floor 8 s, TwoLayerMLP float32 3 s.
    assert find_row(results, "TwoLayerMLP", "float32")["efficiency"] == "2.67"
    torch_target = [row for row in targets if "PyTorch" in row["comparison"]]
    assert torch_target[0]["result"] == f"n/a ({TORCH_MISSING})"
    # Medians against fastest runs: scikit-learn float32 takes 4, 5, 6 s,
    # TwoLayerMLP float32 2, 3, 4 s, the float32 floor 7, 8, 9 s.
    sklearn_target = next(row for row in targets
                          if "scikit-learn float32" in row["comparison"])
    assert (sklearn_target["value (medians)"],
            sklearn_target["fastest runs"]) == ("0.60", "0.50")
    efficiency_target = next(row for row in targets
                             if row["comparison"].startswith("efficiency"))
    assert (efficiency_target["value (medians)"],
            efficiency_target["fastest runs"],
            efficiency_target["result"]) == ("2.67", "3.50", "met")
    assert "PyTorch not installed" in report
    assert "Warning: the machine was busy" in report


def test_peak_memory_sees_an_allocation(bench):
    meter = bench.PeakMemory()
    with meter.measure() as usage:
        block = np.ones(80 * 2**20 // 8)       # 80 MiB, touched
        del block
    assert usage["increase"] >= 60 * 2**20, (meter.method, usage)
    with meter.measure() as usage:
        pass
    assert usage["increase"] < 20 * 2**20, (meter.method, usage)


def test_rejects_bad_arguments(bench):
    for argv in (["--runs", "0"], ["--train-size", "50"],
                 ["--train-size", "70000"], ["--threads", "x"]):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
    args = bench.parse_args(["--quick", "--runs", "5", "--train-size", "1000"])
    assert (args.quick, args.runs, args.train_size) == (True, 5, 1000)
