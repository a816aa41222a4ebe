"""`rlvr ui` benchmark (issue 15): p50/p99 page times of the viewer's main pages on a lake of 1M
rollouts. Target: every page ≤ 300 ms once the per-run cache is built.

The lake is written straight in the lake's layout with pyarrow (its file schema and write
options, one file per 128k rows, hive partitions by run): two generate runs ``base`` and ``rl``
on the same prompts (k samples each; ``rl`` solves more) and a small training run with steps,
each rollout with a math verdict from a verify run. Completions are ~``--chars`` characters of
Zipf word salad with a boxed answer (they compress like prose), so text reads cost what they
would on real traces. Building the lake is not timed.

Timed, from a cold start: the lake's files are first dropped from the OS page cache
(``posix_fadvise(DONTNEED)``, ``--page-cache keep`` skips it), then start-up — the app created and
warmed up as ``rlvr ui`` does before it listens (the per-run cache of :class:`engine.ui.store.Store`
built, every data file's footer read, the SQL box opened, templates compiled) — is reported on its
own (``startup_s``). After that, every page load counts: each page ``--repeats`` times with varying
parameters (prompt, rollout, page, sort), the first load of each included in its p99 (and shown as
``first_ms``); rendered in-process through FastAPI's TestClient (routing, queries and Jinja2
rendering; no socket). Text is read from disk as pages ask for it, so the random prompts and
rollouts hit cold parts of the files. The SQL box's time depends on the user's query, so two of
them are reported apart: one over the runs view and one over the rollouts view (a full pass over
the table's one-row-per-id window).

    .venv/bin/python benchmarks/ui_bench.py --keep               # 1M rollouts → results/ui_bench.json
    .venv/bin/python benchmarks/ui_bench.py --rollouts 20000 --out benchmarks/.work/ui_bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import ids  # noqa: E402
from engine.lake import Lake  # noqa: E402
from engine.lake_files import ROW_GROUP_ROWS, file_schema, write_options  # noqa: E402
from engine.schema import SCHEMAS  # noqa: E402

BASE, RL, TRAIN = (
    "20261201T000000-generate-base",
    "20261201T010000-generate-rl",
    "20261201T020000-train-grpo",
)
VERIFY = "20261201T030000-verify-bench"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def word_pool(rng: np.random.Generator, size: int, chars: int) -> pa.Array:
    """``size`` chunks of ~``chars`` characters of Zipf word salad (compresses like prose)."""
    letters = np.array(list("etaoinshrdlucmfwypvbgkqjxz"))
    vocab = ["".join(rng.choice(letters[:20], n)) for n in rng.integers(2, 10, size=20_000)]
    vocab[:6] = ["wait,", "so", "the", "we", "x^2", "\\frac{1}{2}"]
    texts = []
    for _ in range(size):
        words = [vocab[min(i, len(vocab)) - 1] for i in rng.zipf(1.15, chars // 5)]
        texts.append(" ".join(words)[:chars])
    return pa.array(texts, pa.string())


def write(lake: Lake, table: str, run_id: str, arrow: pa.Table) -> None:
    """``arrow`` into the run's partition, one new file per ``ROW_GROUP_ROWS`` rows."""
    folder = lake.table_path(table) / f"run_id={run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    first = len(list(folder.glob("part-*.parquet")))  # a second write adds files, never replaces
    arrow = arrow.append_column("created_at", pa.array([NOW] * arrow.num_rows, SCHEMAS[table].field("created_at").type)) \
        if "created_at" not in arrow.column_names else arrow  # fmt: skip
    arrow = arrow.append_column("run_id", pa.array([run_id] * arrow.num_rows))
    arrow = arrow.select([n for n in SCHEMAS[table].names if n in arrow.column_names])
    full = pa.Table.from_arrays(
        [arrow[n] if n in arrow.column_names else pa.nulls(arrow.num_rows, SCHEMAS[table].field(n).type)
         for n in SCHEMAS[table].names], schema=SCHEMAS[table])  # fmt: skip
    for i, start in enumerate(range(0, full.num_rows, ROW_GROUP_ROWS)):
        part = full.slice(start, ROW_GROUP_ROWS).cast(file_schema(table))
        pq.write_table(part, folder / f"part-{first + i:05d}.parquet", row_group_size=ROW_GROUP_ROWS,
                       **write_options(table))  # fmt: skip


def rollouts_of(rng, run_id, prompt_ids, difficulty, k, pool, *, boost=0.0, steps=None):
    """Rollouts and verdicts of one run: each prompt ``k`` times, correct with its probability."""
    n = len(prompt_ids) * k
    prompt_col = np.repeat(np.array(prompt_ids, dtype=object), k)
    sample_idx = np.tile(np.arange(k, dtype=np.int32), len(prompt_ids))
    correct = rng.random(n) < np.clip(np.repeat(difficulty, k) + boost, 0, 1)
    wrong = rng.integers(2, 6, size=n).astype(str)  # few wrong answers: majority votes matter
    answers = np.where(correct, "1", wrong)
    rids = [ids.rollout_id(run_id, p, int(s)) for p, s in zip(prompt_col, sample_idx, strict=True)]
    chunks = [pool.take(pa.array(rng.integers(0, len(pool), size=n))) for _ in range(3)]
    reasoning = pc.binary_join_element_wise(*chunks, " ")
    answer_text = pc.binary_join_element_wise(
        "So the final answer is $\\boxed{", pa.array(answers), "}$.", ""
    )
    completion = pc.binary_join_element_wise(
        "<think>\n", reasoning, "\n</think>\n\n", answer_text, ""
    )
    truncated = rng.random(n) < 0.03
    rollouts = pa.table({
        "rollout_id": rids, "prompt_id": prompt_col.tolist(), "sample_idx": sample_idx,
        "model": ["bench-model"] * n, "completion": completion, "reasoning": reasoning,
        "answer_text": answer_text,
        "completion_tokens": (pc.utf8_length(completion).to_numpy() // 4).astype(np.int32),
        "finish_reason": np.where(truncated, "length", "stop").tolist(),
        "source": ["train" if steps else "generate"] * n,
        "step": (sample_idx // max(1, k // steps) + 1).astype(np.int64) if steps else pa.nulls(n, pa.int64()),
    })  # fmt: skip
    verdicts = pa.table({
        "rollout_id": rids, "verifier": ["math"] * n,
        "status": np.where(correct, "correct", "incorrect").tolist(),
        "reward": correct.astype(np.float64), "extracted": answers.tolist(),
    })  # fmt: skip
    return rollouts, verdicts


def build_lake(path: Path, rollouts: int, k: int, chars: int, seed: int) -> Lake:
    """Two generate runs of ``rollouts // 2`` each on the same prompts, plus a training run."""
    rng = np.random.default_rng(seed)
    lake = Lake.open(path)
    n_prompts = max(1, rollouts // (2 * k))
    problems = [
        f"Bench problem {i}: compute the value of expression number {i}." for i in range(n_prompts)
    ]
    datasets = [("math500", "aime24", "gsm8k")[i % 3] for i in range(n_prompts)]
    prompt_ids = [ids.prompt_id(d, p) for d, p in zip(datasets, problems, strict=True)]
    write(lake, "prompts", "20261201T000000-ingest-bench", pa.table({
        "prompt_id": prompt_ids, "dataset": datasets, "split": ["test"] * n_prompts,
        "task": ["math"] * n_prompts, "problem": problems, "answer": ["1"] * n_prompts}))  # fmt: skip
    pool = word_pool(rng, 4000, chars // 3)
    difficulty = rng.beta(0.7, 0.7, size=n_prompts)
    train_prompts = prompt_ids[: max(1, n_prompts // 50)]
    for run_id, kind, boost, steps, subset in [
        (BASE, "generate", 0.0, None, prompt_ids), (RL, "generate", 0.15, None, prompt_ids),
        (TRAIN, "train", 0.05, 16, train_prompts),
    ]:  # fmt: skip
        lake.write_run(kind, run_id=run_id, model="bench-model")
        kk = 64 if steps else k
        rows, verdicts = rollouts_of(rng, run_id, subset, difficulty[: len(subset)], kk, pool,
                                     boost=boost, steps=steps)  # fmt: skip
        write(lake, "rollouts", run_id, rows)
        write(lake, "verdicts", VERIFY if not steps else run_id, verdicts)
        lake.finish_run(run_id)
    return lake


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def page_urls(store, repeats: int, rng: np.random.Generator) -> dict[str, list[str]]:
    """For each page, ``repeats`` URLs with varying prompt, page and sort."""
    cur = store.cursor()
    prompts = [
        r[0]
        for r in cur.execute(
            "SELECT prompt_id FROM ui_prompt_stats WHERE run_id = ? USING SAMPLE 200 ROWS", [BASE]
        ).fetchall()
    ]
    rollouts = [r[0] for r in cur.execute(
        "SELECT rollout_id FROM ui_facts WHERE run_id = ? USING SAMPLE 200 ROWS", [BASE]).fetchall()]  # fmt: skip
    pick = lambda xs: xs[int(rng.integers(0, len(xs)))]  # noqa: E731
    sorts = ["pass_rate", "mean_tokens", "maj_answer", "n"]
    words = ["wait", "frac", "so the", "boxed{3}"]
    r = range(repeats)
    return {
        "runs": ["/" for _ in r],
        "run_prompts": [f"/runs/{BASE}?sort={sorts[i % 4]}&desc={i % 2 == 0}&page={1 + i % 20}" for i in r],
        "prompt_rollouts": [f"/runs/{BASE}/prompts/{pick(prompts)}" for _ in r],
        "rollout": [f"/rollouts/{pick(rollouts)}" for _ in r],
        "filter_incorrect": [f"/runs/{BASE}/rollouts?status=incorrect&page={1 + i % 20}" for i in r],
        "filter_length_dataset": [f"/runs/{BASE}/rollouts?min_tokens=400&max_tokens=600&dataset=aime24&truncated={i % 2}" for i in r],
        "search": [f"/runs/{BASE}/rollouts?q={words[i % 4]}&page={1 + i % 3}" for i in r],
        "compare": [f"/compare?a={BASE}&b={RL}&page={1 + i % 20}" for i in r],
        "compare_flipped": [f"/compare?a={BASE}&b={RL}&flipped=true&page={1 + i % 5}" for i in r],
        "training_steps": [f"/runs/{TRAIN}" for _ in r],
        "sql_runs": ["/sql?q=SELECT+*+FROM+runs" for _ in r],
    }  # fmt: skip


def evict(root: Path) -> int:
    """Drop the lake's files from the OS page cache (``POSIX_FADV_DONTNEED``); bytes evicted."""
    total = 0
    for path in root.rglob("*.parquet"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        total += path.stat().st_size
    return total


def measure(client, urls: list[str]) -> dict[str, float]:
    times, cpu = [], []
    for url in urls:
        started, used = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)  # this process's threads, all cores
        if response.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {response.status_code}: {response.text[-300:]}")
    return {"p50_ms": round(statistics.median(times), 1), "p99_ms": round(percentile(times, 0.99), 1),
            "max_ms": round(max(times), 1), "first_ms": round(times[0], 1), "n": len(times),
            "cpu_p50_ms": round(statistics.median(cpu), 1), "cpu_p99_ms": round(percentile(cpu, 0.99), 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollouts", type=int, default=1_000_000)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--chars", type=int, default=1800, help="characters per completion")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks/.work/ui_lake")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ui_bench.json")
    parser.add_argument("--keep", action="store_true", help="reuse the lake in --work if present")
    parser.add_argument("--page-cache", choices=["evict", "keep"], default="evict",
                        help="evict (default): start with the lake's files out of the OS page cache")  # fmt: skip
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from engine.ui import create_app

    marker = args.work / f".bench-v2-{args.rollouts}-{args.k}-{args.chars}-{args.seed}"
    started = time.perf_counter()
    if not (args.keep and marker.exists()):
        shutil.rmtree(args.work, ignore_errors=True)
        build_lake(args.work, args.rollouts, args.k, args.chars, args.seed)
        marker.touch()
    lake = Lake.open(args.work, create=False)
    build_lake_s = time.perf_counter() - started
    evicted = evict(args.work) if args.page_cache == "evict" else 0
    load_before = os.getloadavg()
    started = time.perf_counter()
    app = create_app(lake, sql_timeout_s=60)
    warm = app.state.warm_up()  # what `rlvr ui` does before it listens
    startup_s = time.perf_counter() - started
    client = TestClient(app)
    store = app.state.store
    total = store.cursor().execute("SELECT count(*) FROM ui_facts").fetchone()[0]
    pages = {name: measure(client, urls)
             for name, urls in page_urls(store, args.repeats, np.random.default_rng(1)).items()}  # fmt: skip
    sql_rollouts = measure(
        client, [f"/sql?q=SELECT+count(*)+FROM+rollouts+WHERE+run_id='{BASE}'"] * 3
    )
    result = {
        "benchmark": "rlvr ui pages (issue 15)",
        "rollouts": int(total), "k": args.k, "completion_chars": args.chars,
        "target_ms": 300, "all_pages_p99_within_target": all(p["p99_ms"] <= 300 for p in pages.values()),
        "startup_s": round(startup_s, 2), "cache_build_s": round(warm["cache_build_s"], 2),
        "warm_up_s": round(warm["warm_up_s"], 2), "page_cache": args.page_cache,
        "bytes_evicted_before_start": evicted,
        "p99_over": "every page load after start-up, the first of each page included",
        "pages": pages, "sql_box_full_rollouts_view": sql_rollouts,
        "lake_bytes": sum(p.stat().st_size for p in args.work.rglob("*.parquet")),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "lake_build_s": round(build_lake_s, 1), "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(), "cpus": os.cpu_count(), "python": platform.python_version(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
