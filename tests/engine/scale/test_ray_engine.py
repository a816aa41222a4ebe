"""`rlvr generate --engine ray` / `rlvr verify --engine ray` (issue 14): the same rollout ids,
completions and verdicts as the local engine for a fixed seed, and a killed Ray job resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.lake import Lake

pytest.importorskip("ray")
# One Ray per pytest process: under xdist `--dist loadgroup`, all Ray tests share one worker.
pytestmark = pytest.mark.xdist_group("ray")


def _cli(*args: str) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code == 0


def _synth(lake: str, n: int = 6) -> None:
    _cli("prompts", "synth", "--task", "arithmetic", "--n", str(n), "--split", "test",
         "--dataset", "arith", "--lake", lake)  # fmt: skip


GEN = ("--dataset", "arith", "-k", "2", "--max-tokens", "24", "--seed", "7", "--batch-size", "4",
       "--run-id", "gen-same")  # fmt: skip


def _rollouts(lake: str) -> list[tuple]:
    con = Lake.open(lake).connect()
    return con.execute("SELECT rollout_id, prompt_id, sample_idx, completion, seed, finish_reason "
                       "FROM rollouts ORDER BY rollout_id").fetchall()  # fmt: skip


def _verdicts(lake: str) -> list[tuple]:
    con = Lake.open(lake).connect()
    return con.execute("SELECT rollout_id, verifier, status, reward, extracted FROM verdicts "
                       "ORDER BY rollout_id, verifier").fetchall()  # fmt: skip


def test_ray_engine_gives_the_local_engines_ids_and_verdicts(ray_local, tiny_model, tmp_path):
    local, distributed = str(tmp_path / "local"), str(tmp_path / "ray")
    for lake in (local, distributed):
        _synth(lake)
    _cli("generate", *GEN, "--model", str(tiny_model), "--lake", local)
    _cli("generate", *GEN, "--model", str(tiny_model), "--lake", distributed,
         "--engine", "ray", "--ray-actors", "2")  # fmt: skip
    expected = _rollouts(local)
    assert len(expected) == 12
    assert _rollouts(distributed) == expected  # same ids, same completions, same seeds
    _cli("verify", "--verifier", "format", "--lake", local)
    _cli("verify", "--verifier", "format", "--lake", distributed, "--engine", "ray")
    verdicts = _verdicts(local)
    assert len(verdicts) == 24 and {v for _, v, *_ in verdicts} == {"math", "format"}
    assert _verdicts(distributed) == verdicts
    runs = (
        Lake.open(distributed)
        .connect()
        .execute(
            "SELECT kind, status, params->>'engine' FROM runs WHERE kind <> 'ingest' ORDER BY kind"
        )
        .fetchall()
    )
    assert runs == [("generate", "done", "ray"), ("verify", "done", "ray")]
    # resumable: a second Ray verify finds nothing to judge
    _cli("verify", "--verifier", "format", "--lake", distributed, "--engine", "ray")
    assert len(_verdicts(distributed)) == 24


def test_a_killed_ray_job_is_resumed_filling_only_what_is_missing(ray_local, tiny_model, tmp_path):
    lake = str(tmp_path / "lake")
    _synth(lake, n=16)
    args = [sys.executable, "-m", "engine.cli", "generate", "--dataset", "arith", "-k", "2",
            "--max-tokens", "24", "--batch-size", "2", "--run-id", "gen-kill",
            "--model", str(tiny_model), "--lake", lake, "--engine", "ray",
            "--ray-address", ray_local]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    folder = tmp_path / "lake" / "rollouts" / "run_id=gen-kill"
    deadline = time.monotonic() + 120
    while not list(folder.glob("part-*.parquet")):
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no rollouts file within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {path.name for path in folder.glob("part-*.parquet")}
    kept = _rollouts(lake)
    assert 0 < len(kept) < 32, "the job was killed part-way"
    assert "gen-kill" in Lake.open(lake).stale_runs()
    _cli("generate", "--dataset", "arith", "-k", "2", "--max-tokens", "24", "--batch-size", "2",
         "--run-id", "gen-kill", "--model", str(tiny_model), "--lake", lake, "--engine", "ray")  # fmt: skip
    after = _rollouts(lake)
    assert len(after) == 32 and len({r[0] for r in after}) == 32
    assert set(kept) <= set(after)  # what the killed job wrote is kept as it was
    assert before <= {path.name for path in folder.glob("part-*.parquet")}
    con = Lake.open(lake).connect()
    raw = con.execute(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchone()[0]
    assert raw == 32  # nothing generated twice


def test_generate_verify_with_the_ray_engine_is_a_user_error(tmp_path, capsys) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--dataset", "arith", "--model", "m", "--verify", "--engine", "ray",
              "--lake", str(tmp_path / "lake")])  # fmt: skip
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --verify is local-only") and "Traceback" not in err
    assert not (tmp_path / "lake" / "runs").exists()  # nothing written
