"""_threads.py: how many BLAS threads training's products use.

The choice is tested with a clock the test controls (no timing), the
cores a process may use with a real CPU affinity and a made-up cgroup
folder, and train with the BLAS it really runs on."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import _threads
from mlp import TwoLayerMLP

ROOT = Path(__file__).resolve().parent.parent


def run_steps(chooser, cost, steps, clock):
    """Run ``steps`` steps, each taking cost(threads, step) seconds on the
    test's clock; the threads of each step."""
    used = []
    for step in range(steps):
        threads = chooser.next_step()
        used.append(threads)
        clock[0] += cost(threads, step)
    return used


def trial_steps(cost):
    """Steps a trial of a choice whose steps take ``cost`` lasts: the step
    after the switch, then PROBE_STEPS and PROBE_SECONDS of counted ones."""
    return 1 + max(_threads.PROBE_STEPS,
                   math.ceil(_threads.PROBE_SECONDS / cost))


def test_the_faster_choice_wins_whichever_it_is():
    for fast in (1, 2):
        clock = [0.0]
        chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
        used = run_steps(chooser, lambda n, _: 0.0041 if n == fast else 0.02,
                         400, clock)
        # One round of trials, one thread first; two threads, if 5 times
        # slower, are given up after one counted step.
        first = trial_steps(0.0041 if fast == 1 else 0.02)
        second = trial_steps(0.0041) if fast == 2 else 2
        assert used[:first + second] == [1] * first + [2] * second
        assert used[first + second] == fast
        assert used.count(fast) > 0.9 * len(used)


def test_the_mean_step_decides_not_the_fastest():
    """Busy: with two threads most steps are fast, but every fourth waits
    for the busy core; their mean is slower than one thread's, which
    wins."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = run_steps(chooser, lambda n, step: 0.001 if n == 1 else
                     0.005 if step % 4 == 0 else 0.0007, 3000, clock)
    assert 2 in used[:100]
    assert used[100:].count(1) > 0.95 * len(used[100:])


def waking_up(first, two, one):
    """Step costs: two threads take ``first`` seconds on the step after a
    switch to them, then ``two``; one thread takes ``one``."""
    previous = [None]

    def cost(n, _):
        switched, previous[0] = n != previous[0], n
        return one if n == 1 else first if switched else two
    return cost


def test_the_first_step_after_a_switch_is_not_counted():
    """Two threads are faster, but the first step with them is slower
    (the threads wake up): it must not decide."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = run_steps(chooser, waking_up(0.05, 0.004, 0.01), 40, clock)
    assert used[-1] == 2


def test_a_choice_whose_first_step_alone_is_far_too_slow_is_given_up():
    """Busy: the first step with two threads waits for the busy core for
    longer than GIVE_UP times PROBE_STEPS steps of one thread; the trial
    ends with it."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = run_steps(chooser, waking_up(0.05, 0.001, 0.001), 200, clock)
    first = trial_steps(0.001)
    assert used[:first + 2] == [1] * first + [2, 1]
    assert set(used[first + 1:]) == {1}


def test_more_threads_are_not_tried_when_no_core_is_free():
    """Another process runs on every other core (free_cores says 0): the
    trial of more threads, whose first step could wait for a busy core,
    is left out, round after round; with a core free, or unknown, it is
    not."""
    for free, tried in ((0, False), (1, True), (None, True)):
        clock = [0.0]
        chooser = _threads.Chooser((1, 2), clock=lambda: clock[0],
                                   free_cores=lambda: free)
        used = run_steps(chooser, lambda n, _: 0.001, 5000, clock)
        assert (2 in used) == tried, free


def test_a_core_free_half_the_time_is_enough_to_try():
    samples = iter([0, 1] * 1000)
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0],
                               free_cores=lambda: next(samples))
    used = run_steps(chooser, lambda n, _: 0.001, 100, clock)
    assert 2 in used


def test_free_cores_counts_other_processes_running_tasks(tmp_path,
                                                         monkeypatch):
    """5 tasks run on the machine, 2 of them this process's threads (one
    of them a BLAS thread still spinning): 3 others and the one running
    thread of this process leave 8 - 3 - 1 = 4 cores free."""
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.50 0.40 0.30 5/300 4242\n")
    tasks = tmp_path / "task"
    for tid, state in (("10", "R"), ("11", "R"), ("12", "S")):
        (tasks / tid).mkdir(parents=True)
        (tasks / tid / "stat").write_text(f"{tid} (py thon) {state} 1 2 3\n")
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert _threads.free_cores(str(loadavg), str(tasks)) == 4
    loadavg.write_text("0.50 0.40 0.30 40/300 4242\n")
    assert _threads.free_cores(str(loadavg), str(tasks)) == 0
    assert _threads.free_cores(str(tmp_path / "none"), str(tasks)) is None
    loadavg.write_text("garbled\n")
    assert _threads.free_cores(str(loadavg), str(tasks)) is None
    assert isinstance(_threads.free_cores(), (int, type(None)))


def test_the_time_after_a_pause_is_not_a_step():
    """The accuracies between epochs take long; the step they follow is
    counted, the wait until the next step is not."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = []
    for step in range(200):
        threads = chooser.next_step()
        used.append(threads)
        clock[0] += 0.003 if threads == 2 else 0.004
        if step % 20 == 19:
            chooser.pause()
            clock[0] += 0.2 if step < 100 else 0.0
    assert used[-50:] == [2] * 50
    assert all(chooser.mean(n) < 0.01 for n in (1, 2))


def test_the_choice_is_tried_again_and_follows_the_load():
    """Quiet, two threads win; once another process keeps a core busy, one
    thread does, and the choice follows within one hold."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    busy_from = 2000

    def cost(n, step):
        if step >= busy_from:
            return 0.004 if n == 1 else 0.05
        return 0.003 if n == 2 else 0.004
    used = run_steps(chooser, cost, 6000, clock)
    assert used[busy_from - 1] == 2
    # After the change, one thread is used within MAX_HOLD seconds of
    # steps of about 4 ms (plus a round of trials).
    settled = busy_from + int(_threads.MAX_HOLD / 0.004) + 20
    assert set(used[settled:settled + 200]) == {1}
    assert used[-200:].count(1) > 190


def test_the_hold_doubles_while_the_same_choice_wins_and_resets():
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    run_steps(chooser, lambda n, _: 0.01 if n == 2 else 0.015, 4000, clock)
    assert chooser.hold == _threads.MAX_HOLD
    # The other choice becomes faster (not so much faster that the hold
    # is cut short): the next round picks it, with the first hold again.
    steps = 0
    while chooser.chosen != 1:
        threads = chooser.next_step()
        clock[0] += 0.01 if threads == 1 else 0.015
        steps += 1
    assert chooser.hold == _threads.FIRST_HOLD
    assert steps * 0.015 <= _threads.MAX_HOLD + 1


def test_a_hold_is_cut_short_when_the_steps_become_far_slower():
    """Two threads won; then the machine gets busy and their steps take
    ten times as long: a new round starts after SLOW_WINDOWS stretches of
    such steps, each as long as a trial, not at the end of the hold."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    run_steps(chooser, lambda n, _: 0.003 if n == 2 else 0.004, 4000, clock)
    assert chooser.chosen == 2 and chooser.hold == _threads.MAX_HOLD
    used = run_steps(chooser, lambda n, _: 0.004 if n == 1 else 0.04, 60,
                     clock)
    # The stretch under way may hold fast steps from before the change.
    assert (_threads.PROBE_STEPS < used.index(1)
            <= _threads.SLOW_WINDOWS * _threads.PROBE_STEPS + 1)
    assert chooser.chosen == 1
    assert used[-20:] == [1] * 20


def test_a_single_slow_step_does_not_cut_a_hold_short():
    """The step that holds an epoch's accuracy evaluation is slow once."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    run_steps(chooser, lambda n, _: 0.003 if n == 2 else 0.004, 4000, clock)
    until = chooser.until
    run_steps(chooser, lambda n, step: 0.5 if step % 100 == 0 else
              (0.003 if n == 2 else 0.004), 200, clock)
    assert chooser.until == until or clock[0] >= until


def test_a_hold_lasts_at_least_some_steps_when_steps_are_long():
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = run_steps(chooser, lambda n, _: 1.0 if n == 2 else 1.5, 200,
                     clock)
    trial = 1 + _threads.PROBE_STEPS
    held = used[2 * trial:2 * trial + _threads.MIN_HOLD_STEPS]
    assert held == [2] * _threads.MIN_HOLD_STEPS


def test_steps_that_take_no_time_are_not_counted():
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = run_steps(chooser, lambda n, step: 0.0 if step == 5 else
                     (0.003 if n == 2 else 0.004), 100, clock)
    assert used[-1] == 2


def test_usable_cores_follow_the_cpu_affinity():
    done = subprocess.run(
        [sys.executable, "-c", "import os, sys; sys.path.insert(0, "
         f"{str(ROOT)!r}); os.sched_setaffinity(0, {{0}}); import _threads; "
         "print(_threads.usable_cores())"],
        capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1"


@pytest.mark.parametrize("limits, expected", [
    ({"": "max 100000"}, None),
    ({"": "max 100000", "a": "50000 100000"}, 0.5),             # Gradescope
    ({"": "150000 100000", "a": "max 100000", "a/b": "max 100000"}, 1.5),
    ({"": "400000 100000", "a": "100000 100000", "a/b": "300000 100000"},
     1.0),                                          # the lowest on the way
])
def test_the_cgroup_quota_is_the_lowest_on_the_way_up(tmp_path, limits,
                                                      expected):
    root = tmp_path / "cgroup"
    for folder, value in limits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(value + "\n")
    (root / "a" / "b").mkdir(parents=True, exist_ok=True)
    proc = tmp_path / "proc_cgroup"
    proc.write_text("0::/a/b\n")
    assert _threads._cgroup_quota(str(proc), str(root)) == expected


@pytest.mark.parametrize("mount", ["cpu,cpuacct", "cpu"])
def test_a_cgroup_v1_quota_is_read_too(tmp_path, mount):
    """Docker on cgroup v1: the container's own cgroup at the root of the
    cpu controller's mount, a host path in /proc/self/cgroup."""
    folder = tmp_path / "cgroup" / mount
    folder.mkdir(parents=True)
    (folder / "cpu.cfs_quota_us").write_text("150000\n")
    (folder / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "proc_cgroup"
    proc.write_text("12:memory:/docker/abc\n"
                    "4:cpu,cpuacct:/docker/abc\n0::/\n")
    assert _threads._cgroup_quota(str(proc), str(tmp_path / "cgroup")) == 1.5
    (folder / "cpu.cfs_quota_us").write_text("-1\n")         # no quota
    assert _threads._cgroup_quota(str(proc), str(tmp_path / "cgroup")) is None


def test_a_quota_of_half_a_core_means_one_thread(monkeypatch):
    monkeypatch.setattr(_threads, "_cgroup_quota", lambda: 0.5)
    assert _threads.usable_cores() == 1


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"]


class RecordingNet(TwoLayerMLP):
    """Records the BLAS threads of every step."""

    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is not None:
            self.seen.append(tuple(blas_threads()))
        return super().loss(X, y, reg=reg, penalty=penalty)


def test_train_restores_the_blas_setting_even_when_it_fails():
    """A setting train would never choose (more threads than cores) is
    what the BLAS has again after train, whether it returned or raised."""
    rng = np.random.RandomState(0)
    X, y = rng.randn(400, 20), rng.randint(3, size=400)
    odd = _threads.usable_cores() + 1
    with threadpool_limits(limits=odd, user_api="blas"):
        assert set(blas_threads()) == {odd}
        net = RecordingNet(20, 16, 3, seed=0)
        net.seen = []
        net.train(X, y, num_epochs=3, batch_size=20)
        assert len(net.seen) == 60
        assert all(max(threads) < odd for threads in net.seen)
        assert set(blas_threads()) == {odd}
        with pytest.raises(FloatingPointError):
            net.train(X * 1e3, y, learning_rate=1e3, num_epochs=50,
                      batch_size=20)
        assert set(blas_threads()) == {odd}


SCRIPT = """
import json, os, sys
sys.path.insert(0, {root!r})
{setup}
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from mlp import TwoLayerMLP

seen = []
class Recording(TwoLayerMLP):
    def loss(self, X, y=None, reg=0.0, penalty="l2"):
        if y is not None:
            seen.append(max(l["num_threads"] for l in threadpool_info()
                            if l["user_api"] == "blas"))
        return super().loss(X, y, reg=reg, penalty=penalty)

rng = np.random.RandomState(0)
X, y = rng.randn(400, 20), rng.randint(3, size=400)
Recording(20, 16, 3, seed=0).train(X, y, num_epochs=2, batch_size=20)
print(json.dumps(sorted(set(seen))))
"""


@pytest.mark.parametrize("setup, env", [
    ("os.sched_setaffinity(0, {0})", {}),       # one core allowed
    ("", {"OPENBLAS_NUM_THREADS": "1"}),          # the BLAS set to one
])
def test_train_never_uses_more_threads_than_it_may(setup, env):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root=str(ROOT), setup=setup)],
        capture_output=True, text=True, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [1]


@pytest.mark.skipif(_threads.usable_cores() < 2,
                    reason="one core: nothing to choose")
def test_train_tries_both_choices_where_there_are_cores():
    """With the BLAS's own setting (no OPENBLAS_NUM_THREADS), both one
    thread and every usable core are tried."""
    setup = ("import numpy, _threads; "
             # Whatever the load, and however short the steps:
             "_threads.free_cores = lambda: None; _threads.PROBE_SECONDS = 0; "
             "from threadpoolctl import threadpool_info; "
             "most = min(_threads.usable_cores(), max(l['num_threads'] for l "
             "in threadpool_info() if l['user_api'] == 'blas')); "
             "print(json.dumps(sorted({1, most})))")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root=str(ROOT), setup=setup)],
        capture_output=True, text=True,
        env={k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")})
    assert done.returncode == 0, done.stderr
    expected, seen = (json.loads(line) for line in done.stdout.splitlines())
    assert len(expected) == 2, "the BLAS here has one thread"
    assert seen == expected


def test_a_train_inside_a_train_leaves_the_choice_to_the_outer_one():
    rng = np.random.RandomState(0)
    X_all, y_all = rng.randn(200, 20), rng.randint(3, size=200)
    seen = []

    class Inner(TwoLayerMLP):
        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            if y is not None:
                seen.append((_threads._open, tuple(blas_threads())))
            return super().loss(X, y, reg=reg, penalty=penalty)

    class Outer(TwoLayerMLP):
        def loss(self, X, y=None, reg=0.0, penalty="l2"):
            if y is not None and not seen:
                self.outer_threads = tuple(blas_threads())
                Inner(20, 8, 3, seed=1).train(X_all, y_all, num_epochs=2,
                                              batch_size=20)
            return super().loss(X, y, reg=reg, penalty=penalty)

    net = Outer(20, 8, 3, seed=0)
    net.train(X_all, y_all, num_epochs=1, batch_size=20)
    assert len(seen) == 20
    assert set(seen) == {(2, net.outer_threads)}
    assert _threads._open == 0


def test_training_goes_on_when_threadpoolctl_fails(monkeypatch):
    import threadpoolctl

    def broken(*args, **kwargs):
        raise RuntimeError("no BLAS found")
    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", broken)
    rng = np.random.RandomState(0)
    X, y = rng.randn(100, 5), rng.randint(2, size=100)
    history = TwoLayerMLP(5, 4, 2, seed=0).train(X, y, num_epochs=2,
                                                 batch_size=10)
    assert len(history["loss_history"]) == 20
    assert _threads._open == 0


class FakeLibrary:
    def __init__(self, threads):
        self.num_threads, self.set_to = threads, []

    def set_num_threads(self, threads):
        self.set_to.append(threads)


def test_each_library_keeps_at_most_its_own_setting():
    """A second BLAS set to one thread (BLIS's default, or the user's
    limit) neither caps NumPy's nor is raised above its own setting."""
    blas = _threads.BlasThreads()
    numpy_blas, other = FakeLibrary(4), FakeLibrary(1)
    blas._libraries = [numpy_blas, other]
    blas._own = {id(numpy_blas): 4, id(other): 1}
    blas._set(2)
    assert numpy_blas.set_to == [2] and other.set_to == [1]


def test_a_far_slower_choice_is_given_up_after_one_counted_step():
    """Busy: two threads take 5 times as long; their trial stops after the
    step after the switch and one counted step."""
    clock = [0.0]
    chooser = _threads.Chooser((1, 2), clock=lambda: clock[0])
    used = run_steps(chooser, lambda n, _: 0.001 if n == 1 else 0.005, 60,
                     clock)
    first = trial_steps(0.001)
    assert used[:first + 2] == [1] * first + [2, 2]
    assert set(used[first + 2:]) == {1}


def test_after_train_another_thread_can_still_limit_the_blas():
    """threadpoolctl lets one Python thread at a time set OpenBLAS's
    threads; train must give that up when it ends."""
    import threading

    rng = np.random.RandomState(0)
    X, y = rng.randn(400, 20), rng.randint(3, size=400)
    TwoLayerMLP(20, 8, 3, seed=0).train(X, y, num_epochs=3, batch_size=20)
    seen = []

    def worker():
        with threadpool_limits(limits=1, user_api="blas"):
            seen.append(blas_threads())
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen and set(seen[0]) == {1}
