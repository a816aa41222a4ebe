"""Scale-out benchmark (issue 14): the Ray engine against the local engine, S3 against local disk.

1. Verification of N math rollouts and M code rollouts (default 100k and 10k) with
   ``rlvr verify --engine local`` and ``--engine ray`` on the same machine, in the same run, on
   identical copies of one lake. Ray's start-up (``ray.init``) is timed on its own; the target is
   a Ray overhead of at most 20% once Ray is up. ``first_batch_s`` is when the first verdict
   file landed: each actor imports the verifiers and starts its own sympy worker pool, a fixed
   cost of some seconds that the full N amortises and ``--quick`` does not;
   ``steady_verdicts_per_s`` is the rate after that first file. ``overhead`` is the whole Ray
   wall time (actor start included, ``ray.init`` not) against the local engine's, with the same
   concurrency: ``--cpus`` threads locally, ``--cpus`` actors of one thread each on Ray.
   Half the rollouts are right, half wrong; code rollouts run in the sandbox (a stdio sum
   problem: ``print(sum(map(int, input().split())))``).
2. The lake on S3 (a moto server on this machine) against a lake on local disk: appending
   rollouts in batches, then a pass@k query over ``prompt_scores``.

Results: JSON on stdout and in ``--out`` (default benchmarks/results/scale_bench.json; with
``--quick`` benchmarks/.work/scale_bench.json, so a smoke run never replaces the recorded one).

Usage: .venv/bin/python benchmarks/scale_bench.py [--quick] [--math N] [--code M] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.lake import Lake  # noqa: E402
from engine.verify import VerifyConfig, verify_rollouts  # noqa: E402

WORK = ROOT / "benchmarks" / ".work"
RESULTS = ROOT / "benchmarks" / "results"
CODE_TESTS = json.dumps({"version": 1, "kind": "stdio", "checker": "tokens",
                         "cases": [{"stdin": "1 2\n", "expected": ["3\n"]},
                                   {"stdin": "5 7\n", "expected": ["12\n"]}]})  # fmt: skip
RIGHT_CODE = "```python\nprint(sum(map(int, input().split())))\n```"
WRONG_CODE = "```python\nprint(max(map(int, input().split())))\n```"


def build_lake(path: Path, n_math: int, n_code: int, batch: int = 50_000) -> None:
    """Prompts (one math prompt per 8 rollouts, one code prompt) and rollouts, half right."""
    shutil.rmtree(path, ignore_errors=True)
    lake = Lake.open(path)
    n_prompts = max(1, n_math // 8)
    prompts = [{"prompt_id": f"m{i}", "dataset": "bench-math", "task": "math",
                "problem": f"{i}+1?", "answer": str(i + 1)} for i in range(n_prompts)]  # fmt: skip
    prompts.append({"prompt_id": "c0", "dataset": "bench-code", "task": "code",
                    "problem": "Sum two integers.", "tests": CODE_TESTS})  # fmt: skip
    lake.append("prompts", prompts, run_id="ingest-bench")
    rows = [{"rollout_id": f"rm{i}", "prompt_id": f"m{i % n_prompts}", "sample_idx": i,
             "completion": f"so \\boxed{{{i % n_prompts + 1 + i % 2}}}", "source": "generate"}
            for i in range(n_math)]  # fmt: skip
    rows += [{"rollout_id": f"rc{i}", "prompt_id": "c0", "sample_idx": i,
              "completion": RIGHT_CODE if i % 2 == 0 else WRONG_CODE, "source": "generate"}
             for i in range(n_code)]  # fmt: skip
    lake.append_batches("rollouts", (rows[i : i + batch] for i in range(0, len(rows), batch)),
                        run_id="gen-bench")  # fmt: skip


def bench_verify(n_math: int, n_code: int, cpus: int) -> dict:
    base = WORK / "scale-lake"
    build_lake(base, n_math, n_code)
    local, distributed = WORK / "scale-local", WORK / "scale-ray"
    for target in (local, distributed):
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target)
    config = VerifyConfig(workers=cpus, batch_rows=256)  # many batches: both actors busy to the end
    start = time.perf_counter()
    summary = verify_rollouts(Lake.open(local), config=config)
    local_s = time.perf_counter() - start

    import ray

    from engine.ray_engine import RayOptions, verify_ray

    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    startup_s = time.perf_counter() - start
    start = time.perf_counter()
    options = RayOptions(actors=cpus, threads=1)
    first: list[float] = []  # when the first verdict file landed: actors and their pools are up
    after_first = [0]  # verdicts written after the first file (the steady-state rate)

    def on_batch(rows: int) -> None:
        if first:
            after_first[0] += rows
        else:
            first.append(time.perf_counter() - start)

    ray_summary = verify_ray(Lake.open(distributed), config=config, options=options,
                             on_batch=on_batch)  # fmt: skip
    ray_s = time.perf_counter() - start
    ray.shutdown()
    same = _verdicts(local) == _verdicts(distributed)
    return {
        "rollouts": {"math": n_math, "code": n_code},
        "local": {"wall_s": round(local_s, 2), "verdicts": summary.judged,
                  "verdicts_per_s": round(summary.judged / local_s, 1),
                  "by_status": _status(summary)},
        "ray": {"startup_s": round(startup_s, 2), "wall_s": round(ray_s, 2),
                "verdicts": ray_summary.judged, "verdicts_per_s": round(ray_summary.judged / ray_s, 1),
                "first_batch_s": round(first[0], 2) if first else None,
                "steady_verdicts_per_s": round(after_first[0] / (ray_s - first[0]), 1)
                if first and ray_s > first[0] else None,
                "ray_version": ray.__version__,
                "actors": cpus, "by_status": _status(ray_summary)},
        "overhead": round(ray_s / local_s - 1, 3),
        "target_overhead": 0.2,
        "meets_target": ray_s / local_s - 1 <= 0.2,
        "same_verdicts": same,
    }  # fmt: skip


def _status(summary) -> dict:
    return {f"{v}:{s}": n for (v, s), n in sorted(summary.by_status.items())}


def _verdicts(path: Path) -> list:
    con = Lake.open(path).connect()
    return con.execute("SELECT rollout_id, verifier, status, reward FROM verdicts "
                       "ORDER BY rollout_id, verifier").fetchall()  # fmt: skip


def start_moto() -> tuple[subprocess.Popen, dict]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    os.environ.update(env)
    import boto3

    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="bench")
    return proc, env


PASS_AT_K = """SELECT avg(pass_at_k(n, c, 1)), avg(pass_at_k(n, c, 4)), count(*)
               FROM prompt_scores"""


def bench_lake(rollouts: int, batches: int) -> dict:
    proc, _ = start_moto()
    try:
        out = {}
        for name, where in (
            ("local_disk", str(WORK / "scale-lake-disk")),
            ("s3_moto", "s3://bench/lake"),
        ):
            if not where.startswith("s3://"):
                shutil.rmtree(where, ignore_errors=True)
            out[name] = _lake_round(where, rollouts, batches)
        out["append_ratio_s3_to_disk"] = round(
            out["s3_moto"]["append_s"] / out["local_disk"]["append_s"], 2
        )
        out["query_ratio_s3_to_disk"] = round(
            out["s3_moto"]["query_s"] / out["local_disk"]["query_s"], 2
        )
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _lake_round(where: str, rollouts: int, batches: int) -> dict:
    lake = Lake.open(where)
    n_prompts = max(1, rollouts // 8)
    lake.append("prompts", [{"prompt_id": f"m{i}", "dataset": "d", "task": "math", "problem": str(i),
                             "answer": "1"} for i in range(n_prompts)], run_id="ingest")  # fmt: skip
    per = rollouts // batches
    start = time.perf_counter()
    for b in range(batches):
        ids = range(b * per, (b + 1) * per)
        lake.append("rollouts", [{"rollout_id": f"r{i}", "prompt_id": f"m{i % n_prompts}",
                                  "sample_idx": i, "completion": "\\boxed{1}", "source": "generate"}
                                 for i in ids], run_id="gen")  # fmt: skip
        lake.append("verdicts", [{"rollout_id": f"r{i}", "verifier": "math",
                                  "status": "correct" if i % 3 else "incorrect",
                                  "reward": 1.0 if i % 3 else 0.0} for i in ids], run_id="verify")  # fmt: skip
    append_s = time.perf_counter() - start
    start = time.perf_counter()
    row = lake.connect().execute(PASS_AT_K).fetchone()
    query_s = time.perf_counter() - start
    return {"rows": per * batches, "batches": batches, "append_s": round(append_s, 3),
            "rows_per_s": round(2 * per * batches / append_s), "query_s": round(query_s, 3),
            "pass@1": round(row[0], 4), "pass@4": round(row[1], 4), "prompts": row[2]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k math, 200 code, 20k lake rows")
    parser.add_argument("--math", type=int, default=100_000)
    parser.add_argument("--code", type=int, default=10_000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--out", type=Path, help="default: benchmarks/results/scale_bench.json "
                        "(--quick: benchmarks/.work/scale_bench.json)")  # fmt: skip
    args = parser.parse_args()
    if args.out is None:
        args.out = WORK / "scale_bench.json" if args.quick else RESULTS / "scale_bench.json"
    n_math, n_code = (2_000, 200) if args.quick else (args.math, args.code)
    lake_rows, lake_batches = (20_000, 10) if args.quick else (200_000, 50)
    WORK.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = {"quick": args.quick, "cpus": args.cpus, "load_avg_before": os.getloadavg(),
              "verify": bench_verify(n_math, n_code, args.cpus),
              "lake": bench_lake(lake_rows, lake_batches)}  # fmt: skip
    result["load_avg_after"] = os.getloadavg()
    result["wall_s"] = round(time.perf_counter() - start, 1)
    text = json.dumps(result, indent=2)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
