"""The instructor's edition: a student handout and an autograder, built from
the one solved source (``mlp.py`` and ``pset3.ipynb`` in the repository).

    python instructor/handout.py build OUT_DIR
    python instructor/handout.py grade SUBMISSION_DIR

``build`` writes ``OUT_DIR/student/`` (what students get) and
``OUT_DIR/grader/`` (what grading needs, hidden tests included). ``grade``
runs the public and the hidden tests against a student folder, each test in
a fresh Python process with a time limit, and prints the points per part.

The solved files mark what a student writes with nbgrader's solution
markers: ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in code, and the same
words inside HTML comments in the notebook's text, which render invisibly.
nbgrader's own preprocessors strip the notebook; ``mlp.py`` gets the same
treatment here, with a ``TODO`` and a ``NotImplementedError`` naming the
method in place of each region.
"""
import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEST_FILES = {"public": HERE / "test_public.py",
              "hidden": HERE / "test_hidden.py"}
TIME_LIMIT = 60       # seconds per test
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"

#: The automatically graded parts of Problem 2 (50 points): each test, from
#: the public or the hidden file, is worth the points next to it.
PARTS = [
    ("forward pass, ReLU and sigmoid (Q2.1, Q2.4)", [
        ("hidden", "test_forward_pass_relu", 5),
        ("hidden", "test_forward_pass_sigmoid", 5)]),
    ("softmax cross-entropy loss (Q2.1, Q2.4)", [
        ("public", "test_toy_loss_sigmoid", 2),
        ("public", "test_toy_loss_relu", 2),
        ("hidden", "test_loss_value_relu", 2),
        ("hidden", "test_loss_value_sigmoid", 2)]),
    ("backward pass (Q2.2, Q2.4)", [
        ("public", "test_gradients_sigmoid", 3),
        ("public", "test_gradients_relu", 3),
        ("hidden", "test_gradients_relu", 3),
        ("hidden", "test_gradients_sigmoid", 3)]),
    ("L2 penalty and its gradient (Q2.1, Q2.2)", [
        ("hidden", "test_l2_penalty_value", 3),
        ("hidden", "test_l2_penalty_gradient", 3)]),
    ("SGD update with learning-rate decay in train (Q2.3)", [
        ("public", "test_toy_training", 2),
        ("hidden", "test_sgd_steps", 3),
        ("hidden", "test_sgd_learning_rate_decay", 3)]),
    ("predict (Q2.5)", [
        ("hidden", "test_predict_takes_the_largest_score", 3),
        ("hidden", "test_predict_returns_integer_labels", 3)]),
]

#: Answers graded by hand: (what, nbgrader grade_id of the notebook cell).
MANUAL = [
    ("Problem 1: backpropagation by hand, Q1.1 to Q1.6 (30 points)",
     "problem1_answers"),
    ("Q2.7: sigmoid or ReLU? (short answer)", "q2_7_answer"),
    ("Problem 3: L2 and L1 regularisation, Q3.1 and Q3.2 (20 points)",
     "problem3_answers"),
]

STUDENT_README = """\
# Problem set 3: neural networks

Your job: complete `mlp.py` (every `TODO` with a `NotImplementedError`
below it) and answer the questions in `pset3.ipynb` (every "YOUR ANSWER
HERE", and every code cell that raises `NotImplementedError`). The module
docstring at the top of `mlp.py` gives the equations, with the shape of
every array.

    python -m pip install -r requirements.txt
    python -m pytest            # checks your mlp.py, method by method
    jupyter notebook pset3.ipynb

The tests compare your gradients with finite differences and your losses
with the reference values; a failure says which method is wrong and by how
much, and a method you have not written yet is reported as "not
implemented yet". `utils.py` (data loading, gradient checks, plots) and the
private `_checks.py` and `_mnist_files.py` behind it and `mlp.py` are
given: you do not need to change them.
"""

GRADER_README = """\
# Grader

    python handout.py grade SUBMISSION_DIR

runs `test_public.py` and `test_hidden.py` against the student's `mlp.py`
(each test in a fresh process, with a time limit) and prints the points
per part; the answers in the notebook are listed for grading by hand.
"""


# ---------------------------------------------------------------------------
# Building the handout
# ---------------------------------------------------------------------------

def _enclosing_name(lines, index):
    """``Class.method`` or ``function`` of the code around lines[index]."""
    indent = len(lines[index]) - len(lines[index].lstrip())
    names = []
    for line in reversed(lines[:index]):
        match = re.match(r"(\s*)(?:def|class) (\w+)", line)
        if match and len(match.group(1)) < indent:
            names.insert(0, match.group(2))
            indent = len(match.group(1))
            if indent == 0:
                break
    return ".".join(names) or "this module"


def student_source(text, keep=()):
    """Python source with each solution region (from a line starting with
    ``### BEGIN SOLUTION`` to one starting with ``### END SOLUTION``)
    replaced by a TODO comment (the words after ``BEGIN SOLUTION:``) and a
    NotImplementedError that names the method. Regions whose part (the
    words before the ``;``) is in ``keep`` stay solved, without markers.
    """
    lines, out, inside, kept = text.split("\n"), [], False, False
    for index, line in enumerate(lines):
        marker = line.strip()
        if marker.startswith(f"### {BEGIN}"):
            if inside:
                raise ValueError(f"line {index + 1}: nested {BEGIN}")
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            what = line.split(BEGIN, 1)[1].strip(" :")
            part, _, spec = what.partition(";")
            part = part.strip() or "this part"
            kept = part in keep
            if kept:
                continue
            where = _enclosing_name(lines, index)
            out.append(f"{indent}# TODO: {part}"
                       + (f" ({spec.strip()})." if spec.strip() else ".")
                       + f"\n{indent}# The equations are in the module docstring.")
            out.append(f"{indent}raise NotImplementedError(")
            out.append(f'{indent}    "{where}: {part} is not implemented yet")')
        elif marker.startswith(f"### {END}"):
            if not inside:
                raise ValueError(f"line {index + 1}: {END} without {BEGIN}")
            inside = False
        elif not inside or kept:
            out.append(line)
    if inside:
        raise ValueError(f"a {BEGIN} region is never closed")
    return "\n".join(out)


def student_notebook(path):
    """The notebook without solutions, outputs, appendix or discussion,
    by nbgrader's and nbconvert's preprocessors."""
    import nbformat
    from nbconvert.preprocessors import TagRemovePreprocessor
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = nbformat.read(path, as_version=4)
    steps = [
        TagRemovePreprocessor(
            remove_cell_tags={"appendix", "discussion", "solved-only"}),
        ClearSolutions(
            begin_solution_delimeter=BEGIN, end_solution_delimeter=END,
            code_stub={"python": "# YOUR CODE HERE\nraise NotImplementedError("
                                 '"not implemented yet: write this part")'},
            text_stub="YOUR ANSWER HERE"),
        ClearOutput(),
    ]
    resources = {}
    for step in steps:
        nb, resources = step.preprocess(nb, resources)
    return nb


def build(out_dir):
    import nbformat

    out_dir = Path(out_dir)
    student, grader = out_dir / "student", out_dir / "grader"
    for folder in (student, grader):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    (student / "mlp.py").write_text(student_source(
        (ROOT / "mlp.py").read_text()))
    for name in ("_checks.py", "utils.py", "_mnist_files.py",
                 "requirements.txt"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, student / name)
    nbformat.write(student_notebook(ROOT / "pset3.ipynb"),
                   student / "pset3.ipynb")
    shutil.copy(TEST_FILES["public"], student / "test_mlp.py")
    (student / "README.md").write_text(STUDENT_README)
    for source in (Path(__file__), *TEST_FILES.values()):
        shutil.copy(source, grader / source.name)
    (grader / "README.md").write_text(GRADER_README)
    return student, grader


# ---------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------

def run_one(submission, kind, name):
    """Run one test against the submission (in this fresh process) and
    print its outcome as one JSON line."""
    sys.path.insert(0, str(Path(submission).resolve()))
    try:
        spec = importlib.util.spec_from_file_location(f"grading_{kind}",
                                                      TEST_FILES[kind])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        getattr(module, name)()
        outcome = {"status": "passed", "message": ""}
    except NotImplementedError as error:
        outcome = {"status": "not implemented yet", "message": str(error)}
    except BaseException as error:   # a failed check, or any crash
        message = str(error).strip().split("\n")[0][:300]
        status = ("not implemented yet" if "not implemented yet" in message
                  else "failed" if isinstance(error, AssertionError)
                  or type(error).__name__ == "Failed" else "error")
        if status == "error":
            message = f"{type(error).__name__}: {message}"
            traceback.print_exc()
        outcome = {"status": status, "message": message}
    print(json.dumps(outcome))


def _run_in_subprocess(submission, kind, name):
    command = [sys.executable, str(Path(__file__).resolve()), "run-one",
               str(submission), kind, name]
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=TIME_LIMIT, cwd=submission,
                              env={**_clean_env(), "MPLBACKEND": "Agg"})
    except subprocess.TimeoutExpired:
        return {"status": "timed out", "message": f"over {TIME_LIMIT} s"}
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"status": "crashed",
            "message": f"exit code {done.returncode}: "
                       f"{done.stderr.strip()[-300:]}"}


def _clean_env():
    """The environment for a test process, without paths that could make it
    import something other than the submission."""
    return {key: value for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "PYTHONSTARTUP")}


def _manual_lines(submission):
    import nbformat

    path = Path(submission) / "pset3.ipynb"
    cells = {}
    if path.exists():
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id:
                cells[grade_id] = cell.source
    lines = []
    for what, grade_id in MANUAL:
        source = cells.get(grade_id)
        note = (" (no notebook)" if not path.exists()
                else " (answer missing)" if source is None
                else " (not answered yet)" if "YOUR ANSWER HERE" in source
                else "")
        lines.append(f"{what}: manual{note}")
    return lines


def grade(submission, verbose=False):
    """Grade a student folder; return the report lines."""
    submission = Path(submission).resolve()
    if not (submission / "mlp.py").is_file():
        raise SystemExit(f"error: {submission} holds no mlp.py; pass the "
                         f"folder with the student's mlp.py and pset3.ipynb")
    lines, earned_total, possible_total = [], 0, 0
    for part, tests in PARTS:
        earned = possible = 0
        for kind, name, points in tests:
            outcome = _run_in_subprocess(submission, kind, name)
            possible += points
            if outcome["status"] == "passed":
                earned += points
            elif verbose:
                lines.append(f"  {kind} {name}: {outcome['status']}: "
                             f"{outcome['message']}")
        lines.append(f"{part}: {earned} / {possible}")
        earned_total += earned
        possible_total += possible
    lines += _manual_lines(submission)
    lines.append(f"total: {earned_total} / {possible_total}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Build the student handout, or grade a submission.")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser(
        "build", help="write OUT_DIR/student and OUT_DIR/grader")
    build_command.add_argument("out_dir")
    grade_command = commands.add_parser(
        "grade", help="grade the student folder SUBMISSION_DIR")
    grade_command.add_argument("submission_dir")
    grade_command.add_argument("-v", "--verbose", action="store_true",
                               help="also say why each failed test failed")
    run_command = commands.add_parser("run-one", help=argparse.SUPPRESS)
    run_command.add_argument("submission_dir")
    run_command.add_argument("kind", choices=sorted(TEST_FILES))
    run_command.add_argument("name")
    args = parser.parse_args(argv)

    if args.command == "build":
        student, grader = build(args.out_dir)
        print(f"wrote {student} and {grader}")
    elif args.command == "grade":
        print("\n".join(grade(args.submission_dir, args.verbose)))
    else:
        run_one(args.submission_dir, args.kind, args.name)


if __name__ == "__main__":
    main()
