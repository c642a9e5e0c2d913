"""How many BLAS threads the matrix products of ``TwoLayerMLP.train`` use.

A private module: ``train`` opens a :class:`BlasThreads` and calls its
:meth:`~BlasThreads.next_step` as each step starts, and
:meth:`~BlasThreads.pause` after an epoch's last step; nothing else changes.

Why: the products of a training step are small (100 x 784 by 784 x 64 on
MNIST). Spread over every core, they are fast on an idle machine, but when
another process keeps one core busy (a browser, a second notebook, a
container's CPU quota), each product waits for the thread on the busy
core, and a step can take ten times longer than with one thread. One
fixed choice is wrong half of the time, so the choice is made while
training, from the measured time of the steps:

1. try each candidate (one thread, and every core this process may use)
   for at least ``PROBE_STEPS`` steps and ``PROBE_SECONDS`` seconds, the
   first step after a switch not counted, and compare their mean steps.
   The mean, not the fastest step: on a busy machine most steps with
   every core are fast, but every few milliseconds one waits several
   milliseconds for the busy core, and those waits are the cost. A
   candidate is given up as soon as it has taken ``GIVE_UP`` times as
   long as the best so far would have (with ``PROBE_STEPS`` steps more
   for the switch). More threads are not tried at all
   when, during the trial of one thread, no core was free at least half
   the time (from the kernel's count of running tasks): then their first
   step alone can wait tens of milliseconds for a busy core;
2. keep the fastest for a while (``hold`` seconds, doubled each time the
   same candidate wins again, up to ``MAX_HOLD``, and never fewer than
   ``MIN_HOLD_STEPS`` steps), then try again, since the machine's load
   changes; try again at once when ``SLOW_WINDOWS`` stretches in a row, each
   as long as a trial, have a mean step ``GIVE_UP`` times the winner's.

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

#: Each candidate is timed for at least so many steps and seconds (after
#: one step that is not counted): long enough to see a busy core's waits.
PROBE_STEPS, PROBE_SECONDS = 3, 0.03
#: Seconds the chosen candidate is kept before the next round of trials,
#: at first and at most; and the fewest steps it is kept for.
FIRST_HOLD, MAX_HOLD, MIN_HOLD_STEPS = 0.5, 8.0, 30
#: A candidate is given up once its steps have taken this many times as long
#: as the best candidate's would have; so many stretches in a row of the
#: chosen one this much slower than in its trial start a new round.
GIVE_UP, SLOW_WINDOWS = 2.0, 2


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

    def __init__(self, candidates, clock=time.perf_counter,
                 free_cores=lambda: None):
        self.candidates = tuple(candidates)
        self.clock, self.free_cores = clock, free_cores
        self.free = []              # free cores seen in the first trial (8)
        self.hold, self.until = FIRST_HOLD, -math.inf
        self.chosen = self.current = None
        self.queue = []
        self.trials = {}    # n: [seconds, steps counted, seconds spent]
        self.window = [0.0, 0]      # the chosen one's steps since the last look
        self.slow = 0               # stretches in a row far slower than in trial
        self.skip = False           # the last step was the first after a switch
        self._last = None           # when the last step started

    def mean(self, threads):
        """The mean step of ``threads`` in its last trial."""
        seconds, steps, _ = self.trials[threads]
        return seconds / steps if steps else math.inf

    def next_step(self):
        """Called as each step starts: the number of threads it uses."""
        now = self.clock()
        if self._last is not None:
            self._record(now - self._last, now)
        self._last = now
        if not self.queue and now >= self.until:       # a round of trials
            self.queue = list(self.candidates)
            self.trials = {n: [0.0, 0, 0.0] for n in self.candidates}
            self.free = []
        wanted = self.queue[0] if self.queue else self.chosen
        if wanted != self.current:
            self.current, self.skip = wanted, True
        return self.current

    def pause(self):
        """Called when a step has ended and other work follows: the time
        until the next step is not a step's."""
        if self._last is not None:
            now = self.clock()
            self._record(now - self._last, now)
        self._last = None

    def _record(self, seconds, now):
        """The last step, with self.current threads, took ``seconds``."""
        skipped, self.skip = self.skip, False
        if seconds <= 0:
            return
        if not self.queue:                              # holding
            if not skipped:
                self._look(seconds, now)
            return
        # In a trial, the step after the switch counts only towards giving
        # up: its wait for threads that a busy core delays is a real cost.
        trial = self.trials[self.current]
        trial[2] += seconds
        if self.current == self.candidates[0] and len(self.free) < 8:
            self.free.append(self.free_cores())
        if not skipped:
            trial[0] += seconds
            trial[1] += 1
        done = [self.mean(n) for n in self.candidates if n not in self.queue]
        hopeless = done and trial[2] > GIVE_UP * min(done) * (
            PROBE_STEPS + trial[1])
        if hopeless:
            trial[0] = math.inf                 # it cannot win this round
        elif not _long_enough(trial):
            return
        self.queue.pop(0)
        if self.current == self.candidates[0] and _no_core_free(self.free):
            for n in self.queue:
                self.trials[n][0] = math.inf        # not tried this round
            self.queue = []
        if self.queue:
            return
        best = min(self.candidates, key=self.mean)
        self.hold = (min(2 * self.hold, MAX_HOLD) if best == self.chosen
                     else FIRST_HOLD)
        self.chosen = best
        self.until = now + max(self.hold, MIN_HOLD_STEPS * self.mean(best))
        self.window, self.slow = [0.0, 0], 0

    def _look(self, seconds, now):
        """While holding: a new round at once if the load changed."""
        self.window[0] += seconds
        self.window[1] += 1
        if _long_enough(self.window):
            far = self.window[0] > GIVE_UP * self.mean(self.chosen) \
                * self.window[1]
            self.slow = self.slow + 1 if far else 0
            self.window = [0.0, 0]
            if self.slow >= SLOW_WINDOWS:
                self.until, self.slow = now, 0


def _no_core_free(samples):
    """Whether free_cores, where known, was mostly below one."""
    known = [n for n in samples if n is not None]
    return bool(known) and sum(n >= 1 for n in known) < len(known) / 2


def free_cores(loadavg="/proc/loadavg", tasks="/proc/self/task"):
    """How many of the machine's cores neither another process nor this
    one's running thread is on at this moment: the cores less 1 less the
    kernel's count of running tasks that are not this process's threads
    (BLAS threads keep running for a while after their last product).
    None where the counts cannot be read."""
    try:
        with open(loadavg) as f:
            running = int(f.read().split()[3].split("/")[0])
        for task in os.listdir(tasks):
            try:
                with open(os.path.join(tasks, task, "stat"), "rb") as f:
                    stat = f.read()
            except OSError:                     # the thread has ended
                continue
            running -= stat[stat.rindex(b")") + 2:][:1] == b"R"
    except (OSError, ValueError, IndexError):
        return None
    return max(0, (os.cpu_count() or 1) - 1 - running)


def _long_enough(times):
    seconds, steps = times[:2]
    return steps >= PROBE_STEPS and seconds >= PROBE_SECONDS


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
            self._chooser = Chooser((1, most), free_cores=free_cores)
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

    def pause(self):
        """Called after the last step of an epoch (see Chooser.pause)."""
        if self._chooser is not None:
            self._chooser.pause()

    def __exit__(self, *exc):
        global _open
        _open -= 1
        self._stack.close()
        return False
