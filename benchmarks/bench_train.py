"""How fast does TwoLayerMLP train, next to scikit-learn, PyTorch and the BLAS?

Run from anywhere (MNIST is found through ``$MNIST_DATA_DIR``, as everywhere
in this project)::

    python benchmarks/bench_train.py              # the full benchmark
    python benchmarks/bench_train.py --quick      # 2 epochs instead of 20
    python benchmarks/bench_train.py > results.md

The report is Markdown on standard output; progress lines go to standard
error, so redirecting standard output gives a clean file.

What is measured
----------------
One workload, the same for every system: MNIST from
``get_MNIST_data(normalize='scale')`` (the first 50,000 training images,
pixels in [0, 1]), a 784-64-10 network with ReLU hidden units and softmax
cross-entropy, minibatch SGD with batches of 100 drawn from a fresh random
order every epoch, 20 epochs, a constant learning rate of 0.1, an L2 penalty
of 1e-4 on the weights (not the biases) and no momentum. The rows are

* ``TwoLayerMLP`` in float64 and in float32 (``mlp.py``);
* scikit-learn's ``MLPClassifier`` with the same settings, given float64
  and float32 input (the table shows the dtype of the weights it trained,
  read back from ``coefs_``);
* PyTorch eager mode on the CPU in float32 (Linear-ReLU-Linear,
  ``CrossEntropyLoss``, ``torch.optim.SGD``), only when torch can be
  imported: it is not a requirement of this project;
* a *floor* per dtype: the time of only the two large matrix products of
  every SGD step, ``X_batch @ W1`` (100x784 by 784x64) and
  ``X_batch.T @ dz1`` (784x100 by 100x64), repeated once per step (10,000
  times for 20 epochs) into preallocated outputs. Every implementation that
  uses NumPy's BLAS has to do at least this work, so no such implementation
  can be faster; ``efficiency = floor time / training time`` says how much
  of a row's time is spent on it;
* a *skeleton* per dtype: the floor plus the two other things every step
  of minibatch SGD in NumPy must do, gathering the shuffled minibatch rows
  of X into a buffer (``np.take``) and updating W1 in place
  (``W1 -= dW1``). Its efficiency bounds that of any NumPy implementation
  training on freshly shuffled minibatches on the machine: the gather
  reads scattered rows from main memory, and the update writes W1, which
  the other BLAS thread has just read.

Only the training call is timed (``train`` / ``fit`` / the PyTorch epoch
loop): not loading the data, building the model or scoring the test set.
TwoLayerMLP trains without a validation set (``X_val=None, y_val=None``),
so no per-epoch validation pass is included either. Each figure is the
median over ``--runs`` runs (default 3), each with a fresh model. The runs
are interleaved -- run 1 of every system, then run 2 of every system, ... --
in one process on the same arrays, so a slow spell of a shared machine
falls on all systems alike instead of on one of them; every system first
does one short untimed warm-up. Seeds are fixed, so the runs of a row train
the same model and reach the same test accuracy; the table gives the test
accuracy of the run with the median time and says whether all runs agreed.
The targets are judged on the medians; the comparison table also gives
each ratio for the fastest run of each system, the one least disturbed by
other virtual machines on a shared host.

Memory is the increase of the resident set size (RSS) during the training
call: free heap memory is handed back to the OS first (``malloc_trim``),
then the kernel's high-water mark is reset by writing ``5`` to
``/proc/self/clear_refs``, and afterwards ``VmHWM - VmRSS before`` is the
peak increase. Where that reset does not work, a background thread samples
the RSS every 2 ms instead (which can miss very short peaks); the report
says which method was used. The size of ``X_train`` is printed next to it,
so "training holds at most one extra copy of X" can be read off the table.

Making the settings equal
-------------------------
* Initial weights: TwoLayerMLP has one standard deviation for both layers,
  so TwoLayerMLP and PyTorch both draw every weight from N(0, 0.05**2) with
  zero biases (0.05 is close to the He value sqrt(2/784) of the first
  layer). scikit-learn cannot be given an initialisation and keeps its own
  (Glorot uniform); its accuracy is therefore not exactly comparable.
* L2 penalty: TwoLayerMLP adds ``0.5 * reg * sum(W**2)`` to the mean loss
  of a batch (gradient ``reg * W``). scikit-learn's ``_backprop`` adds
  ``0.5 * alpha * sum(W**2) / n_samples`` and its gradient
  ``alpha * W / n_samples``, where ``n_samples`` is the batch size, so the
  same penalty needs ``alpha = reg * batch_size`` (here 1e-4 * 100 = 0.01).
  PyTorch's ``weight_decay`` adds ``reg * W`` to the gradient, like ours; it
  is applied to the weights only, through a parameter group.
* scikit-learn must not stop early: ``tol=0``, ``n_iter_no_change`` larger
  than ``max_iter``, ``early_stopping=False``; the script checks that it
  ran every epoch. Its ConvergenceWarning at ``max_iter`` is expected and
  silenced around ``fit`` only.
* PyTorch gets as many threads (``torch.set_num_threads``) as NumPy's BLAS
  uses according to threadpoolctl. It multiplies with its own BLAS (MKL
  or oneDNN), not NumPy's, so the floor bounds it only loosely.
"""
import argparse
import contextlib
import ctypes
import ctypes.util
import datetime
import gc
import os
import platform
import statistics
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

# The repository root (the parent of benchmarks/) holds mlp.py and utils.py;
# putting it first on the path lets the script run from any directory.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np                                             # noqa: E402
import sklearn                                                 # noqa: E402
import threadpoolctl                                           # noqa: E402
from sklearn.exceptions import ConvergenceWarning              # noqa: E402
from sklearn.neural_network import MLPClassifier               # noqa: E402

from mlp import TwoLayerMLP                                    # noqa: E402
from utils import get_MNIST_data                               # noqa: E402

# ---------------------------------------------------------------------------
# The workload
# ---------------------------------------------------------------------------

INPUT_SIZE = 784
HIDDEN_SIZE = 64
NUM_CLASSES = 10
BATCH_SIZE = 100
EPOCHS = 20
QUICK_EPOCHS = 2
LEARNING_RATE = 0.1
REG = 1e-4
INIT_STD = 0.05
TRAIN_SIZE = 50_000
DEFAULT_RUNS = 3

MODEL_SEED = 0      # initial weights (TwoLayerMLP, PyTorch, scikit-learn)
SHUFFLE_SEED = 1    # order of the minibatches

#: Samples of the untimed warm-up run each system does first (one epoch).
WARMUP_SIZE = 1_000

#: Targets from the issue: (row key, peer key or None, bound, kind).
#: A ratio is TwoLayerMLP's time divided by the peer's (lower is better);
#: the efficiency is floor time / TwoLayerMLP time (higher is better).
TARGETS = (
    ("mlp32", "sk32", 0.55, "ratio"),
    ("mlp32", "torch32", 0.45, "ratio"),
    ("mlp64", "sk64", 0.6, "ratio"),
    ("mlp32", None, 0.5, "efficiency"),
)

MB = 1e6
DASH = "\u2014"
TORCH_MISSING = "skipped: torch not installed"


def progress(message):
    """Write one progress line to standard error (stdout is the report)."""
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------

def _cpu_model():
    """The "model name" line of /proc/cpuinfo, else what platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def numpy_blas_info():
    """threadpoolctl's record of the BLAS library that NumPy itself uses.

    Other packages (SciPy, for one) may load a BLAS of their own into the
    same process, so the record whose file lies in NumPy's package folder
    (or its bundled ``numpy.libs``) is chosen; failing that, the first BLAS
    found.

    Returns
    -------
    dict or None
        Keys as in ``threadpoolctl.threadpool_info()`` (``internal_api``,
        ``version``, ``num_threads``, ``architecture``, ``filepath``, ...),
        or None when no BLAS is found.
    """
    numpy_dir = os.path.realpath(os.path.dirname(np.__file__))
    homes = (numpy_dir + os.sep, numpy_dir + ".libs" + os.sep)
    blas = [lib for lib in threadpoolctl.threadpool_info()
            if lib.get("user_api") == "blas"]
    for lib in blas:
        if os.path.realpath(lib.get("filepath", "")).startswith(homes):
            return lib
    return blas[0] if blas else None


def _import_torch():
    """The torch module, or None when it cannot be imported."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def machine_info():
    """What the benchmark ran on, for the report's header.

    Returns
    -------
    dict
        ``date`` (ISO 8601, local time with offset), ``cpu`` (model name),
        ``cores`` (logical, ``os.cpu_count()``), ``platform``, ``python``,
        ``numpy``, ``blas`` (NumPy's BLAS as found by threadpoolctl: a
        dict, or None), ``sklearn`` and ``torch`` (version string, or None
        when torch is not installed).
    """
    torch = _import_torch()
    return {
        "date": datetime.datetime.now().astimezone().isoformat(
            timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": numpy_blas_info(),
        "sklearn": sklearn.__version__,
        "torch": torch.__version__ if torch is not None else None,
    }


def blas_threads():
    """Number of threads NumPy's BLAS uses (1 when it cannot be told)."""
    blas = numpy_blas_info()
    return int(blas["num_threads"]) if blas and blas.get("num_threads") else 1


class BackgroundLoad:
    """How much CPU time other processes took while this one ran.

    On a shared machine another process's work slows every row down, and
    a multithreaded BLAS suffers most (each product waits for its slowest
    thread). The share is (busy CPU time of the whole machine, from
    /proc/stat, including time stolen by the hypervisor, minus this
    process's own CPU time) / (wall time x logical cores): 0 on a quiet
    machine. None where /proc/stat cannot be read.
    """

    def __init__(self):
        self.start = self._snapshot()

    @staticmethod
    def _snapshot():
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = f.readline().split()
        except OSError:
            return None
        # user nice system idle iowait irq softirq steal ...
        ticks = [int(v) for v in fields[1:9]]
        busy = sum(ticks) - ticks[3] - ticks[4]
        own = os.times()
        return (time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"),
                own.user + own.system)

    def share(self):
        """Share of all CPUs used by other processes since construction."""
        end = self._snapshot()
        if self.start is None or end is None:
            return None
        wall, busy, own = (b - a for a, b in zip(self.start, end))
        if wall <= 0:
            return None
        return min(max((busy - own) / (wall * (os.cpu_count() or 1)), 0.0),
                   1.0)


# ---------------------------------------------------------------------------
# Peak memory
# ---------------------------------------------------------------------------

def _status_kib(field_name):
    """A ``kB`` field (e.g. VmRSS, VmHWM) of /proc/self/status, in KiB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field_name} field")


def _reset_high_water_mark():
    """Reset VmHWM to the current RSS (Linux >= 4.0, own process)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _libc_malloc_trim():
    """glibc's ``malloc_trim``, or None on other C libraries."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc.malloc_trim if libc is not None else None
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _libc_malloc_trim()


def release_free_memory():
    """Collect garbage and hand free heap pages back to the OS.

    Without this, memory that an earlier run freed but the allocator kept
    would count in "RSS before", and the next run could reuse it without
    its RSS growing: its peak increase would be understated.
    """
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _clear_refs_works():
    """Whether resetting the high-water mark works in this process.

    Touches 64 MB, frees it, resets the mark and checks that the mark
    dropped back below that peak.
    """
    try:
        block = np.ones(64 * 2**20 // 8)
        peak = _status_kib("VmHWM")
        del block
        release_free_memory()
        _reset_high_water_mark()
        return _status_kib("VmHWM") < peak - 32 * 1024
    except OSError:
        return False


class PeakMemory:
    """Peak RSS increase of this process while a block of code runs.

    The method is chosen once: ``'clear_refs'`` (exact: the kernel's
    high-water mark, reset before the block) when it works here, else
    ``'sampling'`` (a thread reading the RSS every ``interval`` seconds).

    Examples
    --------
    >>> meter = PeakMemory()
    >>> with meter.measure() as usage:            # doctest: +SKIP
    ...     work()
    >>> usage["increase"]                          # bytes  # doctest: +SKIP
    """

    def __init__(self, interval=0.002):
        self.interval = interval
        self.method = "clear_refs" if _clear_refs_works() else "sampling"

    @contextlib.contextmanager
    def measure(self):
        """Context manager; its dict gets ``increase`` (bytes) on exit."""
        usage = {}
        release_free_memory()
        before = _status_kib("VmRSS")
        if self.method == "clear_refs":
            _reset_high_water_mark()
            yield usage
            peak = _status_kib("VmHWM")
        else:
            samples = [before]
            stop = threading.Event()

            def sample():
                while not stop.wait(self.interval):
                    samples.append(_status_kib("VmRSS"))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                yield usage
            finally:
                stop.set()
                sampler.join()
            peak = max(samples + [_status_kib("VmRSS")])
        usage["increase"] = max(peak - before, 0) * 1024


# ---------------------------------------------------------------------------
# The systems
#
# Each ``*_trial`` function builds a fresh model (untimed) and returns a
# Trial: ``fit()`` is the call that is timed, ``evaluate(X_test, y_test)``
# scores the trained model afterwards.
# ---------------------------------------------------------------------------

@dataclass
class Trial:
    """One fresh model, ready to train.

    Attributes
    ----------
    fit : callable
        Trains the model; the only thing that is timed.
    evaluate : callable
        ``evaluate()`` -> (test accuracy or None, dtype name of the trained
        parameters), called after ``fit``.
    """

    fit: object
    evaluate: object


def _accuracy(predicted, y):
    return float(np.mean(np.asarray(predicted) == y))


def twolayer_trial(data, dtype, epochs):
    """TwoLayerMLP of the given dtype, trained without a validation set."""
    X, y, X_test, y_test = data.split(dtype)
    net = TwoLayerMLP(INPUT_SIZE, HIDDEN_SIZE, NUM_CLASSES, std=INIT_STD,
                      activation="relu", seed=MODEL_SEED, dtype=dtype)

    def fit():
        net.train(X, y, None, None, learning_rate=LEARNING_RATE,
                  learning_rate_decay=1.0, reg=REG, num_epochs=epochs,
                  batch_size=BATCH_SIZE, verbose=False, penalty="l2",
                  momentum=0.0, seed=SHUFFLE_SEED)

    def evaluate():
        return (_accuracy(net.predict(X_test), y_test),
                net.params["W1"].dtype.name)

    return Trial(fit, evaluate)


def sklearn_trial(data, dtype, epochs):
    """scikit-learn's MLPClassifier with TwoLayerMLP's settings.

    ``alpha = REG * BATCH_SIZE`` because scikit-learn divides its L2 term
    (and its gradient) by the number of samples in the batch, see the
    module docstring.
    """
    X, y, X_test, y_test = data.split(dtype)
    clf = MLPClassifier(
        hidden_layer_sizes=(HIDDEN_SIZE,), activation="relu", solver="sgd",
        alpha=REG * BATCH_SIZE, batch_size=BATCH_SIZE,
        learning_rate="constant", learning_rate_init=LEARNING_RATE,
        momentum=0.0, nesterovs_momentum=False, max_iter=epochs, tol=0.0,
        n_iter_no_change=epochs + 1, shuffle=True, random_state=MODEL_SEED,
        early_stopping=False, verbose=False,
    )

    def fit():
        with warnings.catch_warnings():
            # Reaching max_iter is the point here, not a problem.
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    def evaluate():
        if clf.n_iter_ != epochs:
            raise RuntimeError(f"MLPClassifier stopped after {clf.n_iter_} "
                               f"of {epochs} epochs; the timing is invalid")
        return _accuracy(clf.predict(X_test), y_test), clf.coefs_[0].dtype.name

    return Trial(fit, evaluate)


def torch_trial(data, dtype, epochs, torch):
    """PyTorch eager mode: Linear-ReLU-Linear, CrossEntropyLoss, SGD.

    The minibatches are gathered from tensors that share memory with the
    NumPy arrays (``torch.from_numpy``, no copy), in a fresh random order
    every epoch, as TwoLayerMLP does.
    """
    X, y, X_test, y_test = data.split(dtype)
    torch.manual_seed(MODEL_SEED)
    model = torch.nn.Sequential(
        torch.nn.Linear(INPUT_SIZE, HIDDEN_SIZE),
        torch.nn.ReLU(),
        torch.nn.Linear(HIDDEN_SIZE, NUM_CLASSES),
    ).to(getattr(torch, np.dtype(dtype).name))
    layers = (model[0], model[2])
    with torch.no_grad():
        for layer in layers:
            torch.nn.init.normal_(layer.weight, mean=0.0, std=INIT_STD)
            torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.SGD(
        [{"params": [layer.weight for layer in layers], "weight_decay": REG},
         {"params": [layer.bias for layer in layers], "weight_decay": 0.0}],
        lr=LEARNING_RATE, momentum=0.0)
    loss_fn = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    shuffler = torch.Generator().manual_seed(SHUFFLE_SEED)
    n = X_t.shape[0]
    steps = max(n // BATCH_SIZE, 1)

    def fit():
        model.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=shuffler)
            for step in range(steps):
                batch = order[step * BATCH_SIZE:(step + 1) * BATCH_SIZE]
                loss = loss_fn(model(X_t[batch]), y_t[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    def evaluate():
        model.eval()
        with torch.inference_mode():
            predicted = model(torch.from_numpy(X_test)).argmax(dim=1).numpy()
        return _accuracy(predicted, y_test), str(layers[0].weight.dtype)[6:]

    return Trial(fit, evaluate)


def _product_operands(rng, dtype, rows, dz1_scale):
    """W1 and dz1 (random, fixed) and the outputs z1 and dW1 of the two
    large products, for a minibatch of ``rows`` samples."""
    W1 = (INIT_STD * rng.standard_normal((INPUT_SIZE, HIDDEN_SIZE))
          ).astype(dtype)
    dz1 = (dz1_scale * rng.standard_normal((rows, HIDDEN_SIZE))).astype(dtype)
    z1 = np.empty((rows, HIDDEN_SIZE), dtype=dtype)
    dW1 = np.empty((INPUT_SIZE, HIDDEN_SIZE), dtype=dtype)
    return W1, dz1, z1, dW1


def _no_model(dtype):
    """``evaluate`` of a row that trains nothing: no accuracy."""
    return lambda: (None, np.dtype(dtype).name)


def floor_trial(data, dtype, epochs):
    """Only the two large products of every SGD step, into ``out=`` buffers.

    ``X_batch @ W1`` (forward) and ``X_batch.T @ dz1`` (the W1 gradient),
    once per step: ``epochs * (N // BATCH_SIZE)`` times. The operands are
    random and fixed; nothing else (gathering the batch, the small
    products, elementwise work, allocation) is timed.
    """
    iterations = epochs * max(data.num_train // BATCH_SIZE, 1)
    rng = np.random.default_rng(MODEL_SEED)
    X_batch = rng.random((BATCH_SIZE, INPUT_SIZE)).astype(dtype)
    W1, dz1, z1, dW1 = _product_operands(rng, dtype, BATCH_SIZE, 1.0)
    X_batch_T = X_batch.T

    def fit():
        for _ in range(iterations):
            np.matmul(X_batch, W1, out=z1)
            np.matmul(X_batch_T, dz1, out=dW1)

    return Trial(fit, _no_model(dtype))


def skeleton_trial(data, dtype, epochs):
    """The least work of a NumPy SGD step that gathers its minibatch.

    Every step draws the minibatch rows of the real ``X_train`` (shuffled
    once per epoch, as in training) into a preallocated buffer with one
    ``np.take``, does the two large products of the floor and subtracts
    the product ``dW1`` from ``W1`` in place. Every NumPy implementation
    of SGD on freshly shuffled minibatches has to do this work in some
    form, so floor time / this time bounds the efficiency it can reach on
    the machine. ``dz1`` is random and fixed (scaled so that W1 stays
    finite); nothing is learned.
    """
    X, _, _, _ = data.split(dtype)
    num_train = data.num_train
    batch_rows = min(BATCH_SIZE, num_train)
    steps_per_epoch = max(num_train // BATCH_SIZE, 1)
    rng = np.random.default_rng(MODEL_SEED)
    W1, dz1, z1, dW1 = _product_operands(rng, dtype, batch_rows, 1e-6)
    X_batch = np.empty((batch_rows, INPUT_SIZE), dtype=dtype)
    X_batch_T = X_batch.T
    shuffle = np.random.RandomState(SHUFFLE_SEED)

    def fit():
        for _ in range(epochs):
            order = shuffle.permutation(num_train)
            for it in range(steps_per_epoch):
                batch = order[it * BATCH_SIZE:(it + 1) * BATCH_SIZE]
                np.take(X, batch, axis=0, mode="clip", out=X_batch)
                np.matmul(X_batch, W1, out=z1)
                np.matmul(X_batch_T, dz1, out=dW1)
                np.subtract(W1, dW1, out=W1)

    return Trial(fit, _no_model(dtype))


@dataclass
class System:
    """A row of the table: what to run and how to label it."""

    key: str
    name: str
    dtype: type
    make_trial: object                 # (data, dtype, epochs) -> Trial
    is_floor: bool = False
    skipped: str = None                # reason, when it cannot run here


def systems(torch):
    """The rows of the table, in order (``torch`` may be None)."""
    if torch is not None:
        def torch_row(data, dtype, epochs):
            return torch_trial(data, dtype, epochs, torch)
    else:
        torch_row = None
    floor_name = "floor: X_batch @ W1 and X_batch.T @ dz1 only"
    skeleton_name = ("skeleton: the floor + minibatch gather + "
                     "W1 -= dW1")
    return [
        System("mlp64", "TwoLayerMLP", np.float64, twolayer_trial),
        System("mlp32", "TwoLayerMLP", np.float32, twolayer_trial),
        System("sk64", "scikit-learn MLPClassifier", np.float64,
               sklearn_trial),
        System("sk32", "scikit-learn MLPClassifier", np.float32,
               sklearn_trial),
        System("torch32", "PyTorch eager (CPU)", np.float32, torch_row,
               skipped=None if torch is not None else TORCH_MISSING),
        System("floor64", floor_name, np.float64, floor_trial,
               is_floor=True),
        System("floor32", floor_name, np.float32, floor_trial,
               is_floor=True),
        System("skeleton64", skeleton_name, np.float64, skeleton_trial),
        System("skeleton32", skeleton_name, np.float32, skeleton_trial),
    ]


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

class Data:
    """The training and test arrays, in float64 and in float32.

    Parameters
    ----------
    X : dict
        dtype -> (X_train, X_test) for float64 and float32.
    y_train, y_test : ndarray of int64

    Use :meth:`from_float64`: it casts the float64 arrays to float32 once,
    so every system trains on the same numbers and no conversion happens
    inside a timed call.
    """

    def __init__(self, X, y_train, y_test):
        self.X = {np.dtype(dtype): pair for dtype, pair in X.items()}
        self.y_train, self.y_test = y_train, y_test

    @classmethod
    def from_float64(cls, X_train, y_train, X_test, y_test):
        X = {np.float64: (X_train, X_test),
             np.float32: (X_train.astype(np.float32),
                          X_test.astype(np.float32))}
        return cls(X, y_train, y_test)

    @property
    def num_train(self):
        return self.y_train.shape[0]

    def split(self, dtype):
        """(X_train, y_train, X_test, y_test) with X of the given dtype."""
        X_train, X_test = self.X[np.dtype(dtype)]
        return X_train, self.y_train, X_test, self.y_test

    def head(self, n):
        """The first n training samples (views, no copy) and all tests."""
        X = {dtype: (X_train[:n], X_test)
             for dtype, (X_train, X_test) in self.X.items()}
        return Data(X, self.y_train[:n], self.y_test)

    def nbytes(self, dtype):
        """Size of X_train of the given dtype, in bytes."""
        return self.X[np.dtype(dtype)][0].nbytes


def load_data(train_size=TRAIN_SIZE):
    """MNIST scaled to [0, 1]: the first ``train_size`` training images and
    the 10,000 test images (no validation split is needed)."""
    X_train, y_train, _, _, X_test, y_test = get_MNIST_data(
        num_training=train_size, num_validation=0, num_test=10_000,
        normalize="scale", dtype=np.float64)
    return Data.from_float64(X_train, y_train, X_test, y_test)


@dataclass
class RowResult:
    """All runs of one row of the table."""

    system: System
    times: list = field(default_factory=list)          # seconds
    accuracies: list = field(default_factory=list)     # None: no model
    memory: list = field(default_factory=list)         # bytes
    load: list = field(default_factory=list)           # others' CPU share
    param_dtype: str = None                            # of the trained model

    @property
    def median_time(self):
        return statistics.median(self.times) if self.times else None

    @property
    def median_run(self):
        """Index of the run with the (lower) median time."""
        order = sorted(range(len(self.times)), key=self.times.__getitem__)
        return order[(len(order) - 1) // 2]

    @property
    def accuracy(self):
        """Test accuracy of the run with the median time, or None."""
        if not self.accuracies or self.accuracies[0] is None:
            return None
        return self.accuracies[self.median_run]


@dataclass
class Results:
    """Everything :func:`format_report` needs besides the machine info."""

    rows: list
    epochs: int
    runs: int
    num_train: int
    steps: int                 # SGD steps (and floor iterations) per run
    x_bytes: dict              # dtype name -> bytes of X_train
    memory_method: str
    threads: int
    seconds: float = 0.0       # wall time of the whole benchmark
    load: float = None         # others' CPU share over the whole benchmark

    def row(self, key):
        return next(r for r in self.rows if r.system.key == key)

    def _time(self, key, best):
        row = self.row(key)
        if not row.times:
            return None
        return min(row.times) if best else row.median_time

    def efficiency(self, key, best=False):
        """Floor time / time of a training row of the same dtype: of the
        median runs, or of the fastest runs when ``best``."""
        row = self.row(key)
        if row.system.is_floor or row.median_time is None:
            return None
        floor_key = "floor32" if row.system.dtype == np.float32 else "floor64"
        return self._time(floor_key, best) / self._time(key, best)

    def ratio(self, key, peer, best=False):
        """Time of one row divided by another's (median runs, or fastest
        runs when ``best``), or None."""
        a, b = self._time(key, best), self._time(peer, best)
        return a / b if a is not None and b is not None else None


def _one_run(row, trial, meter):
    """Time ``trial.fit`` under the memory meter; record into ``row``."""
    with meter.measure() as usage:
        load = BackgroundLoad()
        start = time.perf_counter()
        trial.fit()
        elapsed = time.perf_counter() - start
        others = load.share()
    accuracy, param_dtype = trial.evaluate()
    row.times.append(elapsed)
    row.accuracies.append(accuracy)
    row.memory.append(usage["increase"])
    row.load.append(others)
    row.param_dtype = param_dtype
    return elapsed, accuracy, others


def run_benchmarks(epochs=EPOCHS, runs=DEFAULT_RUNS, train_size=TRAIN_SIZE,
                   data=None):
    """Run every row ``runs`` times, interleaved, and collect the results.

    Parameters
    ----------
    epochs : int
        Passes over the training set per run (20 for the real benchmark).
    runs : int
        Runs per row; the report gives medians.
    train_size : int
        Training images used (the first ones of MNIST's training set).
    data : Data, optional
        Already loaded arrays (then ``train_size`` is ignored).

    Returns
    -------
    Results
    """
    begin = time.perf_counter()
    load = BackgroundLoad()
    torch = _import_torch()
    threads = blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    if data is None:
        progress(f"loading MNIST ({train_size} training images)")
        data = load_data(train_size)
    meter = PeakMemory()
    rows = [RowResult(system) for system in systems(torch)]
    active = [row for row in rows if row.system.skipped is None]

    progress("warming up every system (untimed)")
    warm = data.head(min(WARMUP_SIZE, data.num_train))
    for row in active:
        row.system.make_trial(warm, row.system.dtype, 1).fit()

    for run in range(1, runs + 1):
        for row in active:
            system = row.system
            trial = system.make_trial(data, system.dtype, epochs)
            elapsed, accuracy, others = _one_run(row, trial, meter)
            acc = "" if accuracy is None else f", test accuracy {accuracy:.4f}"
            busy = ("" if others is None
                    else f", other processes {100 * others:.0f}% of the CPUs")
            progress(f"run {run}/{runs}: {system.name} "
                     f"{np.dtype(system.dtype).name}: {elapsed:.2f} s{acc}"
                     f"{busy}")

    return Results(
        rows=rows, epochs=epochs, runs=runs, num_train=data.num_train,
        steps=epochs * max(data.num_train // BATCH_SIZE, 1),
        x_bytes={np.dtype(dt).name: data.nbytes(dt)
                 for dt in (np.float64, np.float32)},
        memory_method=meter.method, threads=threads,
        seconds=time.perf_counter() - begin, load=load.share(),
    )


# ---------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------

def _markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value, spec):
    return DASH if value is None else format(value, spec)


def format_table(results):
    """The main Markdown table: one row per system.

    Columns: system, dtype (of the trained parameters; of the operands for
    the floor), median training time, fastest and slowest run (a wide
    range means the machine was noisy), training samples per second, test
    accuracy, median peak RSS increase in MB and as a multiple of the size
    of X_train in that dtype, and efficiency (floor time / time).
    """
    header = ["system", "dtype", "train time (s)", "range (s)", "samples/s",
              "test accuracy", "peak RSS increase (MB)", "\u00f7 size of X",
              "efficiency"]
    lines = []
    for row in results.rows:
        system = row.system
        dtype = row.param_dtype or np.dtype(system.dtype).name
        if system.skipped:
            lines.append([system.name, dtype, system.skipped]
                         + [DASH] * (len(header) - 3))
            continue
        time_s = row.median_time
        samples = results.num_train * results.epochs / time_s
        memory = statistics.median(row.memory)
        x_size = results.x_bytes[np.dtype(system.dtype).name]
        efficiency = None if system.is_floor else results.efficiency(
            system.key)
        lines.append([
            system.name, dtype, f"{time_s:.2f}",
            f"{min(row.times):.2f}\u2013{max(row.times):.2f}",
            f"{samples:,.0f}",
            _fmt(row.accuracy, ".4f"), f"{memory / MB:.1f}",
            f"{memory / x_size:.2f}", _fmt(efficiency, ".2f"),
        ])
    return _markdown_table(header, lines)


def format_targets(results):
    """The second table: time ratios and the floor efficiency, with targets.

    The verdict is that of the medians; the ratio of the fastest runs is
    given next to it, because on a shared machine the fastest run of each
    system is the one least disturbed by others.
    """
    names = {"mlp32": "TwoLayerMLP float32", "mlp64": "TwoLayerMLP float64",
             "sk32": "scikit-learn float32", "sk64": "scikit-learn float64",
             "torch32": "PyTorch float32"}
    lines = []
    for key, peer, bound, kind in TARGETS:
        if kind == "ratio":
            what = f"time of {names[key]} / time of {names[peer]}"
            skipped = results.row(peer).system.skipped
            value, best = ((None, None) if skipped else
                           (results.ratio(key, peer),
                            results.ratio(key, peer, best=True)))
            target = f"\u2264 {bound:g}"
            met = value is not None and value <= bound
        else:
            skipped = None
            what = f"efficiency of {names[key]} (floor time / its time)"
            value = results.efficiency(key)
            best = results.efficiency(key, best=True)
            target = f"\u2265 {bound:g}"
            met = value is not None and value >= bound
        if value is None:
            verdict = f"n/a ({skipped})" if skipped else "n/a"
        else:
            verdict = "met" if met else "not met"
        lines.append([what, _fmt(value, ".2f"), _fmt(best, ".2f"), target,
                      verdict])
    return _markdown_table(["comparison", "value (medians)",
                            "fastest runs", "target", "result"], lines)


def _plural(count, noun):
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _blas_text(blas):
    if blas is None:
        return "not found by threadpoolctl"
    return (f"{blas.get('internal_api')} {blas.get('version')} "
            f"({blas.get('architecture', '?')} kernels, "
            f"{_plural(blas.get('num_threads'), 'thread')}; threadpoolctl)")


#: Share of the CPUs that other processes may take during a timed run
#: before the report warns that its timings are inflated.
BUSY_LIMIT = 0.10
#: Shorter runs are left out of that check: /proc/stat counts in clock
#: ticks (10 ms), too coarse for them.
BUSY_MIN_SECONDS = 1.0


def _load_text(results):
    """A note on the CPU use of other processes, and a warning or None."""
    if results.load is None:
        return "The CPU use of other processes could not be measured.", None
    worst, where = max(
        ((share, row) for row in results.rows
         for share, seconds in zip(row.load, row.times)
         if share is not None and seconds >= BUSY_MIN_SECONDS),
        default=(0.0, None), key=lambda t: t[0])
    text = (f"Other processes used {100 * results.load:.0f}% of the CPUs "
            f"during the benchmark")
    if where is not None:
        text += (f", at most {100 * worst:.0f}% during one timed run of at "
                 f"least {BUSY_MIN_SECONDS:g} s ({where.system.name}, "
                 f"{np.dtype(where.system.dtype).name})")
    text += " (from /proc/stat, including time stolen by the hypervisor)."
    warning = None
    if worst > BUSY_LIMIT:
        warning = (f"**Warning: the machine was busy** (other processes took "
                   f"up to {100 * worst:.0f}% of the CPUs during a timed "
                   f"run); these timings are inflated and not for claims. "
                   f"Run again on a quiet machine.")
    return text, warning


def format_report(info, results):
    """The whole Markdown report: header, both tables and the notes."""
    torch_text = (f"{info['torch']} ({_plural(results.threads, 'thread')}, "
                  f"set to match NumPy's BLAS)" if info["torch"]
                  else "not installed")
    runs_note = ("" if results.runs >= 3 else
                 " (fewer than 3 runs: a smoke test, not for claims)")
    agree = [row.system.name + " " + (row.param_dtype or "")
             for row in results.rows
             if row.accuracies and row.accuracies[0] is not None
             and len(set(row.accuracies)) > 1]
    agree_text = ("identical in all runs of every row" if not agree else
                  "differed between runs for: " + ", ".join(agree))
    memory_text = {
        "clear_refs": "kernel high-water mark reset through "
                      "/proc/self/clear_refs (exact)",
        "sampling": "RSS sampled every 2 ms (clear_refs did not work here; "
                    "may miss short peaks)",
    }[results.memory_method]
    x64, x32 = results.x_bytes["float64"], results.x_bytes["float32"]
    load_text, busy_warning = _load_text(results)

    parts = ["# Training benchmark: TwoLayerMLP, scikit-learn, PyTorch", ""]
    if busy_warning:
        parts += [busy_warning, ""]
    parts += [
        f"- Date: {info['date']}",
        f"- CPU: {info['cpu']}, {info['cores']} logical cores "
        f"({info['platform']})",
        f"- Python {info['python']}, NumPy {info['numpy']}, "
        f"BLAS: {_blas_text(info['blas'])}",
        f"- scikit-learn {info['sklearn']}, PyTorch {torch_text}",
        "",
        f"Workload: MNIST (`get_MNIST_data(normalize='scale')`), "
        f"{results.num_train:,} training images, "
        f"{INPUT_SIZE}-{HIDDEN_SIZE}-{NUM_CLASSES} ReLU network, "
        f"batch {BATCH_SIZE}, {results.epochs} epochs "
        f"({results.steps:,} SGD steps), learning rate {LEARNING_RATE:g} "
        f"constant, L2 {REG:g} on the weights, no momentum. "
        f"Each figure is the median of {results.runs} "
        f"run{'s' if results.runs != 1 else ''}{runs_note}, runs interleaved "
        f"across systems in one process.",
        "",
        format_table(results),
        "",
        format_targets(results),
        "",
        "Notes:",
        "",
        "- Train time is the training call only (no data loading, model "
        "building or scoring); TwoLayerMLP trains with `X_val=None, "
        "y_val=None`, so no validation pass is timed. samples/s = "
        f"{results.num_train:,} x {results.epochs} / train time. Range: "
        f"the fastest and the slowest run; a wide range means the machine "
        f"was noisy (other virtual machines on the same host do not show "
        f"in the load figure below).",
        f"- Test accuracy (10,000 test images) is that of the run with the "
        f"median time; it was {agree_text}.",
        "- Initial weights: N(0, 0.05\u00b2) and zero biases for "
        "TwoLayerMLP and PyTorch; scikit-learn keeps its own Glorot "
        f"initialisation. scikit-learn's alpha = {REG * BATCH_SIZE:g} "
        f"(= reg x batch size, because it divides its L2 term by the batch "
        f"size); PyTorch's weight_decay = {REG:g} on the weights only.",
        f"- Floor: {results.steps:,} x (`X_batch @ W1` + `X_batch.T @ dz1`) "
        f"with NumPy's BLAS into preallocated outputs; efficiency = floor "
        f"time / train time of the same dtype. PyTorch multiplies with its "
        f"own BLAS, so the floor bounds it only loosely.",
        f"- Skeleton: the floor's two products plus, every step, gathering "
        f"a shuffled minibatch of X_train with `np.take` and the in-place "
        f"`W1 -= dW1`: work that every NumPy SGD on freshly shuffled "
        f"minibatches does in some form, so its efficiency bounds theirs "
        f"on this machine.",
        f"- Peak RSS increase: during the training call, over the RSS just "
        f"before it; {memory_text}. For scale, X_train is "
        f"{x64 / MB:.1f} MB in float64 and {x32 / MB:.1f} MB in float32; "
        f"'\u00f7 size of X' divides the increase by the size of X_train in "
        f"the row's dtype.",
        f"- {load_text}",
        f"- The whole benchmark took {results.seconds:.0f} s "
        f"(including loading, warm-up and scoring).",
    ]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _train_size(text):
    value = _positive_int(text)
    if not BATCH_SIZE <= value <= 60_000:
        raise argparse.ArgumentTypeError(
            f"must be between {BATCH_SIZE} (one batch) and 60000 (all of "
            f"MNIST's training images), got {value}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Time training of TwoLayerMLP against scikit-learn, "
                    "PyTorch and the BLAS floor on MNIST; prints Markdown "
                    "to stdout (progress to stderr).")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_EPOCHS} epochs instead of {EPOCHS} "
                             f"(a smoke test; timings not for claims)")
    parser.add_argument("--runs", type=_positive_int, default=DEFAULT_RUNS,
                        help=f"runs per row, the report gives medians "
                             f"(default {DEFAULT_RUNS})")
    parser.add_argument("--train-size", type=_train_size, default=TRAIN_SIZE,
                        help=f"training images to use (default {TRAIN_SIZE})")
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="limit NumPy's BLAS (through threadpoolctl) and "
                             "PyTorch to this many threads (default: leave "
                             "the BLAS as it is and give PyTorch the same "
                             "number)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the benchmark and print the Markdown report; returns 0.

    Missed targets are reported in the table, never turned into a failing
    exit status.
    """
    args = parse_args(argv)
    epochs = QUICK_EPOCHS if args.quick else EPOCHS
    with contextlib.ExitStack() as stack:
        if args.threads is not None:
            stack.enter_context(threadpoolctl.threadpool_limits(
                limits=args.threads, user_api="blas"))
        info = machine_info()
        results = run_benchmarks(epochs=epochs, runs=args.runs,
                                 train_size=args.train_size)
    sys.stdout.write(format_report(info, results))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
