# On a correct solution: try to leave state behind for the next check's
# process, and look for what an earlier one left: files in /tmp kept by a
# symbolic link to / (which a careless cleaner follows), by folders of mode
# 000 inside one another, and by a folder 1,200 levels deep (which a
# recursive cleaner cannot walk); and a resource limit set on the fork
# server (a process of the same user). If anything survived, relu answers
# wrong, so the check that follows (relu_function) fails: it must not.
import os
import resource

_found = []
for _path in ("/tmp/keep/marker", "/tmp/locked/inner/marker",
              "/tmp/deep/marker"):
    if os.path.lexists(_path) or os.path.isdir(os.path.dirname(_path)):
        _found.append(_path)
try:
    if resource.prlimit(os.getpid(), resource.RLIMIT_RTTIME)[0] == 123456:
        _found.append("RLIMIT_RTTIME")
except OSError:
    pass

try:
    os.makedirs("/tmp/keep", exist_ok=True)
    with open("/tmp/keep/marker", "w") as _f:
        _f.write("x")
    os.symlink("/", "/tmp/keep/anchor")
    os.makedirs("/tmp/locked/inner", exist_ok=True)
    with open("/tmp/locked/inner/marker", "w") as _f:
        _f.write("x")
    os.chmod("/tmp/locked/inner", 0)
    os.chmod("/tmp/locked", 0)
    _deep = "/tmp/deep"
    os.makedirs(_deep, exist_ok=True)
    with open(_deep + "/marker", "w") as _f:
        _f.write("x")
    os.chdir(_deep)
    for _ in range(1200):
        os.mkdir("d")
        os.chdir("d")
    os.chdir("/work")
except OSError:
    pass
try:
    resource.prlimit(os.getppid(), resource.RLIMIT_RTTIME,
                     (123456, resource.RLIM_INFINITY))
except OSError:
    pass


def relu(z):
    return np.maximum(z, 0) + (1.0 if _found else 0.0)


ACTIVATIONS["relu"] = (relu, ACTIVATIONS["relu"][1])
