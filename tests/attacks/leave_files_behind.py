# On a correct solution: at import and in loss, leave a file in every
# folder all users may write to (/tmp, /var/tmp, /dev/shm, /run/lock) and
# try to make it readable by every user (chmod, and a POSIX ACL, which
# widens access as chmod does), for a classmate graded later, or after
# grading, to find. It loses nothing, and nothing it wrote may be left.
import os as _os


def _leave():
    acl = b"\x02\x00\x00\x00" + b"".join(
        tag.to_bytes(2, "little") + b"\x07\x00\xff\xff\xff\xff"
        for tag in (1, 4, 0x20))
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        path = _os.path.join(folder, f"pset3_attack_left_{_os.getpid()}")
        try:
            with open(path, "w") as f:
                f.write("left behind")
        except OSError:
            continue
        for widen in (lambda: _os.chmod(path, 0o666),
                      lambda: _os.setxattr(path, "system.posix_acl_access",
                                           acl)):
            try:
                widen()
            except OSError:
                pass


_leave()


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        _leave()
        return super().loss(X, y, reg, penalty)
