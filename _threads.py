"""How many BLAS threads the matrix products of ``TwoLayerMLP.train`` use.

A private module: ``train`` opens a :class:`BlasThreads` and calls its
:meth:`~BlasThreads.next_step` once per step; nothing else changes.

Why: the products of a training step are small (100 x 784 by 784 x 64 on
MNIST). Spread over every core, they are fast on an idle machine, but when
another process keeps one core busy (a browser, a second notebook, a
container's CPU quota), each product waits for the thread on the busy
core, and a step can take ten times longer than with one thread. One
fixed choice is wrong half of the time, so the choice is made while
training, from the measured time of the steps:

1. try each candidate (one thread, and every core this process may use)
   for a few steps, the first step after a switch not counted, and give
   one up at its first step that is far slower than the best so far;
2. keep the fastest for a while (``hold`` seconds, doubled each time the
   same candidate wins again, up to ``MAX_HOLD``, and never fewer than
   ``MIN_HOLD_STEPS`` steps), then try again, since the machine's load
   changes; try again at once when several steps in a row are far slower
   than the winner was in its trial.

"Every core this process may use" respects the CPU affinity and a cgroup
CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), and never exceeds a
library's own setting (for example ``OPENBLAS_NUM_THREADS``). The BLAS's
settings are restored when training ends. Without threadpoolctl, with one
core, or inside another training (a ``train`` that calls ``train``),
nothing is done.
"""
import contextlib
import math
import os
import time
import warnings

#: Steps each candidate is timed for (after one step that is not counted).
PROBE_STEPS = 3
#: Seconds the chosen candidate is kept before the next round of trials,
#: at first and at most; and the fewest steps it is kept for.
FIRST_HOLD, MAX_HOLD, MIN_HOLD_STEPS = 0.5, 8.0, 30
#: A candidate whose step takes this many times the best of those already
#: tried is given up at once (on a busy machine such a step is costly); so
#: many such steps in a row of the chosen one start a new round of trials.
GIVE_UP, SLOW_STEPS = 2.0, 3


def usable_cores():
    """The number of cores this process may run on: its CPU affinity, and
    the CPU quota of its cgroup, if lower."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota(proc_file="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """The CPU quota of this process's cgroup in cores: the lowest on the
    way from its folder up to the root (cgroup v2's ``cpu.max``, else v1's
    ``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``); None if there is
    none."""
    try:
        with open(proc_file) as f:
            lines = [line.split(":", 2) for line in f.read().splitlines()]
    except OSError:
        return None
    quotas = []
    for number, controllers, path in (l for l in lines if len(l) == 3):
        if number == "0" and not controllers:                  # v2
            quotas += _quotas_up(root, path, _v2_quota)
        elif "cpu" in controllers.split(","):                  # v1
            for mount in (controllers, "cpu,cpuacct", "cpu"):
                quotas += _quotas_up(os.path.join(root, mount), path,
                                     _v1_quota)
    return min(quotas) if quotas else None


def _quotas_up(root, path, read):
    """The quotas ``read`` finds from root/path up to root."""
    root = os.path.normpath(root)
    folder = os.path.normpath(root + "/" + path.strip("/"))
    quotas = []
    while folder == root or folder.startswith(root + os.sep):
        quota = read(folder)
        if quota is not None:
            quotas.append(quota)
        if folder == root:
            break
        folder = os.path.dirname(folder)
    return quotas


def _v2_quota(folder):
    try:
        with open(os.path.join(folder, "cpu.max")) as f:
            limit, period = f.read().split()[:2]
        return None if limit == "max" else int(limit) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _v1_quota(folder):
    try:
        with open(os.path.join(folder, "cpu.cfs_quota_us")) as f:
            limit = int(f.read())
        with open(os.path.join(folder, "cpu.cfs_period_us")) as f:
            period = int(f.read())
        return None if limit <= 0 else limit / period
    except (OSError, ValueError, ZeroDivisionError):
        return None


class Chooser:
    """The choice itself, apart from the BLAS: from the time each step
    took, how many threads the next step uses (``clock``: a function giving
    the time in seconds)."""

    def __init__(self, candidates, clock=time.perf_counter):
        self.candidates = tuple(candidates)
        self.clock = clock
        self.hold, self.until = FIRST_HOLD, -math.inf
        self.chosen = self.current = None
        self.queue, self.trials = [], {}
        self.skip = False           # the last step was the first after a switch
        self.slow = 0               # steps in a row far slower than in trial
        self._last = None           # when the last step started

    def next_step(self):
        """Called as each step starts: the number of threads it uses."""
        now = self.clock()
        if self._last is not None:
            self._record(now - self._last, now)
        self._last = now
        if not self.queue and now >= self.until:       # a round of trials
            self.queue = list(self.candidates)
            self.trials = {n: [] for n in self.candidates}
        wanted = self.queue[0] if self.queue else self.chosen
        if wanted != self.current:
            self.current, self.skip = wanted, True
        return self.current

    def _record(self, seconds, now):
        """The last step, with self.current threads, took ``seconds``."""
        skipped, self.skip = self.skip, False
        if skipped or seconds <= 0:
            return
        if not self.queue:                              # holding
            best = min(self.trials[self.chosen])
            self.slow = self.slow + 1 if seconds > GIVE_UP * best else 0
            if self.slow >= SLOW_STEPS:                 # the load changed
                self.until, self.slow = now, 0
            return
        times = self.trials[self.current]
        times.append(seconds)
        tried = [min(t) for n, t in self.trials.items()
                 if n != self.current and len(t) >= PROBE_STEPS]
        hopeless = tried and seconds > GIVE_UP * min(tried)
        if len(times) < PROBE_STEPS and not hopeless:
            return
        times.extend([seconds] * (PROBE_STEPS - len(times)))
        self.queue.pop(0)
        if self.queue:
            return
        best = min(self.candidates, key=lambda n: min(self.trials[n]))
        self.hold = (min(2 * self.hold, MAX_HOLD) if best == self.chosen
                     else FIRST_HOLD)
        self.chosen = best
        self.until = now + max(self.hold,
                               MIN_HOLD_STEPS * min(self.trials[best]))


#: How many BlasThreads are open (a train inside a train leaves the choice
#: to the outer one).
_open = 0


class BlasThreads:
    """A context manager: inside it, :meth:`next_step` sets the number of
    BLAS threads of each training step (see the module's docstring)."""

    def __init__(self):
        self._chooser = None
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        global _open
        _open += 1
        if _open > 1:
            return self
        try:
            with warnings.catch_warnings():     # threadpoolctl's own notes
                warnings.simplefilter("ignore")
                from threadpoolctl import ThreadpoolController

                controller = ThreadpoolController().select(user_api="blas")
                libraries = list(controller.lib_controllers)
                self._own = {id(lib): lib.num_threads for lib in libraries}
                most = min(usable_cores(), max(self._own.values(), default=1))
                # Entered, the limiter restores every library's setting
                # when training ends, and lets this thread set them.
                self._stack.enter_context(controller.limit(limits=None))
        except Exception:                       # no threadpoolctl, or it failed
            self._stack.close()
            return self
        self._libraries = libraries
        self._threads = None
        if most > 1:
            self._chooser = Chooser((1, most))
        else:
            self._set(1)
        return self

    def _set(self, threads):
        for library in self._libraries:
            library.set_num_threads(min(threads, self._own[id(library)]))
        self._threads = threads

    def next_step(self):
        """Called as each training step starts."""
        if self._chooser is not None:
            threads = self._chooser.next_step()
            if threads != self._threads:
                self._set(threads)

    def __exit__(self, *exc):
        global _open
        _open -= 1
        self._stack.close()
        return False
