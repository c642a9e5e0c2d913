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
   same candidate wins again, up to ``MAX_HOLD``), then try again, since
   the machine's load changes.

"Every core this process may use" respects the CPU affinity and a cgroup
CPU quota (``cpu.max``), and never exceeds the BLAS's own setting (for
example ``OPENBLAS_NUM_THREADS``). The BLAS's setting is restored when
training ends. Without threadpoolctl, or with one core, nothing is done.
"""
import math
import os
import time

#: Steps each candidate is timed for (after one step that is not counted).
PROBE_STEPS = 3
#: Seconds the chosen candidate is kept before the next round of trials,
#: at first and at most.
FIRST_HOLD, MAX_HOLD = 0.5, 8.0
#: A candidate whose step takes this many times the best of those already
#: tried is given up at once (on a busy machine such a step is costly).
GIVE_UP = 2.0


def usable_cores():
    """The number of cores this process may run on: its CPU affinity, and
    the CPU quota of its cgroup (cgroup v2 ``cpu.max``), if lower."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota(proc_file="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """The CPU quota of this process's cgroup (v2) in cores: the lowest
    ``cpu.max`` on the way from its folder up to the root; None if none."""
    try:
        with open(proc_file) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    paths = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
    if not paths:
        return None
    root = os.path.normpath(root)
    folder = os.path.normpath(root + "/" + paths[0].strip("/"))
    quotas = []
    while folder == root or folder.startswith(root + os.sep):
        try:
            with open(os.path.join(folder, "cpu.max")) as f:
                limit, period = f.read().split()[:2]
            if limit != "max":
                quotas.append(int(limit) / int(period))
        except (OSError, ValueError, ZeroDivisionError):
            pass
        if folder == root:
            break
        folder = os.path.dirname(folder)
    return min(quotas) if quotas else None


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
        if not self.queue:
            return
        if self.skip:
            self.skip = False
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
        self.chosen, self.until = best, now + self.hold


class BlasThreads:
    """A context manager: inside it, :meth:`next_step` sets the number of
    BLAS threads of each training step (see the module's docstring)."""

    def __init__(self):
        self._controller = None
        self._chooser = None

    def __enter__(self):
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            return self
        controller = ThreadpoolController().select(user_api="blas")
        if not controller.lib_controllers:
            return self
        most = min(min(c.num_threads for c in controller.lib_controllers),
                   usable_cores())
        if most <= 1:
            if any(c.num_threads > 1 for c in controller.lib_controllers):
                self._controller = controller.limit(limits=1)
            return self
        self._controller = controller.limit(
            limits=max(c.num_threads for c in controller.lib_controllers))
        self._libraries = controller.lib_controllers
        self._chooser = Chooser((1, most))
        self._threads = None
        return self

    def next_step(self):
        """Called as each training step starts."""
        if self._chooser is None:
            return
        threads = self._chooser.next_step()
        if threads != self._threads:
            for library in self._libraries:
                library.set_num_threads(threads)
            self._threads = threads

    def __exit__(self, *exc):
        if self._controller is not None:
            self._controller.restore_original_limits()
        return False
