"""How long does grading a class take, sandbox included?

Builds the handout, makes a class of ``--copies`` submissions (default 100),
each the student folder with the solved ``mlp.py`` (every check of a correct
submission runs to the end), and times the instructor's command

    python instructor/handout.py grade-class CLASS --out RESULTS --jobs J

for each J of ``--jobs`` (default 1 and 2), the runs of the different J
interleaved, ``--runs`` times each (default 3). It prints a Markdown table
of the fastest and the median wall time per J, the time per submission
and the speed-up over the first J. Each run checks that every submission
got full points. The sandboxed processes start with a clean environment,
so no OpenBLAS setting of the caller's reaches them.

Usage, from any directory::

    python benchmarks/bench_grading.py [--copies N] [--jobs 1 2] [--runs N] [--no-sandbox]
"""
import argparse
import csv
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDOUT = ROOT / "instructor" / "handout.py"


def progress(message):
    print(message, file=sys.stderr, flush=True)


def make_class(folder, copies):
    """folder/student (the built handout) and folder/class/s000 ... with the
    solved mlp.py in each."""
    subprocess.run([sys.executable, str(HANDOUT), "build",
                    str(folder / "built")], check=True, capture_output=True)
    student = folder / "built" / "student"
    class_dir = folder / "class"
    for index in range(copies):
        submission = class_dir / f"s{index:03d}"
        shutil.copytree(student, submission)
        shutil.copy(ROOT / "mlp.py", submission / "mlp.py")
    return class_dir


def grade_class(class_dir, results, jobs, sandbox):
    """Wall time of one grade-class run; checks that all got full points."""
    shutil.rmtree(results, ignore_errors=True)
    command = [sys.executable, str(HANDOUT), "grade-class", str(class_dir),
               "--out", str(results), "--jobs", str(jobs)]
    if not sandbox:
        command.append("--no-sandbox")
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    with open(results / "grades.csv", newline="") as f:
        totals = [row["total"] for row in csv.DictReader(f)]
    if totals != ["45"] * len(totals) or not totals:
        raise SystemExit(f"a submission lost points: {totals}")
    return seconds


def report(times, copies, runs, sandbox):
    first = min(times[next(iter(times))])
    lines = [
        f"Grading {copies} copies of the solution with `grade-class`, "
        f"{runs} runs per row, interleaved; "
        f"{'in the bubblewrap sandbox' if sandbox else 'without the sandbox'}"
        f"; {datetime.date.today()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| jobs | fastest (s) | median (s) | per submission, fastest (s) "
        "| speed-up over the first row (fastest) |",
        "|---|---|---|---|---|"]
    for jobs, seconds in times.items():
        fastest = min(seconds)
        lines.append(f"| {jobs} | {fastest:.1f} | "
                     f"{statistics.median(seconds):.1f} | "
                     f"{fastest / copies:.3f} | {first / fastest:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=100)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args(argv)
    if args.copies < 1 or args.runs < 1 or min(args.jobs) < 1:
        parser.error("--copies, --runs and --jobs must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        progress(f"building the handout and {args.copies} submissions")
        class_dir = make_class(tmp, args.copies)
        times = {jobs: [] for jobs in args.jobs}
        for run in range(1, args.runs + 1):
            for jobs in args.jobs:
                seconds = grade_class(class_dir, tmp / "results", jobs,
                                      not args.no_sandbox)
                times[jobs].append(seconds)
                progress(f"run {run}/{args.runs}, {jobs} jobs: "
                         f"{seconds:.1f} s")
    print(report(times, args.copies, args.runs, not args.no_sandbox))


if __name__ == "__main__":
    main()
