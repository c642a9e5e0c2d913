"""export: grade-class's totals written into the gradebook file Canvas or
Moodle exported, for it to import. The exports are literal samples in the
platforms' formats; grades.csv is written here as grade-class writes it (no
grading: that is slow and tested elsewhere)."""
import codecs
import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

import gradebook
from grading import GraderError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"

AUTO = ["Q2.1 [5]", "Q2.2 [10]", "Q2.3 [5]", "Q2.4 [5]", "Q2.5 [10]",
        "Q2.6 [10]"]
MANUAL = ["Q1.1 [5, manual]", "Q3.2 [10, manual]"]


def write_grades(results, rows):
    """RESULTS_DIR/grades.csv as grade-class writes it, from
    [(student cell, total, maximum)]."""
    results.mkdir(exist_ok=True)
    with open(results / "grades.csv", "w", newline="",
              encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *AUTO, "total", "maximum", *MANUAL,
                         "notes", "feedback"])
        for student, total, maximum in rows:
            writer.writerow([student, 5, 10, 5, 5, 10, 10, total, maximum,
                             "", "", "", f"{student}.txt"])
    return results


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


# -- Canvas -----------------------------------------------------------------

CANVAS_EXPORT = """\
Student,ID,SIS User ID,SIS Login ID,Section,Problem set 2 (123455),\
Problem set 3 (123456),Quiz 1 (123457),Notes,Assignments Current Score,\
Assignments Unposted Current Score,Assignments Final Score,Current Score,\
Unposted Current Score,Final Score,Unposted Final Score
    Points Possible,,,,,100.00,{points},10.00,,(read only),(read only),\
(read only),(read only),(read only),(read only),(read only)
"Smith, Ann",1001,S1001,asmith,PHYS 101 - 01,88.00,,9.00,,88.0,88.0,44.0,\
88.0,88.0,44.0,44.0
"Jones, Bo",1002,S1002,bjones,PHYS 101 - 01,75.00,,8.00,,75.0,75.0,37.5,\
75.0,75.0,37.5,37.5
"Lee, Cy",1003,S1003,clee,PHYS 101 - 02,91.00,,10.00,,91.0,91.0,45.5,\
91.0,91.0,45.5,45.5
"Kim, Di",1004,S1004,dkim,PHYS 101 - 02,60.00,,7.00,,60.0,60.0,30.0,\
60.0,60.0,30.0,30.0
"Park, Eve",1005,S1005,epark,PHYS 101 - 02,70.00,12.00,6.00,late,\
70.0,70.0,35.0,70.0,70.0,35.0,35.0
"=HYPERLINK(""http://x"")",1006,S1006,hx,PHYS 101 - 01,,,,,,,,,,,
"Student, Test",9999,,,PHYS 101 - 01,,,,,,,,,,,
"""
GRADES = [("1001", "93.5", "100"), ("1002", "45", "45"),
          ("1003", "100", "100"), ("1004", "70", "100"),
          ("1006", "50", "100"), ("7777", "88", "100")]
HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
          "Problem set 3 (123456)"]


@pytest.fixture
def canvas(tmp_path):
    """(RESULTS_DIR, the gradebook export) for 100 points possible."""
    export = tmp_path / "canvas_export.csv"
    export.write_bytes(codecs.BOM_UTF8 + CANVAS_EXPORT.format(
        points="100.00").encode())
    return write_grades(tmp_path / "results", GRADES), export


def canvas_export(tmp_path, points="100.00", bom=True):
    export = tmp_path / "canvas_export.csv"
    export.write_bytes((codecs.BOM_UTF8 if bom else b"")
                       + CANVAS_EXPORT.format(points=points).encode())
    return export


def test_canvas_csv_holds_the_identity_columns_and_the_assignment(canvas):
    results, export = canvas
    before = export.read_bytes()
    lines = []
    done = gradebook.export_canvas(results, export, "set 3",
                                   progress=lines.append)
    assert export.read_bytes() == before                 # never changed
    written = results / "canvas.csv"
    assert done.path == written
    assert written.read_bytes().startswith(codecs.BOM_UTF8)   # as Canvas's
    rows = read_csv(written)
    assert rows[0] == HEADER
    assert rows[1] == ["    Points Possible", "", "", "", "", "100.00"]
    cells = {row[1]: row[5] for row in rows[2:]}
    assert cells == {"1001": "93.5", "1002": "45", "1003": "100",
                     "1004": "70", "1005": "12.00", "1006": "50",
                     "9999": ""}
    # The name that would be a formula is made safe; ids are untouched.
    assert rows[7][:2] == ["'=HYPERLINK(\"http://x\")", "1006"]
    assert lines[0] == (f"wrote {written}: 'Problem set 3 (123456)' for 5 "
                        f"students")


def test_canvas_totals_are_grades_csvs(canvas):
    results, export = canvas
    gradebook.export_canvas(results, export, "Problem set 3",
                            progress=lambda line: None)
    grades = gradebook.read_grades(results)
    rows = read_csv(results / "canvas.csv")
    for row in rows[2:]:
        if row[1] in grades:                 # by ID
            assert float(row[5]) == grades[row[1]].total


def test_canvas_report_names_who_needs_a_look(canvas):
    results, export = canvas
    lines = []
    done = gradebook.export_canvas(results, export, "set 3",
                                   progress=lines.append)
    assert done.no_grade == ["Park, Eve (1005)"]    # not the Test Student
    assert done.not_in_gradebook == ["7777"]
    assert done.not_final == ["Jones, Bo (1002) (45 / 45)"]
    assert lines[1:] == [
        "warning: no grade for 1 student of the gradebook (their cells are "
        "kept as exported, never 0): Park, Eve (1005)",
        "warning: 1 student graded but not in the gradebook (check their "
        "ids): 7777",
        "warning: the total of 1 student is not final: hand grading still "
        "to do (points so far / maximum so far): Jones, Bo (1002) (45 / 45)"]


def test_canvas_only_final_leaves_the_unfinished_out(canvas):
    results, export = canvas
    done = gradebook.export_canvas(results, export, "set 3",
                                   only_final=True, progress=lambda l: None)
    cells = {row[1]: row[5] for row in read_csv(results / "canvas.csv")[2:]}
    assert cells["1002"] == ""
    assert done.not_written == ["Jones, Bo (1002)"]
    assert done.written == ["Smith, Ann (1001)", "Lee, Cy (1003)",
                            "Kim, Di (1004)", '=HYPERLINK("http://x") (1006)']


def test_canvas_several_assignments_need_assignment(canvas):
    results, export = canvas
    with pytest.raises(GraderError) as raised:
        gradebook.export_canvas(results, export, progress=lambda l: None)
    message = str(raised.value)
    assert "--assignment TEXT" in message
    assert ("Problem set 2 (123455); Problem set 3 (123456); Quiz 1 "
            "(123457)") in message
    with pytest.raises(GraderError, match="2 assignment columns hold "
                                          "'problem set'"):
        gradebook.export_canvas(results, export, "problem set",
                                progress=lambda l: None)
    with pytest.raises(GraderError, match="--assignment: no assignment "
                                          "column holds 'pset 9'"):
        gradebook.export_canvas(results, export, "pset 9",
                                progress=lambda l: None)
    assert not (results / "canvas.csv").exists()


def test_canvas_with_one_assignment_needs_no_assignment(tmp_path):
    results = write_grades(tmp_path / "results", [("1001", "80", "100")])
    export = tmp_path / "export.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,"
                      "Pset 3 (42),Current Score\n"
                      "    Points Possible,,,,,100,(read only)\n"
                      '"Smith, Ann",1001,,,S1,,80\n')
    gradebook.export_canvas(results, export, progress=lambda l: None)
    written = (results / "canvas.csv").read_bytes()
    assert not written.startswith(codecs.BOM_UTF8)    # none in, none out
    assert read_csv(results / "canvas.csv")[2] == ["Smith, Ann", "1001", "",
                                                   "", "S1", "80"]


def test_canvas_points_possible_other_than_100(tmp_path):
    results = write_grades(tmp_path / "results", GRADES)
    export = canvas_export(tmp_path, points="10.00")
    with pytest.raises(GraderError) as raised:
        gradebook.export_canvas(results, export, "set 3",
                                progress=lambda l: None)
    assert "is out of 10 points" in str(raised.value)
    assert "--scale" in str(raised.value)
    lines = []
    gradebook.export_canvas(results, export, "set 3", scale=True,
                            progress=lines.append)
    cells = {row[1]: row[5] for row in read_csv(results / "canvas.csv")[2:]}
    assert (cells["1001"], cells["1003"]) == ("9.35", "10")
    assert "note: totals written out of 10 points (--scale)" in lines


def test_the_cli_exports_to_canvas(canvas):
    results, export = canvas
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "export", str(results), "--canvas",
         str(export), "--assignment", "set 3"], capture_output=True,
        text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "warning: 1 student graded but not in the gradebook" in done.stdout
    assert read_csv(results / "canvas.csv")[0] == HEADER
    refused = subprocess.run(
        [sys.executable, str(SCRIPT), "export", str(results), "--canvas",
         str(export)], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: --canvas: 3 assignment columns")


# -- Moodle -----------------------------------------------------------------

MOODLE_WORKSHEET = """\
Identifier,Full name,Email address,Status,Grade,Maximum Grade,\
Grade can be changed,Last modified (submission),Last modified (grade),\
Feedback comments
Participant 12345,Jane Doe,jane@uni.edu,Submitted for grading,,{maximum},\
Yes,"Monday, 30 November 2026, 9:14 PM",-,
Participant 12346,Ali Ben,ali@uni.edu,Submitted for grading,,{maximum},\
Yes,"Tuesday, 1 December 2026, 8:02 AM",-,
Participant 12347,Mo Chen,mo@uni.edu,No submission,,{maximum},Yes,-,-,
Participant 12348,Zed Ng,Zed@Uni.edu,Submitted for grading - Graded,61.00,\
{maximum},Yes,"Tuesday, 1 December 2026, 9:00 AM",\
"Wednesday, 2 December 2026, 10:00 AM",Good start
Participant 12349,=cmd|' /C calc'!A0,x@uni.edu,Submitted for grading,,\
{maximum},Yes,-,-,
"""
MOODLE_GRADES = [("12345", "88.5", "100"), ("12346", "40", "45"),
                 ("zed@uni.edu", "77", "100"), ("12349", "10", "100"),
                 ("55555", "60", "100")]


def moodle_files(tmp_path, maximum="100.00"):
    worksheet = tmp_path / "Grades-PHYS101-Pset 3-42.csv"
    worksheet.write_text(MOODLE_WORKSHEET.format(maximum=maximum),
                         encoding="utf-8")
    return write_grades(tmp_path / "results", MOODLE_GRADES), worksheet


def test_moodle_csv_is_the_worksheet_with_grades(tmp_path):
    results, worksheet = moodle_files(tmp_path)
    before = worksheet.read_bytes()
    lines = []
    done = gradebook.export_moodle(results, worksheet, progress=lines.append)
    assert worksheet.read_bytes() == before
    original, rows = read_csv(worksheet), read_csv(results / "moodle.csv")
    assert rows[0] == original[0]
    assert [row[4] for row in rows[1:]] == ["88.5", "40", "", "77", "10"]
    # Everything but Grade is as exported (the name made safe).
    for new, old in zip(rows[1:], original[1:]):
        assert new[:4] + new[5:] == old[:4] + old[5:] or \
            new[1] == "'" + old[1]
    assert rows[5][1] == "'=cmd|' /C calc'!A0"
    assert done.no_grade == ["Mo Chen (Participant 12347)"]
    assert done.not_in_gradebook == ["55555"]
    assert done.not_final == ["Ali Ben (Participant 12346) (40 / 45)"]
    assert lines[0] == f"wrote {results / 'moodle.csv'}: 'Grade' for 4 " \
                       f"students"
    assert len(lines) == 4


def test_moodle_maximum_grade_other_than_100(tmp_path):
    results, worksheet = moodle_files(tmp_path, maximum="20.00")
    with pytest.raises(GraderError, match=r"out of 20 points.*--scale"):
        gradebook.export_moodle(results, worksheet, progress=lambda l: None)
    assert not (results / "moodle.csv").exists()
    gradebook.export_moodle(results, worksheet, scale=True,
                            progress=lambda l: None)
    rows = read_csv(results / "moodle.csv")
    assert [row[4] for row in rows[1:]] == ["17.7", "8", "", "15.4", "2"]


def test_the_cli_exports_to_moodle(tmp_path):
    results, worksheet = moodle_files(tmp_path)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "export", str(results), "--moodle",
         str(worksheet)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "warning: no grade for 1 student of the gradebook" in done.stdout
    assert (results / "moodle.csv").exists()


def test_a_worksheet_without_its_columns_is_refused(tmp_path):
    results = write_grades(tmp_path / "results", MOODLE_GRADES)
    worksheet = tmp_path / "w.csv"
    worksheet.write_text("Kennung,Vollständiger Name,Bewertung\n"
                         "Teilnehmer/in 12345,Jane Doe,\n")
    with pytest.raises(GraderError, match="--moodle: .* has no Identifier "
                                          "and Grade columns"):
        gradebook.export_moodle(results, worksheet, progress=lambda l: None)


# -- grades.csv and the files given -----------------------------------------

def test_read_grades_undoes_the_formula_guard(tmp_path):
    results = write_grades(tmp_path / "results", [
        ("'=1+1", "12.5", "45"), ("s001", "100", "100")])
    grades = gradebook.read_grades(results)
    assert grades == {"=1+1": gradebook.Grade(12.5, 45.0),
                      "s001": gradebook.Grade(100.0, 100.0)}
    assert not grades["=1+1"].final and grades["s001"].final


def test_a_grades_csv_that_cannot_be_right_is_refused(tmp_path):
    results = write_grades(tmp_path / "results", [("s001", "lots", "100")])
    with pytest.raises(GraderError, match=r"line 2: the total of 's001' is "
                                          r"'lots', not a number"):
        gradebook.read_grades(results)
    with pytest.raises(GraderError, match="run grade-class CLASS_DIR --out"):
        gradebook.read_grades(tmp_path / "nowhere")


def test_a_gradebook_that_is_not_utf8_is_refused(tmp_path):
    results = write_grades(tmp_path / "results", GRADES)
    export = tmp_path / "export.csv"
    export.write_bytes(CANVAS_EXPORT.format(points="100").replace(
        "Smith", "Sm\u00efth").encode("latin-1"))
    with pytest.raises(GraderError, match="--canvas: .* is not UTF-8"):
        gradebook.export_canvas(results, export, "set 3",
                                progress=lambda l: None)


def test_the_export_never_overwrites_the_gradebook_given(tmp_path):
    results = write_grades(tmp_path / "results", GRADES)
    export = results / "canvas.csv"
    export.write_text(CANVAS_EXPORT.format(points="100"))
    before = export.read_bytes()
    with pytest.raises(GraderError, match="is where the export would be "
                                          "written"):
        gradebook.export_canvas(results, export, "set 3",
                                progress=lambda l: None)
    assert export.read_bytes() == before


def test_a_semicolon_export_is_written_back_with_semicolons(tmp_path):
    results = write_grades(tmp_path / "results", [("1001", "80", "100")])
    export = tmp_path / "export.csv"
    export.write_text("Student;ID;SIS User ID;SIS Login ID;Section;"
                      "Pset 3 (42)\n    Points Possible;;;;;100\n"
                      '"Smith, Ann";1001;;;S1;\n')
    gradebook.export_canvas(results, export, progress=lambda l: None)
    text = (results / "canvas.csv").read_text()
    assert text.splitlines()[2] == '"Smith, Ann";"1001";"";"";"S1";"80"'
    assert list(csv.reader(io.StringIO(text), delimiter=";"))[0][-1] == \
        "Pset 3 (42)"


def test_canvas_rows_that_are_no_students_are_kept(tmp_path):
    """Canvas adds a row naming the assignments posted by hand; it is kept,
    and a gradebook without Points Possible is written out of 100."""
    results = write_grades(tmp_path / "results", [("1001", "80", "100")])
    export = tmp_path / "export.csv"
    export.write_text("Student,ID,SIS User ID,SIS Login ID,Section,"
                      "Pset 3 (42),Quiz (43)\n"
                      ",,,,,Manual Posting,\n"
                      '"Smith, Ann",1001,,,S1,,5\n')
    lines = []
    gradebook.export_canvas(results, export, "pset", progress=lines.append)
    assert read_csv(results / "canvas.csv")[1:] == [
        ["", "", "", "", "", "Manual Posting"],
        ["Smith, Ann", "1001", "", "", "S1", "80"]]
    assert lines[-1] == (f"note: no Points Possible for 'Pset 3 (42)' in "
                         f"{export}: the totals were written out of 100")
    with pytest.raises(GraderError, match="--scale cannot convert"):
        gradebook.export_canvas(results, export, "pset", scale=True,
                                progress=lambda l: None)


# -- Red-team findings ------------------------------------------------------

def export_text(tmp_path, text, name="export.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SIS_CLASH = """\
Student,ID,SIS User ID,SIS Login ID,Section,PS3 (555)
Points Possible,,,,,100
"Ann, A",1001,S-77,ann,Sec,
"Nosub, N",2001,1001,nosub,Sec,
"Bob, B",1002,S-78,bob,Sec,
"""


def test_canvas_an_id_in_two_columns_of_other_rows_is_refused(tmp_path):
    """Nosub's SIS User ID is Ann's Canvas ID: which row is 1001's would be
    a guess, and the grade must not fill Nosub's row."""
    results = write_grades(tmp_path / "results", [("1001", "97", "100"),
                                                  ("1002", "40", "100")])
    export = export_text(tmp_path, SIS_CLASH)
    with pytest.raises(GraderError) as raised:
        gradebook.export_canvas(results, export, progress=lambda l: None)
    message = str(raised.value)
    assert message.startswith(f"--canvas: {export}: the ids of grades.csv "
                               f"are found in more than one column (ID and "
                               f"SIS User ID)")
    assert ("1001 is the ID of Ann, A (1001) and the SIS User ID of Nosub, "
            "N (2001)") in message
    assert "give a copy of the gradebook without that column" in message
    assert not (results / "canvas.csv").exists()
    # Without the SIS User ID column (as the message says), it is exported.
    with open(export, "w", newline="") as f:
        csv.writer(f).writerows(cells[:2] + cells[3:] for cells in
                                csv.reader(io.StringIO(SIS_CLASH)))
    gradebook.export_canvas(results, export, progress=lambda l: None)
    cells = {row[1]: row[-1] for row in read_csv(results / "canvas.csv")[2:]}
    assert cells == {"1001": "97", "2001": "", "1002": "40"}


def test_canvas_ids_of_two_kinds_in_grades_csv_are_refused(tmp_path):
    results = write_grades(tmp_path / "results", [("1001", "97", "100"),
                                                  ("S-78", "40", "100")])
    export = export_text(tmp_path, SIS_CLASH.replace(",1001,nosub", ",,no"))
    with pytest.raises(GraderError, match=r"S-78 is the SIS User ID of Bob, "
                                          r"B \(1002\)\. Name every student "
                                          r"of grades.csv by the same column"):
        gradebook.export_canvas(results, export, progress=lambda l: None)


def test_canvas_key_columns_that_agree_or_the_only_one_found(tmp_path):
    # SIS User ID equal to the ID in every row: the columns agree.
    results = write_grades(tmp_path / "results", [("1001", "97", "100"),
                                                  ("1002", "40", "100")])
    export = export_text(tmp_path, "Student,ID,SIS User ID,PS3 (555)\n"
                                   '"Ann, A",1001,1001,\n'
                                   '"Bob, B",1002,1002,\n')
    lines = []
    gradebook.export_canvas(results, export, progress=lines.append)
    assert [row[-1] for row in read_csv(results / "canvas.csv")[1:]] == \
        ["97", "40"]
    assert not any("matched by" in line for line in lines)
    # grades.csv by SIS User ID only: that column, said in a note.
    results = write_grades(tmp_path / "results", [("S-77", "97", "100")])
    export = export_text(tmp_path, SIS_CLASH.replace(",1001,nosub", ",,no"))
    gradebook.export_canvas(results, export, progress=lines.append)
    cells = {row[1]: row[-1] for row in read_csv(results / "canvas.csv")[2:]}
    assert cells == {"1001": "97", "2001": "", "1002": ""}
    assert lines[-1] == (f"note: students matched by their SIS User ID, the "
                         f"column of {export} that holds grades.csv's ids")


def test_canvas_a_grade_matching_two_rows_fills_neither(tmp_path):
    results = write_grades(tmp_path / "results", [("1001", "97", "100"),
                                                  ("1002", "40", "100")])
    export = export_text(tmp_path, "Student;ID;SIS User ID;PS3 (555)\n"
                                   "Points Possible;;;100\n"
                                   '"Ann, A";1001;;\n'
                                   '"Bob, B";1002;;5\n'
                                   '"Bob, B";1002;;\n')
    lines = []
    done = gradebook.export_canvas(results, export, progress=lines.append)
    rows = list(csv.reader(io.StringIO((results / "canvas.csv").read_text()),
                           delimiter=";"))
    assert [row[-1] for row in rows[2:]] == ["97", "5", ""]  # as exported
    assert done.ambiguous == ["1002, matching 2 rows: Bob, B (1002); Bob, B "
                              "(1002)"]
    assert done.written == ["Ann, A (1001)"]
    assert done.no_grade == [] and done.not_in_gradebook == []
    assert lines[1] == (
        "warning: 1 ambiguous match, written nowhere (a grade matching "
        "several rows, or a row several grades; those cells are kept as "
        "exported: fill them by hand): 1002, matching 2 rows: Bob, B (1002); "
        "Bob, B (1002)")


def test_moodle_a_row_matching_two_grades_gets_neither(tmp_path):
    results, worksheet = moodle_files(tmp_path)
    # 12348 and zed@uni.edu are both graded: the row of Zed matches both.
    write_grades(results, MOODLE_GRADES + [("12348", "50", "100")])
    done = gradebook.export_moodle(results, worksheet,
                                   progress=lambda l: None)
    rows = read_csv(results / "moodle.csv")
    assert [row[4] for row in rows[1:]] == ["88.5", "40", "", "61.00", "10"]
    assert done.ambiguous == ["Zed Ng (Participant 12348), matched by each "
                              "of 12348 and zed@uni.edu"]
    assert "zed@uni.edu" not in done.not_in_gradebook


@pytest.mark.parametrize("maximum, scale, written", [
    ('"100,00"', False, "88.5"), ("100", False, "88.5"),
    ("100.00", False, "88.5"), ('"10,00"', True, "8.85"),
    ('"10,5"', True, "9.29")])
def test_moodle_maximum_grade_with_a_decimal_comma(tmp_path, maximum, scale,
                                                   written):
    results, worksheet = moodle_files(tmp_path, maximum=maximum)
    gradebook.export_moodle(results, worksheet, scale=scale,
                            progress=lambda l: None)
    assert read_csv(results / "moodle.csv")[1][4] == written


def test_moodle_a_maximum_grade_out_of_other_points_is_never_silent(
        tmp_path):
    results, worksheet = moodle_files(tmp_path, maximum='"10,00"')
    with pytest.raises(GraderError, match=r"is out of 10 points, and the "
                                          r"totals are out of 100: pass "
                                          r"--scale"):
        gradebook.export_moodle(results, worksheet, progress=lambda l: None)
    assert not (results / "moodle.csv").exists()
    for unreadable in ("ten", "", "1,000"):
        results, worksheet = moodle_files(tmp_path, maximum=f'"{unreadable}"')
        with pytest.raises(GraderError, match=(
                f"--moodle: .*: the Maximum Grade of Jane Doe \\(Participant "
                f"12345\\) is '{unreadable}', not a number of points")):
            gradebook.export_moodle(results, worksheet, scale=True,
                                    progress=lambda l: None)
    # No Maximum Grade column at all: written out of 100, with a note.
    results = write_grades(tmp_path / "results", MOODLE_GRADES)
    worksheet = export_text(tmp_path, "Identifier,Full name,Grade\n"
                                      "Participant 12345,Jane Doe,\n")
    lines = []
    gradebook.export_moodle(results, worksheet, progress=lines.append)
    assert lines[-1] == (f"note: no Maximum Grade column in {worksheet}: "
                         f"the totals were written out of 100")


def test_the_exports_quote_every_cell_and_defuse_formulas_after_a_semicolon(
        tmp_path):
    results = write_grades(tmp_path / "results", [("1001", "80", "100")])
    export = export_text(tmp_path, "Student,ID,Section,Pset 3 (42)\n"
                                   '"x;=2+3*7",1001,"S;@1",\n')
    gradebook.export_canvas(results, export, progress=lambda l: None)
    text = (results / "canvas.csv").read_text()
    assert text.splitlines() == ['"Student","ID","Section","Pset 3 (42)"',
                                 '"x;\'=2+3*7","1001","S;\'@1","80"']
    results, worksheet = moodle_files(tmp_path)
    gradebook.export_moodle(results, worksheet, progress=lambda l: None)
    for line in (results / "moodle.csv").read_text().splitlines():
        assert line.startswith('"') and line.endswith('"'), line


def test_duplicate_headers_are_said_to_be_duplicates(tmp_path):
    results = write_grades(tmp_path / "results", [("1001", "80", "100")])
    export = export_text(tmp_path, "Student,ID,Section,PS3 (555),PS3 (555)\n"
                                   "Points Possible,,,100,10\n"
                                   '"Ann, A",1001,Sec,,\n')
    for assignment in (None, "PS3"):
        with pytest.raises(GraderError) as raised:
            gradebook.export_canvas(results, export, assignment,
                                    progress=lambda l: None)
        assert str(raised.value) == (
            f"--canvas: {export} has 2 columns headed 'PS3 (555)' (duplicate "
            f"headers), and which one is meant cannot be told; export it "
            f"from the platform again, or delete the extra column from a "
            f"copy and give that")
    export = export_text(tmp_path, "Student,ID,ID,PS3 (555)\n"
                                   '"Ann, A",1001,1002,\n')
    with pytest.raises(GraderError, match="2 columns headed 'ID' "
                                          r"\(duplicate headers\)"):
        gradebook.export_canvas(results, export, progress=lambda l: None)
    worksheet = export_text(tmp_path, "Identifier,Grade,Grade\n"
                                      "Participant 1001,,\n")
    with pytest.raises(GraderError, match="--moodle: .* 2 columns headed "
                                          "'Grade' \\(duplicate headers\\)"):
        gradebook.export_moodle(results, worksheet, progress=lambda l: None)
