"""Signals and run state (issue 10): `rlvr verify` in a real subprocess, stopped by SIGINT or
SIGTERM sent to its pid, killed by SIGKILL, or racing a second `rlvr verify` on the same lake.

The verifier is a registered slow one (50 ms per rollout) so the job is surely mid-way when the
signal lands; the prompts are `general`, so it is the only verifier that runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from engine import ids
from engine.errors import UserError
from engine.interrupt import INTERRUPTED_MESSAGE, Interrupted, StopFlag, stop_on_signals
from engine.lake import Lake

ROOT = Path(__file__).resolve().parents[2]
ROLLOUTS = 300

VERIFY = textwrap.dedent(
    """
    import sys, time, types
    from verifiers import registry
    from verifiers.verdict import Verdict

    def score_prompt(prompt, response, **options):
        time.sleep(0.05)
        with open(sys.argv[2], "a") as log:  # one line per judged rollout: the test's clock
            log.write("x\\n")
        return Verdict(status="correct", reward=1.0, verifier="slow")

    module = types.ModuleType("slow_verifier")
    module.score_prompt = score_prompt
    sys.modules["slow_verifier"] = module
    registry.REGISTRY["slow"] = "slow_verifier:score_prompt"
    from engine.cli import main
    main(["verify", "--lake", sys.argv[1], "--verifier", "slow", "--workers", "2"])
    """
)


def make_lake(root: Path, n: int = ROLLOUTS) -> Lake:
    lake = Lake.open(root)
    pid = ids.prompt_id("toy", "say hi")
    prompt = {"prompt_id": pid, "dataset": "toy", "task": "general", "problem": "say hi"}
    lake.append("prompts", [prompt], run_id="ingest")
    rows = [
        {"rollout_id": ids.rollout_id("g", pid, i), "prompt_id": pid, "sample_idx": i,
         "completion": "hi", "source": "generate"}
        for i in range(n)
    ]  # fmt: skip
    lake.append("rollouts", rows, run_id="g")
    return lake


def start_verify(root: Path, log: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", VERIFY, str(root), str(log)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def judged(log: Path) -> int:
    return log.read_text().count("x") if log.exists() else 0


def wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.02)


def raw_verdicts(lake: Lake) -> tuple[int, int]:
    """(rows, distinct (rollout_id, verifier)) over every verdict file on disk, views aside."""
    files = [str(path) for path in lake.files("verdicts")]
    if not files:
        return 0, 0
    query = "SELECT count(*), count(DISTINCT (rollout_id, verifier)) FROM read_parquet(?)"
    with duckdb.connect() as con:  # not the module's default connection, which other tests use
        return con.execute(query, [files]).fetchone()


def verify_runs(lake: Lake) -> list[dict]:
    frame = lake.scan("runs").collect().filter(kind="verify").sort("started_at")
    return frame.to_dicts()


@pytest.mark.parametrize(
    ("signum", "code"),
    [
        (signal.SIGINT, 130),  # `kill -INT pid`: lands on any thread, must still stop the job
        (signal.SIGTERM, 143),  # `kill pid`, a scheduler's stop: used to leave the run running
    ],
)
def test_a_signal_stops_verify_keeps_what_finished_and_resumes(
    tmp_path: Path, signum: int, code: int
) -> None:
    lake = make_lake(tmp_path / "lake")
    log = tmp_path / "judged.log"
    proc = start_verify(lake.root, log)
    wait_until(lambda: judged(log) >= 10)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] == INTERRUPTED_MESSAGE
    assert "Traceback" not in err + out
    (run,) = verify_runs(lake)
    assert run["status"] == "interrupted" and run["finished_at"] is not None
    kept, distinct = raw_verdicts(lake)
    assert 0 < kept < ROLLOUTS and kept == distinct  # what finished is kept, once
    resumed = start_verify(lake.root, log)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert raw_verdicts(lake) == (ROLLOUTS, ROLLOUTS)
    assert [r["status"] for r in verify_runs(lake)] == ["interrupted", "done"]


def test_a_sigkilled_run_is_shown_stale_by_rlvr_runs(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake")
    log = tmp_path / "judged.log"
    proc = start_verify(lake.root, log)
    wait_until(lambda: judged(log) >= 5)
    runs = [sys.executable, "-m", "engine.cli", "runs", "--lake", str(lake.root)]
    env = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    alive = subprocess.run(runs, env=env, capture_output=True, text=True, check=True).stdout
    assert "running" in alive and "stale" not in alive  # control: a live run is not stale
    proc.kill()
    proc.communicate(timeout=30)
    (run,) = verify_runs(lake)
    assert run["status"] == "running"  # nothing could say otherwise
    assert lake.stale_runs() == {run["run_id"]}
    listing = subprocess.run(runs, env=env, capture_output=True, text=True, check=True).stdout
    assert "stale" in listing and "running" not in listing


def test_two_verify_processes_never_judge_a_rollout_twice(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake", n=120)
    log = tmp_path / "judged.log"
    first, second = start_verify(lake.root, log), start_verify(lake.root, log)
    for proc in (first, second):
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert raw_verdicts(lake) == (120, 120)
    assert judged(log) == 120  # the work itself was done once, not only the writes


def test_stop_flag_raises_between_batches_and_restores_handlers() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        stop.check()  # nothing pending: no raise
        os.kill(os.getpid(), signal.SIGTERM)
        wait_until(lambda: bool(stop), timeout_s=5)
        with pytest.raises(Interrupted) as caught:
            stop.check()
    assert caught.value.signum == signal.SIGTERM and isinstance(caught.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) is before
    assert not StopFlag()


def test_a_run_held_by_a_live_process_cannot_be_taken_by_another(tmp_path: Path) -> None:
    lake = Lake.open(tmp_path / "lake")
    holder = textwrap.dedent(
        """
        import sys, time
        from engine.lake import Lake
        Lake.open(sys.argv[1]).write_run("generate", run_id="shared-run")
        print("held", flush=True)
        time.sleep(60)
        """
    )
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", holder, str(lake.root)], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="being worked on by another process — "):
            lake.write_run("generate", run_id="shared-run")
        assert lake.stale_runs() == set()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert lake.stale_runs() == {"shared-run"}  # the holder died without finishing
    lake.write_run("generate", run_id="shared-run")  # and the run can be resumed
    lake.finish_run("shared-run", "done")
    assert lake.stale_runs() == set()


def test_after_a_stop_signal_unfinished_work_and_fault_verdicts_are_dropped(monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from engine import verify
    from verifiers.verdict import Verdict

    stop = StopFlag()

    def judged_while_interrupted(name, prompt, response, **options):
        index = int(response)
        if index == 2:
            stop.signum = signal.SIGINT  # Ctrl-C lands while rollout 2 is judged...
        if index >= 2:  # ...and reaches the verifier's worker processes too: our fault, not WA
            return Verdict(status="error", reward=None, verifier=name)
        return Verdict(status="correct", reward=1.0, verifier=name)

    monkeypatch.setattr(verify.registry, "score", judged_while_interrupted)
    batch = [("math", {"rollout_id": f"r{i}", "completion": str(i)}, {}) for i in range(200)]
    with ThreadPoolExecutor(1) as pool:
        rows = verify._judge_batch(pool, batch, verify.VerifyConfig(workers=1), stop)
    assert [(r["rollout_id"], r["status"]) for r in rows] == [("r0", "correct"), ("r1", "correct")]
