"""Student ids are folder names, so any bytes but / and NUL, up to 255 of
them: each id is shown on one printable line (student_ids.readable) and
gets a feedback file of its own with a safe name (feedback_file_name), and
grade-class grades every such folder. (``grading`` is imported inside the
tests that use it, so that the pure tests run whatever the rest of the
grader is doing.)"""
import csv
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from student_ids import feedback_file_name, readable

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"

#: Folder names as raw bytes: ordinary ones, bytes that are not UTF-8, the
#: longest a name may be, control characters, CSV separators and quotes,
#: spreadsheet formulas, and pairs that readable() shows alike.
AWKWARD = [b"s001", b"jane_doe", b"caf\xe9", b"caf\\xe9", b"a" * 255,
           "\u00e9".encode() * 127 + b"x", b"tab\there", b"new\nline",
           b"cr\rhere", b"esc\x1b[31mred", b"x\x01", b"x\x02", b"doe, jane",
           b'say "hi"', b"=HYPERLINK(1)", b"+1", b"-rf", b"@me", b"\xff" * 255]


def _assert_safe(file_name, tmp_path):
    assert file_name.isprintable() and file_name.endswith(".txt")
    assert "/" not in file_name and file_name[0] not in ".-"
    assert len(file_name.encode("utf-8")) <= 100      # UTF-8, no surrogates
    (tmp_path / file_name).write_text("feedback")     # the system takes it


# -- student_ids ------------------------------------------------------------

def test_ordinary_ids_are_shown_and_named_as_they_are():
    for name in ["s001", "jane_doe", "jane.doe@uni.edu", "José García",
                 "a" * 96]:
        assert readable(name) == name
        assert feedback_file_name(name) == name + ".txt"


def test_bytes_that_are_not_utf8_are_shown_as_escapes(tmp_path):
    name = os.fsdecode(b"caf\xe9")
    assert readable(name) == "caf\\xe9"
    assert readable(os.fsdecode(b"\xff\xfe")) == "\\xff\\xfe"
    assert feedback_file_name(name).startswith("caf_~")
    _assert_safe(feedback_file_name(name), tmp_path)


def test_control_characters_are_escaped_on_one_line(tmp_path):
    name = "a\tb\nc\rd\x1b[31me\x00\x7f\u2028\u202e"
    assert readable(name) == "a\\tb\\nc\\rd\\x1b[31me\\x00\\x7f\\u2028\\u202e"
    assert feedback_file_name(name).startswith("a_b_c_d__31me")
    _assert_safe(feedback_file_name(name), tmp_path)


def test_commas_quotes_and_formulas_are_shown_but_not_in_file_names(
        tmp_path):
    for name in ["doe, jane", 'say "hi"', "it's", "=HYPERLINK(1)", "+1",
                 "-rf", "@me", ".hidden", "..", "a/b", "~x", " x", "x."]:
        assert readable(name) == name                 # printable already
        file_name = feedback_file_name(name)
        assert file_name != name + ".txt"
        _assert_safe(file_name, tmp_path)
    assert feedback_file_name("-rf").startswith("rf~")


def test_the_longest_names_get_short_file_names(tmp_path):
    for raw in [b"a" * 255, "\u00e9".encode() * 127 + b"x", b"\xff" * 255]:
        name = os.fsdecode(raw)
        file_name = feedback_file_name(name)
        _assert_safe(file_name, tmp_path)
        assert "\n" not in readable(name) and readable(name).isprintable()
    assert readable(os.fsdecode(b"a" * 255)) == "a" * 255
    assert feedback_file_name("a" * 255).startswith("a" * 60 + "~")


def test_names_shown_alike_get_files_of_their_own():
    pairs = [(os.fsdecode(b"caf\xe9"), "caf\\xe9"),          # typed escape
             ("caf\u00e9", "cafe\u0301"),                    # NFC and NFD
             ("x\x01", "x\x02"), ("x\x01", "x_"),            # unprintable
             (os.fsdecode(b"\xfe"), os.fsdecode(b"\xff")),
             ("a" * 254 + "b", "a" * 254 + "c"),             # cut alike
             ("-x", "x~"), ("", "_")]
    assert readable(pairs[0][0]) == readable(pairs[0][1])
    assert readable(pairs[1][0]) != readable(pairs[1][1])    # but look alike
    for one, other in pairs:
        assert feedback_file_name(one) != feedback_file_name(other), one
    # an ordinary id spelled like a changed name never takes its file
    changed = feedback_file_name("x,y")
    assert feedback_file_name(changed[:-len(".txt")]) != changed


def test_the_names_are_the_same_on_every_run():
    """Grading a class again overwrites the same feedback files."""
    assert feedback_file_name(os.fsdecode(b"caf\xe9")) == \
        "caf_~0dabcef4efc9701f.txt"


@given(st.binary(min_size=1, max_size=255).filter(
    lambda raw: b"/" not in raw and b"\0" not in raw))
def test_any_folder_name_is_shown_on_one_line_and_named_safely(raw):
    name = os.fsdecode(raw)
    shown = readable(name)
    assert shown.isprintable() and shown.encode("utf-8")
    file_name = feedback_file_name(name)
    assert file_name.isprintable() and file_name.endswith(".txt")
    assert "/" not in file_name and file_name[0] not in ".-"
    assert len(file_name.encode("utf-8")) <= 100
    assert feedback_file_name(name + "x") != file_name


# -- grades.csv and grade-class ----------------------------------------------

def _names():
    return [os.fsdecode(raw) for raw in AWKWARD]


def _read_grades(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_grades_csv_keeps_every_id_readable_and_names_its_feedback(
        tmp_path):
    import grading
    names = _names()
    grading.write_grades(tmp_path / "grades.csv",
                         [grading.Report(name) for name in names])
    rows = _read_grades(tmp_path / "grades.csv")
    assert [row["student"] for row in rows] == [
        grading._csv_cell(readable(name)) for name in names]
    assert [row["feedback"] for row in rows] == [
        feedback_file_name(name) for name in names]
    shown_alike = [row for row in rows if row["student"] == "caf\\xe9"]
    assert len(shown_alike) == 2                  # b"caf\xe9", "caf\\xe9"
    assert shown_alike[0]["feedback"] != shown_alike[1]["feedback"]
    students = {row["student"]: row for row in rows}
    assert students["'=HYPERLINK(1)"]["total"] == "0"     # not a formula
    assert "'-rf" in students and "'+1" in students and "'@me" in students
    assert students["new\\nline"]["feedback"].startswith("new_line~")
    assert students["doe, jane"]["student"] == "doe, jane"
    assert students['say "hi"']["feedback"].startswith("say _hi_~")
    assert len({row["feedback"] for row in rows}) == len(names)


def test_grade_class_writes_every_row_when_a_feedback_file_fails(
        tmp_path, monkeypatch):
    """The grading itself is a stand-in: this is about the names. One
    student's feedback file cannot be written (a folder is in its way): that
    student gets a note, and every other student their row and file."""
    import grading
    monkeypatch.setattr(grading, "given_folder", lambda: None)
    monkeypatch.setattr(grading, "require_sandbox", lambda limits: limits)
    monkeypatch.setattr(grading, "grade_submission",
                        lambda path, limits, slot: grading.Report(path.name))
    class_dir, out = tmp_path / "class", tmp_path / "out"
    class_dir.mkdir()
    for raw in AWKWARD:
        os.mkdir(os.path.join(os.fsencode(class_dir), raw))
    (out / "feedback" / "jane_doe.txt").mkdir(parents=True)
    shown = []
    grading.grade_class(class_dir, out, jobs=2, progress=shown.append)
    rows = _read_grades(out / "grades.csv")
    assert len(rows) == len(AWKWARD)
    for row in rows:
        if row["student"] == "jane_doe":
            assert row["notes"].startswith(
                "the feedback file jane_doe.txt could not be written")
        else:
            assert (out / "feedback" / row["feedback"]).is_file(), row
            assert row["notes"] == ""
    assert len(shown) == len(AWKWARD) + 1          # one line each, then one
    assert all("\n" not in line and line.isprintable() for line in shown)
    maximum = sum(p for _, p in grading.questions.QUESTIONS.values())
    assert any(line.endswith(f"] caf\\xe9: 0 / {maximum} (0.0 s)")
               for line in shown)


def test_grade_class_grades_every_awkward_folder_in_the_sandbox(tmp_path,
                                                                 sandbox):
    class_dir, out = tmp_path / "class", tmp_path / "out"
    class_dir.mkdir()
    for raw in AWKWARD:
        folder = os.path.join(os.fsencode(class_dir), raw)
        os.mkdir(folder)
        with open(os.path.join(folder, b"mlp.py"), "w") as f:
            f.write("raise SystemExit(1)\n")
    done = subprocess.run([sys.executable, str(SCRIPT), "grade-class",
                           str(class_dir), "--out", str(out), "--jobs", "2"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _read_grades(out / "grades.csv")
    assert len(rows) == len(AWKWARD)
    assert sorted(row["student"] for row in rows) == sorted(
        "'" + readable(os.fsdecode(raw)) if raw[:1] in b"=+-@"
        else readable(os.fsdecode(raw)) for raw in AWKWARD)
    for row in rows:
        assert (out / "feedback" / row["feedback"]).is_file(), row
        assert row["total"] == "0"
    assert len(os.listdir(out / "feedback")) == len(AWKWARD)
    progress = [line for line in done.stdout.splitlines()
                if line.startswith("[")]
    assert len(progress) == len(AWKWARD), done.stdout
