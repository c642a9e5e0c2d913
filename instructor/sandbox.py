"""The sandbox that a student's code runs in, built with bubblewrap.

:class:`Sandbox` starts ``sandbox_entry.py`` on a private folder and
exchanges messages with it over two pipes, with a deadline on every read
and write. Under bubblewrap the process has its own mount namespace in
which only the system's ``/usr``, the Python installation (both
read-only), a small ``/tmp`` and the private folder (read-only, as
``/work``) exist; no network; its own PID namespace, so that killing it
kills every process it started; an unprivileged uid (a real, unused one
per parallel job when the grader runs as root, 65534 in a user namespace
otherwise); ``python -I``; a clean environment; and the resource limits
of :class:`Limits`, which the entry point sets on itself before it imports
the student's code.
"""
import errno
import functools
import json
import math
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import sandbox_entry

HERE = Path(__file__).resolve().parent
MAX_REPLY_BYTES = 4 << 20           # one reply (the largest real one: 24 KiB)
#: When the grader runs as root, each of its parallel jobs' sandboxes runs
#: as a uid of its own, from a block of SLOTS uids that belongs to the
#: grader's process, chosen by its pid and its PID namespace: two gradings
#: on one machine, even in two containers whose graders have the same pid,
#: never share a uid, a limit on processes, or wait on each other's
#: processes (within a namespace, never; across, with odds of 1 in 2**22).
SANDBOX_UID_BASE, SLOTS, BLOCKS = 1_000_000_000, 256, 1 << 22
NOBODY = 65534


def _namespace_offset():
    """A number from the identity of this process's PID namespace."""
    import hashlib
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return 0
    digest = hashlib.sha256(b"pid namespace %d" % namespace).digest()
    return int.from_bytes(digest[:8], "big") % BLOCKS


def uid_block(pid=None):
    """The first sandbox uid of the grader process pid (this one's by
    default, in this one's PID namespace); below 2**31 for any pid."""
    pid = os.getpid() if pid is None else pid
    return SANDBOX_UID_BASE + (pid + _namespace_offset()) % BLOCKS * SLOTS


@dataclass(frozen=True)
class Limits:
    """Time and resource limits of one submission's grading."""
    check_seconds: float = 5.0      # wall time of one check, all its calls
    startup_seconds: float = 10.0   # starting the sandbox and importing mlp.py
    budget_seconds: float = 60.0    # wall time of all the checks together
    memory_bytes: int = 2 << 30     # address space of each process
    processes: int = 6              # processes and threads at a time
    file_bytes: int = 16 << 20      # the largest file it may write
    tmp_bytes: int = 64 << 20       # the size of its /tmp
    sandbox: bool = True            # False: trusted code only, no bwrap
    container: bool = None          # True: no bwrap, a uid of its own;
    #                                 None: bubblewrap, or else container
    #                                 mode, as require_sandbox finds

    def describe(self):
        """Which sandbox ran, for the report."""
        if not self.sandbox:
            return "none (--no-sandbox: for trusted code only)"
        return "container mode" if self.container else "bubblewrap"

    def caveat(self):
        """What the grader's user should know of this sandbox ("" if
        nothing): what container mode cannot hide."""
        if not (self.sandbox and self.container):
            return ""
        return ("container mode (bubblewrap cannot run here): each "
                "submission's code ran as a uid of its own, with the same "
                "limits and system-call filter, no sockets but Unix ones and, "
                "where the kernel has Landlock, writing only in its own "
                "folder; unlike bubblewrap it can read every file of the "
                "container that all users may read and see its processes, so "
                "the container must hold nothing secret but the grader's "
                "folder")

    def rlimits(self):
        cpu = int(math.ceil(self.budget_seconds)) + 5
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_CPU": cpu,
                "RLIMIT_NPROC": self.processes,
                "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_CORE": 0,
                "RLIMIT_NOFILE": 64}


class GraderError(Exception):
    """The grader cannot grade at all here (no bubblewrap, no given files,
    a sandbox that cannot start Python): nothing to do with a submission."""


class TimedOut(Exception):
    pass


class Ended(Exception):
    """The sandbox's process ended, or stopped making sense, mid-call."""


def inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def interpreter():
    """The Python that runs in the sandbox: this one, by the path it was
    started with, so that a virtual environment's packages are found."""
    return os.path.abspath(sys.executable)


def python_folders():
    """The folders of this Python and its packages, outermost first, that
    the sandbox must see (read-only)."""
    import site

    wanted = {sys.prefix, sys.base_prefix, sys.exec_prefix,
              sys.base_exec_prefix, os.path.dirname(os.path.dirname(
                  os.path.realpath(sys.executable))),
              os.path.dirname(os.path.dirname(interpreter())),
              os.path.dirname(os.path.dirname(np.__file__)),
              *site.getsitepackages()}
    wanted = sorted({os.path.realpath(p) for p in wanted if os.path.isdir(p)})
    outer = [p for p in wanted if not any(inside(p, q) and p != q
                                          for q in wanted)]
    for folder in outer:
        if inside(HERE, folder) or inside(folder, HERE):
            raise GraderError(
                f"the Python installation in {folder} holds the grader "
                f"({HERE}), which the sandbox must not see: grade with a "
                f"Python installed outside the grader's folder")
    return outer


@functools.lru_cache(maxsize=1)
def _system_mounts():
    """bwrap's arguments that show the system and this Python, read-only
    (the same for every sandbox of a run, so made once), in two parts:
    what lies outside /tmp, and what lies inside it (a virtual environment
    under /tmp), which must be mounted after the sandbox's own /tmp."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    if os.path.isfile("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    in_tmp = []
    made = set()
    for folder in python_folders():
        if inside(folder, "/usr"):
            continue
        mounts = in_tmp if inside(folder, "/tmp") else args
        parents = Path(folder).parents
        for parent in reversed(parents[:-1]):        # /root, /root/.pyenv...
            if str(parent) not in made and str(parent) != "/tmp":
                made.add(str(parent))
                mounts += ["--perms", "0755", "--dir", str(parent)]
        mounts += ["--ro-bind", folder, folder]
    for folder in hidden_packages():
        (in_tmp if inside(folder, "/tmp") else args).extend(
            ["--tmpfs", folder])
    return tuple(args), tuple(in_tmp)


#: Packages the sandbox must not see: scikit-learn ships the digits that
#: Q2.5 and Q2.6 test on. (NumPy and matplotlib stay importable.)
HIDDEN_PACKAGES = ("sklearn",)


def hidden_packages():
    """The folders of HIDDEN_PACKAGES in this Python, found without
    importing them."""
    import importlib.util

    folders = []
    for name in HIDDEN_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if os.path.isdir(folder):
                folders.append(os.path.realpath(folder))
    return folders


ENVIRONMENT = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp",
               "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}


#: System calls the sandbox refuses (seccomp, through libseccomp): the
#: kernel's key rings, which outlive a process and are shared by every
#: process of a uid, new namespaces, which only widen what the kernel
#: exposes, and what could carry state from one check to the next. (clone3 cannot be filtered by its flags; refusing it with
#: ENOSYS makes the C library fall back to clone, which can.)
REFUSED_CALLS = {"add_key": "ENOSYS", "request_key": "ENOSYS",
                 "keyctl": "ENOSYS", "unshare": "EPERM", "setns": "EPERM",
                 "clone3": "ENOSYS",
                 # Nothing may outlive a check process or reach into another
                 # (the fork server sweeps processes and files between
                 # checks): no System V IPC objects or message queues, which
                 # outlive their creator, and no reading or writing another
                 # process's memory.
                 "shmget": "ENOSYS", "msgget": "ENOSYS", "semget": "ENOSYS",
                 "mq_open": "ENOSYS", "ptrace": "EPERM",
                 "process_vm_readv": "EPERM", "process_vm_writev": "EPERM",
                 # The page cache is shared by every process on the
                 # machine: no evicting or probing what is cached.
                 "fadvise64": "ENOSYS", "preadv2": "ENOSYS",
                 "pwritev2": "ENOSYS", "mincore": "ENOSYS",
                 "readahead": "ENOSYS"}
CLONE_NEW_NAMESPACES = 0x7E020000   # CLONE_NEWNS, NEWUSER, NEWPID, NEWNET...


#: Container mode only, where no namespace hides them: the network (any
#: socket but a Unix one, and io_uring, which can open sockets of its own),
#: and widening a file's permissions, so that what a sandbox writes where
#: every uid may write (its umask is 077) stays unreadable to the others.
#: Extended attributes too: a POSIX ACL is one, and widens access as
#: chmod would.
CONTAINER_REFUSED = ("chmod", "fchmod", "fchmodat", "fchmodat2", "umask",
                     "io_uring_setup", "setxattr", "lsetxattr", "fsetxattr",
                     "setxattrat", "removexattr", "lremovexattr",
                     "fremovexattr", "removexattrat")
#: The x86-64 numbers of those calls that an older libseccomp may not know.
NEWER_CALLS = {"fchmodat2": 452, "setxattrat": 463, "removexattrat": 466}


@functools.lru_cache(maxsize=2)
def seccomp_program(container=False):
    """The sandbox's seccomp filter, as BPF bytes (for bwrap --seccomp, or
    for sandbox_entry.py to load itself in container mode)."""
    try:
        import seccomp                  # libseccomp's own Python module
    except ImportError:
        try:
            import pyseccomp as seccomp
        except (ImportError, OSError, AttributeError) as error:
            raise GraderError(
                f"the sandbox needs libseccomp and its Python binding "
                f"({type(error).__name__}: {error}); install them with "
                f"'apt-get install libseccomp2' (Fedora: dnf install "
                f"libseccomp) and 'pip install -r "
                f"requirements-instructor.txt'") from None
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name, code in REFUSED_CALLS.items():
        rules.add_rule(seccomp.ERRNO(getattr(errno, code)), name)
    # Resource limits of this process only (prlimit of another process of
    # the same user, the fork server say, would carry a check's state on).
    rules.add_rule(seccomp.ERRNO(errno.EPERM), "prlimit64",
                   seccomp.Arg(0, seccomp.NE, 0))
    for bit in range(32):               # clone with any namespace flag
        flag = 1 << bit
        if flag & CLONE_NEW_NAMESPACES:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                           seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    if container:
        import socket

        rules.add_rule(seccomp.ERRNO(errno.EPERM), "socket",
                       seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        for name in CONTAINER_REFUSED:
            try:
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
            except (RuntimeError, ValueError, OSError):
                # a call this libseccomp does not know: by its number
                if name in NEWER_CALLS and os.uname().machine == "x86_64":
                    rules.add_rule(seccomp.ERRNO(errno.EPERM),
                                   NEWER_CALLS[name])
    read, write = os.pipe()
    with os.fdopen(write, "wb") as f:
        rules.export_bpf(f)
    with os.fdopen(read, "rb") as f:
        return f.read()


def bwrap_path():
    path = shutil.which("bwrap")
    if path is None:
        raise GraderError(
            "bubblewrap (bwrap) is not installed, and student code is only "
            "run inside it. Install it (Debian and Ubuntu: sudo apt-get "
            "install bubblewrap; Fedora: sudo dnf install bubblewrap), or, "
            "for trusted code only such as the solution, pass --no-sandbox")
    return path


class Sandbox:
    """One run of ``sandbox_entry.py`` on a private folder: a fork server
    that starts a fresh check process for each check (:meth:`begin`), which
    answers calls (:meth:`call`) until the check is over (:meth:`end`).
    Two pipes go to the fork server (control), two to the check process
    (data); every read and write has a deadline."""

    def __init__(self, folder, limits, slot, direct=False):
        self.folder, self.limits, self.direct = folder, limits, direct
        self.uid = (uid_block() + slot
                    if limits.sandbox and os.geteuid() == 0 else None)
        if limits.container and self.uid is None:
            raise GraderError("the container sandbox runs each submission as "
                              "a uid of its own, which only root can do: "
                              "grade as root, or where bubblewrap works")
        self.process = None
        self.fds = {}
        self.seccomp = None

    def _command(self, fds):
        config = json.dumps({
            "limits": self.limits.rlimits(),
            "control": [fds["control_read"], fds["control_write"]],
            "requests": fds["request_read"], "replies": fds["reply_write"],
            "sandboxed": self.limits.sandbox, "direct": self.direct,
            **({"seccomp": fds["seccomp"], "tmp": str(self.folder / "tmp")}
               if self.limits.container else {})})
        folder = "/work" if self.limits.sandbox and not \
            self.limits.container else str(self.folder)
        return self.command([interpreter(), "-I", "-B",
                             f"{folder}/sandbox_entry.py", config])

    def command(self, program):
        """The command line that runs ``program`` (a list) in the sandbox,
        in the private folder, as ``/work``."""
        if not self.limits.sandbox:
            return program
        if self.limits.container:
            return [_setpriv(), f"--reuid={self.uid}", f"--regid={self.uid}",
                    "--clear-groups", "--no-new-privs", "--inh-caps=-all",
                    "--bounding-set=-all", "--pdeathsig=KILL", "--", *program]
        command = [bwrap_path(), "--die-with-parent", "--new-session",
                   "--unshare-pid", "--unshare-net", "--unshare-ipc",
                   "--unshare-uts", "--unshare-cgroup-try"]
        if self.uid is not None:       # root: drop to a real unprivileged uid
            setpriv = _setpriv()
            command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:                          # a user namespace, uid 65534 in it
            command += ["--unshare-user", "--uid", str(NOBODY),
                        "--gid", str(NOBODY), "--disable-userns"]
        system, in_tmp = _system_mounts()
        command += list(system)
        command += ["--ro-bind", str(self.folder), "/work", "--chdir", "/work",
                    "--dev", "/dev", "--proc", "/proc",
                    "--ro-bind", "/dev/null", "/proc/keys",
                    "--ro-bind", "/dev/null", "/proc/key-users",
                    "--perms", "1777", "--size", str(self.limits.tmp_bytes),
                    "--tmpfs", "/tmp", *in_tmp, "--seccomp", str(self.seccomp),
                    "--clearenv"]
        for key, value in ENVIRONMENT.items():
            command += ["--setenv", key, value]
        if self.uid is not None:
            command += [setpriv, f"--reuid={self.uid}", f"--regid={self.uid}",
                        "--clear-groups", "--no-new-privs", "--"]
        return command + program

    def start(self, deadline):
        """Start the fork server; return its first reply, which says whether
        NumPy imported (TimedOut or Ended if it never came)."""
        fds = {}
        fds["control_read"], self.fds["control"] = os.pipe()
        self.fds["control_replies"], fds["control_write"] = os.pipe()
        fds["request_read"], self.fds["requests"] = os.pipe()
        self.fds["replies"], fds["reply_write"] = os.pipe()
        for name in ("control", "requests"):
            os.set_blocking(self.fds[name], False)
        kwargs = {}
        if not self.limits.sandbox or self.limits.container:
            home = self.folder / ("tmp" if self.limits.container else "home")
            home.mkdir(mode=0o700, exist_ok=True)
            if self.limits.container:
                _share_with(self.folder, self.uid, home)
            kwargs["env"] = {**ENVIRONMENT, "HOME": str(home),
                             "TMPDIR": str(home), "MPLCONFIGDIR": str(home)}
            kwargs["cwd"] = self.folder
        else:
            kwargs["env"] = {}
        if self.uid is not None and not self.limits.container:
            _share_with(self.folder, self.uid)
        passed = list(fds.values())
        try:
            if self.limits.container:
                fds["seccomp"] = _pipe_holding(seccomp_program(container=True))
                passed.append(fds["seccomp"])
            elif self.limits.sandbox:
                self.seccomp = _pipe_holding(seccomp_program())
                passed.append(self.seccomp)
            self.process = subprocess.Popen(
                self._command(fds),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, pass_fds=passed,
                start_new_session=True, **kwargs)
        except BaseException:
            self._close()
            raise
        finally:
            for fd in passed:
                os.close(fd)
            self.seccomp = None
        return self._receive("control_replies", deadline)

    def begin(self, stand_ins, deadline):
        """Start a fresh check process with these stand-ins (plain JSON
        data: see sandbox_entry.set_in); its first reply says whether it
        imported mlp.py. (``direct``: the sandbox is the check process.)"""
        if not self.direct:
            self._send("control", {"start": True}, deadline)
            if self._receive("control_replies", deadline) != {"started": True}:
                raise Ended("the fork server's reply could not be read")
        self._send("requests", {"stand_ins": stand_ins}, deadline)
        return self._receive("replies", deadline)

    def call(self, request, deadline):
        self._send("requests", request, deadline)
        return self._receive("replies", deadline)

    def end(self, deadline):
        """End the check: the fork server kills its processes and empties
        its files; whatever the check process left in the pipe of replies
        is thrown away."""
        self._send("control", {"stop": True}, deadline)
        while True:             # (it may first say that the process ended)
            reply = self._receive("control_replies", deadline)
            if reply == {"stopped": True}:
                break
            if not (isinstance(reply, dict) and "exited" in reply):
                raise Ended("the fork server's reply could not be read")
        fd = self.fds["replies"]
        os.set_blocking(fd, False)
        try:
            while os.read(fd, 1 << 16):
                pass
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(fd, True)

    def _alive_or_ended(self):
        code = self.process.poll()
        if code is not None:
            raise Ended(exit_status(code, self.limits.sandbox))

    def _send(self, name, message, deadline):
        data = sandbox_entry.frame(message)
        fd = self.fds[name]
        while data:
            self._alive_or_ended()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut()
            _, ready, _ = select.select([], [fd], [], min(left, 0.1))
            if ready:
                try:
                    data = data[os.write(fd, data[:1 << 16]):]
                except BlockingIOError:
                    pass
                except BrokenPipeError:
                    raise Ended("it stopped reading requests") from None

    def _read(self, fd, size, deadline):
        chunks = []
        watched = [fd]
        if fd == self.fds.get("replies") and not self.direct:
            watched.append(self.fds["control_replies"])
        while size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut()
            ready, _, _ = select.select(watched, [], [], min(left, 0.1))
            if not ready:
                self._alive_or_ended()
                continue
            if fd not in ready:     # the fork server: the process ended
                self._check_process_ended()
                continue
            chunk = os.read(fd, min(size, 1 << 20))
            if not chunk:      # no reply can come any more: why? (1 s at most)
                try:
                    self.process.wait(timeout=min(
                        1.0, max(deadline - time.monotonic(), 0.0)))
                except subprocess.TimeoutExpired:
                    raise Ended("it closed the pipe of its replies") from None
                self._alive_or_ended()
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _check_process_ended(self):
        reply = self._receive("control_replies", time.monotonic() + 1)
        if isinstance(reply, dict) and type(reply.get("exited")) is int:
            raise Ended(exit_status(reply["exited"], False))
        raise Ended("the fork server's reply could not be read")

    def _receive(self, name, deadline):
        fd = self.fds[name]
        size = struct.unpack(">I", self._read(fd, 4, deadline))[0]
        if size > MAX_REPLY_BYTES:
            raise Ended(f"a reply of {size} bytes, over the limit of "
                        f"{MAX_REPLY_BYTES} bytes")
        try:
            return json.loads(self._read(fd, size, deadline))
        except (ValueError, RecursionError):
            raise Ended("a reply that is not JSON") from None

    def _close(self):
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}

    def stop(self):
        """Kill the whole process tree and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
        if self.process is not None:
            if not self.limits.sandbox:
                # Without the sandbox each check process has a process
                # group of its own, in the fork server's session.
                _kill_session(self.process.pid)
            self.process.wait()
        if self.uid is not None:
            if self.limits.container:   # no PID namespace to take them down
                self._sweep_as_uid()
                _kill_uid(self.uid)
            _wait_until_gone(self.uid)
        self._close()


    def _sweep_as_uid(self):
        """Container mode: as the sandbox's uid, never as root (a folder
        it owns could be swapped for a link to anywhere while being
        emptied), kill every process of that uid at once (kill -1, which
        no fork can outrun) and remove what it made where all may write."""
        entry = self.folder / "sandbox_entry.py"
        if not entry.is_file():
            return
        try:
            subprocess.run(
                [_setpriv(), f"--reuid={self.uid}", f"--regid={self.uid}",
                 "--clear-groups", "--no-new-privs", "--", interpreter(),
                 "-I", "-B", str(entry), "--sweep"],
                env=dict(ENVIRONMENT), cwd="/", timeout=10,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired, GraderError):
            pass                # _kill_uid still takes the processes down


def _setpriv():
    setpriv = shutil.which("setpriv")
    if setpriv is None or not inside(setpriv, "/usr"):
        raise GraderError("setpriv (util-linux) is needed in /usr to drop "
                          "root's privileges in the sandbox")
    return setpriv


def _share_with(folder, uid, tmp=None):
    """The private folder readable by the sandbox's uid, as its group, and
    by no other uid (a classmate's sandbox, another user); ``tmp``, in
    container mode, the sandbox's own to write in."""
    os.chown(folder, 0, uid)
    os.chmod(folder, 0o750)
    for path in folder.iterdir():
        if path != tmp and path.is_file() and not path.is_symlink():
            os.chown(path, 0, uid)
            os.chmod(path, 0o640)
    if tmp is not None:
        os.chown(tmp, uid, uid)
        os.chmod(tmp, 0o700)


def _kill_uid(uid):
    """Kill every process of ``uid`` and reap them (at most 5 s of tries):
    without a PID namespace, a process that left the sandbox's session is
    found by its uid, and, orphaned, it comes to the grader (a child
    subreaper in container mode), which must reap it: a zombie would count
    against the processes the next submission of this uid may start."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        pids = processes_of((uid,))
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if _parent_of(pid) == os.getpid():
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        time.sleep(0.005)


def _parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def become_subreaper():
    """Container mode: orphaned sandbox processes come to this process
    (which _kill_uid reaps), not to the container's init."""
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _pipe_holding(data):
    """The read end of a pipe that holds data (at most 64 KiB) and then
    ends: a file descriptor bwrap can read a seccomp program from."""
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def exit_status(code, sandboxed):
    """A process's end in words. bwrap passes on its command's exit code,
    and a signal ``n`` that ended the command as 128 + n."""
    number = -code if code < 0 else code - 128 if sandboxed and code > 128 \
        else None
    if number is None:
        return f"exit code {code}"
    try:
        return f"killed by signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"killed by signal {number}"


def processes_of(uids):
    """The pids of the processes running as one of ``uids``."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid in uids:
                    pids.append(int(name))
            except FileNotFoundError:
                pass
    return pids


def leftover_processes(pid=None):
    """Processes of the sandboxes of the grader process pid (this one by
    default; of a grader that ran as root) still alive."""
    return processes_of(range(uid_block(pid), uid_block(pid) + SLOTS))


def _session_of(pid):
    """The session id of process pid, or None if it is gone or a zombie
    (dead, waiting for its parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[3]) if len(fields) > 3 and fields[0] != b"Z" else None


def _kill_session(session):
    """Kill every process of a session (the fork server's, when there is
    no sandbox) and wait (at most 5 s) until they are gone."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        members = [int(name) for name in os.listdir("/proc")
                   if name.isdigit() and _session_of(name) == session]
        for pid in members:
            try:
                os.kill(pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        if not members:
            return
        time.sleep(0.01)


def _wait_until_gone(uid):
    """Wait (at most 5 s) until the kernel has taken down every process of
    a killed sandbox, which all run as ``uid``."""
    end = time.monotonic() + 5
    while processes_of((uid,)) and time.monotonic() < end:
        time.sleep(0.01)


def probe(limits=Limits(), modules=("numpy", "matplotlib"), forbidden=()):
    """None if a sandbox can run Python here and import ``modules`` (the
    packages a student's mlp.py may use), write to its /tmp and not see
    the packages it must not (HIDDEN_PACKAGES), else what went wrong (no
    bwrap, user namespaces turned off, a NumPy that only the grader's user
    can see, ...)."""
    import tempfile

    # Container mode: the packages it must not see are there, but the
    # grader's own files (``forbidden``) must be unreadable.
    hidden = [] if not limits.sandbox else \
        list(forbidden) if limits.container else hidden_packages()
    # Container mode cannot hide a package: it must not be installed.
    packages = list(HIDDEN_PACKAGES) if limits.container else []
    program = [interpreter(), "-I", "-c",
               f"import os, sys, tempfile, importlib.util; "
               f"import {', '.join(modules)}; "
               "tempfile.TemporaryFile().close(); "
               "seen = [f for f in sys.argv[1:] if os.access(f, os.R_OK) "
               "and (os.path.isfile(f) or os.listdir(f))]; "
               f"seen += [m for m in {packages!r} if "
               "importlib.util.find_spec(m)]; "
               "sys.exit(f'not hidden: {seen}' if seen else 0)", *hidden]
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)
        sandbox = Sandbox(Path(folder), limits, slot=0)
        if limits.container:
            tmp = Path(folder) / "tmp"
            tmp.mkdir()
            _share_with(Path(folder), sandbox.uid, tmp)
            folder = str(tmp)
        try:
            passed = []
            if limits.sandbox:
                sandbox.seccomp = _pipe_holding(seccomp_program())
                passed.append(sandbox.seccomp)
            done = subprocess.run(sandbox.command(program), pass_fds=passed,
                                  capture_output=True, text=True, timeout=60,
                                  env={**ENVIRONMENT, "HOME": folder,
                                       "TMPDIR": folder})
        except (GraderError, OSError, subprocess.TimeoutExpired) as error:
            return str(error)
        finally:
            if sandbox.seccomp is not None:
                os.close(sandbox.seccomp)
        if sandbox.uid is not None:
            if limits.container:
                _kill_uid(sandbox.uid)
            _wait_until_gone(sandbox.uid)
        return None if done.returncode == 0 else (
            done.stderr.strip()[-500:] or f"exit code {done.returncode}")


def require_sandbox(limits, forbidden=()):
    """Raise GraderError unless the sandbox works here (checked once, before
    any student's code runs, so no submission can pass for a broken
    installation); in container mode, the paths ``forbidden`` must be
    unreadable to it."""
    if limits.sandbox and not limits.container:
        bwrap_path()
    if limits.container:
        become_subreaper()
    problem = probe(limits, forbidden=forbidden)
    if problem is not None and limits.container and "setpriv" not in problem:
        raise GraderError(
            f"the container sandbox cannot run Python with NumPy here: "
            f"{problem.splitlines()[-1]}. It runs {interpreter()} as a uid "
            f"of its own, so that Python and its packages must be readable "
            f"by every user, and scikit-learn not installed in it (the "
            f"Gradescope package's setup.sh makes such a Python in "
            f"/opt/pset3-grader)")
    if problem is not None:
        raise GraderError(f"the sandbox cannot run Python with NumPy here: "
                          f"{problem}")
