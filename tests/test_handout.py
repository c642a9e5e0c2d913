"""The instructor's edition: the handout built from the solved source, and
the grader run on the solution, on the untouched handout and on partly
solved folders (in the sandbox, which the ``sandbox`` fixture requires)."""
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"
#: The problem set's points of the automatically graded questions.
QUESTION_POINTS = {"Q2.1": 5, "Q2.2": 10, "Q2.3": 5, "Q2.4": 5, "Q2.5": 10,
                   "Q2.6": 10}
MANUAL_POINTS = {"Q1.1": 5, "Q1.2": 5, "Q1.3": 5, "Q1.4": 5, "Q1.5": 5,
                 "Q1.6": 5, "Q2.7": 5, "Q3.1": 10, "Q3.2": 10}


@pytest.fixture(scope="module")
def handout():
    spec = importlib.util.spec_from_file_location("handout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The handout, built by the command an instructor runs."""
    out = tmp_path_factory.mktemp("handout")
    subprocess.run([sys.executable, str(SCRIPT), "build", str(out)],
                   check=True, capture_output=True, text=True)
    return out


def grade(folder, *flags, script=SCRIPT):
    """{question: earned}, the manual lines and the notes, from the output
    of ``handout.py grade`` (which must follow its format exactly)."""
    done = subprocess.run([sys.executable, str(script), "grade", str(folder),
                           *flags], check=True, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    auto, manual, notes = {}, {}, []
    for line in lines[:-2]:
        points = re.fullmatch(r"(Q\d\.\d) .+: (\d+) / (\d+)", line)
        by_hand = re.fullmatch(r"(Q\d\.\d) .+: manual, (\d+) points"
                               r"( \(.+\))?", line)
        if line.startswith("note: "):
            assert not auto and not manual, "notes come first"
            notes.append(line)
        elif points:
            assert not manual, "the automatic questions come first"
            auto[points.group(1)] = (int(points.group(2)),
                                     int(points.group(3)))
        else:
            assert by_hand, line
            manual[by_hand.group(1)] = (int(by_hand.group(2)),
                                        by_hand.group(3) or "")
    assert lines[-2] == "graded by hand: 55 points, not in the total"
    total = re.fullmatch(r"total: (\d+) / (\d+)", lines[-1])
    assert total, lines[-1]
    assert sum(line.startswith("total:") for line in lines) == 1
    assert {k: v[1] for k, v in auto.items()} == QUESTION_POINTS
    assert {k: v[0] for k, v in manual.items()} == MANUAL_POINTS
    assert int(total.group(2)) == 45 == sum(QUESTION_POINTS.values())
    assert int(total.group(1)) == sum(earned for earned, _ in auto.values())
    return {k: v[0] for k, v in auto.items()}, \
        {k: v[1] for k, v in manual.items()}, notes


def test_student_folder_contents(built):
    student, grader = built / "student", built / "grader"
    for name in ("mlp.py", "_checks.py", "utils.py", "_mnist_files.py",
                 "requirements.txt",
                 "README.md", "pset3.ipynb", "test_mlp.py"):
        assert (student / name).is_file(), name
    for name in ("handout.py", "grading.py", "questions.py", "reference.py",
                 "sandbox.py", "sandbox_entry.py", "test_public.py",
                 "README.md"):
        assert (grader / name).is_file(), name
    for name in ("_checks.py", "utils.py", "_mnist_files.py"):
        assert (grader / "given" / name).read_bytes() == \
            (student / name).read_bytes(), name
    for name in ("questions.py", "reference.py", "grading.py",
                 "sandbox_entry.py"):
        assert not (student / name).exists(), name


def test_student_mlp_imports_and_loss_is_not_implemented(built):
    source = (built / "student" / "mlp.py").read_text()
    assert "BEGIN SOLUTION" not in source
    # No solution code is left, e.g. the forward pass and the softmax.
    for solution_line in ("z1 = X @ W1 + b1", "np.maximum(z, 0)",
                          "dz1 = dhidden * activation_derivative(hidden)",
                          "learning_rate *= learning_rate_decay"):
        assert solution_line not in source, solution_line
    code = ("import numpy as np\nfrom mlp import TwoLayerMLP\n"
            "net = TwoLayerMLP(4, 5, 3, seed=0)\n"
            "try:\n    net.loss(np.ones((2, 4)), [0, 1])\n"
            "except NotImplementedError as error:\n    print('raised:', error)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=built / "student",
                          capture_output=True, text=True, check=True)
    assert "raised: TwoLayerMLP.loss: the forward pass is not implemented yet" \
        in done.stdout
    assert source.count("raise NotImplementedError(") == \
        source.count("# TODO:") >= 10


def test_student_notebook_has_no_solutions_outputs_or_appendix(built):
    nb = nbformat.read(built / "student" / "pset3.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for solution in ("da2 = h2 - y", "h^{(2)} - y} \\qquad",
                     "**Answer: ReLU.**", "weight decay",
                     'train_mnist("relu", penalty="l1"'):
        assert solution not in text, solution
    assert "mlp.py\").read_text()" not in text          # the appendix
    assert all(not cell.get("outputs") and cell.get("execution_count") is None
               for cell in nb.cells if cell.cell_type == "code")
    # Every question and numeric check is still there.
    solved = nbformat.read(ROOT / "pset3.ipynb", as_version=4)
    for header in re.findall(r"^#+ (Q\d\.\d.*|Problem \d.*)$",
                             "\n".join(c.source for c in solved.cells), re.M):
        assert header in text, header
    for check in ("check_gradients(net_sigmoid_toy", "correct_loss = 1.182248",
                  "correct_loss = 1.303788", "rel_error(numeric, analytic"):
        assert check in text, check
    assert text.count("YOUR ANSWER HERE") >= 9        # Q1.1-Q1.6, Q2.7, Q3.x


def test_student_notebook_runs_until_the_first_unimplemented_part(built):
    student = built / "student"
    nb = nbformat.read(student / "pset3.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(student)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    assert "NotImplementedError" in str(info.value)
    assert "not implemented yet" in str(info.value)
    # The cells before the failing one ran.
    code = [c for c in nb.cells if c.cell_type == "code"]
    failed = next(i for i, c in enumerate(code)
                  if any(o.output_type == "error" for o in c.outputs))
    assert failed >= 1
    assert all(c.execution_count is not None for c in code[:failed + 1])


def test_grading_the_solution_gives_full_points(sandbox):
    parts, manual, notes = grade(ROOT)
    assert parts == QUESTION_POINTS and not notes
    assert set(manual.values()) == {""}


def test_the_built_grader_folder_grades_on_its_own(built, sandbox, tmp_path):
    """OUT_DIR/grader works without the repository: a copy of it grades the
    solution with full points, using its own given/ files."""
    grader = tmp_path / "grader"
    shutil.copytree(built / "grader", grader)
    submission = tmp_path / "submission"
    shutil.copytree(built / "student", submission)
    shutil.copy(ROOT / "mlp.py", submission / "mlp.py")
    parts, _, notes = grade(submission, script=grader / "handout.py")
    assert parts == QUESTION_POINTS and not notes


def test_without_the_sandbox_the_solution_still_gets_full_points():
    """--no-sandbox (trusted code only) keeps the rest of the grading: the
    same checks on the trusted side, the same points. Needs no bwrap."""
    parts, _, notes = grade(ROOT, "--no-sandbox")
    assert parts == QUESTION_POINTS and not notes


def test_grading_the_untouched_handout_gives_nothing(built, sandbox):
    parts, manual, notes = grade(built / "student")
    assert set(parts.values()) == {0} and not notes
    assert set(manual.values()) == {" (not answered yet)"}


def partly_solved(built, tmp_path, handout, keep, change=None):
    folder = tmp_path / "submission"
    shutil.copytree(built / "student", folder)
    source = handout.student_source((ROOT / "mlp.py").read_text(), keep=keep)
    if change:
        assert change[0] in source
        source = source.replace(*change)
    (folder / "mlp.py").write_text(source)
    return folder


FORWARD = {"ReLU", "ReLU's derivative", "the sigmoid",
           "the sigmoid's derivative", "the forward pass"}
WRONG_BACKWARD = ("dz1 = dhidden * activation_derivative(hidden)",
                  "dz1 = dhidden")


def test_forward_solved_backward_wrong_gets_the_forward_points_only(
        built, tmp_path, handout, sandbox):
    """Only the forward pass (and a wrong backward pass) written: the
    scores' points of Q2.1 and Q2.4, nothing else."""
    folder = partly_solved(built, tmp_path, handout,
                           FORWARD | {"the backward pass"}, WRONG_BACKWARD)
    parts, _, _ = grade(folder)
    assert parts == {"Q2.1": 1, "Q2.2": 0, "Q2.3": 0, "Q2.4": 2, "Q2.5": 0,
                     "Q2.6": 0}


EVERYTHING = FORWARD | {"the cross-entropy", "log-softmax", "the penalty",
                        "the L2 penalty", "the L2 penalty's gradient",
                        "the update", "the decay of the learning rate",
                        "predict", "the backward pass"}


def test_a_wrong_backward_pass_costs_its_own_points(built, tmp_path, handout,
                                                    sandbox):
    """Everything solved but the backward pass, which has lost the
    activation's derivative: only the gradients of W1 and b1 in Q2.2 cost
    points. Q2.4 does not charge the same mistake again, and Q2.5 and Q2.6
    train with the reference's loss standing in."""
    folder = partly_solved(built, tmp_path, handout, EVERYTHING,
                           WRONG_BACKWARD)
    parts, _, _ = grade(folder)
    assert parts == {**QUESTION_POINTS, "Q2.2": 6}
    lines = handout.grade(folder, verbose=True)
    assert "  hidden sigmoid_hidden_layer_gradients: failed: loss(X, y) " \
        "with sigmoid: dW1 and db1 have relative errors" in "\n".join(lines)
    assert any("the activation's derivative is missing" in line
               for line in lines)


def test_an_endless_loop_costs_only_the_checks_that_call_it(
        built, tmp_path, handout, sandbox):
    """predict never returns: its check, the toy training and the two
    digits checks (whose train calls predict every epoch) time out after
    their limits; the rest is graded."""
    folder = partly_solved(
        built, tmp_path, handout, EVERYTHING,
        ("scores = self.loss(X)                                  # (N, C)",
         "while True:\n            pass"))
    lines = handout.grade(folder, verbose=True,
                          limits=handout.grading.Limits(check_seconds=1.5))
    assert "Q2.3 training and prediction on the toy problem: 3 / 5" in lines
    assert "Q2.2 backward pass with sigmoid: 10 / 10" in lines
    assert "Q2.5 the sigmoid network learns real digits: 0 / 10" in lines
    timed_out = [line.split(":")[0].strip() for line in lines
                 if ": timed out: over the limit of " in line]
    assert timed_out == ["hidden predict_labels", "public toy_training",
                         "hidden sigmoid_learns_digits",
                         "hidden relu_learns_digits"], lines
    assert "  hidden predict_labels: timed out: over the limit of 1.5 s " \
        "for this check" in lines


def test_public_checks_say_what_is_not_implemented(built):
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                           "no:cacheprovider", "test_mlp.py"],
                          cwd=built / "student", capture_output=True, text=True)
    assert done.returncode == 1
    assert "not implemented yet" in done.stdout
    assert "Traceback" not in done.stdout
