"""How fast does TwoLayerMLP train, next to scikit-learn, PyTorch and the BLAS?

Measured: the training call alone, on MNIST (``get_MNIST_data(normalize=
'scale')``, 50,000 training images; accuracy on the 10,000 test images),
a 784-64-10 ReLU net, SGD on batches of 100 reshuffled every epoch, 20
epochs (2 with ``--quick``), learning rate 0.1, L2 1e-4 on the weights, no
momentum, no validation set. Rows: TwoLayerMLP and scikit-learn's
MLPClassifier in float32 and float64, PyTorch eager float32 (if installed)
and a *floor*: only ``X_batch @ W1`` and ``X_batch.T @ dz1`` of each step,
into preallocated outputs (efficiency = floor time / training time, same
dtype). Runs are interleaved (run 1 of every row, then run 2, ...) after a
short untimed warm-up per row. Peak memory: one more, untimed run of each
NumPy-based row under ``tracemalloc`` (tracing doubles their time).

Equal settings: TwoLayerMLP and PyTorch start from N(0, 0.05**2) weights and
zero biases (scikit-learn keeps its Glorot init). scikit-learn divides its
L2 term by the batch size, so ``alpha = reg * batch_size``; it must not stop
early (``tol=0``, ``n_iter_no_change > max_iter``, ``early_stopping=False``;
its ConvergenceWarning is silenced around ``fit`` only). PyTorch gets
``weight_decay`` on the weights only and NumPy's BLAS thread count.

``--busy`` follows every timed run with one beside a busy process and
reports those too (``benchmarks/_busy.py``). Run it with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset.

Usage, from any directory (MNIST is found via ``$MNIST_DATA_DIR``)::

    python benchmarks/bench_train.py [--runs N] [--quick] [--busy] > report.md
"""
import argparse
import contextlib
import datetime
import os
import platform
import shlex
import statistics
import sys
import warnings
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[i]) for i in (0, 1)]

import numpy as np                                         # noqa: E402
import sklearn                                             # noqa: E402
from sklearn.exceptions import ConvergenceWarning          # noqa: E402
from sklearn.neural_network import MLPClassifier           # noqa: E402
from threadpoolctl import threadpool_info                  # noqa: E402

from mlp import TwoLayerMLP                                # noqa: E402
from utils import get_MNIST_data                           # noqa: E402
from _busy import (busy_section, markdown_table, one_busy_process,  # noqa
                   peak_memory, timed)

HIDDEN, BATCH, LEARNING_RATE, REG, INIT_STD = 64, 100, 0.1, 1e-4, 0.05
EPOCHS, QUICK_EPOCHS, WARMUP_SAMPLES = 20, 2, 1_000


def progress(message):
    print(message, file=sys.stderr, flush=True)


# Each row's builder takes (X_train, y_train, epochs, torch), makes a fresh
# model (untimed) and returns (fit, predict): fit() is the timed training
# call, predict(X_test) gives labels (predict is None for the floor).
def twolayer_mlp(X, y, epochs, torch):
    net = TwoLayerMLP(X.shape[1], HIDDEN, 10, std=INIT_STD, activation="relu",
                      seed=0, dtype=X.dtype)

    def fit():                       # X_val=None, y_val=None: no validation
        net.train(X, y, None, None, learning_rate=LEARNING_RATE,
                  learning_rate_decay=1.0, reg=REG, num_epochs=epochs,
                  batch_size=BATCH, momentum=0.0, seed=1)
    return fit, net.predict


def sklearn_mlp(X, y, epochs, torch):
    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN,), activation="relu", solver="sgd",
        alpha=REG * BATCH, batch_size=BATCH, learning_rate="constant",
        learning_rate_init=LEARNING_RATE, momentum=0.0,
        nesterovs_momentum=False, max_iter=epochs, tol=0.0,
        n_iter_no_change=epochs + 1, early_stopping=False, shuffle=True,
        random_state=0)

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        if clf.n_iter_ != epochs:
            raise RuntimeError(f"MLPClassifier stopped at epoch {clf.n_iter_}")
    return fit, clf.predict


def torch_mlp(X, y, epochs, torch):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], HIDDEN),
                                torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    layers = (model[0], model[2])
    with torch.no_grad():
        for layer in layers:
            layer.weight.normal_(0.0, INIT_STD)
            layer.bias.zero_()
    optimizer = torch.optim.SGD(
        [{"params": [layer.weight for layer in layers], "weight_decay": REG},
         {"params": [layer.bias for layer in layers], "weight_decay": 0.0}],
        lr=LEARNING_RATE, momentum=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)   # no copies
    shuffler = torch.Generator().manual_seed(1)

    def fit():
        for _ in range(epochs):
            order = torch.randperm(len(X), generator=shuffler)
            for start in range(0, len(X) - BATCH + 1, BATCH):
                batch = order[start:start + BATCH]
                optimizer.zero_grad()
                loss_fn(model(X_t[batch]), y_t[batch]).backward()
                optimizer.step()
    return fit, lambda X_new: model(torch.from_numpy(X_new)).argmax(1).numpy()


def blas_floor(X, y, epochs, torch):
    steps = epochs * (len(X) // BATCH)
    rng = np.random.default_rng(0)
    X_batch = np.ascontiguousarray(X[:BATCH])
    W1 = (INIT_STD * rng.standard_normal((X.shape[1], HIDDEN))).astype(X.dtype)
    dz1 = rng.standard_normal((BATCH, HIDDEN)).astype(X.dtype)
    z1, dW1 = np.empty((BATCH, HIDDEN), X.dtype), np.empty_like(W1)

    def fit():
        for _ in range(steps):
            np.matmul(X_batch, W1, out=z1)
            np.matmul(X_batch.T, dz1, out=dW1)
    return fit, None


FLOOR = "floor: X_batch @ W1 and X_batch.T @ dz1 only"
#: The rows: (system, dtype, builder, peak memory traced by tracemalloc).
ROWS = [("TwoLayerMLP", "float32", twolayer_mlp, True),
        ("TwoLayerMLP", "float64", twolayer_mlp, True),
        ("scikit-learn MLPClassifier", "float32", sklearn_mlp, True),
        ("scikit-learn MLPClassifier", "float64", sklearn_mlp, True),
        ("PyTorch eager", "float32", torch_mlp, False),
        (FLOOR, "float32", blas_floor, True),
        (FLOOR, "float64", blas_floor, True)]
#: Time ratios of the comparison table: (row, row it is divided by).
RATIOS = [("TwoLayerMLP float32", "scikit-learn MLPClassifier float32"),
          ("TwoLayerMLP float32", "PyTorch eager float32"),
          ("TwoLayerMLP float64", "scikit-learn MLPClassifier float64")]


def run_benchmark(X_train, y_train, X_test, y_test, epochs, runs, torch,
                  busy=False):
    """Run every row ``runs`` times, interleaved (each run followed by one
    beside a busy process, with ``busy``); {row name: results}."""
    X = {"float64": (X_train, X_test),
         "float32": (X_train.astype(np.float32), X_test.astype(np.float32))}
    rows = {f"{system} {dtype}": dict(system=system, dtype=dtype, make=make,
                                      traced=traced, times=[], accuracy=[],
                                      busy_times=[])
            for system, dtype, make, traced in ROWS}
    if torch is None:
        rows["PyTorch eager float32"]["skipped"] = (
            "skipped: torch not installed")
    active = {name: row for name, row in rows.items() if "skipped" not in row}
    progress("warm-up (untimed)")
    for row in active.values():
        row["make"](X[row["dtype"]][0][:WARMUP_SAMPLES],
                    y_train[:WARMUP_SAMPLES], 1, torch)[0]()
    for run in range(1, runs + 1):
        for name, row in active.items():
            X_fit, X_eval = X[row["dtype"]]
            fit, predict = row["make"](X_fit, y_train, epochs, torch)
            row["times"].append(timed(fit))
            if predict is not None:                 # not for the floor
                row["accuracy"].append(np.mean(predict(X_eval) == y_test))
            progress(f"run {run}/{runs}: {name}: {row['times'][-1]:.2f} s")
            if busy:
                fit, _ = row["make"](X_fit, y_train, epochs, torch)
                with one_busy_process(True):
                    row["busy_times"].append(timed(fit))
                progress(f"run {run}/{runs}: {name}, one busy process: "
                         f"{row['busy_times'][-1]:.2f} s")
    progress("peak memory: one more, traced run of each NumPy-based row")
    for row in active.values():
        if row["traced"]:
            fit, _ = row["make"](X[row["dtype"]][0], y_train, epochs, torch)
            row["memory"] = peak_memory(fit)
    return rows


def format_report(rows, info, num_train, epochs, runs):
    """The Markdown report: header, one line per row, the comparisons."""
    def time_of(name, best, key="times"):   # the fastest or the median run
        times = rows[name][key]
        return min(times) if best else statistics.median(times)

    def efficiency(name, best):        # floor time / time, same dtype
        floor = time_of(f"{FLOOR} {rows[name]['dtype']}", best)
        return f"{floor / time_of(name, best):.2f}"

    table = []
    for name, row in rows.items():
        if "skipped" in row:
            table.append([row["system"], row["dtype"], row["skipped"]]
                         + ["—"] * 5)
            continue
        fastest = time_of(name, True)
        table.append([
            row["system"], row["dtype"], f"{fastest:.2f}",
            f"{time_of(name, False):.2f}",
            f"{num_train * epochs / fastest:,.0f}",
            f"{statistics.median(row['accuracy']):.4f}"
            if row["accuracy"] else "—",
            f"{row['memory'] / 1e6:.1f}" if row["traced"] else "n/a",
            "—" if row["system"] == FLOOR else efficiency(name, True)])
    comparisons = []
    for name, peer in RATIOS:
        cells = ([f"n/a ({rows[peer]['skipped']})"] * 2 if "skipped" in
                 rows[peer] else [f"{time_of(name, b) / time_of(peer, b):.2f}"
                                  for b in (True, False)])
        comparisons.append([f"time of {name} / time of {peer}"] + cells)
    for name in ("TwoLayerMLP float32", "TwoLayerMLP float64"):
        comparisons.append([f"efficiency of {name} (floor time / its time)",
                            efficiency(name, True), efficiency(name, False)])
    busy = busy_section(rows, time_of, RATIOS)
    return "\n".join([
        "# Training benchmark: TwoLayerMLP, scikit-learn, PyTorch", "",
        f"- Date: {info['date']}",
        f"- CPU: {info['cpu']}, {os.cpu_count()} logical cores",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, "
        f"torch {info['torch'] or 'not installed'}",
        f"- BLAS (NumPy's, from threadpoolctl): {info['blas']}",
        f"- Command: `{info['command']}`", "",
        f"MNIST, {num_train:,} training images, 784-{HIDDEN}-10 ReLU, batch "
        f"{BATCH}, learning rate {LEARNING_RATE:g}, L2 {REG:g} on the "
        f"weights, {epochs} epochs ({epochs * (num_train // BATCH):,} SGD "
        f"steps); {runs} interleaved run{'s' * (runs != 1)} per row, only "
        f"training timed. samples/s: fastest run. Test accuracy: median of "
        f"the runs. Peak memory: tracemalloc, in an extra run (n/a: PyTorch "
        f"is not traced). Efficiency: floor time / time, fastest runs.", "",
        markdown_table(["system", "dtype", "fastest (s)", "median (s)",
                        "samples/s", "test accuracy", "peak memory (MB)",
                        "efficiency"], table), "",
        markdown_table(["comparison", "fastest runs", "medians"],
                       comparisons), "", *busy])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description="Time training on MNIST: "
                                     "TwoLayerMLP, scikit-learn, PyTorch.")
    parser.add_argument("--runs", type=int, default=3,
                        help="interleaved runs per row (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EPOCHS} epochs instead of {EPOCHS}")
    parser.add_argument("--busy", action="store_true",
                        help="also time every run beside one busy process")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    try:
        import torch
    except ImportError:
        torch = None
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError, StopIteration), \
            open("/proc/cpuinfo", encoding="utf-8") as f:
        cpu = next(line.split(":", 1)[1].strip() for line in f
                   if line.startswith("model name"))
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    blas.sort(key=lambda lib: "numpy" not in lib["filepath"])  # not SciPy's
    blas = blas[0] if blas else dict(internal_api="not found", version="?",
                                     num_threads=1)
    if torch is not None:
        torch.set_num_threads(int(blas["num_threads"]))
    info = dict(date=datetime.datetime.now().astimezone().isoformat(
        timespec="seconds"), cpu=cpu, blas=f"{blas['internal_api']} "
        f"{blas['version']} ({blas.get('architecture', '?')} kernels, "
        f"{blas['num_threads']} threads)",
        torch=getattr(torch, "__version__", None),
        command=shlex.join(["python", sys.argv[0], *argv]))
    progress("loading MNIST")
    X_train, y_train, _, _, X_test, y_test = get_MNIST_data(
        num_training=50_000, num_validation=0, normalize="scale")
    epochs = QUICK_EPOCHS if args.quick else EPOCHS
    rows = run_benchmark(X_train, y_train, X_test, y_test, epochs, args.runs,
                         torch, busy=args.busy)
    print(format_report(rows, info, len(X_train), epochs, args.runs), end="")


if __name__ == "__main__":
    main()
