"""Code verifier benchmark: sandboxed judging vs a bare subprocess runner, and CodeT pass@k.

1. HumanEval's 164 canonical solutions, judged end to end by `verify_code_batch` (sandboxed,
   one harness run per verdict, tests decided by its judge process) on 2 workers, against the
   anchor measured in the same run: a bare, unsandboxed runner that executes ``prompt +
   canonical_solution + test + check(entry_point)`` in a plain ``python3`` subprocess (the
   official human-eval way; trusted code only). Target: ours <= 2x the anchor's wall time, with
   164/164 AC.
2. The CodeT samples (CodeGen-16B, 100 completions per HumanEval problem): throughput and the
   unbiased pass@1/10/100 they give (Chen et al. 2021 estimator). ``--quick`` judges a subset.
3. ``--refs``: the reference sweeps (MBPP 974, LeetCodeDataset 228, Codeforces stdio) with every
   non-AC case listed.

Usage: .venv/bin/python benchmarks/code_bench.py [--quick] [--refs] [--codet-problems N]
       [--codet-samples N] [--out PATH]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.ingest.presets import PRESETS  # noqa: E402
from verifiers.code import CodeConfig, verify_code_batch  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "code"
OUT = ROOT / "benchmarks" / "results" / "code_bench.json"
WORKERS = 2
ROUNDS = 5
PYTHON = "/usr/bin/python3"  # the interpreter the sandbox runs, so both sides run the same one


def load(name: str) -> list[dict]:
    return [json.loads(x) for x in (DATA / name).open() if x.strip()]


def bare_humaneval(rows: list[dict]) -> tuple[float, int]:
    """The anchor: one plain subprocess per problem, 2 at a time; returns (wall s, passed)."""

    def one(row: dict) -> bool:
        program = (
            row["prompt"]
            + row["canonical_solution"]
            + "\n"
            + row["test"]
            + f"\ncheck({row['entry_point']})\n"
        )
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(program)
        try:
            done = subprocess.run([PYTHON, f.name], capture_output=True, timeout=30)
            return done.returncode == 0
        finally:
            os.unlink(f.name)

    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        passed = sum(pool.map(one, rows))
    return time.perf_counter() - start, passed


def sandboxed_humaneval(rows: list[dict]) -> tuple[float, int, list]:
    items = []
    for row in rows:
        d = PRESETS["humaneval"].map_row(row)
        items.append(
            dict(
                tests=d.tests,
                response=row["canonical_solution"],
                config=CodeConfig(extract="raw"),
                prompt_prefix=d.meta["prompt_prefix"],
            )
        )
    start = time.perf_counter()
    verdicts = verify_code_batch(items, concurrency=WORKERS)
    wall = time.perf_counter() - start
    pairs = zip(rows, verdicts, strict=True)
    bad = [(r["task_id"], v.detail.get("first_failure")) for r, v in pairs if not v.ok]
    return wall, sum(v.ok for v in verdicts), bad


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021, eq. 1)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def codet(rows: list[dict], he: list[dict], n_problems: int, n_samples: int) -> dict:
    # The CodeT file is not in HumanEval order and its prompts drop the docstring examples:
    # match problems by the function the prompt ends with (the entry point).
    # Entry points repeat (two `add`, two `sort_array`): the longest common prefix decides.
    items, owners = [], []
    for p, row in enumerate(rows[:n_problems]):
        entry = re.findall(r"^def (\w+)\(", row["prompt"], re.MULTILINE)[-1]
        same = [r for r in he if r["entry_point"] == entry]
        best = max(same, key=lambda r, q=row["prompt"]: _common_prefix(r["prompt"], q))
        d = PRESETS["humaneval"].map_row(best)
        for sample in row["samples"][:n_samples]:
            items.append(
                dict(
                    tests=d.tests,
                    response=sample,
                    config=CodeConfig(extract="raw", test_cpu_s=2.0),
                    prompt_prefix=row["prompt"],
                )
            )
            owners.append(p)
    start = time.perf_counter()
    verdicts = verify_code_batch(items, concurrency=WORKERS)
    wall = time.perf_counter() - start
    correct: dict[int, int] = collections.Counter()
    total: dict[int, int] = collections.Counter()
    codes: collections.Counter = collections.Counter()
    statuses: collections.Counter = collections.Counter(v.status for v in verdicts)
    for owner, v in zip(owners, verdicts, strict=True):
        total[owner] += 1
        correct[owner] += v.ok
        first = v.detail.get("first_failure")
        codes[first["code"] if first else "AC"] += 1
    latencies = sorted(v.elapsed_ms for v in verdicts)
    result = {
        "problems": len(total),
        "samples_per_problem": n_samples,
        "completions": len(items),
        "wall_s": round(wall, 2),
        "completions_per_s": round(len(items) / wall, 2),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "statuses": dict(statuses),
        "first_failure_codes": dict(codes),
        "unverifiable": statuses.get("unverifiable", 0),
    }
    for k in (1, 10, 100):
        if k <= n_samples:
            score = statistics.mean(pass_at_k(total[p], correct[p], k) for p in total)
            result[f"pass@{k}"] = round(100 * score, 2)
    return result


def references() -> dict:
    """MBPP, LeetCodeDataset and Codeforces reference sweeps, every non-AC case listed."""
    out = {}
    sweeps = [
        ("mbpp", "mbpp_full_deepseekcoder.jsonl", CodeConfig(extract="raw"), ("python",)),
        (
            "leetcodedataset",
            "leetcodedataset_v0.3.1_test.jsonl",
            CodeConfig(extract="raw", test_cpu_s=2.0),
            ("python",),
        ),
        (
            "codeforces",
            "codescope_code_optimization_cf_stdio_2solutions.jsonl",
            CodeConfig(extract="raw", test_cpu_s=5.0),
            ("python", "cpp", "c"),
        ),
    ]
    for preset, name, config, langs in sweeps:
        pre = PRESETS[preset]
        drafts = [pre.map_row(r) for r in load(name)]
        if pre.merge is not None:
            groups = collections.defaultdict(list)
            for d in drafts:
                groups[d.group].append(d)
            drafts = [pre.merge(g) for g in groups.values()]
        items, ids, skipped = [], [], collections.Counter()
        for d in drafts:
            for s in d.meta["solutions"]:
                if s["lang"] not in langs:
                    skipped[s["lang"]] += 1
                    continue
                items.append(
                    dict(
                        tests=d.tests,
                        response=s["code"],
                        lang=s["lang"],
                        config=config,
                        prompt_prefix=d.meta.get("prompt_prefix"),
                    )
                )
                ids.append(f"{d.meta.get('task_id') or d.meta.get('src_uid')}:{s['lang']}")
        start = time.perf_counter()
        verdicts = verify_code_batch(items, concurrency=WORKERS)
        wall = time.perf_counter() - start
        by_lang = collections.Counter(
            i.split(":")[-1] for i, v in zip(ids, verdicts, strict=True) if v.ok
        )
        out[preset] = {
            "solutions": len(items),
            "accepted": sum(v.ok for v in verdicts),
            "accepted_by_lang": dict(by_lang),
            "skipped_unsupported_lang": dict(skipped),
            "test_cpu_s": config.test_cpu_s,
            "wall_s": round(wall, 1),
            "not_accepted": {
                i: v.detail.get("first_failure") or v.detail.get("reason")
                for i, v in zip(ids, verdicts, strict=True)
                if not v.ok
            },
        }
    return out


# Why a reference is (or was) not AC: kept next to the numbers (issue 5 asks for every case).
NOTES = {
    "leetcodedataset/find-the-number-of-subsequences-with-equal-gcd": (
        "the reference needs ~2.9 s CPU on test 23, over the 2 s/test limit used here: TLE is "
        "the right verdict at that limit; AC at test_cpu_s=6 (tests/verifiers, slow suite)"
    ),
    "leetcodedataset/sortedcontainers": (
        "20 references import sortedcontainers: the sandbox runtime needs the Debian package "
        "python3-sortedcontainers (installed on this machine), else they are RE at load"
    ),
    "mbpp/367,601,927,596": (
        "tests build inputs with a class the solution defines (Node, Pair) or use its imports "
        "(sys): handled as 'data' classes (replayed as opaque stand-ins) and repeated imports"
    ),
    "codeforces/c31fed523230af1f904218b2fe0d663d:cpp": (
        "both C++ references freopen('a.inp') unless ONLINE_JUDGE is defined: the judge defines "
        "it for C/C++ like Codeforces does"
    ),
    "codeforces/csharp": "60 Mono C# solutions: no C# in the sandbox, skipped explicitly",
    "humaneval_ratio": (
        "median of 5 alternating rounds. What closed the gap from 3.25x: run slots (no cgroup "
        "migration stall, no fork of the caller), simple asserts decided outside the jail "
        "(replay jails 21 -> 6), a lighter harness start (random only when used), and warm "
        "jobs: the next harness jail starts ahead on idle CPU (sandbox/backends/warm.py)"
    ),
    "codet_published": (
        "CodeT Table 2 baseline (CodeGen-16B): pass@1 29.3 / pass@10 49.9 / pass@100 75.0; "
        "our pass@10/100 agree within 1.3 points; pass@1 from these T=0.8 samples is lower "
        "than a greedy/low-temperature pass@1"
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a subset (< 60 s)")
    ap.add_argument("--refs", action="store_true", help="also the reference sweeps (minutes)")
    ap.add_argument("--codet-problems", type=int, default=None)
    ap.add_argument("--codet-samples", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None,
                    help=f"write the report here instead of {OUT.relative_to(ROOT)}")  # fmt: skip
    args = ap.parse_args()
    out = args.out or OUT
    he = load("humaneval_openai.jsonl")
    rows = he[:40] if args.quick else he
    # Alternating rounds, medians: the machine is shared, and one pass of each is ~1-2 s.
    bare_walls, ours_walls = [], []
    for _ in range(1 if args.quick else ROUNDS):
        bare_wall, bare_pass = bare_humaneval(rows)
        ours_wall, ours_pass, bad = sandboxed_humaneval(rows)
        bare_walls.append(bare_wall)
        ours_walls.append(ours_wall)
    bare_wall, ours_wall = statistics.median(bare_walls), statistics.median(ours_walls)
    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "workers": WORKERS,
        },
        "humaneval_canonical": {
            "problems": len(rows),
            "rounds": len(bare_walls),
            "bare_subprocess": {
                "wall_s": round(bare_wall, 3),
                "rounds_s": [round(x, 3) for x in bare_walls],
                "passed": bare_pass,
            },
            "rlvr_sandboxed": {
                "wall_s": round(ours_wall, 3),
                "rounds_s": [round(x, 3) for x in ours_walls],
                "passed": ours_pass,
                "failed": bad,
            },
            "ratio": round(ours_wall / bare_wall, 3),
            "target_ratio": 2.0,
        },
    }
    n_problems = args.codet_problems or (8 if args.quick else 164)
    n_samples = args.codet_samples or (10 if args.quick else 100)
    report["codet_codegen16B"] = codet(
        load("humaneval_codegen16B_100samples_codet.jsonl"), he, n_problems, n_samples
    )
    report["codet_codegen16B"]["published"] = {
        "source": "CodeT paper (Chen et al. 2022), Table 2, CodeGen-Mono-16B baseline",
        "pass@1": 29.3,
        "pass@10": 49.9,
        "pass@100": 75.0,
    }
    if args.refs:
        report["references"] = references()
        report["references"]["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    elif OUT.exists() and "references" in json.loads(OUT.read_text()):
        report["references"] = json.loads(OUT.read_text())["references"]  # kept from --refs
    report["mode"] = "quick" if args.quick else "full"
    report["notes"] = NOTES
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and args.quick and args.out is None:
        print(f"(quick mode: not overwriting {out}; printing only)")
    else:
        out.write_text(json.dumps(report, indent=2))
    show(report)


def show(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    he = report["humaneval_canonical"]
    table = Table(title=f"HumanEval canonical ({he['problems']} problems, {WORKERS} workers)")
    for col in ("runner", "wall s", "passed"):
        table.add_column(col)
    table.add_row(
        "bare subprocess (anchor)",
        str(he["bare_subprocess"]["wall_s"]),
        str(he["bare_subprocess"]["passed"]),
    )
    table.add_row(
        "rlvr sandboxed", str(he["rlvr_sandboxed"]["wall_s"]), str(he["rlvr_sandboxed"]["passed"])
    )
    table.add_row("ratio (target <= 2)", str(he["ratio"]), "")
    console = Console()
    console.print(table)
    ct = report["codet_codegen16B"]
    t2 = Table(title="CodeT CodeGen-16B samples")
    t2.add_column("metric")
    t2.add_column("value")
    for key in (
        "completions",
        "wall_s",
        "completions_per_s",
        "latency_ms_p50",
        "latency_ms_p99",
        "pass@1",
        "pass@10",
        "pass@100",
        "unverifiable",
        "first_failure_codes",
    ):
        if key in ct:
            t2.add_row(key, str(ct[key]))
    console.print(t2)
    for name, ref in report.get("references", {}).items():
        if not isinstance(ref, dict):
            continue
        console.print(
            f"{name}: {ref['accepted']}/{ref['solutions']} AC; not AC: {list(ref['not_accepted'])}"
        )


if __name__ == "__main__":
    main()
