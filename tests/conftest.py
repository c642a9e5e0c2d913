"""Shared fixtures for the test suite.

Tests that grade student code in the sandbox ask for the ``sandbox``
fixture: it skips them, with the reason, where bubblewrap is missing or
cannot run, unless ``$REQUIRE_SANDBOX`` is set (as in CI), which makes that
a failure.

Tests of the grader's container mode ask for ``container_python``: they
need root and a Python for it, and are required by ``$REQUIRE_CONTAINER``.

Tests that need the real MNIST files ask for the ``mnist_dir`` fixture. It
finds MNIST where the library itself does: the folder in ``$MNIST_DATA_DIR``
when that is set, otherwise the per-user cache folder that
``get_MNIST_data()`` downloads into, when it already holds the four files
(nothing is ever downloaded for a test). When neither has them the test is
skipped, unless ``$REQUIRE_MNIST`` is set (as it is in CI), in which case it
fails, so a CI run can never pass by silently skipping the data tests.
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


def find_mnist():
    """(folder, None) with the MNIST files, or (None, why they were not found).

    ``MNIST_DATA_DIR`` wins when set; otherwise the cache folder of
    :func:`utils.mnist_cache_dir` is used if it already holds the four files.
    """
    from utils import mnist_cache_dir

    value = os.environ.get("MNIST_DATA_DIR")
    if value:
        if _has_mnist(Path(value)):
            return Path(value), None
        return None, f"MNIST_DATA_DIR={value!r} does not hold the four MNIST files"
    cache = mnist_cache_dir()
    if _has_mnist(cache):
        return cache, None
    return None, (f"MNIST_DATA_DIR is not set and the cache folder {cache} "
                  f"does not hold the four MNIST files")


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder holding the four MNIST IDX files (see the module docstring)."""
    folder, reason = find_mnist()
    if folder is not None:
        return folder
    if os.environ.get("REQUIRE_MNIST"):
        pytest.fail(f"REQUIRE_MNIST is set but {reason}")
    pytest.skip(f"{reason}; set MNIST_DATA_DIR to the folder with the MNIST "
                f"IDX files, or run get_MNIST_data() once to download them")


@pytest.fixture(scope="session")
def sandbox():
    """Skip (or, with $REQUIRE_SANDBOX, fail) unless bubblewrap can run the
    grader's sandbox on this machine."""
    import sandbox as sandbox_module      # instructor/, on pytest's path

    problem = sandbox_module.probe()
    if problem is None:
        return
    reason = (f"the grader's sandbox cannot run here ({problem}); install "
              f"bubblewrap (apt-get install bubblewrap)")
    if os.environ.get("REQUIRE_SANDBOX"):
        pytest.fail(f"REQUIRE_SANDBOX is set but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def container_python():
    """The grader's Python for container mode (the grader where bubblewrap
    cannot run, as on Gradescope): $PSET3_CONTAINER_PYTHON, a Python every
    user may read, with instructor/requirements-grader.txt's packages and
    no scikit-learn. Container mode runs as root. Skip (or, with
    $REQUIRE_CONTAINER, fail) where either is missing."""
    python = os.environ.get("PSET3_CONTAINER_PYTHON")
    reason = ("container mode needs root" if os.geteuid() != 0 else
              None if python else "PSET3_CONTAINER_PYTHON is not set")
    if reason is None:
        return python
    reason += "; make a container Python (see .ci/run)"
    if os.environ.get("REQUIRE_CONTAINER"):
        pytest.fail(f"REQUIRE_CONTAINER is set but {reason}")
    pytest.skip(reason)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one test process per core, and one more for the whole
    suite: the grader's tests spend much of their time waiting on the time
    limits of hostile submissions, which another process can use. The
    quick subset (``-m "not slow"``) has none of them."""
    cores = len(os.sched_getaffinity(0))
    quick = "not slow" in (config.getoption("markexpr") or "")
    return cores + 1 if cores > 1 and not quick else cores


# Hypothesis profiles, for the property-based tests. Both are deterministic
# (derandomize: the same examples on every run, so a failure always
# reproduces; no example database is read or written) and have no deadline
# (timings on shared machines vary). "ci" is loaded when $CI is set (e.g.
# CI=true), "dev" otherwise: the same 200 examples, so that the quick subset
# stays quick. For a broader search, pass --hypothesis-profile thorough.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=200, database=None,
    print_blob=True,
)
settings.register_profile("dev", settings.get_profile("ci"))
settings.register_profile("thorough", settings.get_profile("ci"),
                          max_examples=1000)
settings.load_profile(
    "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false")
    else "dev"
)


#: Words in the reasons of the skips above, and the one setting that runs
#: those tests.
SKIPPED_FOR_WANT_OF = {
    "set MNIST_DATA_DIR": ("the MNIST files", "set MNIST_DATA_DIR to the "
                           "folder with the four MNIST IDX files (or run "
                           "utils.get_MNIST_data() once to download them)"),
    "install bubblewrap": ("bubblewrap", "install bubblewrap "
                           "(apt-get install bubblewrap)"),
    "make a container Python": (
        "root and a Python for the grader's container mode", "as root, "
        "make a Python every user may read with the packages of "
        "instructor/requirements-grader.txt, and set PSET3_CONTAINER_PYTHON "
        "to it (.ci/run does)"),
}


@pytest.hookimpl(hookwrapper=True, tryfirst=True)   # around the summary
def pytest_terminal_summary(terminalreporter):
    """One closing line for each kind of test that did not run here for
    want of something a fresh machine may lack, and how to run them,
    instead of one line per test in the short summary (-ra). They still
    count in the final "N skipped"."""
    skipped = terminalreporter.stats.get("skipped", [])
    wanting = {words: [r for r in skipped if words in str(r.longrepr)]
               for words in SKIPPED_FOR_WANT_OF}
    held_back = {id(r) for reports in wanting.values() for r in reports}
    if held_back:
        terminalreporter.stats["skipped"] = [
            r for r in skipped if id(r) not in held_back]
    try:
        yield
    finally:
        if held_back:
            terminalreporter.stats["skipped"] = skipped
    for words, (what, how) in SKIPPED_FOR_WANT_OF.items():
        count = len(wanting[words])
        if count:
            terminalreporter.write_line(
                f"{count} test{'s' if count > 1 else ''} did not run for want "
                f"of {what}: {how} to run them.", yellow=True, bold=True)


#: The quick subset (``python -m pytest -m "not slow"``) leaves out whole
#: modules that run the notebook, build the handout or grade classes, and
#: every test that grades in the sandbox or needs the MNIST files.
SLOW_MODULES = {"test_notebook.py", "test_mutants.py", "test_grader_attacks.py",
                "test_grader_attacks_container.py",
                "test_handout.py", "test_bench_grading.py", "test_install.py",
                "test_mnist_error_in_a_notebook.py"}
SLOW_FIXTURES = {"sandbox", "mnist_dir", "container_python",
                 "platform"}     # test_platforms.py: sandbox or container


#: The test files that take longest (about 40 to 150 s each on 2 cores),
#: longest first. They are run first, so that the test processes finish
#: together instead of one of them running a long file alone at the end.
LONGEST_FIRST = ("test_mutants.py", "test_grader_attacks.py", "test_bench.py",
                 "test_grader_attacks_container.py", "test_notebook.py",
                 "test_handout.py", "test_grader.py", "test_platforms.py",
                 "test_class_workflow.py")


def pytest_collection_modifyitems(config, items):
    order = {name: rank for rank, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))
    for item in items:
        if item.path.name in SLOW_MODULES or \
                SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
