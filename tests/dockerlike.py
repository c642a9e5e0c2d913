"""Run a command as Docker's default seccomp profile lets a container run
it: no new namespaces. ``unshare`` and ``setns`` are refused (EPERM), so
is ``clone`` with any namespace flag, and ``clone3`` is not there
(ENOSYS), which is what makes bubblewrap fail in a container with
"Creating new namespace failed: Operation not permitted". Everything
else, root's privileges included, is left as it was.

    python tests/dockerlike.py COMMAND [ARGUMENT ...]
"""
import errno
import os
import sys

import pyseccomp as seccomp

#: CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
#: CLONE_NEWPID, CLONE_NEWNET
NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000,
                   0x10000000, 0x20000000, 0x40000000)


def main(argv):
    if not argv:
        sys.exit(__doc__)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    # Docker does not set no_new_privs unless asked to.
    rules.set_attr(seccomp.Attr.CTL_NNP, 0)
    for name in ("unshare", "setns"):
        rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "clone",
                       seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    rules.load()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
