"""The instructor's edition: the handout built from the solved source, and
the grader run on the solution, on the untouched handout and on partly
solved folders (in the sandbox, which the ``sandbox`` fixture requires)."""
import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

# nbformat and nbclient are imported in the tests that use them: their
# import takes about 2 s, which the quick subset's collection skips.

import questions
import toy

ROOT = Path(__file__).resolve().parent.parent
#: The student's public tests run by pytest alone: the plugins installed for
#: this suite (hypothesis, xdist, ...) would only add a second to each start.
PUBLIC_TEST_ENVIRONMENT = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
SCRIPT = ROOT / "instructor" / "handout.py"
#: The points of the automatically graded questions and of those graded by
#: hand (the notebook's, as tests/test_grader.py checks).
QUESTION_POINTS = {q: points for q, (_, points) in questions.QUESTIONS.items()}
MANUAL_POINTS = {q: points for q, _, points, _ in questions.MANUAL}
AUTOMATIC = sum(QUESTION_POINTS.values())
#: Every solution region of the solved mlp.py, by its part's name.
REGIONS = set(re.findall(r"### BEGIN SOLUTION: ([^;\n]+)",
                         (ROOT / "mlp.py").read_text()))


def points_of(*checks):
    """The points of the checks named."""
    return sum(c.points for c in questions.CHECKS if c.name in checks)


def line_of(question, earned):
    """A question's line in the report, with the points earned."""
    return (f"{question} {questions.QUESTIONS[question][0]}: {earned} / "
            f"{QUESTION_POINTS[question]}")


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
    # Which sandbox ran (bubblewrap where it works, as here), once, unless
    # there was no mlp.py to run.
    sandbox = [line for line in lines if line.startswith("sandbox: ")]
    assert sandbox in ([], ["sandbox: none (--no-sandbox: for trusted code "
                            "only)"] if "--no-sandbox" in flags
                       else ["sandbox: bubblewrap"]), sandbox
    assert bool(sandbox) != any("no mlp.py" in line for line in lines)
    for line in lines[:-2]:
        points = re.fullmatch(r"(Q\d\.\d) .+: (\d+) / (\d+)", line)
        by_hand = re.fullmatch(r"(Q\d\.\d) .+: manual, (\d+) points"
                               r"( \(.+\))?", line)
        if line.startswith("note: "):
            assert not auto and not manual, "notes come first"
            notes.append(line)
        elif line.startswith("sandbox: "):
            assert not auto and not manual, "the sandbox comes first"
        elif points:
            assert not manual, "the automatic questions come first"
            auto[points.group(1)] = (int(points.group(2)),
                                     int(points.group(3)))
        else:
            assert by_hand, line
            manual[by_hand.group(1)] = (int(by_hand.group(2)),
                                        by_hand.group(3) or "")
    assert lines[-2] == (f"graded by hand: {sum(MANUAL_POINTS.values())} "
                         f"points, not in the total")
    total = re.fullmatch(r"total: (\d+) / (\d+)", lines[-1])
    assert total, lines[-1]
    assert sum(line.startswith("total:") for line in lines) == 1
    assert {k: v[1] for k, v in auto.items()} == QUESTION_POINTS
    assert {k: v[0] for k, v in manual.items()} == MANUAL_POINTS
    assert int(total.group(2)) == AUTOMATIC
    assert int(total.group(1)) == sum(earned for earned, _ in auto.values())
    return {k: v[0] for k, v in auto.items()}, \
        {k: v[1] for k, v in manual.items()}, notes


def test_student_folder_contents(built):
    student, grader = built / "student", built / "grader"
    for name in ("mlp.py", "_checks.py", "_threads.py", "utils.py",
                 "_mnist_files.py", "requirements.txt", "README.md",
                 "pset3.ipynb", "test_mlp.py"):
        assert (student / name).is_file(), name
    for name in ("handout.py", "grading.py", "questions.py", "feedback.py",
                 "reference.py", "sandbox.py", "sandbox_entry.py",
                 "student_ids.py", "test_public.py", "platforms.py",
                 "toy.py", "README.md"):
        assert (grader / name).is_file(), name
    for name in ("_checks.py", "_threads.py", "utils.py", "_mnist_files.py"):
        assert (grader / "given" / name).read_bytes() == \
            (student / name).read_bytes(), name
    for name in ("questions.py", "reference.py", "grading.py", "feedback.py",
                 "sandbox_entry.py"):
        assert not (student / name).exists(), name


#: What only the grader may hold: its code, the solved mlp.py whose parts
#: stand in for a student's, and the secret the hidden problems come from.
INSTRUCTOR_ONLY = ("handout.py", "grading.py", "questions.py", "feedback.py",
                   "reference.py", "sandbox.py", "sandbox_entry.py",
                   "student_ids.py", "test_public.py", "platforms.py",
                   "toy.py", "solved_mlp.py", "secret", ".secret", "given")


def test_the_solution_and_the_secret_are_the_graders_alone(built):
    """OUT_DIR/grader holds the solved mlp.py and a secret readable by its
    owner alone (mode 0600); OUT_DIR/student holds neither, nor any other
    file of the instructor's, under any name."""
    student, grader = built / "student", built / "grader"
    solved = (ROOT / "mlp.py").read_bytes()
    assert (grader / "solved_mlp.py").read_bytes() == solved
    secret = grader / "secret"
    assert secret.is_file() and not secret.is_symlink()
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    text = secret.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", text), "32 random bytes, in hex"
    # A fresh secret, not the one the repository's grader uses.
    repository_secret = ROOT / "instructor" / ".secret"
    if repository_secret.is_file():
        assert text != repository_secret.read_text().strip()

    found = list(student.rglob("*"))
    assert found, "the student folder is empty"
    for path in found:
        assert path.name not in INSTRUCTOR_ONLY, path
    instructor_files = {path.read_bytes() for path in grader.iterdir()
                        if path.is_file() and path.name != "README.md"}
    instructor_files.add(solved)
    for path in found:
        if path.is_file():
            data = path.read_bytes()
            assert data not in instructor_files, path
            assert text.encode() not in data, path
    # The student's mlp.py is the solved one with the solutions taken out.
    assert (student / "mlp.py").read_bytes() != solved


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
    assert done.stdout == ("raised: TwoLayerMLP.forward: the forward pass is "
                           "not implemented yet\n")
    # Every TODO raises until it is written, but the backward pass's, whose
    # gradients are None until then, so that the loss can be checked first.
    assert source.count("raise NotImplementedError(") == \
        source.count("# TODO:") - 1 >= 10
    assert "        dW1 = db1 = dW2 = db2 = None\n" in source
    # Each stub names the function or method it stands in.
    for message in ("TwoLayerMLP.forward: the forward pass",
                    "cross_entropy: the cross-entropy",
                    "TwoLayerMLP.add_penalty: the penalty",
                    "TwoLayerMLP.train: the update",
                    "TwoLayerMLP.predict: predict", "sigmoid: the sigmoid",
                    "log_softmax: log-softmax"):
        assert f'"{message} is not implemented yet"' in source, message
    # The solutions of the parts loss composes are gone; loss itself, which
    # composes them, is given.
    for solution_line in ("return -log_probs[np.arange(N), y].sum() / N",
                          "dscores[np.arange(N), y] -= 1",
                          "loss = loss + reg * (penalty_value(W1)"):
        assert solution_line not in source, solution_line
    for given_line in ("hidden, scores = self.forward(X)",
                       "loss = cross_entropy(scores, y)",
                       "grads = self.backward(X, y, hidden, scores)",
                       "        if reg:\n            loss, grads = "
                       "self.add_penalty(loss, grads, reg, penalty)\n"):
        assert given_line in source, given_line
    assert "instructor" not in source and "solution" not in source.lower()


def test_student_notebook_has_no_solutions_outputs_or_appendix(built):
    import nbformat
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
    shown = toy.fields()
    for check in ("check_gradients(net_sigmoid_toy",
                  f"correct_loss = {shown['sigmoid_loss'][1]}",
                  f"correct_loss = {shown['relu_loss'][1]}",
                  "rel_error(numeric, analytic"):
        assert check in text, check
    assert text.count("YOUR ANSWER HERE") >= 9        # Q1.1-Q1.6, Q2.7, Q3.x


def test_every_answer_follows_its_full_question(built):
    """Each "YOUR ANSWER HERE" comes after the heading of a hand-graded
    question with its points, and after the question itself (what to
    derive or explain, in terms of what), once per question."""
    import nbformat
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
    import nbformat
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
    import nbformat
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
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
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


#: The hidden checks, by the question they count in.
CHECK_NAMES = {question: tuple(c.name for c in questions.CHECKS
                               if c.question == question and not c.public)
               for question in questions.QUESTIONS}


def statuses(lines):
    """{check: (status, message)} of the checks that the verbose report
    lists (every check that did not pass, and those that passed with a
    note); the public toy training as "public toy_training"."""
    found = {}
    for line in lines:
        match = re.fullmatch(r"  (hidden|public) (\w+): ([a-z ]+?): (.*)",
                             line)
        if match:
            name = match.group(2) if match.group(1) == "hidden" else \
                "public " + match.group(2)
            assert name not in found, line
            found[name] = (match.group(3), match.group(4))
    return found


def test_the_check_names_are_the_graders():
    """CHECK_NAMES, which the tests below rely on, are the grader's hidden
    checks in its order, with the toy training the only public one."""
    hidden = [(c.question, c.name) for c in questions.CHECKS if not c.public]
    assert hidden == [(question, name) for question, names in
                      CHECK_NAMES.items() for name in names]
    assert [c.name for c in questions.CHECKS if c.public] == ["toy_training"]


FORWARD = {"ReLU", "ReLU's derivative", "the sigmoid",
           "the sigmoid's derivative", "the forward pass"}
WRONG_BACKWARD = ("dz1 = dhidden * activation_derivative(hidden)",
                  "dz1 = dhidden")


def test_only_the_forward_pass_and_the_cross_entropy_get_their_points(
        built, tmp_path, handout, sandbox):
    """The untouched handout with only the forward pass and the
    cross-entropy filled in: each is judged alone, the reference standing
    in for the sigmoid and log_softmax they use, and earns its check's
    point; every other check finds its part not written."""
    folder = partly_solved(built, tmp_path, handout,
                           {"the forward pass", "the cross-entropy"})
    lines = handout.grade(folder, verbose=True)
    assert line_of("Q2.1", points_of("forward_pass", "cross_entropy_loss")) \
        in lines, lines
    assert lines[-1] == (f"total: "
                         f"{points_of('forward_pass', 'cross_entropy_loss')} "
                         f"/ {AUTOMATIC}"), lines
    found = statuses(lines)
    for question, names in CHECK_NAMES.items():
        for name in names:
            if name in ("forward_pass", "cross_entropy_loss"):
                assert name not in found, found[name]
            else:
                assert found[name][0] in ("not implemented yet", "failed"), \
                    (name, found.get(name))
    assert found["gradient_dW2"] == (
        "failed", "backward(X, y, hidden, scores) with sigmoid: dW1, db1, "
        "dW2 and db2 are None: the backward pass is not written yet")
    assert found["sigmoid_function"] == (
        "not implemented yet", "NotImplementedError in sigmoid")


def test_forward_solved_backward_wrong_gets_the_points_of_the_right_parts(
        built, tmp_path, handout, sandbox):
    """The activations and the forward pass written, and a backward pass
    that has lost the activation's derivative: the points of the
    activations, of the forward pass and of the output layer's gradients,
    which are right; not those of the first layer's gradients. ReLU's
    gradients are judged through the reference's backward pass (the
    mistake is counted in Q2.2 once); nothing that needs the cross-entropy
    or train earns points."""
    folder = partly_solved(built, tmp_path, handout,
                           FORWARD | {"the backward pass"}, WRONG_BACKWARD)
    parts, _, _ = grade(folder)
    assert parts == {
        **dict.fromkeys(QUESTION_POINTS, 0),
        "Q2.1": points_of("sigmoid_function", "forward_pass"),
        "Q2.2": points_of("sigmoid_derivative_function", "gradient_dW2",
                          "gradient_db2"),
        "Q2.4": QUESTION_POINTS["Q2.4"]}
    found = statuses(handout.grade(folder, verbose=True))
    for name in ("gradient_dW1", "gradient_db1"):
        assert found[name][0] == "failed" and \
            "the activation's derivative is missing" in found[name][1]
    for name in ("sigmoid_function", "forward_pass", "gradient_dW2",
                 "gradient_db2", "sigmoid_derivative_function",
                 "relu_function", "relu_scores"):
        assert name not in found, found[name]
    assert found["relu_gradients"][0] == "passed"
    assert found["cross_entropy_loss"][0] == "not implemented yet"


EVERYTHING = REGIONS


def test_a_wrong_backward_pass_costs_its_own_points(built, tmp_path, handout,
                                                    sandbox):
    """Everything solved but the backward pass, which has lost the
    activation's derivative: only the gradients of W1 and b1 in Q2.2 cost
    points. Q2.4 does not charge the same mistake again, and Q2.5 and Q2.6
    train with the reference's loss standing in."""
    folder = partly_solved(built, tmp_path, handout, EVERYTHING,
                           WRONG_BACKWARD)
    parts, _, _ = grade(folder)
    lost = sum(c.points for c in questions.CHECKS
               if c.name in ("gradient_dW1", "gradient_db1"))
    assert parts == {**QUESTION_POINTS,
                     "Q2.2": QUESTION_POINTS["Q2.2"] - lost}
    lines = handout.grade(folder, verbose=True)
    found = statuses(lines)
    for name, gradient in (("gradient_dW1", "dW1"), ("gradient_db1", "db1")):
        assert found.pop(name) == (
            "failed", f"backward(X, y, hidden, scores) with sigmoid: "
                      f"{gradient}: the activation's derivative is missing: "
                      f"dz1 = dhidden * f'(z1), with f' written from hidden")
    # The toy training cannot reach the reference's loss: shown under Q2.2,
    # the question at fault, for no points.
    status, message = found.pop("public toy_training")
    assert status == "failed" and "(see Q2.2)" in message
    # What else is listed passed, with a note of the reference standing in.
    assert found.pop("relu_gradients") == (
        "passed", "your backward pass is charged in Q2.2, so the "
                  "reference's stood in for it here")
    assert all(status == "passed" for status, _ in found.values()), found


def test_an_endless_loop_costs_only_the_checks_that_call_it(
        built, tmp_path, handout, sandbox):
    """predict never returns: its check and the toy training (whose train
    calls predict every epoch) time out after their limits; the rest is
    graded. The digits checks, whose train also calls predict every epoch,
    have the reference's predict stand in (predict is judged by its own
    check), so the loop costs nothing there."""
    folder = partly_solved(
        built, tmp_path, handout, EVERYTHING,
        ("scores = self.loss(X)                                  # (N, C)",
         "while True:\n            pass"))
    lines = handout.grade(folder, verbose=True,
                          limits=handout.grading.Limits(check_seconds=1.5))
    assert line_of("Q2.3", QUESTION_POINTS["Q2.3"]
                   - points_of("predict_labels")) in lines
    for question in ("Q2.2", "Q2.5", "Q2.6"):
        assert line_of(question, QUESTION_POINTS[question]) in lines
    timed_out = [line.split(":")[0].strip() for line in lines
                 if ": timed out: over the limit of " in line]
    assert timed_out == ["hidden predict_labels", "public toy_training"], \
        lines
    assert "  hidden predict_labels: timed out: over the limit of 1.5 s " \
        "for this check" in lines


def test_a_budget_spent_during_an_import_is_named_as_the_cause(
        built, tmp_path, handout, sandbox):
    """An import that outlasts what is left of the submission's budget
    (not its own limit) is reported as the budget running out."""
    folder = tmp_path / "slow_import"
    folder.mkdir()
    (folder / "mlp.py").write_text((ROOT / "mlp.py").read_text()
                                   + "\nimport time\ntime.sleep(5)\n")
    lines = handout.grade(folder, verbose=True,
                          limits=handout.grading.Limits(budget_seconds=2))
    timed_out = [line.split(": ", 2)[2] for line in lines
                 if ": timed out: " in line]
    assert timed_out == ["the submission's time budget of 2 s ran out while "
                         "importing mlp.py"], lines
    assert f"total: 0 / {AUTOMATIC}" in lines


def public_tests(folder):
    """{test: its one-line failure, or None if it passed} of the student's
    test_mlp.py run in folder."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p",
                           "no:cacheprovider", "test_mlp.py"],
                          cwd=folder, capture_output=True, text=True,
                          env=PUBLIC_TEST_ENVIRONMENT)
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
    assert results["test_toy_scores[sigmoid]"] == \
        "TwoLayerMLP.forward: the forward pass is not implemented yet", out
    assert results["test_predictions_are_the_labels_of_the_largest_scores"] \
        == "TwoLayerMLP.predict: predict is not implemented yet", out
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
        assert "the backward pass is not implemented yet (the gradients of " \
            "W1, b1, W2, b2 are None)" in results[name], out
    # loss calls add_penalty only when reg > 0, so only the tests with a
    # penalty (and train, whose default reg is not 0) need it.
    for name in ("test_the_penalty_and_its_gradients",
                 "test_toy_loss_with_the_penalty[sigmoid]",
                 "test_toy_loss_with_the_penalty[relu]"):
        assert results[name] == \
            "TwoLayerMLP.add_penalty: the penalty is not implemented yet", out
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
    """The same folder graded: Q2.1's points but the penalty's, the sigmoid
    derivative's points of Q2.2, whose gradient checks say the backward
    pass is not written yet, and Q2.4's (ReLU and its derivative, the
    reference standing in for the backward pass that Q2.2 charged)."""
    folder = partly_solved(built, tmp_path, handout, LOSS)
    lines = handout.grade(folder, verbose=True)
    assert line_of("Q2.1", QUESTION_POINTS["Q2.1"]
                   - points_of("l2_penalty_in_the_loss")) in lines, lines
    assert line_of("Q2.2", points_of("sigmoid_derivative_function")) \
        in lines, lines
    assert line_of("Q2.4", QUESTION_POINTS["Q2.4"]) in lines, lines
    found = statuses(lines)
    assert found["l2_penalty_in_the_loss"] == (
        "not implemented yet", "NotImplementedError in l2_value")
    for name in ("gradient_dW2", "gradient_db2", "gradient_dW1",
                 "gradient_db1"):
        assert found[name] == (
            "failed", "backward(X, y, hidden, scores) with sigmoid: dW1, "
                      "db1, dW2 and db2 are None: the backward pass is not "
                      "written yet"), name
    for name in ("sigmoid_function", "forward_pass", "log_softmax_function",
                 "cross_entropy_loss", "sigmoid_derivative_function"):
        assert name not in found, found[name]


def test_a_built_grader_folder_refuses_to_build_and_says_why(built,
                                                             tmp_path):
    """The built grader has no solved notebook to build from: its build says
    so, and makes no folder, instead of failing half-way with a
    traceback."""
    done = subprocess.run([sys.executable, str(built / "grader" / "handout.py"),
                           "build", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("error: build makes the handout from the "
                                  "solved files"), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
