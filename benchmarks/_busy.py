"""What the benchmarks share: timing and tracing a call, one busy process
beside a measurement (``python -c "while True: pass"``, as a browser tab or
a second notebook would be), and bench_train.py's report of its ``--busy``
runs."""
import contextlib
import gc
import subprocess
import sys
import time
import tracemalloc


def peak_memory(fn):
    """Peak bytes allocated during ``fn()``, as tracemalloc sees them."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def timed(fit):
    gc.collect()
    start = time.perf_counter()
    fit()
    return time.perf_counter() - start


@contextlib.contextmanager
def one_busy_process(busy=True):
    """With ``busy``, one process spinning on a core while the block runs."""
    if not busy:
        yield
        return
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)                     # it is running
        yield
    finally:
        process.kill()
        process.wait()


def markdown_table(header, lines):
    rows = [header, ["---"] * len(header), *lines]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def busy_section(rows, time_of, ratios):
    """The report's lines on the runs beside a busy process (none if there
    were none)."""
    busy = [name for name, row in rows.items() if row.get("busy_times")]
    if not busy:
        return []
    table = []
    for name in busy:
        row = rows[name]
        table.append([row["system"], row["dtype"]] + [
            f"{time_of(name, best, 'busy_times'):.2f}" for best in (True, False)
        ] + [f"{time_of(name, best, 'busy_times') / time_of(name, best):.2f}"
             for best in (True, False)])
    comparisons = []
    for name, peer in ratios:
        if name in busy and peer in busy:
            ratios = [time_of(name, b, "busy_times")
                      / time_of(peer, b, "busy_times") for b in (True, False)]
            comparisons.append([f"time of {name} / time of {peer}, busy"]
                               + [f"{ratio:.2f}" for ratio in ratios])
    return ["## With one busy process beside each run", "",
            "Each timed run above was followed by one with `python -c "
            "\"while True: pass\"` running beside it. Busy / quiet: the "
            "row's busy time over its quiet time (fastest runs; medians).", "",
            markdown_table(["system", "dtype", "busy fastest (s)",
                            "busy median (s)", "busy / quiet, fastest",
                            "busy / quiet, medians"], table), "",
            markdown_table(["comparison", "fastest runs", "medians"],
                           comparisons), ""]
