"""How far above the digits checks' threshold is the reference, draw by draw?

Q2.5 and Q2.6 draw a new digits problem for every submission (split,
permutations and initial weights; ``questions.digits_problem``). This
script draws ``--draws`` of them per activation, trains the solved
``mlp.py`` on each with the checks' settings (on this side, no sandbox),
and prints the test accuracies it reached and, for ReLU, how many of the
64 hidden units are still alive on the training digits at the end. A draw
below ``questions.PASS_ACCURACY`` would cost a correct submission its
points.

Usage, from any directory (about 0.15 s per draw and job)::

    python benchmarks/digits_draws.py [--draws 3000] [--jobs 2]
"""
import argparse
import concurrent.futures
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "instructor")]

import mlp  # noqa: E402
import questions  # noqa: E402


def train(activation, seed):
    """(test accuracy, hidden units alive) on draw ``seed``."""
    X, y, X_test, y_test, params = questions.digits_problem(
        np.random.RandomState(seed))
    net = mlp.TwoLayerMLP(64, questions.HIDDEN, 10, activation=activation)
    net.params = params
    with threadpool_limits(1):
        net.train(X, y, **questions.DIGITS,
                  learning_rate=questions.LEARNING_RATE[activation])
    hidden = X @ net.params["W1"] + net.params["b1"]
    alive = int(np.sum((hidden > 0).any(axis=0)))
    return float(np.mean(net.predict(X_test) == y_test)), alive


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=3000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.draws < 1 or args.jobs < 1:
        parser.error("--draws and --jobs must be at least 1")
    print(f"{args.draws} draws per activation; the points need "
          f"{questions.PASS_ACCURACY}\n")
    print("| activation | learning rate | lowest | 1st percentile | median "
          "| highest | below the threshold | hidden units alive, fewest "
          "/ median |")
    print("|---|---|---|---|---|---|---|---|")
    with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
        for activation in questions.LEARNING_RATE:    # each digits check's
            got = np.array(list(pool.map(
                train, [activation] * args.draws, range(args.draws),
                chunksize=50)))
            accuracy, alive = got[:, 0], got[:, 1]
            units = (f"{alive.min():.0f} / {np.median(alive):.0f}"
                     if activation == "relu" else "")
            print(f"| {activation} | {questions.LEARNING_RATE[activation]} "
                  f"| {accuracy.min():.3f} | {np.percentile(accuracy, 1):.3f} "
                  f"| {np.median(accuracy):.3f} | {accuracy.max():.3f} "
                  f"| {np.sum(accuracy < questions.PASS_ACCURACY)} "
                  f"| {units} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
