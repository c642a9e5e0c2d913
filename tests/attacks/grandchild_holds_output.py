# On a correct solution: a grandchild keeps stdout, stderr and every other
# file descriptor open (the reply pipe too) for 30 s.
import subprocess

subprocess.Popen(["sleep", "30"], close_fds=False)
