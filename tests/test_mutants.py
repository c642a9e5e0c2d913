"""The grader against the mutants of tests/mutants.py: the solution with
one known mistake each, graded in one ``grade-class`` run in the sandbox.

Each mutant must lose points in the question its mistake belongs to and in
no other, and the feedback under that question must name the mistake. The
solution, and right solutions written differently, get full points; the
untouched handout and submissions of hard-coded public answers or of the
penalty alone get 0.
"""
import csv
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import questions
from mutants import (HARD_CODED, MUTANTS, PENALTY_ONLY, VARIANTS, Mutant,
                     apply)

ROOT = Path(__file__).resolve().parent.parent
#: The student's public tests run by pytest alone: the plugins installed for
#: this suite (hypothesis, xdist, ...) would only add a second to each start.
PUBLIC_TEST_ENVIRONMENT = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
SCRIPT = ROOT / "instructor" / "handout.py"
POINTS = {q: points for q, (_, points) in questions.QUESTIONS.items()}
@pytest.fixture(scope="module")
def graded(sandbox, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mutants")
    subprocess.run([sys.executable, str(SCRIPT), "build", str(tmp / "built")],
                   check=True, capture_output=True)
    solution = (ROOT / "mlp.py").read_text()
    sources = {name: apply(solution, mutant)
               for name, mutant in MUTANTS.items()}
    sources.update({f"variant_{name}": apply(solution, Mutant("", changes, ""))
                    for name, changes in VARIANTS.items()})
    sources.update(solution=solution, hard_coded=HARD_CODED,
                   penalty_only=PENALTY_ONLY,
                   handout=(tmp / "built" / "student" / "mlp.py").read_text())
    for name, source in sources.items():
        (tmp / "class" / name).mkdir(parents=True)
        (tmp / "class" / name / "mlp.py").write_text(source)
    done = subprocess.run(
        [sys.executable, str(tmp / "built" / "grader" / "handout.py"),
         "grade-class", str(tmp / "class"), "--out", str(tmp / "results"),
         "--jobs", "2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp / "results" / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return rows, tmp / "results" / "feedback"


def earned(row):
    return {q: int(row[f"{q} [{points}]"]) for q, points in POINTS.items()}


def question_feedback(text, question):
    """The feedback lines under one question of a report."""
    block = re.search(rf"^{re.escape(question)} .*\n((?:  .*\n)*)", text,
                      re.M)
    return block.group(1) if block else ""


def test_every_mutant_changes_the_solution():
    solution = (ROOT / "mlp.py").read_text()
    for name, mutant in MUTANTS.items():
        assert apply(solution, mutant) != solution, name
        assert mutant.question in POINTS, name


@pytest.mark.parametrize("name", ["solution", *(f"variant_{v}"
                                                 for v in VARIANTS)])
def test_the_solution_gets_every_point(graded, name):
    rows, feedback = graded
    assert earned(rows[name]) == POINTS, (feedback / f"{name}.txt").read_text()
    assert rows[name]["total"] == str(sum(POINTS.values()))


@pytest.mark.parametrize("name", ["handout", "hard_coded", "penalty_only"])
def test_no_network_gets_nothing(graded, name):
    rows, _ = graded
    assert set(earned(rows[name]).values()) == {0}, rows[name]


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_mutant_loses_the_points_of_its_own_question_only(graded, name):
    rows, feedback = graded
    mutant = MUTANTS[name]
    got = earned(rows[name])
    text = (feedback / f"{name}.txt").read_text()
    assert got[mutant.question] < POINTS[mutant.question], text
    assert {q: p for q, p in got.items() if q != mutant.question} == {
        q: p for q, p in POINTS.items() if q != mutant.question}, text
    assert mutant.feedback in question_feedback(text, mutant.question), text


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_public_toy_training_is_shown_under_the_mutants_question(graded,
                                                                    name):
    """When the public toy training fails (or raises in train, as a sigmoid
    derivative taken from z1 makes it), it is shown under the question
    whose mistake made it fail, not under Q2.3's train."""
    _, feedback = graded
    text = (feedback / f"{name}.txt").read_text()
    shown = [question for question in POINTS
             if "public toy_training" in question_feedback(text, question)]
    assert shown in ([], [MUTANTS[name].question]), text


# -- the class's summary names every mutant's mistake --------------------------

def summary_sections(page):
    """{question: [(count, mistake, [students])]} of summary.html."""
    sections = {}
    for block in re.split(r"<h2>", page)[1:]:
        question = block.split(" ", 1)[0]
        sections[question] = [
            (int(count), html.unescape(mistake),
             html.unescape(who).split(", "))
            for count, mistake, who in re.findall(
                r"<tr><td>(\d+)</td><td>(.*?)<details><summary>who</summary>"
                r"(.*?)</details>", block, re.S)]
    return sections


def test_the_summary_ranks_each_mutants_mistake_under_its_question(graded):
    """summary.html names each mutant's mistake under the mutant's question,
    counting exactly the students whose feedback names it there; the
    mistakes are ranked by their counts; mistakes.csv holds the same."""
    rows, feedback = graded
    results = feedback.parent
    sections = summary_sections((results / "summary.html").read_text())
    with open(results / "mistakes.csv", newline="") as f:
        listed = list(csv.DictReader(f))
    for question in POINTS:
        counts = [count for count, _, _ in sections[question]]
        assert counts == sorted(counts, reverse=True), question
        for count, _, who in sections[question]:
            assert count == len(who) == len(set(who)), question
    for name, mutant in MUTANTS.items():
        named = [(count, who) for count, mistake, who
                 in sections[mutant.question] if mutant.feedback in mistake]
        assert named, (name, sections[mutant.question])
        made_it = {student for count, who in named for student in who}
        assert name in made_it
        feedbacks = {student: question_feedback(
            (feedback / f"{student}.txt").read_text(), mutant.question)
            for student in rows}
        words = re.compile(rf"^  hidden .*{re.escape(mutant.feedback)}",
                           re.M)
        assert made_it == {student for student, text in feedbacks.items()
                           if words.search(text)}, name
        mine = [row for row in listed if row["student"] == name]
        assert any(mutant.feedback in row["mistake"] for row in mine
                   if row["question"] == mutant.question), name
        assert {row["question"] for row in mine
                if row["points"] != "0"} == {mutant.question}, name
    assert not any(row["student"] == "solution" for row in listed)


# -- the student's public tests give the same diagnosis -----------------------

#: The mutants whose mistake the public tests name in the grader's words
#: (the others they point at the right step: the first layer, dscores).
NAMED_BY_THE_PUBLIC_TESTS = sorted(set(MUTANTS) - {
    "no_b2_in_the_scores",
    "sigmoid_derivative_from_z1", "sigmoid_derivative_of_the_output",
    "probabilities_without_onehot", "relu_derivative_at_the_sign_change",
    "relu_derivative_of_the_wrong_sign"})


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("public")
    subprocess.run([sys.executable, str(SCRIPT), "build", str(out)],
                   check=True, capture_output=True)
    return out / "student"


def public_run(student, source):
    (student / "mlp.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                           "no:cacheprovider", "test_mlp.py"], cwd=student,
                          capture_output=True, text=True,
                          env=PUBLIC_TEST_ENVIRONMENT).stdout


def test_the_public_tests_pass_on_the_solution(student):
    out = public_run(student, (ROOT / "mlp.py").read_text())
    assert re.search(r"\b1\d passed", out) and "failed" not in out, out


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_public_tests_catch_each_mutant_in_one_line(student, name):
    out = public_run(student, apply((ROOT / "mlp.py").read_text(),
                                    MUTANTS[name]))
    assert "failed" in out, out
    assert "Traceback" not in out and "During handling" not in out, out
    if name in NAMED_BY_THE_PUBLIC_TESTS:
        assert MUTANTS[name].feedback in out, out


def test_the_public_tests_numbers_of_known_mistakes_are_the_references():
    """The toy numbers test_public.py compares with come from the reference
    with each mistake (and the mutant that never decays)."""
    import reference
    import test_public

    for activation, values in test_public.TOY_LOSS_MISTAKES.items():
        net, X, y = questions.toy_problem(activation)
        for mistake, value in values.items():
            assert abs(reference.loss(net.params, X, y, activation,
                                      test_public.TOY_REG, {mistake})
                       - value) < 1e-8
        for mistake, value in test_public.TOY_DATA_LOSS_MISTAKES[
                activation].items():
            assert abs(reference.loss(net.params, X, y, activation, 0.0,
                                      {mistake}) - value) < 1e-8
        for reg, table in ((0.0, test_public.TOY_DATA_LOSS),
                           (test_public.TOY_REG, test_public.TOY_LOSS)):
            assert abs(reference.loss(net.params, X, y, activation, reg)
                       - table[activation]) < 1e-8
        scores = reference.forward(net.params, X, activation)[2]
        assert np.allclose(test_public.TOY_SCORES[activation], scores,
                           rtol=1e-7, atol=1e-8)
    module = {}
    exec(compile(apply((ROOT / "mlp.py").read_text(),
                       MUTANTS["decay_never"]), str(ROOT / "mlp.py"), "exec"),
         module)
    net, X, y = questions.toy_problem("sigmoid")
    mutant = module["TwoLayerMLP"](*net.sizes, activation="sigmoid")
    mutant.params = {k: v.copy() for k, v in net.params.items()}
    final = mutant.train(X, y, **test_public.TOY_TRAINING)["loss_history"][-1]
    assert abs(final - test_public.TOY_TRAINED_WITHOUT_DECAY) < 1e-6
