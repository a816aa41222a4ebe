"""Run slots (cgroup v1): jails born inside a long-lived group, with counters exact per run."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sandbox import Job, Limits, Run, drop_warm, run
from sandbox import _cgroups as cgroups
from sandbox import _slots as slots
from tests.sandbox.conftest import needs_bwrap, needs_root

pytestmark = [needs_bwrap, needs_root]

LIMITS = Limits(cpu_s=2, wall_s=5, memory_mb=96, output_bytes=1 << 20, workdir_mb=16)
HOG = "x = bytearray(40 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"


@pytest.fixture
def layout(monkeypatch: pytest.MonkeyPatch) -> cgroups.Layout:
    layout = cgroups.probe()
    if layout is None or layout.version != 1:
        pytest.skip("run slots serve cgroup v1 machines")
    monkeypatch.delenv("RLVR_SANDBOX_NO_SLOTS", raising=False)
    # Each test starts from no slot (sequential runs then reuse one): warm jails that earlier
    # tests in this process left, or are still starting, would hold or hand back slots.
    drop_warm()
    slots.close_all()
    return layout


def _py(code: str, limits: Limits = LIMITS, stdin: str = ""):
    job = Job(language="python", files={"main.py": code}, runs=(Run(stdin=stdin),), limits=limits)
    return run(job).runs[0]


def _only_slot() -> slots.Slot:
    assert len(slots._free) == 1, "sequential runs should share one slot"
    return slots._free[0]


def test_counters_are_per_run_in_a_reused_slot(layout) -> None:
    big = _py(HOG)
    assert big.status == "ok" and big.memory_mb > 40
    slot = _only_slot()
    small = _py("pass")
    assert small.status == "ok"
    assert _only_slot() is slot
    assert small.memory_mb < 30, "the previous run's peak leaked into this one"
    assert small.cpu_s < big.cpu_s + 0.5


def test_slot_is_back_to_its_launcher_after_a_run(layout) -> None:
    """No task and no pids charge left: a zombie reparented to the host's init used to hold one
    for seconds, and a run with a tight process limit then failed to fork (EAGAIN)."""
    forks = "import os\nfor _ in range(3):\n    if os.fork() == 0:\n        os._exit(0)\n"
    assert _py(forks).status == "ok"
    slot = _only_slot()
    assert slot.group.procs() == [slot.proc.pid]
    assert slot.group.pids_current() == 1
    tight = Limits(cpu_s=2, wall_s=5, memory_mb=96, processes=2, workdir_mb=16)
    results = [_py("import os\nif os.fork() == 0: os._exit(0)\nos.wait()", tight) for _ in range(5)]
    assert [r.status for r in results] == ["ok"] * 5


def test_oom_kill_is_counted_for_its_run_only(layout) -> None:
    oom = _py("x = bytearray(400 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n")
    assert oom.status == "memory_limit"
    after = _py("print('fine')")
    assert after.status == "ok" and after.stdout == b"fine\n"


def test_daemon_left_by_a_run_is_gone_before_the_slot_is_reused(layout) -> None:
    daemon = (
        "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('bye')\n"
    )
    assert _py(daemon).stdout == b"bye\n"
    slot = _only_slot()
    assert slot.group.procs() == [slot.proc.pid]


def test_dead_launcher_is_a_sandbox_error_and_the_slot_is_replaced(layout) -> None:
    assert _py("pass").status == "ok"
    slot = _only_slot()
    os.kill(slot.proc.pid, signal.SIGKILL)
    slot.proc.wait()
    broken = _py("print(1)")
    assert broken.status == "sandbox_error"  # an infrastructure fault, never a wrong answer
    assert slot not in slots._free
    again = _py("print(2)")
    assert again.status == "ok" and again.stdout == b"2\n"


def test_launcher_refusal_is_reported_not_run(layout) -> None:
    slot = slots.acquire(layout)
    try:
        with pytest.raises(slots.LaunchError, match="no-such-binary"):
            slot.spawn(["/no-such-binary"], [], [], uid=None, rlimits=[])
        assert slot.finish()
    finally:
        slots.release(slot, reusable=False)


def test_jail_runs_inside_the_slot_groups_from_the_start(layout) -> None:
    """Every task of a running jail is in the slot's memory, pids and CPU groups."""
    import threading

    import psutil

    slots.release(slots.acquire(layout), reusable=True)
    slot = _only_slot()
    seen: dict[int, bool] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            tasks = psutil.Process(slot.proc.pid).children(recursive=True)
            members = {controller: set() for controller in slot.group.dirs}
            for controller, d in slot.group.dirs.items():
                members[controller] = {int(x) for x in (d / "cgroup.procs").read_text().split()}
            for proc in tasks:
                try:  # exited before its membership was read (a zombie has left its groups)
                    if not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE:
                        continue
                except psutil.NoSuchProcess:
                    continue
                inside = all(proc.pid in m for m in members.values())
                seen[proc.pid] = seen.get(proc.pid, True) and inside
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    try:
        assert _py("import time; time.sleep(0.5)").status == "ok"
    finally:
        done.set()
        t.join()
    assert len(seen) >= 3  # bwrap's monitor, the jail's pid 1, the program
    assert all(seen.values()), seen


def test_jail_inherits_only_its_standard_streams(layout) -> None:
    """The launcher's socket, the status pipe and the seccomp file stay outside the program."""
    out = _py("import os\nprint(sorted(int(x) for x in os.listdir('/proc/self/fd')))")
    assert out.status == "ok"
    assert out.stdout == b"[0, 1, 2, 3]\n"  # 3: the directory listdir itself has open
