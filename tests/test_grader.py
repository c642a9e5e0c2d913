"""The grader's trusted side, piece by piece: the reference formulas, the
registry of checks, the comparisons of feedback.py and their messages, the
secret per-submission problems, the stand-ins of the solved mlp.py, the
strict reading of replies and of submitted files, the reports, grades.csv
and the command line. Every check is also driven in-process with hostile
answers (no sandbox needed), and a few submissions are graded in the
sandbox. (The sandbox itself is attacked in test_grader_attacks.py.)
"""
import ast
import collections
import copy
import csv
import dataclasses
import inspect
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import feedback
import grading
import handout
import mlp
import questions
import reference
import sandbox as sandbox_module
import sandbox_entry
import student_ids
import toy
from mlp import TwoLayerMLP
from sandbox import Ended

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"
SOLVED = ROOT / "mlp.py"
HIDDEN = [c for c in questions.CHECKS if not c.public]
#: The points of the automatic questions and of those graded by hand, which
#: test_the_checks_add_up_to_the_problem_sets_points holds to the notebook's.
POINTS = {q: points for q, (_, points) in questions.QUESTIONS.items()}
AUTOMATIC = sum(POINTS.values())
BY_HAND = sum(points for _, _, points, _ in questions.MANUAL)
ALL_FOUR = questions.PARAM_NAMES


def _context(seed, verdicts=None, judged=frozenset()):
    return questions.Context(np.random.RandomState(seed), dict(verdicts or {}),
                             frozenset(judged))


def _check(name):
    return next(c for c in questions.CHECKS if c.name == name)


def _verdict(check, passed, missing=False, wholly=False, known=False):
    """The Verdict grading records for check."""
    return questions.Verdict(question=check.question, points=check.points,
                             passed=passed, judged=check.judges,
                             missing=missing, wholly=wholly, known=known)


def _verdicts_before(check, passed, **flags):
    """The verdicts of the hidden checks before check; ``passed(c)``."""
    before = questions.CHECKS[:questions.CHECKS.index(check)]
    return {c.name: _verdict(c, passed(c), **flags)
            for c in before if not c.public}


# -- the references ----------------------------------------------------------

@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_the_references_give_the_problem_sets_toy_numbers(activation):
    """The grader's toy problem gives the numbers the public tests show."""
    import test_public

    net, X, y = questions.toy_problem(activation)
    loss = reference.loss(net.params, X, y, activation, test_public.TOY_REG)
    assert abs(loss - test_public.TOY_LOSS[activation]) < 1e-7


def test_the_toy_weights_are_those_the_handout_draws():
    state = np.random.get_state()
    try:
        np.random.seed(toy.TOY.weight_seed)
        drawn = TwoLayerMLP(*toy.TOY.sizes, std=toy.TOY.std).params
    finally:
        np.random.set_state(state)
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


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_reference_gradients_match_finite_differences(activation, seed):
    net, X, y = questions.problem(_context(seed), activation)
    grads = reference.gradients(net.params, X, y, activation, 0.3)
    numeric = _numeric_gradients(
        lambda p: reference.loss(p, X, y, activation, 0.3), net.params)
    for name in questions.PARAM_NAMES:
        assert np.linalg.norm(numeric[name] - grads[name]) <= 1e-6 * max(
            np.linalg.norm(grads[name]), 1.0), name


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
    source = SOLVED.read_text()
    for mistake in sorted(mistakes):
        for name in names[mistake]:
            source = mutants.apply(source, mutants.MUTANTS[name])
    module = {"__name__": "mutant"}
    exec(compile(source, str(SOLVED), "exec"), module)
    net, X, y = questions.problem(_context(3), "sigmoid")
    mutant = module["TwoLayerMLP"](*net.sizes, activation="sigmoid")
    mutant.params = net.params
    _, got = mutant.loss(X, y, reg=0.3)
    expected = reference.gradients(net.params, X, y, "sigmoid", 0.3,
                                   frozenset(mistakes))
    for name in compared:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("activation", sorted(reference.ACTIVATIONS))
def test_every_gradient_mistake_is_told_apart_on_the_hidden_problems(
        activation):
    """On problems as the checks draw them, each combination of mistakes
    the grader knows gives gradients of its own, so a diagnosis is never
    ambiguous."""
    for seed, large in ((11, False), (14, False), (26, True), (31, False)):
        net, X, y = questions.problem(_context(seed), activation, large)
        for name in questions.PARAM_NAMES:
            groups = reference.gradient_mistakes(name, activation)
            for mistakes in reference.combinations(groups):
                got = reference.data_gradients(net.params, X, y, activation,
                                               mistakes)[name]

                def compute(m, name=name):
                    return reference.data_gradients(net.params, X, y,
                                                    activation, m)[name]
                found = reference.explain(got, compute, groups,
                                          feedback.RTOL)
                assert found is not None, (name, mistakes)
                if found != mistakes:   # only when the two are the same
                    np.testing.assert_allclose(got, reference.data_gradients(
                        net.params, X, y, activation, found)[name])


def test_every_mistake_belongs_to_a_question_and_says_what_to_do():
    for name, mistake in reference.MISTAKES.items():
        assert mistake.question in questions.QUESTIONS, name
        assert len(mistake.words) > 30, name


def test_the_solution_agrees_with_the_references():
    """The repository's mlp.py, called directly: what the sandbox would
    send back for problems as the checks draw them equals the
    references."""
    for activation in reference.ACTIVATIONS:
        for seed in (1, 5, 9):
            spec, X, y = questions.problem(_context(seed), activation,
                                           large=seed == 9)
            net = TwoLayerMLP(*spec.sizes, activation=activation)
            net.params = spec.params
            loss, grads = net.loss(X, y, reg=0.7)
            expected_loss = reference.loss(spec.params, X, y, activation, 0.7)
            assert abs(feedback.as_number("loss", loss) - expected_loss) <= \
                feedback.RTOL * expected_loss
            expected = reference.gradients(spec.params, X, y, activation, 0.7)
            for name in questions.PARAM_NAMES:
                feedback.expect_array(name, grads[name], expected[name])


# -- the registry ------------------------------------------------------------

def _load_questions_with(change):
    source = (ROOT / "instructor" / "questions.py").read_text()
    changed = change(source)
    assert changed != source
    exec(compile(changed, "questions_changed.py", "exec"),
         {"__name__": "questions_changed"})


def test_the_registry_loads_unchanged():
    """The control for the two tests below: questions.py as it is loads."""
    _load_questions_with(lambda s: s + "\n")


def test_a_check_without_its_decorator_stops_the_grader_loading():
    with pytest.raises(RuntimeError, match="forgotten_check has no @check"):
        _load_questions_with(lambda s: s.replace(
            "\n_verify()", "\ndef forgotten_check(ctx):\n    yield None\n\n"
                           "\n_verify()"))


def test_points_that_do_not_add_up_stop_the_grader_loading():
    what, points = questions.QUESTIONS["Q2.3"]
    with pytest.raises(RuntimeError,
                       match=rf"the checks of Q2\.3 add up to {points} "
                             rf"points, QUESTIONS gives {points + 1}"):
        _load_questions_with(lambda s: s.replace(
            f'"{what}", {points})', f'"{what}", {points + 1})'))


def test_a_check_must_be_a_generator_of_a_known_question_and_parts():
    before = list(questions.CHECKS)

    def generator(ctx):
        yield questions.Fresh()
    with pytest.raises(TypeError, match="must be a generator"):
        questions.check("Q2.1", points=1)(lambda ctx: None)
    with pytest.raises(ValueError, match="unknown question"):
        questions.check("Q9.9", points=1)(generator)
    with pytest.raises(ValueError, match="a public check carries no points"):
        questions.check("Q2.1", points=1, public=True)(generator)
    with pytest.raises(ValueError, match="a public check carries no points, "
                                         "a hidden one does"):
        questions.check("Q2.1", points=0)(generator)
    with pytest.raises(ValueError, match="integer >= 0"):
        questions.check("Q2.1", points=-1)(generator)
    with pytest.raises(ValueError, match=r"no part \['softmax'\] in PARTS"):
        questions.check("Q2.1", points=1, judges=("softmax",))(generator)
    assert questions.CHECKS == before       # none of them was registered


def test_the_checks_add_up_to_the_problem_sets_points():
    """The grader's points are those the notebook shows: each question's
    heading (### Q2.1 [5 pts]: ...), each problem's (## Problem 2 [50
    pts]), the automatic total in its introduction; and the checks of each
    question add up to its points."""
    import platforms

    cells = json.loads((ROOT / "pset3.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells
                     if c["cell_type"] == "markdown")
    shown = {q: int(p) for q, p in re.findall(
        r"^### (Q\d+\.\d+) \[(\d+) pts", text, re.M)}
    assert shown == {**POINTS, **{q: p for q, _, p, _ in questions.MANUAL}}
    problems = re.findall(r"^## Problem (\d+) \[(\d+) pts\]", text, re.M)
    assert problems and all(int(total) == sum(
        p for q, p in shown.items() if q.startswith(f"Q{number}."))
        for number, total in problems)
    assert f"{platforms.AUTOMATIC} ({AUTOMATIC} points) are graded " \
           f"automatically" in " ".join(text.split())
    for question, (_, points) in questions.QUESTIONS.items():
        assert sum(c.points for c in questions.CHECKS
                   if c.question == question) == points
    assert all(c.points == 0 for c in questions.CHECKS if c.public)
    assert all(c.points > 0 for c in HIDDEN)


def test_every_part_a_student_writes_is_judged_by_a_check_of_its_question():
    for part, question in questions.PARTS.items():
        assert any(part in c.judges and c.question == question
                   for c in questions.CHECKS), part
    for check in questions.CHECKS:
        assert check.judges <= set(questions.PARTS), check.name


# -- comparisons and their messages (feedback.py) ----------------------------

def _numbers_in(message):
    """The numbers a message shows besides those of its fixed words: the
    mistakes' words, names (dW2, float64, l2_value), questions (Q2.1),
    shapes by their axes ((1, H)) and the few fixed phrases with
    digits. A hidden check's message must show none."""
    for mistake in reference.MISTAKES.values():
        message = message.replace(mistake.words, " ")
    for words in ("0.5 * sum(W**2)", "max(N // batch_size, 1)", "1%",
                  f"{questions.PASS_ACCURACY}"):
        message = message.replace(words, " ")
    message = re.sub(r"\((?:[A-Z?1], )*[A-Z?1],?\)", " ", message)
    message = re.sub(r"\bQ\d\.\d\b", " ", message)
    message = re.sub(r"\b[A-Za-z_]\w*", " ", message)
    return re.findall(r"\d+", message)


def test_the_test_of_numbers_finds_them():
    assert _numbers_in("dW2: got shape (1, H) / expected (H,); within 1% "
                       "of the right values; an ndarray of float64") == []
    assert _numbers_in("got shape (7, H) / expected (N, H)") == ["7"]
    assert _numbers_in("the loss: got 2.5 / expected 1.25") == \
        ["2", "5", "1", "25"]
    assert _numbers_in("dW2: 3 of 12 entries") == ["3", "12"]


NAMES = {2: "N", 3: "C"}


def test_a_hidden_comparison_never_shows_the_expected_values():
    expected = np.array([[0.123456, 2.5, -7.0], [3.25, -4.125, 9.5]])
    for got in (expected * 2, expected[:1], expected.T, expected.tolist(),
                None, expected + 1e-3, np.zeros_like(expected),
                np.full((2, 3), np.nan), expected.ravel()):
        with pytest.raises(feedback.Wrong) as info:
            questions.judge("scores", got, expected, shape="(N, C)",
                            names=NAMES)
        message = str(info.value)
        assert _numbers_in(message) == [], message
        for value in ("0.123", "2.5", "3.25", "4.125", "9.5", "(2, 3)"):
            assert value not in message, (value, message)
    with pytest.raises(feedback.Wrong) as info:
        questions.judge("scores", expected.T, expected, shape="(N, C)",
                        names=NAMES)
    assert "got shape (C, N) / expected (N, C)" in str(info.value)
    with pytest.raises(feedback.Wrong) as info:
        feedback.expect_array("scores", expected * 1.001, expected)
    assert str(info.value) == ("scores: within 1% of the right values, but "
                               "not within the tolerance")
    with pytest.raises(feedback.Wrong) as info:
        feedback.expect_labels("predict", np.array([3, 1, 2]),
                               np.array([0, 1, 2]))
    assert str(info.value) == ("predict: some labels differ from the "
                               "expected ones")


def test_a_hidden_shape_is_told_by_its_axes():
    names = {5: "N", 7: "H"}
    assert feedback.axes((1, 7), names) == "(1, H)"
    assert feedback.axes((7,), names) == "(H,)"
    # An axis of no name, or more than two axes: nothing is told.
    assert feedback.axes((5, 9), names) is None
    assert feedback.axes((1, 5, 7), names) is None
    with pytest.raises(feedback.Wrong,
                       match=re.escape("got another shape / expected (H,)")):
        feedback.as_array("db1", np.zeros((2, 1, 2)), "(H,)", (7,), names)
    with pytest.raises(feedback.Wrong,
                       match=re.escape("db1: got shape (1, H) / expected "
                                       "(H,)")):
        feedback.as_array("db1", np.zeros((1, 7)), "(H,)", (7,), names)


def test_closeness_and_signature_say_how_far_off_in_words():
    expected = np.array([1.0, -2.0, 3.0])
    assert feedback.closeness(0.001).startswith("within 1%")
    assert feedback.closeness(0.2) == "off by more than 1%"
    assert feedback.closeness(3.0) == "far off"
    assert "all zeros" in feedback.signature(np.zeros(3), expected)
    assert "a multiple of the right one" in feedback.signature(
        -2.5 * expected, expected)
    assert feedback.signature(expected[::-1], expected) == \
        "no known mistake gives this"
    assert feedback.relative_error(expected * 1.5, expected) == \
        pytest.approx(0.5)


def test_a_public_comparison_says_got_and_expected():
    with pytest.raises(feedback.Wrong,
                       match=r"got shape \(3,\) / expected \(C,\) = \(2,\)"):
        feedback.as_array("db2", np.zeros(3), "(C,)", (2,), public=True)
    with pytest.raises(feedback.Wrong,
                       match=r"db2: got \[1\.5 2\. \] / expected \[1\. 2\.\]; "
                             r"relative error 2\.2e-01"):
        feedback.expect_array("db2", np.array([1.5, 2.0]),
                              np.array([1.0, 2.0]), public=True)
    with pytest.raises(feedback.Wrong,
                       match="predict: 1 of 3 labels differ"):
        feedback.expect_labels("predict", np.array([3, 1, 2]),
                               np.array([0, 1, 2]), public=True)
    with pytest.raises(feedback.Wrong, match=r"NaN or inf in 1 of 2 entries"):
        feedback.as_array("x", np.array([np.nan, 1.0]), "(N,)", (2,),
                          public=True)


@pytest.mark.parametrize("got, words", [
    (None, "got None / expected an ndarray"),
    ([1.0, 2.0], "got a list / expected an ndarray"),
    (np.array(["a", "b"]), "got dtype <U1 / expected floating point"),
    (np.array([np.nan, 1.0]), "got NaN or inf / expected finite numbers"),
    (np.array([1.0, np.inf], dtype=np.float16),
     "got NaN or inf / expected finite numbers"),
    (feedback.Other("Tensor"), "got an object of another type / expected"),
    (feedback.Other("ndarray of float128"), "got an ndarray of float128"),
    (feedback.Raised("ValueError", function="relu"),
     "x: raised ValueError (in relu)"),
    (feedback.Raised("NotImplementedError", True),
     "x: is not implemented yet"),
])
def test_an_answer_is_checked_for_presence_type_dtype_and_finiteness(
        got, words):
    with pytest.raises(feedback.Wrong, match=re.escape(words)) as info:
        feedback.as_array("x", got, "(N,)", (2,))
    # Nothing of a part is in an answer that is not numbers (or a part not
    # written yet); NaN or an exception is a bug in one.
    bug = isinstance(got, np.ndarray) and got.dtype.kind == "f" or \
        isinstance(got, feedback.Raised) and not got.not_implemented
    assert info.value.wholly == (not bug)
    assert info.value.missing == (got is None or (
        isinstance(got, feedback.Raised) and got.not_implemented))


def test_integers_and_booleans_are_numbers_and_come_back_as_floats():
    for got in (np.array([1, 2]), np.array([True, False]),
                np.array([1, 2], dtype=np.uint64),
                np.array([1.5, 2.0], dtype=np.float16)):
        back = feedback.as_array("x", got, "(N,)", (2,))
        assert back.dtype == np.float64
        np.testing.assert_array_equal(back, got.astype(np.float64))


def test_an_unknown_type_name_is_never_shown():
    """The sandbox sends the type's name, which the student's code
    chooses: only names of the closed list are shown."""
    leaking = feedback.Other("W1_is_0_4967_and_N_is_17")
    assert str(leaking) == "an object of another type"
    assert str(feedback.Other("ndarray of complex128")) == \
        "an ndarray of complex128"


def test_labels_must_be_integers_and_numbers_real():
    with pytest.raises(feedback.Wrong, match="expected integer labels"):
        feedback.expect_labels("predict", np.zeros(3), np.zeros(3, int))
    with pytest.raises(feedback.Wrong, match="expected integer labels"):
        feedback.expect_labels("predict", np.zeros(3, bool), np.zeros(3, int))
    for got in ("1.0", True, None, np.zeros(2), float("inf"), float("nan"),
                feedback.Other("Tensor"), [1.0], np.array([True])):
        with pytest.raises(feedback.Wrong):
            feedback.as_number("the loss", got)
    assert feedback.as_number("the loss", np.float32(2.5)) == 2.5
    assert feedback.as_number("the loss", np.array(3.0)) == 3.0
    assert feedback.as_number("the loss", np.array([4.0])) == 4.0
    assert feedback.as_number("the loss", 7) == 7.0
    with pytest.raises(feedback.Wrong, match="an integer too large"):
        feedback.as_number("the loss", 10 ** 400)
    with pytest.raises(feedback.Wrong, match="is not implemented yet") as info:
        feedback.as_number("the loss", feedback.Raised("NotImplementedError",
                                                       True))
    assert info.value.missing


def test_a_wrong_answer_explained_by_a_mistake_is_not_wholly_wrong():
    assert feedback.Wrong("x", {"grad_sum"}, wholly=True).wholly is False
    assert feedback.Wrong("x", None, wholly=True).wholly is True
    assert feedback.Wrong("x", ["a", "a"]).mistakes == frozenset({"a"})


def test_a_known_gradient_mistake_is_named_and_a_kept_axis_is_told():
    net, X, y = questions.problem(_context(4), "sigmoid")
    names = questions.names_of(net, X)
    expected = reference.data_gradients(net.params, X, y, "sigmoid")

    def compute(m):
        return reference.data_gradients(net.params, X, y, "sigmoid", m)["b2"]
    groups = reference.gradient_mistakes("b2", "sigmoid")
    with pytest.raises(feedback.Wrong) as info:
        questions.judge_gradient("db2", expected["b2"] * len(X),
                                 expected["b2"], compute, groups, names)
    assert info.value.mistakes == {"grad_sum"}
    assert reference.MISTAKES["grad_sum"].words in str(info.value)
    with pytest.raises(feedback.Wrong) as info:
        questions.judge_gradient("db2", expected["b2"][None, :],
                                 expected["b2"], compute, groups, names)
    assert info.value.mistakes == {"bias_keepdims"}
    assert "got shape (1, C) / expected (C,)" in str(info.value)
    questions.judge_gradient("db2", expected["b2"].copy(), expected["b2"],
                             compute, groups, names)      # right: no Wrong


# -- replies and untrusted text ----------------------------------------------

def _round_trip(value):
    return grading.decode(json.loads(json.dumps(sandbox_entry.encode(value))))


def test_encoded_answers_come_back_exactly():
    rng = np.random.RandomState(0)
    for dtype in ("float64", "float32", "float16", "int64", "int32", "uint8",
                  "uint64", "bool"):
        array = (rng.randn(3, 4) * 1e3).astype(dtype)
        back = _round_trip(array)
        assert back.dtype == array.dtype and np.array_equal(back, array)
    nested = (1.5, {"W1": np.array([np.nan, np.inf]), "n": 3}, [None, "s"])
    loss, grads, rest = _round_trip(nested)
    assert loss == 1.5 and grads["n"] == 3 and rest == [None, "s"]
    assert np.isnan(grads["W1"][0]) and np.isinf(grads["W1"][1])
    assert isinstance(_round_trip(object()), feedback.Other)
    assert _round_trip(10 ** 400) == 10 ** 400
    Pair = collections.namedtuple("Pair", "loss grads")
    assert _round_trip(Pair(0.5, {"W1": 1})) == (0.5, {"W1": 1})
    with pytest.warns(PendingDeprecationWarning):     # np.matrix warns
        matrix = np.matrix([[1.0, 2.0]])
    assert _round_trip(matrix).shape == (1, 2)
    assert _round_trip(np.zeros(3, dtype=object)).type_name == \
        "ndarray of object"
    assert _round_trip(np.zeros(3, dtype=complex)).type_name == \
        "ndarray of complex128"


def test_a_request_carries_the_calls_inputs_exactly():
    """What the sandbox is asked: the call's inputs, the network to build,
    and what it must send back; nothing of the expected answer."""
    net, X, y = questions.problem(_context(2), "relu")
    call = questions.Call(net, "train", (X, y), {"num_epochs": 2},
                          then=(("predict", (X,), {}),), want=("params",))
    request = sandbox_entry.decode_request(
        json.loads(json.dumps(grading.request_of(call))))
    np.testing.assert_array_equal(request["args"][0], X)
    np.testing.assert_array_equal(request["args"][1], y)
    assert request["args"][1].dtype == y.dtype
    for name in questions.PARAM_NAMES:
        np.testing.assert_array_equal(request["net"]["params"][name],
                                      net.params[name])
    assert request["want"] == ["result", "params"]
    assert request["method"] == "train" and request["kwargs"] == \
        {"num_epochs": 2}
    assert request["then"][0][0] == "predict"
    with pytest.raises(ValueError, match="only"):
        grading.request_of(questions.Call(net, "train", want=("history_",)))


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
    {"kind": "ndarray", "dtype": "float64", "shape": [True], "base64": ONE},
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


def test_an_other_types_name_is_cleaned():
    other = grading.decode({"kind": "other", "type": "a\nb" + "c" * 100})
    assert isinstance(other, feedback.Other)
    assert "\n" not in other.type_name and len(other.type_name) <= 60


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
    assert grading.clean("short") == "short"


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


def test_what_a_catching_check_receives_of_an_error_is_from_closed_lists():
    raised = grading._raised({"ok": False, "error": {
        "type": "ValueError", "message": "N = 17", "not_implemented": False,
        "where": {"line": 3, "function": "train"}}})
    assert isinstance(raised, feedback.Raised)
    assert str(raised) == "raised ValueError (in train)"
    leaking = grading._raised({"ok": False, "error": {
        "type": "N_is_17", "message": "", "not_implemented": "yes",
        "where": {"line": 3, "function": "H_is_9"}}})
    assert str(leaking) == "raised an exception"
    assert leaking.not_implemented is False
    assert str(grading._raised({"ok": False})) in (
        "raised an exception", "raised Exception")     # no name to show


def test_a_call_that_raises_fails_its_check_with_words_from_closed_lists():
    check, call = _check("forward_pass"), questions.Call(
        questions.Net((3, 4, 2)), "forward", (np.zeros((2, 3)),))
    missing = grading._failure(check, call, {"ok": False, "error": {
        "type": "NotImplementedError", "message": "forward: not yet",
        "where": {"line": 9, "function": "forward"},
        "not_implemented": True}})
    assert (missing.status, missing.message, missing.missing) == \
        ("not implemented yet", "NotImplementedError in forward", True)
    undefined = grading._failure(check, call, {"ok": False, "error": {
        "type": "AttributeError", "message": "", "where": None}})
    assert "is TwoLayerMLP.forward defined?" in undefined.message
    leaking = grading._failure(check, call, {"ok": False, "error": {
        "type": "ValueError", "message": "X = [[0.25]]",
        "where": {"line": 9, "function": "forward"}}})
    assert leaking.message == "raised ValueError in forward"
    unsendable = grading._failure(check, call, {"ok": False,
                                                "unreadable": "N = 17"})
    assert "17" not in unsendable.message and unsendable.status == "error"


# -- submitted files ---------------------------------------------------------

def test_only_a_regular_file_within_the_limit_is_read(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    assert grading.read_regular_file(tmp_path / "ok.py", 100) == \
        (b"x = 1\n", None)
    (tmp_path / "link.py").symlink_to(tmp_path / "ok.py")
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "folder.py").mkdir()
    (tmp_path / "big.py").write_bytes(b"#" * 101)
    (tmp_path / "exact.py").write_bytes(b"#" * 100)
    assert grading.read_regular_file(tmp_path / "exact.py", 100) == \
        (b"#" * 100, None)
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
], ids=["not json", "cells not a list", "metadata not a dict", "deep",
        "too many parts", "no cells"])
def test_a_broken_notebook_is_reported_not_fatal(tmp_path, text, note):
    (tmp_path / "pset3.ipynb").write_text(text)
    answers = grading.manual_answers(tmp_path)
    assert [question for question, _ in answers] == \
        [q for q, _, _, _ in questions.MANUAL]
    assert all(n.startswith(note) for _, n in answers), answers


def test_a_missing_or_linked_notebook_is_said_so(tmp_path):
    assert {n for _, n in grading.manual_answers(tmp_path)} == {"no notebook"}
    (tmp_path / "elsewhere.ipynb").write_text('{"cells": []}')
    (tmp_path / "pset3.ipynb").symlink_to(tmp_path / "elsewhere.ipynb")
    notes = {n for _, n in grading.manual_answers(tmp_path)}
    assert len(notes) == 1 and notes.pop().startswith(
        "notebook a symbolic link")


def test_answers_in_a_notebook_are_found_by_their_grade_id(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {"nbgrader": {
        "grade_id": "problem1_answers"}}, "source": ["Q1.1: ", "dz = ..."]},
        {"cell_type": "markdown", "metadata": {"nbgrader": {
            "grade_id": "q2_7_answer"}}, "source": "YOUR ANSWER HERE"}]
    (tmp_path / "pset3.ipynb").write_text(json.dumps({"cells": cells}))
    expected = ["" if grade_id == "problem1_answers" else
                "not answered yet" if grade_id == "q2_7_answer" else
                "answer missing" for _, _, _, grade_id in questions.MANUAL]
    assert [note for _, note in grading.manual_answers(tmp_path)] == expected
    assert "not answered yet" in expected and "" in expected


# -- reports and grades.csv ---------------------------------------------------

def _report(student, passed):
    return grading.Report(student, results=[
        grading.CheckResult(c, "passed" if c.name in passed else "failed",
                            "" if c.name in passed else "why")
        for c in questions.CHECKS], manual=[(q, "") for q, _, _, _ in
                                            questions.MANUAL])


def test_grades_csv_has_a_column_per_question_and_names_the_feedback(
        tmp_path):
    reports = [_report("=HYPERLINK(1)", {"sigmoid_function"}),
               _report("s2", {c.name for c in questions.CHECKS})]
    reports[0].notes.append("mlp.py a symbolic link: refused")
    grading.write_grades(tmp_path / "grades.csv", reports)
    with open(tmp_path / "grades.csv", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    auto = [f"{q} [{p}]" for q, p in POINTS.items()]
    hand = [f"{q} [{p}, manual]" for q, _, p, _ in questions.MANUAL]
    assert header == ["student", *auto, "total", "maximum", *hand, "notes",
                      "feedback"]
    assert all(len(row) == len(header) for row in rows)
    first, second = (dict(zip(header, row)) for row in rows[1:])
    assert rows[1][0] == "'=HYPERLINK(1)"     # not a formula
    assert [first[c] for c in auto] == ["1"] + ["0"] * (len(auto) - 1)
    assert (first["total"], first["maximum"]) == ("1", str(AUTOMATIC))
    assert [first[c] for c in hand] == [""] * len(hand)
    assert first["notes"] == "mlp.py a symbolic link: refused"
    link = first["feedback"]
    assert link == student_ids.feedback_file_name("=HYPERLINK(1)")
    assert link.endswith(".txt") and link[0] not in "=+-@" and "/" not in link
    assert (second["total"], second["maximum"]) == (str(AUTOMATIC),) * 2
    assert second["feedback"] == "s2.txt"


def test_the_report_lists_notes_questions_manual_ones_and_one_total():
    report = _report("s", {"sigmoid_function", "forward_pass"})
    report.results[1].message = "a note for the student"
    report.notes.append("note text")
    lines = report.lines(verbose=False)
    assert lines[0] == "note: note text"
    two = sum(c.points for c in questions.CHECKS
              if c.name in ("sigmoid_function", "forward_pass"))
    assert lines[1] == \
        f"Q2.1 forward pass and loss with sigmoid: {two} / {POINTS['Q2.1']}"
    assert lines[2] == \
        f"Q2.2 backward pass with sigmoid: 0 / {POINTS['Q2.2']}"
    assert lines[1 + len(POINTS)] == "Q1.1 dL/da2 by hand: manual, 5 points"
    assert lines[-2] == f"graded by hand: {BY_HAND} points, not in the total"
    assert lines[-1] == f"total: {two} / {AUTOMATIC}"
    assert [line.split(" ")[0] for line in lines[1:-2]] == [
        *POINTS, *(q for q, _, _, _ in questions.MANUAL)]
    verbose = report.lines(verbose=True)
    assert "  hidden gradient_dW2: failed: why" in verbose
    assert "  public toy_training: failed: why" in verbose
    assert "  hidden forward_pass: passed: a note for the student" in verbose
    assert not any("sigmoid_function" in line for line in verbose)


def test_a_failure_is_shown_under_the_question_its_check_names():
    """The public toy training is shown (with no points) under the
    question whose part it finds at fault."""
    report = _report("s", set())
    toy = next(r for r in report.results if r.check.name == "toy_training")
    toy.question = "Q2.1"
    verbose = report.lines(verbose=True)
    at = verbose.index("  public toy_training: failed: why")
    assert verbose[at - 1].startswith("  hidden ")
    above = [line for line in verbose[:at] if line.startswith("Q")]
    assert above[-1].startswith("Q2.1 ")
    assert report.total() == (0, AUTOMATIC)


def test_the_secret_is_long_private_and_stable(tmp_path):
    grading.write_secret(tmp_path / "a")
    grading.write_secret(tmp_path / "b")
    a, b = (tmp_path / "a").read_text(), (tmp_path / "b").read_text()
    assert a != b and len(a.strip()) == 64
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o600
    grading.write_secret(tmp_path / "a", replace=False)   # the first kept
    assert (tmp_path / "a").read_text() == a
    grading.write_secret(tmp_path / "c", replace=False)
    assert len((tmp_path / "c").read_text().strip()) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]
    assert grading.secret() == grading.secret()
    assert len(grading.secret()) >= 32


# -- the stand-ins: parts of the solved mlp.py --------------------------------

#: Every part a check may set in: the parts students write, the loss that
#: composes them, train and predict.
STAND_IN_NAMES = tuple(dict.fromkeys(
    (*questions.PARTS, *questions.ALL_BUT_PREDICT, "predict")))


def _solved_object(name):
    """The solved mlp.py's function of that name, or its method, and
    whether it is a method."""
    if name in vars(mlp.TwoLayerMLP):
        return vars(mlp.TwoLayerMLP)[name], True
    return getattr(mlp, name), False


@pytest.mark.parametrize("name", STAND_IN_NAMES)
def test_a_stand_in_is_exactly_the_named_parts_source(name):
    (part,) = reference.stand_ins([name], SOLVED)
    obj, method = _solved_object(name)
    assert part["name"] == name and part["method"] is method
    # The source inspect finds for the solved object (decorators included),
    # but for the comments after its last line (### END SOLUTION).
    expected = textwrap.dedent(inspect.getsource(inspect.unwrap(obj)))
    assert expected.startswith(part["source"])
    assert all(line.strip().startswith("#") or not line.strip()
               for line in expected[len(part["source"]):].splitlines())
    tree = ast.parse(part["source"])            # it compiles on its own
    compile(part["source"], "<stand-in>", "exec")
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef)
    assert tree.body[0].name == name
    # Its table entry (ACTIVATIONS or PENALTIES) is the one that holds it.
    holders = [[table, key, index]
               for table in ("ACTIVATIONS", "PENALTIES")
               for key, entry in getattr(mlp, table).items()
               for index, function in enumerate(entry) if function is obj]
    if holders:
        assert part.get("table") in holders
    else:
        assert "table" not in part


def test_the_tables_cover_the_activations_and_the_l2_penalty():
    tabled = {p["name"]: p["table"] for p in reference.stand_ins(
        STAND_IN_NAMES, SOLVED) if "table" in p}
    held = {function.__name__ for table in (mlp.ACTIVATIONS, mlp.PENALTIES)
            for entry in table.values() for function in entry}
    assert set(tabled) == held & set(STAND_IN_NAMES) >= {
        "relu", "relu_derivative", "sigmoid", "sigmoid_derivative",
        "l2_value", "l2_gradient"}
    for name, (table, key, index) in tabled.items():
        assert getattr(mlp, table)[key][index] is getattr(mlp, name)


#: A new activation in the solved mlp.py: its two functions, each with a
#: solution region, and its entry in ACTIVATIONS (softsign, x / (1 + |x|),
#: a name of no other test).
NEW_FUNCTIONS = '''def softsign(z):
    """z / (1 + |z|), elementwise."""
    ### BEGIN SOLUTION: softsign; same shape as z
    return z / (1 + np.abs(z))
    ### END SOLUTION


def softsign_derivative(h):
    """d softsign / dz from h = softsign(z): (1 - |h|)**2."""
    ### BEGIN SOLUTION: softsign's derivative; from the output h
    return (1 - np.abs(h)) ** 2
    ### END SOLUTION


#: name -> (activation f'''
NEW_CHECK = '''@check("Q9.9", points=5, judges=("softsign",
                                           "softsign_derivative"))
def softsign_functions(ctx):
    """softsign(z) and softsign_derivative(h)."""
    yield Fresh()
    yield from _activation(ctx, "softsign", [])
    yield from _derivative("softsign", ctx.rng.uniform(-0.9, 0.9, (6, 3)),
                           [])


def _verify():'''


def _grader_with_a_new_activation(tmp_path, reference_entry, parts, check):
    """A copy of the grader's modules whose solved mlp.py has softsign, with
    the grader's tables given as much of it as asked."""
    assert "softsign" not in mlp.ACTIVATIONS
    folder = tmp_path / "grader"
    shutil.copytree(ROOT / "instructor", folder,
                    ignore=shutil.ignore_patterns("__pycache__", ".secret"))
    solved = SOLVED.read_text()
    for old, new in (("#: name -> (activation f", NEW_FUNCTIONS),
                     ("ACTIVATIONS = {\n", "ACTIVATIONS = {\n    \"softsign\": "
                      "(softsign, softsign_derivative),\n")):
        assert solved.count(old) == 1
        solved = solved.replace(old, new)
    (folder / grading.SOLVED_NAME).write_text(solved)
    changes = []
    if reference_entry:
        changes.append(("reference.py", "ACTIVATIONS = {\n",
                        "ACTIVATIONS = {\n    \"softsign\": (lambda z: z / "
                        "(1 + np.abs(z)), lambda h: (1 - np.abs(h)) ** 2),\n"))
    if parts:
        changes.append(("questions.py", "PARTS = {", "PARTS = {\"softsign\": "
                        "\"Q9.9\", \"softsign_derivative\": \"Q9.9\", "))
        changes.append(("questions.py", "QUESTIONS = {",
                        "QUESTIONS = {\"Q9.9\": (\"softsign\", 5), "))
    if check:
        changes.append(("questions.py", "def _verify():", NEW_CHECK))
    for name, old, new in changes:
        text = (folder / name).read_text()
        assert text.count(old) == 1, (name, old)
        (folder / name).write_text(text.replace(old, new))
    return subprocess.run(
        [sys.executable, "-c", "import grading, questions; print("
         "questions.network_parts('softsign')[:2], 'softsign' in "
         "questions.network_parts('relu'), 'softsign' in "
         "grading.KNOWN_FUNCTIONS)"],
        cwd=folder, capture_output=True, text=True)


@pytest.mark.parametrize("given, words", [
    ((False, False, False), [
        "softsign of mlp.py has a solution region but is not in PARTS "
        "(instructor/questions.py): add 'softsign': the question whose "
        "points it costs",
        "softsign_derivative of mlp.py has a solution region but is not in "
        "PARTS",
        "mlp.py's ACTIVATIONS has 'softsign', reference.ACTIVATIONS "
        "(instructor/reference.py) has not: add 'softsign': (f, its "
        "derivative written from the output h) there"]),
    ((True, False, False), ["softsign of mlp.py has a solution region"]),
    ((False, True, True), ["mlp.py's ACTIVATIONS has 'softsign', "
                           "reference.ACTIVATIONS"]),
    ((True, True, False), [
        "no check of Q9.9 judges softsign: write one, @check('Q9.9', "
        "points, judges=('softsign',))"]),
])
def test_a_new_activation_missing_from_a_table_stops_the_grader_loading(
        tmp_path, given, words):
    """The solved mlp.py with a new activation (its functions between
    solution markers, its entry in ACTIVATIONS) and the grader told only
    part of it: the grader refuses to load and says what to add where."""
    done = _grader_with_a_new_activation(tmp_path, *given)
    assert done.returncode != 0
    for line in words:
        assert line in done.stderr, done.stderr


def test_a_new_activation_in_every_table_loads_and_is_its_own_part(
        tmp_path):
    """With the reference's entry, the parts and a check, the grader loads;
    the new activation's network trains with its own functions, the ReLU
    network without them, and the feedback may name them."""
    done = _grader_with_a_new_activation(tmp_path, True, True, True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == \
        "('softsign', 'softsign_derivative') False True\n"


def _stub_module():
    """The student's handout mlp.py (every part a stub), imported."""
    module = types.ModuleType("stub_mlp")
    text = handout.student_source(SOLVED.read_text())
    exec(compile(text, "stub_mlp.py", "exec"), module.__dict__)
    return module


def test_the_stand_ins_set_in_the_handouts_stubs_make_the_solution():
    """The stand-ins, set in the handout's stubs as the sandbox sets them
    in, give the reference's loss and gradients; without one of them the
    loss is still not written (so a stand-in sets in its part only)."""
    net, X, y = questions.problem(_context(6), "sigmoid")
    names = tuple(questions.PARTS) + ("loss",)
    for left_out in (None, "backward", "sigmoid", "log_softmax",
                     "add_penalty"):
        module = _stub_module()
        sandbox_entry.set_in(module, reference.stand_ins(
            [n for n in names if n != left_out], SOLVED))
        model = module.TwoLayerMLP(*net.sizes, activation="sigmoid")
        model.params = net.params
        if left_out == "backward":      # the stub's gradients are None
            loss, grads = model.loss(X, y)
            assert loss == pytest.approx(reference.loss(
                net.params, X, y, "sigmoid", 0.0), rel=1e-12)
            assert all(grads[name] is None for name in questions.PARAM_NAMES)
            continue
        if left_out is not None:
            with pytest.raises(NotImplementedError):
                model.loss(X, y, reg=0.5)
            continue
        loss, grads = model.loss(X, y, reg=0.5)
        assert loss == pytest.approx(reference.loss(
            net.params, X, y, "sigmoid", 0.5), rel=1e-12)
        expected = reference.gradients(net.params, X, y, "sigmoid", 0.5)
        for name in questions.PARAM_NAMES:
            np.testing.assert_allclose(grads[name], expected[name],
                                       rtol=1e-10, atol=1e-12)


def test_a_stand_in_for_an_activation_is_also_set_in_its_table():
    module = _stub_module()
    stub = module.ACTIVATIONS["relu"][0]
    sandbox_entry.set_in(module, reference.stand_ins(["relu"], SOLVED))
    assert module.ACTIVATIONS["relu"][0] is module.relu is not stub
    assert module.ACTIVATIONS["relu"][1] is module.relu_derivative
    np.testing.assert_array_equal(module.relu(np.array([-1.0, 2.0])),
                                  [0.0, 2.0])
    with pytest.raises(NotImplementedError):
        module.relu_derivative(np.array([1.0]))


# -- the problems: secret, and new for every submission -----------------------

def _first_step(check, secret, source, global_seed=0):
    """The first Call of a check whose problems come from the secret and
    the source, as run_checks draws them (NumPy's global generator seeded
    with global_seed first: the problems must not depend on it)."""
    state = np.random.get_state()
    np.random.seed(global_seed)
    ctx = _context(questions.seed_of(secret, source, check.name),
                   judged=check.judges)
    generator = check.run(ctx)
    try:
        step = next(generator)
        while isinstance(step, questions.Fresh):
            step = generator.send(None)
        return step
    finally:
        generator.close()
        np.random.set_state(state)


def _first_call(check, secret, source, global_seed=0):
    """All that the first call of the check sends to the sandbox."""
    return json.dumps(grading.request_of(_first_step(
        check, secret, source, global_seed)), sort_keys=True)


SECRET, OTHER_SECRET = b"s" * 32, b"t" * 32
SOURCE = SOLVED.read_bytes()


@pytest.mark.parametrize("check", HIDDEN, ids=lambda c: c.name)
def test_the_hidden_problems_are_secret_and_new_for_every_submission(check):
    first = _first_call(check, SECRET, SOURCE)
    assert _first_call(check, SECRET, SOURCE, global_seed=1) == first
    assert _first_call(check, SECRET, SOURCE + b"\n") != first
    assert _first_call(check, OTHER_SECRET, SOURCE) != first


def test_each_check_has_problems_of_its_own():
    seeds = {questions.seed_of(SECRET, SOURCE, c.name) for c in HIDDEN}
    assert len(seeds) == len(HIDDEN)


def test_run_checks_draws_each_checks_problems_from_the_secret_and_the_source(
        monkeypatch, tmp_path):
    """run_checks gives each check a generator drawn from the secret, the
    submission's source and the check's name, with the verdicts of the
    hidden checks before it (no sandbox: the runs are recorded)."""
    seen = {}

    class Recorded:
        def __init__(self, submission, check, ctx, deadline):
            self.check = check
            seen[check.name] = (ctx.rng.randint(2 ** 31, size=4).tolist(),
                                list(ctx.verdicts), ctx.judged)

        def result(self):
            return grading.CheckResult(self.check, "passed" if
                                       self.check.name != "forward_pass"
                                       else "failed")

    monkeypatch.setattr(grading, "Run", Recorded)
    results, failure = grading.run_checks(tmp_path, grading.Limits(), 0,
                                          b"my mlp.py", SECRET)
    assert failure is None
    assert [r.check.name for r in results] == \
        [c.name for c in questions.CHECKS]
    hidden_before = []
    for check in questions.CHECKS:
        draws, verdicts, judged = seen[check.name]
        expected = np.random.RandomState(questions.seed_of(
            SECRET, b"my mlp.py", check.name)).randint(2 ** 31, size=4)
        assert draws == expected.tolist(), check.name
        assert verdicts == hidden_before, check.name
        assert judged == check.judges
        if not check.public:
            hidden_before.append(check.name)


# -- answering checks in-process ----------------------------------------------

CLASSES = sandbox_entry.doubles(TwoLayerMLP)


def _solved_answer(call):
    """What the solved mlp.py answers to call, as the grader reads it: the
    request and the reply go through the wire format both ways."""
    request = sandbox_entry.decode_request(
        json.loads(json.dumps(grading.request_of(call))))
    reply = json.loads(json.dumps(sandbox_entry.answer(request, mlp,
                                                       CLASSES)))
    assert reply["ok"] is True
    result = grading.decode(reply["result"])
    if call.want:
        return (result, *(grading.decode(reply[name]) for name in call.want))
    return result


_SOLVED_ANSWERS = {}


def _right(check, seed):
    """respond(call, index): the solved mlp.py's answer to the index-th
    call of check on the problems of seed (the calls of a check do not
    depend on the answers before them, so they are kept), a copy."""
    def respond(call, index):
        key = (check.name, seed, index)
        if key not in _SOLVED_ANSWERS:
            _SOLVED_ANSWERS[key] = (call.function, call.method,
                                    _solved_answer(call))
        function, method, answer = _SOLVED_ANSWERS[key]
        assert (function, method) == (call.function, call.method)
        return copy.deepcopy(answer)
    return respond


def _drive(check, ctx, respond, max_steps=60):
    """Run check as grading.Run does, each Call answered by
    respond(call, index) and each Fresh by None: (the value it returned,
    None) or (None, its Wrong); any other exception escapes."""
    generator = check.run(ctx)
    answer, index = None, 0
    try:
        with np.errstate(all="ignore"):          # as grading.Run runs it
            for _ in range(max_steps):
                step = generator.send(answer)
                if isinstance(step, questions.Fresh):
                    assert set(step.stand_ins) <= set(STAND_IN_NAMES)
                    answer = None
                    continue
                assert isinstance(step, questions.Call), step
                answer = respond(step, index)
                index += 1
    except StopIteration as stop:
        return stop.value, None
    except feedback.Wrong as wrong:
        return None, wrong
    finally:
        generator.close()
    pytest.fail(f"{check.name} did not end after {max_steps} steps")


@pytest.mark.parametrize("check", questions.CHECKS, ids=lambda c: c.name)
def test_the_solution_passes_every_check_in_process(check):
    for seed in (1, 2):
        ctx = _context(seed, _verdicts_before(check, lambda c: True),
                       check.judges)
        value, wrong = _drive(check, ctx, _right(check, seed))
        assert wrong is None, str(wrong)


def _transform(value, array, number=lambda x: x):
    """value with each ndarray a of it replaced by array(a) and each float
    or int x (not bool) by number(x), through tuples, lists and dicts."""
    if isinstance(value, np.ndarray):
        return array(value)
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return number(value)
    if isinstance(value, (list, tuple)):
        items = [_transform(v, array, number) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: _transform(v, array, number) for k, v in value.items()}
    return value


#: Wrong answers, each made from the right one.
WRONG_ANSWERS = {
    "scaled by 1.5": lambda a: _transform(a, lambda x: x * 1.5,
                                          lambda x: x * 1.5),
    "zeros": lambda a: _transform(a, np.zeros_like, lambda x: 0 * x),
    "each vector a row": lambda a: _transform(
        a, lambda x: x.reshape(1, -1) if x.ndim == 1 else x),
    "transposed": lambda a: _transform(
        a, lambda x: x.T.copy() if x.ndim == 2 else x[None, :]),
    "a row short": lambda a: _transform(a, lambda x: x[:-1]),
    "shifted": lambda a: _transform(a, lambda x: x + 1e-3 * np.abs(x).max(),
                                    lambda x: x + 1e-3),
    "one NaN": lambda a: _transform(
        a, lambda x: np.where(np.arange(x.size).reshape(x.shape) == 0,
                              np.nan, x)),
}


def _wrongly(check, seed, make):
    right = _right(check, seed)
    return lambda call, index: make(right(call, index))


@pytest.mark.parametrize("check", HIDDEN, ids=lambda c: c.name)
def test_a_hidden_checks_failure_shows_no_number_of_its_problem(check):
    """Wrong answers of many kinds, graded in-process: every message says
    what is wrong in words and shapes by their axes, never a value, size,
    count or error of the hidden problem."""
    messages = []
    verdict_sets = [{}, _verdicts_before(
        check, lambda c: c.name != "forward_pass")]
    for seed in (1, 2):
        for how, make in WRONG_ANSWERS.items():
            for verdicts in verdict_sets:
                ctx = _context(seed, verdicts, check.judges)
                _, wrong = _drive(check, ctx, _wrongly(check, seed, make))
                if wrong is not None:
                    messages.append((how, str(wrong)))
    assert messages, f"no wrong answer failed {check.name}"
    for how, message in messages:
        assert _numbers_in(message) == [], (how, message)


@pytest.mark.parametrize("name, how, words", [
    ("gradient_dW2", "scaled by 1.5", "dW2: "),
    ("gradient_db1", "each vector a row", "(1, H)"),
    ("forward_pass", "zeros", "forward(X) with sigmoid: "),
    ("cross_entropy_loss", "scaled by 1.5", "cross_entropy(scores, y): "),
    ("predict_labels", "zeros", "labels differ"),
    ("sgd_updates", "scaled by 1.5", "train: the update of "),
    ("sigmoid_learns_digits", "zeros", "the test accuracy stayed below"),
])
def test_a_wrong_answer_fails_its_check_in_words(name, how, words):
    check = _check(name)
    _, wrong = _drive(check, _context(3, {}, check.judges),
                      _wrongly(check, 3, WRONG_ANSWERS[how]))
    assert wrong is not None and words in str(wrong), wrong
    assert _numbers_in(str(wrong)) == [], str(wrong)


def test_a_named_mistake_of_a_charged_part_is_stood_in_on_the_digits():
    """A part whose own check named its mistake stands in for the
    student's on the second training of the digits; one that was missing
    earns the digits nothing, without a training."""
    check = _check("sigmoid_learns_digits")
    calls = []

    def respond(call, index):
        calls.append(index)
        return WRONG_ANSWERS["zeros"](_right(check, 4)(call, index))
    charged = _verdicts_before(check, lambda c: c.name != "forward_pass",
                               known=True)
    charged["forward_pass"] = dataclasses.replace(
        charged["forward_pass"], passed=False)
    ctx = _context(4, charged, check.judges)
    _, wrong = _drive(check, ctx, respond)
    assert calls == [0, 1] and "the reference's forward standing in" in \
        str(wrong)
    assert "forward" not in ctx.judged
    charged["forward_pass"] = dataclasses.replace(
        charged["forward_pass"], missing=True)
    calls.clear()
    _, wrong = _drive(check, _context(4, charged, check.judges), respond)
    assert calls == [] and "your forward is not written" in str(wrong)


@pytest.mark.parametrize("activation", sorted(questions.LEARNING_RATE))
def test_the_reference_learns_the_digits_on_a_draw_that_once_failed(
        activation):
    """This draw of the digits problem (met once in a run of 200 secrets)
    is one on which ReLU at the sigmoid's learning rate of 0.1 left over 50
    of its 64 hidden units dead and the reference below PASS_ACCURACY: at
    the rates of questions.LEARNING_RATE both learn it with a margin."""
    X, y, X_test, y_test, params = questions.digits_problem(
        np.random.RandomState(2539006122))
    net = TwoLayerMLP(64, questions.HIDDEN, 10, activation=activation)
    net.params = params
    net.train(X, y, **questions.DIGITS,
              learning_rate=questions.LEARNING_RATE[activation])
    assert np.mean(net.predict(X_test) == y_test) \
        >= questions.PASS_ACCURACY + 0.1


# -- any answer gets a verdict, never a grader error -------------------------

#: Numbers a hostile mlp.py may send back (ints of any size travel).
ODD_NUMBERS = (float("nan"), float("inf"), -float("inf"), 1e308, -1e308,
               10 ** 400, -10 ** 400, 2 ** 64, 0, -0.0, 5e-324, True, False)
#: Type names the sandbox sends for what is not plain data.
OTHER_NAMES = ("ndarray of complex128", "ndarray of object",
               "ndarray of complex64", "ndarray of float128", "Tensor",
               "array too large to send", "list too long to send")
DTYPES = tuple(sorted(sandbox_entry.DTYPES))
FILLS = (0.0, 1.0, -3.5, float("nan"), float("inf"), 1e308)


def _odd_array(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
    dtype = draw(st.sampled_from(DTYPES))
    return np.full(shape, draw(st.sampled_from(FILLS))).astype(dtype)


def _anything(draw):
    """An answer of any kind the grader can receive."""
    return draw(st.sampled_from([
        lambda: None, lambda: draw(st.sampled_from(ODD_NUMBERS)),
        lambda: draw(st.text(max_size=4)),
        lambda: feedback.Other(draw(st.sampled_from(OTHER_NAMES))),
        lambda: _odd_array(draw), lambda: {}, lambda: [], lambda: (),
        lambda: [float("nan")] * 3, lambda: ("a", 1, None),
        lambda: {"W1": None, 3: "x", None: []},
        lambda: [[float("nan")] * 3] * 4,
        lambda: {"loss_history": [float("nan")]},
    ]))()


def _hostile_array(draw, a):
    return draw(st.sampled_from([
        lambda: np.where(np.arange(a.size).reshape(a.shape)
                         == draw(st.integers(0, max(a.size - 1, 0))),
                         draw(st.sampled_from(FILLS)), a),
        lambda: a * 1e308,
        lambda: a.astype(draw(st.sampled_from(DTYPES))),
        lambda: a.reshape(1, -1), lambda: a.reshape(-1, 1),
        lambda: a.T.copy() if a.ndim == 2 else a[None, :],
        lambda: a[:-1].copy(), lambda: np.concatenate([a, a[:1]]),
        lambda: a[..., None].copy(), lambda: a.ravel().copy(),
        lambda: feedback.Other(draw(st.sampled_from(OTHER_NAMES[:4]))),
        lambda: a.tolist(), lambda: a.ravel()[:1].copy(),
        lambda: float(a.ravel()[0]) if a.size else 0.0,
        lambda: np.zeros((0,)), lambda: np.zeros_like(a), lambda: a * 1.5,
        lambda: ~a if a.dtype == bool else -a,
        lambda: np.full(a.shape, np.nan),
        lambda: np.full(a.shape, 2 ** 63, dtype=np.uint64),
    ]))()


def _hostile(draw, value):
    """value (a right answer, as the grader reads it) with hostile changes
    in some of its parts."""
    if draw(st.integers(0, 3)) == 0:
        return value                              # this part left right
    if draw(st.integers(0, 5)) == 0:
        return _anything(draw)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, np.ndarray):
        return _hostile_array(draw, value)
    if isinstance(value, (bool, int, float)):
        if abs(value) > 1e300:                    # already hostile
            return draw(st.sampled_from(ODD_NUMBERS))
        return draw(st.sampled_from([
            lambda: draw(st.sampled_from(ODD_NUMBERS)),
            lambda: value * 1.5, lambda: str(value), lambda: [value],
            lambda: None, lambda: "nan", lambda: np.array([value]),
            lambda: np.array(value), lambda: np.array([value] * 2),
            lambda: np.array(value, dtype=np.float16)]))()
    if isinstance(value, dict):
        value, keys = dict(value), list(value)
        how = draw(st.integers(0, 4))
        if how == 0 and keys:
            del value[draw(st.sampled_from(keys))]
        elif how == 1 and keys:
            value[draw(st.sampled_from(keys))] = None
        elif how == 2:
            value[draw(st.sampled_from(["extra", 7, None]))] = np.nan
        else:
            for key in keys:
                value[key] = _hostile(draw, value[key])
        return value
    if isinstance(value, (list, tuple)):
        items = list(value)
        how = draw(st.integers(0, 5))
        if how == 0:
            items = items[:-1]                    # one short
        elif how == 1:
            items.append(draw(st.sampled_from([None, float("nan"), []])))
        elif how == 2:                            # lists of NaN (batches)
            items = [[float("nan")] * len(i) if isinstance(i, list)
                     else float("nan") for i in items]
        elif how == 3:
            items = [[draw(st.sampled_from(ODD_NUMBERS)) for _ in i]
                     if isinstance(i, list) else i for i in items]
        elif items:
            for _ in range(draw(st.integers(1, 3))):
                at = draw(st.integers(0, len(items) - 1))
                items[at] = _hostile(draw, items[at])
        flip = draw(st.integers(0, 4)) == 0       # a list for a tuple...
        return tuple(items) if isinstance(value, list) == flip else items
    return _anything(draw)


def _hostile_answers(check, seed, draw):
    """respond(call, index): a hostile change of the right answer; a call
    that catches errors may get one instead. With ``want`` the answer is
    a tuple (result, *wanted) whatever mlp.py does, its parts hostile."""
    right = _right(check, seed)

    def respond(call, index):
        if call.catch and draw(st.integers(0, 4)) == 0:
            return feedback.Raised(
                draw(st.sampled_from(["ValueError", "an exception",
                                      "MemoryError", "NotImplementedError"])),
                draw(st.booleans()),
                draw(st.sampled_from(["", "train", "loss", "predict"])))
        answer = right(call, index)
        if call.want:
            return (_hostile(draw, answer[0]), *(
                _hostile_record(draw, part) if name in ("batches", "labels")
                else _hostile(draw, part)
                for name, part in zip(call.want, answer[1:])))
        return _hostile(draw, answer)
    return respond


def _hostile_record(draw, lists):
    """What self.loss recorded (a list per call of the sample numbers or
    labels it was given), of the right make but with odd numbers: NaN
    everywhere, or some numbers NaN, inf, huge, negative or fractional."""
    if draw(st.booleans()) or not isinstance(lists, list):
        return _hostile(draw, lists)
    if draw(st.booleans()):
        return [[float("nan")] * len(items) for items in lists]
    lists = [list(items) for items in lists]
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(lists) - 1))
        if lists[at]:
            lists[at][draw(st.integers(0, len(lists[at]) - 1))] = draw(
                st.sampled_from(ODD_NUMBERS + (-1, 0.5, 1e6)))
    return lists


@pytest.mark.parametrize("check", questions.CHECKS, ids=lambda c: c.name)
@settings(max_examples=80, phases=(Phase.explicit, Phase.generate))
@given(data=st.data())
def test_every_check_judges_any_answer_without_failing_itself(check, data):
    """Every check, driven in-process with hostile answers (NaN, inf, huge
    numbers, odd dtypes, wrong shapes, None, strings, dicts and tuples of
    the wrong make, errors where a call catches them) and with earlier
    verdicts of any kind, ends passed or with Wrong: any other exception
    is the grader failing to judge. A hidden check's message shows no
    number, and names known mistakes only. (Failures are not shrunk:
    the drawn example is printed as found.)"""
    seed = data.draw(st.sampled_from([1, 2]), label="seed")
    verdicts = {}
    for earlier in questions.CHECKS[:questions.CHECKS.index(check)]:
        if not earlier.public:
            flags = data.draw(st.tuples(*[st.booleans()] * 4))
            verdicts[earlier.name] = _verdict(earlier, *flags)
    ctx = _context(seed, verdicts, check.judges)
    _, wrong = _drive(check, ctx, _hostile_answers(check, seed, data.draw))
    if wrong is not None:
        assert wrong.mistakes is None or wrong.mistakes <= set(
            reference.MISTAKES), wrong.mistakes
        if not check.public:
            assert _numbers_in(str(wrong)) == [], str(wrong)


def _counted(check, seed, change):
    """respond: the right answer to random_minibatches (the parameters
    after train through CountingLoss), with change(params, call) applied."""
    right = _right(check, seed)

    def respond(call, index):
        history, params = right(call, index)
        change(params, call)
        return history, params
    return respond


def _judge_counted(change):
    check = _check("random_minibatches")
    _, wrong = _drive(check, _context(1, {}, check.judges),
                      _counted(check, 1, change))
    return wrong


def test_the_minibatches_are_judged_by_what_the_steps_did():
    """random_minibatches reads the minibatches off the parameters: a
    sample counted twice in an epoch, one left out, labels moved, the same
    samples every epoch, no step, or NaN are each judged, never a grader
    error; the solved train's parameters pass."""
    assert _judge_counted(lambda params, call: None) is None

    def twice(params, call):
        params["b1"][0] += 1.0              # sample 0 twice in epoch 0
    assert "some samples twice" in str(_judge_counted(twice))

    def left_out(params, call):
        used = np.flatnonzero(params["b1"] >= 1)
        params["b1"][used[0]] -= 1.0
    assert "did not step through" in str(_judge_counted(left_out))

    def labels(params, call):
        params["W2"] = np.roll(params["W2"], 1, axis=1)
    assert "labels of a minibatch" in str(_judge_counted(labels))

    def same(params, call):
        first = np.floor(params["b1"])
        params["b1"] = first * (1 + 1 / 16 + 1 / 256)
        params["W2"] = params["W2"] * 0 + params["b1"][:, None] * (
            params["W2"] > 0)
    assert "the same in every epoch" in str(_judge_counted(same))

    def none(params, call):
        for value in params.values():
            value[...] = 0
    assert "does not change the parameters" in str(_judge_counted(none))

    for value in (float("nan"), float("inf"), 1e308):
        def odd(params, call, value=value):
            params["b1"][1] = value
        assert _judge_counted(odd) is not None


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
    trusted code. Each row of grades.csv names its student's feedback
    file, whatever the id."""
    class_dir, out = tmp_path / "class", tmp_path / "class" / "results"
    (class_dir / "s1").mkdir(parents=True)
    (class_dir / "s1" / "mlp.py").write_text(SOLVED.read_text())
    (class_dir / "s2").mkdir()                       # nothing handed in
    (class_dir / "odd\nid").mkdir()                  # nothing handed in
    (class_dir / "linked").symlink_to(class_dir / "s1")
    (class_dir / ".hidden").mkdir()
    (class_dir / "notes.txt").write_text("not a student")
    done = subprocess.run([sys.executable, str(SCRIPT), "grade-class",
                           str(class_dir), "--out", str(out), "--jobs", "2",
                           "--no-sandbox"], capture_output=True, text=True,
                          check=True)
    with open(out / "grades.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames[-2:] == ["notes", "feedback"]
        rows = {r["student"]: r for r in reader}
    odd = student_ids.readable("odd\nid")
    assert set(rows) == {"s1", "s2", "linked", odd}, done.stdout
    assert rows["s1"]["total"] == str(AUTOMATIC) and rows["s1"]["notes"] == ""
    assert rows["s2"]["total"] == "0"
    assert rows["s2"]["notes"] == "no mlp.py in the submission"
    assert rows["linked"]["notes"].startswith(
        "the submission's folder is a symbolic link: refused")
    assert rows["s1"]["feedback"] == "s1.txt"
    assert rows["linked"]["feedback"] == "linked.txt"
    assert "\n" not in rows[odd]["feedback"]
    written = sorted(p.name for p in (out / "feedback").iterdir())
    assert written == sorted(r["feedback"] for r in rows.values())
    for row in rows.values():
        text = (out / "feedback" / row["feedback"]).read_text()
        assert text.splitlines()[-1] == \
            f"total: {row['total']} / {AUTOMATIC}"


# -- grading in the sandbox --------------------------------------------------

def _submission(tmp_path, text):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "mlp.py").write_text(text)
    return folder


def _hidden_messages(lines):
    """The messages of the hidden checks in a verbose report."""
    return [line.split(": ", 2)[-1] for line in lines
            if line.startswith("  hidden ")]


def _hidden_inputs(source):
    """The first three values of the first array each hidden check sends,
    as grade_submission draws them (the grader's secret and this source),
    if none of them is a whole number."""
    values = []
    for check in HIDDEN:
        call = _first_step(check, grading.secret(), source)
        arrays = [a for a in call.args if isinstance(a, np.ndarray)]
        first = arrays[0].ravel()[:3] if arrays else np.zeros(0)
        if first.size and np.all(first != np.round(first)):
            values += first.tolist()
    return values


LEAKY = SOLVED.read_text() + '''

_Solved = TwoLayerMLP


class TwoLayerMLP(_Solved):
    def forward(self, X):
        if len(X) != 5:                               # not the toy data
            raise ValueError("LEAK " + repr(X.tolist()) + repr(self.params))
        return super().forward(X)

    def predict(self, X):
        labels = super().predict(X)
        raise NotImplementedError("LEAK " + repr(labels.tolist()))


def log_softmax(scores):
    raise ArithmeticError("LEAK " + repr(scores.tolist()))
'''


def test_a_hidden_check_never_reveals_its_inputs_or_expected_values(
        tmp_path, sandbox):
    """A submission that tries to learn the hidden problems: its parts
    raise with their inputs in the message. The hidden checks' feedback
    shows neither their inputs nor a number, and nor does the public toy
    training: an exception's message could carry what a later check's
    process learned of an earlier one's inputs."""
    lines = grading.grade_submission(_submission(tmp_path, LEAKY)).lines(
        verbose=True)
    text = "\n".join(lines)
    hidden = _hidden_messages(lines)
    assert hidden and not any("LEAK" in message for message in hidden)
    for message in hidden:
        assert _numbers_in(message) == [], message
    public = [line for line in lines if line.startswith("  public ")]
    assert public and not any("LEAK" in line for line in public), public
    inputs = _hidden_inputs(LEAKY.encode())
    assert len(inputs) > 20
    for value in inputs:
        assert repr(float(value)) not in text, value
    assert "  hidden forward_pass: error: raised ValueError in forward" \
        in lines
    assert "  hidden log_softmax_function: error: raised ArithmeticError " \
           "in log_softmax" in lines
    assert "  hidden predict_labels: not implemented yet: " \
           "NotImplementedError in predict" in lines


SHAPED = SOLVED.read_text() + '''

def _code(a):
    """An array of no entries whose shape holds a's shape and values."""
    a = np.asarray(a, dtype=float)
    return np.zeros([*a.shape, *(int(abs(v) * 1000) + 1000
                                 for v in a.ravel()[:3]), 0])


def sigmoid(z):
    return _code(z)


def relu(z):
    return _code(z)


def sigmoid_derivative(h):
    return _code(h)


def relu_derivative(h):
    return _code(h)


def log_softmax(scores):
    return _code(scores)


def cross_entropy(scores, y):
    return _code(scores)


def l2_value(W):
    return _code(W)


def l2_gradient(W):
    return _code(W)


ACTIVATIONS = {"relu": (relu, relu_derivative),
               "sigmoid": (sigmoid, sigmoid_derivative)}
PENALTIES = {"l2": (l2_value, l2_gradient), "l1": (l1_value, l1_gradient)}
_Solved = TwoLayerMLP


class TwoLayerMLP(_Solved):
    def forward(self, X):
        return _code(X), _code(X)

    def backward(self, X, y, hidden, scores):
        return {name: _code(X) for name in self.params}

    def add_penalty(self, loss, grads, reg, penalty="l2"):
        return _code(grads["W1"]), {k: _code(v) for k, v in grads.items()}

    def predict(self, X):
        return np.zeros(len(X), dtype=np.int64)
'''


def test_no_answer_carries_the_hidden_inputs_back_in_its_shape(tmp_path,
                                                                 sandbox):
    """Arrays whose shape holds the hidden data, and labels counted: the
    feedback of a hidden check shows neither sizes nor counts, only axes
    by their names."""
    lines = grading.grade_submission(_submission(tmp_path, SHAPED)).lines(
        verbose=True)
    hidden = _hidden_messages(lines)
    assert len(hidden) >= 15, lines
    assert any("got another shape" in message for message in hidden), \
        hidden
    for message in hidden:
        assert _numbers_in(message) == [], message
        assert not re.search(r"\d+ of \d+", message), message
    text = "\n".join(hidden)
    for value in _hidden_inputs(SHAPED.encode()):
        assert str(int(abs(value) * 1000) + 1000) not in text


def test_the_solution_earns_every_point_whatever_the_secret(tmp_path,
                                                              sandbox):
    folder = grading.private_folder(SOURCE)
    try:
        for secret in (SECRET, OTHER_SECRET):
            results, failure = grading.run_checks(folder, grading.Limits(),
                                                  0, SOURCE, secret)
            assert failure is None
            assert [(r.check.name, r.status) for r in results] == \
                [(c.name, "passed") for c in questions.CHECKS]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _descendants(root):
    """The processes descending from root (seen in /proc)."""
    children = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children[parent].append(int(name))
    found, todo = set(), [root]
    while todo:
        for child in children[todo.pop()]:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def test_ctrl_c_stops_a_class_and_keeps_what_was_graded(tmp_path, sandbox):
    """Ctrl-C in grade-class: no new submission starts, the one being
    graded finishes, grades.csv and its feedback hold those graded, the
    exit code is 130 and none of its sandboxes is left. (Its sandboxes are
    the processes seen descending from it while it ran: other graders may
    run sandboxes of the same uids on this machine.)"""
    class_dir, out = tmp_path / "class", tmp_path / "results"
    for index in range(8):          # each import hangs until the budget
        folder = class_dir / f"s{index}"
        folder.mkdir(parents=True)
        (folder / "mlp.py").write_text("while True:\n    pass\n")
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "grade-class", str(class_dir), "--out",
         str(out), "--jobs", "1", "--budget", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set() and process.poll() is None:
            seen.update(_descendants(process.pid) & set(
                sandbox_module.leftover_processes(process.pid)))
            time.sleep(0.02)
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        first = process.stdout.readline()
        assert first.startswith(f"[1/8] s0: 0 / {AUTOMATIC}"), first
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        done.set()
        watcher.join()
    assert process.returncode == 130
    assert re.search(r"interrupted: [12] of 8 submissions graded", rest), rest
    with open(out / "grades.csv", newline="") as f:
        graded = [row["student"] for row in csv.DictReader(f)]
    assert graded in (["s0"], ["s0", "s1"])
    assert sorted(p.stem for p in (out / "feedback").iterdir()) == graded
    if os.geteuid() == 0:
        assert seen, "no sandbox of the grader was seen"
        assert set(sandbox_module.leftover_processes(process.pid)) & seen \
            == set()


def test_a_swept_check_process_takes_nothing_meant_for_the_next():
    """The fork server's sweep (without the sandbox: the check's process
    group) returns only once the killed process is gone: a process killed
    while it waits on the pipe of requests may otherwise still take the
    next check's first message, and that check's process would wait for
    it until its time ran out."""
    read, write = os.pipe()
    try:
        for _ in range(40):
            pid = os.fork()
            if pid == 0:                    # a check process, waiting
                try:
                    os.setpgid(0, 0)
                    os.close(write)
                    os.read(read, 1)
                finally:
                    os._exit(0)
            try:
                os.setpgid(pid, pid)
            except OSError:
                pass
            time.sleep(0.002)               # it is reading
            sandbox_entry.CHECK.update(pid=pid, ended=True)
            sandbox_entry.sweep(own_group=True)
            assert not sandbox_entry.group_alive(pid)
            os.write(write, b"x")           # the next check's message
            os.set_blocking(read, False)
            try:
                assert os.read(read, 1) == b"x", \
                    "the swept process took the next check's message"
            finally:
                os.set_blocking(read, True)
    finally:
        sandbox_entry.CHECK.clear()
        os.close(read)
        os.close(write)


def test_without_the_sandbox_no_check_process_outlives_its_grading(
        tmp_path):
    """--no-sandbox gives each check process a process group of its own:
    killing the fork server after a check ran over its time must kill
    them too, or a submission that loops would go on using the CPU."""
    pids = tmp_path / "pids"
    source = SOLVED.read_text() + textwrap.dedent(f"""

        def relu(x):
            import os
            with open({str(pids)!r}, "a") as f:
                f.write(f"{{os.getpid()}}\\n")
            while True:
                pass
        """)
    folder = grading.private_folder(source.encode())
    limits = grading.Limits(sandbox=False, check_seconds=0.5,
                            budget_seconds=20)
    try:
        results, failure = grading.run_checks(folder, limits, 0,
                                              source.encode(), SECRET)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert failure is None
    assert "timed out" in {r.status for r in results}
    looped = [int(line) for line in pids.read_text().split()]
    assert looped
    alive = [pid for pid in looped if sandbox_module._session_of(pid)]
    assert not alive, "check processes still running after the grading"


def test_the_sandbox_finds_a_virtual_environment_under_tmp(tmp_path,
                                                           sandbox):
    """A grader run by the Python of a virtual environment that lives
    under /tmp (where the sandbox has a /tmp of its own): the sandbox runs
    that environment's Python and sees its packages, and the solution
    earns every point."""
    venv = tmp_path / "venv"
    assert str(venv).startswith("/tmp/")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                    str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; "
         "print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip())
    # The test run's packages, and one module only this environment has.
    (purelib / "_outer.pth").write_text("".join(
        f"{path}\n" for path in sys.path
        if path.endswith(("site-packages", "dist-packages"))))
    (purelib / "only_in_this_venv.py").write_text("VALUE = 42\n")
    probe = subprocess.run(
        [str(python), "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "import sandbox; print(sandbox.probe(modules=('numpy', "
         "'matplotlib', 'only_in_this_venv')))", str(ROOT / "instructor")],
        capture_output=True, text=True)
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr
    submission = tmp_path / "student"
    submission.mkdir()
    shutil.copyfile(SOLVED, submission / "mlp.py")
    done = subprocess.run([str(python), str(SCRIPT), "grade",
                           str(submission)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"total: {AUTOMATIC} / {AUTOMATIC}" in done.stdout, done.stdout


def test_a_private_folder_is_readable_by_no_other_user():
    """Until a sandbox is given it (then by that sandbox's uid alone), a
    submission's private folder is its grader's: a grading cut short
    leaves no submission that others could read."""
    folder = grading.private_folder(b"# a submission\n")
    try:
        assert folder.stat().st_mode & 0o077 == 0
        assert (folder / "mlp.py").read_bytes() == b"# a submission\n"
    finally:
        shutil.rmtree(folder)


def test_graders_in_two_pid_namespaces_get_different_uids():
    """Graders in two containers may have the same pid: their sandboxes'
    uids must still differ (a shared uid would share its limit on
    processes), and the block stays below 2**31."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to make a PID namespace")
    # Both namespaces alive at once, as two containers' are: a namespace's
    # identity may be reused once it is gone.
    program = ("import sys; sys.path.insert(0, sys.argv[1]); "
               "import sandbox; print(sandbox.uid_block(4242), flush=True); "
               "sys.stdin.read()")
    children = [subprocess.Popen(
        ["unshare", "--pid", "--fork", sys.executable, "-c", program,
         str(ROOT / "instructor")], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True) for _ in range(2)]
    blocks = {sandbox_module.uid_block(4242)}
    try:
        for child in children:
            blocks.add(int(child.stdout.readline()))
    finally:
        for child in children:
            child.stdin.close()
            child.wait(timeout=60)
            child.stdout.close()
    assert len(blocks) == 3, blocks
    for block in blocks:
        assert sandbox_module.SANDBOX_UID_BASE <= block
        assert block + sandbox_module.SLOTS <= 2 ** 31
    # within one namespace, pids choose blocks one to one
    assert len({sandbox_module.uid_block(pid) for pid in range(1000)}) == 1000


def test_a_renamed_mlp_py_is_graded_and_a_misnamed_one_named(tmp_path):
    """A platform's renaming ("mlp (1).py") is graded, and the report says
    which file it graded; a folder with no file that may be mlp.py says
    what it holds instead, so the student sees why nothing was graded."""
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "mlp (1).py").write_text(SOLVED.read_text())
    (folder / "pset3.ipynb").write_text("{}")
    report = grading.grade_submission(folder, grading.Limits(sandbox=False))
    assert report.notes == ["mlp.py: took mlp (1).py"]
    assert report.total() == (AUTOMATIC, AUTOMATIC) and report.graded
    (folder / "mlp (1).py").rename(folder / "my_network.py")
    report = grading.grade_submission(folder, grading.Limits(sandbox=False))
    assert report.notes == ["no mlp.py in the submission (it holds: "
                            "my_network.py, pset3.ipynb)"]
    assert report.total()[0] == 0 and not report.graded
    for index in range(10):
        (folder / f"extra{index}\n.txt").write_text("")
    note = grading.grade_submission(
        folder, grading.Limits(sandbox=False)).notes[0]
    assert note.endswith("and 4 more)") and "\n" not in note, note


def test_an_import_that_never_ends_is_given_up_after_two_tries(tmp_path):
    """Each check imports mlp.py afresh: an import over its time limit is
    tried once more, then the remaining checks are not run, with a note,
    instead of spending the whole budget on it."""
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "mlp.py").write_text("import time\ntime.sleep(120)\n")
    # (the fork server's own start, NumPy's import, has the same limit)
    limits = grading.Limits(sandbox=False, startup_seconds=4,
                            budget_seconds=100)
    started = time.monotonic()
    report = grading.grade_submission(folder, limits)
    assert time.monotonic() - started < 40
    statuses = [r.status for r in report.results]
    assert statuses[:2] == ["timed out", "timed out"], statuses
    assert set(statuses[2:]) == {"not run"}, statuses
    assert report.notes == ["importing mlp.py did not finish within 4 s, "
                            "2 times in a row: no more checks were run"]
    assert report.total()[0] == 0


# -- container mode's own defences, without a container --------------------

CONTAINER_FILTER_PROBE = r"""
import errno, os, socket, sys
sys.path.insert(0, sys.argv[1])
import sandbox, sandbox_entry
read, write = os.pipe()
os.write(write, sandbox.seccomp_program(container=True))
os.close(write)
folder = sys.argv[2]
path = os.path.join(folder, "mine")
open(path, "w").close()
os.umask(0o077)
sandbox_entry.load_seccomp(read)
acl = b"\x02\x00\x00\x00" + b"".join(
    tag.to_bytes(2, "little") + b"\x07\x00" + b"\xff\xff\xff\xff"
    for tag in (1, 4, 0x20))
tries = {
    "chmod": lambda: os.chmod(path, 0o777),
    "acl": lambda: os.setxattr(path, "system.posix_acl_access", acl),
    "user xattr": lambda: os.setxattr(path, "user.x", b"1"),
    "remove xattr": lambda: os.removexattr(path, "user.x"),
    "inet socket": lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
}
for name, call in tries.items():
    try:
        call()
        print(name, "allowed")
    except OSError as error:
        print(name, errno.errorcode[error.errno])
try:
    os.umask(0)
except OSError:
    pass
with open("/proc/self/status") as status:
    print([line.strip() for line in status if line.startswith("Umask")][0])
socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
print("unix socket allowed")
"""


def test_container_filter_refuses_widening_access_and_the_network(tmp_path):
    """Container mode's extra rules: no chmod, umask, extended attributes
    (a POSIX ACL would widen access as chmod does) and no socket but a
    Unix one."""
    done = subprocess.run(
        [sys.executable, "-c", CONTAINER_FILTER_PROBE,
         str(ROOT / "instructor"), str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "chmod EPERM", "acl EPERM", "user xattr EPERM", "remove xattr EPERM",
        "inet socket EPERM", "Umask:\t0077", "unix socket allowed"], \
        done.stdout


LANDLOCK_PROBE = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import sandbox_entry
own, other = sys.argv[2], sys.argv[3]
if not sandbox_entry.restrict_writes(own):
    print("no landlock")
    sys.exit()
tries = {
    "own file": lambda: open(os.path.join(own, "a"), "w").close(),
    "own folder": lambda: os.mkdir(os.path.join(own, "b")),
    "other file": lambda: open(os.path.join(other, "a"), "w").close(),
    "other folder": lambda: os.mkdir(os.path.join(other, "b")),
    "other existing": lambda: open(os.path.join(other, "old"), "a").close(),
    "remove other": lambda: os.unlink(os.path.join(other, "old")),
    "dev null": lambda: open("/dev/null", "w").write("x"),
}
for name, call in tries.items():
    try:
        call()
        print(name, "allowed")
    except PermissionError:
        print(name, "refused")
"""


def test_container_mode_writes_only_in_its_own_folder(tmp_path):
    """With Landlock, a container-mode sandbox may make, remove and write
    files only under its own folder (and write to /dev/null): not in /tmp
    or any other folder every user may write to."""
    own, other = tmp_path / "own", tmp_path / "other"
    own.mkdir()
    other.mkdir()
    (other / "old").write_text("")
    done = subprocess.run(
        [sys.executable, "-c", LANDLOCK_PROBE, str(ROOT / "instructor"),
         str(own), str(other)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if done.stdout.strip() == "no landlock":
        pytest.skip("this kernel has no Landlock (container mode then "
                    "removes what the sandbox made in the shared folders)")
    assert done.stdout.splitlines() == [
        "own file allowed", "own folder allowed", "other file refused",
        "other folder refused", "other existing refused",
        "remove other refused", "dev null allowed"], done.stdout
    assert (other / "old").exists()


def test_one_digits_check_failing_does_not_refuse_the_other():
    """Q2.5 failing (it judges every part it trains with) says nothing of
    the parts the ReLU network needs: Q2.6 still trains with them. A part
    charged by its own check still counts."""
    everything = frozenset(questions.PARTS)
    failed_sigmoid_digits = questions.Verdict(
        "Q2.5", 10, False, everything - {"relu", "relu_derivative"},
        wholly=True)
    ctx = questions.Context(np.random.RandomState(0),
                            {"sigmoid_learns_digits": failed_sigmoid_digits})
    assert questions.digits_plan(ctx, "relu") == ((), [])
    ctx.verdicts["gradient_dW1"] = questions.Verdict(
        "Q2.2", 1, False, frozenset({"backward"}), wholly=True)
    assert questions.digits_plan(ctx, "relu") == ((), ["backward"])


@pytest.mark.parametrize("part", ["forward", "backward"])
def test_one_mistake_in_a_shared_pass_still_lets_the_digits_train(part):
    """The forward and backward passes serve both activations: a mistake in
    one of them, even one without a name (an exception, say), fails every
    check of that part in a question, and the digits stand in for a part
    with such a mistake only while its question keeps half its points. So
    in each question the checks of the part are worth at most half: with
    Q2.2 at 8 points and its four gradient checks at 5, a backward pass
    that raises would cost both digits questions too."""
    for question, (_, points) in questions.QUESTIONS.items():
        judged = [c for c in questions.CHECKS
                  if c.question == question and part in c.judges]
        if judged and question not in questions.DIGITS_QUESTIONS:
            ctx = questions.Context(np.random.RandomState(0), {
                c.name: questions.Verdict(question, c.points, c not in
                                          judged, c.judges)
                for c in questions.CHECKS if c.question == question})
            assert 2 * ctx.earned(question) >= points, (question, [
                c.name for c in judged])
            plan = questions.digits_plan(ctx, "sigmoid")
            assert plan == ((part,), []), (question, plan)


def test_an_import_of_a_package_the_grader_lacks_says_what_may_be_used(
        tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "mlp.py").write_text("import not_a_package_of_the_grader\n")
    report = grading.grade_submission(folder, grading.Limits(sandbox=False))
    assert len(report.notes) == 1, report.notes
    assert "ModuleNotFoundError" in report.notes[0]
    assert "mlp.py may import NumPy, matplotlib, the Python standard " \
           "library and the given files" in report.notes[0]
    (folder / "mlp.py").write_text("raise ValueError('mine')\n")
    note = grading.grade_submission(
        folder, grading.Limits(sandbox=False)).notes[0]
    assert "ValueError" in note and "may import" not in note


def test_a_submission_in_a_subfolder_is_found_and_said(tmp_path):
    """mlp.py and pset3.ipynb in a subfolder (a zip unpacked) are graded, and
    the report and the hand-graded answers say which files were taken; a
    subfolder holding no such file shows as a folder."""
    folder = tmp_path / "student"
    (folder / "pset3" / "src").mkdir(parents=True)
    (folder / "pset3" / "src" / "mlp.py").write_text(SOLVED.read_text())
    shutil.copy(ROOT / "pset3.ipynb", folder / "pset3" / "pset3.ipynb")
    report = grading.grade_submission(folder, grading.Limits(sandbox=False))
    assert report.notes == ["mlp.py: took pset3/src/mlp.py",
                            "pset3.ipynb: took pset3/pset3.ipynb"]
    assert report.total() == (AUTOMATIC, AUTOMATIC)
    assert {note for _, note in report.manual} == {""}
    shutil.rmtree(folder / "pset3")
    (folder / "hw3").mkdir()
    report = grading.grade_submission(folder, grading.Limits(sandbox=False))
    assert report.notes == ["no mlp.py in the submission (it holds: hw3/)"]


def test_each_question_of_a_shared_cell_is_judged_on_its_own_part(tmp_path):
    """Q1.1 to Q1.6 share the handout's Problem 1 cell: a student who has
    answered four of them is told that the other two are not answered,
    not all six (found by a teaching assistant's review)."""
    import nbformat

    notebook = nbformat.read(ROOT / "pset3.ipynb", as_version=4)
    student = tmp_path / "student"
    student.mkdir()
    handout_cells = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in ("problem1_answers", "problem3_answers"):
            handout_cells[grade_id] = cell
    problem1 = handout_cells["problem1_answers"].source
    sections = grading.answer_sections(problem1, [
        f"Q1.{k}" for k in range(1, 7)])
    assert list(sections) == [f"Q1.{k}" for k in range(1, 7)]
    # The handout's cell: every answer replaced by the placeholder, then
    # Q1.1 to Q1.4 answered again.
    text = re.sub(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->",
                  "YOUR ANSWER HERE", problem1, flags=re.S)
    for k in range(1, 5):
        start = text.index(f"### Q1.{k}")
        text = text[:start] + text[start:].replace(
            "YOUR ANSWER HERE", f"my answer {k}", 1)
    handout_cells["problem1_answers"].source = text
    nbformat.write(notebook, student / "pset3.ipynb")
    notes = dict(grading.manual_answers(student))
    assert [notes[f"Q1.{k}"] for k in range(1, 7)] == \
        ["", "", "", "", "not answered yet", "not answered yet"]
    assert notes["Q2.7"] == notes["Q3.1"] == notes["Q3.2"] == ""


# -- hand grading: manual.csv -------------------------------------------------

def _grade_class(class_dir, out):
    return subprocess.run([sys.executable, str(SCRIPT), "grade-class",
                           str(class_dir), "--out", str(out), "--jobs", "2",
                           "--no-sandbox"], capture_output=True, text=True)


@pytest.mark.slow     # grades a class twice
def test_hand_grades_in_manual_csv_are_kept_and_counted(tmp_path):
    """grade-class writes manual.csv once (a row per student and question,
    points empty); what the teaching assistants fill in is never
    overwritten, and every later run counts it in grades.csv (out of 100
    once all is graded) and in the feedback files. --no-sandbox: the
    solution is trusted code."""
    class_dir, out = tmp_path / "class", tmp_path / "results"
    for student in ("ada", "bob"):
        (class_dir / student).mkdir(parents=True)
    # ada's mlp.py is the solution; bob handed in none (0 automatic points).
    (class_dir / "ada" / "mlp.py").write_text(SOLVED.read_text())
    done = _grade_class(class_dir, out)
    assert done.returncode == 0, done.stderr
    manual = out / "manual.csv"
    with open(manual, newline="") as f:
        rows = list(csv.DictReader(f))
    hand = [q for q, _, _, _ in questions.MANUAL]
    assert [(r["student"], r["question"]) for r in rows] == \
        [(s, q) for s in ("ada", "bob") for q in hand]
    assert all(r["points"] == r["comment"] == "" for r in rows)
    # The teaching assistant grades all of ada and two questions of bob.
    for row in rows:
        if row["student"] == "ada":
            row["points"], row["comment"] = "4" if row["question"] == \
                "Q1.1" else str(grading.questions.MANUAL[hand.index(
                    row["question"])][2]), ""
        elif row["question"] in ("Q1.1", "Q3.2"):
            row["points"] = "2.5"
            row["comment"] = "the sign, line 2" if row["question"] == \
                "Q1.1" else ""
    with open(manual, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=grading.MANUAL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    filled = manual.read_bytes()
    for _ in range(2):                      # twice: nothing is lost
        done = _grade_class(class_dir, out)
        assert done.returncode == 0, done.stderr
        assert manual.read_bytes() == filled
    with open(out / "grades.csv", newline="") as f:
        grades = {r["student"]: r for r in csv.DictReader(f)}
    whole = AUTOMATIC + BY_HAND
    # bob's graded questions, and what is left to grade
    done_by_hand = sum(p for q, _, p, _ in questions.MANUAL
                       if q in ("Q1.1", "Q3.2"))
    still = ", ".join(q for q in hand if q not in ("Q1.1", "Q3.2"))
    assert (grades["ada"]["total"], grades["ada"]["maximum"]) == \
        (str(whole - 1), str(whole))
    assert (grades["bob"]["total"], grades["bob"]["maximum"]) == \
        ("5", str(AUTOMATIC + done_by_hand))
    assert grades["bob"]["Q1.1 [5, manual]"] == "2.5"
    assert grades["bob"]["Q1.2 [5, manual]"] == ""
    ada = (out / "feedback" / "ada.txt").read_text().splitlines()
    assert ada[:4] == ["student: ada",
                       f"assignment: {grading.ASSIGNMENT}",
                       f"points so far: {whole - 1} / {whole}, everything "
                       f"graded", ""]
    assert "Q1.1 dL/da2 by hand: 4 / 5, graded by hand" in ada
    assert ada[-1] == f"total: {whole - 1} / {whole}"
    assert not any("not in the total" in line for line in ada)
    bob = (out / "feedback" / "bob.txt").read_text().splitlines()
    assert bob[2] == (f"points so far: 5 / {AUTOMATIC + done_by_hand}; still "
                      f"to grade by hand: {still} ({BY_HAND - done_by_hand} "
                      f"points)")
    assert "Q1.1 dL/da2 by hand: 2.5 / 5, graded by hand: the sign, " \
           "line 2" in bob
    assert bob[-2] == f"still to grade by hand: {still}, not in the total"
    assert bob[-1] == f"total: 5 / {AUTOMATIC + done_by_hand}"


@pytest.mark.parametrize("row, words", [
    ("ada,Q9.9,3,", "'Q9.9' is not a question graded by hand"),
    ("ada,Q1.1,6,", "the points of Q1.1 must be a number from 0 to 5, not '6'"),
    ("ada,Q1.1,four,", "not 'four'"),
    ("ada,Q1.1,-1,", "not '-1'"),
    ("ada,Q1.1,3,\nada,Q1.1,4,", "Q1.1 of 'ada' is graded twice"),
])
def test_a_wrong_row_of_manual_csv_stops_grading_and_says_where(
        tmp_path, row, words):
    class_dir, out = tmp_path / "class", tmp_path / "results"
    (class_dir / "ada").mkdir(parents=True)
    out.mkdir()
    (out / "manual.csv").write_text("student,question,points,comment\n"
                                    + row + "\n")
    done = _grade_class(class_dir, out)
    assert done.returncode != 0 and done.stdout == ""
    assert "manual.csv, line 2" in done.stderr or "line 3" in done.stderr
    assert words in done.stderr, done.stderr
    assert not (out / "grades.csv").exists()
