"""The instructor's edition: a student handout and an autograder, built from
the one solved source (``mlp.py`` and ``pset3.ipynb`` in the repository).

    python instructor/handout.py build OUT_DIR
    python instructor/handout.py grade SUBMISSION_DIR [-v]
    python instructor/handout.py grade-class CLASS_DIR --out RESULTS_DIR [--jobs N]

``build`` writes ``OUT_DIR/student/`` (what students get) and
``OUT_DIR/grader/`` (what grading needs). ``grade`` grades one student's
folder and prints the points per question; ``grade-class`` grades every
subfolder of CLASS_DIR in parallel and writes ``grades.csv`` and one
feedback file per student. The student's code runs only inside a
bubblewrap sandbox and never sees the answers (``grading.py``); the checks
and their points are in ``questions.py``.

The solved files mark what a student writes with nbgrader's solution
markers: ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in code, and the same
words inside HTML comments in the notebook's text, which render invisibly.
nbgrader's own preprocessors strip the notebook; ``mlp.py`` gets the same
treatment here, with a ``TODO`` and a ``NotImplementedError`` naming the
method in place of each region.
"""
import argparse
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:          # grading.py and questions.py beside it
    sys.path.insert(0, str(HERE))

import grading  # noqa: E402

ROOT = HERE.parent
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
#: What OUT_DIR/grader/ holds besides ``given/`` (the handout's given files).
GRADER_FILES = ("handout.py", "grading.py", "questions.py", "reference.py",
                "sandbox.py", "sandbox_entry.py", "test_public.py")

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

The tests compare your gradients with finite differences of your own loss
and your losses with the reference values; a failure says which quantity
is wrong, by how much and, when it can tell, which mistake it looks like,
and a method you have not written yet is reported as "not implemented
yet". They carry no points: the grader runs its own checks, on other
problems. `utils.py` (data loading, gradient checks, plots) and the
private `_checks.py` and `_mnist_files.py` behind it and `mlp.py` are
given: you do not need to change them.
"""

GRADER_README = """\
# Grader

    python handout.py grade SUBMISSION_DIR [-v]
    python handout.py grade-class CLASS_DIR --out RESULTS_DIR [--jobs N]

Each student's `mlp.py` runs in a bubblewrap sandbox (install the
`bubblewrap` package) and only answers calls; `questions.py` holds the
checks and their points (45, one line per question of Problem 2; the 55
points of the written answers are graded by hand), `reference.py` the
reference formulas and the known mistakes the feedback names, which the
student's code never sees. `given/` holds the handout's given files, which every
submission is graded with. `grade-class` writes `grades.csv` (one row per
student, an empty column per hand-graded answer) and `feedback/<id>.txt`
(what the student may see).
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


def public_tests():
    """test_public.py, with the words the grader uses for each mistake
    written into its WORDS, so that both give the same diagnosis."""
    import pprint

    import reference

    source = (HERE / "test_public.py").read_text()
    line = "WORDS = {}  # filled in by handout.py build\n"
    if source.count(line) != 1:
        raise ValueError(f"test_public.py must hold the line {line!r} once")
    words = {name: m.words for name, m in reference.MISTAKES.items()}
    return source.replace(line, "WORDS = " + pprint.pformat(
        words, width=78, sort_dicts=True) + "\n")


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
    for name in (*grading.GIVEN_FILES, "requirements.txt"):
        shutil.copy(ROOT / name, student / name)
    nbformat.write(student_notebook(ROOT / "pset3.ipynb"),
                   student / "pset3.ipynb")
    (student / "test_mlp.py").write_text(public_tests())
    (student / "README.md").write_text(STUDENT_README)
    for name in GRADER_FILES:
        shutil.copy(HERE / name, grader / name)
    (grader / "given").mkdir()
    for name in grading.GIVEN_FILES:
        shutil.copy(student / name, grader / "given" / name)
    (grader / "README.md").write_text(GRADER_README)
    return student, grader


# ---------------------------------------------------------------------------
# Grading (grading.py does the work)
# ---------------------------------------------------------------------------

def grade(submission, verbose=False, limits=grading.Limits()):
    """Grade a student folder; return the report lines."""
    grading.require_sandbox(limits)
    return grading.grade_submission(submission, limits).lines(verbose)


def _limits(args):
    return grading.Limits(check_seconds=args.time_limit,
                          budget_seconds=args.budget,
                          sandbox=not args.no_sandbox)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Build the student handout, or grade submissions.")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser(
        "build", help="write OUT_DIR/student and OUT_DIR/grader")
    build_command.add_argument("out_dir")
    grade_command = commands.add_parser(
        "grade", help="grade the student folder SUBMISSION_DIR")
    grade_command.add_argument("submission_dir")
    grade_command.add_argument("-v", "--verbose", action="store_true",
                               help="also say why each failed check failed")
    class_command = commands.add_parser(
        "grade-class", help="grade every subfolder of CLASS_DIR (one per "
                            "student, named by the student's id)")
    class_command.add_argument("class_dir")
    class_command.add_argument("--out", required=True, metavar="RESULTS_DIR",
                               help="where grades.csv and feedback/ go")
    class_command.add_argument(
        "--jobs", type=int, default=None,
        help="submissions graded at once (default: the number of CPUs, "
             "fewer if memory is short)")
    defaults = grading.Limits()
    for command in (grade_command, class_command):
        command.add_argument(
            "--time-limit", type=float, default=defaults.check_seconds,
            metavar="SECONDS", help="wall time of one check (default "
                                    f"{defaults.check_seconds:g})")
        command.add_argument(
            "--budget", type=float, default=defaults.budget_seconds,
            metavar="SECONDS",
            help=f"wall time of all of one submission's checks (default "
                 f"{defaults.budget_seconds:g})")
        command.add_argument(
            "--no-sandbox", action="store_true",
            help="run without bubblewrap: for trusted code only, such as "
                 "the solution (every other defence stays)")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            student, grader = build(args.out_dir)
            print(f"wrote {student} and {grader}")
        elif args.command == "grade":
            if not Path(args.submission_dir).is_dir():
                parser.error(f"{args.submission_dir} is not a folder; pass "
                             f"the folder with the student's mlp.py and "
                             f"pset3.ipynb")
            print("\n".join(grade(args.submission_dir, args.verbose,
                                  _limits(args))))
        else:
            if args.jobs is not None and args.jobs < 1:
                parser.error(f"--jobs must be at least 1, got {args.jobs}")
            grading.grade_class(args.class_dir, args.out, args.jobs,
                                _limits(args))
    except grading.GraderError as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
