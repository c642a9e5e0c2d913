"""Shared fixtures for the test suite.

Tests that need the real MNIST files ask for the ``mnist_dir`` fixture. It
points at ``$MNIST_DATA_DIR``; when that is missing the test is skipped,
unless ``$REQUIRE_MNIST`` is set (as it is in CI), in which case it fails,
so a CI run can never pass by silently skipping the data tests.
"""
import os
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

# Headless plotting for every test, before anything imports pyplot.
matplotlib.use("Agg")

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _has_mnist(folder):
    return all(
        (folder / name).is_file() or (folder / (name + ".gz")).is_file()
        for name in MNIST_FILES
    )


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the four MNIST IDX files, from $MNIST_DATA_DIR."""
    value = os.environ.get("MNIST_DATA_DIR")
    required = bool(os.environ.get("REQUIRE_MNIST"))
    if value and _has_mnist(Path(value)):
        return Path(value)
    reason = (
        "MNIST_DATA_DIR is not set" if not value
        else f"MNIST_DATA_DIR={value!r} does not hold the four MNIST files"
    )
    if required:
        pytest.fail(f"REQUIRE_MNIST is set but {reason}")
    pytest.skip(f"{reason}; set it to the folder with the MNIST IDX files")


# Hypothesis profiles, for the property-based tests. Both are deterministic
# (derandomize: the same examples on every run, so a failure always
# reproduces; no example database is read or written) and have no deadline
# (timings on shared machines vary). "ci" is loaded when $CI is set (e.g.
# CI=true), "dev" otherwise, with more examples for a broader local search.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=200, database=None,
    print_blob=True,
)
settings.register_profile("dev", settings.get_profile("ci"), max_examples=300)
settings.load_profile(
    "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false")
    else "dev"
)
