"""One submission's grading as the results file of a grading platform.

``gradescope(report)`` is the dictionary Gradescope's autograder writes to
``/autograder/results/results.json``; ``prairielearn(report)`` the one
PrairieLearn's external grader writes to ``/grade/results/results.json``.
Both hold one test per automatically graded question (its points, and the
feedback of its checks as the student's report shows it with ``-v``) and a
short summary naming the questions graded by hand, which each platform
grades apart: on Gradescope as questions of their own, on PrairieLearn as
manually graded points. Nothing here runs student code: a Report (see
grading.py) holds only what the trusted side decided and wrote.
"""
from pathlib import Path

import grading
import questions

#: What a student's feedback on Gradescope shows, and when: the tests and
#: the summary at once; the grader's own output (stdout) never.
GRADESCOPE_VISIBILITY, GRADESCOPE_STDOUT = "visible", "hidden"


def summary(report):
    """A few lines: the notes, the automatic total, the questions graded by
    hand and what the notebook holds for them."""
    earned, possible = report.total()
    manual = dict(report.manual)
    hand = ", ".join(question for question, _, _, _ in questions.MANUAL)
    lines = [f"note: {note}" for note in report.notes]
    lines.append(f"Graded automatically: {earned} / {possible} points.")
    lines.append(f"Graded by hand, apart from this total: {hand} "
                 f"({grading.MANUAL_POINTS} points).")
    lines += [f"{question}: {manual[question]}"
              for question, _, _, _ in questions.MANUAL if manual.get(question)]
    if report.sandbox:
        lines.append(f"Sandbox: {report.sandbox}.")
    return lines


def gradescope(report):
    """Gradescope's results.json for one submission, as a dictionary."""
    tests = []
    for question, what, earned, possible, results in report.questions():
        tests.append({
            "name": f"{question} {what}",
            "number": question[1:],
            "score": float(earned),
            "max_score": float(possible),
            "status": "passed" if earned == possible else "failed",
            "output": "\n".join(r.line() for r in results),
            "visibility": GRADESCOPE_VISIBILITY,
            "tags": [question],
        })
    earned, _ = report.total()
    return {
        "score": float(earned),
        "execution_time": max(0, round(report.seconds)),
        "output": "\n".join(summary(report)),
        "output_format": "text",
        "visibility": GRADESCOPE_VISIBILITY,
        "stdout_visibility": GRADESCOPE_STDOUT,
        "tests": tests,
    }


def prairielearn(report):
    """PrairieLearn's results.json for one submission, as a dictionary.
    A submission without an mlp.py to grade is not gradable: PrairieLearn
    then shows the message and does not count the attempt."""
    earned, possible = report.total()
    tests = [{
        "name": f"{question} {what}",
        "description": f"{what} ({points} points)",
        "points": float(got),
        "max_points": float(points),
        "message": "\n".join(r.line() for r in results),
        "output": "",
    } for question, what, got, points, results in report.questions()]
    lines = summary(report)
    return {
        "gradable": report.graded,
        "score": earned / possible,
        "message": " ".join(lines[:len(report.notes) + 1]),
        "output": "\n".join(lines),
        "tests": tests,
    }


def could_not_grade(form, problem):
    """The results.json of a grading that could not run at all (no
    sandbox here, say): the submission is not to blame, and the message
    says what the grader's machine lacks."""
    message = (f"The autograder could not run: {problem}. This is not a "
               f"problem with your submission: tell your instructor.")
    if form == "prairielearn":
        return {"gradable": False, "score": 0.0, "message": message,
                "output": message, "tests": []}
    return {"score": 0.0, "execution_time": 0, "output": message,
            "output_format": "text", "visibility": GRADESCOPE_VISIBILITY,
            "stdout_visibility": GRADESCOPE_STDOUT, "tests": []}


# ---------------------------------------------------------------------------
# The Gradescope package: OUT/gradescope/autograder.zip
# ---------------------------------------------------------------------------

#: What grading needs in the grader's Python, which the sandboxed code sees
#: too (NumPy, threadpoolctl, matplotlib). No scikit-learn: the digits
#: travel with the grader (grader/digits.npz), and in a container, where
#: the sandbox can read every package of this Python, a sandbox must not
#: find them there.
GRADER_REQUIREMENTS = """\
numpy>=1.24
threadpoolctl>=3.1
matplotlib>=3.7
nbformat>=5.9
pyseccomp>=0.1.2
"""

#: Run once by Gradescope, as root, when it builds the autograder's image.
SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, on its Ubuntu base image: what
# grading needs, in a Python of its own outside the grader's folder.
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv \\
    bubblewrap libseccomp2 util-linux
python3 -m venv /opt/pset3-grader
/opt/pset3-grader/bin/pip install --no-cache-dir \\
    -r /autograder/source/grader/requirements.txt
"""

#: Run by Gradescope for every submission, as root.
RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, as root: grade the files in
# $ROOT/submission and write $ROOT/results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${PSET3_PYTHON:-/opt/pset3-grader/bin/python}"
mkdir -p "$ROOT/results"
exec "$PYTHON" "$ROOT/source/grader/handout.py" grade "$ROOT/submission" \\
    --format gradescope --results "$ROOT/results/results.json"
"""

GRADESCOPE_README = """\
# The autograder for Gradescope

Upload `autograder.zip` as a programming assignment's autograder
("Configure Autograder", base image Ubuntu 22.04). Students submit two
files, `mlp.py` and `pset3.ipynb`. Each submission gets one test per
automatically graded question (Q2.1 to Q2.6, 45 points) with the feedback
of its checks, and a summary.

The other 55 points are graded by hand: create them as questions of their
own beside the autograder (Q1.1 to Q1.6, 5 points each; Q2.7, 5 points;
Q3.1 and Q3.2, 10 points each), graded on the submitted notebook.

`setup.sh` installs Python, bubblewrap and the packages of
`grader/requirements.txt` (in `/opt/pset3-grader`, a Python every user may
read, without scikit-learn); `run_autograder` grades
`/autograder/submission` (or `$AUTOGRADER_ROOT/submission`). Gradescope's
containers cannot create the namespaces bubblewrap needs, so the grader
runs there in container mode: as root, it runs each submission's code as
a uid of its own with the same limits and system-call filter, after
making its own folder unreadable to other users; the summary of every
result says which sandbox ran. The zip holds the grader's secret, from
which the hidden problems are drawn: keep it as private as the solution.
"""


def write_gradescope(out_dir, grader):
    """Write out_dir/autograder.zip (setup.sh, run_autograder, README.md and
    the grader folder) and out_dir/README.md; return the zip's Path."""
    import zipfile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "README.md").write_text(GRADESCOPE_README)
    path = out_dir / "autograder.zip"
    executable, plain = 0o100755 << 16, 0o100644 << 16
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text, mode in (("setup.sh", SETUP_SH, executable),
                                 ("run_autograder", RUN_AUTOGRADER, executable),
                                 ("README.md", GRADESCOPE_README, plain),
                                 ("grader/requirements.txt",
                                  GRADER_REQUIREMENTS, plain)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = mode
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        for file in sorted(Path(grader).rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                archive.write(file, "grader/" + file.relative_to(
                    grader).as_posix())
    return path
