"""The instructor's edition: a student handout and an autograder, built from
the one solved source (``mlp.py`` and ``pset3.ipynb`` in the repository).

    python instructor/handout.py build OUT_DIR
    python instructor/handout.py grade SUBMISSION_DIR [-v]
    python instructor/handout.py grade-class CLASS_DIR --out RESULTS_DIR [--jobs N]
    python instructor/handout.py intake DOWNLOAD --out CLASS_DIR [--platform P]
    python instructor/handout.py export RESULTS_DIR --canvas GRADEBOOK.csv
    python instructor/handout.py export RESULTS_DIR --moodle WORKSHEET.csv

``build`` writes ``OUT_DIR/student/`` (what students get) and
``OUT_DIR/grader/`` (what grading needs). ``grade`` grades one student's
folder and prints the points per question; ``grade-class`` grades every
subfolder of CLASS_DIR in parallel and writes ``grades.csv`` and one
feedback file per student. The student's code runs only inside a
bubblewrap sandbox and never sees the answers (``grading.py``); the checks
and their points are in ``questions.py``. ``intake`` makes CLASS_DIR from
a learning platform's download of the submissions (``intake.py``), and
``export`` writes the totals of grades.csv into the platform's own
gradebook file, for it to import (``gradebook.py``).

The solved files mark what a student writes with nbgrader's solution
markers: ``### BEGIN SOLUTION`` / ``### END SOLUTION`` in code, and the same
words inside HTML comments in the notebook's text, which render invisibly.
nbgrader's own preprocessors strip the notebook; ``mlp.py`` gets the same
treatment here, with a ``TODO`` and a ``NotImplementedError`` naming the
method in place of each region.
"""
import argparse
import json
import re
import shutil
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:          # grading.py and questions.py beside it
    sys.path.insert(0, str(HERE))

import class_report  # noqa: E402
import grading  # noqa: E402
import platforms  # noqa: E402

ROOT = HERE.parent
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
#: What OUT_DIR/grader/ holds besides ``given/`` (the handout's given files).
GRADER_FILES = ("handout.py", "grading.py", "questions.py", "feedback.py",
                "class_report.py",
                "reference.py", "sandbox.py", "sandbox_entry.py",
                "student_ids.py", "test_public.py", "platforms.py",
                "toy.py", "intake.py", "gradebook.py")

STUDENT_README = """\
# Problem set 3: neural networks

You write two things:

* the parts of `mlp.py` marked `TODO`: the network's forward pass, loss,
  backward pass and penalty, its training and its prediction;
* the answers in `pset3.ipynb`: every "YOUR ANSWER HERE" and every code
  cell with `# YOUR CODE HERE`.

    python -m pip install -r requirements.txt
    python -m pytest            # checks the parts of mlp.py written so far
    jupyter notebook pset3.ipynb

Write `mlp.py` in the order of the problem set and run `python -m pytest`
after each part. A test of a part you have not written yet says "... is
not implemented yet", naming the first such part; a test of a wrong part
fails with one line: which quantity is wrong, by how much and, when it
can tell, which mistake it looks like. The tests carry no points: the
grader runs its own checks, on other problems.

`utils.py` (loading MNIST, the gradient check, the plots) and the
`_checks.py`, `_threads.py` and `_mnist_files.py` it and `mlp.py` use are
given. The grader uses its own copies of these four files, so change only
`mlp.py` and the notebook.
"""

GRADER_README = """\
# Grader

    python handout.py grade SUBMISSION_DIR [-v]
    python handout.py grade-class CLASS_DIR --out RESULTS_DIR [--jobs N]
    python handout.py intake DOWNLOAD --out CLASS_DIR [--platform P]
    python handout.py export RESULTS_DIR --canvas GRADEBOOK.csv
    python handout.py export RESULTS_DIR --moodle WORKSHEET.csv

Each student's `mlp.py` runs in a bubblewrap sandbox (install the
`bubblewrap` package; in a container, where bubblewrap cannot run, the
grader as root runs it as a uid of its own, with a Python every user may
read and no scikit-learn, as the Gradescope and PrairieLearn packages that
the build writes beside this folder install it) and
only answers calls, each check in a fresh
process with the reference's code (`solved_mlp.py`) set in for the parts
it does not judge. `questions.py` holds the checks and their points (one
line per automatically graded question; the written answers are graded by
hand), `feedback.py` how answers are compared and described,
`reference.py` the reference formulas and the known mistakes the feedback
names. The hidden problems are drawn from `secret` (made by this build;
keep it from students) and the submitted file. `given/` holds the
handout's given files, which every submission is graded with.
`grade-class` writes `grades.csv` (one row per student, an empty column per
hand-graded answer) and `feedback/<id>.txt` (what the student may see).
`intake` makes CLASS_DIR, one folder per student, from a Canvas, Moodle or
Gradescope download of the submissions (`intake.py`; CLASS_DIR/intake.csv
says where each file of the download went); `export` fills the totals into
the gradebook file Canvas or Moodle exported, as RESULTS_DIR/canvas.csv or
moodle.csv to import (`gradebook.py`).
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


#: The sentence of mlp.py's docstring for readers of the solved file, and
#: what the student's copy says in its place.
SOLVED_NOTE = """ The code between the
``### BEGIN`` and ``### END`` solution markers is what a student writes in
the problem set (``instructor/handout.py`` builds that version).
"""
STUDENT_NOTE = """

Your part is every ``TODO`` below. Write them in the problem set's order
(the forward pass, the cross-entropy, the backward pass, the penalty, then
train and predict) and run ``python -m pytest`` after each: the tests check
every part as soon as it is written. Until the backward pass is written,
``loss`` returns the loss with gradients of None, and the gradient check and
``train`` say so.
"""

#: What the student's mlp.py says in place of each solution region of the
#: solved one, by part (the words after ``BEGIN SOLUTION:`` and before the
#: ``;``): the TODO, then the code that stands in until the part is written
#: (None: a NotImplementedError naming the method and the part).
TODOS = {
    "ReLU": ("max(z, 0), elementwise, of the shape of z", None),
    "ReLU's derivative": (
        "1 where h > 0, else 0, from the output h = relu(z)", None),
    "the sigmoid": ("1 / (1 + exp(-z)), elementwise, without overflow for "
                    "any z (see the docstring)", None),
    "the sigmoid's derivative": (
        "d sigmoid / dz, written from the output h = sigmoid(z) alone", None),
    "the L2 penalty": ("0.5 * the sum of the squares of the entries of W, "
                       "a float", None),
    "the L2 penalty's gradient": ("the gradient of l2_value, an array of "
                                  "the shape of W", None),
    "log-softmax": ("log(softmax(scores)) of each row, (N, C), without "
                    "overflow for any scores", None),
    "the forward pass": ("z1 and hidden (N, H), then scores (N, C), as in "
                         "the module docstring", None),
    "the cross-entropy": (
        "the mean over the N rows of -log softmax(scores)[i, y_i], with "
        "log_softmax", None),
    "the backward pass": (
        "dscores, dW2, db2, dhidden, dz1, dW1 and db1 of the module "
        "docstring, without the penalty. Until they are written, loss "
        "returns the loss with gradients of None.",
        "dW1 = db1 = dW2 = db2 = None"),
    "the penalty": (
        "the loss plus reg * (penalty_value(W1) + penalty_value(W2)), and "
        "grads with reg * penalty_gradient(W) added to the gradients of W1 "
        "and W2 (a new dict). loss calls this only when reg > 0.", None),
    "the update": (
        "new_params, a dict with the new value of each parameter: plain SGD, "
        "or classical momentum if momentum > 0 (see the docstring)", None),
    "the decay of the learning rate": (
        "multiply learning_rate by learning_rate_decay", None),
    "predict": ("return the most likely class of each row of X, an int64 "
                "array of shape (N,)", None),
}


def _todo(indent, part, where):
    """The lines that stand in the student's file for the region of part."""
    if part not in TODOS:
        raise ValueError(f"no TODO for the solution region {part!r}: add "
                         f"one to handout.TODOS")
    todo, stub = TODOS[part]
    lines = textwrap.wrap(f"TODO: {part}: {todo}", 79 - len(indent) - 4)
    out = [f"{indent}# {lines[0]}"] + [f"{indent}#   {line}"
                                       for line in lines[1:]]
    if stub is None:
        stub = (f"raise NotImplementedError(\n"
                f"    \"{where}: {part} is not implemented yet\")")
    out += [indent + line for line in stub.format(where=where).split("\n")]
    return out


def student_source(text, keep=()):
    """Python source with each solution region (from a line starting with
    ``### BEGIN SOLUTION`` to one starting with ``### END SOLUTION``)
    replaced by its TODO from :data:`TODOS` and the code that stands in for
    it, and the docstring's note on the markers by :data:`STUDENT_NOTE`.
    Regions whose part (the words before the ``;``) is in ``keep`` stay
    solved, without markers.
    """
    if text.count(SOLVED_NOTE) != 1:
        raise ValueError(f"mlp.py's docstring must hold {SOLVED_NOTE!r} "
                         f"once, the note that the handout replaces")
    text = text.replace(SOLVED_NOTE, STUDENT_NOTE)
    lines, out, inside, kept = text.split("\n"), [], False, False
    for index, line in enumerate(lines):
        marker = line.strip()
        if marker.startswith(f"### {BEGIN}"):
            if inside:
                raise ValueError(f"line {index + 1}: nested {BEGIN}")
            inside = True
            indent = line[:len(line) - len(line.lstrip())]
            part = line.split(BEGIN, 1)[1].strip(" :").partition(";")[0]
            part = part.strip() or "this part"
            kept = part in keep
            if not kept:
                out += _todo(indent, part, _enclosing_name(lines, index))
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
    """The notebook without solutions, outputs, execution times, appendix
    or discussion, by nbgrader's and nbconvert's preprocessors."""
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
    for cell in nb.cells:              # the solved run's timestamps
        cell.metadata.pop("execution", None)
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
    import reference

    out_dir = Path(out_dir)
    missing = [name for name in ("mlp.py", "pset3.ipynb", *grading.GIVEN_FILES)
               if not (ROOT / name).is_file()]
    if missing:
        raise grading.GraderError(
            f"build makes the handout from the solved files, and "
            f"{ROOT} has no {', '.join(missing)}: run the repository's "
            f"instructor/handout.py build (a built grader folder can grade, "
            f"not build)")
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
    # The reference's parts, set in for the parts a check does not judge,
    # and the secret the hidden problems are drawn from: the grader's alone.
    shutil.copy(ROOT / "mlp.py", grader / grading.SOLVED_NAME)
    grading.write_secret(grader / grading.SECRET_NAME)
    reference.save_digits(grader / reference.DIGITS_NAME)
    (grader / "given").mkdir()
    for name in grading.GIVEN_FILES:
        shutil.copy(student / name, grader / "given" / name)
    (grader / class_report.STATEMENTS_JSON).write_text(json.dumps(
        class_report.question_texts(ROOT / "pset3.ipynb"), indent=1))
    (grader / "README.md").write_text(GRADER_README)
    platforms.write_gradescope(out_dir / "gradescope", grader)
    platforms.write_prairielearn(out_dir / "prairielearn", grader)
    return student, grader


# ---------------------------------------------------------------------------
# Grading (grading.py does the work)
# ---------------------------------------------------------------------------

#: grade --format: how one submission's results are printed.
FORMATS = {"gradescope": platforms.gradescope,
           "prairielearn": platforms.prairielearn}


def grade(submission, verbose=False, limits=grading.Limits(), format="text"):
    """Grade a student folder; return the report lines (format "text"), or
    one line of the platform's results.json."""
    limits = grading.require_sandbox(limits)
    if limits.caveat():         # for the grader's user, not the student
        print(f"sandbox: {limits.caveat()}", file=sys.stderr)
    report = grading.grade_submission(submission, limits)
    if format == "text":
        return report.lines(verbose)
    return [json.dumps(FORMATS[format](report), indent=1)]


def _write_results(args):
    """grade --results: the platform's JSON, written whole to the file,
    whatever happens (a grading that cannot run says why)."""
    try:
        text = grade(args.submission_dir, False, _limits(args),
                     args.format)[0]
    except grading.GraderError as error:
        # Why, for the staff (the platforms show the script's output to
        # them only); the student reads that it is not their doing.
        print(f"error: the autograder could not run: {error}",
              file=sys.stderr)
        text = json.dumps(platforms.could_not_grade(args.format), indent=1)
    path = Path(args.results)
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(text + "\n")
    temporary.replace(path)


#: grade --sandbox: Limits.container for each choice.
SANDBOXES = {"auto": None, "bubblewrap": False, "container": True}


def _limits(args):
    return grading.Limits(check_seconds=args.time_limit,
                          budget_seconds=args.budget,
                          sandbox=not args.no_sandbox,
                          container=SANDBOXES[args.sandbox])


# ---------------------------------------------------------------------------
# A platform's download in, the grades out (intake.py, gradebook.py)
# ---------------------------------------------------------------------------

def _add_platform_commands(commands):
    """The intake and export subcommands."""
    import intake
    command = commands.add_parser(
        "intake", help="make CLASS_DIR, one folder per student with their "
                       "mlp.py and pset3.ipynb, from a learning platform's "
                       "download of the submissions")
    command.add_argument(
        "download", metavar="DOWNLOAD",
        help="the zip the platform's 'download all submissions' gave (or "
             "the folder it unpacks to)")
    command.add_argument(
        "--out", required=True, metavar="CLASS_DIR",
        help="a new or empty folder; CLASS_DIR/intake.csv lists every file "
             "of the download and where it went")
    command.add_argument(
        "--platform", choices=intake.PLATFORMS,
        help="the platform of the download, when it is not recognised: "
             "canvas (lastname_userid_submissionid_file), moodle (a folder "
             "'Full Name_12345_assignsubmission_file_' per student), "
             "gradescope (submission_metadata.yml), folders (a folder per "
             "student, named by the id)")
    command = commands.add_parser(
        "export", help="write the totals of RESULTS_DIR/grades.csv into a "
                       "copy of the platform's gradebook file, to import")
    command.add_argument("results_dir", metavar="RESULTS_DIR")
    target = command.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--canvas", metavar="GRADEBOOK.csv",
        help="Canvas's gradebook export; writes RESULTS_DIR/canvas.csv: its "
             "identity columns, Points Possible row and the assignment's "
             "column, students matched by ID, SIS User ID or SIS Login ID")
    target.add_argument(
        "--moodle", metavar="WORKSHEET.csv",
        help="Moodle's grading worksheet of the assignment; writes "
             "RESULTS_DIR/moodle.csv, its Grade column filled, students "
             "matched by participant number (or email)")
    command.add_argument(
        "--assignment", metavar="TEXT",
        help="with --canvas: the assignment's column, by a part of its name "
             "(needed when the gradebook has several assignments)")
    command.add_argument(
        "--scale", action="store_true",
        help="the column is out of other points than 100 (Canvas's Points "
             "Possible, Moodle's Maximum Grade): write each total x those "
             "points / 100. Without it such a column is refused, never "
             "rescaled silently")
    command.add_argument(
        "--partial", action="store_true",
        help="also write the points so far of the students whose hand "
             "grading is not finished (a maximum below 100 in grades.csv), "
             "with a warning; by default they are left out, so that no "
             "total that is not final reaches the gradebook")


def _run_platform_command(args):
    import gradebook
    import intake
    if args.command == "intake":
        intake.intake(args.download, args.out, args.platform)
    elif args.canvas:
        gradebook.export_canvas(args.results_dir, args.canvas,
                                args.assignment, args.scale,
                                not args.partial)
    else:
        if args.assignment:
            raise grading.GraderError(
                "--assignment is for --canvas only: a Moodle worksheet is "
                "one assignment's; leave it out")
        gradebook.export_moodle(args.results_dir, args.moodle, args.scale,
                                not args.partial)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Build the student handout, or grade submissions.")
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser(
        "build", help="write OUT_DIR/student, OUT_DIR/grader and the "
                      "platforms' packages, OUT_DIR/gradescope and "
                      "OUT_DIR/prairielearn")
    build_command.add_argument("out_dir")
    grade_command = commands.add_parser(
        "grade", help="grade the student folder SUBMISSION_DIR")
    grade_command.add_argument("submission_dir")
    grade_command.add_argument("-v", "--verbose", action="store_true",
                               help="also say why each failed check failed")
    grade_command.add_argument(
        "--format", choices=("text", *FORMATS), default="text",
        help="text (the default), or the results.json of Gradescope's "
             "autograder or PrairieLearn's external grader")
    grade_command.add_argument(
        "--results", metavar="FILE",
        help="with --format gradescope or prairielearn: write the JSON to "
             "FILE, also when grading cannot run here (then with the reason)")
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
    class_command.add_argument(
        "--hide-ids", action="store_true",
        help="the answers pages (RESULTS_DIR/answers/) show a code for each "
             "student instead of the id; manual.csv may use the codes "
             "(kept in RESULTS_DIR/anonymous.csv)")
    _add_platform_commands(commands)
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
            "--sandbox", choices=SANDBOXES, default="auto",
            help="bubblewrap; container (as root, where bubblewrap cannot "
                 "run: each submission's code runs as a uid of its own, "
                 "with the same limits and filter); auto (the default): "
                 "bubblewrap where it runs, else container mode")
        command.add_argument(
            "--no-sandbox", action="store_true",
            help="run without bubblewrap: for trusted code only, such as "
                 "the solution (every other defence stays)")
    args = parser.parse_args(argv)

    try:
        if args.command == "build":
            student, grader = build(args.out_dir)
            out = Path(args.out_dir)
            print(f"wrote {student}, {grader}, "
                  f"{out / 'gradescope' / 'autograder.zip'} and "
                  f"{out / 'prairielearn'}")
        elif args.command == "grade":
            if not Path(args.submission_dir).is_dir():
                parser.error(f"{args.submission_dir} is not a folder; pass "
                             f"the folder with the student's mlp.py and "
                             f"pset3.ipynb")
            if args.results and args.format == "text":
                parser.error("--results needs --format gradescope or "
                             "prairielearn")
            if args.results:
                _write_results(args)
            else:
                print("\n".join(grade(args.submission_dir, args.verbose,
                                      _limits(args), args.format)))
        elif args.command in ("intake", "export"):
            _run_platform_command(args)
        else:
            if args.jobs is not None and args.jobs < 1:
                parser.error(f"--jobs must be at least 1, got {args.jobs}")
            grading.grade_class(args.class_dir, args.out, args.jobs,
                                _limits(args), hide_ids=args.hide_ids)
    except grading.GraderError as error:
        sys.exit(f"error: {error}")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
