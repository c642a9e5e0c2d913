# Ask the kernel for state that could outlive the sandbox or reach past
# it: a key in the key ring, the key rings' list, a new user namespace
# (by unshare and by clone), evicting a file from the page cache that every
# sandbox shares, another process's resource limits; say in a public
# check's message what came of each.
import ctypes
import os

_NUMBERS = {"x86_64": (248, 250, 56, 221, 302),
            "aarch64": (217, 219, 220, 223, 261)}
_ADD_KEY, _KEYCTL, _CLONE, _FADVISE, _PRLIMIT = _NUMBERS.get(
    os.uname().machine, (-1,) * 5)
_NEWUSER, _SIGCHLD = 0x10000000, 17
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _errno(result):
    return ctypes.get_errno() if result < 0 else 0


_results = {
    "add_key": _errno(_libc.syscall(ctypes.c_long(_ADD_KEY), b"user",
                                    b"pset3_attack", b"x", ctypes.c_long(1),
                                    ctypes.c_long(-4))),
    "keyctl": _errno(_libc.syscall(ctypes.c_long(_KEYCTL), ctypes.c_long(0),
                                   ctypes.c_long(-4), ctypes.c_long(0))),
    "unshare": _errno(_libc.unshare(ctypes.c_int(_NEWUSER))),
    # evicting a shared file from the page cache (POSIX_FADV_DONTNEED)
    "fadvise64": _errno(_libc.syscall(
        ctypes.c_long(_FADVISE), ctypes.c_long(os.open("mlp.py", os.O_RDONLY)),
        ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(4))),
    # reading the fork server's limits (a process of the same user)
    "prlimit64 of the parent": _errno(_libc.syscall(
        ctypes.c_long(_PRLIMIT), ctypes.c_long(os.getppid()),
        ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))),
}
_pid = _libc.syscall(ctypes.c_long(_CLONE),
                     ctypes.c_long(_NEWUSER | _SIGCHLD), ctypes.c_long(0),
                     ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0))
if _pid == 0:
    os._exit(0)
_results["clone"] = _errno(_pid)
if _pid > 0:
    os.waitpid(_pid, 0)
try:
    with open("/proc/keys") as _f:
        _results["/proc/keys"] = f"{len(_f.readlines())} lines"
except OSError as _error:
    _results["/proc/keys"] = f"unreadable (errno {_error.errno})"


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        raise RuntimeError(f"kernel: {sorted(_results.items())}")
