"""intake: a platform's download of a class's submissions made into the
folder grade-class grades, one folder per student id with their mlp.py and
pset3.ipynb, and intake.csv listing every file of the download. Nothing is
graded here: each download is built in tmp_path, its files holding their
own names so that every placement can be checked byte for byte."""
import csv
import hashlib
import io
import os
import random
import stat
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import intake
from intake import (choose_files, find_submission_files, name_kind,
                    parse_gradescope_metadata)
from sandbox import GraderError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "instructor" / "handout.py"


def content(name):
    """A file's bytes that say which file it is."""
    return f"# {name}\n".encode()


def make_zip(files):
    """The bytes of a zip of {member name: bytes}."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def members(data):
    """The files (not folders) of a zip's bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [i.filename for i in archive.infolist() if not i.is_dir()]


def write_tree(root, files):
    """Write {relative path: bytes} under root."""
    for name, data in files.items():
        path = Path(root) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def snapshot(folder, leave_out=None):
    """{path: SHA-256} of every file below folder but under leave_out."""
    found = {}
    for dirpath, _, names in os.walk(folder):
        if leave_out and Path(dirpath).is_relative_to(leave_out):
            continue
        for name in names:
            path = Path(dirpath) / name
            found[str(path)] = hashlib.sha256(
                path.read_bytes() if not path.is_symlink() else b"link"
            ).hexdigest()
    return found


def read_rows(class_dir):
    with open(Path(class_dir) / "intake.csv", newline="",
              encoding="utf-8") as f:
        return list(csv.DictReader(f))


def run_intake(download, class_dir, platform=None):
    """(Intake, the printed lines)."""
    lines = []
    result = intake.intake(download, class_dir, platform,
                           progress=lines.append)
    return result, lines


def intake_command(download, class_dir):
    """The intake command as an instructor runs it: the finished process."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "intake", str(download), "--out",
         str(class_dir)], capture_output=True, text=True, timeout=120)


def assert_every_file_listed(rows, paths):
    """Each path of the download has a row, placed or saying why not."""
    listed = [row["download_path"] for row in rows]
    assert sorted(listed) == sorted(paths)
    for row in rows:
        assert bool(row["placed_as"]) != bool(row["note"]), row


# -- The Canvas download ----------------------------------------------------

LEE_ZIP = {
    "hw3/mlp.py": content("lee mlp"),
    "hw3/pset3.ipynb": content("lee notebook"),
    "hw3/.ipynb_checkpoints/pset3-checkpoint.ipynb": content("lee old"),
    "__MACOSX/hw3/._mlp.py": b"\x00\x05\x16\x07 resource fork",
}
CANVAS = {
    "smith_1001_5001_mlp.py": content("smith mlp"),
    "smith_1001_5001_pset3.ipynb": content("smith notebook"),
    "jones_LATE_1002_5002_mlp-1.py": content("jones mlp"),
    "jones_LATE_1002_5002_pset3-2.ipynb": content("jones notebook"),
    "lee_1003_5003_hw3.zip": make_zip(LEE_ZIP),
    "kim_1004_5004_pset3.ipynb": content("kim notebook"),
    "park_1005_5005_mlp.py": content("park mlp"),
    "park_1005_5005_Mlp.py": content("park other mlp"),
    "park_1005_5005_pset3-checkpoint.ipynb": content("park checkpoint"),
    "park_1005_5005_pset3 (1).ipynb": content("park notebook"),
    "garcia_1006_5006_mlp_2.py": content("garcia mlp"),
    "garcia_1006_5006_report.pdf": content("garcia report"),
    "garcia_1006_pset3.ipynb": content("garcia notebook"),
    "grading_notes.txt": content("stray"),
}
#: {student: (the download path placed as mlp.py, as pset3.ipynb)}
CANVAS_PLACED = {
    "1001": ("smith_1001_5001_mlp.py", "smith_1001_5001_pset3.ipynb"),
    "1002": ("jones_LATE_1002_5002_mlp-1.py",
             "jones_LATE_1002_5002_pset3-2.ipynb"),
    "1003": ("lee_1003_5003_hw3.zip/hw3/mlp.py",
             "lee_1003_5003_hw3.zip/hw3/pset3.ipynb"),
    "1004": (None, "kim_1004_5004_pset3.ipynb"),
    "1005": ("park_1005_5005_mlp.py", "park_1005_5005_pset3 (1).ipynb"),
    "1006": ("garcia_1006_5006_mlp_2.py", "garcia_1006_pset3.ipynb"),
}


def source_bytes(download_files, path):
    """The bytes of a download path, looking into the zips it names."""
    if path in download_files:
        return download_files[path]
    outer, _, inner = path.partition(".zip/")
    with zipfile.ZipFile(io.BytesIO(download_files[outer + ".zip"])) as z:
        return z.read(inner)


@pytest.fixture
def canvas_zip(tmp_path):
    path = tmp_path / "submissions.zip"
    path.write_bytes(make_zip(CANVAS))
    return path


def test_canvas_zip_places_each_students_files(canvas_zip, tmp_path):
    class_dir = tmp_path / "class"
    before = snapshot(tmp_path)
    result, lines = run_intake(canvas_zip, class_dir)
    assert result.platform == "canvas"
    assert sorted(os.listdir(class_dir)) == sorted(
        [*CANVAS_PLACED, "intake.csv"])
    for student, (mlp, notebook) in CANVAS_PLACED.items():
        record = result.students[student]
        assert (record.mlp, record.notebook) == (mlp, notebook)
        for name, path in (("mlp.py", mlp), ("pset3.ipynb", notebook)):
            placed = class_dir / student / name
            if path is None:
                assert not placed.exists()
            else:
                assert placed.read_bytes() == source_bytes(CANVAS, path)
    # Nothing outside CLASS_DIR was written, and the download is unchanged.
    assert snapshot(tmp_path, leave_out=class_dir) == before
    assert ("1002: mlp.py <- jones_LATE_1002_5002_mlp-1.py; pset3.ipynb <- "
            "jones_LATE_1002_5002_pset3-2.ipynb") in lines
    assert "1004: mlp.py: none; pset3.ipynb <- kim_1004_5004_pset3.ipynb" \
        in lines
    assert "no mlp.py for 1 student: 1004" in lines


def test_canvas_intake_csv_lists_every_file_of_the_download(canvas_zip,
                                                            tmp_path):
    result, lines = run_intake(canvas_zip, tmp_path / "class")
    rows = read_rows(tmp_path / "class")
    paths = list(CANVAS) + [f"lee_1003_5003_hw3.zip/{name}"
                            for name in LEE_ZIP]
    assert_every_file_listed(rows, paths)
    by_path = {row["download_path"]: row for row in rows}
    assert by_path["grading_notes.txt"]["student"] == ""
    assert by_path["park_1005_5005_Mlp.py"]["note"] == (
        "not taken: park_1005_5005_mlp.py is this student's mlp.py")
    assert by_path["park_1005_5005_pset3-checkpoint.ipynb"]["placed_as"] == ""
    assert by_path["garcia_1006_5006_report.pdf"]["note"].startswith(
        "not a file the grader reads")
    assert by_path["lee_1003_5003_hw3.zip"]["note"].startswith("a zip: opened")
    assert by_path["jones_LATE_1002_5002_mlp-1.py"]["placed_as"] == \
        "1002/mlp.py"
    # What could not be placed is said: the stray, and the duplicates.
    unplaced = {(u.student, u.path): u.kind for u in result.unplaced}
    assert unplaced[("", "grading_notes.txt")] == "no student"
    assert unplaced[("1005", "park_1005_5005_Mlp.py")] == "not taken"
    assert "1 file of no student:" in lines
    assert any(line.startswith("  1005: park_1005_5005_pset3-checkpoint")
               for line in lines)


def test_canvas_notes_name_the_renamed_and_the_passed_over(canvas_zip,
                                                           tmp_path):
    result, _ = run_intake(canvas_zip, tmp_path / "class")
    assert "mlp.py: took mlp-1.py" in result.students["1002"].notes
    assert "mlp.py: not taken: Mlp.py" in result.students["1005"].notes
    assert "pset3.ipynb: not taken: pset3-checkpoint.ipynb" in \
        result.students["1005"].notes
    assert result.students["1001"].notes == []
    # A late submission (Canvas's LATE in its names) is said so.
    assert "late: Canvas marks its files LATE" in \
        result.students["1002"].notes


def test_the_cli_takes_in_a_canvas_zip(canvas_zip, tmp_path):
    done = intake_command(canvas_zip, tmp_path / "class")
    assert done.returncode == 0, done.stderr
    assert "a canvas download, 6 students" in done.stdout
    assert (tmp_path / "class" / "1003" / "mlp.py").read_bytes() == \
        content("lee mlp")
    # Again into the same, now full, folder: refused, nothing changed.
    again = intake_command(canvas_zip, tmp_path / "class")
    assert again.returncode == 1
    assert again.stderr.startswith("error: --out: ")
    assert "is not empty" in again.stderr


# -- Moodle -----------------------------------------------------------------

MOODLE = {
    "Jane Doe_12345_assignsubmission_file_/hw3/mlp (1).py":
        content("jane mlp"),
    "Jane Doe_12345_assignsubmission_file_/hw3/pset3.ipynb":
        content("jane notebook"),
    "Jane Doe_12345_assignsubmission_onlinetext_/onlinetext.html":
        content("jane text"),
    "Ali Ben_12346_assignsubmission_file_/mlp.py": content("ali mlp"),
    "Ali Ben_12346_assignsubmission_file_/pset3.ipynb":
        content("ali notebook"),
    "Ali Ben_12346_assignsubmission_file_/old/deep/mlp.py":
        content("ali old mlp"),
    "José Ñúñez_12347_assignsubmission_file_/Pset3.ipynb":
        content("jose notebook"),
    "José Ñúñez_12347_assignsubmission_file_/MLP.py": content("jose mlp"),
}


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_moodle_download(tmp_path, packed):
    if packed:
        download = tmp_path / "moodle.zip"
        download.write_bytes(make_zip(MOODLE))
    else:
        download = tmp_path / "moodle"
        write_tree(download, MOODLE)
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    assert result.platform == "moodle"
    assert sorted(result.students) == ["12345", "12346", "12347"]
    folder = "Jane Doe_12345_assignsubmission_file_"
    assert result.students["12345"].mlp == f"{folder}/hw3/mlp (1).py"
    assert (class_dir / "12345" / "mlp.py").read_bytes() == \
        content("jane mlp")
    assert (class_dir / "12346" / "mlp.py").read_bytes() == content("ali mlp")
    assert (class_dir / "12347" / "pset3.ipynb").read_bytes() == \
        content("jose notebook")
    rows = read_rows(class_dir)
    assert_every_file_listed(rows, list(MOODLE))
    by_path = {row["download_path"]: row for row in rows}
    text = "Jane Doe_12345_assignsubmission_onlinetext_/onlinetext.html"
    assert by_path[text]["student"] == "12345"
    assert by_path["Ali Ben_12346_assignsubmission_file_/old/deep/mlp.py"][
        "note"] == ("not taken: Ali Ben_12346_assignsubmission_file_/mlp.py "
                    "is this student's mlp.py")


def test_moodle_files_side_by_side_without_folders(tmp_path):
    download = tmp_path / "moodle.zip"
    download.write_bytes(make_zip({
        "Jane Doe_12345_assignsubmission_file_mlp.py": content("jane"),
        "Jane Doe_12345_assignsubmission_file_pset3.ipynb": content("nb"),
    }))
    result, _ = run_intake(download, tmp_path / "class")
    assert result.platform == "moodle"
    assert (tmp_path / "class" / "12345" / "mlp.py").read_bytes() == \
        content("jane")


# -- Gradescope -------------------------------------------------------------

GRADESCOPE_METADATA = """\
---
submission_101:
  :submitters:
  - :name: Solo Student
    :sid: '100'
    :email: solo@uni.edu
  :created_at: 2026-11-02 10:00:00.000000000 -08:00
  :score: 45.0
  :history:
  - :id: 99
    :created_at: 2026-11-01 09:00:00.000000000 -08:00
    :score: 30.0
    :submitters:
    - :name: Former Partner
      :sid: '999'
submission_102:
  :submitters:
  - :name: Pair One
    :sid: '200'
    :email: one@uni.edu
  - :name: "Pair \\"Two\\""
    :sid: '201'
    :email: two@uni.edu
  :score: 40.0
submission_103:
  :submitters:
  - :name: No Sid
    :sid:
    :email: nosid@uni.edu
  :score:
"""
GRADESCOPE = {
    "submission_101/mlp.py": content("solo mlp"),
    "submission_101/pset3.ipynb": content("solo notebook"),
    "submission_102/pair/mlp.py": content("pair mlp"),
    "submission_103/mlp-1.py": content("nosid mlp"),
    "submission_999/mlp.py": content("unknown"),
}


def test_gradescope_metadata_is_read_without_yaml():
    people = parse_gradescope_metadata(GRADESCOPE_METADATA)
    assert people == {
        "submission_101": [{"name": "Solo Student", "sid": "100",
                            "email": "solo@uni.edu"}],
        "submission_102": [
            {"name": "Pair One", "sid": "200", "email": "one@uni.edu"},
            {"name": 'Pair "Two"', "sid": "201", "email": "two@uni.edu"}],
        "submission_103": [{"name": "No Sid", "sid": None,
                            "email": "nosid@uni.edu"}],
    }


def test_gradescope_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    loaded = yaml.safe_load(GRADESCOPE_METADATA)
    expected = {key: [{field[1:]: (str(value) if value is not None
                                   else None)
                       for field, value in person.items()}
                      for person in value[":submitters"]]
                for key, value in loaded.items()}
    assert parse_gradescope_metadata(GRADESCOPE_METADATA) == expected


def test_gradescope_metadata_with_ruby_tags_is_read():
    text = GRADESCOPE_METADATA.replace(
        "  :score: 40.0\n",
        "  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "    score: 40.0\n")
    assert parse_gradescope_metadata(text)["submission_102"][1]["sid"] == \
        "201"


def test_gradescope_export(tmp_path):
    download = tmp_path / "export.zip"
    download.write_bytes(make_zip({
        "assignment_77_export/submission_metadata.yml":
            GRADESCOPE_METADATA.encode(),
        **{f"assignment_77_export/{k}": v for k, v in GRADESCOPE.items()}}))
    class_dir = tmp_path / "class"
    result, lines = run_intake(download, class_dir)
    assert result.platform == "gradescope"
    # The sid, else the email; a group's files go to both members.
    assert sorted(result.students) == ["100", "200", "201", "nosid@uni.edu"]
    for student, source in (("100", "solo mlp"), ("200", "pair mlp"),
                            ("201", "pair mlp"), ("nosid@uni.edu",
                                                  "nosid mlp")):
        assert (class_dir / student / "mlp.py").read_bytes() == \
            content(source)
    rows = read_rows(class_dir)
    stray = [r for r in rows if r["download_path"].endswith(
        "submission_999/mlp.py")]
    assert stray == [{"student": "", "download_path":
                      "assignment_77_export/submission_999/mlp.py",
                      "placed_as": "", "note": "submission_999 is not in "
                                               "submission_metadata.yml"}]
    listed = {r["download_path"] for r in rows}
    assert "assignment_77_export/submission_metadata.yml" in listed
    assert any("(its folder assignment_77_export/)" in line for line in lines)


# -- A folder of folders ----------------------------------------------------

def test_folders_of_ids(tmp_path):
    download = tmp_path / "class-download"
    write_tree(download, {
        "s001/mlp.py": content("s001 mlp"),
        "s001/pset3.ipynb": content("s001 notebook"),
        "s002/work/MLP.py": content("s002 mlp"),
        "s002/__pycache__/mlp.cpython-311.pyc": b"\x00",
        "__MACOSX/s001/._mlp.py": b"junk",
        "notes.txt": content("notes"),
    })
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    assert result.platform == "folders"
    assert sorted(result.students) == ["s001", "s002"]
    assert (class_dir / "s002" / "mlp.py").read_bytes() == content("s002 mlp")
    rows = read_rows(class_dir)
    assert_every_file_listed(rows, [
        "s001/mlp.py", "s001/pset3.ipynb", "s002/work/MLP.py",
        "s002/__pycache__/", "__MACOSX/", "notes.txt"])


def test_an_id_that_is_not_a_safe_name_gets_a_safe_folder(tmp_path):
    download = tmp_path / "export"
    write_tree(download, {
        "submission_metadata.yml": (
            "submission_1:\n  :submitters:\n  - :name: X\n"
            "    :sid: '../../up'\n").encode(),
        "submission_1/mlp.py": content("x")})
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    folder = result.students["../../up"].folder
    assert "/" not in folder and not folder.startswith(".")
    assert (class_dir / folder / "mlp.py").read_bytes() == content("x")
    assert sorted(os.listdir(class_dir)) == sorted([folder, "intake.csv"])


# -- What a download may try ------------------------------------------------

def symlink_member(name, target):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def test_zip_slip_and_symbolic_links_in_zips_are_refused(tmp_path):
    student_zip = make_zip({"hw3/mlp.py": content("lee mlp"),
                            "../../escaped.py": content("evil"),
                            "/tmp/absolute.py": content("evil")})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil_1001_5001_mlp.py", content("evil"))
        archive.writestr("lee_1003_5003_hw3.zip", student_zip)
        archive.writestr(*symlink_member("smith_1001_5001_mlp.py",
                                         "/etc/passwd"))
        archive.writestr("smith_1001_5001_pset3.ipynb", content("smith nb"))
    download = tmp_path / "dl" / "submissions.zip"
    download.parent.mkdir()
    download.write_bytes(buffer.getvalue())
    before = snapshot(tmp_path)
    class_dir = tmp_path / "dl" / "class"
    result, _ = run_intake(download, class_dir)
    assert snapshot(tmp_path, leave_out=class_dir) == before
    found = {p.name for p in tmp_path.rglob("*")}
    assert not found & {"escaped.py", "absolute.py", "evil_1001_5001_mlp.py"}
    assert not (class_dir / "1001" / "mlp.py").exists()   # the link
    assert (class_dir / "1003" / "mlp.py").read_bytes() == content("lee mlp")
    notes = {row["download_path"]: row["note"] for row in read_rows(class_dir)}
    assert notes["smith_1001_5001_mlp.py"] == "a symbolic link: refused"
    for path in ("../evil_1001_5001_mlp.py",
                 "lee_1003_5003_hw3.zip/../../escaped.py",
                 "lee_1003_5003_hw3.zip//tmp/absolute.py"):
        assert notes[path].startswith("an unsafe path"), path
    assert {u.path for u in result.unplaced if u.kind == "refused"} >= {
        "smith_1001_5001_mlp.py", "../evil_1001_5001_mlp.py"}


def test_symbolic_links_in_a_folder_download_are_not_followed(tmp_path):
    secret = tmp_path / "secret.py"
    secret.write_bytes(b"the instructor's secret")
    download = tmp_path / "dl"
    write_tree(download, {"s001/pset3.ipynb": content("nb"),
                          "s002/real/mlp.py": content("s002")})
    (download / "s001" / "mlp.py").symlink_to(secret)
    (download / "s002" / "linked").symlink_to(tmp_path)
    (download / "s003").symlink_to(download / "s002")
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    assert not (class_dir / "s001" / "mlp.py").exists()
    assert (class_dir / "s002" / "mlp.py").read_bytes() == content("s002")
    assert "s003" not in result.students
    assert b"secret" not in b"".join(
        p.read_bytes() for p in class_dir.rglob("*") if p.is_file())
    notes = {row["download_path"]: row["note"] for row in read_rows(class_dir)}
    for path in ("s001/mlp.py", "s002/linked", "s003"):
        assert notes[path] == "a symbolic link: refused (not followed)"


def test_a_zip_bomb_a_student_uploaded_is_not_opened(tmp_path, monkeypatch):
    many = make_zip({f"f{i}.txt": b"" for i in range(60)})
    big = make_zip({"hw3/mlp.py": b"\0" * (3 << 20)})      # 3 MiB unpacked
    monkeypatch.setattr(intake, "MAX_ZIP_MEMBERS", 50)
    monkeypatch.setattr(intake, "MAX_ZIP_TOTAL", 2 << 20)
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({"a_1001_5001_many.zip": many,
                                   "b_1002_5002_big.zip": big}))
    result, lines = run_intake(download, tmp_path / "class")
    notes = {r["download_path"]: r["note"] for r in read_rows(
        tmp_path / "class")}
    assert notes["a_1001_5001_many.zip"] == (
        "a zip declaring 60 files, more than 50: not opened (unpack it by "
        "hand if it is genuine)")
    assert notes["b_1002_5002_big.zip"].startswith(
        "a zip declaring 3 MiB unpacked, more than 2 MiB: not opened")
    assert len(notes) == 2                     # their members never listed
    assert any("a zip declaring 60 files" in line for line in lines)


def test_an_oversized_mlp_is_refused_without_unpacking_it(tmp_path):
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({
        "a_1001_5001_mlp.py": b"#" * ((1 << 20) + 1),
        "a_1001_5001_pset3.ipynb": content("nb")}))
    result, _ = run_intake(download, tmp_path / "class")
    assert not (tmp_path / "class" / "1001" / "mlp.py").exists()
    assert result.students["1001"].mlp is None
    assert result.students["1001"].notes == [
        "mlp.py: a_1001_5001_mlp.py: larger than 1024 KiB: refused (is it "
        "the right file?)"]


def test_a_download_declaring_too_many_files_is_refused(tmp_path,
                                                        monkeypatch):
    monkeypatch.setattr(intake, "MAX_DOWNLOAD_FILES", 10)
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({f"a_{i}_1_mlp.py": b"" for i in range(11)}))
    with pytest.raises(GraderError, match="declares 11 files, more than 10"):
        run_intake(download, tmp_path / "class")
    assert not (tmp_path / "class").exists()


def test_declared_members_reads_the_end_record_only():
    assert intake.declared_members(make_zip({"a": b"1", "b/c": b"2"})) == 2
    assert intake.declared_members(b"not a zip at all") is None


# -- Refusals ---------------------------------------------------------------

def test_a_class_dir_that_is_not_empty_is_refused(canvas_zip, tmp_path):
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "s001").mkdir()
    with pytest.raises(GraderError, match=r"--out: .* is not empty \(it "
                                          r"holds s001\)"):
        run_intake(canvas_zip, class_dir)
    assert os.listdir(class_dir) == ["s001"]


def test_an_empty_class_dir_is_taken(canvas_zip, tmp_path):
    (tmp_path / "class").mkdir()
    result, _ = run_intake(canvas_zip, tmp_path / "class")
    assert len(result.students) == 6


@pytest.mark.parametrize("making, words", [
    (lambda p: p.write_text("Student,ID\n"), "is neither a zip nor a folder"),
    (lambda p: None, "does not exist"),
])
def test_a_download_that_is_no_zip_nor_folder_is_refused(tmp_path, making,
                                                          words):
    download = tmp_path / "grades.csv"
    making(download)
    with pytest.raises(GraderError, match=f"DOWNLOAD: .*{words}"):
        run_intake(download, tmp_path / "class")
    assert not (tmp_path / "class").exists()


def test_an_unrecognised_download_says_how_to_force_a_platform(tmp_path):
    download = tmp_path / "odd.zip"
    download.write_bytes(make_zip({"one.py": b"", "two.txt": b""}))
    with pytest.raises(GraderError) as raised:
        run_intake(download, tmp_path / "class")
    message = str(raised.value)
    assert "not a download intake recognises" in message
    assert "--platform canvas|moodle|gradescope|folders" in message
    assert "one.py, two.txt" in message


def test_the_cli_says_error_for_an_unrecognised_download(tmp_path):
    download = tmp_path / "odd.zip"
    download.write_bytes(make_zip({"one.py": b""}))
    done = intake_command(download, tmp_path / "class")
    assert done.returncode == 1
    assert done.stderr.startswith("error: DOWNLOAD: ")
    assert "--platform" in done.stderr


def test_a_forced_platform_is_used(tmp_path):
    download = tmp_path / "dl"
    write_tree(download, {"smith_1001_5001_mlp.py/mlp.py": content("odd")})
    result, _ = run_intake(download, tmp_path / "class", "folders")
    assert list(result.students) == ["smith_1001_5001_mlp.py"]
    with pytest.raises(GraderError, match="no student's files found"):
        run_intake(download, tmp_path / "class2", "moodle")


# -- find_submission_files --------------------------------------------------

def test_find_takes_the_exact_name_first(tmp_path):
    write_tree(tmp_path, {"hw3/mlp.py": content("exact"),
                          "mlp (1).py": content("renamed"),
                          "pset3.ipynb": content("nb")})
    found = find_submission_files(tmp_path)
    assert found.mlp == tmp_path / "hw3" / "mlp.py"
    assert found.notebook == tmp_path / "pset3.ipynb"
    assert found.notes == ("mlp.py: took hw3/mlp.py",
                           "mlp.py: not taken: mlp (1).py")
    assert found.not_chosen == (tmp_path / "mlp (1).py",)


def test_find_takes_the_shallowest_then_the_latest_renaming(tmp_path):
    write_tree(tmp_path, {"MLP.py": b"", "mlp-2.py": b"", "mlp (1).py": b"",
                          "a/mlp-9.py": b""})
    found = find_submission_files(tmp_path)
    assert found.mlp == tmp_path / "mlp-2.py"
    assert found.notes[-1] == "mlp.py: not taken: mlp (1).py, MLP.py, " \
                              "a/mlp-9.py"


def test_a_checkpoint_is_never_taken_over_the_notebook(tmp_path):
    write_tree(tmp_path, {"pset3-checkpoint.ipynb": b"",
                          "deep/er/pset3_2.ipynb": b""})
    assert find_submission_files(tmp_path).notebook == \
        tmp_path / "deep" / "er" / "pset3_2.ipynb"
    (tmp_path / "deep" / "er" / "pset3_2.ipynb").unlink()
    alone = find_submission_files(tmp_path)
    assert alone.notebook == tmp_path / "pset3-checkpoint.ipynb"
    assert "only a Jupyter checkpoint was found" in alone.notes[0]


def test_find_skips_metadata_hidden_deep_folders_and_links(tmp_path):
    write_tree(tmp_path, {
        "__MACOSX/mlp.py": b"", ".git/mlp.py": b"", "__pycache__/mlp.py": b"",
        ".ipynb_checkpoints/pset3-checkpoint.ipynb": b"", "._mlp.py": b"",
        "1/2/3/4/5/6/7/mlp.py": b"", "elsewhere/pset3.ipynb": b""})
    (tmp_path / "mlp.py").symlink_to(tmp_path / "elsewhere" / "pset3.ipynb")
    (tmp_path / "linked").symlink_to(tmp_path / "elsewhere")
    found = find_submission_files(tmp_path)
    assert found.mlp is None
    assert found.notebook == tmp_path / "elsewhere" / "pset3.ipynb"
    assert found.notes[0] == "mlp.py is a symbolic link: not followed"
    write_tree(tmp_path, {"1/2/3/4/5/mlp.py": b""})      # 6 folders deep
    assert find_submission_files(tmp_path).mlp == \
        tmp_path / "1/2/3/4/5/mlp.py"


def test_find_refuses_a_linked_folder(tmp_path):
    write_tree(tmp_path, {"real/mlp.py": b""})
    (tmp_path / "link").symlink_to(tmp_path / "real")
    found = find_submission_files(tmp_path / "link")
    assert found.mlp is None and "symbolic link" in found.notes[0]


def test_find_stops_after_its_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ENTRIES", 5)
    write_tree(tmp_path, {f"f{i}.txt": b"" for i in range(10)})
    write_tree(tmp_path, {"zz/mlp.py": b""})
    found = find_submission_files(tmp_path)
    assert found.mlp is None
    assert found.notes == ("searched the first 5 entries only",)


def test_the_choice_does_not_depend_on_the_order():
    items = [(tuple(p.split("/")), p) for p in [
        "mlp (1).py", "MLP.py", "mlp_1.py", "hw/mlp.py", "Mlp.py",
        "x/pset3 (2).ipynb", "pset3 (2).ipynb", "pset3-checkpoint.ipynb"]]
    first = choose_files(items)
    assert (first.mlp, first.notebook) == ("hw/mlp.py", "pset3 (2).ipynb")
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert choose_files(items) == first


@pytest.mark.parametrize("name, kind", [
    ("mlp.py", ("mlp.py", 0, False)), ("mlp (1).py", ("mlp.py", 1, False)),
    ("mlp-1.py", ("mlp.py", 1, False)), ("mlp_3.py", ("mlp.py", 3, False)),
    ("MLP.py", ("mlp.py", 0, False)), ("Mlp.py", ("mlp.py", 0, False)),
    ("smith_1001_5001_mlp-2.py", ("mlp.py", 2, False)),
    ("jones_LATE_1002_5002_pset3.ipynb", ("pset3.ipynb", 0, False)),
    ("pset3-checkpoint.ipynb", ("pset3.ipynb", 0, True)),
    ("mlp.ipynb", None), ("pset3.py", None), ("mlp.py.bak", None),
    ("mymlp.py", None), ("pset31.ipynb", None), ("test_mlp.py", None),
])
def test_names_the_platforms_give(name, kind):
    assert name_kind(name) == kind


# -- Red-team findings: whose file it is ------------------------------------

def test_a_moodle_upload_named_like_another_participants_file_is_refused(
        tmp_path):
    """Moodle without folders: Mallory (111) uploads a file she named
    x_99999_assignsubmission_file_mlp.py; it must not become participant
    99999's mlp.py in place of their own."""
    spoof = ("Aaron Mallory_111_assignsubmission_file_"
             "x_99999_assignsubmission_file_mlp.py")
    download = tmp_path / "moodle.zip"
    download.write_bytes(make_zip({
        spoof: content("mallory"),
        "Aaron Mallory_111_assignsubmission_file_pset3.ipynb": content("m"),
        "Zoe Victim_99999_assignsubmission_file_mlp.py": content("victim"),
        # A name read as the same participant twice is theirs all the same.
        "Jo Re_555_assignsubmission_file_Jo Re_555_assignsubmission_file_"
        "mlp.py": content("jo"),
    }))
    class_dir = tmp_path / "class"
    result, lines = run_intake(download, class_dir)
    assert (class_dir / "99999" / "mlp.py").read_bytes() == content("victim")
    assert (class_dir / "555" / "mlp.py").read_bytes() == content("jo")
    assert result.students["111"].mlp is None
    row = {r["download_path"]: r for r in read_rows(class_dir)}[spoof]
    assert (row["student"], row["placed_as"]) == ("", "")
    assert row["note"].startswith("ambiguous: its name reads as participant "
                                  "111 or 99999's")
    assert [(u.student, u.kind) for u in result.unplaced
            if u.path == spoof] == [("", "refused")]
    assert any(line.startswith("  " + spoof + ": ambiguous")
               for line in lines)


def test_two_files_claiming_the_same_place_are_a_conflict(tmp_path):
    """Nothing tells two download files that are each the student's mlp.py
    apart: neither is taken silently in the other's place."""
    download = tmp_path / "moodle"
    write_tree(download, {
        "Jane Doe_12345_assignsubmission_file_mlp.py": content("flat"),
        "Jane Doe_12345_assignsubmission_file_/mlp.py": content("folder"),
        "Jane Doe_12345_assignsubmission_file_/pset3.ipynb": content("nb"),
        "Jane Doe_12345_assignsubmission_file_/mlp (1).py": content("copy"),
    })
    class_dir = tmp_path / "class"
    result, lines = run_intake(download, class_dir)
    record = result.students["12345"]
    assert record.mlp is None and not (class_dir / "12345" / "mlp.py").exists()
    assert record.notebook is not None
    flat = "Jane Doe_12345_assignsubmission_file_mlp.py"
    folder = "Jane Doe_12345_assignsubmission_file_/mlp.py"
    assert (f"mlp.py: conflict: {folder} and {flat} are each this student's "
            f"mlp.py: none taken (place the right one by hand)") in \
        record.notes
    notes = {r["download_path"]: r["note"] for r in read_rows(class_dir)}
    assert notes[flat].startswith(f"conflict, not taken: {folder} is also "
                                  f"this student's mlp.py")
    assert notes[folder].startswith(f"conflict, not taken: {flat} is also")
    assert notes["Jane Doe_12345_assignsubmission_file_/mlp (1).py"] == (
        f"not taken: {folder} and {flat}, in conflict, come before it")
    assert {u.path for u in result.unplaced if u.kind == "conflict"} == \
        {flat, folder}
    assert "2 files in conflict (settle it by hand):" in lines


def test_a_zip_holding_two_members_of_one_name_is_a_conflict(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, \
            pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("hw/mlp.py", content("first"))
        archive.writestr("hw/mlp.py", content("second"))
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({"lee_1003_5003_hw.zip": buffer.getvalue()}))
    result, _ = run_intake(download, tmp_path / "class")
    assert result.students["1003"].mlp is None
    assert [u.kind for u in result.unplaced] == ["conflict", "conflict"]


def test_tied_candidates_are_a_conflict_whatever_their_order():
    items = [(("hw", "mlp.py"), "a"), (("hw", "mlp.py"), "b"),
             (("mlp-1.py",), "c"), (("pset3.ipynb",), "d")]
    first = choose_files(items)
    assert first.mlp is None and first.notebook == "d"
    assert first.conflicts == (("mlp.py", ("a", "b")),)
    assert first.not_chosen == ("c",)
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert choose_files(items) == first


GROUP_CLAIM = """\
submission_100:
  :submitters:
  - :name: Mallory
    :sid: '111'
  - :name: Victim
    :sid: '999'
submission_200:
  :submitters:
  - :name: Victim
    :sid: '999'
submission_300:
  :submitters:
  - :name: Pat
    :sid: '333'
  - :name: Quinn
    :sid: '444'
submission_400:
  :submitters:
  - :name: Pat
    :sid: '333'
  - :name: Ray
    :sid: '555'
"""


@pytest.mark.parametrize("reverse", [False, True])
def test_a_group_listing_a_student_does_not_displace_their_own_work(
        tmp_path, reverse):
    """A student in several Gradescope submissions gets their own (solo)
    submission before a group's, else the latest; the others are reported
    as a conflict, never silently."""
    metadata = GROUP_CLAIM
    if reverse:                 # the order of the file changes nothing
        blocks = metadata.split("submission_")[1:]
        metadata = "".join("submission_" + b for b in reversed(blocks))
    download = tmp_path / "export"
    write_tree(download, {
        "submission_metadata.yml": metadata.encode(),
        **{f"submission_{n}/mlp.py": content(f"s{n}")
           for n in (100, 200, 300, 400)}})
    class_dir = tmp_path / "class"
    result, lines = run_intake(download, class_dir)
    placed = {s: (class_dir / s / "mlp.py").read_bytes()
              for s in ("111", "999", "333", "444", "555")}
    assert placed == {"111": content("s100"), "999": content("s200"),
                      "333": content("s400"), "444": content("s300"),
                      "555": content("s400")}
    why = ("999 is in submissions submission_100 and submission_200; "
           "submission_200's files were taken, their own submission before "
           "a group's")
    assert result.students["999"].notes == [
        f"conflict: {why} (check with the student)"]
    conflicts = {(u.student, u.path): u.why for u in result.unplaced
                 if u.kind == "conflict"}
    assert conflicts == {
        ("999", "submission_100/mlp.py"): f"conflict, not taken: {why}",
        ("333", "submission_300/mlp.py"): (
            "conflict, not taken: 333 is in submissions submission_300 and "
            "submission_400; submission_400's files were taken, the latest "
            "submission")}
    assert "2 files in conflict (settle it by hand):" in lines


# -- Red-team findings: odd files and failures -----------------------------

def test_a_zip_member_without_a_name_is_refused_not_a_crash(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("mlp.py", content("mallory mlp"))
        archive.writestr(zipfile.ZipInfo(""), b"x")
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({
        "mallory_111_222_sub.zip": inner.getvalue(),
        "alice_112_223_mlp.py": content("alice")}))
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    assert (class_dir / "111" / "mlp.py").read_bytes() == \
        content("mallory mlp")
    assert (class_dir / "112" / "mlp.py").read_bytes() == content("alice")
    notes = {r["download_path"]: r["note"] for r in read_rows(class_dir)}
    assert notes["mallory_111_222_sub.zip/"] == \
        "a member without a name: refused"


def test_a_failure_on_one_students_files_refuses_only_theirs(tmp_path,
                                                            monkeypatch):
    real_copy = intake._copy

    def copy(file, name, destination):
        if file.path.startswith("jones_"):
            raise RuntimeError("an odd file")
        return real_copy(file, name, destination)

    monkeypatch.setattr(intake, "_copy", copy)
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip(CANVAS))
    class_dir = tmp_path / "class"
    result, lines = run_intake(download, class_dir)
    why = ("refused: intake failed on this student's files (RuntimeError: "
           "an odd file); take them in by hand, and report it")
    assert result.students["1002"].mlp is None
    assert result.students["1002"].notes == [why]
    assert not (class_dir / "1002").exists()          # nothing half made
    rows = [r for r in read_rows(class_dir) if r["student"] == "1002"]
    assert sorted(r["download_path"] for r in rows) == sorted(
        n for n in CANVAS if n.startswith("jones_"))
    assert all(r["note"] == why for r in rows)
    assert (class_dir / "1001" / "mlp.py").read_bytes() == \
        content("smith mlp")
    assert f"  1002: jones_LATE_1002_5002_mlp-1.py: {why}" in lines


@pytest.mark.parametrize("made", [False, True], ids=["new", "empty"])
@pytest.mark.parametrize("error, raised", [
    (OSError(28, "No space left on device"), GraderError),
    (KeyboardInterrupt(), KeyboardInterrupt)], ids=["disk-full", "ctrl-c"])
def test_an_intake_that_stops_leaves_class_dir_as_it_was(
        canvas_zip, tmp_path, monkeypatch, made, error, raised):
    class_dir = tmp_path / "out" / "class"
    if made:
        class_dir.mkdir(parents=True)

    def fail(path, rows):
        raise error

    monkeypatch.setattr(intake, "_write_csv", fail)
    with pytest.raises(raised) as stopped:
        run_intake(canvas_zip, class_dir)
    if raised is GraderError:
        assert str(stopped.value).startswith(
            f"--out: intake stopped, writing {class_dir} failed (")
        assert "nothing of it was kept" in str(stopped.value)
    assert os.listdir(class_dir.parent) == (["class"] if made else [])
    if made:
        assert os.listdir(class_dir) == []
    monkeypatch.undo()
    result, _ = run_intake(canvas_zip, class_dir)       # runs again
    assert len(result.students) == 6
    assert os.listdir(class_dir.parent) == ["class"]


def lying_zip(names, declared):
    """A zip of empty members whose end record says it holds ``declared``."""
    data = bytearray(make_zip({name: b"" for name in names}))
    at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, at + 8, declared, declared)
    return bytes(data)


def test_a_student_zip_lying_about_its_member_count_is_not_opened(
        tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "MAX_ZIP_MEMBERS", 50)
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({
        "a_1001_5001_many.zip": lying_zip(
            ["mlp.py"] + [f"{i:x}" for i in range(59)], 1),
        "b_1002_5002_long.zip": lying_zip(
            [f"{i:02}" + "n" * 2000 for i in range(40)], 1),
        "c_1003_5003_fine.zip": lying_zip(["mlp.py"], 1)}))
    class_dir = tmp_path / "class"
    run_intake(download, class_dir)
    notes = {r["download_path"]: r["note"] for r in read_rows(class_dir)}
    assert notes["a_1001_5001_many.zip"] == (
        "a zip holding up to 60 files (though it declares 1), more than 50: "
        "not opened (unpack it by hand if it is genuine)")
    assert notes["b_1002_5002_long.zip"] == (
        "a zip whose list of files takes 80 KiB, more than 50 KiB for 50 "
        "files: not opened (unpack it by hand if it is genuine)")
    assert len(notes) == 4                   # their members never listed
    assert (class_dir / "1003" / "mlp.py").exists()


def test_zip64_end_records_are_read_too():
    """A ZIP64 record (which zipfile reads in place of the plain one) may
    declare far more members than the plain end record."""
    data = make_zip({"mlp.py": b""})
    at = data.rfind(b"PK\x05\x06")
    size, offset = struct.unpack_from("<II", data, at + 12)
    record = struct.pack("<4sQ2H2I4Q", b"PK\x06\x06", 44, 45, 45, 0, 0,
                         400_000, 400_000, size * 9, offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    forged = data[:at] + record + locator + data[at:]
    assert intake.zip_directory(forged) == (400_000, size * 9)
    assert intake.declared_members(forged) == 400_000
    assert intake.zip_directory(data) == (1, size)


def test_each_students_zip_is_closed_once_they_are_done(tmp_path,
                                                       monkeypatch):
    real_open, opened = intake._open_student_zip, []

    def spy(file, stack):
        assert all(archive.fp is None for archive in opened), \
            "an earlier student's zip is still open"
        members, why = real_open(file, stack)
        opened.append(members[0].read.args[0])
        return members, why

    monkeypatch.setattr(intake, "_open_student_zip", spy)
    download = tmp_path / "submissions.zip"
    download.write_bytes(make_zip({
        f"s_{n}_1_hw.zip": make_zip({"mlp.py": content(str(n))})
        for n in (1001, 1002, 1003)}))
    result, _ = run_intake(download, tmp_path / "class")
    assert len(opened) == 3 and all(a.fp is None for a in opened)
    assert (tmp_path / "class" / "1003" / "mlp.py").read_bytes() == \
        content("1003")


def test_a_hard_link_in_a_folder_download_is_refused(tmp_path):
    outside = tmp_path / "secret.py"
    outside.write_bytes(b"the instructor's secret")
    download = tmp_path / "dl"
    write_tree(download, {"s001/pset3.ipynb": content("nb"),
                          "s002/mlp.py": content("s002")})
    os.link(outside, download / "s001" / "mlp.py")
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    assert not (class_dir / "s001" / "mlp.py").exists()
    assert (class_dir / "s002" / "mlp.py").read_bytes() == content("s002")
    notes = {r["download_path"]: r["note"] for r in read_rows(class_dir)}
    assert notes["s001/mlp.py"] == (
        "a hard link (the file has 2 names, which may be outside the "
        "download): refused; copy it in by hand if it is genuine")
    assert ("s001", "s001/mlp.py", "refused") in {
        (u.student, u.path, u.kind) for u in result.unplaced}
    # Read through the path all the same, the file is refused.
    data, why = intake._read_path(download / "s001" / "mlp.py", 1 << 20)
    assert data is None and why.startswith("a hard link")


def test_intake_csv_quotes_every_cell_and_defuses_formulas(tmp_path):
    download = tmp_path / "dl"
    write_tree(download, {"s001/mlp.py": content("s001"),
                          "s001/x;=2+3*7.txt": b"x",
                          "s001/a;-1;+2;@3.txt": b"x",
                          "=1+1/mlp.py": content("formula id")})
    class_dir = tmp_path / "class"
    run_intake(download, class_dir)
    text = (class_dir / "intake.csv").read_text(encoding="utf-8")
    for line in text.splitlines():
        assert line.startswith('"') and line.endswith('"'), line
    # A spreadsheet that splits on ';' (or ',') starts no cell with a formula.
    for delimiter in (";", ","):
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            for cell in row:
                assert cell.lstrip('"')[:1] not in ("=", "+", "-", "@"), \
                    (delimiter, row)
    paths = {r["download_path"]: r for r in read_rows(class_dir)}
    assert "s001/x;'=2+3*7.txt" in paths
    assert "s001/a;'-1;'+2;'@3.txt" in paths
    assert paths["'=1+1/mlp.py"]["student"] == "'=1+1"


@pytest.mark.parametrize("sid", ["intake.csv", "INTAKE.CSV", ".hidden"])
def test_an_id_taking_a_name_class_dir_keeps_gets_a_folder_of_its_own(
        tmp_path, sid):
    download = tmp_path / "export"
    write_tree(download, {
        "submission_metadata.yml": (
            f"submission_1:\n  :submitters:\n  - :name: X\n"
            f"    :sid: '{sid}'\n").encode(),
        "submission_1/mlp.py": content("x")})
    class_dir = tmp_path / "class"
    result, lines = run_intake(download, class_dir)
    folder = result.students[sid].folder
    assert folder == intake.folder_name(sid) != sid
    assert "~" in folder and not folder.startswith(".")
    assert folder.lower() != "intake.csv"
    assert (class_dir / folder / "mlp.py").read_bytes() == content("x")
    assert read_rows(class_dir)[0]["placed_as"] == f"{folder}/mlp.py"
    assert f"  the id {sid!r} is in the folder {folder!r}" in lines


def test_a_folder_that_cannot_be_made_is_said(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "folder_name", lambda student: "same")
    download = tmp_path / "dl"
    write_tree(download, {"s001/mlp.py": content("s001"),
                          "s002/mlp.py": content("s002")})
    class_dir = tmp_path / "class"
    result, _ = run_intake(download, class_dir)
    assert (class_dir / "same" / "mlp.py").read_bytes() == content("s001")
    why = ("not placed: the student's folder 'same' could not be made in "
           "CLASS_DIR (File exists; another id's folder has that name on "
           "this file system?)")
    assert result.students["s002"].notes[-1] == why
    notes = {r["download_path"]: r["note"] for r in read_rows(class_dir)}
    assert notes["s002/mlp.py"] == why
