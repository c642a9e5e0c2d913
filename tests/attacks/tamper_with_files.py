# Rewrite the grading grader's files and the private folder's, and drop a
# .pth file into every site-packages; report in a public check's message
# what worked. (What it writes is inert: a comment. The grader it aims at
# is the test's temporary copy; the test removes any file that got through.)
import os
import sys

import numpy

_appended = [os.path.join(GRADER_DIR, name)
             for name in ("handout.py", "grading.py", "questions.py",
                          os.path.join("given", "_checks.py"))]
_appended += ["/work/_checks.py", "/work/mlp.py", "/work/sandbox_entry.py"]
_created = [os.path.join(p, "zz_pset3_attack.pth") for p in sys.path
            if p.endswith("-packages")]
_created.append(os.path.join(os.path.dirname(numpy.__file__),
                             "zz_pset3_attack.pth"))
_written = []
for _path, _mode in [(p, "a") for p in _appended] + [(p, "x") for p in
                                                      _created]:
    try:
        with open(_path, _mode) as _f:
            _f.write("\n# pset3 attack test\n")
        _written.append(_path)
    except OSError:
        pass


class TwoLayerMLP(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        raise RuntimeError(f"written: {_written}")
