"""benchmarks/bench_train.py produces its report; its timings are never checked.

The smoke test runs the script once as a user would (``--quick --runs 1``,
warnings as errors, from a directory outside the repository) and reads the
Markdown it prints: the header, every row, sensible accuracies, the
peak-memory column and the comparison table. The other tests need no MNIST:
a tiny run on random data without torch, the ratio arithmetic, bad
``--runs`` values and the memory measurement.
"""
import importlib.util
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_train.py"
NO_TORCH = "skipped: torch not installed"
HAS_TORCH = importlib.util.find_spec("torch") is not None
SYSTEMS = ("TwoLayerMLP", "scikit-learn MLPClassifier", "PyTorch eager",
           "floor")
ROWS = [("TwoLayerMLP", "float32"), ("TwoLayerMLP", "float64"),
        ("scikit-learn MLPClassifier", "float32"),
        ("scikit-learn MLPClassifier", "float64"),
        ("PyTorch eager", "float32"), ("floor", "float32"),
        ("floor", "float64")]
NUMPY_ROWS = [row for row in ROWS if row[0] != "PyTorch eager"]


@pytest.fixture(scope="module")
def bench():
    """The benchmark script as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def markdown_tables(text):
    """Every Markdown table in ``text``, as a list of dicts (header -> cell)."""
    tables, block = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            block.append([cell.strip() for cell in line.strip("|").split("|")])
        elif block:
            header, separator, *rows = block
            assert all(set(cell) <= set("-:") for cell in separator), block
            assert all(len(row) == len(header) for row in rows), block
            tables.append([dict(zip(header, row)) for row in rows])
            block = []
    return tables


def find_row(table, system, dtype):
    found = [row for row in table
             if row["system"].startswith(system) and row["dtype"] == dtype]
    assert len(found) == 1, f"expected one {system} {dtype} row in {table}"
    return found[0]


def check_tables(report, torch_ran):
    """Checks that hold for any report; returns (rows table, comparisons)."""
    rows, comparisons = markdown_tables(report)
    assert len(rows) == len(ROWS)
    for system, dtype in ROWS:
        row = find_row(rows, system, dtype)
        if system == "PyTorch eager" and not torch_ran:
            assert row["fastest (s)"] == NO_TORCH, row
            continue
        # Tiny test runs may show 0.00 s: timings are only checked to be
        # numbers, never for their size.
        fastest, median = float(row["fastest (s)"]), float(row["median (s)"])
        assert 0 <= fastest <= median, row
        assert float(row["samples/s"].replace(",", "")) > 0, row
        if system == "PyTorch eager":
            assert row["peak memory (MB)"] == "n/a", row
        else:
            assert float(row["peak memory (MB)"]) >= 0, row
        if system == "floor":
            assert row["test accuracy"] == row["efficiency"] == "\u2014", row
        else:
            assert 0 <= float(row["test accuracy"]) <= 1, row
            assert float(row["efficiency"]) >= 0, row
    labels = [row["comparison"] for row in comparisons]
    assert labels == [
        "time of TwoLayerMLP float32 / time of scikit-learn MLPClassifier "
        "float32",
        "time of TwoLayerMLP float32 / time of PyTorch eager float32",
        "time of TwoLayerMLP float64 / time of scikit-learn MLPClassifier "
        "float64",
        "efficiency of TwoLayerMLP float32 (floor time / its time)",
        "efficiency of TwoLayerMLP float64 (floor time / its time)"]
    for row in comparisons:
        if "PyTorch" in row["comparison"] and not torch_ran:
            assert row["fastest runs"] == row["medians"] == f"n/a ({NO_TORCH})"
        else:
            assert float(row["fastest runs"]) >= 0, row
            assert float(row["medians"]) >= 0, row
    return rows, comparisons


@pytest.fixture(scope="module")
def quick_run(mnist_dir, tmp_path_factory):
    """The script's --quick run, started from a directory outside the repo,
    with one BLAS and OpenMP thread: it checks the report, not the speed,
    and more threads than cores, beside the other test processes, would
    mostly spin."""
    env = dict(os.environ, MNIST_DATA_DIR=str(mnist_dir.resolve()),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-W", "error", str(SCRIPT), "--quick", "--runs", "1"],
        cwd=tmp_path_factory.mktemp("elsewhere"), env=env,
        capture_output=True, text=True, timeout=900,
    )


def test_quick_run_prints_the_report(quick_run):
    assert quick_run.returncode == 0, quick_run.stderr[-3000:]
    out = quick_run.stdout
    assert out.startswith("# Training benchmark"), out[:500]
    # Progress goes to stderr, so stdout is a clean Markdown file.
    assert "run 1/1: TwoLayerMLP float32" in quick_run.stderr
    assert "run 1/1" not in out
    for needle in ("- Date: ", "- CPU: ", "logical cores",
                   f"NumPy {np.__version__}", "scikit-learn ", "torch ",
                   "- BLAS (NumPy's, from threadpoolctl): ",
                   "--quick --runs 1`", "50,000 training images",
                   "2 epochs (1,000 SGD steps)", "1 interleaved run per row"):
        assert needle in out, needle
    check_tables(out, torch_ran=HAS_TORCH)


def test_quick_run_learns(quick_run):
    """Behaviour, not speed: two epochs of SGD learn MNIST in every system
    (test accuracy about 0.93 in all of them)."""
    assert quick_run.returncode == 0, quick_run.stderr[-3000:]
    rows, _ = markdown_tables(quick_run.stdout)
    for system, dtype in ROWS:
        row = find_row(rows, system, dtype)
        if row["fastest (s)"] == NO_TORCH:
            continue
        assert float(row["fastest (s)"]) > 0, row
        if system != "floor":
            assert float(row["test accuracy"]) > 0.85, row


@pytest.fixture(scope="module")
def tiny_run(bench):
    """Two runs of every row on 300 random images, one epoch, no torch."""
    rng = np.random.default_rng(0)
    X_train, X_test = rng.random((300, 784)), rng.random((50, 784))
    y_train, y_test = rng.integers(0, 10, 300), rng.integers(0, 10, 50)
    return bench.run_benchmark(X_train, y_train, X_test, y_test, epochs=1,
                               runs=2, torch=None)


def test_runs_are_interleaved(bench, tiny_run, capsys):
    rng = np.random.default_rng(1)
    X, y = rng.random((200, 784)), rng.integers(0, 10, 200)
    bench.run_benchmark(X, y, X[:20], y[:20], epochs=1, runs=2, torch=None)
    runs = [line.split(":")[0] for line in capsys.readouterr().err.splitlines()
            if line.startswith("run ")]
    names = len(ROWS) - 1                          # PyTorch is skipped
    assert runs == ["run 1/2"] * names + ["run 2/2"] * names
    for name, row in tiny_run.items():
        if "skipped" not in row:
            assert len(row["times"]) == 2, name


def test_report_without_torch(bench, tiny_run):
    info = dict(date="2000-01-01T00:00:00+00:00", cpu="Some CPU",
                blas="openblas 0.3 (Haswell kernels, 2 threads)", torch=None,
                command="python benchmarks/bench_train.py --runs 2")
    report = bench.format_report(tiny_run, info, 300, 1, 2)
    assert "torch not installed" in report
    assert "- Command: `python benchmarks/bench_train.py --runs 2`" in report
    check_tables(report, torch_ran=False)


def test_ratios_and_efficiency(bench, tiny_run):
    rows = {name: dict(row) for name, row in tiny_run.items()}
    times = {"TwoLayerMLP float32": [2.0, 4.0, 3.0],
             "scikit-learn MLPClassifier float32": [4.0, 5.0, 6.0],
             "floor: X_batch @ W1 and X_batch.T @ dz1 only float32":
                 [1.0, 1.5, 2.0]}
    for name, values in times.items():
        rows[name]["times"] = values
    info = dict(date="d", cpu="c", blas="b", torch=None, command="python x")
    table, comparisons = markdown_tables(
        bench.format_report(rows, info, 300, 1, 3))
    mlp32 = find_row(table, "TwoLayerMLP", "float32")
    assert (mlp32["fastest (s)"], mlp32["median (s)"]) == ("2.00", "3.00")
    assert mlp32["samples/s"] == "150"             # 300 samples x 1 / 2 s
    assert mlp32["efficiency"] == "0.50"           # 1.0 / 2.0, fastest runs
    # Fastest runs: 2 / 4 and 1 / 2; medians: 3 / 5 and 1.5 / 3.
    assert (comparisons[0]["fastest runs"], comparisons[0]["medians"]) == (
        "0.50", "0.60")
    assert (comparisons[3]["fastest runs"], comparisons[3]["medians"]) == (
        "0.50", "0.50")


@pytest.mark.parametrize("value", ["0", "-1", "x", "2.5"])
def test_rejects_bad_runs(bench, capsys, value):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--runs", value])
    assert exit_info.value.code == 2
    assert "--runs" in capsys.readouterr().err


def test_help_works_from_anywhere(tmp_path):
    result = subprocess.run([sys.executable, "-W", "error", str(SCRIPT),
                             "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "--runs" in result.stdout and "--quick" in result.stdout


def test_peak_memory_sees_a_known_allocation(bench):
    held = np.ones(1_000_000)       # allocated before: not counted
    size = 80 * 10**6
    peak = bench.peak_memory(lambda: np.ones(size // 8))
    assert size <= peak < size + 10**6, peak
    assert bench.peak_memory(lambda: None) < 10**5
    assert not tracemalloc.is_tracing()
    del held


def test_busy_runs_follow_each_quiet_run_and_are_reported(bench, capsys):
    """--busy: every quiet run of a row is followed by one beside a busy
    process (which is gone afterwards), and the report gives the busy
    times, busy over quiet, and the comparisons when busy."""
    rng = np.random.default_rng(2)
    X, y = rng.random((200, 784)), rng.integers(0, 10, 200)
    rows = bench.run_benchmark(X, y, X[:20], y[:20], epochs=1, runs=2,
                               torch=None, busy=True)
    runs = [line for line in capsys.readouterr().err.splitlines()
            if line.startswith("run ")]
    assert len(runs) == 2 * 2 * (len(ROWS) - 1)
    assert all(", one busy process: " in line for line in runs[1::2])
    for name, row in rows.items():
        if "skipped" not in row:
            assert len(row["busy_times"]) == 2, name
    rows["TwoLayerMLP float32"].update(times=[1.0, 2.0],
                                       busy_times=[1.5, 3.0])
    rows["scikit-learn MLPClassifier float32"].update(times=[1.0, 1.0],
                                                      busy_times=[3.0, 6.0])
    info = dict(date="d", cpu="c", blas="b", torch=None, command="python x")
    report = bench.format_report(rows, info, 200, 1, 2)
    assert "## With one busy process beside each run" in report
    _, _, busy, busy_comparisons = markdown_tables(report)
    mlp32 = find_row(busy, "TwoLayerMLP", "float32")
    assert mlp32["busy fastest (s)"] == "1.50"
    assert mlp32["busy / quiet, fastest"] == "1.50"
    assert mlp32["busy / quiet, medians"] == "1.50"     # 2.25 / 1.5
    first = busy_comparisons[0]
    assert first["comparison"].startswith("time of TwoLayerMLP float32 / "
                                          "time of scikit-learn")
    assert (first["fastest runs"], first["medians"]) == ("0.50", "0.50")


def test_without_busy_the_report_has_no_busy_section(bench, tiny_run):
    info = dict(date="d", cpu="c", blas="b", torch=None, command="python x")
    assert "busy" not in bench.format_report(tiny_run, info, 300, 1, 2)
