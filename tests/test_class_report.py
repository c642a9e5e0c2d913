"""What grade-class writes about the class: the answers pages of the
questions graded by hand (one page per question, Problem 1 split into its
six questions, rendered with nothing fetched), mistakes.csv and
summary.html. The mutants' mistakes in summary.html are checked in
tests/test_mutants.py, which grades them all."""
import csv
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import class_report
import grading
import questions

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"
PROBLEM1 = [f"Q1.{k}" for k in range(1, 7)]
SOLUTION = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->",
                      re.S)


def student_notebook(folder, answer):
    """The solved notebook with every hand-graded answer replaced by
    ``answer(question)``, in folder/pset3.ipynb."""
    notebook = nbformat.read(ROOT / "pset3.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        names = [q for q, _, _, cell_id in questions.MANUAL
                 if cell_id == grade_id]
        if not names:
            continue
        if len(names) == 1:
            cell.source = answer(names[0])
            continue
        text = SOLUTION.sub("\x00", cell.source)
        for name in names:
            start = text.index(f"### {name}")
            text = text[:start] + text[start:].replace("\x00", answer(name),
                                                       1)
        cell.source = text
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / "pset3.ipynb")


def grade_class(class_dir, out, *options):
    done = subprocess.run([sys.executable, str(SCRIPT), "grade-class",
                           str(class_dir), "--out", str(out), "--jobs", "2",
                           "--no-sandbox", *options],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def page_answers(page):
    """[(who, the answer's HTML)] of an answers page, in its order."""
    return re.findall(r'<div class="answer"><p class="who">\d+\. (.*?)</p>'
                      r'\n(.*?)</div>\n', page, re.S)


class Tags(HTMLParser):
    """The tags and attributes of a page, as a browser parses it."""

    def __init__(self, page):
        super().__init__()
        self.tags = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def assert_offline(page):
    """Nothing in the page is fetched, and nothing runs: the page's policy
    forbids both, and no tag or attribute could do either."""
    tags = Tags(page).tags
    policies = [a.get("content", "") for t, a in tags if t == "meta"
                and a.get("http-equiv") == "Content-Security-Policy"]
    assert policies and policies[0].startswith("default-src 'none';")
    assert [t for t, _ in tags if t == "style"] == ["style"]   # the page's
    for tag, attributes in tags:
        assert tag not in ("script", "img", "iframe", "link", "object",
                           "embed", "base", "form", "svg"), tag
        for name, value in attributes.items():
            assert not name.startswith("on") and name not in (
                "src", "srcset", "action", "style"), (tag, name)
            if name == "href":
                assert value.startswith("#"), value
    assert "@import" not in "".join(re.findall(r"<style>(.*?)</style>",
                                               page, re.S))


@pytest.mark.slow     # grades a class
def test_the_answers_pages_split_problem_1_into_its_six_questions(tmp_path):
    """Three students answer every question with words of their own and a
    formula; each question's page shows each student's answer to that
    question alone, under the question's statement and points, with the
    formulas as MathML, in a shuffled order, and fetches nothing."""
    students = ["s01", "s02", "s03"]
    for student in students:
        student_notebook(
            tmp_path / "class" / student,
            lambda q, s=student: f"**{s} answers {q}**: $\\frac{{\\partial "
                                 f"L}}{{\\partial a}} = \\hat y - y$")
    grade_class(tmp_path / "class", tmp_path / "results")
    folder = tmp_path / "results" / "answers"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{q}.html" for q, _, _, _ in questions.MANUAL)
    orders = set()
    for question, what, points, _ in questions.MANUAL:
        page = (folder / f"{question}.html").read_text()
        assert_offline(page)
        heading = re.search(r"<h1>(.*?)</h1>", page).group(1)
        assert heading == f"{question} {what} [{points} points]"
        assert f"[{points} pts" in page      # the statement's heading
        shown = page_answers(page)
        assert sorted(who for who, _ in shown) == students
        orders.add(tuple(who for who, _ in shown))
        for who, answer in shown:
            assert f"<strong>{who} answers {question}</strong>" in answer
            assert answer.count("answers Q") == 1, answer
            assert "<math" in answer and "<mfrac>" in answer
    assert len(orders) > 1       # shuffled, not one order for every page


@pytest.mark.slow     # grades a class
def test_half_answered_and_missing_notebooks_are_shown_so(tmp_path):
    """A student who answered Q1.1 to Q1.4 shows the placeholder under Q1.5
    and Q1.6; a student with no notebook is shown as such."""
    student_notebook(tmp_path / "class" / "half",
                     lambda q: "YOUR ANSWER HERE" if q in ("Q1.5", "Q1.6")
                     else f"my answer to {q}")
    (tmp_path / "class" / "none").mkdir()
    grade_class(tmp_path / "class", tmp_path / "results")
    folder = tmp_path / "results" / "answers"
    for question in PROBLEM1:
        shown = dict(page_answers((folder / f"{question}.html").read_text()))
        assert "no notebook" in shown["none"]
        expected = "YOUR ANSWER HERE" if question in ("Q1.5", "Q1.6") \
            else f"my answer to {question}"
        assert expected in shown["half"]
        # the statement shows once, on top, not again in the answer
        assert "Derive" not in shown["half"]
    # Neither has an mlp.py: one line each in mistakes.csv and the summary,
    # not a "mistake" under every question.
    with open(tmp_path / "results" / "mistakes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["student"], r["question"], r["check"]) for r in rows] == [
        ("half", "", ""), ("none", "", "")]
    assert all(r["mistake"].startswith("not graded: no mlp.py")
               for r in rows)
    summary = (tmp_path / "results" / "summary.html").read_text()
    assert "Not graded (2, no points)" in summary
    assert "not run" not in summary


@pytest.mark.slow     # grades a class
def test_hidden_ids_show_codes_that_manual_csv_may_use(tmp_path):
    """With --hide-ids the pages show a code per student, never the id;
    anonymous.csv keeps the codes from run to run, the manual.csv template
    lists the codes, and points written on a code's row count for its
    student."""
    for student in ("alice", "bob"):
        student_notebook(tmp_path / "class" / student,
                         lambda q: f"an answer to {q}")
    results = tmp_path / "results"
    grade_class(tmp_path / "class", results, "--hide-ids")
    with open(results / "anonymous.csv", newline="") as f:
        codes = {row["student"]: row["code"] for row in csv.DictReader(f)}
    assert sorted(codes) == ["alice", "bob"]
    with open(results / "manual.csv", newline="") as f:
        order = [row["student"] for row in csv.DictReader(f)]
    assert order == sorted(order)       # the codes' order, not the ids'
    for question, _, _, _ in questions.MANUAL:
        page = (results / "answers" / f"{question}.html").read_text()
        assert "alice" not in page and "bob" not in page
        assert sorted(who for who, _ in page_answers(page)) == sorted(
            codes.values())
    with open(results / "manual.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {row["student"] for row in rows} == set(codes.values())
    for row in rows:
        if row["student"] == codes["alice"] and row["question"] == "Q1.1":
            row["points"], row["comment"] = "4", "by code"
    with open(results / "manual.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=grading.MANUAL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    grade_class(tmp_path / "class", results, "--hide-ids")
    with open(results / "anonymous.csv", newline="") as f:
        assert {row["student"]: row["code"]
                for row in csv.DictReader(f)} == codes
    with open(results / "grades.csv", newline="") as f:
        grades = {row["student"]: row for row in csv.DictReader(f)}
    assert grades["alice"]["Q1.1 [5, manual]"] == "4"
    assert grades["bob"]["Q1.1 [5, manual]"] == ""
    assert "by code" in (results / "feedback" / "alice.txt").read_text()


def test_an_answer_cannot_run_code_or_fetch_anything():
    """Whatever a student writes in Markdown, HTML or LaTeX is shown, not
    obeyed: no tag, attribute or link of theirs survives."""
    attacks = ("```$x$\nx\n```\n\n<script>alert(1)</script> "
               "<img src=x onerror=alert(1)> "
               "<iframe src=//evil></iframe> [a](javascript:alert(1)) "
               "![b](http://evil/x.png) <a href='http://evil'>c</a> "
               "$\\text{<script>alert(2)</script>}$ "
               "$$\\href{javascript:alert(3)}{x}$$ "
               "<style>@import url(http://evil/s.css)</style>")
    page = class_report.HEAD.format(title="t") + class_report.render(attacks)
    assert_offline(page)
    assert "&lt;script&gt;alert(1)" in page    # shown as text
    assert "http://evil/x.png" in page         # an image, named as text


class Counted(str):
    """A text that counts the characters its find() scans."""
    scanned = 0

    def find(self, sub, start=0, *args):
        found = str.find(self, sub, start, *args)
        Counted.scanned += (len(self) if found < 0 else found) - start
        return found


@pytest.mark.parametrize("openers", ["\\(", "\\[", "$ ", "$a\n"])
def test_finding_formulas_scans_each_character_a_few_times(openers):
    """A run of openers with no closer (an answer crafted to stall the
    pages) costs time linear in its length, not quadratic."""
    text = Counted(openers * 20_000 + "end")
    Counted.scanned = 0
    assert class_report.math_spans(text) == []
    assert Counted.scanned <= 3 * len(text)


def test_the_pages_own_marks_in_an_answer_are_text():
    """The characters that mark a formula's place in the page cannot make a
    formula appear, or fail the page."""
    html = class_report.render("\ue0007\ue001 and \ue0000\ue001 $x$")
    assert html.count("<math") == 1


def test_a_formula_cannot_push_the_other_answers_away():
    """Lengths in MathML are kept only when small: a 20000em rule is not."""
    html = class_report.render("$\\rule{1em}{20000em}$ $a\\,b$")
    assert "20000" not in html and "<math" in html
    assert 'width="0.167em"' in html


def test_formulas_render_as_mathml_or_stay_as_code():
    html = class_report.render("inline $x_1^2$, display $$\\sum_i w_i$$, "
                               "broken $\\frac{1}{$ and a price of 5$")
    assert html.count("<math") == 2
    assert "<msubsup>" in html and "<munder>" in html or "<msub>" in html
    assert "5$" in html


def test_question_statements_come_from_the_solved_notebook():
    """Each hand-graded question's statement, without its solution, from
    its heading to the next heading."""
    texts = class_report.question_texts(ROOT / "pset3.ipynb")
    assert list(texts) == [q for q, _, _, _ in questions.MANUAL]
    for question, text in texts.items():
        assert text.startswith("###") and question in text.splitlines()[0]
        assert "BEGIN SOLUTION" not in text
        assert "### Q" not in text[3:]


def mutant_like_results():
    """Reports of three students: two make one known mistake, one is
    right; public checks fail too."""
    def report(student, failing):
        results = []
        for check in questions.CHECKS:
            if check.name in failing:
                mistakes = failing[check.name]
                results.append(grading.CheckResult(
                    check, "failed", "words", known=bool(mistakes),
                    mistakes=mistakes))
            else:
                results.append(grading.CheckResult(check, "passed"))
        return grading.Report(student, results)
    return [report("a", {"gradient_dW2": ("grad_sum",),
                         "gradient_db2": ("grad_sum",),
                         "toy_training": ()}),
            report("b", {"gradient_dW2": ("grad_sum",)}),
            report("c", {})]


def test_a_mistake_counts_once_per_student():
    """A mistake named by several checks counts its student once; public
    checks are left out of the ranking, kept in mistakes.csv."""
    ranked = class_report.ranked_mistakes(mutant_like_results())
    assert list(ranked) == ["Q2.2"]
    [(mistake, students)] = ranked["Q2.2"]
    assert mistake == class_report.MISTAKES["grad_sum"].words
    assert students == ["a", "b"]
    rows = class_report.mistake_rows(mutant_like_results())
    assert [(s, check) for s, _, check, _, _ in rows] == [
        ("a", "gradient_dW2"), ("a", "gradient_db2"), ("a", "toy_training"),
        ("b", "gradient_dW2")]


@pytest.mark.parametrize("status, message, public, expected", [
    ("failed", "x: far off; it is a multiple of the right one: look", False,
     "a multiple of the right one"),
    ("failed", "x: got shape (1, C) / expected (C,)", False,
     "the wrong shape"),
    ("error", "raised KeyError when the grader called forward", False,
     "raised KeyError"),
    ("timed out", "over the limit", False, "too slow"),
    ("failed", "x: got shape (1, C): it is a multiple of the right one",
     True, "the public check"),
])
def test_unnamed_failures_are_told_by_the_graders_own_words(
        status, message, public, expected):
    check = next(c for c in questions.CHECKS if c.public == public)
    result = grading.CheckResult(check, status, message)
    assert class_report.mistake_of(result).startswith(expected)
