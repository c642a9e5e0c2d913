"""The grader against hostile submissions (a red team, in the sandbox).

A class of attack submissions (``tests/attacks/``, one per attack) is
graded with one ``grade-class`` run of the built grader, two jobs at a
time, beside a correct submission. Each attack must score 0, or, when it is
built on a correct solution, fail exactly the checks it broke. Afterwards
the grader's files, the interpreter's site-packages and the other
students' files are unchanged, no process of the sandboxes is left, the
network server the test ran saw nothing, and a correct submission graded
after all of them gets full points.

Every attack is bounded (see tests/attacks/README.md); the files they aim
at are temporary copies, so a failure of the sandbox could not harm the
repository.
"""
import csv
import hashlib
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

import questions
import sandbox as sandbox_module

ROOT = Path(__file__).resolve().parent.parent
ATTACKS_DIR = Path(__file__).resolve().parent / "attacks"
ALL = frozenset(c.name for c in questions.CHECKS)
AUTOMATIC = sum(points for _, points in questions.QUESTIONS.values())
BY_HAND = sum(points for _, _, points, _ in questions.MANUAL)
#: The checks whose calls reach the student's predict: the predict check,
#: and the public toy training, whose train scores every epoch with it.
#: (On the digits the reference's predict stands in: it only reports the
#: accuracy of each epoch there.)
PREDICT = frozenset({"predict_labels", "toy_training"})
DIGITS = frozenset({"sigmoid_learns_digits", "relu_learns_digits"})
NONE = frozenset()
#: The budget leaves room for a correct submission that imports matplotlib
#: in every check process (uses_utils_and_matplotlib: about 17 s of
#: grading on a quiet machine, 26 s beside another class's grading).
TIME_LIMIT, BUDGET, JOBS = 2, 48, 2
#: Runs a command as Docker's default seccomp profile would (bubblewrap
#: cannot create its namespaces under it).
DOCKERLIKE = Path(__file__).resolve().parent / "dockerlike.py"


@dataclass
class Attack:
    base: str                   # "stub" (unsolved handout) or "solution"
    fails: frozenset            # exactly the checks that must fail
    feedback: tuple = ()        # words its feedback must hold (or one
    #                             of a tuple of words)
    setup: object = None        # makes the folder, in place of the file
    source: str = None          # the attack file, if not named as the attack
    role: str = ""              # ROLE, for a file that plays two parts


def _symlink(folder):
    (folder / "mlp.py").unlink()
    (folder / "mlp.py").symlink_to(ROOT / "mlp.py")


def _oversized(folder):
    with open(folder / "mlp.py", "a") as f:
        f.write("# padding\n" * 120_000)            # 1.2 MB


def _fifo(folder):
    (folder / "mlp.py").unlink()
    os.mkfifo(folder / "mlp.py")


def _no_mlp(folder):
    (folder / "mlp.py").unlink()


def _broken_notebook(folder):
    (folder / "pset3.ipynb").write_text('{"cells": [ not json')


def _own_given_files(folder):
    """The student's own copies of the given files, and a numpy.py, which
    would end the process or forge results if they were ever imported."""
    for name in ("_checks.py", "utils.py", "_mnist_files.py", "numpy.py",
                 "sandbox_entry.py"):
        (folder / name).write_text("import os\nos._exit(0)\n")


def _no_class(folder):
    (folder / "mlp.py").write_text("import numpy as np\n\nW1 = None\n")


def _notebook_bomb(folder):
    (folder / "pset3.ipynb").write_text(
        '{"cells": [' + "{}," * 200_000 + "{}]}")


def _shadow_numpy(folder):
    (folder / "numpy.py").write_text(
        "import sys\nsys.path.pop(0)\ndel sys.modules['numpy']\n"
        "import numpy\nnumpy.max = lambda *a, **k: 0\n")


ATTACKS = {
    "forged_output_at_import": Attack(
        "stub", ALL, ("the process ended while importing mlp.py",)),
    "forged_output_at_exit": Attack("stub", ALL),
    "forged_replies": Attack("stub", ALL),
    "patched_json": Attack("stub", ALL),
    "patched_builtins": Attack("stub", ALL),
    "patched_numpy": Attack("stub", ALL),
    "gc_oracle": Attack("stub", ALL, ("oracle found: []",)),
    "stack_oracle": Attack("stub", ALL, ("frame locals: [",)),
    "read_repository": Attack("stub", ALL, ("readable: []",)),
    "tamper_with_files": Attack("stub", ALL, ("written: []",)),
    "daemon": Attack("stub", ALL),
    "memory_flood": Attack("solution", PREDICT),      # MemoryError or time
    "process_flood": Attack("solution", NONE),
    "endless_loop": Attack("solution", PREDICT, (
        f"timed out: over the limit of {TIME_LIMIT} s",)),
    "endless_import": Attack("stub", ALL,
                             ("importing mlp.py did not finish",)),
    "output_flood": Attack("solution", NONE),
    "grandchild_holds_output": Attack("solution", NONE),
    "fake_report_lines": Attack("stub", ALL),
    "crash_in_a_call": Attack("stub", ALL, ("killed by signal",)),
    "exit_in_a_call": Attack("solution", PREDICT,
                             ("exit code 3",)),
    "close_pipes_and_stay": Attack(
        "stub", ALL, (f"hidden forward_pass: timed out: over the limit of "
                      f"{TIME_LIMIT} s",)),
    "raise_exit_and_interrupt": Attack(
        "stub", ALL, ("raised SystemExit", "raised KeyboardInterrupt")),
    "oversized_reply": Attack("stub", ALL, ("array too large to send",)),
    "network": Attack("stub", ALL, ("network: no connection",)),
    "kill_everything": Attack("solution", NONE),
    "syntax_error": Attack("stub", ALL,
                           ("could not be imported: SyntaxError",)),
    "symlink_to_solution": Attack("stub", ALL, ("a symbolic link: refused",),
                                  _symlink),
    "oversized_file": Attack("stub", ALL, ("larger than 1024 KiB: refused",),
                             _oversized),
    "fifo": Attack("stub", ALL, ("not a regular file: refused",), _fifo),
    "no_mlp": Attack("stub", ALL, ("no mlp.py in the submission",), _no_mlp),
    "broken_notebook": Attack("solution", NONE, ("notebook unreadable",),
                              _broken_notebook),
    "own_given_files": Attack("solution", NONE, (), _own_given_files),
    "shadow_numpy": Attack("stub", ALL, (), _shadow_numpy),
    "forged_numpy_error": Attack(
        "stub", ALL, ("NumPy could not be imported next to this mlp.py",)),
    "key_ring_donor": Attack("solution", NONE, source="key_ring",
                             role="donor"),
    "key_ring_leech": Attack(
        "stub", ALL, ("key ring: found 0 keys, request_key errno 38",),
        source="key_ring", role="leech"),
    # /proc/keys: unreadable under bubblewrap; in container mode it lists
    # the keys of the sandbox's own uid, which may make none.
    "kernel_calls": Attack("stub", ALL, (tuple(
        f"('/proc/keys', '{keys}'), ('add_key', 38), "
        "('clone', 1), ('fadvise64', 38), ('keyctl', 38), "
        "('prlimit64 of the parent', 1), ('unshare', 1)"
        for keys in ("unreadable (errno 13)", "0 lines")),)),
    "closed_form_training": Attack("stub", ALL, (
        "is not trained on the digits: your",)),
    "state_across_checks": Attack("solution", NONE),
    "leave_files_behind": Attack("solution", NONE),
    "forged_minibatch_record": Attack("solution",
                                      frozenset({"random_minibatches"})),
    "hidden_leak_names": Attack("stub", ALL, (
        "hidden forward_pass: error: raised an exception in forward\n",
        "hidden predict_labels: not implemented yet: an exception in "
        "predict\n")),
    "uses_utils_and_matplotlib": Attack("solution", NONE),
    # Its parameters stay as they were; its hundreds of round trips to the
    # grader may outlast the check's time limit on a busy machine.
    "train_oracle": Attack("solution", DIGITS | {"toy_training"}, ((
        "no better than before training", "over the limit of"),)),
    "stand_in_oracle": Attack("stub", ALL),
    # relu_gradients passes: the reference's relu_derivative stands in for
    # the one relu_derivative_function charged, and the backward is right.
    "no_relu_at_all": Attack("solution", frozenset({
        "relu_function", "relu_derivative_function", "relu_scores",
        "relu_learns_digits"}), (
            "your relu is not written, or too far from right",)),
    "reads_the_digits": Attack("solution", NONE),
    "tailored_to_the_digits": Attack("solution", DIGITS),
    "huge_integer_loss": Attack("stub", ALL,
                                ("got an integer too large for a float",)),
    "notebook_bomb": Attack("solution", NONE, ("far more nested parts",),
                            _notebook_bomb),
    "no_class": Attack("stub", ALL, ("could not be imported: AttributeError",
                                     "has no attribute 'TwoLayerMLP'"),
                       _no_class),
    "missing_method": Attack("solution", PREDICT, (
        "hidden predict_labels: error: raised AttributeError when the grader "
        "called predict: is TwoLayerMLP.predict defined?",)),
}


def _source(name, attack):
    return ATTACKS_DIR / f"{attack.source or name}.py"


def test_every_attack_file_is_in_the_table():
    files = {p.stem for p in ATTACKS_DIR.glob("*.py")}
    used = {attack.source or name for name, attack in ATTACKS.items()
            if attack.setup is None or _source(name, attack).is_file()}
    assert files == used, files ^ used


def _digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tree_digest(folder):
    return {str(p.relative_to(folder)): _digest(p)
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _python_folders(python):
    """The site-packages folders of the Python ``python`` and its NumPy's."""
    done = subprocess.run(
        [python, "-c", "import sys, numpy; print(numpy.__path__[0]); "
         "print(*[p for p in sys.path if p.endswith('-packages')], "
         "sep='\\n')"], capture_output=True, text=True, check=True)
    numpy_dir, *site = done.stdout.split("\n")
    return [Path(p) for p in site if p and Path(p).is_dir()], Path(numpy_dir)


def _site_state(folders):
    """The names in each site-packages folder, and NumPy's own files."""
    site, numpy_dir = folders
    return ({str(p): sorted(os.listdir(p)) for p in site},
            _tree_digest(numpy_dir))


@dataclass
class Mode:
    """How the class is graded: the sandbox, the grader's Python, and what
    the grader's command runs under."""
    sandbox: str                # what the reports say ran
    python: str
    prefix: tuple = ()


@pytest.fixture(scope="module")
def mode(sandbox):
    """Bubblewrap, which grade chooses where it works (see
    test_grader_attacks_container.py for container mode)."""
    return Mode("bubblewrap", sys.executable)


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it gets."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections, self.running = 0, True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
                self.connections += 1
                connection.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


def _peak_rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@pytest.fixture(scope="module")
def attacked(mode, tmp_path_factory):
    """Build the handout, make the class of attacks, grade it once."""
    container = mode.sandbox != "bubblewrap"
    if container:
        # Container mode hides what other users may not read; here, every
        # folder on the way may be read, as a careless machine would have
        # it, and the grader must protect its own and the class's files.
        tmp = Path(tempfile.mkdtemp(prefix="pset3-attacks-"))
        os.chmod(tmp, 0o755)
    else:
        tmp = tmp_path_factory.mktemp("attacks")
    subprocess.run([sys.executable, str(ROOT / "instructor" / "handout.py"),
                    "build", str(tmp / "built")], check=True,
                   capture_output=True)
    student, grader = tmp / "built" / "student", tmp / "built" / "grader"
    class_dir, results = tmp / "class", tmp / "results"
    victim = class_dir / "victim_correct" / "mlp.py"
    listener = Listener()
    repo = ROOT
    if container:
        # A container holds nothing secret but the grader: the instructor's
        # checkout is elsewhere, or private, as this copy.
        repo = tmp / "repo"
        shutil.copytree(ROOT / "instructor", repo / "instructor")
        shutil.copy(ROOT / "mlp.py", repo / "mlp.py")
        os.chmod(repo, 0o700)
    paths = (f"REPO, CLASS_DIR, RESULTS_DIR, GRADER_DIR, VICTIM, PORT = "
             f"{str(repo)!r}, {str(class_dir)!r}, {str(results)!r}, "
             f"{str(grader)!r}, {str(victim)!r}, {listener.port}\n"
             f"CONTAINER = {container}\n")

    def write(folder, name, attack):
        shutil.copytree(student, folder)
        code = _source(name, attack).read_text() \
            if _source(name, attack).is_file() else ""
        (folder / "mlp.py").write_text(f"{bases[attack.base]}\n{paths}"
                                       f"ROLE = {attack.role!r}\n{code}")
        if attack.setup:
            attack.setup(folder)
    bases = {"stub": (student / "mlp.py").read_text(),
             "solution": (ROOT / "mlp.py").read_text()}
    for name, attack in {**ATTACKS, "victim_correct": Attack("solution",
                                                             NONE)}.items():
        write(class_dir / name, name, attack)
    # Graded once more after the class, so that it surely comes after the
    # donor, and a correct submission, after every attack.
    write(tmp / "after" / "key_ring_leech", "key_ring_leech",
          ATTACKS["key_ring_leech"])
    write(tmp / "after" / "correct", "correct", Attack("solution", NONE))
    folders = _python_folders(mode.python)
    before = {"grader": _tree_digest(grader), "site": _site_state(folders),
              "victim": _digest(victim), "instructor":
              _tree_digest(ROOT / "instructor")}

    # The attacks report what they found in the public check's exception
    # messages, which only this setting shows.
    process = subprocess.Popen(
        [*mode.prefix, mode.python, str(grader / "handout.py"),
         "grade-class", str(class_dir), "--out", str(results), "--jobs",
         str(JOBS), "--time-limit", str(TIME_LIMIT), "--budget", str(BUDGET)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PSET3_SHOW_PUBLIC_MESSAGES": "1"})
    peak = 0
    while process.poll() is None:
        peak = max(peak, _peak_rss_kib(process.pid))
        time.sleep(0.05)
    stdout, stderr = process.communicate()
    left_at_once = sandbox_module.leftover_processes(process.pid)
    time.sleep(4)               # longer than the daemon's 3 s
    listener.close()
    with open("/proc/keys") as f:
        keys = [line for line in f if "pset3_attack" in line]
    yield {"returncode": process.returncode, "stdout": stdout, "keys": keys,
           "stderr": stderr, "results": results, "class_dir": class_dir,
           "grader": grader, "student": student, "before": before,
           "victim": victim,
           "left": left_at_once + sandbox_module.leftover_processes(
               process.pid),
           "connections": listener.connections, "peak_kib": peak, "tmp": tmp,
           "folders": folders, "mode": mode}
    for folder in [*folders[0], folders[1]]:
        (folder / "zz_pset3_attack.pth").unlink(missing_ok=True)   # if any
    if container:
        shutil.rmtree(tmp)


def feedback_of(attacked, name):
    return (attacked["results"] / "feedback" / f"{name}.txt").read_text()


def failed_checks(text):
    """The names of the checks a feedback file lists as not passed."""
    return {m.group(1) for m in re.finditer(
        r"^  (?:public|hidden) (\w+): (?!passed)", text, re.M)}


def test_the_class_is_graded_in_one_run(attacked):
    assert attacked["returncode"] == 0, attacked["stderr"][-2000:]
    lines = attacked["stdout"].strip().splitlines()
    count = len(ATTACKS) + 1
    if attacked["mode"].sandbox != "bubblewrap":
        assert lines[0].startswith("container mode (bubblewrap cannot run "
                                   "here): "), lines[0]
        lines = lines[1:]
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == count
    for line in progress:
        assert re.fullmatch(
            rf"\[\d+/{count}\] \w+: \d+ / {AUTOMATIC} \(\d+\.\d s\)",
            line), line
    assert re.fullmatch(rf"graded {count} submissions in \d+\.\d s with "
                        rf"{JOBS} jobs: .+", lines[-1]), lines[-1]
    assert len(lines) == count + 1, lines


@pytest.mark.parametrize("name", sorted(ATTACKS) + ["victim_correct"])
def test_each_attack_loses_exactly_what_it_broke(attacked, name):
    attack = ATTACKS.get(name, Attack("solution", NONE))
    text = feedback_of(attacked, name)
    assert failed_checks(text) == attack.fails, text
    for words in attack.feedback:
        assert any(w in text for w in ((words,) if isinstance(words, str)
                                       else words)), (words, text)
    with open(attacked["results"] / "grades.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["student"] == name)
    expected = sum(c.points for c in questions.CHECKS
                   if c.name not in attack.fails)
    assert int(row["total"]) == expected and int(row["maximum"]) == AUTOMATIC


def test_reports_are_made_only_of_the_graders_lines(attacked):
    """Whatever a submission printed or raised, each feedback file has one
    total line, last, and every line is one the grader writes."""
    auto = "|".join(re.escape(f"{q} {what}")
                    for q, (what, _) in questions.QUESTIONS.items())
    manual = "|".join(re.escape(f"{q} {what}")
                      for q, what, _, _ in questions.MANUAL)
    for path in (attacked["results"] / "feedback").iterdir():
        lines = path.read_text().splitlines()
        assert lines[-1].startswith("total: ")
        sandbox = [line for line in lines if line.startswith("sandbox: ")]
        assert sandbox == [] or len(sandbox) == 1 and sandbox[0].startswith(
            f"sandbox: {attacked['mode'].sandbox}"), (path.name, sandbox)
        assert sum(line.startswith("total") for line in lines) == 1, path
        for line in lines:
            assert re.fullmatch(
                rf"|student: .+|assignment: .+|points so far: .+"
                rf"|note: .+|sandbox: .+|(?:{auto}): \d+ / \d+"
                rf"|  (?:public|hidden) \w+: "
                rf"[a-z ]+(: .*)?|(?:{manual}): manual, \d+ points( \(.+\))?"
                rf"|graded by hand: {BY_HAND} points, not in the total"
                rf"|total: \d+ / {AUTOMATIC}",
                line), (path.name, line)
            assert line.isprintable(), (path.name, line)
            assert "LEAK" not in line and "could not judge" not in line, (
                path.name, line)


def test_no_attack_changed_any_file_outside_its_sandbox(attacked):
    before = attacked["before"]
    assert _tree_digest(attacked["grader"]) == before["grader"]
    assert _tree_digest(ROOT / "instructor") == before["instructor"]
    assert _site_state(attacked["folders"]) == before["site"]
    for folder in [*attacked["folders"][0], attacked["folders"][1]]:
        assert not (folder / "zz_pset3_attack.pth").exists()
    assert _digest(attacked["victim"]) == before["victim"]
    with open(attacked["results"] / "grades.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(ATTACKS) + 1


def test_no_process_is_left_and_nothing_reached_the_network(attacked):
    if os.geteuid() == 0:       # the sandboxes' uids are the grader's own
        assert attacked["left"] == []
    assert attacked["connections"] == 0


def test_no_file_is_left_where_every_user_may_write(attacked):
    """Nothing a sandbox wrote outlives its grading (leave_files_behind
    tries, in every folder all users may write to)."""
    left = [path for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
            for path in Path(folder).glob("pset3_attack_left_*")]
    assert left == []


def test_the_grader_memory_stays_small_under_floods(attacked):
    """The output flood never reaches the grader (the student's output goes
    to /dev/null), nor do the memory and process floods."""
    assert 0 < attacked["peak_kib"] < 400 * 1024, attacked["peak_kib"]


def _grade_after(attacked, name):
    mode = attacked["mode"]
    done = subprocess.run([*mode.prefix, mode.python,
                           str(attacked["grader"] / "handout.py"), "grade",
                           str(attacked["tmp"] / "after" / name), "-v"],
                          capture_output=True, text=True, check=True,
                          env={**os.environ,
                               "PSET3_SHOW_PUBLIC_MESSAGES": "1"})
    return done.stdout.strip().splitlines()


def test_a_correct_submission_graded_after_the_attacks_gets_full_points(
        attacked):
    assert _grade_after(attacked, "correct")[-1] == \
        f"total: {AUTOMATIC} / {AUTOMATIC}"


def test_no_key_ring_carries_a_solution_from_one_student_to_another(
        attacked):
    lines = _grade_after(attacked, "key_ring_leech")
    assert lines[-1] == f"total: 0 / {AUTOMATIC}"
    assert any("found 0 keys" in line for line in lines)
    assert attacked["keys"] == []


def test_the_refused_files_are_left_as_they_were(attacked):
    folder = attacked["class_dir"]
    assert (folder / "symlink_to_solution" / "mlp.py").is_symlink()
    assert stat.S_ISFIFO(os.lstat(folder / "fifo" / "mlp.py").st_mode)
