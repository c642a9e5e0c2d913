"""The grader's trusted side, piece by piece: the reference formulas, the
registry of checks, the comparisons and their messages, the strict reading
of replies and of submitted files, the reports, grades.csv and the
command line. (The sandbox itself is attacked in test_grader_attacks.py.)
"""
import collections
import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import grading
import questions
import sandbox as sandbox_module
import reference
import sandbox_entry
from mlp import TwoLayerMLP
from sandbox import Ended

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"


# -- the references ----------------------------------------------------------

@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_references_give_the_problem_sets_toy_numbers(activation):
    net, X, y = questions.toy_problem(activation)
    loss = reference.loss(net.params, X, y, activation, 0.1)
    assert abs(loss - questions.TOY_LOSS[activation]) < 1e-7


def test_the_toy_weights_are_those_the_handout_draws():
    np.random.seed(0)
    drawn = TwoLayerMLP(4, 10, 3, std=1e-1).params
    net, _, _ = questions.toy_problem("relu")
    for name in questions.PARAM_NAMES:
        np.testing.assert_array_equal(net.params[name], drawn[name])


def _numeric_gradients(loss, params):
    h, numeric = 1e-6, {}
    for name in questions.PARAM_NAMES:
        numeric[name] = np.zeros_like(params[name])
        for index in np.ndindex(params[name].shape):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name][index] += h
            plus = loss(shifted)
            shifted[name][index] -= 2 * h
            numeric[name][index] = (plus - loss(shifted)) / (2 * h)
    return numeric


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_reference_gradients_match_finite_differences(activation, seed):
    net, X, y = questions.problem(activation, seed)
    grads = reference.gradients(net.params, X, y, activation, 0.3)
    numeric = _numeric_gradients(
        lambda p: reference.loss(p, X, y, activation, 0.3), net.params)
    for name in questions.PARAM_NAMES:
        assert np.linalg.norm(numeric[name] - grads[name]) <= 1e-6 * max(
            np.linalg.norm(grads[name]), 1.0), name


ALL_FOUR = questions.PARAM_NAMES


@pytest.mark.parametrize("mistakes, compared", [
    ({"grad_sum"}, ALL_FOUR), ({"no_onehot"}, ALL_FOUR),
    ({"l2_grad_double"}, ALL_FOUR), ({"no_b2"}, ALL_FOUR),
    ({"no_derivative", "grad_sum"}, ALL_FOUR), ({"bias_mean"}, ("b2",))])
def test_a_known_mistake_changes_the_gradients_as_its_code_would(
        mistakes, compared):
    """The variants are not made up: each equals what the solution's
    mlp.py computes with that mistake put in (see tests/mutants.py)."""
    import mutants

    names = {"grad_sum": ["no_division_by_n"],
             "no_onehot": ["probabilities_without_onehot"],
             "l2_grad_double": ["l2_gradient_doubled"],
             "no_b2": ["no_b2_in_the_scores"],
             "no_derivative": ["no_activation_derivative"],
             "bias_mean": ["bias_gradient_is_a_mean"]}
    source = (ROOT / "mlp.py").read_text()
    for mistake in sorted(mistakes):
        for name in names[mistake]:
            source = mutants.apply(source, mutants.MUTANTS[name])
    module = {}
    exec(compile(source, str(ROOT / "mlp.py"), "exec"), module)
    net, X, y = questions.problem("sigmoid", 3)
    mutant = module["TwoLayerMLP"](*net.sizes, activation="sigmoid")
    mutant.params = net.params
    _, got = mutant.loss(X, y, reg=0.3)
    expected = reference.gradients(net.params, X, y, "sigmoid", 0.3,
                                   frozenset(mistakes))
    for name in compared:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_every_gradient_mistake_is_told_apart_on_the_hidden_problems(
        activation):
    """On each hidden problem, each combination of mistakes the grader
    knows gives gradients of its own, so a diagnosis is never ambiguous."""
    for seed in (11, 14, 26, 31):
        net, X, y = questions.problem(activation, seed)
        for name in questions.PARAM_NAMES:
            groups = reference.gradient_mistakes(name, activation)
            for mistakes in reference.combinations(groups):
                got = reference.data_gradients(net.params, X, y, activation,
                                               mistakes)[name]

                def compute(m, name=name):
                    return reference.data_gradients(net.params, X, y,
                                                    activation, m)[name]
                found = reference.explain(got, compute, groups,
                                          questions.RTOL)
                if found != mistakes:   # only when the two are the same
                    np.testing.assert_allclose(got, reference.data_gradients(
                        net.params, X, y, activation, found)[name])


def test_every_mistake_belongs_to_a_question_and_says_what_to_do():
    for name, mistake in reference.MISTAKES.items():
        assert mistake.question in questions.QUESTIONS, name
        assert len(mistake.words) > 30, name


def test_the_solution_agrees_with_the_references():
    """The repository's mlp.py, called directly: what the sandbox would
    send back for the hidden problems equals the references."""
    for activation in ("relu", "sigmoid"):
        for seed in (1, 5, 9):
            spec, X, y = questions.problem(activation, seed)
            net = TwoLayerMLP(*spec.sizes, activation=activation)
            net.params = spec.params
            loss, grads = net.loss(X, y, reg=0.7)
            questions.expect_number("loss", loss, reference.loss(
                spec.params, X, y, activation, 0.7), public=False)
            expected = reference.gradients(spec.params, X, y, activation, 0.7)
            for name in questions.PARAM_NAMES:
                questions.expect_array(name, grads[name], expected[name],
                                       public=False, shape="?")


# -- the registry ------------------------------------------------------------

def _load_questions_with(change):
    source = (ROOT / "instructor" / "questions.py").read_text()
    changed = change(source)
    assert changed != source
    exec(compile(changed, "questions_changed.py", "exec"), {})


def test_a_check_without_its_decorator_stops_the_grader_loading():
    with pytest.raises(RuntimeError, match="forgotten_check has no @check"):
        _load_questions_with(lambda s: s.replace(
            "\n_verify()", "\ndef forgotten_check():\n    yield None\n\n"
                           "\n_verify()"))


def test_points_that_do_not_add_up_stop_the_grader_loading():
    with pytest.raises(RuntimeError,
                       match="the checks of Q2.3 add up to 5 points, "
                             "QUESTIONS gives 6"):
        _load_questions_with(lambda s: s.replace(
            '"training and prediction on the toy problem", 5)',
            '"training and prediction on the toy problem", 6)'))


def test_a_check_must_name_a_known_question_and_fitting_points():
    with pytest.raises(ValueError, match="unknown question"):
        questions.check("Q9.9", points=1)(lambda: (yield))
    with pytest.raises(ValueError, match="a public check carries no points"):
        questions.check("Q2.1", points=1, public=True)(lambda: (yield))
    with pytest.raises(ValueError, match="a hidden check needs points"):
        questions.check("Q2.1", points=0)(lambda: (yield))
    with pytest.raises(ValueError, match="integer >= 0"):
        questions.check("Q2.1", points=-1)(lambda: (yield))


def test_the_checks_add_up_to_the_problem_sets_points():
    assert {q: p for q, (_, p) in questions.QUESTIONS.items()} == {
        "Q2.1": 5, "Q2.2": 10, "Q2.3": 5, "Q2.4": 5, "Q2.5": 10, "Q2.6": 10}
    assert [(q, p) for q, _, p, _ in questions.MANUAL] == [
        ("Q1.1", 5), ("Q1.2", 5), ("Q1.3", 5), ("Q1.4", 5), ("Q1.5", 5),
        ("Q1.6", 5), ("Q2.7", 5), ("Q3.1", 10), ("Q3.2", 10)]
    for question, (_, points) in questions.QUESTIONS.items():
        assert sum(c.points for c in questions.CHECKS
                   if c.question == question) == points
    assert all(c.points == 0 for c in questions.CHECKS if c.public)


# -- comparisons and their messages -----------------------------------------

def test_a_hidden_comparison_never_shows_the_expected_values():
    expected = np.array([[0.123456, 2.5], [3.25, -4.125]])
    for got in (expected * 2, expected[:1], expected.tolist(), None):
        with pytest.raises(questions.Wrong) as info:
            questions.expect_array("scores", got, expected, public=False,
                                   shape="(N, C)")
        message = str(info.value)
        for value in ("0.123", "2.5", "3.25", "4.125", "(2, 2)", "(1, 2)"):
            assert value not in message, (value, message)
    with pytest.raises(questions.Wrong) as info:
        questions.expect_number("the loss", 2.468, 1.234567, public=False)
    assert "1.23" not in str(info.value) and "2.46" not in str(info.value)
    with pytest.raises(questions.Wrong) as info:
        questions.expect_labels("predict", np.array([3, 1, 2]),
                                np.array([0, 1, 2]), public=False)
    assert str(info.value) == ("predict: some labels differ from the "
                               "expected ones")


def test_a_public_comparison_says_got_and_expected():
    with pytest.raises(questions.Wrong,
                       match=r"the toy loss: got 1\.50000000 / expected "
                             r"1\.18224798, difference 3\.2e-01"):
        questions.expect_number("the toy loss", 1.5, 1.18224798, public=True)
    with pytest.raises(questions.Wrong,
                       match=r"got shape \(3,\) / expected \(C,\) = \(2,\)"):
        questions.expect_array("db2", np.zeros(3), np.zeros(2), public=True,
                               shape="(C,)")


@pytest.mark.parametrize("got, words", [
    (None, "got None / expected an ndarray"),
    ([1.0, 2.0], "got a list / expected an ndarray"),
    (np.array([1, 2]), "got dtype int64 / expected floating point"),
    (np.array([np.nan, 1.0]), "got NaN or inf / expected finite numbers"),
    (questions.Other("Tensor"), "got an object of another type / expected"),
    (questions.Other("ndarray of float128"), "got a ndarray of float128"),
])
def test_an_answer_is_checked_for_presence_type_dtype_and_finiteness(
        got, words):
    with pytest.raises(questions.Wrong, match=re.escape(words)):
        questions.expect_array("x", got, np.zeros(2), public=False,
                               shape="(N,)")


def test_labels_must_be_integers_and_numbers_real():
    with pytest.raises(questions.Wrong, match="expected integer labels"):
        questions.expect_labels("predict", np.zeros(3), np.zeros(3, int),
                                public=False)
    for got in ("1.0", True, None, np.zeros(2), float("inf")):
        with pytest.raises(questions.Wrong):
            questions.as_number("the loss", got)
    assert questions.as_number("the loss", np.float32(2.5)) == 2.5
    assert questions.as_number("the loss", np.array(3.0)) == 3.0
    assert questions.as_number("the loss", np.array([4.0])) == 4.0
    with pytest.raises(questions.Wrong, match="an integer too large"):
        questions.as_number("the loss", 10 ** 400)


# -- replies and untrusted text ----------------------------------------------

def _round_trip(value):
    return grading.decode(json.loads(json.dumps(sandbox_entry.encode(value))))


def test_encoded_answers_come_back_exactly():
    rng = np.random.RandomState(0)
    for dtype in ("float64", "float32", "int64", "int32", "uint8", "bool"):
        array = (rng.randn(3, 4) * 1e3).astype(dtype)
        back = _round_trip(array)
        assert back.dtype == array.dtype and np.array_equal(back, array)
    nested = (1.5, {"W1": np.array([np.nan, np.inf]), "n": 3}, [None, "s"])
    loss, grads, rest = _round_trip(nested)
    assert loss == 1.5 and grads["n"] == 3 and rest == [None, "s"]
    assert np.isnan(grads["W1"][0]) and np.isinf(grads["W1"][1])
    assert isinstance(_round_trip(object()), questions.Other)
    Pair = collections.namedtuple("Pair", "loss grads")
    assert _round_trip(Pair(0.5, {"W1": 1})) == (0.5, {"W1": 1})
    with pytest.warns(PendingDeprecationWarning):     # np.matrix warns
        matrix = np.matrix([[1.0, 2.0]])
    assert _round_trip(matrix).shape == (1, 2)
    assert _round_trip(np.zeros(3, dtype=object)).type_name == \
        "ndarray of object"


ONE = sandbox_entry.encode(np.array([1.0]))["base64"]


@pytest.mark.parametrize("reply", [
    [], "x", None, {"kind": "pickle"}, {"kind": "scalar", "value": "1"},
    {"kind": "ndarray", "dtype": "object", "shape": [1], "base64": ONE},
    {"kind": "ndarray", "dtype": "float64", "shape": [2], "base64": ONE},
    {"kind": "ndarray", "dtype": "float64", "shape": [1], "base64": [1.0]},
    {"kind": "ndarray", "dtype": "float64", "shape": [1], "data": [1.0]},
    {"kind": "ndarray", "dtype": "float64", "shape": [-1], "base64": ""},
    {"kind": "ndarray", "dtype": "float64", "shape": [1],
     "base64": "!" * len(ONE)},
    {"kind": "ndarray", "dtype": "float64", "shape": [10 ** 30],
     "base64": ONE},
    {"kind": "ndarray", "dtype": "float64", "shape": [1] * 9, "base64": ONE},
    {"kind": "dict", "items": [[{"kind": "str", "value": "a"}]]},
    {"kind": "list", "items": {"a": 1}},
])
def test_a_malformed_reply_is_refused(reply):
    with pytest.raises(Ended):
        grading.decode(reply)


def _deep(depth):
    value = {"kind": "none"}
    for _ in range(depth):
        value = {"kind": "list", "items": [value]}
    return value


def test_a_deeply_nested_reply_is_refused():
    assert grading.decode(_deep(5)) == [[[[[None]]]]]
    with pytest.raises(Ended):
        grading.decode(_deep(50))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["kind", "dtype", "shape", "base64",
                                       "items", "value", "type"]), children,
                      max_size=5), max_leaves=20)


@given(json_values)
def test_any_reply_is_decoded_or_refused_never_a_crash(reply):
    try:
        grading.decode(reply)
    except Ended:
        pass


def test_untrusted_text_becomes_one_printable_line():
    text = "a\nb\r\nc\u2028d\x1b[2K\te" + "f" * 400
    line = grading.clean(text, limit=40)
    assert line.isprintable() and "\n" not in line and len(line) == 40
    assert line.startswith("a b c d [2K e") and line.endswith("...")


def test_a_hidden_checks_error_shows_only_words_from_closed_lists():
    """The type, function, line and message all come from the student's
    process; a hidden check shows a built-in exception's name and a
    handout function's name only (no line, no message)."""
    error = {"type": "ValueError", "message": "X = [[0.5, 1.25]]",
             "where": {"line": 12, "function": "loss"}}
    assert grading.describe_error(error, public=False) == "ValueError in loss"
    assert grading.describe_error(error, public=True) == \
        "ValueError at mlp.py line 12 (in loss): X = [[0.5, 1.25]]"
    leaking = {"type": "X_p0d410_p0d198", "message": "",
               "where": {"line": 410053 * 10 ** 4000,
                         "function": "W1_m0d528_m1d073"}}
    assert grading.describe_error(leaking, public=False) == "an exception"
    shown = grading.describe_error(leaking, public=True)
    assert shown == "X_p0d410_p0d198" and "410053" not in shown
    assert grading.describe_error("junk", public=True) == \
        "an error that could not be read"


# -- submitted files ---------------------------------------------------------

def test_only_a_regular_file_within_the_limit_is_read(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert grading.read_regular_file(tmp_path / "ok.py", 100) == \
        (b"x = 1\n", None)
    (tmp_path / "link.py").symlink_to(tmp_path / "ok.py")
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "folder.py").mkdir()
    (tmp_path / "big.py").write_bytes(b"#" * 101)
    for name, words in (("link.py", "a symbolic link"), ("fifo.py",
                        "not a regular file"), ("folder.py",
                        "not a regular file"), ("big.py", "larger than"),
                        ("missing.py", "missing")):
        data, why = grading.read_regular_file(tmp_path / name, 100)
        assert data is None and words in why, (name, why)


@pytest.mark.parametrize("text, note", [
    ("{not json", "notebook unreadable"),
    ('{"cells": 3}', "notebook unreadable"),
    ('{"cells": [{"metadata": []}]}', "notebook unreadable"),
    ("[" * 100_000, "notebook unreadable"),
    ('{"cells": [' + "{}," * 200_000 + "{}]}", "notebook unreadable: far "
     "more nested parts"),
    ('{"cells": []}', "answer missing"),
])
def test_a_broken_notebook_is_reported_not_fatal(tmp_path, text, note):
    (tmp_path / "pset3.ipynb").write_text(text)
    answers = grading.manual_answers(tmp_path)
    assert [question for question, _ in answers] == \
        [q for q, _, _, _ in questions.MANUAL]
    assert all(n.startswith(note) for _, n in answers), answers


def test_answers_in_a_notebook_are_found_by_their_grade_id(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {"nbgrader": {
        "grade_id": "problem1_answers"}}, "source": ["Q1.1: ", "dz = ..."]},
        {"cell_type": "markdown", "metadata": {"nbgrader": {
            "grade_id": "q2_7_answer"}}, "source": "YOUR ANSWER HERE"}]
    (tmp_path / "pset3.ipynb").write_text(json.dumps({"cells": cells}))
    assert [note for _, note in grading.manual_answers(tmp_path)] == \
        [""] * 6 + ["not answered yet"] + ["answer missing"] * 2


# -- reports and grades.csv ---------------------------------------------------

def _report(student, passed):
    return grading.Report(student, results=[
        grading.CheckResult(c, "passed" if c.name in passed else "failed",
                            "" if c.name in passed else "why")
        for c in questions.CHECKS], manual=[(q, "") for q, _, _, _ in
                                            questions.MANUAL])


def test_grades_csv_has_a_column_per_question(tmp_path):
    reports = [_report("=HYPERLINK(1)", {"sigmoid_scores"}),
               _report("s2", {c.name for c in questions.CHECKS})]
    reports[0].notes.append("mlp.py a symbolic link: refused")
    grading.write_grades(tmp_path / "grades.csv", reports)
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert header == ["student", "Q2.1 [5]", "Q2.2 [10]", "Q2.3 [5]",
                      "Q2.4 [5]", "Q2.5 [10]", "Q2.6 [10]", "total",
                      "maximum", "Q1.1 [5, manual]", "Q1.2 [5, manual]",
                      "Q1.3 [5, manual]", "Q1.4 [5, manual]",
                      "Q1.5 [5, manual]", "Q1.6 [5, manual]",
                      "Q2.7 [5, manual]", "Q3.1 [10, manual]",
                      "Q3.2 [10, manual]", "notes"]
    assert rows[1][0] == "'=HYPERLINK(1)"     # not a formula
    assert rows[1][1:9] == ["1", "0", "0", "0", "0", "0", "1", "45"]
    assert rows[1][9:18] == [""] * 9
    assert rows[1][18] == "mlp.py a symbolic link: refused"
    assert rows[2][7:9] == ["45", "45"]


def test_the_report_lists_notes_questions_manual_ones_and_one_total():
    report = _report("s", {"sigmoid_scores", "sigmoid_cross_entropy"})
    report.results[1].message = "a note for the student"
    report.notes.append("note text")
    lines = report.lines(verbose=False)
    assert lines[0] == "note: note text"
    assert lines[1] == "Q2.1 forward pass and loss with sigmoid: 3 / 5"
    assert lines[2] == "Q2.2 backward pass with sigmoid: 0 / 10"
    assert lines[7] == "Q1.1 dL/da2 by hand: manual, 5 points"
    assert lines[-2] == "graded by hand: 55 points, not in the total"
    assert lines[-1] == "total: 3 / 45"
    assert [line.split(" ")[0] for line in lines[1:-2]] == [
        "Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.5", "Q2.6", "Q1.1", "Q1.2",
        "Q1.3", "Q1.4", "Q1.5", "Q1.6", "Q2.7", "Q3.1", "Q3.2"]
    verbose = report.lines(verbose=True)
    assert "  hidden loss_with_large_scores: failed: why" in verbose
    assert "  public toy_training: failed: why" in verbose
    assert "  hidden sigmoid_cross_entropy: passed: a note for the student" \
        in verbose
    assert not any("sigmoid_scores" in line for line in verbose)


# -- the command line --------------------------------------------------------

def test_without_bubblewrap_grading_stops_and_says_how_to_install_it(
        tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "grade", str(ROOT)],
                          capture_output=True, text=True,
                          env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 1 and done.stdout == ""
    assert "bubblewrap (bwrap) is not installed" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert "--no-sandbox" in done.stderr


def test_grading_a_folder_that_does_not_exist_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "grade",
                           str(tmp_path / "nothing")], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "is not a folder" in done.stderr


def test_grade_class_skips_what_is_not_a_student_and_refuses_symlinks(
        tmp_path):
    """--no-sandbox, so that it runs without bubblewrap: the solution is
    trusted code."""
    class_dir, out = tmp_path / "class", tmp_path / "class" / "results"
    (class_dir / "s1").mkdir(parents=True)
    (class_dir / "s1" / "mlp.py").write_text((ROOT / "mlp.py").read_text())
    (class_dir / "s2").mkdir()                       # nothing handed in
    (class_dir / "linked").symlink_to(class_dir / "s1")
    (class_dir / ".hidden").mkdir()
    (class_dir / "notes.txt").write_text("not a student")
    done = subprocess.run([sys.executable, str(SCRIPT), "grade-class",
                           str(class_dir), "--out", str(out), "--jobs", "2",
                           "--no-sandbox"], capture_output=True, text=True,
                          check=True)
    with open(out / "grades.csv", newline="") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert set(rows) == {"s1", "s2", "linked"}, done.stdout
    assert rows["s1"]["total"] == "45" and rows["s1"]["notes"] == ""
    assert rows["s2"]["total"] == "0"
    assert rows["s2"]["notes"] == "no mlp.py in the submission"
    assert rows["linked"]["notes"].startswith(
        "the submission's folder is a symbolic link: refused")
    assert sorted(p.name for p in (out / "feedback").iterdir()) == \
        ["linked.txt", "s1.txt", "s2.txt"]


def test_a_hidden_check_never_reveals_its_inputs_or_expected_values(
        tmp_path, sandbox):
    """A submission that tries to learn the hidden problems: it raises
    with the inputs in the message and predicts wrong labels. Its feedback
    shows neither the inputs nor the expected labels."""
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "mlp.py").write_text((ROOT / "mlp.py").read_text() + '''

class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if len(X) != 5:                               # not the toy data
            raise ValueError("LEAK " + repr(X.tolist()) + repr(self.params))
        return super().loss(X, y, reg, penalty)

    def predict(self, X):
        labels = super().predict(X)
        raise NotImplementedError("LEAK " + repr(labels.tolist()))
''')
    lines = grading.grade_submission(folder).lines(verbose=True)
    hidden = [line for line in lines if line.startswith("  hidden ")]
    train = {"sgd_updates", "learning_rate_decay", "random_minibatches"}
    assert len(hidden) == sum(not c.public and c.name not in train
                              for c in questions.CHECKS)   # train is right
    assert not any("LEAK" in line for line in hidden)
    public = "\n".join(line for line in lines if line.startswith("  public"))
    assert "LEAK [2, 2, 2, 2, 1]" in public       # the toy data is public
    text = "\n".join(lines)
    rng = np.random.RandomState(22)
    labels = rng.randn(20, 6).argmax(axis=1)
    assert str(labels.tolist())[1:-1] not in text
    assert "  hidden sigmoid_scores: error: raised ValueError in loss" \
        in text


def test_no_answer_carries_the_hidden_inputs_back_in_its_shape(tmp_path,
                                                                 sandbox):
    """Arrays whose shape holds the hidden data, and labels counted: the
    feedback of a hidden check shows neither shapes nor counts."""
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "mlp.py").write_text((ROOT / "mlp.py").read_text() + '''

class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        code = [len(X), X.shape[1]] + [int(abs(v) * 1000) + 1000
                                        for v in X.ravel()[:3]] + [0]
        return np.zeros(code)

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)
''')
    lines = grading.grade_submission(folder).lines(verbose=True)
    hidden = "\n".join(line for line in lines if line.startswith("  hidden"))
    for check in questions.CHECKS:
        if check.public:
            continue
        generator = check.run()
        call = next(generator)
        generator.close()
        for X in call.args[:1]:
            if isinstance(X, np.ndarray) and X.ndim == 2:
                for value in X.ravel()[:3]:
                    assert str(int(abs(value) * 1000) + 1000) not in hidden
    assert "shape (" not in hidden, hidden
    assert not re.search(r"\d+ of \d+", hidden), hidden


def test_ctrl_c_stops_a_class_and_keeps_what_was_graded(tmp_path, sandbox):
    """Ctrl-C in grade-class: no new submission starts, the one being
    graded finishes, grades.csv and its feedback hold those graded, the
    exit code is 130 and no sandbox is left."""
    class_dir, out = tmp_path / "class", tmp_path / "results"
    for index in range(8):          # each import hangs until the budget
        folder = class_dir / f"s{index}"
        folder.mkdir(parents=True)
        (folder / "mlp.py").write_text("while True:\n    pass\n")
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "grade-class", str(class_dir), "--out",
         str(out), "--jobs", "1", "--budget", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = process.stdout.readline()
    assert first.startswith("[1/8] s0: 0 / 45"), first
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert re.search(r"interrupted: [12] of 8 submissions graded", rest), rest
    with open(out / "grades.csv", newline="") as f:
        graded = [row["student"] for row in csv.DictReader(f)]
    assert graded in (["s0"], ["s0", "s1"])
    assert sorted(p.stem for p in (out / "feedback").iterdir()) == graded
    if os.geteuid() == 0:
        assert sandbox_module.leftover_processes() == []


# -- any answer gets a verdict, never a grader error -------------------------

def _array(shape, dtype, scale, seed):
    values = np.asarray(np.random.RandomState(seed).randn(*shape) * scale)
    with np.errstate(all="ignore"):
        return values.astype(dtype)


def _junk(draw, call):
    """An answer to call: often one of the right form with odd contents,
    sometimes anything at all."""
    dtypes = st.sampled_from(["float64", "float32", "int64", "uint8", "bool"])
    scales = st.sampled_from([0.0, 1.0, 1e3, 1e300, np.inf, np.nan])
    seeds = st.integers(0, 3)

    def arrays(shape=None):
        shapes = st.just(shape) if shape else st.lists(
            st.integers(0, 6), max_size=3).map(tuple)
        return st.builds(_array, shapes, dtypes, scales, seeds)
    params = call.net.params or {}
    like_params = st.fixed_dictionaries(
        {name: arrays(np.shape(params[name])) if name in params else arrays()
         for name in questions.PARAM_NAMES})
    X = call.args[0] if call.args else np.zeros((3, 2))
    sized = arrays((len(X), call.net.sizes[2])) | arrays((len(X),))
    plain = st.none() | st.integers() | st.floats() | st.text(max_size=5) \
        | arrays() | sized
    anything = st.recursive(plain, lambda c: st.lists(c, max_size=3)
                            | st.tuples(c, c) | like_params, max_leaves=6)
    result = draw(st.one_of(
        anything, sized, st.tuples(st.floats(), like_params),
        st.builds(questions.Raised, st.sampled_from(["ValueError",
                                                     "an exception"]),
                  st.booleans())))
    if call.want:
        wanted = {"params": like_params | anything,
                  "batches": st.lists(st.lists(st.integers(0, 30),
                                               max_size=8), max_size=14)
                  | anything}
        wanted["labels"] = wanted["batches"]
        return (result, *(draw(wanted[name]) for name in call.want))
    return result


@given(st.data())
def test_every_check_judges_any_answer_without_failing_itself(data):
    check = data.draw(st.sampled_from(questions.CHECKS))
    run = check.run()
    with np.errstate(all="ignore"):      # as grading.run_check runs them
        _drive(run, data)


def _drive(run, data):
    try:
        call = next(run)
        for _ in range(400):            # the longest check makes ~300 calls
            answer = _junk(data.draw, call)
            if isinstance(answer, questions.Raised) and not call.catch:
                return                  # the runner reports it, not the check
            if call.stand_in is not None and data.draw(st.booleans()):
                try:
                    call.stand_in("loss", data.draw(st.none()
                                                    | st.fixed_dictionaries(
                                                        {"params": st.none()})))
                except questions.Wrong:
                    pass
            call = run.send(answer)
    except (StopIteration, questions.Wrong):
        pass
    finally:
        run.close()
