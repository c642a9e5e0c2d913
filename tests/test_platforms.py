"""instructor/platforms.py: a grading as Gradescope's and PrairieLearn's
results.json, checked against the fields and types each platform reads."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCKERLIKE = Path(__file__).resolve().parent / "dockerlike.py"
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


def test_the_readmes_give_the_questions_and_points_of_the_grader():
    """The packages' instructions name the automatic questions and points
    from questions.py, so that adding a question or changing points needs
    no edit here."""
    assert platforms.question_span(["Q2.1", "Q2.2", "Q2.3"]) == \
        "Q2.1 to Q2.3"
    assert platforms.question_span(["Q2.1", "Q2.2", "Q2.3", "Q2.4", "Q2.8"]) \
        == "Q2.1 to Q2.4 and Q2.8"
    assert platforms.question_span(["Q2.1", "Q2.2", "Q3.1"]) == \
        "Q2.1, Q2.2 and Q3.1"
    span = platforms.question_span(list(questions.QUESTIONS))
    gradescope, prairielearn, question = (" ".join(text.split()) for text in (
        platforms.GRADESCOPE_README, platforms.PRAIRIELEARN_README,
        platforms.QUESTION_HTML))
    assert f"assignment worth {AUTOMATIC + grading.MANUAL_POINTS} points" \
        in gradescope
    assert f"tests are worth {AUTOMATIC} points: one test per " \
        f"automatically graded question ({span})" in gradescope
    assert f'"autoPoints": {AUTOMATIC},' in prairielearn
    assert f"automatically graded question ({span})" in prairielearn
    assert f"Questions {span} are graded automatically" in question


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


@pytest.fixture(params=["bubblewrap", "container"])
def platform(request, tmp_path):
    """How the platform runs the grader: (what the summary says ran, the
    command's prefix, the grader's Python, a folder to lay it out in).
    Container mode is how the platforms run it: as root, under Docker's
    namespace rules (tests/dockerlike.py), so bubblewrap cannot start,
    with a Python every user may read and no scikit-learn; the folder is
    one every user may enter, as /autograder and /grade are."""
    if request.param == "bubblewrap":
        request.getfixturevalue("sandbox")
        yield "bubblewrap", [], sys.executable, tmp_path
        return
    python = request.getfixturevalue("container_python")
    folder = Path(tempfile.mkdtemp(prefix="pset3-platform-"))
    folder.chmod(0o755)
    yield ("container mode", [sys.executable, str(DOCKERLIKE)], python,
           folder)
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("built")
    subprocess.run([sys.executable, str(ROOT / "instructor" / "handout.py"),
                    "build", str(out)], check=True, capture_output=True,
                   timeout=300)
    return out


def submissions(built):
    """{name: (mlp.py's text, the automatic points it must get)}: the
    solution, the untouched handout, a syntax error."""
    student = built / "student"
    return {"solution": ((ROOT / "mlp.py").read_text(), AUTOMATIC),
            "handout": ((student / "mlp.py").read_text(), 0),
            "syntax_error": ("def broken(:\n", 0)}


def run_platform(platform, script, root, submission, source, notebook):
    """Put the submission in place, run the platform's script as it would,
    return the results.json it wrote."""
    sandbox, prefix, python, _ = platform
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    submission.mkdir(parents=True)
    (submission / "mlp.py").write_text(source)
    shutil.copy(notebook, submission / "pset3.ipynb")
    done = subprocess.run(
        [*prefix, "bash", str(script)], capture_output=True, text=True,
        timeout=300, env={**os.environ, "AUTOGRADER_ROOT": str(root),
                          "GRADE_ROOT": str(root), "PSET3_PYTHON": python})
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    # What container mode cannot hide is for the staff (the script's own
    # output, which Gradescope hides from students), not in the results.
    caveat = "must hold nothing secret"
    assert caveat not in json.dumps(results)
    assert (caveat in done.stderr) == (sandbox == "container mode"), \
        done.stderr
    return results


def test_the_gradescope_autograder_grades_as_gradescope_runs_it(platform,
                                                               built):
    """Unpack autograder.zip where Gradescope would (AUTOGRADER_ROOT stands
    in for /autograder), and run run_autograder on three submissions: the
    solution full, the untouched handout 0, a syntax error 0 with a note
    saying so; each results.json valid and naming the sandbox that ran."""
    import zipfile

    root = platform[3] / "autograder"
    with zipfile.ZipFile(built / "gradescope" / "autograder.zip") as archive:
        names = set(archive.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "README.md",
            "grader/handout.py", "grader/requirements.txt",
            "grader/digits.npz", "grader/given/utils.py"} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    requirements = (root / "source" / "grader" / "requirements.txt")
    assert "scikit-learn" not in requirements.read_text().split("#")[-1]
    for name, (source, score) in submissions(built).items():
        results = run_platform(platform, root / "source" / "run_autograder",
                               root, root / "submission", source,
                               built / "student" / "pset3.ipynb")
        assert_gradescope_format(results)
        assert results["score"] == score, (name, results["output"])
        assert f"Sandbox: {platform[0]}" in results["output"], name
        if name == "syntax_error":
            assert "SyntaxError" in results["output"], results["output"]
    if platform[0] == "container mode":
        # the grader's folder, secret and solution: no one else's to read
        assert (root / "source" / "grader").stat().st_mode & 0o077 == 0


def test_the_prairielearn_grader_grades_as_prairielearn_runs_it(platform,
                                                               built):
    """Lay the package out as PrairieLearn does for an external grader
    (GRADE_ROOT stands in for /grade: serverFilesCourse, student, data)
    and run its entry point on the same three submissions."""
    package = built / "prairielearn"
    info = json.loads((package / "questions" / "pset3" / "info.json")
                      .read_text())
    options = info["externalGradingOptions"]
    assert info["gradingMethod"] == "External" and options["enabled"]
    assert options["entrypoint"].startswith("/grade/serverFilesCourse/")
    assert 'file-names="mlp.py, pset3.ipynb"' in (
        package / "questions" / "pset3" / "question.html").read_text()
    assert (package / "image" / "Dockerfile").is_file()
    root = platform[3] / "grade"
    shutil.copytree(package / "serverFilesCourse", root / "serverFilesCourse")
    (root / "data").mkdir()
    (root / "data" / "data.json").write_text("{}")
    script = root / options["entrypoint"][len("/grade/"):]
    assert os.access(script, os.X_OK)
    for name, (source, score) in submissions(built).items():
        results = run_platform(platform, script, root, root / "student",
                               source, built / "student" / "pset3.ipynb")
        assert_prairielearn_format(results)
        assert results["gradable"] is True
        assert results["score"] * AUTOMATIC == pytest.approx(score), name
        assert f"Sandbox: {platform[0]}" in results["output"], name
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
        assert results["output"].startswith("The autograder could not run")
        assert "not a problem with your submission" in results["output"]
        assert "bubblewrap" not in results["output"]      # the staff's
        assert "could not run: bubblewrap" in done.stderr
        assert results["score"] == 0
        if form == "gradescope":
            assert results["tests"] == []
        else:
            assert results["gradable"] is False
