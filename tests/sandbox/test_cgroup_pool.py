"""The recycled-cgroup pool: never hands out a busy group, and counters are per run."""

from __future__ import annotations

import subprocess
import time

import pytest

from sandbox import Job, Limits, Run, cgroups, run
from tests.sandbox.conftest import needs_bwrap, needs_root

pytestmark = [needs_bwrap, needs_root]

LIMITS = Limits(cpu_s=1, wall_s=3, memory_mb=96, output_bytes=1 << 20, workdir_mb=16)


def _v1_layout() -> cgroups.Layout:
    layout = cgroups.probe()
    if layout is None or layout.version != 1:
        pytest.skip("the pool recycles cgroup v1 groups only")
    return layout


def _pooled(key: tuple[int, int], timeout_s: float = 3.0) -> list[cgroups.JobCgroup]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with cgroups._pool_lock:
            groups = list(cgroups._pool.get(key, ()))
        if groups:
            return groups
        time.sleep(0.02)
    return []


def test_acquire_never_hands_out_a_busy_group() -> None:
    layout = _v1_layout()
    key = (77 << 20, 9)  # limits no other test uses
    busy = cgroups.JobCgroup.create(layout, memory_bytes=key[0], pids=key[1])
    busy.key = key
    proc = subprocess.Popen(["sleep", "30"])
    try:
        busy.add(proc.pid)
        with cgroups._pool_lock:  # as if a bug had pooled it with a task inside
            cgroups._pool.setdefault(key, []).append(busy)
        got = cgroups.acquire(layout, memory_bytes=key[0], pids=key[1])
        assert got is not busy
        assert got.procs() == []
        cgroups.retire(got)
    finally:
        proc.kill()
        proc.wait()


def test_recycled_group_reports_per_run_counters() -> None:
    _v1_layout()
    hog = "x = bytearray(40 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1\n"
    first = run(Job(language="python", files={"main.py": hog}, runs=(Run(),), limits=LIMITS))
    assert first.runs[0].status == "ok"
    assert first.runs[0].memory_mb > 40
    key = (LIMITS.memory_mb << 20, LIMITS.processes + 1)
    pooled = _pooled(key)
    assert pooled, "an emptied group should be recycled"
    for group in pooled:  # pooled groups are empty and their counters reset
        assert group.procs() == []
        assert group.fresh()
        assert (group.cpu_s() or 0.0) == 0.0
    small = run(Job(language="python", files={"main.py": "pass"}, runs=(Run(),), limits=LIMITS))
    assert small.runs[0].status == "ok"
    assert small.runs[0].memory_mb < 30  # not the previous run's 40 MB peak
    assert small.runs[0].cpu_s < first.runs[0].cpu_s + 0.5


def test_oom_killed_group_is_not_recycled() -> None:
    layout = _v1_layout()
    group = cgroups.JobCgroup.create(layout, memory_bytes=64 << 20, pids=8)
    group.key = (64 << 20, 8)
    group.oom_killed = lambda: True  # type: ignore[method-assign]
    assert cgroups._recycle(group) is False
    group.remove()
