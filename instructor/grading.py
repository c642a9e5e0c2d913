"""Grading submissions: the trusted side, which decides every point.

For each submission the grader copies the student's ``mlp.py`` (a regular
file under a size limit) into a fresh private folder beside the handout's
given files, starts the sandbox there (``sandbox.py``), and then, check by
check (``questions.py``), starts a fresh process of the student's code with
the reference's code set in for the parts the check does not judge, sends
the inputs of each call, reads the reply as plain data and lets the check
compare it with the reference computed here. The hidden problems are drawn
from the grader's secret and the submitted ``mlp.py``: the same files get
the same problems (and grade), a changed submission meets new ones.

Nothing the student's process prints (its output goes to /dev/null),
raises, exits with or writes changes a verdict: a verdict is a comparison
made here. A check that runs over its time limit, or whose call ends the
process, costs that check only: the sandbox is killed, whole, and the next
check starts a fresh one. A submission's checks share a time budget. Every
text that comes from the student's side is cut to one printable line, and
a hidden check's messages never show its inputs or expected values.
"""
import builtins
import csv
import errno
import json
import math
import os
import queue
import re
import shutil
import stat
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

import questions
import reference
import sandbox_entry
from feedback import Other, Raised, Wrong
import intake
import sandbox
from sandbox import Ended, GraderError, Limits, Sandbox, TimedOut, inside

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The handout's given files, copied from the build into every private
#: folder (never the student's own copies).
GIVEN_FILES = ("_checks.py", "_threads.py", "utils.py", "_mnist_files.py")
MAX_SOURCE_BYTES = 1 << 20          # mlp.py
MAX_NOTEBOOK_BYTES = 16 << 20       # pset3.ipynb (the solved one: 1.4 MB)
#: Objects and lists take 20 to 30 times their JSON's size in memory once
#: parsed; the solved notebook has about 800 of them.
MAX_NOTEBOOK_BRACKETS = 100_000
#: In a built grader folder: the solved mlp.py, whose parts stand in for
#: the student's, and the secret the hidden problems are drawn from.
SOLVED_NAME, SECRET_NAME = "solved_mlp.py", "secret"


def require_sandbox(limits):
    """The limits to grade with, once the sandbox is known to work here;
    else GraderError. With ``limits.container`` None, bubblewrap where it
    can create its namespaces, else (as root) container mode; never no
    sandbox at all unless asked for."""
    if not limits.sandbox or limits.container is not None:
        _require_sandbox(limits)
        return limits
    try:
        _require_sandbox(replace(limits, container=False))
        return replace(limits, container=False)
    except GraderError as error:
        if os.geteuid() != 0:
            raise GraderError(
                f"{error}. Where bubblewrap cannot run (in a container), "
                f"the grader can run as root and give each submission a "
                f"uid of its own (container mode)") from None
        try:
            _require_sandbox(replace(limits, container=True))
        except GraderError as second:
            raise GraderError(f"bubblewrap: {error}; container mode: "
                              f"{second}") from None
        return replace(limits, container=True)


def _require_sandbox(limits):
    """In container mode, where the sandbox sees the whole file system,
    first take every access of others away from the folders of the
    grader, its secret and the solution, and then make sure the sandbox
    cannot read them."""
    private = []
    if limits.sandbox and limits.container:
        # First, that it can run at all: take no access away for nothing.
        sandbox.require_sandbox(limits)
        for path in (HERE, solved_path(), secret_path()):
            folder = path if path.is_dir() else path.parent
            os.chmod(folder, os.stat(folder).st_mode & 0o7700)
            private.append(str(path))
    sandbox.require_sandbox(limits, forbidden=private)


def solved_path():
    """The solved mlp.py: the built grader's copy, else the repository's."""
    built = HERE / SOLVED_NAME
    return built if built.is_file() else ROOT / "mlp.py"


def write_secret(path, replace=True):
    """A new random secret in path, readable by its owner alone. It is
    written whole and then moved into place, so no reader sees part of
    one; with ``replace=False`` a secret already there is kept, so that
    processes making the first one at the same time all use the same."""
    fd, new = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=".secret-")      # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        if replace:
            os.replace(new, path)
        else:
            try:
                os.link(new, path)
            except FileExistsError:
                pass
    finally:
        if os.path.exists(new):
            os.unlink(new)


def secret_path():
    built = HERE / SECRET_NAME
    return built if built.is_file() else HERE / ".secret"


def secret():
    """The grader's secret: ``secret`` beside this file in a built grader
    folder; in the repository, one made on first use in
    ``instructor/.secret`` (not tracked)."""
    path = secret_path()
    if not path.is_file():
        write_secret(path, replace=False)
    text = path.read_text().strip()
    if len(text) < 32:
        raise GraderError(f"the secret in {path} is too short: build the "
                          f"grader again")
    return text.encode()


@dataclass
class CheckResult:
    check: questions.Check
    status: str           # passed, failed, error, not implemented yet, ...
    message: str = ""
    missing: bool = False     # the part is not written yet
    wholly: bool = False      # nothing of the part in it (None, zeros)
    known: bool = False       # a known mistake explains it
    question: str = None      # where the report shows it (its check's)
    mistakes: tuple = ()      # the names of the known mistakes it shows

    def __post_init__(self):
        self.question = self.question or self.check.question

    @property
    def passed(self):
        return self.status == "passed"

    def line(self):
        """The check's feedback in one line, as the report shows it."""
        return (f"{'public' if self.check.public else 'hidden'} "
                f"{self.check.name}: {self.status}"
                + (f": {self.message}" if self.message else ""))


@dataclass
class Report:
    """The grading of one submission."""
    student: str
    results: list = field(default_factory=list)
    manual: list = field(default_factory=list)     # (question, note)
    notes: list = field(default_factory=list)
    seconds: float = 0.0
    graded: bool = True         # False: there was no mlp.py to grade
    sandbox: str = ""           # which sandbox ran (Limits.describe)
    hand: dict = field(default_factory=dict)   # question: (points, comment)
    answers: tuple = None       # notebook_answers of the submission

    def questions(self):
        """[(question, what, earned, possible, results)] in the order of
        QUESTIONS."""
        rows = []
        for question, (what, possible) in questions.QUESTIONS.items():
            mine = [r for r in self.results if r.question == question]
            earned = sum(r.check.points for r in mine if r.passed)
            rows.append((question, what, earned, possible, mine))
        return rows

    def total(self):
        """(points, maximum) of the automatically graded questions."""
        return (sum(row[2] for row in self.questions()),
                sum(points for _, points in questions.QUESTIONS.values()))

    def grand_total(self):
        """(points, maximum, the questions still to grade by hand): the
        automatic points and those graded by hand so far (manual.csv)."""
        earned, possible = self.total()
        waiting = []
        for question, _, points, _ in questions.MANUAL:
            if question in self.hand:
                earned += self.hand[question][0]
                possible += points
            else:
                waiting.append(question)
        return earned, possible, waiting

    def header(self):
        """The first lines of a feedback file: who, which assignment, the
        points so far and what is still to be graded by hand."""
        from student_ids import readable
        earned, possible, waiting = self.grand_total()
        still = sum(points for q, _, points, _ in questions.MANUAL
                    if q in waiting)
        return [f"student: {clean(readable(self.student), 120)}",
                f"assignment: {ASSIGNMENT}",
                f"points so far: {earned:g} / {possible}" + (
                    f"; still to grade by hand: {', '.join(waiting)} "
                    f"({still} points)" if waiting else
                    ", everything graded"),
                ""]

    def lines(self, verbose=False):
        """The report: notes, one line per question (with ``verbose``, the
        feedback of its checks under it), the questions graded by hand,
        the points graded by hand, and last the automatic total."""
        lines = [f"note: {note}" for note in self.notes]
        if self.sandbox:
            lines.append(f"sandbox: {self.sandbox}")
        for question, what, earned, possible, results in self.questions():
            lines.append(f"{question} {what}: {earned} / {possible}")
            if verbose:
                lines += [f"  {r.line()}" for r in results
                          if not r.passed or r.message]
        notes = dict(self.manual)
        for question, what, points, _ in questions.MANUAL:
            if question in self.hand:
                got, comment = self.hand[question]
                lines.append(f"{question} {what}: {got:g} / {points}, "
                             f"graded by hand"
                             + (f": {clean(comment, 300)}" if comment else ""))
                continue
            note = notes.get(question, "")
            lines.append(f"{question} {what}: manual, {points} points"
                         + (f" ({note})" if note else ""))
        earned, possible, waiting = self.grand_total()
        if not self.hand:
            lines.append(f"graded by hand: {MANUAL_POINTS} points, not in "
                         f"the total")
        elif waiting:
            lines.append(f"still to grade by hand: {', '.join(waiting)}, "
                         f"not in the total")
        lines.append(f"total: {earned:g} / {possible}")
        return lines


#: What the feedback files' header calls the assignment.
ASSIGNMENT = "problem set 3, a two-layer network in NumPy"
#: The points of the questions graded by hand (55).
MANUAL_POINTS = sum(points for _, _, points, _ in questions.MANUAL)
#: The problem set's points, automatic and by hand (100).
TOTAL_POINTS = sum(points for _, points in questions.QUESTIONS.values()) \
    + MANUAL_POINTS


def clean(text, limit=300):
    """Untrusted text as one printable line of at most ``limit`` characters:
    newlines and every other control or separator character become spaces,
    so it can never start a line of the report."""
    text = "".join(c if c.isprintable() else " " for c in str(text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------
# Reading a submission
# ---------------------------------------------------------------------------

def read_regular_file(path, limit):
    """(bytes, None), or (None, why the file was refused): it must be a
    regular file, not a symbolic link, of at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None, "missing"
    except OSError as error:
        if error.errno == errno.ELOOP:
            return None, "a symbolic link: refused (submit the file itself)"
        return None, f"unreadable ({clean(error.strerror, 80)})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file: refused"
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        return None, (f"larger than {limit // 1024} KiB: refused (is it the "
                      f"right file?)")
    return data, None


def notebook_answers(folder, notebook=None):
    """({question: the student's answer} for the questions graded by hand,
    why the notebook could not be read or None), the notebook (``notebook``,
    else folder/pset3.ipynb) read as plain JSON. A question whose cell is
    missing is left out; a cell that holds several questions' answers is
    split at their headings."""
    data, refused = read_regular_file(notebook or Path(folder) / "pset3.ipynb",
                                      MAX_NOTEBOOK_BYTES)
    cells, problem = {}, None
    if data is None:
        problem = "no notebook" if refused == "missing" else \
            f"notebook {refused}"
    elif data.count(b"{") + data.count(b"[") > MAX_NOTEBOOK_BRACKETS:
        problem = ("notebook unreadable: far more nested parts than a "
                   "notebook has")
    else:
        try:
            notebook = json.loads(data)
            for cell in notebook["cells"]:
                grade_id = cell.get("metadata", {}).get(
                    "nbgrader", {}).get("grade_id")
                source = cell.get("source", "")
                if isinstance(source, list):
                    source = "".join(source)
                if isinstance(grade_id, str) and isinstance(source, str):
                    cells[grade_id] = source
        except (ValueError, RecursionError, TypeError, KeyError,
                AttributeError) as error:
            problem = (f"notebook unreadable: not a valid notebook "
                       f"({clean(type(error).__name__, 40)})")
    answers = {}
    for question, _, _, grade_id in questions.MANUAL:
        source = cells.get(grade_id)
        if source is not None:
            answers[question] = answer_sections(source, [
                q for q, _, _, cell in questions.MANUAL
                if cell == grade_id]).get(question, source)
    return answers, problem


def manual_answers(folder, notebook=None):
    """[(question, note)] for the hand-graded answers in the notebook (a
    notebook that cannot be read is said so, not fatal)."""
    return manual_notes(*notebook_answers(folder, notebook))


def manual_notes(answers, problem):
    """manual_answers' notes from notebook_answers' answers and problem."""
    return [(question, problem if problem
             else "answer missing" if question not in answers
             else "not answered yet" if "YOUR ANSWER HERE" in answers[question]
             else "") for question, _, _, _ in questions.MANUAL]


def answer_sections(source, names):
    """{question: its part of a cell that holds the answers of several
    questions (``names``, such as Q1.1 to Q1.6)}: from the question's
    heading ("### Q1.1 ...") to the next question's heading. A question
    whose heading is not in the cell is left out (its answer is the whole
    cell's then)."""
    starts = []
    for name in names:
        match = re.search(rf"^#+[ \t]*{re.escape(name)}(?![\d.])", source,
                          re.M)
        if match:
            starts.append((match.start(), name))
    starts.sort()
    return {name: source[start:end] for (start, name), end in zip(
        starts, [s for s, _ in starts[1:]] + [len(source)])}


def given_folder():
    """Where the handout's given files are: ``given/`` beside this file in a
    built grader folder, else the repository root."""
    for folder in (HERE / "given", ROOT):
        if all((folder / name).is_file() for name in GIVEN_FILES):
            return folder
    raise GraderError(f"the handout's given files ({', '.join(GIVEN_FILES)})"
                      f" are neither in {HERE / 'given'} nor in {ROOT}")


def private_folder(source):
    """A fresh folder with the given files, the sandbox's entry point and
    the student's mlp.py (``source``, bytes), for the grader's user alone
    until a sandbox is given it (see Sandbox.start and sandbox._share_with):
    a grading cut short leaves no submission readable to others."""
    folder = Path(tempfile.mkdtemp(prefix="pset3-grading-"))
    given = given_folder()
    for name in GIVEN_FILES:
        shutil.copyfile(given / name, folder / name)
    shutil.copyfile(HERE / "sandbox_entry.py", folder / "sandbox_entry.py")
    (folder / "mlp.py").write_bytes(source)
    for path in folder.iterdir():
        os.chmod(path, 0o644)
    return folder


# ---------------------------------------------------------------------------
# Requests and replies
# ---------------------------------------------------------------------------

#: How many numbers one request may carry (the digits: 100,000).
MAX_REQUEST_ELEMENTS = 1_000_000


def request_of(call):
    if not set(call.want) <= questions.WANTED:
        raise ValueError(f"a check wants {call.want}; only "
                         f"{sorted(questions.WANTED)} may come back")
    request = {"args": tuple(call.args), "kwargs": call.kwargs,
               "want": ["result", *call.want]}
    if call.function:
        request["function"] = call.function
    else:
        net = call.net
        request.update(net={"class": net.cls, "args": list(net.sizes),
                            "kwargs": {"std": net.std,
                                       "activation": net.activation,
                                       "seed": net.seed},
                            "params": net.params,
                            "attributes": net.attributes},
                       method=call.method,
                       then=[list(step) for step in call.then])
    return sandbox_entry.encode(request, [MAX_REQUEST_ELEMENTS])


def decode(value, depth=0):
    """The Python value of one encoded answer, checked strictly: an ndarray
    of an allowed numeric dtype, a number, a string, None, a list, tuple
    or dict of those, or :class:`feedback.Other` for anything else."""
    if depth > 10 or not isinstance(value, dict):
        raise Ended("a reply that is not the grader's format")
    kind = value.get("kind")
    if kind == "none":
        return None
    if kind == "scalar" and type(value.get("value")) in (bool, int, float):
        return value["value"]
    if kind == "str" and isinstance(value.get("value"), str):
        return value["value"]
    if kind == "other":
        return Other(clean(value.get("type", "object"), 60))
    if kind == "ndarray":
        return _decode_array(value)
    items = value.get("items")
    if kind in ("list", "tuple") and isinstance(items, list):
        decoded = [decode(item, depth + 1) for item in items]
        return decoded if kind == "list" else tuple(decoded)
    if kind == "dict" and isinstance(items, list):
        result = {}
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise Ended("a reply that is not the grader's format")
            key = decode(pair[0], depth + 1)
            if not isinstance(key, (str, int, float, bool, type(None))):
                key = str(key)
            result[key] = decode(pair[1], depth + 1)
        return result
    raise Ended("a reply that is not the grader's format")


def _decode_array(value):
    dtype, shape, data = value.get("dtype"), value.get("shape"), \
        value.get("base64")
    if (dtype not in sandbox_entry.DTYPES or not isinstance(shape, list)
            or len(shape) > 8 or not all(type(n) is int and 0 <= n < 2 ** 31
                                         for n in shape)
            or math.prod(shape) > 2 ** 31
            or not isinstance(data, str)
            or len(data) != 4 * math.ceil(math.prod(shape)
                                          * np.dtype(dtype).itemsize / 3)):
        raise Ended("an array reply that is not the grader's format")
    try:
        return sandbox_entry.array_of(value)
    except (ValueError, TypeError):       # binascii.Error is a ValueError
        raise Ended("an array reply that is not the grader's format") \
            from None


#: For the attack suite only: a public check shows the student's exception
#: in full (its message and line), as the suite's hostile submissions use
#: it to report what they found. A hostile submission can also use it to
#: carry hidden values out: never set it to grade a class.
SHOW_PUBLIC_MESSAGES = os.environ.get("PSET3_SHOW_PUBLIC_MESSAGES") == "1"

#: Exception names a hidden check's message may show: Python's own.
BUILTIN_EXCEPTIONS = frozenset(
    name for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException))
#: Functions of mlp.py a hidden check's message may name: those of the
#: handout's mlp.py (the solved one's functions and TwoLayerMLP's methods,
#: whatever a student's file defines) and its top level.
KNOWN_FUNCTIONS = frozenset({"<module>",
                             *reference.solved_parts(solved_path())})


def hidden_words(error):
    """(the exception's name, the handout function it came from) as a hidden
    check may show them: "an exception" and "" unless from closed lists."""
    kind = clean(error.get("type", "Exception"), 60)
    where = error.get("where") if isinstance(error.get("where"), dict) else {}
    function = clean(where.get("function", ""), 60)
    return (kind if kind in BUILTIN_EXCEPTIONS else "an exception",
            function if function in KNOWN_FUNCTIONS else "")


def describe_error(error, public):
    """An exception reported by the sandbox, as one line for the report.

    Everything in it comes from the student's process, so a check shows
    only words from closed lists: a built-in exception's name (else "an
    exception"), and the function of mlp.py it came from if that is one of
    the handout's (else nothing), never the message, a line number or a
    name the student's code made up, any of which could carry the hidden
    inputs (a later check's process can learn them from an earlier one's
    through what the kernel shares, the numbers of its processes say). Only
    a failed import before any check ran (``public``) shows them all.
    """
    if not isinstance(error, dict):
        return "an error that could not be read"
    if not public:
        kind, function = hidden_words(error)
        return kind + (f" in {function}" if function else "")
    kind = clean(error.get("type", "Exception"), 60)
    where = error.get("where") if isinstance(error.get("where"), dict) else {}
    function = clean(where.get("function", ""), 60)
    line = where.get("line")
    place = (f" at mlp.py line {line} (in {function})"
             if type(line) is int and 0 < line < 10 ** 7 else "")
    message = clean(error.get("message", ""), 200)
    return f"{kind}{place}" + (f": {message}" if message else "")


def _reply(call, sandbox, deadline):
    reply = sandbox.call(request_of(call), deadline)
    if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
        raise Ended("a reply that is not the grader's format")
    return reply


def _failure(check, call, reply):
    """The CheckResult of a call that raised (reply["ok"] is False)."""
    error = reply.get("error")
    if isinstance(error, dict) and error.get("not_implemented") is True:
        return CheckResult(check, "not implemented yet",
                           describe_error(error, False), missing=True,
                           wholly=True)
    if "unreadable" in reply:
        return CheckResult(check, "error", "the value returned could not "
                                           "be sent back as data",
                           wholly=True)
    name = call.function or call.method
    if isinstance(error, dict) and error.get("where") is None \
            and error.get("type") == "AttributeError":
        # raised before any line of mlp.py ran: no such method
        where = name if call.function else f"TwoLayerMLP.{name}"
        return CheckResult(check, "error", (
            f"raised AttributeError when the grader called {name}: is "
            f"{where} defined?"), missing=True, wholly=True)
    return CheckResult(check, "error", "raised " + describe_error(
        error, check.public and SHOW_PUBLIC_MESSAGES))


def _raised(reply):
    """What a check that catches errors receives: words from closed lists
    only (see describe_error)."""
    error = reply.get("error") if isinstance(reply.get("error"), dict) \
        else {}
    kind, function = hidden_words(error)
    return Raised(kind, error.get("not_implemented") is True, function)


class ImportTimedOut(Exception):
    """Importing mlp.py in a check's process ran over its time limit."""


class Run:
    """One check's run: its fresh processes of the student's code (one at
    a time, in the submission's sandbox) and its calls."""

    def __init__(self, submission, check, ctx, deadline):
        self.submission, self.check, self.ctx = submission, check, ctx
        self.deadline = deadline

    def fresh(self, stand_ins):
        """End the check's process, if any, and start a fresh one with the
        reference set in for the parts named; None, or why it could not."""
        self.submission.end_check(self.deadline)
        sandbox = self.submission.sandbox()
        if sandbox is None:
            return self.submission.failure
        self.submission.open = True
        # Importing has a time limit of its own, not counted in the check's.
        started = time.monotonic()
        limit = started + self.submission.limits.startup_seconds
        try:
            hello = sandbox.begin(
                reference.stand_ins(stand_ins, solved_path()),
                min(limit, self.submission.budget_end))
            problem = imported(hello, public=self.submission.begun == 0)
            self.submission.begun += 1
            self.submission.import_timeouts = 0
        except TimedOut:
            self.submission.kill()
            self.submission.import_timeouts += 1
            if self.submission.import_timeouts == IMPORT_TRIES:
                # The same import each time: it will not finish the next.
                self.submission.failure = (
                    f"importing mlp.py did not finish within "
                    f"{self.submission.limits.startup_seconds:g} s, "
                    f"{IMPORT_TRIES} times in a row: no more checks were run")
            raise ImportTimedOut(self.submission.budget_end < limit) from None
        except Ended as ended:
            if self.submission.server_ended() and not self.submission.direct:
                # It killed its fork server: on without one (see Submission)
                self.submission.direct = True
                self.submission.kill()
                return self.fresh(stand_ins)
            problem = f"the process ended while importing mlp.py ({ended})"
        if problem:         # the same for every check: no more are run
            self.submission.failure = problem
            self.submission.kill()
        self.deadline += time.monotonic() - started
        return problem

    def result(self):
        """The check's CheckResult."""
        generator = self.check.run(self.ctx)
        try:
            with np.errstate(all="ignore"):   # a student's huge values
                return self._run(generator)
        finally:
            generator.close()

    def _run(self, generator):
        check, answer, started = self.check, None, False
        try:
            while True:
                step = generator.send(answer)
                answer = None
                if isinstance(step, questions.Fresh) or not started:
                    problem = self.fresh(getattr(step, "stand_ins", ()))
                    started = True
                    if problem:
                        return CheckResult(check, "not run", problem,
                                           wholly=True)
                    if isinstance(step, questions.Fresh):
                        continue
                call = step
                reply = _reply(call, self.submission.sandbox_now, self.deadline)
                if not reply["ok"] and not call.catch:
                    result = _failure(check, call, reply)
                    if check.public:
                        error = reply.get("error")
                        where = error.get("where") if isinstance(
                            error, dict) else None
                        result.question = questions.blame(
                            self.ctx, where.get("function", "")
                            if isinstance(where, dict) else "")
                    return result
                if not reply["ok"]:
                    answer = _raised(reply)
                else:
                    result = decode(reply.get("result"))
                    answer = (result, *(decode(reply.get(name))
                                        for name in call.want)) \
                        if call.want else result
        except StopIteration as stop:
            return CheckResult(check, "passed", clean(stop.value or "", 600))
        except Wrong as wrong:
            return CheckResult(check, "failed", clean(str(wrong), 900),
                               missing=wrong.missing, wholly=wrong.wholly,
                               known=bool(wrong.mistakes),
                               question=getattr(wrong, "question", None),
                               mistakes=tuple(sorted(wrong.mistakes or ())))
        except ImportTimedOut as timed_out:
            limits = self.submission.limits
            return CheckResult(check, "timed out", (
                f"the submission's time budget of {limits.budget_seconds:g} "
                f"s ran out while importing mlp.py" if timed_out.args[0] else
                f"importing mlp.py did not finish within "
                f"{limits.startup_seconds:g} s"), wholly=True)
        except TimedOut:
            self.submission.kill()
            return CheckResult(check, "timed out", self.submission.timeout)
        except Ended as ended:
            self.submission.server_died = self.submission.server_ended()
            self.submission.kill()
            return CheckResult(check, "error", f"the process running mlp.py "
                               f"stopped during this check: {ended}")
        except Exception as error:      # the grader's own fault: say so
            traceback.print_exc(file=sys.stderr)
            self.submission.kill()
            return CheckResult(check, "error", f"the grader could not judge "
                               f"this answer ({type(error).__name__}); tell "
                               f"your instructor")


def imported(hello, public):
    """None if the check process imported mlp.py, else why not (in full
    only when ``public``: no check has run yet, see describe_error)."""
    if not isinstance(hello, dict) or not isinstance(hello.get("imported"),
                                                     bool):
        return "the check process's first reply could not be read"
    if not hello["imported"] and "numpy_error" in hello:
        # NumPy imported in the fork server before grading began, so this
        # is the submission's doing (it can forge this reply).
        return "NumPy could not be imported next to this mlp.py"
    if not hello["imported"]:
        error = hello.get("error")
        hint = (" (mlp.py may import NumPy, matplotlib, the Python standard "
                "library and the given files; use other packages in the "
                "notebook only)" if isinstance(error, dict) and error.get(
                    "type") in ("ModuleNotFoundError", "ImportError") else "")
        return ("mlp.py could not be imported: "
                + describe_error(error, public) + hint)
    return None


def start(sandbox, deadline):
    """Start the sandbox's fork server: None once it is ready, else why
    not."""
    started = time.monotonic()
    try:
        hello = sandbox.start(deadline)
    except TimedOut:
        return f"the sandbox did not start within {deadline - started:.0f} s"
    except Ended as ended:
        return f"the sandbox ended as it started ({ended})"
    if not isinstance(hello, dict) or not isinstance(hello.get("ready"),
                                                     bool):
        return "the sandbox's first reply could not be read"
    if not hello["ready"]:
        # NumPy imported in the check of the sandbox before grading began.
        return "NumPy could not be imported in the sandbox"
    return None


#: Imports of mlp.py over the time limit in a row after which no more
#: checks are run (one may be a busy machine's fault; two are the code's).
IMPORT_TRIES = 2


class Submission:
    """One submission's sandbox: started when a check needs it, killed
    when a check times out or its process misbehaves, started again for
    the next check."""

    def __init__(self, folder, limits, slot):
        self.folder, self.limits, self.slot = folder, limits, slot
        self.sandbox_now, self.open = None, False
        self.failure, self.timeout = None, ""
        # A submission that kills its fork server (it may: they share a
        # user) is graded on without one, a sandbox per check process.
        self.direct = self.server_died = False
        self.budget_end = math.inf
        self.begun = 0              # check processes started
        self.import_timeouts = 0    # imports over the time limit in a row

    def server_ended(self):
        """Whether the fork server itself has ended (not only a check's
        process)."""
        sandbox = self.sandbox_now
        return bool(sandbox is not None and not sandbox.direct
                    and sandbox.process is not None
                    and sandbox.process.poll() is not None)

    def sandbox(self):
        """The running sandbox (started if need be), or None if it cannot
        start (then self.failure says why)."""
        if self.direct and self.sandbox_now is not None:
            self.kill()             # one sandbox per check process
        if self.sandbox_now is None and self.failure is None:
            sandbox = Sandbox(self.folder, self.limits, self.slot,
                              self.direct)
            self.failure = start(sandbox, time.monotonic()
                                 + self.limits.startup_seconds)
            if self.failure:
                sandbox.stop()
            else:
                self.sandbox_now = sandbox
        return self.sandbox_now

    def end_check(self, deadline):
        """End the open check process (the sandbox is killed if the fork
        server does not answer in time)."""
        if self.open and self.sandbox_now is not None:
            self.open = False
            if self.direct:
                self.kill()
                return
            try:
                self.sandbox_now.end(min(deadline, time.monotonic() + 5))
            except (TimedOut, Ended):
                self.kill()
        self.open = False

    def kill(self):
        if self.sandbox_now is not None:
            self.sandbox_now.stop()
        self.sandbox_now, self.open = None, False

    def close(self):
        self.kill()


def run_checks(folder, limits, slot, source=b"", secret_bytes=None):
    """Every check of questions.CHECKS against the mlp.py in folder, in
    order, each in a fresh process; returns (results, note or None). The
    problems are drawn from the secret and ``source``, the submitted
    mlp.py."""
    secret_bytes = secret() if secret_bytes is None else secret_bytes
    results, verdicts = [], {}
    submission = Submission(folder, limits, slot)
    budget_end = submission.budget_end = \
        time.monotonic() + limits.budget_seconds
    try:
        for check in questions.CHECKS:
            if submission.failure:
                results.append(CheckResult(check, "not run",
                                           "mlp.py could not be graded",
                                           wholly=True))
                continue
            if time.monotonic() >= budget_end:
                results.append(CheckResult(
                    check, "not run", f"the submission's time budget of "
                    f"{limits.budget_seconds:g} s was spent", wholly=True))
                continue
            seconds = limits.check_seconds * check.seconds
            deadline = time.monotonic() + seconds
            submission.timeout = f"over the limit of {seconds:g} s for this check"
            if budget_end < deadline:
                deadline, submission.timeout = budget_end, (
                    f"the submission's time budget of "
                    f"{limits.budget_seconds:g} s ran out during this check")
            ctx = questions.Context(
                np.random.RandomState(questions.seed_of(
                    secret_bytes, source, check.name)),
                verdicts, check.judges)
            result = Run(submission, check, ctx, deadline).result()
            if submission.server_died and not submission.direct:
                # The submission killed its fork server: this check again
                # (its problem is the same: a new generator from the same
                # seed), and every later one, each in a sandbox of its own.
                submission.direct = True
                ctx = questions.Context(
                    np.random.RandomState(questions.seed_of(
                        secret_bytes, source, check.name)),
                    verdicts, check.judges)
                result = Run(submission, check, ctx, deadline).result()
            results.append(result)
            submission.end_check(deadline)
            if not check.public:
                verdicts[check.name] = questions.Verdict(
                    check.question, check.points, result.passed,
                    frozenset(ctx.judged), result.missing, result.wholly,
                    result.known)
    finally:
        submission.close()
    return results, submission.failure


def _holds(folder, most=8):
    """What a folder without mlp.py holds, so that a misnamed file shows:
    " (it holds: mlp (1).py, pset3.ipynb)", or "" if nothing."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return ""
    if not names:
        return ""
    shown = ", ".join(clean(name, 60) + ("/" if (folder / name).is_dir()
                                         else "") for name in names[:most])
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return f" (it holds: {shown}{more})"


def grade_submission(submission, limits=Limits(), slot=0, student=None):
    """The Report of one student's folder (call require_sandbox first)."""
    started = time.monotonic()
    submission = Path(submission)
    report = Report(student or submission.name)
    linked = submission.is_symlink()
    # mlp.py and pset3.ipynb, also in a subfolder or renamed ("mlp (1).py")
    files = intake.SubmissionFiles() if linked else \
        intake.find_submission_files(submission)
    report.notes += [clean(note, 300) for note in files.notes]
    source, refused = (None, None) if linked else \
        read_regular_file(files.mlp or submission / "mlp.py",
                          MAX_SOURCE_BYTES)
    if source is None:
        report.notes.append(
            "the submission's folder is a symbolic link: refused (copy the "
            "folder itself into the class)" if linked
            else "no mlp.py in the submission" + _holds(submission)
            if refused == "missing"
            else f"mlp.py {refused}")
        report.results = [CheckResult(c, "not run", "no mlp.py was graded")
                          for c in questions.CHECKS]
        report.graded = False
    else:
        folder = private_folder(source)
        report.sandbox = limits.describe()
        try:
            report.results, failure = run_checks(folder, limits, slot,
                                                 source)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if failure:
            report.notes.append(clean(failure, 400))
    if linked:
        report.manual = [(question, "submission refused")
                         for question, _, _, _ in questions.MANUAL]
    else:
        report.answers = notebook_answers(submission, files.notebook)
        report.manual = manual_notes(*report.answers)
    report.seconds = time.monotonic() - started
    return report


# ---------------------------------------------------------------------------
# A whole class
# ---------------------------------------------------------------------------

def default_jobs(limits=Limits()):
    """One job per CPU, but no more than the memory allows if every job
    used all its processes' address space."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    worst = limits.memory_bytes * limits.processes
    return max(1, min(os.cpu_count() or 1, memory // worst))


#: What starts a formula in a spreadsheet's cell.
CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(text):
    """A cell that a spreadsheet will not read as a formula."""
    text = str(text)
    return "'" + text if text[:1] in CSV_FORMULA else text


def grade_class(class_dir, out_dir, jobs=None, limits=Limits(),
                progress=print, hide_ids=False):
    """Grade every subfolder of class_dir (one student each, named by the
    student's id); write out_dir/grades.csv and out_dir/feedback/<file>,
    <file> being student_ids.feedback_file_name(id) (<id>.txt for an
    ordinary id), and what class_report writes: mistakes.csv,
    summary.html and answers/ (with ``hide_ids``, codes in place of the
    ids). Returns the reports, sorted by id."""
    import class_report
    from student_ids import feedback_file_name, readable
    class_dir, out_dir = Path(class_dir), Path(out_dir)
    if not class_dir.is_dir():
        raise GraderError(f"{class_dir} is not a folder of submissions")
    given_folder()
    limits = require_sandbox(limits)
    students = sorted(p for p in class_dir.iterdir()
                      if not p.name.startswith(".")
                      and (p.is_dir() or p.is_symlink())
                      and not inside(p, out_dir))
    feedback = out_dir / "feedback"
    feedback.mkdir(parents=True, exist_ok=True)
    manual_path, new_manual = out_dir / MANUAL_CSV, ""
    codes_path = out_dir / class_report.CODES_CSV
    codes = class_report.anonymous_codes(
        codes_path, [readable(p.name) for p in students]) \
        if hide_ids or codes_path.exists() else {}
    if manual_path.exists():
        hand = class_report.by_student(read_manual(manual_path), codes,
                                       manual_path)
    else:
        hand = {}
        # (with codes, in the codes' order: the ids' order would tell them)
        write_manual_template(manual_path, sorted(
            codes[readable(p.name)] for p in students) if hide_ids else [
            readable(p.name) for p in students])
        new_manual = (" (new: fill in the points graded by hand; every "
                      "later run keeps them and counts them)")
    if limits.sandbox and limits.container:
        # Every sandbox can read what every user may: not the classmates'
        # submissions, nor their results.
        for folder in (class_dir, out_dir):
            os.chmod(folder, os.stat(folder).st_mode & 0o7700)
        progress(f"{limits.caveat()}; {class_dir} and {out_dir} are now "
                 f"readable by their owner only")
    jobs = max(1, min(jobs or default_jobs(limits), len(students)))
    slots = queue.Queue()
    for slot in range(jobs):
        slots.put(slot)

    def work(path):
        slot = slots.get()
        try:
            return grade_submission(path, limits, slot)
        except GraderError:
            raise
        except Exception as error:       # the grader's fault, not theirs
            traceback.print_exc(file=sys.stderr)
            report = Report(path.name, results=[
                CheckResult(c, "not run", "the grader failed")
                for c in questions.CHECKS])
            report.notes.append(f"the grader failed on this submission "
                                f"({type(error).__name__}); grade it again")
            if not path.is_symlink():      # its answers, for the pages
                report.answers = notebook_answers(
                    path, intake.find_submission_files(path).notebook)
            return report
        finally:
            slots.put(slot)

    reports, started = [], time.monotonic()

    def finish(report):
        # The id is a folder's name: any bytes, up to 255 of them. Its
        # feedback goes to a safe name of its own (grades.csv names it).
        reports.append(report)
        report.hand = hand.get(readable(report.student), {})
        name = feedback_file_name(report.student)
        try:
            (feedback / name).write_text(
                "\n".join(report.header() + report.lines(verbose=True))
                + "\n",
                encoding="utf-8", errors="backslashreplace")
        except OSError as error:        # costs this feedback file only
            report.notes.append(f"the feedback file {name} could not be "
                                f"written: {clean(error, 200)}")
        earned, possible = report.total()
        progress(f"[{len(reports)}/{len(students)}] "
                 f"{clean(readable(report.student), 80)}: {earned} / "
                 f"{possible} ({report.seconds:.1f} s)")

    pool = ThreadPoolExecutor(max_workers=jobs)
    futures = [pool.submit(work, path) for path in students]
    try:
        for future in as_completed(futures):
            finish(future.result())
    except KeyboardInterrupt:
        # Ctrl-C: start no one else, finish whoever is being graded, write
        # what there is, then stop.
        pool.shutdown(wait=True, cancel_futures=True)
        graded = {id(r) for r in reports}
        for future in futures:
            if future.done() and not future.cancelled() \
                    and id(future.result()) not in graded:
                finish(future.result())
        reports.sort(key=lambda r: r.student)
        write_grades(out_dir / "grades.csv", reports)
        progress(f"interrupted: {len(reports)} of {len(students)} "
                 f"submissions graded, in {out_dir / 'grades.csv'}")
        raise
    pool.shutdown()
    reports.sort(key=lambda r: r.student)
    write_grades(out_dir / "grades.csv", reports)
    class_report.write_mistakes(out_dir / "mistakes.csv", reports)
    class_report.write_summary(out_dir / "summary.html", reports)
    class_report.write_answers(
        out_dir / "answers",
        {readable(r.student): r.answers for r in reports if r.answers},
        class_report.statements(), codes if hide_ids else None)
    progress(f"graded {len(reports)} submissions in "
             f"{time.monotonic() - started:.1f} s with {jobs} jobs: "
             f"{out_dir / 'grades.csv'}, {feedback}/, {manual_path}"
             f"{new_manual}; the class: {out_dir / 'summary.html'}, "
             f"mistakes.csv, answers/")
    unknown = sorted(set(hand) - {readable(r.student) for r in reports})
    if unknown:
        progress(f"note: {manual_path} grades students with no submission "
                 f"here: {', '.join(clean(u, 40) for u in unknown[:10])}")
    return reports


#: The hand grading's file in RESULTS_DIR: the teaching assistants' to
#: fill in, never overwritten.
MANUAL_CSV = "manual.csv"
MANUAL_COLUMNS = ["student", "question", "points", "comment"]


def write_manual_template(path, students):
    """manual.csv with one row per student and hand-graded question, the
    points and comments empty. Made only if there is none: it is the
    teaching assistants' work."""
    try:
        f = open(path, "x", newline="", encoding="utf-8")
    except FileExistsError:
        return
    with f:
        writer = csv.writer(f)
        writer.writerow(MANUAL_COLUMNS)
        for student in students:
            for question, _, _, _ in questions.MANUAL:
                writer.writerow([_csv_cell(student), question, "", ""])


def read_manual(path):
    """{student: {question: (points, comment)}} from manual.csv, the rows
    with points only; GraderError naming the line and what to fix for a
    row that cannot be right (a question that is not graded by hand,
    points out of its range, a question graded twice)."""
    maxima = {question: points for question, _, points, _ in questions.MANUAL}
    hand = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = set(MANUAL_COLUMNS[:3]) - set(reader.fieldnames or ())
            if missing:
                raise GraderError(
                    f"{path}: no column {', '.join(sorted(missing))}; its "
                    f"first line must be {','.join(MANUAL_COLUMNS)}")
            for row in reader:
                line = reader.line_num
                student = (row["student"] or "").strip()
                if student[:1] == "'" and student[1:2] in CSV_FORMULA:
                    student = student[1:]           # as _csv_cell wrote it
                question = (row["question"] or "").strip()
                text = (row["points"] or "").strip()
                if not text:
                    continue
                if question not in maxima:
                    raise GraderError(
                        f"{path}, line {line}: {question!r} is not a "
                        f"question graded by hand; use one of "
                        f"{', '.join(maxima)}")
                try:
                    points = float(text.replace(",", "."))
                except ValueError:
                    points = math.nan
                if not 0 <= points <= maxima[question]:
                    raise GraderError(
                        f"{path}, line {line}: the points of {question} "
                        f"must be a number from 0 to {maxima[question]}, "
                        f"not {text!r}")
                if question in hand.setdefault(student, {}):
                    raise GraderError(
                        f"{path}, line {line}: {question} of {student!r} "
                        f"is graded twice; keep one row")
                hand[student][question] = (points, (row.get("comment") or
                                                    "").strip())
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GraderError(f"{path} cannot be read: {error}") from None
    return hand


def write_grades(path, reports):
    """grades.csv, in UTF-8: one row per student (the id as
    student_ids.readable shows it), one column per question (the automatic
    points), the total and its maximum (the automatic points and those
    graded by hand so far: out of 100 once all is graded), a column per
    question graded by hand (from manual.csv, empty until graded), the
    notes and last the name of the student's file in feedback/."""
    from student_ids import feedback_file_name, readable
    auto = list(questions.QUESTIONS.items())
    with open(path, "w", newline="", encoding="utf-8",
              errors="backslashreplace") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *(f"{q} [{points}]"
                                      for q, (_, points) in auto),
                         "total", "maximum",
                         *(f"{q} [{points}, manual]"
                           for q, _, points, _ in questions.MANUAL),
                         "notes", "feedback"])
        for report in reports:
            earned = {row[0]: row[2] for row in report.questions()}
            total, possible, _ = report.grand_total()
            writer.writerow([_csv_cell(readable(report.student)),
                             *(earned[q] for q, _ in auto), f"{total:g}",
                             possible,
                             *(f"{report.hand[q][0]:g}" if q in report.hand
                               else "" for q, _, _, _ in questions.MANUAL),
                             _csv_cell("; ".join(report.notes)),
                             feedback_file_name(report.student)])
