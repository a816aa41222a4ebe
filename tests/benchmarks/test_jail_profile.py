"""The parsers and stage arithmetic of benchmarks/helpers/jail_profile.py (sandbox_bench, issue 9).

The benchmark's "where does the time go" figures are only as good as these: a strace line
misread, a perf unit taken for another, or stages that do not add up to the run would all
print plausible numbers. The stage timer is also run once on the real sandbox, so a renamed
internal that it wraps fails here rather than silently dropping every stage.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "helpers"))

import jail_profile as prof

STRACE = """\
101 clone3({flags=CLONE_NEWUSER|CLONE_NEWNET, exit_signal=SIGCHLD}, 88 <unfinished ...>
102 mount("/usr", "/newroot/usr", NULL, MS_SILENT|MS_BIND|MS_REC, NULL) = 0 <0.000100>
101 <... clone3 resumed>) = 102 <0.002000>
102 mount("none", "/newroot/usr", NULL, MS_SILENT|MS_BIND|MS_REMOUNT|MS_RDONLY, NULL) = 0 <0.000050>
102 mount("tmpfs", "/newroot/tmp", "tmpfs", MS_NOSUID|MS_NODEV, "size=16777216" <unfinished ...>
103 mount(NULL, "/", NULL, MS_SILENT|MS_REC|MS_SLAVE, NULL) = 0 <0.000010>
102 <... mount resumed>) = 0 <0.000300>
102 mount("proc", "/newroot/proc", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL) = 0 <0.000020>
102 umount2("oldroot", MNT_DETACH) = 0 <0.004000>
102 execve("/usr/bin/python3", ["python3", "main.py"], 0x5 /* 3 vars */) = 0 <0.000400>
102 +++ exited with 0 +++
"""


def test_strace_lines_are_summed_per_syscall_and_mount_kind():
    got = prof.parse_strace(STRACE)
    assert got["clone3"] == (1, pytest.approx(0.002))  # resumed: the time is on the 2nd line
    assert got["mount:bind"] == (1, pytest.approx(0.0001))
    assert got["mount:remount"] == (1, pytest.approx(0.00005))  # MS_BIND|MS_REMOUNT: a remount
    assert got["mount:tmpfs"] == (1, pytest.approx(0.0003))  # args from the unfinished line
    assert got["mount:propagation"] == (1, pytest.approx(0.00001))
    assert got["mount:proc"] == (1, pytest.approx(0.00002))
    assert got["umount2"] == (1, pytest.approx(0.004))
    assert got["execve"] == (1, pytest.approx(0.0004))
    assert sum(c for c, _ in got.values()) == 8  # the exit line is not a call


PERF = """\
 contended   total wait     max wait     avg wait         type   caller

        39     17.04 ms      5.50 ms    436.96 us        mutex   namespace_unlock+0x289
         1      1.20 s       1.20 s       1.20 s         mutex   cleanup_net+0x10
       785     1.97 ms     80.67 us      2.51 us     spinlock   d_same_name+0x83
        12    900.00 ns    100.00 ns     75.00 ns        mutex   namespace_unlock+0x289
"""


def test_perf_lock_rows_convert_units_and_merge_by_caller_and_area():
    rows = prof.parse_perf_lock(PERF)
    assert [r["total_ms"] for r in rows] == [17.04, 1200.0, 1.97, 0.001]
    assert rows[2]["max_ms"] == pytest.approx(0.081)
    merged = prof.merge_rows(rows, lambda w: w)
    unlock = next(r for r in merged if r["what"].endswith("namespace_unlock+0x289"))
    assert unlock["contended"] == 51 and unlock["total_ms"] == pytest.approx(17.041)
    areas = {r["what"]: r["total_ms"] for r in prof.merge_rows(rows, prof.area)}
    assert areas["net namespace teardown"] == 1200.0
    assert areas["mount teardown (umount, RCU grace period)"] == pytest.approx(17.041)
    assert areas["mount set-up"] == 1.97
    assert next(iter(areas)) == "net namespace teardown"  # largest first


def test_perf_thread_rows_are_grouped_by_command():
    assert prof.command("35 kworker/u8:2-ev").startswith("kworker")
    assert prof.command("19592 :19592").startswith("(task gone")
    assert prof.command("4242 bwrap") == "bwrap"


MARKS = ("start", "spawn", "spawned", "child_pid", "exited", "done")


@given(st.lists(st.integers(0, 10**9), min_size=7, max_size=7).map(sorted))
def test_stages_add_up_to_the_run(times):
    marks = dict(zip(MARKS, times[:2] + times[2:4] + times[5:], strict=True))
    main = times[4]  # between child_pid and exited: split into setup and teardown
    with_main = prof.stages_from_marks(marks, main)
    parts = [with_main[k] for k in ("prepare", "launch", "clone", "setup", "teardown", "collect")]
    assert sum(parts) == pytest.approx(with_main["total"], abs=1e-6)
    without = prof.stages_from_marks(marks)
    assert "setup" not in without
    assert without["setup_teardown"] == pytest.approx(with_main["setup"] + with_main["teardown"])


def test_stages_need_every_mark_and_a_main_inside_the_run():
    marks = dict(zip(MARKS, range(0, 6_000_000, 1_000_000), strict=True))
    assert prof.stages_from_marks({k: v for k, v in marks.items() if k != "spawn"}) is None
    late = prof.stages_from_marks(marks, main_ns=10**12)  # a clock that cannot be this run's
    assert "setup" not in late and late["setup_teardown"] == 1.0


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=50), st.floats(0.01, 1.0))
def test_percentile_is_a_nearest_rank(xs, q):
    p = prof.percentile(xs, q)
    assert p in xs
    assert sum(x <= p for x in xs) >= q * len(xs) - 1e-9


def test_stage_timer_sees_every_stage_of_a_real_run():
    from sandbox import Job, Run, run
    from sandbox import _cgroups as cgroups
    from sandbox.backends import get_backend

    if get_backend("bwrap").unavailable() or os.geteuid() != 0:
        pytest.skip("needs the bwrap backend as root")
    layout = cgroups.probe()
    if layout is None or layout.version != 1 or os.environ.get("RLVR_SANDBOX_NO_SLOTS") == "1":
        pytest.skip("the stage marks follow the cgroup v1 run-slot path")
    rows = []
    with prof.StageTimer() as timer:
        job = Job(language="python", files={"main.py": "print(1)"}, runs=(Run(), Run()))
        result = run(job, stop=lambda i, r: rows.append(timer.stages()) or False)
    assert [r.status for r in result.runs] == ["ok", "ok"]
    for row in rows:
        assert row is not None
        for stage in ("prepare", "launch", "clone", "setup_teardown", "collect"):
            assert 0 <= row[stage] < row["total"]
    import sandbox._slots

    assert sandbox._slots.Slot.spawn.__name__ == "spawn"  # uninstalled: the original is back
