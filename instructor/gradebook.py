"""The class's totals, from grade-class's grades.csv, as a file that a
learning platform's gradebook imports.

    python instructor/handout.py export RESULTS_DIR --canvas GRADEBOOK.csv
    python instructor/handout.py export RESULTS_DIR --moodle WORKSHEET.csv

Each starts from what the platform itself exported, so that every student
is named as the platform knows them, and writes a copy beside grades.csv
with each student's total filled in; the file given is never changed.

* Canvas: the gradebook export (Grades, Export). ``RESULTS_DIR/canvas.csv``
  keeps its identity columns (Student, ID, SIS User ID, SIS Login ID,
  Section), its Points Possible row and this assignment's column only (so
  that importing it changes nothing else). Students are matched by one
  column, decided once: the first of Canvas's ID (the id intake gives), SIS
  User ID and SIS Login ID that holds grades.csv's ids. Ids found in
  several of them, other than in the same rows, are refused as ambiguous.
* Moodle: the assignment's offline grading worksheet (View all submissions,
  Download grading worksheet). ``RESULTS_DIR/moodle.csv`` is the worksheet
  with its Grade column filled in, a student matched by the participant
  number of "Participant 12345" (the id intake gives), or by email address
  when grades.csv's id is one. Its Maximum Grade may have a decimal comma
  ("10,00"); one that is not a number stops the export.

Each grade fills one row: a grade matching several rows, or a row matching
several grades, is written nowhere, with a warning. A student of the
gradebook with no grade keeps the cell the platform exported (empty if they
had none), never a 0. Totals are out of 100: a column out of other points
is refused unless ``--scale`` says to convert. The report names the
students with no grade, those graded but not in the gradebook, those
matched more than once, and those whose total is not final yet (hand
grading still to do). The files are written as the platform's (delimiter,
byte-order mark) with every cell quoted, and the cells of names made safe
for spreadsheets.
"""
import codecs
import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from grading import CSV_FORMULA, TOTAL_POINTS, GraderError, clean
from intake import spreadsheet_text
from student_ids import readable

#: grades.csv's maximum once every question is graded.
FULL_POINTS = TOTAL_POINTS
GRADES_CSV, CANVAS_CSV, MOODLE_CSV = "grades.csv", "canvas.csv", "moodle.csv"
#: Canvas's columns that say who a row is, kept in its import file.
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID",
                   "Integration ID", "Root Account", "Section")
#: Canvas's columns that match a student, in the order they are tried.
CANVAS_KEYS = ("ID", "SIS User ID", "SIS Login ID")
#: Canvas's own student for previewing the course, in every gradebook.
CANVAS_TEST_STUDENT = "Student, Test"
#: Columns holding people's names or words, made safe for spreadsheets;
#: the others are kept as the platform wrote them, since it matches or
#: imports by them.
NAME_COLUMNS = {"Student", "Section", "Full name", "Email address", "Status"}


@dataclass(frozen=True)
class Grade:
    """A student's row of grades.csv: the total so far and its maximum."""
    total: float
    maximum: float

    @property
    def final(self):
        return self.maximum >= FULL_POINTS


def read_grades(results_dir):
    """{student id: Grade} from RESULTS_DIR/grades.csv; GraderError naming
    the line for a row that cannot be read."""
    path = Path(results_dir) / GRADES_CSV
    if not path.is_file():
        raise GraderError(f"RESULTS_DIR: {path} does not exist; run "
                          f"grade-class CLASS_DIR --out {results_dir} first")
    grades = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"student", "total", "maximum"} - set(
                reader.fieldnames or ())
            if missing:
                raise GraderError(f"{path}: no column "
                                  f"{', '.join(sorted(missing))}; is it the "
                                  f"grades.csv grade-class wrote?")
            for row in reader:
                student, grade = _grade_row(row, path, reader.line_num)
                if student in grades:
                    raise GraderError(f"{path}, line {reader.line_num}: "
                                      f"{student!r} has a second row")
                grades[student] = grade
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GraderError(f"{path} cannot be read: {error}") from None
    return grades


def _grade_row(row, path, line):
    student = (row["student"] or "").strip()
    if student[:1] == "'" and student[1:2] in CSV_FORMULA:
        student = student[1:]                 # as grading._csv_cell wrote it
    numbers = []
    for column in ("total", "maximum"):
        try:
            number = float((row[column] or "").strip())
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise GraderError(f"{path}, line {line}: the {column} of "
                              f"{student!r} is {row[column]!r}, not a "
                              f"number; run grade-class again")
        numbers.append(number)
    return student, Grade(*numbers)


# ---------------------------------------------------------------------------
# The platform's file, read and written as it came
# ---------------------------------------------------------------------------

@dataclass
class Table:
    """A CSV file as the platform wrote it: its header, its rows (lists of
    cells), its delimiter and whether it began with a UTF-8 byte-order
    mark (both kept when it is written again)."""
    header: list
    rows: list
    delimiter: str = ","
    bom: bool = False

    def column(self, name):
        return self.header.index(name) if name in self.header else None

    def unique(self, names, option, path):
        """GraderError if any of the headers ``names`` is there twice (which
        of the columns is meant could only be guessed)."""
        for name in names:
            count = self.header.count(name)
            if count > 1:
                raise GraderError(
                    f"{option}: {path} has {count} columns headed {name!r} "
                    f"(duplicate headers), and which one is meant cannot be "
                    f"told; export it from the platform again, or delete "
                    f"the extra column from a copy and give that")


def read_table(path, option):
    """The Table of a platform's CSV export; GraderError naming ``option``
    for a file that is missing, not UTF-8 or empty."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise GraderError(f"{option}: {path} cannot be read "
                          f"({error.strerror}); give the CSV file the "
                          f"platform exported") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GraderError(f"{option}: {path} is not UTF-8 text; export it "
                          f"from the platform again and give that file as "
                          f"it is (a spreadsheet program may have saved it "
                          f"in another encoding)") from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""),
                               delimiter=delimiter))
    except csv.Error as error:
        raise GraderError(f"{option}: {path} is not a CSV file that can be "
                          f"read ({error})") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise GraderError(f"{option}: {path} is empty; give the CSV file "
                          f"the platform exported")
    width = len(rows[0])
    return Table([h.strip() for h in rows[0]],
                 [row + [""] * (width - len(row)) for row in rows[1:]],
                 delimiter, raw.startswith(codecs.BOM_UTF8))


def write_table(path, table, source):
    """Write table to path (through a temporary file beside it), with the
    delimiter and byte-order mark it was read with, every cell quoted (as
    the platforms' CSV readers accept), never over source."""
    path = Path(path)
    if path.exists() and os.path.samefile(path, source):
        raise GraderError(f"{source} is where the export would be written; "
                          f"keep the platform's file outside RESULTS_DIR, "
                          f"or rename it")
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "w", newline="",
              encoding="utf-8-sig" if table.bom else "utf-8") as f:
        writer = csv.writer(f, delimiter=table.delimiter,
                            quoting=csv.QUOTE_ALL)
        writer.writerow(table.header)
        writer.writerows(table.rows)
    temporary.replace(path)


def _safe(table):
    """The table with its name columns made safe for spreadsheets (see
    intake.spreadsheet_text)."""
    names = {i for i, h in enumerate(table.header) if h in NAME_COLUMNS}
    rows = [[spreadsheet_text(cell) if i in names and cell else cell
             for i, cell in enumerate(row)] for row in table.rows]
    return Table(table.header, rows, table.delimiter, table.bom)


def _number(text):
    """The positive number of points of a cell, a decimal point or comma
    ("100.00", "10,00", "100"), or None."""
    text = text.strip()
    if re.fullmatch(r"\d{1,3},\d{3}", text):
        return None                     # 1,000: a thousand, or one?
    if re.fullmatch(r"\d+,\d+", text):
        text = text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def points_text(points):
    """A grade as the platforms read it: at most two decimals, a point."""
    return f"{round(points, 2):.2f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------
# Matching and reporting
# ---------------------------------------------------------------------------

@dataclass
class Export:
    """What an export did: the file written, the column filled, and the
    students (as shown in the report) in each case worth a look;
    ``ambiguous`` says, in words, what matched more than once (and so was
    written nowhere)."""
    path: Path
    column: str
    written: list = field(default_factory=list)
    no_grade: list = field(default_factory=list)
    not_in_gradebook: list = field(default_factory=list)
    ambiguous: list = field(default_factory=list)
    not_final: list = field(default_factory=list)
    not_written: list = field(default_factory=list)


def _one_to_one(matches, who):
    """Which grade goes in which row, each in one only. ``matches`` is
    {row: [the students of grades.csv the row matches]}, ``who(row)`` names
    a row. Returns ({row: student} for each row matching one student who
    matches no other row, [what matched more than once, in words]): a row
    matching several students, or a student several rows, gets nothing."""
    rows_of = {}
    for row, students in matches.items():
        for student in students:
            rows_of.setdefault(student, []).append(row)
    matched, ambiguous = {}, []
    for row, students in matches.items():
        if len(students) > 1:
            ambiguous.append(f"{who(row)}, matched by each of "
                             f"{' and '.join(students)}")
        elif students and len(rows_of[students[0]]) == 1:
            matched[row] = students[0]
    for student, rows in rows_of.items():
        if len(rows) > 1:
            ambiguous.append(f"{student}, matching {len(rows)} rows: "
                             f"{'; '.join(who(row) for row in rows)}")
    return matched, ambiguous


def _fill(export, cells, index, grade, who, scale, only_final):
    """Put grade (scaled by ``scale``) into cells[index], unless it is not
    final and only_final; record it in export."""
    if not grade.final:
        export.not_final.append(f"{who} ({points_text(grade.total)} / "
                                f"{points_text(grade.maximum)})")
        if only_final:
            export.not_written.append(who)
            return
    cells[index] = points_text(grade.total * scale)
    export.written.append(who)


def _scale(points, scale, where):
    """The factor from grades.csv's points (out of 100) to a column out of
    ``points`` (None: unknown); GraderError if they differ without
    --scale."""
    if points is None:
        if scale:
            raise GraderError(f"{where}: the points it is out of are not "
                              f"given, so --scale cannot convert; leave out "
                              f"--scale to write the totals out of 100")
        return 1.0
    if not scale and points != FULL_POINTS:
        raise GraderError(
            f"{where} is out of {points_text(points)} points, and the "
            f"totals are out of {FULL_POINTS}: pass --scale to write each "
            f"total x {points_text(points)} / {FULL_POINTS}, or make the "
            f"assignment out of {FULL_POINTS} points on the platform and "
            f"export again")
    return points / FULL_POINTS if scale else 1.0


def _note_points(given, points, factor, what, progress):
    """Say when the points the column is out of were not ``given`` (``what``
    names where they would be) or the totals were scaled to ``points``."""
    if not given:
        progress(f"note: no {what}: the totals were written out of "
                 f"{FULL_POINTS}")
    elif factor != 1:
        progress(f"note: totals written out of {points_text(points)} "
                 f"points (--scale)")


def report(export, progress=print):
    """Print what was written, then a warning line per kind of student
    worth a look, with the count and who."""
    def count(people):
        return f"{len(people)} student{'' if len(people) == 1 else 's'}"

    def listed(people, limit=60):
        shown = ", ".join(clean(readable(p), limit) for p in people[:20])
        return shown + (f" and {len(people) - 20} more"
                        if len(people) > 20 else "")

    progress(f"wrote {export.path}: {export.column!r} for "
             f"{count(export.written)}")
    for people, words in (
            (export.no_grade, "no grade for {} of the gradebook (their "
                              "cells are kept as exported, never 0)"),
            (export.not_in_gradebook, "{} graded but not in the gradebook "
                                      "(check their ids)"),
            (export.not_final, "the total of {} is not final: hand grading "
                               "still to do (points so far / maximum so "
                               "far)"),
            (export.not_written, "{} left out for that (--partial writes "
                                 "their points so far)")):
        if people:
            progress(f"warning: {words.format(count(people))}: "
                     f"{listed(people)}")
    if export.ambiguous:
        many = len(export.ambiguous)
        progress(f"warning: {many} ambiguous match{'' if many == 1 else 'es'}"
                 f", written nowhere (a grade matching several rows, or a "
                 f"row several grades; those cells are kept as exported: "
                 f"fill them by hand): {listed(export.ambiguous, 200)}")


# ---------------------------------------------------------------------------
# Canvas
# ---------------------------------------------------------------------------

_CANVAS_ASSIGNMENT = re.compile(r".*\(\d+\)")


def _canvas_column(table, assignment, option, path):
    """The header of the assignment's column: the only assignment (a
    header ending in its Canvas id, ``Problem set 3 (123456)``), or the
    only one holding ``assignment``."""
    columns = [h for h in table.header if _CANVAS_ASSIGNMENT.fullmatch(h)]
    if not columns:
        raise GraderError(f"{option}: no assignment column (a header like "
                          f"'Problem set 3 (123456)'); is it Canvas's "
                          f"gradebook export?")
    chosen = [h for h in columns
              if assignment is None or assignment.lower() in h.lower()]
    if len(set(chosen)) == 1:
        table.unique(chosen[:1], option, path)
        return chosen[0]
    listed = "; ".join(columns)
    if not chosen:
        raise GraderError(f"--assignment: no assignment column holds "
                          f"{assignment!r}; the columns are: {listed}")
    raise GraderError(
        f"{option}: {len(chosen)} assignment columns "
        f"{'hold ' + repr(assignment) if assignment else 'are there'}; "
        f"choose one with --assignment TEXT, a part of its name only it "
        f"has: {'; '.join(chosen)}")


def _canvas_import(table, column):
    """(the import's Table: the identity columns and ``column``, the
    column's points possible or None, [(import row, export row)] for each
    student but Canvas's test student)."""
    keep = [i for i, h in enumerate(table.header) if h in CANVAS_IDENTITY]
    keep.append(table.column(column))
    out = Table([table.header[i] for i in keep], [], table.delimiter,
                table.bom)
    keys = [table.column(k) for k in CANVAS_KEYS
            if table.column(k) is not None]
    points, students = None, []
    for row in table.rows:
        cells = [row[i] for i in keep]
        name = row[table.column("Student")].strip()
        if name == "Points Possible":
            points = _number(row[table.column(column)])
        elif name != CANVAS_TEST_STUDENT and any(row[k].strip()
                                                 for k in keys):
            students.append((cells, row))
        out.rows.append(cells)
    return out, points, students


def _canvas_key(table, rows, grades, gradebook, who):
    """The one column of CANVAS_KEYS that names grades.csv's students: the
    first that holds any of their ids (ID if none does). GraderError if an
    id is also found in another column, in other rows: which row is whose
    would be a guess. ``rows`` are the students' rows, ``who(i)`` names
    rows[i]."""
    found = {}                          # {column: {student: [row index]}}
    for key in CANVAS_KEYS:
        index = table.column(key)
        if index is not None:
            for i, row in enumerate(rows):
                if row[index].strip() in grades:
                    found.setdefault(key, {}).setdefault(
                        row[index].strip(), []).append(i)
    if not found:
        return "ID"
    key, *others = found
    clashes, columns = [], []
    for other in others:
        for student, where in found[other].items():
            if found[key].get(student) == where:
                continue                # the same rows: the columns agree
            first = (f"the {key} of "
                     f"{', '.join(who(i) for i in found[key][student])} and "
                     if student in found[key] else "")
            clashes.append(f"{student} is {first}the {other} of "
                           f"{', '.join(who(i) for i in where)}")
            columns += [other] if other not in columns else []
    if clashes:
        raise GraderError(
            f"--canvas: {gradebook}: the ids of grades.csv are found in "
            f"more than one column ({' and '.join(found)}), so which row is "
            f"whose would be a guess: {'; '.join(clashes[:5])}"
            f"{' ...' if len(clashes) > 5 else ''}. Name every student of "
            f"grades.csv by the same column (intake names them by ID): "
            f"correct those ids in grades.csv; or, if one is in the "
            f"{' or '.join(columns)} column by chance, give a copy of the "
            f"gradebook without that column")
    return key


def export_canvas(results_dir, gradebook, assignment=None, scale=False,
                  only_final=False, progress=print):
    """Write RESULTS_DIR/canvas.csv from Canvas's gradebook export (see the
    module docstring) and print the report; returns the Export."""
    grades = read_grades(results_dir)
    table = read_table(gradebook, "--canvas")
    if table.column("ID") is None or table.column("Student") is None:
        raise GraderError(f"--canvas: {gradebook} has no Student and ID "
                          "columns; give Canvas's gradebook export (Grades, "
                          "Export, Export Entire Gradebook)")
    table.unique(("Student",) + CANVAS_KEYS, "--canvas", gradebook)
    column = _canvas_column(table, assignment, "--canvas", gradebook)
    out, points, students = _canvas_import(table, column)
    factor = _scale(points, scale, f"--canvas: the column {column!r}")
    export = Export(Path(results_dir) / CANVAS_CSV, column)

    def who(i):
        row = students[i][1]
        return (f"{row[table.column('Student')].strip()} "
                f"({row[table.column('ID')].strip()})")

    key = _canvas_key(table, [row for _, row in students], grades,
                      gradebook, who)
    index = table.column(key)
    matches = {i: [row[index].strip()] if index is not None
               and row[index].strip() in grades else []
               for i, (_, row) in enumerate(students)}
    matched, export.ambiguous = _one_to_one(matches, who)
    for i, (cells, _) in enumerate(students):
        if i in matched:
            _fill(export, cells, len(out.header) - 1,
                  grades[matched[i]], who(i), factor, only_final)
        elif not matches[i]:
            export.no_grade.append(who(i))
    export.not_in_gradebook = sorted(
        set(grades) - {s for found in matches.values() for s in found})
    write_table(export.path, _safe(out), gradebook)
    report(export, progress)
    if key != "ID":
        progress(f"note: students matched by their {key}, the column of "
                 f"{gradebook} that holds grades.csv's ids")
    _note_points(points is not None, points, factor,
                 f"Points Possible for {column!r} in {gradebook}", progress)
    return export


# ---------------------------------------------------------------------------
# Moodle
# ---------------------------------------------------------------------------

MOODLE_ID, MOODLE_GRADE, MOODLE_MAXIMUM = ("Identifier", "Grade",
                                           "Maximum Grade")


def _moodle_points(table, maximum, students, worksheet):
    """The points the worksheet's grades are out of: its Maximum Grade, the
    same for every student (None if it has no such column, or no
    students); GraderError if one cannot be read or they differ."""
    if maximum is None:
        return None
    values = {}
    for i, who in students:
        text = table.rows[i][maximum]
        points = _number(text)
        if points is None:
            raise GraderError(
                f"--moodle: {worksheet}: the {MOODLE_MAXIMUM} of {who} is "
                f"{text.strip()!r}, not a number of points (like 100.00 or "
                f"100,00), so the grades cannot be written out of it; "
                f"export the worksheet again (the assignment must be graded "
                f"by points, not a scale)")
        values.setdefault(points, who)
    if len(values) > 1:
        shown = ", ".join(f"{points_text(points)} for {who}"
                          for points, who in values.items())
        raise GraderError(
            f"--moodle: {worksheet}: the {MOODLE_MAXIMUM} differs from one "
            f"student to another ({shown}); export the worksheet of one "
            f"assignment again")
    return next(iter(values), None)


def export_moodle(results_dir, worksheet, scale=False, only_final=False,
                  progress=print):
    """Write RESULTS_DIR/moodle.csv from Moodle's grading worksheet (see the
    module docstring) and print the report; returns the Export."""
    grades = read_grades(results_dir)
    table = read_table(worksheet, "--moodle")
    identifier, grade_col = table.column(MOODLE_ID), table.column(MOODLE_GRADE)
    if identifier is None or grade_col is None:
        raise GraderError(
            f"--moodle: {worksheet} has no {MOODLE_ID} and {MOODLE_GRADE} "
            f"columns (it has: {', '.join(table.header)}); give the "
            f"assignment's grading worksheet (View all submissions, "
            f"Download grading worksheet), in English")
    table.unique((MOODLE_ID, MOODLE_GRADE, MOODLE_MAXIMUM, "Full name",
                  "Email address"), "--moodle", worksheet)
    maximum, name = table.column(MOODLE_MAXIMUM), table.column("Full name")
    email = table.column("Email address")
    export = Export(Path(results_dir) / MOODLE_CSV, MOODLE_GRADE)
    rows = [list(row) for row in table.rows]
    students, matches, names = [], {}, {}
    by_email = {s.lower(): s for s in grades if "@" in s}
    for i, row in enumerate(rows):
        number = re.search(r"(\d+)\s*$", row[identifier])
        if number is None:
            continue
        names[i] = (f"{row[name].strip() if name is not None else ''} "
                    f"({row[identifier].strip()})").strip()
        students.append((i, names[i]))
        found = [number[1]] if number[1] in grades else []
        mail = by_email.get(row[email].strip().lower()) \
            if email is not None else None
        matches[i] = found + ([mail] if mail and mail not in found else [])
    points = _moodle_points(table, maximum, students, worksheet)
    factor = _scale(points, scale, f"--moodle: the {MOODLE_MAXIMUM} column "
                                   f"of {worksheet}")
    matched, export.ambiguous = _one_to_one(matches, names.get)
    for i, who in students:
        if i in matched:
            _fill(export, rows[i], grade_col, grades[matched[i]], who,
                  factor, only_final)
        elif not matches[i]:
            export.no_grade.append(who)
    export.not_in_gradebook = sorted(
        set(grades) - {s for found in matches.values() for s in found})
    write_table(export.path, _safe(Table(table.header, rows, table.delimiter,
                                         table.bom)), worksheet)
    report(export, progress)
    _note_points(maximum is not None, points, factor,
                 f"{MOODLE_MAXIMUM} column in {worksheet}", progress)
    return export
