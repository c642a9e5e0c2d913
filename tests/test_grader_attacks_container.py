"""The red team of test_grader_attacks.py against container mode: the
grader as it runs on Gradescope and PrairieLearn, where bubblewrap cannot
create its namespaces. The grader's commands run under Docker's namespace
rules (tests/dockerlike.py), as root, with a Python every user may read
and no scikit-learn ($PSET3_CONTAINER_PYTHON; .ci/run makes one), and
choose container mode by themselves. Every attack must fail as it does
under bubblewrap; what bubblewrap adds is in docs/sandbox.md.
"""
import sys

import pytest

from test_grader_attacks import *  # noqa: F401,F403  (the same tests)
from test_grader_attacks import DOCKERLIKE, Mode


@pytest.fixture(scope="module")
def mode(container_python):
    return Mode("container mode", container_python,
                (sys.executable, str(DOCKERLIKE)))
