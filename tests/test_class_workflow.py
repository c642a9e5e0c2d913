"""A teaching assistant's week, end to end: a Canvas download (a zip, with
renamed files and a student's own zip) and a Moodle download (a folder of
folders, with nested and renamed files) are taken in, graded, graded by
hand in two sittings, and exported to the platform's gradebook; nothing is
lost on the way and every total agrees."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

import questions
from mutants import MUTANTS, apply
from test_intake import make_zip, write_tree

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"
SOLUTION = (ROOT / "mlp.py").read_text()
#: A mutant that costs Q2.1 only (tests/test_mutants.py checks that).
MUTANT = apply(SOLUTION, MUTANTS["loss_is_a_sum"])
NOTEBOOK = (ROOT / "pset3.ipynb").read_bytes()


CANVAS = {
    "smith_1001_5001_mlp.py": SOLUTION,
    "smith_1001_5001_pset3.ipynb": NOTEBOOK,
    "jones_LATE_1002_5002_mlp-1.py": MUTANT,
    "jones_LATE_1002_5002_pset3-2.ipynb": NOTEBOOK,
    "lee_1003_5003_hw3.zip": make_zip({
        "hw3/mlp (1).py": SOLUTION, "hw3/pset3.ipynb": NOTEBOOK,
        "__MACOSX/hw3/._mlp (1).py": b"\x00\x05\x16\x07"}),
    "kim_1004_5004_pset3.ipynb": NOTEBOOK,
    "notes_for_the_ta.txt": "not a student's",
}
FULL = {q: p for q, (_, p) in questions.QUESTIONS.items()}
#: {Canvas ID: what its automatic points must be}: full, the mutant's
#: (all but Q2.1), nothing.
CANVAS_POINTS = {"1001": "full", "1002": "mutant", "1003": "full",
                 "1004": "nothing"}


def points_are(row, expected):
    got = {q: int(row[f"{q} [{p}]"]) for q, p in FULL.items()}
    if expected == "full":
        return got == FULL
    if expected == "mutant":
        return got["Q2.1"] < FULL["Q2.1"] and all(
            got[q] == p for q, p in FULL.items() if q != "Q2.1")
    return set(got.values()) == {0}
MOODLE = {
    "Jane Doe_12345_assignsubmission_file_/hw3/mlp (1).py": SOLUTION,
    "Jane Doe_12345_assignsubmission_file_/hw3/pset3.ipynb": NOTEBOOK,
    "Ali Ben_12346_assignsubmission_file_/MLP.py": MUTANT,
    "Ali Ben_12346_assignsubmission_file_/submitted/pset3 (1).ipynb":
        NOTEBOOK,
}
CANVAS_GRADEBOOK = """\
Student,ID,SIS User ID,SIS Login ID,Section,Problem set 2 (501),\
Problem set 3 (502),Current Score,Final Score
    Points Possible,,,,,100.00,100.00,(read only),(read only)
"Smith, Ann",1001,S1001,asmith,PHYS 1,88.00,,88.0,88.0
"Jones, Bo",1002,S1002,bjones,PHYS 1,75.00,,75.0,75.0
"Lee, Cy",1003,S1003,clee,PHYS 1,91.00,,91.0,91.0
"Kim, Di",1004,S1004,dkim,PHYS 1,60.00,,60.0,60.0
"Student, Test",9999,,,PHYS 1,,,,
"""
MOODLE_WORKSHEET = """\
Identifier,Full name,Email address,Status,Grade,Maximum Grade,\
Grade can be changed,Last modified (submission),Last modified (grade),\
Feedback comments
Participant 12345,Jane Doe,jane@uni.edu,Submitted for grading,,100.00,Yes,\
"Monday, 7 December 2026, 9:00 AM",-,
Participant 12346,Ali Ben,ali@uni.edu,Submitted for grading,,100.00,Yes,\
"Monday, 7 December 2026, 9:30 AM",-,
"""


def run(*args):
    done = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def grade_class(class_dir, results):
    return run("grade-class", class_dir, "--out", results, "--jobs", "2",
               "--no-sandbox")


def rows_of(path, key):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return {row[key]: row for row in csv.DictReader(f)}


def fill_manual(path, points):
    """Write points ({(student, question): (points, comment)}) into
    manual.csv, as a teaching assistant does in a spreadsheet."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if (row["student"], row["question"]) in points:
            row["points"], row["comment"] = points[
                row["student"], row["question"]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_canvas_class_from_download_to_gradebook(tmp_path):
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip(CANVAS))
    printed = run("intake", download, "--out", tmp_path / "class")
    # Every placement is reported, and every file of the download listed.
    placed = rows_of(tmp_path / "class" / "intake.csv", "download_path")
    for path in ("smith_1001_5001_mlp.py", "jones_LATE_1002_5002_mlp-1.py",
                 "lee_1003_5003_hw3.zip/hw3/mlp (1).py"):
        assert placed[path]["placed_as"].endswith("mlp.py"), placed[path]
    assert set(placed) >= {n for n in CANVAS if not n.endswith(".zip")}
    assert not placed["notes_for_the_ta.txt"]["placed_as"]
    assert "notes_for_the_ta.txt" in printed and "1004" in printed
    students = sorted(p.name for p in (tmp_path / "class").iterdir()
                      if p.is_dir())
    assert students == sorted(CANVAS_POINTS)

    results = tmp_path / "results"
    grade_class(tmp_path / "class", results)
    grades = rows_of(results / "grades.csv", "student")
    assert sorted(grades) == sorted(CANVAS_POINTS)
    for student, expected in CANVAS_POINTS.items():
        assert points_are(grades[student], expected), grades[student]
    assert "no mlp.py" in grades["1004"]["notes"]

    # Hand grading in two sittings: manual.csv is kept, every score counts.
    manual = results / "manual.csv"
    fill_manual(manual, {("1001", q): ("4" if q == "Q1.1" else str(p),
                                       "the sign" if q == "Q1.1" else "")
                         for q, _, p, _ in questions.MANUAL})
    fill_manual(manual, {("1003", "Q1.1"): ("2.5", "half")})
    kept = manual.read_bytes()
    grade_class(tmp_path / "class", results)
    grade_class(tmp_path / "class", results)
    assert manual.read_bytes() == kept
    grades = rows_of(results / "grades.csv", "student")
    assert (grades["1001"]["total"], grades["1001"]["maximum"]) == \
        ("99", "100")
    assert (grades["1003"]["total"], grades["1003"]["maximum"]) == \
        (f"{sum(FULL.values()) + 2.5:g}", str(sum(FULL.values()) + 5))
    header = (results / "feedback" / "1001.txt").read_text().splitlines()
    assert header[:3] == ["student: 1001",
                          f"assignment: {__import__('grading').ASSIGNMENT}",
                          "points so far: 99 / 100, everything graded"]
    assert "total: 99 / 100" in header
    assert "Q1.1 dL/da2 by hand: 4 / 5, graded by hand: the sign" in header

    # The gradebook Canvas exported, filled with the same totals.
    gradebook = tmp_path / "gradebook.csv"
    gradebook.write_text(CANVAS_GRADEBOOK)
    def export(*options):
        printed = run("export", results, "--canvas", gradebook,
                      "--assignment", "Problem set 3", *options)
        assert gradebook.read_text() == CANVAS_GRADEBOOK
        with open(results / "canvas.csv", newline="",
                  encoding="utf-8-sig") as f:
            lines = list(csv.reader(f))
        assert lines[0] == ["Student", "ID", "SIS User ID", "SIS Login ID",
                            "Section", "Problem set 3 (502)"]
        assert lines[1][0].strip() == "Points Possible"
        return {line[1]: line[5] for line in lines[2:]}, printed

    # By default only final totals (everything graded) reach the gradebook.
    exported, printed = export()
    assert float(exported["1001"]) == 99
    assert exported["1002"] == exported["1003"] == exported["1004"] == ""
    assert "not final" in printed and "1003" in printed
    exported, _ = export("--partial")
    for student, row in grades.items():
        assert float(exported[student]) == float(row["total"]), student
    assert exported.get("9999", "") == ""


def test_a_moodle_class_from_download_to_worksheet(tmp_path):
    write_tree(tmp_path / "download", {
        name: data.encode() if isinstance(data, str) else data
        for name, data in MOODLE.items()})
    printed = run("intake", tmp_path / "download", "--out",
                  tmp_path / "class")
    assert "hw3/mlp (1).py" in printed and "MLP.py" in printed
    results = tmp_path / "results"
    grade_class(tmp_path / "class", results)
    grades = rows_of(results / "grades.csv", "student")
    assert points_are(grades["12345"], "full")
    assert points_are(grades["12346"], "mutant")
    # Every hand-graded answer of the nested notebook is on the pages.
    page = (results / "answers" / "Q1.3.html").read_text()
    assert page.count('<p class="who">') == 2
    assert "no notebook" not in page
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(MOODLE_WORKSHEET)
    run("export", results, "--moodle", worksheet, "--partial")
    exported = rows_of(results / "moodle.csv", "Identifier")
    for student, row in grades.items():
        assert float(exported[f"Participant {student}"]["Grade"]) == \
            float(row["total"])
