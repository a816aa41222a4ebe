"""`rlvr eval` and `rlvr select` over N synthetic rollouts, side by side with the same work done
the way open-r1 / lighteval scripts do it: pandas over a JSONL file (issue 12).

The lake comes from ``benchmarks/helpers/select_lake.py`` (deterministic by seed: prose-like
reasoning of ~450 words, 16 samples per prompt, every r1-sft filter with something to drop, 1 %
of prompts contaminated by a benchmark span). The same rollouts, joined with their verdicts, are
written once to JSONL — the shape of a generation script's output or lighteval's details — and
the baseline reads that file with ``pandas.read_json(lines=True)``:

- eval: per prompt n and c, pass@k with the unbiased estimator in Python (lighteval's
  ``pass@k``), maj@k with ``collections.Counter`` over the first k extracted answers (ties go to
  the first answer counted, as ``most_common`` does — ``rlvr eval`` scores a t-way tie 1/t),
  no-answer and truncation rates, format reward, lengths by correctness.
- select: the r1-sft recipe's filters as pandas/str operations, exact dedup with
  ``drop_duplicates``, decontamination with a set of word 10-grams of the benchmark problems
  (open-r1's ``scripts/decontaminate.py`` way), near-dedup with ``datasketch`` MinHashLSH
  (threshold 0.8, 128 permutations, 5-word shingles), at most 4 per prompt, shortest first.

Each command runs as its own process; wall time and peak RSS come from ``os.wait4`` on it.

    .venv/bin/python benchmarks/curation_bench.py --rows 50000           # a check, ~3 min
    .venv/bin/python benchmarks/curation_bench.py                        # 1M rows, the result

Results: benchmarks/results/curation_bench.json (``--out``); lakes and JSONL in
benchmarks/.work/curation/ (git-ignored; ``--work``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASELINE_AS_BYTES = 16 << 30  # address-space cap of the pandas baseline
LIMIT_S, LIMIT_RSS_MB = 60.0, 4096  # issue 12: ≤ 60 s and ≤ 4 GB each at 1M rollouts
PY = sys.executable
RLVR = str(Path(PY).with_name("rlvr"))


# -- measurement ------------------------------------------------------------------------------
def measure(name: str, argv: list[str], out: Path, timeout_s: float) -> dict:
    """Run ``argv`` with stdout to ``out``; wall seconds, peak RSS (its own rusage), exit code."""
    start = time.perf_counter()
    with out.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.PIPE, cwd=ROOT,
                                env={**os.environ, "RLVR_PROGRESS_S": "3600"})  # fmt: skip
        deadline = start + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
    row = {"name": name, "wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024),
           "user_s": round(usage.ru_utime, 2), "system_s": round(usage.ru_stime, 2),
           "exit": proc.returncode, "timed_out": wall >= timeout_s}  # fmt: skip
    if proc.returncode != 0:
        row["stderr_tail"] = err
    print(f"{name}: {row['wall_s']} s, {row['peak_rss_mb']} MB peak RSS, exit {row['exit']}",
          file=sys.stderr)  # fmt: skip
    return row


# -- inputs -----------------------------------------------------------------------------------
def build_inputs(
    work: Path, rows: int, jsonl_rows: int | None = None
) -> tuple[Path, Path, Path, dict]:
    """The lake (built once per N), its first ``jsonl_rows`` rollouts (all by default) as JSONL
    (what the baseline reads, no more), the benchmark problems as JSONL."""
    from benchmarks.helpers.select_lake import GEN, build
    from engine.lake import Lake

    jsonl_rows = rows if jsonl_rows is None else jsonl_rows
    lake_dir, jsonl, bench = (work / f"lake-{rows}", work / f"rollouts-{rows}-{jsonl_rows}.jsonl",
                              work / f"benchmarks-{rows}.jsonl")  # fmt: skip
    timings = {}
    if not (lake_dir / "rollouts").is_dir():
        start = time.perf_counter()
        build(lake_dir, rows)
        timings["build_lake_s"] = round(time.perf_counter() - start, 1)
    if jsonl_rows and not jsonl.is_file():
        start = time.perf_counter()
        con = Lake.open(lake_dir, create=False).connect()
        con.execute(f"""COPY (
            SELECT r.prompt_id, r.sample_idx, p.dataset, p.problem, r.completion, r.reasoning,
                   r.completion_tokens, r.finish_reason, a.status = 'correct' AS correct,
                   a.reward IS NOT NULL AS judged, a.extracted, f.reward AS format_reward
            FROM rollouts r JOIN prompts p USING (prompt_id)
            LEFT JOIN verdicts a ON a.rollout_id = r.rollout_id AND a.verifier = p.task
            LEFT JOIN verdicts f ON f.rollout_id = r.rollout_id AND f.verifier = 'format'
            WHERE r.run_id = '{GEN}' ORDER BY r.prompt_id, r.sample_idx LIMIT {jsonl_rows}
        ) TO '{jsonl}.tmp' (FORMAT json)""")
        con.execute(f"""COPY (SELECT dataset, problem FROM prompts WHERE split = 'test')
                        TO '{bench}' (FORMAT json)""")
        os.replace(f"{jsonl}.tmp", jsonl)
        timings["write_jsonl_s"] = round(time.perf_counter() - start, 1)
    return lake_dir, jsonl, bench, timings


# -- the baseline (runs as `curation_bench.py --baseline eval|select FILE`) ---------------------
def _pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimator as lighteval and HumanEval's reference code write it."""
    import numpy as np

    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def _read(path: Path, nrows: int):
    import pandas as pd

    return pd.read_json(path, lines=True, nrows=nrows)  # the whole file in memory, as they do


def baseline_eval(path: Path, nrows: int) -> dict:
    from collections import Counter

    df = _read(path, nrows)
    judged = df[df["judged"]].sort_values(["prompt_id", "sample_idx"])
    per = judged.groupby("prompt_id").agg(n=("correct", "size"), c=("correct", "sum"))
    n_min = int(per["n"].min())
    ks = sorted({2**e for e in range(20) if 2**e < n_min} | {n_min})
    out = {}
    for k in ks:
        out[f"pass@{k}"] = float(
            sum(_pass_at_k(n, c, k) for n, c in zip(per["n"], per["c"], strict=True)) / len(per)
        )
    for k in ks:  # the same definition as rlvr eval: correct answers are one group, ties 1/t
        scores = []
        for _, group in judged.groupby("prompt_id"):
            first = group.head(k)
            votes = Counter("<correct>" if ok else a
                            for a, ok in zip(first["extracted"], first["correct"], strict=True)
                            if ok or a is not None)  # fmt: skip
            top = max(votes.values(), default=0)
            tied = [a for a, v in votes.items() if v == top]
            scores.append(1 / len(tied) if "<correct>" in tied else 0.0)
        out[f"maj@{k}"] = sum(scores) / len(scores)
    out["no_answer_rate"] = float(
        judged["extracted"].isna().groupby(judged["prompt_id"]).mean().mean()
    )
    out["truncation_rate"] = float(
        (df["finish_reason"] == "length").groupby(df["prompt_id"]).mean().mean()
    )
    out["format_reward"] = float(df.groupby("prompt_id")["format_reward"].mean().mean())
    for label, part in (
        ("correct", judged[judged["correct"]]),
        ("incorrect", judged[~judged["correct"]]),
    ):
        out[f"length_{label}_mean"] = float(part["completion_tokens"].mean())
        out[f"length_{label}_median"] = float(part["completion_tokens"].median())
    return out


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _repetition(text: str, n: int = 4) -> float:
    words = text.split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def _latin_share(text: str) -> float:
    letters = [ch for ch in text if ch.isalpha()]
    return sum(ch.isascii() for ch in letters) / len(letters) if letters else 1.0


def baseline_select(path: Path, nrows: int, bench_path: Path) -> dict:
    import pandas as pd
    from datasketch import MinHash, MinHashLSH

    df = _read(path, nrows)
    funnel = [("input", len(df))]

    def keep(name: str, mask) -> None:
        nonlocal df
        df = df[mask]
        funnel.append((name, len(df)))

    keep("correct", df["correct"].fillna(False).astype(bool))
    keep("not_truncated", df["finish_reason"] != "length")
    keep("format", df["format_reward"] >= 1.0)
    keep("language", df["reasoning"].fillna("").map(_latin_share) >= 0.95)
    keep("no_long_paragraphs", df["reasoning"].fillna("").map(
        lambda t: max((len(p.split()) for p in t.split("\n\n")), default=0) <= 400))  # fmt: skip
    keep("no_code_blocks", ~df["reasoning"].fillna("").str.contains("```", regex=False))
    keep("no_repetition", df["reasoning"].fillna("").map(_repetition) <= 0.5)
    keep("length", df["completion_tokens"].between(1, 32768))
    keep("exact_dedup", ~df["completion"].str.split().str.join(" ").duplicated())
    lsh, kept = MinHashLSH(threshold=0.8, num_perm=128), []
    for i, text in enumerate(df["completion"]):
        words = text.split()
        shingles = {" ".join(words[j : j + 5]).encode() for j in range(max(1, len(words) - 4))}
        sig = MinHash(num_perm=128)
        sig.update_batch(list(shingles))
        if not lsh.query(sig):
            lsh.insert(str(i), sig)
            kept.append(True)
        else:
            kept.append(False)
    keep("near_dedup", kept)
    bench = pd.read_json(bench_path, lines=True)
    grams = set().union(*(_ngrams(p.lower().split(), 10) for p in bench["problem"]))
    keep(
        "decontaminate", ~df["problem"].map(lambda p: bool(_ngrams(p.lower().split(), 10) & grams))
    )
    df = df.assign(length=df["completion"].str.len()).sort_values(["prompt_id", "length"])
    keep("max_per_prompt", df.groupby("prompt_id").cumcount() < 4)
    return {"rows": len(df), "funnel": [{"step": s, "rows": n} for s, n in funnel]}


# -- the run ----------------------------------------------------------------------------------
def _ours_eval(path: Path) -> dict:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["metric"]: r["value"] for r in rows}


def run(rows: int, work: Path, out: Path, timeout_s: float, baseline_rows: int) -> dict:
    from benchmarks.helpers.select_lake import GEN

    work.mkdir(parents=True, exist_ok=True)
    # In a child: a fork inherits this process's RSS high-water mark, so this one stays small.
    baseline_rows = min(rows, baseline_rows)
    prepared = subprocess.run([PY, __file__, "--prepare", str(rows), str(work), str(baseline_rows)], check=True,
                              stdout=subprocess.PIPE, cwd=ROOT).stdout  # fmt: skip
    lake, jsonl, bench, timings = json.loads(prepared)
    args = ["--lake", str(lake), "--run", GEN]
    results = [
        measure(
            "rlvr eval", [RLVR, "eval", *args, "--format", "json"], work / "eval.out", timeout_s
        ),
        measure(
            "rlvr select",
            [RLVR, "select", *args, "--recipe", "r1-sft", "--name", "bench", "--replace"],
            work / "select.out",
            timeout_s,
        ),
    ]
    ours = _ours_eval(work / "eval.out") if results[0]["exit"] == 0 else {}
    report = {
        "benchmark": "curation_bench", "rows": rows, "inputs": timings,
        "limits": {"wall_s": LIMIT_S, "peak_rss_mb": LIMIT_RSS_MB},
        "machine": {"cpus": os.cpu_count(), "loadavg": os.getloadavg(),
                    "python": platform.python_version()},
        "results": results,
        "rlvr_eval_metrics": {k: v for k, v in ours.items() if not k.startswith("length_")},
        "select_stdout_tail": (work / "select.out").read_text()[-1500:],
    }  # fmt: skip
    baseline_rows = min(rows, baseline_rows)
    if baseline_rows:
        # pandas holds the whole file as Python objects (~45 KB per rollout here): at 1M rows that
        # is more memory than a shared machine has, so it reads the first baseline_rows (whole
        # prompts: the file is ordered by prompt) and its times are also given per 1M rows.
        report["baseline_rows"] = baseline_rows
        me = [PY, __file__, "--baseline"]
        base = [
            measure("pandas eval (lighteval way)", [*me, "eval", str(jsonl), str(baseline_rows)], work / "b_eval.out", timeout_s * 20),
            measure("pandas select (open-r1 way)", [*me, "select", str(jsonl), str(baseline_rows), str(bench)],
                    work / "b_select.out", timeout_s * 20),
        ]  # fmt: skip
        report["results"] += base
        if base[0]["exit"] == 0:
            theirs = json.loads((work / "b_eval.out").read_text())
            report["baseline_eval_metrics"] = theirs
            if baseline_rows == rows:  # the same rollouts: the numbers must agree
                report["max_abs_diff_metrics"] = max(
                    (abs(theirs[k] - ours[k]) for k in theirs if k in ours), default=None
                )
        if base[1]["exit"] == 0:
            report["baseline_select"] = json.loads((work / "b_select.out").read_text())
        for row in base:
            row["wall_s_per_1m_rows"] = round(row["wall_s"] * 1_000_000 / baseline_rows, 1)
    report["within_limits"] = all(
        r["wall_s"] <= LIMIT_S and r["peak_rss_mb"] <= LIMIT_RSS_MB and r["exit"] == 0
        for r in results[:2]
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work" / "curation")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "curation_bench.json"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per rlvr command")
    parser.add_argument("--baseline-rows", type=int, default=200_000,
                        help="rows the pandas baseline reads (0: no baseline)")  # fmt: skip
    parser.add_argument(
        "--prepare", nargs=3, help=argparse.SUPPRESS
    )  # internal: ROWS WORK JSONL_ROWS
    parser.add_argument(
        "--baseline", nargs="+", help=argparse.SUPPRESS
    )  # internal: eval|select FILE…
    args = parser.parse_args()
    if args.prepare:
        rows, work, jsonl_rows = args.prepare
        lake, jsonl, bench, timings = build_inputs(Path(work), int(rows), int(jsonl_rows))
        print(json.dumps([str(lake), str(jsonl), str(bench), timings]))
        return
    if args.baseline:
        kind, path, nrows, *rest = args.baseline
        # a guard for a shared machine: past this the baseline fails alone, nothing else does
        resource.setrlimit(resource.RLIMIT_AS, (BASELINE_AS_BYTES, BASELINE_AS_BYTES))
        fn = baseline_eval if kind == "eval" else baseline_select
        print(json.dumps(fn(Path(path), int(nrows), *map(Path, rest))))
        return
    report = run(args.rows, args.work, args.out, args.timeout, args.baseline_rows)
    print(json.dumps({r["name"]: [r["wall_s"], r["peak_rss_mb"]] for r in report["results"]}))
    print(f"within limits: {report['within_limits']}; wrote {args.out}")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
