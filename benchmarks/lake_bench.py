"""Lake benchmark: ingest 1M rollouts + 1M verdicts, then per-prompt pass@k, against JSONL dumps.

The anchor is the format open-r1 and NeMo-Skills write: one JSON object per rollout line with the
generation text and a correctness field (NeMo-Skills' ``symbolic_correct``), read back the way
their evaluation scripts do (``json.loads`` per line), and, to be fair to JSONL, also by DuckDB's
``read_json``. Both answer the same question in the same run: n, c and pass@k per prompt.

Targets (issue 2, on the 2-core dev machine): ingest ≥ 100k rollouts/s, pass@k ≤ 2 s, peak
memory during ingest ≤ 2 GB. A rollout row holds what the generator will write: a ~1.9 KB
completion plus its reasoning and answer_text columns (~3.8 KB of text); the JSONL line holds the
completion once, as the anchors do. Texts are made once up front (Zipf-distributed words, so they
compress like prose, ~3x) and not timed; the ingest time is wall-clock over ``append_batches``,
which includes assembling each batch and hashing its ids (also reported apart, as
``batch_assembly_s``). Ingest runs in its own process so its peak RSS is its own; the machine is
shared, so the load average before and after goes into the JSON.

    .venv/bin/python benchmarks/lake_bench.py           # 1,000,000 rollouts
    .venv/bin/python benchmarks/lake_bench.py --quick   # 100,000 rollouts, < 60 s
    .venv/bin/python benchmarks/lake_bench.py --sql-export 30000000   # `rlvr sql -o`, peak RSS
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import ids
from engine.lake import Lake

HERE = Path(__file__).resolve().parent
SAMPLES_PER_PROMPT = 16
KS = (1, 8)
TARGETS = {"ingest_rollouts_per_s": 100_000, "pass_at_k_s": 2.0, "ingest_peak_rss_mb": 2048}

CHUNKS_PER_TEXT = 4  # a reasoning text is 4 chunks of ~450 characters drawn from the pool


def make_pool(rng: np.random.Generator, size: int, chars: int) -> pa.Array:
    """``size`` chunks of ~``chars`` characters of word salad that compresses like prose.

    Words follow a Zipf law over a 20k-word vocabulary (as in natural text), sprinkled with
    numbers and LaTeX, so zstd gets ~3x as on real reasoning traces, not the 10x of templates.
    """
    letters = np.array(list("etaoinshrdlucmfwypvbgkqjxz"))
    lengths = rng.integers(2, 10, size=20_000)
    vocab = ["".join(rng.choice(letters[:20], n)) for n in lengths]
    vocab[:8] = ["\\frac{1}{2}", "x^2", "=", "+", "so", "the", "we", "wait,"]
    texts = []
    for _ in range(size):
        words = [vocab[min(i, len(vocab)) - 1] for i in rng.zipf(1.15, chars // 5)]
        words += [str(n) for n in rng.integers(0, 1000, size=len(words) // 10)]
        rng.shuffle(words)
        texts.append(" ".join(words)[:chars])
    return pa.array(texts, pa.string())


def make_texts(rng: np.random.Generator, pool: pa.Array, size: int) -> dict[str, pa.Array]:
    """The costly part of a batch (~2 KB completions), made once and reused by several batches."""
    answers = pa.array(rng.integers(0, 10_000, size=size).astype(str))
    chunks = [
        pool.take(pa.array(rng.integers(0, len(pool), size=size))) for _ in range(CHUNKS_PER_TEXT)
    ]
    reasoning = pc.binary_join_element_wise(*chunks, " ")
    answer_text = pc.binary_join_element_wise(
        "So the final answer is $\\boxed{", answers, "}$.", ""
    )
    completion = pc.binary_join_element_wise(
        "<think>\n", reasoning, "\n</think>\n\n", answer_text, ""
    )
    return {
        "answers": answers, "reasoning": reasoning, "answer_text": answer_text,
        "completion": completion, "draw": pa.array(rng.random(size)),
        "prompt_tokens": pa.array(rng.integers(50, 300, size=size).astype(np.int32)),
        "completion_tokens": pa.array((pc.utf8_length(completion).to_numpy() // 4).astype(np.int32)),
        "latency_ms": pa.array(rng.gamma(2.0, 900.0, size)),
        "elapsed_ms": pa.array(rng.gamma(1.5, 2.0, size)),
    }  # fmt: skip


def make_batches(
    run_id: str, rows: int, batch_rows: int, templates: list[dict[str, pa.Array]]
) -> Iterator[tuple[pa.Table, pa.Table, pl.DataFrame]]:
    """Rollouts, verdicts and the same rollouts as a JSONL dump, batch by batch, deterministically.

    Texts cycle through ``templates`` (so generating them does not dominate the timing); ids,
    prompts and correctness are the batch's own.
    """
    for number, start in enumerate(range(0, rows, batch_rows)):
        size = min(batch_rows, rows - start)
        text = {
            name: array.slice(0, size) for name, array in templates[number % len(templates)].items()
        }
        row = np.arange(start, start + size)
        prompt_index, sample = row // SAMPLES_PER_PROMPT, row % SAMPLES_PER_PROMPT
        pids = [
            ids.prompt_id("bench", f"problem {i}")
            for i in range(prompt_index[0], prompt_index[-1] + 1)
        ]
        pids = [pids[i - prompt_index[0]] for i in prompt_index]
        rollout_ids = [ids.rollout_id(run_id, p, s) for p, s in zip(pids, sample, strict=True)]
        # Each prompt has its own difficulty, so pass@k varies across prompts as in real data.
        correct = text["draw"].to_numpy() < (prompt_index * 2654435761 % 1000) / 1000
        rollouts = pa.table({
            "rollout_id": rollout_ids, "prompt_id": pids, "sample_idx": sample.astype(np.int32),
            "model": pa.repeat(pa.scalar("Qwen/Qwen2.5-Math-1.5B"), size),
            "completion": text["completion"], "reasoning": text["reasoning"],
            "answer_text": text["answer_text"], "prompt_tokens": text["prompt_tokens"],
            "completion_tokens": text["completion_tokens"],
            "finish_reason": pa.repeat(pa.scalar("stop"), size), "temperature": np.full(size, 0.6),
            "top_p": np.full(size, 0.95), "seed": row, "latency_ms": text["latency_ms"],
            "source": pa.repeat(pa.scalar("generate"), size),
        })  # fmt: skip
        verdicts = pa.table({
            "rollout_id": rollout_ids, "verifier": pa.repeat(pa.scalar("math"), size),
            "verifier_version": pa.repeat(pa.scalar("1"), size),
            "status": np.where(correct, "correct", "incorrect"), "reward": correct.astype(np.float64),
            "extracted": text["answers"], "detail": pa.repeat(pa.scalar('{"strategy": "sympy"}'), size),
            "elapsed_ms": text["elapsed_ms"],
        })  # fmt: skip
        dump = pa.table({
            "problem_id": pids, "generation": text["completion"],
            "expected_answer": text["answers"], "predicted_answer": text["answers"],
            "symbolic_correct": correct,
        })  # fmt: skip
        yield rollouts, verdicts, dump


def setup(rows: int, batch_rows: int) -> tuple[str, list[dict[str, pa.Array]]]:
    rng = np.random.default_rng(0)
    pool = make_pool(rng, 8192, 450)
    return "20261129T000000-generate-bench0", [make_texts(rng, pool, batch_rows) for _ in range(2)]


def dump_jsonl(work: Path, rows: int, batch_rows: int) -> dict:
    """Child process: write the same rollouts as a JSONL dump, the anchor's input."""
    run_id, templates = setup(rows, batch_rows)
    with open(work / "output.jsonl", "wb") as dump_file:
        for _, _, dump in make_batches(run_id, rows, batch_rows, templates):
            pl.from_arrow(dump).write_ndjson(dump_file)
    return {}


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # all threads of this process
    return usage.ru_utime + usage.ru_stime


def ingest(work: Path, rows: int, batch_rows: int) -> dict:
    """Child process: write rollouts, then verdicts, to the lake; its peak RSS is the ingest's.

    Wall-clock depends on how many of the shared cores other jobs leave free, so the CPU seconds
    are reported too: rows per CPU-second is the figure that does not move with the load.
    """
    run_id, templates = setup(rows, batch_rows)
    lake = Lake.open(work / "lake")
    began = time.perf_counter()
    for _ in make_batches(run_id, rows, batch_rows, templates):
        pass
    figures = {"batch_assembly_s": round(time.perf_counter() - began, 3)}  # included below
    for index, table in enumerate(("rollouts", "verdicts")):
        began, began_cpu = time.perf_counter(), cpu_s()
        batches = (batch[index] for batch in make_batches(run_id, rows, batch_rows, templates))
        lake.append_batches(table, batches, run_id=run_id)
        wall, cpu = time.perf_counter() - began, cpu_s() - began_cpu
        figures |= {
            f"{table}_write_s": round(wall, 3),
            f"{table}_cpu_s": round(cpu, 3),
            f"ingest_{table}_per_s": round(rows / wall),
            f"ingest_{table}_per_cpu_s": round(rows / cpu),
        }
    figures["ingest_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


PASS_AT_K_SQL = """
SELECT prompt_id, n, c, pass_at_k(n, c, 1) AS pass_at_1, pass_at_k(n, c, 8) AS pass_at_8
FROM prompt_scores WHERE verifier = 'math'
"""

JSONL_SQL = """
SELECT problem_id, count(*) AS n, count(*) FILTER (WHERE symbolic_correct) AS c,
       pass_at_k(n, c, 1) AS pass_at_1, pass_at_k(n, c, 8) AS pass_at_8
FROM read_json('{path}', format = 'newline_delimited') GROUP BY problem_id
"""


def time_lake(work: Path) -> dict:
    lake = Lake.open(work / "lake")
    began = time.perf_counter()
    con = lake.connect()
    connect_s = time.perf_counter() - began
    times, result = [], None
    for _ in range(3):
        began = time.perf_counter()
        result = con.sql(PASS_AT_K_SQL).arrow().read_all()
        times.append(time.perf_counter() - began)
    return {
        "connect_s": round(connect_s, 3),
        "pass_at_k_first_s": round(times[0], 3),
        "pass_at_k_s": round(statistics.median(times), 3),
        **summary(result),
    }


def summary(result: pa.Table) -> dict:
    """What the three readers must agree on: prompts, correct rollouts, mean pass@8."""
    return {
        "prompts": result.num_rows,
        "correct": int(pc.sum(result["c"]).as_py()),
        "mean_pass_at_8": round(pc.mean(result["pass_at_8"]).as_py(), 9),
    }


def reference_pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. 2021, as the JSONL evaluation scripts compute it."""
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


def time_jsonl_python(path: Path) -> dict:
    began = time.perf_counter()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(path, "rb") as lines:
        for line in lines:
            record = json.loads(line)
            entry = counts[record["problem_id"]]
            entry[0] += 1
            entry[1] += bool(record["symbolic_correct"])
    scores = {p: [reference_pass_at_k(n, c, k) for k in KS] for p, (n, c) in counts.items()}
    seconds = time.perf_counter() - began
    return {
        "s": round(seconds, 3),
        "prompts": len(scores),
        "correct": sum(c for _, c in counts.values()),
        "mean_pass_at_8": round(statistics.fmean(s[KS.index(8)] for s in scores.values()), 9),
    }


def time_jsonl_duckdb(path: Path, lake: Lake) -> dict:
    con = lake.connect()  # for the pass_at_k macro
    began = time.perf_counter()
    result = con.sql(JSONL_SQL.format(path=path)).arrow().read_all()
    seconds = time.perf_counter() - began
    return {"s": round(seconds, 3), **summary(result)}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def machine() -> dict:
    import duckdb
    import psutil

    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


# `rlvr sql -o` export (issue 10): rows flow through DuckDB's COPY instead of being materialised.
EXPORT_QUERY = "SELECT range AS i, range * 2 AS j, 'row ' || range::VARCHAR AS s FROM range({rows})"
EXPORT_WAYS = {
    # the `rlvr sql -o` command, as a user runs it
    "rlvr_sql_o": "from engine.cli import main; main()",
    # the way before issue 10: the whole result as a DataFrame, then written
    "materialised": "import duckdb,sys; duckdb.sql(sys.argv[1]).pl().write_{fmt}(sys.argv[2])",
    # the floor: DuckDB's own COPY in a bare interpreter
    "duckdb_copy": "import duckdb,sys; duckdb.sql(f\"COPY ({{sys.argv[1]}}) TO '{{sys.argv[2]}}'\")",
}


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``command``, read from its own rusage (wait4)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def sql_export(rows: int) -> dict:
    """Export ``rows`` rows to Parquet and CSV three ways; wall time and peak RSS of each."""
    work = HERE / ".work" / f"sql_export-{os.getpid()}"
    Lake.open(work / "lake")  # `rlvr sql` reads a lake, even for a query over range()
    query = EXPORT_QUERY.format(rows=rows)
    figures: dict = {}
    try:
        for fmt in ("parquet", "csv"):
            out = work / f"out.{fmt}"
            for way, code in EXPORT_WAYS.items():
                args = [query, str(out)]
                if way == "rlvr_sql_o":
                    args = ["sql", query, "-o", str(out), "--lake", str(work / "lake")]
                command = [sys.executable, "-c", code.format(fmt=fmt), *args]
                wall_s, rss_mb = peak_rss_mb(command)
                figures[f"{way}_{fmt}"] = {"s": round(wall_s, 2), "peak_rss_mb": round(rss_mb)}
                out.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def report_sql_export(rows: int, info: dict, figures: dict) -> None:
    result = {"benchmark": "lake_bench sql_export", "rows": rows, "query": EXPORT_QUERY,
              "machine": info, "figures": figures}  # fmt: skip
    out = HERE / "results" / "lake_bench_sql_export.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    table = Table(title=f"rlvr sql -o: {rows:,} rows ({info['cpus']} CPUs)")
    for column in ("export", "wall", "peak RSS"):
        table.add_column(column, justify="left" if column == "export" else "right")
    for name, figure in figures.items():
        table.add_row(name, f"{figure['s']:.1f} s", f"{figure['peak_rss_mb']:,} MB")
    Console().print(table)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="100,000 rollouts instead of 1,000,000"
    )
    parser.add_argument("--rows", type=int, help="number of rollouts (overrides --quick)")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="keep benchmarks/.work afterwards")
    parser.add_argument(
        "--sql-export",
        type=int,
        metavar="N",
        help="only the `rlvr sql -o` export of N rows (issue 10; the figure is for 30,000,000)",
    )
    parser.add_argument("--child", choices=("ingest", "dump"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    if args.sql_export:
        info = machine()
        figures = sql_export(args.sql_export)
        info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        report_sql_export(args.sql_export, info, figures)
        return
    if args.child:
        job = ingest if args.child == "ingest" else dump_jsonl
        print(json.dumps(job(args.work, rows, args.batch_rows)))
        return

    work = HERE / ".work" / f"lake_bench-{os.getpid()}"
    work.mkdir(parents=True)
    info = machine()
    child = [sys.executable, __file__, "--rows", str(rows), "--batch-rows", str(args.batch_rows)]
    try:
        figures: dict = {}
        for job in ("dump", "ingest"):  # one process each, so the ingest's peak RSS is its own
            command = [*child, "--child", job, "--work", str(work)]
            figures |= json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        figures["lake_bytes"] = folder_bytes(work / "lake")
        figures["jsonl_bytes"] = (work / "output.jsonl").stat().st_size
        figures["lake"] = time_lake(work)
        figures["jsonl_python"] = time_jsonl_python(work / "output.jsonl")
        figures["jsonl_duckdb"] = time_jsonl_duckdb(work / "output.jsonl", Lake.open(work / "lake"))
    finally:
        if not args.keep:
            shutil.rmtree(work)
    info["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report(rows, args.batch_rows, info, figures)


def report(rows: int, batch_rows: int, info: dict, figures: dict) -> None:
    lake, py, duck = figures["lake"], figures["jsonl_python"], figures["jsonl_duckdb"]
    for key in ("prompts", "correct", "mean_pass_at_8"):
        assert math.isclose(lake[key], py[key]) and math.isclose(lake[key], duck[key]), key
    result = {
        "benchmark": "lake_bench",
        "rollouts": rows,
        "verdicts": rows,
        "batch_rows": batch_rows,
        "samples_per_prompt": SAMPLES_PER_PROMPT,
        "machine": info,
        "figures": figures,
        "speedup_vs_jsonl_python": round(py["s"] / lake["pass_at_k_s"], 1),
        "speedup_vs_jsonl_duckdb": round(duck["s"] / lake["pass_at_k_s"], 1),
        "targets": TARGETS,
        "targets_met": {
            "ingest_rollouts_per_s": figures["ingest_rollouts_per_s"]
            >= TARGETS["ingest_rollouts_per_s"],
            "pass_at_k_s": lake["pass_at_k_s"] <= TARGETS["pass_at_k_s"],
            "ingest_peak_rss_mb": figures["ingest_peak_rss_mb"] <= TARGETS["ingest_peak_rss_mb"],
        },
    }
    out = HERE / "results" / "lake_bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    table = Table(title=f"lake_bench: {rows:,} rollouts + {rows:,} verdicts ({info['cpus']} CPUs)")
    for column in ("measure", "lake", "anchor", "target"):
        table.add_column(column)
    table.add_row("ingest rollouts/s", f"{figures['ingest_rollouts_per_s']:,}", "", "≥ 100,000")
    table.add_row("  per CPU-second", f"{figures['ingest_rollouts_per_cpu_s']:,}", "", "")
    table.add_row("ingest verdicts/s", f"{figures['ingest_verdicts_per_s']:,}", "", "")
    table.add_row("ingest peak RSS", f"{figures['ingest_peak_rss_mb']:,} MB", "", "≤ 2,048 MB")
    table.add_row(
        "bytes on disk",
        f"{figures['lake_bytes'] / 2**20:,.0f} MiB",
        f"{figures['jsonl_bytes'] / 2**20:,.0f} MiB (JSONL)",
        "",
    )
    table.add_row(
        "per-prompt pass@k",
        f"{lake['pass_at_k_s']:.3f} s",
        f"{py['s']:.2f} s (json.loads)",
        "≤ 2 s",
    )
    table.add_row("", "", f"{duck['s']:.2f} s (DuckDB read_json)", "")
    table.add_row(
        "speed-up",
        "",
        f"×{result['speedup_vs_jsonl_python']} / ×{result['speedup_vs_jsonl_duckdb']}",
        "",
    )
    Console().print(table)
    print(
        f"wrote {out.relative_to(HERE.parent)}; load average {info['load_average_before']} → {info['load_average_after']}"
    )


if __name__ == "__main__":
    main()
