"""A writer killed with SIGKILL in the middle of a large append leaves a readable lake.

The writer is a real child process appending many batches with ``append_batches``; the test kills
it with ``kill -9`` once some batches have landed and one is being written, then checks what a
reader sees: only whole batches, the temp file reported by ``check()``, and a lake that takes
the next append.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from engine.lake import TEMP_PREFIX, Lake

BATCH_ROWS = 2_000
RUN = "20261129T031500-generate-crash0"

WRITER = textwrap.dedent(
    """
    import sys, time
    from engine import lake as lake_module
    from engine.lake import Lake

    root, batch_rows, linger_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    write_table = lake_module.pq.write_table

    def write_then_linger(table, where, **options):
        # Hold the finished temp file a moment before the rename, so the kill is sure to find
        # one in flight; without linger the kill lands wherever it lands.
        write_table(table, where, **options)
        time.sleep(linger_s)

    lake_module.pq.write_table = write_then_linger
    text = "Let me think step by step about this problem. " * 40  # ~2 KB per completion

    def batches():
        for b in range(10_000):
            yield [
                {"rollout_id": f"r{b}-{i}", "prompt_id": f"p{b}", "sample_idx": i,
                 "completion": text + str(i), "source": "generate"}
                for i in range(batch_rows)
            ]

    Lake.open(root).append_batches("rollouts", batches(), run_id=sys.argv[4])
    """
)


def start_writer(root: Path, linger_s: float) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-c", WRITER, str(root), str(BATCH_ROWS), str(linger_s), RUN]
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE)


def wait_for(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.005)


@pytest.mark.parametrize(
    "linger_s",
    [
        0.5,  # killed while a finished temp file waits for its rename: check() must report it
        0.0,  # killed at full speed, wherever the writer is (mid-write, mid-rename, between)
    ],
)
def test_sigkill_mid_append_leaves_only_whole_batches(tmp_path: Path, linger_s: float) -> None:
    root = tmp_path / "lake"
    partition = root / "rollouts" / f"run_id={RUN}"
    writer = start_writer(root, linger_s)
    try:

        def landed_and_one_in_flight() -> bool:
            assert writer.poll() is None, writer.stderr.read().decode() if writer.stderr else ""
            names = [p.name for p in partition.glob("*")] if partition.is_dir() else []
            done = sum(name.startswith("part-") for name in names)
            return done >= 3 and any(name.startswith(TEMP_PREFIX) for name in names)

        wait_for(landed_and_one_in_flight)
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL

    lake = Lake.open(root)
    rows = lake.scan("rollouts").collect().height
    assert rows >= 3 * BATCH_ROWS and rows % BATCH_ROWS == 0
    (count,) = lake.connect().execute("SELECT count(*) FROM rollouts").fetchone()
    assert count == rows
    for path in lake.files("rollouts"):
        assert pq.ParquetFile(path).metadata.num_rows == BATCH_ROWS

    report = lake.check()
    temps = [p for p in report.problems if p.kind == "temp"]
    assert {p.kind for p in report.problems} <= {"temp"}  # nothing corrupt, only leftovers
    if linger_s:
        assert temps, "the temp file in flight should be reported"

    lake.append("rollouts", [_row("after-crash")], run_id=RUN)
    assert lake.scan("rollouts").collect().height == rows + 1


def _row(rollout_id: str) -> dict:
    return {
        "rollout_id": rollout_id,
        "prompt_id": "p",
        "sample_idx": 0,
        "completion": "x",
        "source": "generate",
    }
