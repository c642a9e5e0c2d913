"""instructor/platforms.py: a grading as Gradescope's and PrairieLearn's
results.json, checked against the fields and types each platform reads."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "instructor"))

import grading  # noqa: E402
import platforms  # noqa: E402
import questions  # noqa: E402

GRADESCOPE_VISIBILITY = {"hidden", "after_due_date", "after_published",
                         "visible"}
AUTOMATIC = sum(points for _, points in questions.QUESTIONS.values())


def report_of(failing=(), notes=(), graded=True, message=""):
    """A Report whose checks all passed but those named in ``failing``."""
    report = grading.Report("student", notes=list(notes), seconds=12.6,
                            graded=graded)
    report.results = [grading.CheckResult(
        check, "failed" if check.name in failing else "passed",
        message if check.name in failing else "")
        for check in questions.CHECKS]
    report.manual = [("Q2.7", "not answered yet")]
    return report


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_gradescope_format(results):
    assert set(results) == {"score", "execution_time", "output",
                            "output_format", "visibility",
                            "stdout_visibility", "tests"}
    assert is_number(results["score"]) and is_number(
        results["execution_time"])
    assert isinstance(results["output"], str) and results["output"]
    assert results["output_format"] in {"text", "html", "simple_format",
                                        "md", "ansi"}
    assert results["visibility"] in GRADESCOPE_VISIBILITY
    assert results["stdout_visibility"] in GRADESCOPE_VISIBILITY
    assert len(results["tests"]) == len(questions.QUESTIONS)
    for test, (question, (what, points)) in zip(
            results["tests"], questions.QUESTIONS.items()):
        assert set(test) == {"name", "number", "score", "max_score",
                             "status", "output", "visibility", "tags"}
        assert test["name"] == f"{question} {what}"
        assert test["number"] == question[1:]
        assert is_number(test["score"]) and test["max_score"] == points
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] == ("passed" if test["score"] == points
                                  else "failed")
        assert isinstance(test["output"], str)
        assert test["visibility"] in GRADESCOPE_VISIBILITY
        assert test["tags"] == [question]
    assert results["score"] == sum(t["score"] for t in results["tests"])
    json.dumps(results, allow_nan=False)


def assert_prairielearn_format(results):
    assert set(results) == {"gradable", "score", "message", "output",
                            "tests"}
    assert isinstance(results["gradable"], bool)
    assert is_number(results["score"]) and 0 <= results["score"] <= 1
    assert isinstance(results["message"], str) and results["message"]
    assert isinstance(results["output"], str)
    assert len(results["tests"]) == len(questions.QUESTIONS)
    for test in results["tests"]:
        assert set(test) == {"name", "description", "points", "max_points",
                             "message", "output"}
        assert all(isinstance(test[k], str)
                   for k in ("name", "description", "message", "output"))
        assert 0 <= test["points"] <= test["max_points"]
    assert results["score"] == pytest.approx(
        sum(t["points"] for t in results["tests"]) / AUTOMATIC)
    assert len(json.dumps(results, allow_nan=False).encode()) < 1_000_000


def test_a_full_grading_is_full_on_both_platforms():
    report = report_of()
    gradescope = platforms.gradescope(report)
    assert_gradescope_format(gradescope)
    assert gradescope["score"] == AUTOMATIC
    assert gradescope["execution_time"] == 13
    assert all(t["status"] == "passed" for t in gradescope["tests"])
    prairielearn = platforms.prairielearn(report)
    assert_prairielearn_format(prairielearn)
    assert prairielearn["gradable"] and prairielearn["score"] == 1.0


def test_a_failed_check_costs_its_question_and_shows_its_feedback():
    check = next(c for c in questions.CHECKS if c.question == "Q2.2")
    report = report_of(failing={check.name}, message="dW2: larger by N")
    gradescope = platforms.gradescope(report)
    assert_gradescope_format(gradescope)
    test = gradescope["tests"][list(questions.QUESTIONS).index("Q2.2")]
    assert test["status"] == "failed"
    assert test["score"] == questions.QUESTIONS["Q2.2"][1] - check.points
    assert f"hidden {check.name}: failed: dW2: larger by N" in \
        test["output"].splitlines()
    assert gradescope["score"] == AUTOMATIC - check.points
    prairielearn = platforms.prairielearn(report)
    assert_prairielearn_format(prairielearn)
    assert "dW2: larger by N" in prairielearn["tests"][1]["message"]


def test_the_summary_names_the_questions_graded_by_hand():
    for results in (platforms.gradescope(report_of())["output"],
                    platforms.prairielearn(report_of())["output"]):
        assert f"Graded automatically: {AUTOMATIC} / {AUTOMATIC}" in results
        for question, _, _, _ in questions.MANUAL:
            assert question in results
        assert "Q2.7: not answered yet" in results


def test_a_submission_without_mlp_py_gets_a_message_not_a_crash():
    report = report_of(failing={c.name for c in questions.CHECKS},
                       notes=["no mlp.py in the submission"], graded=False)
    gradescope = platforms.gradescope(report)
    assert_gradescope_format(gradescope)
    assert gradescope["score"] == 0
    assert gradescope["output"].startswith(
        "note: no mlp.py in the submission")
    prairielearn = platforms.prairielearn(report)
    assert_prairielearn_format(prairielearn)
    assert prairielearn["gradable"] is False
    assert prairielearn["message"].startswith(
        "note: no mlp.py in the submission")


def test_grade_prints_the_platforms_json(sandbox, tmp_path):
    """grade --format, end to end in the sandbox: the solution full, a
    folder without mlp.py 0 with a clear note."""
    solution = tmp_path / "solution"
    solution.mkdir()
    (solution / "mlp.py").write_bytes((ROOT / "mlp.py").read_bytes())
    (solution / "pset3.ipynb").write_bytes(
        (ROOT / "pset3.ipynb").read_bytes())
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, score in ((solution, AUTOMATIC), (empty, 0)):
        for form, check in (("gradescope", assert_gradescope_format),
                            ("prairielearn", assert_prairielearn_format)):
            done = subprocess.run(
                [sys.executable, str(ROOT / "instructor" / "handout.py"),
                 "grade", str(folder), "--format", form],
                capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            results = json.loads(done.stdout)
            check(results)
            got = results["score"] * (AUTOMATIC if form == "prairielearn"
                                      else 1)
            assert got == pytest.approx(score), results
            if folder is empty:
                assert "no mlp.py in the submission" in results["output"]


def test_the_gradescope_autograder_grades_as_gradescope_runs_it(sandbox,
                                                               tmp_path):
    """Build the handout, unpack autograder.zip where Gradescope would
    (AUTOGRADER_ROOT stands in for /autograder), and run run_autograder on
    three submissions: the solution full, the untouched handout 0, a
    syntax error 0 with a note saying so; each results.json valid."""
    import zipfile

    subprocess.run([sys.executable, str(ROOT / "instructor" / "handout.py"),
                    "build", str(tmp_path / "built")], check=True,
                   capture_output=True, timeout=300)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(tmp_path / "built" / "gradescope" /
                         "autograder.zip") as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "README.md",
            "grader/handout.py", "grader/requirements.txt",
            "grader/given/utils.py"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    student = tmp_path / "built" / "student"
    cases = {"solution": ((ROOT / "mlp.py").read_text(), AUTOMATIC),
             "handout": ((student / "mlp.py").read_text(), 0),
             "syntax_error": ("def broken(:\n", 0)}
    for name, (source, score) in cases.items():
        submission = root / "submission"
        shutil.rmtree(submission, ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        submission.mkdir()
        (submission / "mlp.py").write_text(source)
        shutil.copy(student / "pset3.ipynb", submission / "pset3.ipynb")
        done = subprocess.run(
            ["bash", str(root / "source" / "run_autograder")],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "AUTOGRADER_ROOT": str(root),
                 "PSET3_PYTHON": sys.executable})
        assert done.returncode == 0, (name, done.stderr)
        results = json.loads((root / "results" / "results.json").read_text())
        assert_gradescope_format(results)
        assert results["score"] == score, (name, results["output"])
        if name == "syntax_error":
            assert "SyntaxError" in results["output"], results["output"]


def test_results_are_written_even_when_grading_cannot_run(tmp_path):
    """No sandbox here (bwrap not on PATH): --results still holds a valid
    results.json, which says why and blames no one's submission."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "mlp.py").write_text((ROOT / "mlp.py").read_text())
    for form in ("gradescope", "prairielearn"):
        path = tmp_path / f"{form}.json"
        done = subprocess.run(
            [sys.executable, str(ROOT / "instructor" / "handout.py"), "grade",
             str(folder), "--format", form, "--results", str(path)],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "PATH": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        results = json.loads(path.read_text())
        assert "The autograder could not run: bubblewrap" in \
            results["output"]
        assert results["score"] == 0
        if form == "gradescope":
            assert results["tests"] == []
        else:
            assert results["gradable"] is False
