"""A lake on S3 (issue 14), against moto's S3 server: the round trip (write, `rlvr sql`, `rlvr lake
check`, `rlvr lake compact`), conditional puts enforced, two concurrent writers losing nothing."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from engine.lake import Lake

pytest.importorskip("boto3")


def _prompts(n: int, start: int = 0) -> list[dict]:
    return [{"prompt_id": f"p{i}", "dataset": "demo", "task": "math", "problem": f"{i}+1?",
             "answer": str(i + 1)} for i in range(start, start + n)]  # fmt: skip


def _rollouts(ids: range) -> list[dict]:
    return [{"rollout_id": f"r{i}", "prompt_id": f"p{i % 5}", "sample_idx": i,
             "completion": f"\\boxed{{{i % 5 + 1}}}", "source": "generate"} for i in ids]  # fmt: skip


def _cli(capsys, *args: str) -> str:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    assert exit_.value.code == 0, err
    return out


def test_s3_lake_round_trip_sql_check_compact(s3_env, capsys) -> None:
    url = f"s3://{s3_env['bucket']}/team/lake"
    lake = Lake.open(url)
    assert type(lake).__name__ == "S3Lake"
    with lake.run("ingest") as run_id:
        lake.append("prompts", _prompts(3), run_id=run_id)
        lake.append("prompts", _prompts(3, start=2), run_id=run_id)  # p2 again: deduped on write
    with lake.run("generate") as gen:
        for start in (0, 4, 8):
            lake.append("rollouts", _rollouts(range(start, start + 4)), run_id=gen)
    assert len(lake.files("rollouts", gen)) == 3
    verdicts = [{"rollout_id": "r1", "verifier": "math", "status": status, "reward": reward,
                 "created_at": datetime(2026, 1, day, tzinfo=UTC)}
                for status, reward, day in (("incorrect", 0.0, 1), ("correct", 1.0, 2))]  # fmt: skip
    lake.append("verdicts", verdicts[:1], run_id="verify-1")
    lake.append("verdicts", verdicts[1:], run_id="verify-1")

    query = ("SELECT (SELECT count(*) FROM prompts) AS p, (SELECT count(*) FROM rollouts) AS r, "
             "(SELECT status FROM verdicts) AS v, "
             "(SELECT pass_at_k(n, c, 1) FROM prompt_scores) AS pass1")  # fmt: skip
    expected = [{"p": 5, "r": 12, "v": "correct", "pass1": 1.0}]
    out = _cli(capsys, "sql", query, "--lake", url, "--format", "json")
    assert [json.loads(line) for line in out.splitlines()] == expected
    _cli(capsys, "lake", "check", "--lake", url)  # exit 0: nothing to report
    _cli(capsys, "lake", "compact", "--lake", url)
    fresh = Lake.open(url, create=False)
    assert len(fresh.files("rollouts", gen)) == 1  # three parts merged into one
    assert len(fresh.files("verdicts", "verify-1")) == 1
    raw = fresh.connect().execute(
        f"SELECT count(*) FROM read_parquet({fresh.files('verdicts')!r})").fetchone()  # fmt: skip
    assert raw == (1,)  # the superseded verdict row is gone, the latest one kept
    out = _cli(capsys, "sql", query, "--lake", url, "--format", "json")
    assert [json.loads(line) for line in out.splitlines()] == expected
    # a corrupt object is reported by check (exit 1) and skipped by readers
    assert fresh.put_if_absent(f"rollouts/run_id={gen}/part-bad.parquet", b"PAR1 not parquet")
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["lake", "check", "--lake", url])
    assert exit_.value.code == 1
    line = capsys.readouterr().out
    assert line.startswith("corrupt\t") and "part-bad.parquet" in line
    out = _cli(capsys, "sql", query, "--lake", url, "--format", "json")
    assert [json.loads(line) for line in out.splitlines()] == expected


def test_reading_a_missing_s3_lake_is_a_user_error(s3_env, capsys) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["sql", "SELECT 1", "--lake", f"s3://{s3_env['bucket']}/nothing-here"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: no lake at")


def test_conditional_put_refuses_to_overwrite_a_part(s3_env) -> None:
    lake = Lake.open(f"s3://{s3_env['bucket']}/lake")
    assert lake.put_if_absent("rollouts/run_id=x/part-1.parquet", b"first")
    assert not lake.put_if_absent("rollouts/run_id=x/part-1.parquet", b"second")  # 412 from moto
    body = lake.client.get_object(
        Bucket=s3_env["bucket"], Key="lake/rollouts/run_id=x/part-1.parquet"
    )
    assert body["Body"].read() == b"first"
    assert lake.put_if_absent("rollouts/run_id=x/part-2.parquet", b"second")  # control


def test_two_concurrent_writers_lose_nothing(s3_env) -> None:
    url = f"s3://{s3_env['bucket']}/lake"

    def writer(offset: int) -> None:
        lake = Lake.open(url)  # each writer its own client, as two machines would have
        for start in range(offset, offset + 40, 8):
            # both writers also write ids 30..39: dedupe under the table's lease keeps one copy
            lake.append("rollouts", _rollouts(range(start, start + 8)), run_id="gen-shared")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(writer, (0, 30)))
    lake = Lake.open(url, create=False)
    files = lake.files("rollouts", "gen-shared")
    raw = lake.connect().execute(
        f"SELECT rollout_id FROM read_parquet({files!r})").fetchall()  # fmt: skip
    assert sorted(r for (r,) in raw) == sorted(f"r{i}" for i in range(70))  # all, each once
    assert lake.keys(".rlvr/locks/") == []  # every lease released
