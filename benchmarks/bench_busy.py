"""Does training keep its speed when the machine is busy? Measured where
students train: in a Jupyter kernel.

Two measurements, each quiet and with one busy process beside it
(``python -c "while True: pass"``, as a browser tab or a second notebook
would be), the runs interleaved (quiet, busy, quiet, busy, ...):

``training``
    In one Jupyter kernel: 2 epochs of the problem set's sigmoid network on
    MNIST (784-64-10, weights of standard deviation 0.1, learning rate
    1e-3, L2 0.5, minibatches of 100, 50,000 training images), the
    training call alone timed.
``notebook``
    The whole of ``pset3.ipynb``, each run in a fresh kernel, timed from
    start to end (kernel start included).

The report gives each one's fastest and median time quiet and busy, and
busy over quiet. Run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
unset (the report names the BLAS kernels that ran).

Usage, from any directory (MNIST is found via ``$MNIST_DATA_DIR``)::

    python benchmarks/bench_busy.py [--runs N] [--what training|notebook|both]
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _busy import one_busy_process  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

SETUP = f"""
import sys, time, json
sys.path.insert(0, {str(ROOT)!r})
from threadpoolctl import threadpool_info
from mlp import TwoLayerMLP
from utils import get_MNIST_data
X_train, y_train, X_val, y_val, _, _ = get_MNIST_data(num_test=0,
                                                      progress=False)
blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
print(json.dumps(blas[0] if blas else {{}}))
"""

TRAIN = """
net = TwoLayerMLP(784, 64, 10, std=0.1, activation="sigmoid", seed=0)
start = time.perf_counter()
net.train(X_train, y_train, X_val, y_val, learning_rate=1e-3,
          learning_rate_decay=0.95, reg=0.5, num_epochs=2, batch_size=100)
print(time.perf_counter() - start)
"""


def progress(message):
    print(message, file=sys.stderr, flush=True)


def output_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream").strip()


def measure_training(runs):
    """{quiet/busy: [seconds]}, and the kernel's BLAS."""
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(SETUP)])
    client = NotebookClient(notebook, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    times = {"quiet": [], "busy": []}
    with client.setup_kernel():
        client.execute_cell(notebook.cells[0], 0)
        blas = json.loads(output_of(notebook.cells[0]))
        for run in range(1, runs + 1):
            for kind in ("quiet", "busy"):
                cell = nbformat.v4.new_code_cell(TRAIN)
                notebook.cells.append(cell)
                with one_busy_process(kind == "busy"):
                    client.execute_cell(cell, len(notebook.cells) - 1)
                times[kind].append(float(output_of(cell)))
                progress(f"training, run {run}/{runs}, {kind}: "
                         f"{times[kind][-1]:.2f} s")
    return times, blas


def measure_notebook(runs):
    times = {"quiet": [], "busy": []}
    for run in range(1, runs + 1):
        for kind in ("quiet", "busy"):
            notebook = nbformat.read(ROOT / "pset3.ipynb", as_version=4)
            client = NotebookClient(notebook, timeout=3600,
                                    kernel_name="python3", resources={
                                        "metadata": {"path": str(ROOT)}})
            with one_busy_process(kind == "busy"):
                start = time.perf_counter()
                client.execute()
                times[kind].append(time.perf_counter() - start)
            progress(f"notebook, run {run}/{runs}, {kind}: "
                     f"{times[kind][-1]:.1f} s")
    return times


def table_row(what, times):
    quiet, busy = times["quiet"], times["busy"]
    return (f"| {what} | {min(quiet):.2f} | {statistics.median(quiet):.2f} "
            f"| {min(busy):.2f} | {statistics.median(busy):.2f} "
            f"| {min(busy) / min(quiet):.2f} "
            f"| {statistics.median(busy) / statistics.median(quiet):.2f} |")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--what", choices=("training", "notebook", "both"),
                        default="both")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    lines = []
    blas = {}
    if args.what in ("training", "both"):
        times, blas = measure_training(args.runs)
        lines.append(table_row("2 epochs of sigmoid training, in a kernel",
                               times))
    if args.what in ("notebook", "both"):
        lines.append(table_row("the whole notebook, fresh kernel",
                               measure_notebook(args.runs)))
    print("\n".join([
        "# Quiet and with one busy process", "",
        f"- Date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- {os.cpu_count()} logical cores; this process may use "
        f"{len(os.sched_getaffinity(0))}",
        f"- BLAS in the kernel: {blas.get('internal_api', '?')} "
        f"{blas.get('version', '')} ({blas.get('architecture', '?')} "
        f"kernels, {blas.get('num_threads', '?')} threads)",
        f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
        f", OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}",
        f"- Command: `{shlex.join(['python', sys.argv[0], *argv])}`", "",
        f"Seconds over {args.runs} interleaved runs of each.", "",
        "| what | quiet fastest | quiet median | busy fastest | busy median "
        "| busy / quiet, fastest | busy / quiet, medians |",
        "|---|---|---|---|---|---|---|", *lines, ""]))


if __name__ == "__main__":
    main()
