"""The red team of test_grader_attacks.py against container mode: the
grader as it runs on Gradescope and PrairieLearn, where bubblewrap cannot
create its namespaces. The grader's commands run under Docker's namespace
rules (tests/dockerlike.py), as root, with a Python every user may read
and no scikit-learn ($PSET3_CONTAINER_PYTHON; .ci/run makes one), and
choose container mode by themselves. Every attack must fail as it does
under bubblewrap; what bubblewrap adds is in docs/sandbox.md.
"""
import os
import sys

import pytest

from test_grader_attacks import *  # noqa: F401,F403  (the same tests)
from test_grader_attacks import DOCKERLIKE, Mode


@pytest.fixture(scope="module")
def mode():
    python = os.environ.get("PSET3_CONTAINER_PYTHON")
    reason = ("container mode needs root" if os.geteuid() != 0 else
              None if python else
              "PSET3_CONTAINER_PYTHON is not set (a Python every user may "
              "read, with the packages of instructor/requirements-grader.txt "
              "and without scikit-learn; .ci/run makes one)")
    if reason:
        if os.environ.get("REQUIRE_SANDBOX"):
            pytest.fail(f"REQUIRE_SANDBOX is set but {reason}")
        pytest.skip(reason)
    return Mode("container mode", python, (sys.executable, str(DOCKERLIKE)))
