"""Taking in a class's submissions: a learning platform's download made into
the folder that ``grade-class`` grades.

    python instructor/handout.py intake DOWNLOAD --out CLASS_DIR [--platform P]

DOWNLOAD is what the platform's "download all submissions" gives, a zip or
the folder it unpacks to; CLASS_DIR (new, or empty) gets one folder per
student, named by the student's id, holding that student's ``mlp.py`` and
``pset3.ipynb``, and ``intake.csv``, one row per file of the download: whose
it is, where it went, or why it went nowhere. Nothing is lost: a file that
is not placed is listed with the reason. An id that is not a safe folder
name, or would be taken for intake.csv or a hidden folder, gets a safe
folder name of its own (the report says which). An intake that stops
leaves CLASS_DIR as it was, so that it can simply be run again.

The platforms, recognised by how they name things (``--platform`` forces
one):

* ``canvas``: a flat zip of ``lastname_userid_submissionid_file`` (late ones
  ``lastname_LATE_userid_...``); the id is the userid, Canvas's "ID".
* ``moodle``: one folder per student,
  ``Full Name_12345_assignsubmission_file_`` (or such files side by side);
  the id is the participant number, 12345. A file whose name could be read
  as two participants' (an upload itself named ``x_999_assignsubmission_
  file_mlp.py``) is nobody's: it is refused as ambiguous.
* ``gradescope``: ``submission_metadata.yml`` and one ``submission_<n>/``
  folder per submission; the id is each submitter's student id (sid), or
  their email if it has none. A group's files go to each of its members. A
  student listed in several submissions gets one submission's files, and
  the others are reported as a conflict: their own submission (the only
  one listing them alone) before a group's, then the latest (Gradescope's
  highest submission number); a group cannot displace a student's own work.
* ``folders``: a folder of folders already named by the students' ids.

In every student's submission the two files are searched for in subfolders
too, under the names the platforms and browsers give them (``mlp (1).py``,
``mlp-1.py``, ``MLP.py``, a Canvas prefix), and inside a zip the student
uploaded. ``find_submission_files`` makes that choice for a folder on disk;
the grader uses it too. Two candidates that nothing tells apart (the same
name at the same place, from two files of the download) are a conflict:
neither is taken, and both are reported, to be placed by hand.

A download is not trusted: symbolic links are never followed, hard links
(a file with other names, possibly outside the download) are refused, a
zip's member that would leave its folder (``../x``, ``/etc/x``) is refused,
and the files read (mlp.py at most 1 MiB, the notebook 16 MiB), a student's
own zip (its size, its member count, checked before it is opened and
after, and unpacked size) and the number of files are bounded. Only
regular files are copied, only into CLASS_DIR. intake.csv quotes every cell
and writes names that a spreadsheet could take for a formula (``=``, ``+``,
``-``, ``@`` first, or after a ``;``) with a ``'`` before it.
"""
import contextlib
import csv
import hashlib
import io
import os
import re
import secrets
import shutil
import stat
import struct
import zipfile
import zlib
from collections import deque
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from sandbox import GraderError
from student_ids import feedback_file_name, readable

MLP, NOTEBOOK = "mlp.py", "pset3.ipynb"
#: The largest file taken as each (as grading.py reads them).
LIMITS = {MLP: 1 << 20, NOTEBOOK: 16 << 20}
#: Folders searched below a student's folder, and the entries examined.
MAX_DEPTH, MAX_ENTRIES = 6, 2000
#: Folders never searched: macOS's and Jupyter's copies, Python's caches.
JUNK = frozenset({"__MACOSX", ".ipynb_checkpoints", "__pycache__"})
#: The files of a whole download, and its deepest folder.
MAX_DOWNLOAD_FILES, MAX_DOWNLOAD_DEPTH = 20_000, 12
#: A zip a student uploaded: its own size, its members, their unpacked size.
MAX_ZIP_BYTES, MAX_ZIP_MEMBERS, MAX_ZIP_TOTAL = 64 << 20, 1000, 256 << 20
#: The bytes of its list of members (central directory) allowed per member
#: (an entry takes 46 bytes and its name, extra fields and comment), so
#: that a zip lying about its member count is never listed.
ZIP_ENTRY_BYTES = 1024
#: The platforms intake knows, for --platform.
PLATFORMS = ("canvas", "moodle", "gradescope", "folders")
INTAKE_CSV = "intake.csv"
INTAKE_COLUMNS = ["student", "download_path", "placed_as", "note"]
#: Names in CLASS_DIR that no student's folder may take (compared in lower
#: case, for the file systems that ignore it); hidden names neither.
RESERVED = frozenset({INTAKE_CSV})


# ---------------------------------------------------------------------------
# Finding a student's two files
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmissionFiles:
    """The files of one student's submission: ``mlp`` and ``notebook`` are
    the paths taken as mlp.py and pset3.ipynb (None: none found); ``notes``
    says, in words, what was taken when it was not plainly there and what
    was passed over; ``not_chosen`` holds the other candidates' paths, and
    ``conflicts`` the candidates that tied for a file, ((MLP or NOTEBOOK,
    (path, path, ...)), ...), none of which was taken."""
    mlp: object = None
    notebook: object = None
    notes: tuple = ()
    not_chosen: tuple = ()
    conflicts: tuple = ()


_NAME = re.compile(r"""
    (?:[a-z][a-z0-9-]*_(?:late_)?\d+_(?:\d+_)?)?    # Canvas's prefix
    (?P<stem>mlp|pset3)
    (?:\ ?\((?P<copy>\d+)\)|[-_\ ](?P<number>\d+))?  # mlp (1), mlp-1, mlp_1
    (?P<checkpoint>-checkpoint)?                     # Jupyter's copy
    \.(?P<ext>py|ipynb)""", re.VERBOSE)


def name_kind(name):
    """(MLP or NOTEBOOK, the renaming number, whether it is a Jupyter
    checkpoint) if a file of this name may be the student's mlp.py or
    pset3.ipynb, else None: ``mlp (2).py`` gives (MLP, 2, False)."""
    match = _NAME.fullmatch(name.lower())
    if not match or (match["stem"] == "mlp") != (match["ext"] == "py"):
        return None
    number = int(match["copy"] or match["number"] or 0)
    return (MLP if match["stem"] == "mlp" else NOTEBOOK, number,
            bool(match["checkpoint"]))


def _searched(parts):
    """Whether a file at these path parts (below the student's folder) is
    searched: not in a junk or hidden folder, not hidden, not too deep."""
    return (len(parts) <= MAX_DEPTH + 1
            and not any(p in JUNK or p.startswith(".") for p in parts))


def choose_files(items, source=None):
    """The SubmissionFiles of items, [(path parts below the student's
    folder, what to return for it)]. Of several candidates for a file the
    one taken is: a real file before a Jupyter checkpoint, then the exact
    name, then the shallowest, then the latest renaming (``mlp (2).py``
    before ``mlp (1).py``), then by path, so the choice never depends on
    the order of the items. Candidates at the same path (two files of a
    download that both claim to be the student's ``hw/mlp.py``) cannot be
    told apart: if they come first, none is taken and they are a conflict,
    named in the notes by ``source(thing)`` (by default their path)."""
    source = source or (lambda thing: str(thing))
    found = {MLP: [], NOTEBOOK: []}
    for parts, thing in items:
        kind = name_kind(parts[-1]) if parts and _searched(parts) else None
        if kind:
            name, number, checkpoint = kind
            shown = "/".join(parts)
            key = (checkpoint, parts[-1] != name, len(parts), -number,
                   shown.lower(), shown)
            found[name].append((key, shown, source(thing), thing))
    chosen, notes, passed, conflicts = {MLP: None, NOTEBOOK: None}, [], [], []
    for name, candidates in found.items():
        if not candidates:
            continue
        candidates.sort(key=lambda candidate: candidate[:3])
        key, shown = candidates[0][:2]
        tied = [c for c in candidates if c[0] == key]
        rest = candidates[len(tied):]
        if len(tied) > 1:
            conflicts.append((name, tuple(c[3] for c in tied)))
            notes.append(f"{name}: conflict: "
                         f"{' and '.join(c[2] for c in tied)} are each this "
                         f"student's {shown}: none taken (place the right "
                         f"one by hand)")
        else:
            chosen[name] = candidates[0][3]
            if key[0]:
                notes.append(f"{name}: only a Jupyter checkpoint was found, "
                             f"{shown}, and taken (it may be older than the "
                             f"student's last save)")
            elif shown != name:
                notes.append(f"{name}: took {shown}")
        if rest:
            notes.append(f"{name}: not taken: " + ", ".join(
                other for _, other, _, _ in rest))
            passed += [thing for _, _, _, thing in rest]
    return SubmissionFiles(chosen[MLP], chosen[NOTEBOOK], tuple(notes),
                           tuple(passed), tuple(conflicts))


def find_submission_files(folder):
    """The SubmissionFiles of a student's folder on disk (paths as Path):
    its mlp.py and pset3.ipynb, searched for in subfolders too (at most
    MAX_DEPTH deep and MAX_ENTRIES entries), under the names platforms give
    them (see choose_files). Symbolic links are never followed (one named
    like a candidate is noted), and ``__MACOSX``, ``.ipynb_checkpoints``,
    ``__pycache__`` and hidden folders are not searched. Nothing is read
    but the folders' listings."""
    folder = Path(folder)
    if folder.is_symlink():
        return SubmissionFiles(notes=("the folder is a symbolic link: not "
                                      "followed",))
    items, notes, seen = [], [], 0
    queue = deque([(folder, ())])
    while queue:
        path, parts = queue.popleft()
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            notes.append(f"{'/'.join(parts) or 'the folder'} could not be "
                         f"read ({error.strerror})")
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                notes.append(f"searched the first {MAX_ENTRIES} entries "
                             f"only")
                return _with_notes(choose_files(items), notes)
            sub = parts + (entry.name,)
            if entry.is_symlink():
                if name_kind(entry.name):
                    notes.append(f"{'/'.join(sub)} is a symbolic link: not "
                                 f"followed")
            elif entry.is_dir(follow_symlinks=False):
                if len(sub) <= MAX_DEPTH and _searched(sub):
                    queue.append((Path(entry.path), sub))
            elif entry.is_file(follow_symlinks=False):
                items.append((sub, Path(entry.path)))
    return _with_notes(choose_files(items), notes)


def _with_notes(found, notes):
    return replace(found, notes=tuple(notes) + found.notes)


# ---------------------------------------------------------------------------
# The files of a download
# ---------------------------------------------------------------------------

def _refused(limit):
    return f"larger than {limit // 1024} KiB: refused (is it the right file?)"


def _hard_link(links):
    return (f"a hard link (the file has {links} names, which may be outside "
            f"the download): refused; copy it in by hand if it is genuine")


def _read_path(path, limit):
    """(bytes, None), or (None, why not): a regular file with no other name
    (no hard link), never through a symbolic link, of at most ``limit``
    bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return None, f"unreadable ({error.strerror})"
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return None, "not a regular file: refused"
        if status.st_nlink > 1:
            return None, _hard_link(status.st_nlink)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    return (None, _refused(limit)) if len(data) > limit else (data, None)


def _read_member(archive, info, limit):
    """A zip member's bytes, as _read_path: the declared size is checked
    first and at most limit + 1 bytes are ever unpacked."""
    if info.file_size > limit:
        return None, _refused(limit)
    try:
        with archive.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError,
            OSError, EOFError, ValueError) as error:
        return None, f"cannot be unpacked ({type(error).__name__})"
    return (None, _refused(limit)) if len(data) > limit else (data, None)


@dataclass
class DownloadFile:
    """One file of the download. ``parts`` is its path (in a zip a student
    uploaded: the zip's parts, then the member's), ``path`` the same as
    intake.csv shows it, ``read(limit)`` gives (bytes, None) or (None, why
    not), ``problem`` says why it is never placed (None: it may be), and
    ``kind`` is then its Unplaced kind."""
    parts: tuple
    path: str
    read: object = None
    problem: str = None
    kind: str = "refused"


def _walk_folder(root):
    """Every file below the folder root, as DownloadFile. A symbolic link,
    a hard link, a special file, and a hidden, junk or too deep folder (not
    entered) are listed with the reason."""
    files, queue = [], deque([(Path(root), ())])
    while queue:
        path, parts = queue.popleft()
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            if not parts:
                raise GraderError(f"DOWNLOAD: {root} cannot be read "
                                  f"({error.strerror})") from None
            files.append(DownloadFile(parts, "/".join(parts) + "/", problem=(
                f"a folder that cannot be read ({error.strerror})")))
            continue
        for entry in entries:
            if len(files) >= MAX_DOWNLOAD_FILES:
                raise GraderError(
                    f"DOWNLOAD: {root} holds more than {MAX_DOWNLOAD_FILES} "
                    f"files: is it the right folder? Give the folder of one "
                    f"assignment's submissions")
            sub = parts + (entry.name,)
            shown = "/".join(sub)
            if entry.is_symlink():
                files.append(DownloadFile(sub, shown, problem=(
                    "a symbolic link: refused (not followed)")))
            elif entry.is_dir(follow_symlinks=False):
                if len(sub) < MAX_DOWNLOAD_DEPTH and _searched(sub[-1:]):
                    queue.append((Path(entry.path), sub))
                else:
                    files.append(DownloadFile(sub, shown + "/", problem=(
                        "a hidden or metadata folder: not searched"
                        if len(sub) < MAX_DOWNLOAD_DEPTH else
                        f"a folder deeper than {MAX_DOWNLOAD_DEPTH}: not "
                        f"searched")))
            elif entry.is_file(follow_symlinks=False):
                try:
                    links = entry.stat(follow_symlinks=False).st_nlink
                except OSError as error:
                    files.append(DownloadFile(sub, shown, problem=(
                        f"unreadable ({error.strerror})")))
                    continue
                files.append(DownloadFile(
                    sub, shown, partial(_read_path, entry.path),
                    _hard_link(links) if links > 1 else None))
            else:
                files.append(DownloadFile(sub, shown, problem=(
                    "not a regular file: refused")))
    return files


_END, _END64, _LOCATOR64 = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"


def zip_directory(data):
    """(the number of members, the bytes of the list of members, its
    central directory) that a zip's end records declare, or None if
    ``data``, its bytes or a binary file, has no end record. The end record
    is found as Python's zipfile finds it; for a ZIP64 archive the larger of
    its two records' values are given. Read before the zip is opened, so
    that a zip claiming a million members is never listed."""
    if isinstance(data, (bytes, bytearray)):
        data = io.BytesIO(data)
    size = data.seek(0, io.SEEK_END)
    data.seek(max(0, size - (22 + (1 << 16) + 20 + 56)))
    tail = data.read()
    at = len(tail) - 22                 # an end record with no comment
    if at < 0 or tail[at:at + 4] != _END or tail[-2:] != b"\0\0":
        at = tail.rfind(_END, max(0, len(tail) - 22 - (1 << 16)))
    if at < 0 or len(tail) < at + 22:
        return None
    members, directory = struct.unpack_from("<HI", tail, at + 10)
    # ZIP64: a locator just before the end record, its record before that.
    locator = tail[max(0, at - 20):at]
    if len(locator) == 20 and locator.startswith(_LOCATOR64):
        record = tail[max(0, at - 76):at - 20]
        if len(record) == 56 and record.startswith(_END64):
            more, bigger = struct.unpack_from("<QQ", record, 32)
            members, directory = max(members, more), max(directory, bigger)
        else:
            members = max(members, 0xFFFF)
    return members, directory


def declared_members(data):
    """The number of members a zip's end records declare (see
    zip_directory), or None if ``data`` has no end record."""
    found = zip_directory(data)
    return None if found is None else found[0]


def _member_problem(info, parts):
    """Why a zip member is refused, or None."""
    name = info.filename
    if not parts:
        return "a member without a name: refused"
    if (name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name)
            or ".." in parts or "\0" in name):
        return "an unsafe path (it would leave its folder): refused"
    if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
        return "a symbolic link: refused"
    if info.flag_bits & 0x1:
        return "encrypted: cannot be read"
    return None


def _zip_files(archive, prefix=(), shown_prefix=""):
    """The members of an open zip (folders left out) as DownloadFile; a
    member without a name is listed (and refused)."""
    files = []
    for info in archive.infolist():
        if info.filename.endswith("/"):     # a folder (ZipInfo.is_dir fails
            continue                        # on an empty name)
        parts = tuple(p for p in info.filename.replace("\\", "/").split("/")
                      if p not in ("", "."))
        problem = _member_problem(info, parts)
        if problem is None and prefix and \
                parts[-1].lower().endswith(".zip"):
            problem = "a zip inside a zip: not opened"
        files.append(DownloadFile(prefix + (parts or (info.filename,)),
                                  shown_prefix + info.filename,
                                  partial(_read_member, archive, info),
                                  problem))
    return files


#: What opening a zip may raise.
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError,
               NotImplementedError, RuntimeError, struct.error)


def _download_files(download, stack):
    """The files of DOWNLOAD, a folder or a zip (kept open by stack)."""
    if download.is_dir():
        return _walk_folder(download)
    if not download.is_file():
        raise GraderError(
            f"DOWNLOAD: {download} does not exist; give the zip the "
            f"platform's 'download all submissions' gave, or its folder")
    with open(download, "rb") as f:
        count = declared_members(f)
    if count is None or not zipfile.is_zipfile(download):
        raise GraderError(
            f"DOWNLOAD: {download} is neither a zip nor a folder; give the "
            f"zip the platform's 'download all submissions' gave, or the "
            f"folder it unpacks to")
    if count > MAX_DOWNLOAD_FILES:
        raise GraderError(
            f"DOWNLOAD: {download} declares {count} files, more than "
            f"{MAX_DOWNLOAD_FILES}: is it the right zip? Give one "
            f"assignment's submissions")
    try:
        archive = stack.enter_context(zipfile.ZipFile(download))
    except _ZIP_ERRORS as error:
        raise GraderError(f"DOWNLOAD: {download} cannot be read as a zip "
                          f"({error}); download it again") from None
    if len(archive.infolist()) > MAX_DOWNLOAD_FILES:
        raise GraderError(
            f"DOWNLOAD: {download} holds {len(archive.infolist())} files "
            f"(though it declares {count}), more than {MAX_DOWNLOAD_FILES}: "
            f"is it the right zip? Give one assignment's submissions")
    return _zip_files(archive)


def _open_student_zip(file, stack):
    """(the members of a zip a student uploaded as DownloadFile, None), or
    (None, why it was not opened): its size, member count and unpacked
    size are bounded, and zips inside it are not opened. The members are
    counted before it is opened (the count and the size of the list of
    members its end records declare, and the entries its bytes can hold,
    which bound what zipfile lists whatever the records say) and after.
    It stays open (its bytes in memory) until ``stack`` closes."""
    data, why = file.read(MAX_ZIP_BYTES)
    if data is None:
        return None, why
    declared = zip_directory(data)
    if declared is None:
        return None, "not a zip that can be read"
    count, directory = declared
    genuine = "not opened (unpack it by hand if it is genuine)"
    if count > MAX_ZIP_MEMBERS:
        return None, (f"a zip declaring {count} files, more than "
                      f"{MAX_ZIP_MEMBERS}: {genuine}")
    allowed = MAX_ZIP_MEMBERS * ZIP_ENTRY_BYTES
    if directory > allowed:
        return None, (f"a zip whose list of files takes {directory >> 10} "
                      f"KiB, more than {allowed >> 10} KiB for "
                      f"{MAX_ZIP_MEMBERS} files: {genuine}")
    entries = data.count(b"PK\x01\x02")     # each member's entry starts so
    if entries > MAX_ZIP_MEMBERS:
        return None, (f"a zip holding up to {entries} files (though it "
                      f"declares {count}), more than {MAX_ZIP_MEMBERS}: "
                      f"{genuine}")
    try:
        archive = stack.enter_context(zipfile.ZipFile(io.BytesIO(data)))
    except _ZIP_ERRORS as error:
        return None, f"a zip that cannot be read ({type(error).__name__})"
    if len(archive.infolist()) > MAX_ZIP_MEMBERS:
        return None, (f"a zip holding {len(archive.infolist())} files "
                      f"(though it declares {count}), more than "
                      f"{MAX_ZIP_MEMBERS}: {genuine}")
    total = sum(info.file_size for info in archive.infolist())
    if total > MAX_ZIP_TOTAL:
        return None, (f"a zip declaring {total >> 20} MiB unpacked, more "
                      f"than {MAX_ZIP_TOTAL >> 20} MiB: not opened (unpack "
                      f"it by hand if it is genuine)")
    return _zip_files(archive, file.parts, file.path + "/"), None


# ---------------------------------------------------------------------------
# Whose file is it: the platforms
# ---------------------------------------------------------------------------

_CANVAS = re.compile(r"(?P<name>[^_/\s]+)_(?P<late>(?i:late)_)?(?P<id>\d+)_"
                     r"(?:\d+_)?(?P<file>.+)", re.DOTALL)
_MOODLE = re.compile(r"(?P<name>.*)_(?P<id>\d+)_assign(?:submission|"
                     r"feedback)_[a-z]+_(?P<file>.*)", re.DOTALL)
#: Every place in a name where _MOODLE's participant number may be.
_MOODLE_AT = re.compile(r"(?=_(\d+)_assign(?:submission|feedback)_[a-z]+_)")
_GRADESCOPE_LIST = "submission_metadata.yml"
LISTING_NOTE = ("Gradescope's list of the submissions and their submitters: "
                "read")


def _canvas(level):
    """{id: [(parts, file)]}, [(file, why no student)], {id: [notes]} of a
    Canvas zip."""
    students, strays, notes = {}, [], {}
    for parts, file in level:
        match = _CANVAS.fullmatch(parts[0]) if len(parts) == 1 else None
        if match:
            students.setdefault(match["id"], []).append(
                ((match["file"],), file))
            if match["late"] and match["id"] not in notes:
                notes[match["id"]] = ["late: Canvas marks its files LATE"]
        else:
            strays.append((file, "named neither lastname_userid_"
                                 "submissionid_file nor in a zip so named"))
    return students, strays, notes


def _moodle(level):
    """The same for Moodle: one folder (or file prefix) per participant. A
    name that reads as two participants' (``A_1_assignsubmission_file_`` +
    an upload named ``x_2_assignsubmission_file_mlp.py``) is nobody's: it
    is refused as ambiguous, never credited to either."""
    students, strays = {}, []
    for parts, file in level:
        match = _MOODLE.fullmatch(parts[0])
        if match is None:
            strays.append((file, "not in a folder named like "
                                 "'Full Name_12345_assignsubmission_file_'"))
            continue
        ids = sorted({at[1] for at in _MOODLE_AT.finditer(parts[0])},
                     key=lambda number: (len(number), number))
        if len(ids) > 1:
            strays.append((replace(file, problem=(
                f"ambiguous: {'its folder' if len(parts) > 1 else 'its name'}"
                f" reads as participant {' or '.join(ids)}'s (an upload "
                f"named like a Moodle download?): refused; give it to the "
                f"right student by hand")), ""))
            continue
        inner = parts[1:] if len(parts) > 1 else (match["file"] or parts[0],)
        students.setdefault(match["id"], []).append((inner, file))
    return students, strays, {}


def _folders(level):
    """The same for a folder of folders named by the students' ids."""
    students, strays = {}, []
    for parts, file in level:
        if len(parts) == 1:
            strays.append((file, "beside the students' folders, in none"))
        else:
            students.setdefault(parts[0], []).append((parts[1:], file))
    return students, strays, {}


def _submission_number(key):
    number = re.search(r"(\d+)$", key)
    return int(number[1]) if number else -1


def _gradescope(level):
    """The same for a Gradescope export, from its submission_metadata.yml:
    a submission's files go to each of its submitters. A student listed in
    several submissions gets one's files: the only one listing them alone
    (their own) before a group's, then the latest (the highest submission
    number; Gradescope numbers them in order); the files of the others are
    listed for them as a conflict, and a note says which was taken."""
    listing = [file for parts, file in level
               if parts == (_GRADESCOPE_LIST,) and file.problem is None]
    submitters = {}
    if listing:
        data, why = listing[0].read(16 << 20)
        if data is None:
            raise GraderError(f"DOWNLOAD: {listing[0].path} cannot be read: "
                              f"{why}")
        submitters = parse_gradescope_metadata(
            data.decode("utf-8", "replace"))
    strays, found = [], []
    for parts, file in level:
        if any(file is known for known in listing):
            strays.append((file, LISTING_NOTE))
            continue
        key = parts[0] if len(parts) > 1 else parts[0].partition(".")[0]
        people = submitters.get(key)
        ids = [p.get("sid") or p.get("email") for p in people or ()]
        if not people or not all(ids):
            strays.append((file, f"{key} is not in {_GRADESCOPE_LIST}" if not
                           people else f"a submitter of {key} has neither a "
                           f"student id nor an email"))
            continue
        inner = parts[1:] if len(parts) > 1 else parts
        found.append((inner, file, key, list(dict.fromkeys(ids))))
    alone = {}                          # {student: {submission: alone}}
    for _, _, key, ids in found:
        for student in ids:
            alone.setdefault(student, {})[key] = len(ids) == 1
    chosen, notes, why = {}, {}, {}
    for student, keys in alone.items():
        order = sorted(keys, key=lambda k: (not keys[k],
                                            -_submission_number(k), k))
        chosen[student] = taken = order[0]
        if len(order) == 1:
            continue
        own = sum(keys.values())
        listed = sorted(keys, key=lambda k: (_submission_number(k), k))
        why[student] = (
            f"{student} is in submissions {', '.join(listed[:-1])} and "
            f"{listed[-1]}; "
            f"{taken}'s files were taken, " + (
                "their own submission before a group's" if own == 1 else
                "the latest of their own submissions" if own else
                "the latest submission"))
        notes[student] = [f"conflict: {why[student]} (check with the "
                          f"student)"]
    students = {}
    for inner, file, key, ids in found:
        for student in ids:
            students.setdefault(student, []).append((inner, file if chosen[
                student] == key else replace(file, kind="conflict", problem=(
                    f"conflict, not taken: {why[student]}"))))
    return students, strays, notes


ASSIGNERS = {"canvas": _canvas, "moodle": _moodle, "gradescope": _gradescope,
             "folders": _folders}


def _scalar(text):
    """A YAML scalar of the metadata: quoted or plain, None if empty."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    text = text.split(" #")[0].strip()
    return None if text in ("", "~", "null") else text


def parse_gradescope_metadata(text):
    """{submission folder: [{"name", "sid", "email": str or None}]} from the
    text of Gradescope's submission_metadata.yml. Only this shape is read:
    top-level ``submission_<n>:`` keys, each with a ``:submitters:`` list
    of ``:name:``, ``:sid:`` and ``:email:``; everything else (scores,
    history, Ruby object tags that a general YAML loader refuses) is
    skipped. Written for this file so that the grader's Python needs no
    YAML package."""
    result, key, people, list_indent, own_indent = {}, None, None, None, None
    key_indent = None           # of the keys of a submission
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "---":
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            key = _scalar(stripped[:-1]) if stripped.endswith(":") else None
            if key is not None:
                result[key] = []
            people = key_indent = None
            continue
        key_indent = indent if key_indent is None else key_indent
        if key is not None and stripped == ":submitters:" \
                and indent == key_indent:
            people, own_indent, list_indent = result[key], indent, None
        elif people is not None:
            item = stripped.startswith("- ")
            if list_indent is None and item and indent >= own_indent:
                list_indent = indent
            if item and indent == list_indent:
                people.append({"name": None, "sid": None, "email": None})
                stripped = stripped[2:].strip()
            elif indent <= own_indent or not people:
                people = None       # the submission's next key
                continue
            field_name, colon, value = stripped.partition(": ")
            if not colon and stripped.endswith(":"):       # an empty value
                field_name, colon = stripped[:-1], ":"
            if colon and field_name in (":name", ":sid", ":email"):
                people[-1][field_name[1:]] = _scalar(value)
    return result


# ---------------------------------------------------------------------------
# Recognising the platform
# ---------------------------------------------------------------------------

def _outside(parts):
    """Whether a top-level name is never a student's (macOS's metadata,
    hidden files)."""
    return parts[0] in JUNK or parts[0].startswith(".")


def _levels(files):
    """[(prefix, [(parts below prefix, file)])]: the download's top, then,
    while it holds one folder only, that folder's inside."""
    inside = [(f.parts, f) for f in files if not _outside(f.parts)]
    levels, prefix = [((), inside)], ()
    while len(levels) < 4:
        tops = {parts[0] for parts, _ in inside}
        if len(tops) != 1 or any(len(parts) == 1 for parts, _ in inside):
            break
        prefix += (tops.pop(),)
        inside = [(parts[1:], f) for parts, f in inside]
        levels.append((prefix, inside))
    return levels


def _is(platform, level):
    """Whether a level looks like the platform's download."""
    tops = {}
    for parts, _ in level:
        tops[parts[0]] = tops.get(parts[0], False) or len(parts) > 1
    if platform == "gradescope":
        return tops.get(_GRADESCOPE_LIST) is False
    if platform == "moodle":
        matched = sum(bool(_MOODLE.fullmatch(name)) for name in tops)
        return matched > 0 and 2 * matched >= len(tops)
    if platform == "canvas":
        loose = [name for name, folder in tops.items() if not folder]
        matched = sum(bool(_CANVAS.fullmatch(name)) for name in loose)
        return matched > 0 and 2 * matched >= len(tops)
    return any(tops.values())


def recognise(files, platform=None):
    """(platform, prefix, level): which platform's download ``files`` is
    (``platform``, if given, is taken as it is) and the folder inside it
    that holds the students' files (prefix: its parts, () for the top)."""
    levels = _levels(files)
    for name in ("gradescope", "moodle", "canvas"):
        if platform in (None, name):
            for prefix, level in levels:
                if _is(name, level):
                    return name, prefix, level
    if platform in ("canvas", "moodle", "gradescope"):
        return (platform,) + levels[0]
    if platform == "folders":
        return ("folders",) + levels[0]
    # Auto: the folder of folders, unwrapped while it holds one folder only,
    # but not down into a student's own folder (one with their files).
    prefix, level = levels[0]
    for deeper_prefix, deeper in levels[1:]:
        if any(len(parts) == 1 and name_kind(parts[0])
               for parts, _ in deeper):
            break
        prefix, level = deeper_prefix, deeper
    if _is("folders", level):
        return "folders", prefix, level
    return None, (), levels[0][1]


# ---------------------------------------------------------------------------
# Intake
# ---------------------------------------------------------------------------

@dataclass
class Student:
    """One student of the download: ``folder`` is their folder's name in
    CLASS_DIR, ``mlp`` and ``notebook`` the download paths placed there as
    mlp.py and pset3.ipynb (None: none), ``notes`` what to know about it."""
    id: str
    folder: str
    mlp: str = None
    notebook: str = None
    notes: list = field(default_factory=list)


@dataclass
class Unplaced:
    """A file of the download that is in CLASS_DIR under no name: whose it
    is ("" for no one), its download path, why, and which kind of reason:
    "no student", "refused" (unsafe, ambiguous, unreadable, too large, a
    link), "conflict" (another file claims the same place, or the student
    is in several submissions: to be settled by hand), "not taken"
    (another file was taken in its place) or "other" (not a file the
    grader reads)."""
    student: str
    path: str
    why: str
    kind: str


@dataclass
class Intake:
    """What intake did: the platform, the Students by id, the rows of
    intake.csv ([student, download path, placed as, note]) and the
    Unplaced files."""
    platform: str
    students: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    unplaced: list = field(default_factory=list)


def folder_name(student):
    """The folder name of a student's id in CLASS_DIR: the id itself if it
    is an ordinary one (letters, digits, ``_ - . @ +``, spaces), else a
    safe name made from it (student_ids.feedback_file_name without .txt).
    A name CLASS_DIR keeps for itself (RESERVED, in any case, or a hidden
    one) gets ``~`` and 16 hex digits of the id's SHA-256 added, as a safe
    name does: ``intake.csv~...``."""
    name = feedback_file_name(student)[:-len(".txt")]
    if name.lower() in RESERVED or name.startswith("."):
        digest = hashlib.sha256(student.encode("utf-8", "surrogatepass"))
        name = f"{name}~{digest.hexdigest()[:16]}"
    return name


def _check_places(download, class_dir):
    """GraderError unless CLASS_DIR is new or empty and apart from
    DOWNLOAD."""
    if class_dir.exists() or class_dir.is_symlink():
        if not class_dir.is_dir() or class_dir.is_symlink():
            raise GraderError(f"--out: {class_dir} exists and is not a "
                              f"folder; give the path of a new folder")
        held = sorted(os.listdir(class_dir))
        if held:
            raise GraderError(
                f"--out: {class_dir} is not empty (it holds "
                f"{', '.join(held[:5])}{' ...' if len(held) > 5 else ''}); "
                f"give a new or empty folder, so that no earlier files mix "
                f"with this class's")
    real_download = os.path.realpath(download).rstrip("/") + "/"
    real_class = os.path.realpath(class_dir).rstrip("/") + "/"
    if real_class.startswith(real_download) or \
            real_download.startswith(real_class):
        raise GraderError(f"--out: {class_dir} and DOWNLOAD {download} "
                          f"overlap; give a folder outside the download")


def _unrecognised(download, files):
    tops = sorted({f.parts[0] for f in files})
    shown = ", ".join(tops[:6]) + (" ..." if len(tops) > 6 else "")
    return GraderError(
        f"DOWNLOAD: {download} is not a download intake recognises (its top "
        f"holds: {shown or 'nothing'}); name its platform with --platform "
        f"{'|'.join(PLATFORMS)} (folders: one folder per student, named by "
        f"the student's id)")


def intake(download, class_dir, platform=None, progress=print):
    """Make CLASS_DIR from a platform's DOWNLOAD (see the module docstring):
    one folder per student with their mlp.py and pset3.ipynb, and
    CLASS_DIR/intake.csv listing every file of the download. Prints one
    line per student and what could not be placed; returns the Intake.
    GraderError, before anything is written, if CLASS_DIR is not new or
    empty or DOWNLOAD cannot be read or recognised. If intake fails on a
    student's files (a file nobody foresaw), they are listed as refused
    and the other students are taken in; if it stops (an error writing,
    Ctrl-C), what it wrote is removed: CLASS_DIR is left as it was."""
    download, class_dir = Path(download), Path(class_dir)
    if platform is not None and platform not in PLATFORMS:
        raise GraderError(f"--platform: {platform!r} is not one of "
                          f"{', '.join(PLATFORMS)}")
    _check_places(download, class_dir)
    with contextlib.ExitStack() as stack:
        files = _download_files(download, stack)
        found, prefix, level = recognise(files, platform)
        if found is None:
            raise _unrecognised(download, files)
        students, strays, notes = ASSIGNERS[found](level)
        if not students:
            raise GraderError(
                f"DOWNLOAD: no student's files found in {download} read as "
                f"a {found} download; check the file, or name its platform "
                f"with --platform {'|'.join(PLATFORMS)}")
        in_level = {id(f) for _, f in level}
        strays += [(f, "not part of any student's submission")
                   for f in files if id(f) not in in_level]
        result = Intake(found)
        with _writing(class_dir) as work:
            for student in sorted(students):
                _take_in(student, students[student], work,
                         notes.get(student, []), result)
            for file, why in strays:
                kind = (file.kind if file.problem else "other"
                        if why == LISTING_NOTE else "no student")
                why = file.problem or why
                result.rows.append(["", file.path, "", why])
                result.unplaced.append(Unplaced("", file.path, why, kind))
            _write_csv(work / INTAKE_CSV, result.rows)
    _report(result, download, class_dir, prefix, progress)
    return result


@contextlib.contextmanager
def _writing(class_dir):
    """The folder to write CLASS_DIR's files in: CLASS_DIR if it is there
    (empty, as _check_places saw), else a new hidden folder beside it,
    renamed CLASS_DIR at the end. If anything fails, all that was written
    is removed (CLASS_DIR is as it was, and intake can run again), and an
    OSError becomes a GraderError saying so."""
    class_dir = Path(os.path.abspath(class_dir))
    existed = class_dir.is_dir()
    try:
        if existed:
            work = class_dir
        else:
            class_dir.parent.mkdir(parents=True, exist_ok=True)
            while True:
                work = class_dir.with_name(
                    f".{class_dir.name}.intake-{secrets.token_hex(4)}")
                with contextlib.suppress(FileExistsError):
                    work.mkdir()
                    break
    except OSError as error:
        raise GraderError(f"--out: {class_dir} cannot be made "
                          f"({error.strerror}); give a folder where you may "
                          f"write") from None
    try:
        yield work
        if not existed:
            os.rename(work, class_dir)
    except BaseException as error:
        if existed:
            for entry in os.listdir(work):
                path = work / entry
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        path.unlink()
        else:
            shutil.rmtree(work, ignore_errors=True)
        if isinstance(error, OSError):
            raise GraderError(
                f"--out: intake stopped, writing {class_dir} failed "
                f"({error}); nothing of it was kept: free some space or "
                f"fix the permissions, and run intake again") from None
        raise


def _take_in(student, items, class_dir, notes, result):
    """_place the student's files, adding what it did to result. If it
    fails (a file nobody foresaw, a bug), none of the student's files is
    placed and each is listed as refused, saying why; the other students
    are taken in as usual."""
    try:
        record, rows, unplaced = _place(student, items, class_dir, notes)
    except Exception as error:            # this student only, not intake
        why = (f"refused: intake failed on this student's files "
               f"({type(error).__name__}: {error}); take them in by hand, "
               f"and report it")
        record = Student(student, folder_name(student), notes=[why])
        rows = [[student, file.path, "", why] for _, file in items]
        unplaced = [Unplaced(student, file.path, why, "refused")
                    for _, file in items]
    result.students[student] = record
    result.rows += rows
    result.unplaced += unplaced


OPENED = "a zip: opened, its files are listed after it"


def _expand_zips(items, stack, why_not):
    """items with the members of each zip the student uploaded added after
    it (a zip that is not opened says why in why_not[id(zip)])."""
    expanded = []
    for inner, file in items:
        expanded.append((inner, file))
        if (file.problem is None and file.read is not None
                and inner[-1].lower().endswith(".zip") and _searched(inner)):
            members, why = _open_student_zip(file, stack)
            why_not[id(file)] = (why, "refused") if why else (OPENED, "other")
            expanded += [(inner + member.parts[len(file.parts):], member)
                         for member in members or ()]
    return expanded


def _copy(file, name, destination):
    """Copy file into destination/name; None, or why it was not."""
    data, why = file.read(LIMITS[name])
    if data is None:
        return why
    try:
        with open(destination / name, "xb") as f:
            f.write(data)
    except OSError as error:
        return f"could not be written ({error.strerror})"
    return None


def _place(student, items, class_dir, notes=()):
    """Copy one student's chosen files into CLASS_DIR/<folder>/; returns
    (the Student, their rows of intake.csv, their Unplaced files). The zips
    they uploaded are open (their bytes in memory) only meanwhile. If it
    fails, the folder it made is removed."""
    record = Student(student, folder_name(student))
    if record.folder != student:
        record.notes.append(f"the id {readable(student)!r} is in the folder "
                            f"{record.folder!r}")
    record.notes += notes
    why_not, placed, ahead = {}, {}, {}
    folder, made = class_dir / record.folder, False
    try:
        with contextlib.ExitStack() as stack:
            items = _expand_zips(items, stack, why_not)
            choice = choose_files(
                [(inner, f) for inner, f in items
                 if f.problem is None and f.read is not None],
                source=lambda f: f.path)
            record.notes += choice.notes
            for name, tied in choice.conflicts:
                ahead[name] = " and ".join(f.path for f in tied)
                for file in tied:
                    others = [g.path for g in tied if g is not file]
                    why_not[id(file)] = (
                        f"conflict, not taken: {', '.join(others)} "
                        f"{'is' if len(others) == 1 else 'are'} also this "
                        f"student's {name}, at the same place; none was "
                        f"taken (place the right one by hand)", "conflict")
            try:
                folder.mkdir()
                made, cannot = True, None
            except OSError as error:
                cannot = (f"not placed: the student's folder "
                          f"{record.folder!r} could not be made in CLASS_DIR "
                          f"({error.strerror}" + (
                              "; another id's folder has that name on this "
                              "file system?)" if isinstance(
                                  error, FileExistsError) else ")"))
                record.notes.append(cannot)
            for name, file in ((MLP, choice.mlp),
                               (NOTEBOOK, choice.notebook)):
                if file is None:
                    continue
                why = cannot or _copy(file, name, folder)
                if why is None:
                    placed[id(file)] = f"{record.folder}/{name}"
                    setattr(record, "mlp" if name == MLP else "notebook",
                            file.path)
                elif cannot:
                    why_not[id(file)] = (cannot, "refused")
                else:
                    why_not[id(file)] = (f"refused as {name}: {why}",
                                         "refused")
                    record.notes.append(f"{name}: {file.path}: {why}")
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    taken = {MLP: record.mlp, NOTEBOOK: record.notebook}
    rows, unplaced = [], []
    for inner, file in items:
        if id(file) in placed:
            rows.append([student, file.path, placed[id(file)], ""])
            continue
        why, kind = _why_not(inner, file, why_not.get(id(file)), taken,
                             ahead)
        rows.append([student, file.path, "", why])
        if why != OPENED:
            unplaced.append(Unplaced(student, file.path, why, kind))
    return record, rows, unplaced


def _why_not(inner, file, known, taken, ahead):
    """(why a file of a student's is not placed, the Unplaced kind); known:
    (why, kind) found while placing, or None."""
    if file.problem:
        return file.problem, file.kind
    if known:
        return known
    if not _searched(inner):
        return ("hidden, in a metadata folder or too deep: not searched",
                "other")
    kind = name_kind(inner[-1])
    if kind is None:
        return "not a file the grader reads (mlp.py, pset3.ipynb)", "other"
    name = kind[0]
    if taken[name]:
        return f"not taken: {taken[name]} is this student's {name}", \
            "not taken"
    if name in ahead:
        return (f"not taken: {ahead[name]}, in conflict, come before it",
                "not taken")
    return f"not taken as {name}", "not taken"


def spreadsheet_text(text):
    """A cell of names or words that no spreadsheet reads as a formula: a
    ``'`` before a formula's first character (``= + - @``, a tab or carriage
    return) at its start, as grading._csv_cell writes it, and after each
    ``;`` (where a spreadsheet splitting on ``;`` starts a cell)."""
    from grading import _csv_cell      # the grader's rule for safe cells
    return re.sub(r";(?=[=+\-@\t\r])", ";'", _csv_cell(text))


def _write_csv(path, rows):
    """intake.csv: the columns, then rows, every cell quoted and made safe
    for spreadsheets (spreadsheet_text of student_ids.readable)."""
    with open(path, "x", newline="", encoding="utf-8",
              errors="backslashreplace") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        writer.writerow(INTAKE_COLUMNS)
        for row in rows:
            writer.writerow([spreadsheet_text(readable(cell)) if cell else ""
                             for cell in row])


def _count(number, word):
    return f"{number} {word}{'' if number == 1 else 's'}"


def _report(result, download, class_dir, prefix, progress):
    """One line per student, then what could not be placed."""
    from grading import clean

    def shown(text, limit=120):
        return clean(readable(text), limit)

    inside = f" (its folder {'/'.join(prefix)}/)" if prefix else ""
    progress(f"{download}{inside}: a {result.platform} download, "
             f"{_count(len(result.students), 'student')}, into "
             f"{class_dir}")
    for student, record in result.students.items():
        progress(f"{shown(student, 80)}: " + "; ".join(
            f"{name} <- {shown(path)}" if path else f"{name}: none"
            for name, path in ((MLP, record.mlp),
                               (NOTEBOOK, record.notebook))))
        for note in record.notes:
            progress(f"  {shown(note, 300)}")
    missing = [shown(s, 80) for s, r in result.students.items()
               if r.mlp is None]
    if missing:
        progress(f"no mlp.py for {_count(len(missing), 'student')}: "
                 f"{', '.join(missing)}")
    for kind, title in (("no student", "of no student"),
                        ("refused", "refused"),
                        ("conflict", "in conflict (settle it by hand)"),
                        ("not taken", "not taken (another was)")):
        files = [u for u in result.unplaced if u.kind == kind]
        if files:
            progress(f"{_count(len(files), 'file')} {title}:")
        for u in files:
            whose = f"{shown(u.student, 80)}: " if u.student else ""
            progress(f"  {whose}{shown(u.path)}: {shown(u.why, 200)}")
    others = sum(u.kind == "other" for u in result.unplaced)
    progress(f"every file of the download and where it went ("
             f"{_count(others, 'other file')}, not read by the grader, "
             f"included): {class_dir / INTAKE_CSV}")
