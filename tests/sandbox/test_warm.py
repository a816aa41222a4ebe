"""Warm jobs: the next jail of the same shape is started ahead, then used once by one run."""

from __future__ import annotations

import time

import pytest

from sandbox import Job, Limits, Run, drop_warm, run
from sandbox import _cgroups as cgroups
from sandbox.backends import get_backend
from tests.sandbox.conftest import needs_bwrap, needs_root, pool_processes

pytestmark = [needs_bwrap, needs_root]

LIMITS = Limits(cpu_s=2, wall_s=5, memory_mb=128, output_bytes=1 << 20, workdir_mb=16)
# Reads all of stdin first (what Job.warm promises), then says whether an earlier run left a mark.
PROGRAM = (
    "import os, sys\n"
    "data = sys.stdin.read()\n"
    "seen = os.path.exists('/tmp/mark')\n"
    "open('/tmp/mark', 'w').close()\n"
    "print(data.strip(), seen)\n"
)


@pytest.fixture(autouse=True)
def v1_slots():
    layout = cgroups.probe()
    if layout is None or layout.version != 1:
        pytest.skip("warm jails live in cgroup v1 run slots")
    drop_warm()  # waits for a start still in flight from an earlier test
    yield
    drop_warm()


def _warm(stdin: str, limits: Limits = LIMITS):
    job = Job(language="python", files={"main.py": PROGRAM}, runs=(Run(stdin=stdin),),
              limits=limits, warm=True)  # fmt: skip
    return run(job).runs[0]


def _counting(monkeypatch) -> dict[str, int]:
    backend = get_backend("bwrap")
    counts = {"hit": 0, "miss": 0}
    take = backend._pending.take

    def counted(key):
        jail = take(key)
        counts["hit" if jail is not None else "miss"] += 1
        return jail

    monkeypatch.setattr(backend._pending, "take", counted)
    return counts


def _settle() -> None:
    """Until the background start of the next jail is done (it is best effort, so: a bound)."""
    pending = get_backend("bwrap")._pending
    deadline = time.monotonic() + 5
    while not pending._jails and time.monotonic() < deadline:
        time.sleep(0.01)


def test_each_run_gets_a_fresh_jail_started_ahead(monkeypatch) -> None:
    counts = _counting(monkeypatch)
    outs = []
    for i in range(4):
        outs.append(_warm(f"job {i}\n"))
        _settle()
    assert [(r.status, r.stdout) for r in outs] == [
        ("ok", f"job {i} False\n".encode()) for i in range(4)
    ]
    assert counts == {"hit": 3, "miss": 1}


def test_waiting_ahead_is_not_counted_as_the_runs_wall_time() -> None:
    _warm("first\n")
    time.sleep(1.0)  # the next jail is up and waiting for its stdin
    second = _warm("second\n")
    assert second.status == "ok"
    assert second.wall_s < 0.8


def test_another_shape_is_a_cold_start(monkeypatch) -> None:
    _warm("a\n")
    _settle()
    counts = _counting(monkeypatch)
    bigger = Limits(cpu_s=2, wall_s=5, memory_mb=256, output_bytes=1 << 20, workdir_mb=16)
    assert _warm("b\n", bigger).stdout == b"b False\n"
    assert counts == {"hit": 0, "miss": 1}
    other_cpu = Limits(cpu_s=1, wall_s=5, memory_mb=128, output_bytes=1 << 20, workdir_mb=16)
    assert _warm("c\n", other_cpu).stdout == b"c False\n"  # CPU is checked per run: same shape
    assert counts == {"hit": 1, "miss": 1}


def test_a_warm_run_keeps_its_own_cpu_limit() -> None:
    _warm("warm up\n")
    _settle()
    job = Job(
        language="python",
        files={"main.py": PROGRAM + "while True: pass\n"},
        runs=(Run(stdin="x\n"),),
        limits=Limits(cpu_s=0.5, wall_s=5, memory_mb=128, workdir_mb=16),
        warm=True,
    )
    run(job)  # a cold start of this shape; the next one is warm
    _settle()
    result = run(job).runs[0]
    assert result.status == "time_limit"
    assert result.cpu_s < 1.5


def test_drop_warm_leaves_no_jailed_process() -> None:
    _warm("a\n")
    _settle()
    drop_warm()
    assert pool_processes() == []


def test_a_warm_jail_that_died_waiting_is_not_the_runs_failure(monkeypatch) -> None:
    """Nothing of the job ran in it: the run starts cold instead of reporting an error."""
    import select

    _warm("a\n")
    _settle()
    pending = get_backend("bwrap")._pending
    ((_, _, jail),) = pending._jails
    # The whole jail, as the OOM killer would take it (killing only bwrap's monitor can leave
    # its pid 1 running when the kill lands before that sets its parent-death signal).
    jail.slot.kill_run()
    # Until its launcher has reaped the whole jail (a death still under way when the run takes
    # the jail is a sandbox error, SE, never the run's failure; not what this test is about).
    assert select.select([jail.slot.sock], [], [], 10)[0]
    counts = _counting(monkeypatch)
    result = _warm("b\n")
    assert (result.status, result.stdout) == ("ok", b"b False\n")
    assert counts == {"hit": 1, "miss": 0}  # taken, found dead, discarded


def test_staged_copies_are_removed_at_exit_or_by_the_next_sweep() -> None:
    import os

    from sandbox import _warm as warm
    from sandbox import runner
    from sandbox._workdir import base_dir

    _warm("a\n")
    _settle()
    drop_warm()
    mine = list(base_dir().glob(f"warm-{os.getpid()}-*"))
    assert mine, "a warm job stages its files once per shape"
    warm.remove_staged(os.getpid())
    assert not list(base_dir().glob(f"warm-{os.getpid()}-*"))
    dead = base_dir() / "warm-999999999-0123"  # no such pid: a process that died
    dead.mkdir()
    (dead / "main.py").write_text("x")
    runner._sweep_once.cache_clear()
    runner._sweep_once()
    assert not dead.exists()


def test_nothing_of_a_process_is_left_after_it_exits(tmp_path) -> None:
    """Exit drops the jail still starting ahead too: its slot's group used to stay behind."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "warm_exit.py"
    script.write_text(
        "import os\n"
        "from sandbox import Job, Run, run\n"
        "print(os.getpid(), flush=True)\n"
        "for i in range(3):\n"
        f"    run(Job(language='python', files={{'main.py': {PROGRAM!r}}},\n"
        "            runs=(Run(stdin=str(i)),), warm=True))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    pid = done.stdout.split()[0]
    layout = cgroups.probe()
    left = [d.name for base in layout.bases.values() for d in base.iterdir()
            if d.name.startswith(f"{pid}-")]  # fmt: skip
    assert left == []
