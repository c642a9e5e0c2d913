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
from feedback import and_join

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
    lines.append(f"Graded by hand later, not in this score: {hand} "
                 f"({grading.MANUAL_POINTS} points).")
    lines.append("Each check is public (one of the handout's test_mlp.py, "
                 "which you can run) or hidden (a problem drawn for your "
                 "submission, which the feedback describes without its "
                 "numbers).")
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


def could_not_grade(form):
    """The results.json of a grading that could not run at all (no
    sandbox here, say): the submission is not to blame. Why is for the
    staff, in the grader's own output (see handout.py)."""
    message = ("The autograder could not run on the grading machine. This "
               "is not a problem with your submission: tell your "
               "instructor, who can see why in the autograder's output.")
    if form == "prairielearn":
        return {"gradable": False, "score": 0.0, "message": message,
                "output": message, "tests": []}
    return {"score": 0.0, "execution_time": 0, "output": message,
            "output_format": "text", "visibility": GRADESCOPE_VISIBILITY,
            "stdout_visibility": GRADESCOPE_STDOUT, "tests": []}


# ---------------------------------------------------------------------------
# The Gradescope package: OUT/gradescope/autograder.zip
# ---------------------------------------------------------------------------

#: What grading needs in the grader's Python (see the file).
GRADER_REQUIREMENTS = (Path(__file__).resolve().parent
                       / "requirements-grader.txt")

#: Installs what grading needs, as root, on an Ubuntu or Debian image:
#: Gradescope runs it once when it builds the autograder's image, and the
#: PrairieLearn image's Dockerfile runs it too. Its argument: the grader's
#: requirements file.
SETUP_SH = """\
#!/usr/bin/env bash
# As root, on Ubuntu or Debian: Python, bubblewrap, setpriv, and the
# grader's packages in a Python of their own, /opt/pset3-grader, which
# every user may read (the sandboxed code runs as another user) and which
# holds no scikit-learn.
set -euo pipefail
REQUIREMENTS="${1:-/autograder/source/grader/requirements.txt}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv \\
    bubblewrap libseccomp2 util-linux
umask 022
python3 -m venv /opt/pset3-grader
/opt/pset3-grader/bin/pip install --no-cache-dir -r "$REQUIREMENTS"
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

#: What the two packages' READMEs say of the sandbox.
SANDBOX_NOTE = """\
## The sandbox

The platforms grade in containers, where bubblewrap cannot create its
namespaces: the grader then runs in container mode. As root, it first
makes its own folder unreadable to other users, then runs each
submission's code as a uid of its own, with the same resource limits and
system-call filter as under bubblewrap. What container mode cannot hide
(the container's files that every user may read, its process list) is in
`docs/sandbox.md` of the project's repository, and the grader's output,
which the platforms show to staff only, repeats it: the container must
hold nothing secret but the grader's folder. The results say only which
sandbox ran.

The grader holds its secret, from which the hidden problems are drawn:
keep the package as private as the solution. Where grading cannot run at
all, the student reads that it is not their doing (0 points on Gradescope:
grade again once it is fixed) and the grader's output says why.

Grading a correct submission takes about 2 s, and no process of it uses
more than 50 MB (measured in container mode); a submission's processes
may each take up to 2 GiB of address space, so on a small container the
kernel may end one of them, which then costs that submission its check.
"""

#: The questions graded by hand, one line each, as a README's list.
HAND_GRADED = "\n".join(f"   - {question} {what}: {points} points"
                        for question, what, points, _ in questions.MANUAL)


def question_span(names):
    """The questions in words: "Q2.1 to Q2.6 and Q2.8" (three or more
    numbered one after the other are a span)."""
    runs = []
    for name in names:
        head, _, number = name.rpartition(".")
        last = runs[-1][-1].rpartition(".") if runs else None
        if last and last[0] == head and number.isdigit() \
                and last[2].isdigit() and int(number) == int(last[2]) + 1:
            runs[-1].append(name)
        else:
            runs.append([name])
    words = []
    for run in runs:
        words += [f"{run[0]} to {run[-1]}"] if len(run) > 2 else run
    return and_join(words)


#: The automatically graded questions, and their points.
AUTOMATIC = question_span(list(questions.QUESTIONS))
AUTOMATIC_POINTS = sum(points for _, points in questions.QUESTIONS.values())
TOTAL_POINTS = AUTOMATIC_POINTS + grading.MANUAL_POINTS

GRADESCOPE_README = f"""\
# The autograder for Gradescope

1. Create a programming assignment worth {TOTAL_POINTS} points, and upload
   `autograder.zip` as its autograder ("Configure Autograder", base image
   Ubuntu 22.04). The autograder's tests are worth {AUTOMATIC_POINTS} \
points: one test per
   automatically graded question ({AUTOMATIC}), with the feedback of its
   checks, and a summary.
2. Students submit two files, named exactly `mlp.py` and `pset3.ipynb`,
   at the top level (not inside a folder or a zip of a folder). Where
   `mlp.py` is not found, the summary lists what was, for 0 points.
3. The other {grading.MANUAL_POINTS} points are graded by hand on the
   submitted notebook: create them as questions of their own beside the
   autograder:

{HAND_GRADED}

`setup.sh` installs Python, bubblewrap and the packages of
`grader/requirements.txt` in `/opt/pset3-grader`; `run_autograder` grades
`/autograder/submission` (or `$AUTOGRADER_ROOT/submission`) and writes
`/autograder/results/results.json`.

{SANDBOX_NOTE}"""

#: Run by PrairieLearn for every submission, as root, in the grader image.
RUN_PRAIRIELEARN = """\
#!/usr/bin/env bash
# PrairieLearn runs this for every submission, as root, in the image built
# from image/Dockerfile: grade $ROOT/student, write $ROOT/results/results.json.
ROOT="${GRADE_ROOT:-/grade}"
PYTHON="${PSET3_PYTHON:-/opt/pset3-grader/bin/python}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$ROOT/results"
exec "$PYTHON" "$HERE/grader/handout.py" grade "$ROOT/student" \\
    --format prairielearn --results "$ROOT/results/results.json"
"""

DOCKERFILE = """\
# The image PrairieLearn grades problem set 3 in: build it, push it to a
# registry PrairieLearn can pull from, and name it in
# questions/pset3/info.json ("image").
FROM ubuntu:22.04
COPY setup.sh requirements.txt /tmp/pset3/
RUN bash /tmp/pset3/setup.sh /tmp/pset3/requirements.txt && rm -rf /tmp/pset3
"""

QUESTION_HTML = f"""\
<pl-question-panel>
  <p>Upload your <code>mlp.py</code> and your notebook
  <code>pset3.ipynb</code>. Questions {AUTOMATIC} are graded
  automatically when you submit; the written answers in the notebook are
  graded by hand later.</p>
</pl-question-panel>

<pl-file-upload file-names="mlp.py, pset3.ipynb"></pl-file-upload>

<pl-submission-panel>
  <pl-external-grader-results></pl-external-grader-results>
  <pl-file-preview></pl-file-preview>
</pl-submission-panel>
"""

PRAIRIELEARN_README = f"""\
# The autograder for PrairieLearn

1. Build the grader's image from `image/` (`docker build --platform
   linux/amd64 -t REGISTRY/pset3-grader image/`), push it to a registry
   your PrairieLearn can pull from (see PrairieLearn's documentation on
   external grading), write its name as `"image"` in
   `questions/pset3/info.json`, and sync the course so the image is pulled.
2. Copy `serverFilesCourse/pset3_grader/` into the course's
   `serverFilesCourse/` (`run.sh` must stay executable) and
   `questions/pset3/` into its `questions/`. `serverFilesCourse` is never
   sent to students; it holds the grader.
3. Add the question to an assessment with {AUTOMATIC_POINTS} automatic and
   {grading.MANUAL_POINTS} manual points, for example a zone entry
   `{{"id": "pset3", "autoPoints": {AUTOMATIC_POINTS}, "manualPoints":
   {grading.MANUAL_POINTS}}}` in `infoAssessment.json`. The manual points are
   graded on the submitted notebook:

{HAND_GRADED}

Students upload both files (`mlp.py` and `pset3.ipynb`) with every
submission. Each submission gets one test per automatically graded
question ({AUTOMATIC}) with the feedback of its checks; a submission
without `mlp.py` is not gradable (the attempt does not count). `run.sh`
grades `/grade/student` (or `$GRADE_ROOT/student`) and writes
`/grade/results/results.json`.

{SANDBOX_NOTE}"""


def _info_json():
    import json
    import uuid

    return json.dumps({
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "pset3-two-layer-mlp")),
        "title": "Problem set 3: a two-layer network in NumPy",
        "topic": "Neural networks",
        "tags": ["pset3"],
        "type": "v3",
        "singleVariant": True,
        "gradingMethod": "External",
        "externalGradingOptions": {
            "enabled": True,
            "image": "REGISTRY/pset3-grader",
            "serverFilesCourse": ["pset3_grader/"],
            "entrypoint": "/grade/serverFilesCourse/pset3_grader/run.sh",
            "timeout": 180,
        },
    }, indent=2) + "\n"


def _write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def write_gradescope(out_dir, grader):
    """Write out_dir/autograder.zip (setup.sh, run_autograder, README.md and
    the grader folder) and out_dir/README.md; return the zip's Path."""
    import zipfile

    out_dir = Path(out_dir)
    _write(out_dir / "README.md", GRADESCOPE_README)
    path = out_dir / "autograder.zip"
    executable, plain = 0o100755 << 16, 0o100644 << 16
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text, mode in (("setup.sh", SETUP_SH, executable),
                                 ("run_autograder", RUN_AUTOGRADER, executable),
                                 ("README.md", GRADESCOPE_README, plain),
                                 ("grader/requirements.txt",
                                  GRADER_REQUIREMENTS.read_text(), plain)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = mode
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        for file in sorted(Path(grader).rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                archive.write(file, "grader/" + file.relative_to(
                    grader).as_posix())
    return path


def write_prairielearn(out_dir, grader):
    """Write out_dir: README.md, image/ (the grader's Docker image),
    serverFilesCourse/pset3_grader/ (run.sh, the entry point, and the
    grader folder) and questions/pset3/ (info.json, question.html)."""
    import shutil

    out_dir = Path(out_dir)
    _write(out_dir / "README.md", PRAIRIELEARN_README)
    _write(out_dir / "image" / "Dockerfile", DOCKERFILE)
    _write(out_dir / "image" / "setup.sh", SETUP_SH, 0o755)
    _write(out_dir / "image" / "requirements.txt",
           GRADER_REQUIREMENTS.read_text())
    served = out_dir / "serverFilesCourse" / "pset3_grader"
    _write(served / "run.sh", RUN_PRAIRIELEARN, 0o755)
    shutil.copytree(grader, served / "grader", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    question = out_dir / "questions" / "pset3"
    _write(question / "info.json", _info_json())
    _write(question / "question.html", QUESTION_HTML)
    return out_dir
