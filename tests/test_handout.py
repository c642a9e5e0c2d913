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
    # Every TODO raises until it is written, but the backward pass's, whose
    # gradients are None until then, so that the loss can be checked first.
    assert source.count("raise NotImplementedError(") == \
        source.count("# TODO:") - 1 >= 10
    assert "        dW1 = db1 = dW2 = db2 = None\n" in source
    assert "instructor" not in source and "solution" not in source.lower()


def test_student_notebook_has_no_solutions_outputs_or_appendix(built):
    nb = nbformat.read(built / "student" / "pset3.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    for solution in ("da2 = h2 - y", "h^{(2)} - y} \\qquad",
                     "**Answer: ReLU.**", "weight decay",
                     "options.update(settings)", "initial.loss(X_probe"):
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


def test_every_answer_follows_its_full_question(built):
    """Each "YOUR ANSWER HERE" comes after the heading of a hand-graded
    question with its points, and after the question itself (what to
    derive or explain, in terms of what), once per question."""
    nb = nbformat.read(built / "student" / "pset3.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    answered = {}
    for part in text.split("YOUR ANSWER HERE")[:-1]:
        heading = list(re.finditer(r"^### (Q\d\.\d) \[(\d+) pts[^\]]*\]: .*$",
                                   part, re.M))[-1]
        question = part[heading.end():].strip()
        assert heading.group(1) not in answered, heading.group(0)
        answered[heading.group(1)] = int(heading.group(2))
        assert len(question) > 80 and re.search(
            r"\b(Derive|Which|how|express)\b", question), heading.group(0)
    assert answered == MANUAL_POINTS


def test_student_notebook_mentions_nothing_the_handout_removed(built):
    nb = nbformat.read(built / "student" / "pset3.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    for removed in ("boxed", "Beyond the problem set", "solution", "solved",
                    "appendix", "below settle", "instructor", "benchmarks"):
        assert removed not in text.lower(), removed
    assert not any("execution" in cell.metadata for cell in nb.cells)
    assert nb.metadata.keys() <= {"kernelspec", "language_info"}
    # The optional cells are marked so, and the cells with code to write
    # say which names the later cells need.
    for optional in ("### Checking your formulas numerically (optional, "
                     "not graded)", "### L2 and L1 side by side on MNIST "
                     "(optional, not graded)", "Optional, not graded"):
        assert optional in text, optional
    for name in ("`stats_sigmoid_toy`", "`stats_relu_toy`", "`stats`",
                 "learning-rate decay 0.95", "replaces (or adds to)"):
        assert name in text, name


def test_the_hand_graded_points_are_the_notebooks(built):
    """The grader's table of hand-graded answers and the points nbgrader
    reads from the notebook's cells agree, cell by cell."""
    import questions

    for path in (ROOT / "pset3.ipynb", built / "student" / "pset3.ipynb"):
        nb = nbformat.read(path, as_version=4)
        cells = {c.metadata["nbgrader"]["grade_id"]:
                 c.metadata["nbgrader"].get("points")
                 for c in nb.cells
                 if c.metadata.get("nbgrader", {}).get("grade")}
        table = {}
        for _, _, points, grade_id in questions.MANUAL:
            table[grade_id] = table.get(grade_id, 0) + points
        assert cells == table, path


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
    # The optional check of Problem 1 says its function is not written
    # yet and lets the notebook run on, to the first cell that needs mlp.py.
    assert "net_sigmoid_toy.loss(X_toy)" in code[failed].source
    assert "forward pass is not implemented yet" in str(info.value)
    assert "this optional check is skipped" in "".join(
        o.get("text", "") for c in code[:failed] for o in c.outputs)
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


def public_tests(folder):
    """{test: its one-line failure, or None if it passed} of the student's
    test_mlp.py run in folder."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p",
                           "no:cacheprovider", "test_mlp.py"],
                          cwd=folder, capture_output=True, text=True)
    assert "Traceback" not in done.stdout, done.stdout
    assert "During handling" not in done.stdout, done.stdout
    results = dict.fromkeys(re.findall(r"^PASSED test_mlp.py::(\S+)$",
                                       done.stdout, re.M))
    # A failure: its header line, then its message on one line.
    for name, message in re.findall(r"^_+ (\S+) _+\n(.*)\n(?=[_=])",
                                    done.stdout, re.M):
        results[name] = message
    assert len(results) >= 13, done.stdout
    return results, done.stdout


def test_public_checks_say_what_is_not_implemented(built):
    """The untouched handout: every test fails in one line that names the
    first part it needs that is not written yet, once."""
    results, out = public_tests(built / "student")
    assert all(results.values()), out
    assert "TwoLayerMLP.loss: the forward pass is not implemented yet" in out
    for line in out.split("= FAILURES =")[1].splitlines():
        assert line.count("not implemented yet") <= 1, line


LOSS = {"ReLU", "ReLU's derivative", "the sigmoid",
        "the sigmoid's derivative", "the forward pass", "the cross-entropy",
        "log-softmax"}


def test_the_loss_can_be_checked_before_the_backward_pass_is_written(
        built, tmp_path, handout):
    """Only the forward pass and the loss written, from the solution: their
    public checks pass, the backward pass's say it is not written yet, and
    train refuses to run without gradients."""
    folder = partly_solved(built, tmp_path, handout, LOSS)
    results, out = public_tests(folder)
    for name in ("test_toy_scores[sigmoid]", "test_toy_scores[relu]",
                 "test_toy_loss_without_the_penalty[sigmoid]",
                 "test_toy_loss_without_the_penalty[relu]",
                 "test_loss_is_finite_for_large_scores"):
        assert results[name] is None, out
    for name in ("test_gradients[sigmoid]", "test_gradients[relu]"):
        assert results[name].startswith(
            "TwoLayerMLP.loss: the backward pass is not implemented yet"), out
    assert results["test_toy_loss_with_the_penalty[sigmoid]"] == \
        "TwoLayerMLP.loss: the penalty is not implemented yet", out
    code = ("import numpy as np\nfrom mlp import TwoLayerMLP\n"
            "net = TwoLayerMLP(4, 5, 3, seed=0)\n"
            "loss, grads = net.loss(np.ones((2, 4)), [0, 1])\n"
            "print(round(loss, 6), grads)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=folder,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ("1.098612 {'W1': None, 'b1': None, "
                                   "'W2': None, 'b2': None}")


def test_train_does_not_run_without_the_backward_pass(built, tmp_path,
                                                      handout):
    folder = partly_solved(built, tmp_path, handout,
                           EVERYTHING - {"the backward pass", "the penalty"})
    code = ("import numpy as np\nfrom mlp import TwoLayerMLP\n"
            "net = TwoLayerMLP(4, 5, 3, seed=0)\n"
            "start = {k: v.copy() for k, v in net.params.items()}\n"
            "try:\n    net.train(np.ones((6, 4)), [0, 1, 2] * 2, reg=0.0)\n"
            "except NotImplementedError as error:\n    print(error)\n"
            "print(all(np.array_equal(start[k], v) "
            "for k, v in net.params.items()))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=folder,
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "TwoLayerMLP.loss: the backward pass is not implemented yet (the "
        "gradients of W1, b1, W2, b2 are None)", "True"]


def test_the_grader_gives_the_loss_its_points_before_the_backward_pass(
        built, tmp_path, handout, sandbox):
    """The same folder graded: Q2.1's scores and cross-entropy points, and
    Q2.2's checks say the backward pass is not written yet."""
    folder = partly_solved(built, tmp_path, handout, LOSS)
    lines = handout.grade(folder, verbose=True)
    assert "Q2.1 forward pass and loss with sigmoid: 4 / 5" in lines, lines
    assert "  hidden l2_penalty_in_the_loss: not implemented yet: " \
        "NotImplementedError in loss" in lines, lines
    assert "  hidden sigmoid_output_layer_gradients: failed: loss(X, y) " \
        "with sigmoid: dW1, db1, dW2 and db2 are None: the backward pass " \
        "is not written yet" in lines, lines
