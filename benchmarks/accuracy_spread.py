"""How much do the MNIST accuracies of Q2.5 and Q2.6 move with the seeds?

Trains the notebook's configuration (784-64-10, std 0.1, 20 epochs of
minibatches of 100, learning rate 1e-3 decayed by 0.95, L2 with reg 0.5)
``--runs`` times per activation (default 6). Run k draws the initial
weights after ``np.random.seed(k)`` and shuffles with ``seed=k + 1``, so
run 0 is the notebook's own run. It prints the accuracies of every run and
the range of each column, the figures the notebook's comparison cites.

Usage, from any directory (MNIST from ``$MNIST_DATA_DIR`` or the cache)::

    python benchmarks/accuracy_spread.py [--runs N]
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlp import TwoLayerMLP  # noqa: E402
from utils import get_MNIST_data  # noqa: E402

SETTINGS = dict(learning_rate=1e-3, learning_rate_decay=0.95, reg=0.5,
                num_epochs=20, batch_size=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, got {args.runs}")
    X_train, y_train, X_val, y_val, X_test, y_test = get_MNIST_data()
    splits = ((X_train, y_train), (X_val, y_val), (X_test, y_test))
    print(f"{'':8}{'run':>4}{'train':>9}{'validation':>12}{'test':>9}")
    for activation in ("sigmoid", "relu"):
        accuracies = []
        for run in range(args.runs):
            np.random.seed(run)
            net = TwoLayerMLP(784, 64, 10, std=0.1, activation=activation)
            net.train(X_train, y_train, X_val, y_val, seed=run + 1,
                      **SETTINGS)
            accuracies.append([np.mean(net.predict(X) == y)
                               for X, y in splits])
            print(f"{activation:8}{run:>4}" + "".join(
                f"{a:>{w}.4f}" for a, w in zip(accuracies[-1], (9, 12, 9))),
                flush=True)
        low, high = np.min(accuracies, axis=0), np.max(accuracies, axis=0)
        print(f"{activation:8}range " + "  ".join(
            f"{a:.4f} to {b:.4f}" for a, b in zip(low, high)))


if __name__ == "__main__":
    main()
