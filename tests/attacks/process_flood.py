# On a correct solution: at import, start as many sleeping processes as the
# limits allow (at most 200), then carry on. It loses nothing, and no
# process may be left when grading ends.
import os
import time

for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
    except OSError:
        break
