"""rlvr's math verifier vs Math-Verify, side by side: accuracy per category, then speed.

    .venv/bin/python benchmarks/math_bench.py [--quick] [--out benchmarks/results/math_bench.json]

Math-Verify is called the way open-r1's ``accuracy_reward`` calls it (math-verification.md §1b):
the gold with ``parse(gold, extraction_mode="first_match")``, the response with LaTeX extraction
(``boxed_match_priority=0``, ``try_extract_without_anchor=False``, units/equations normalisation,
``nits`` and ``malformed_operators`` off) plus expression extraction, then ``verify(gold, answer)``.
An unparseable gold counts as "rejected" for Math-Verify (open-r1 returns None and skips it).

Data (../shared/data/math, never copied): hard_cases.jsonl (401 labelled pairs), TinyV
HardVerify-Math (correct `fn_output`, wrong `tn_output`), and 800 Qwen2.5-Math responses labelled
by Qwen's grader. Qwen labels are corrected for the grader bug documented in math-verification.md
§2.2-D (it rejects a gold written with a ``{,}`` thousands separator); every remaining disagreement
is listed in the JSON with our reading of it.

Speed: 10,000 distinct (gold, response) pairs built from the golds of MATH-500, GSM8K, AIME, AMC,
Minerva and OlympiadBench, each answered right and wrong in several formats (boxed at the end of a
real solution, "The final answer is $…$", ``<think>`` + ``<answer>``, "Answer:", equivalent
spellings), judged by both on one CPU core (the process and its workers pinned to it).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "math"

from verifiers.math import MathConfig, verify_math  # noqa: E402


# ---------------------------------------------------------------- Math-Verify, as open-r1 calls it
def make_math_verify() -> Any:
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    answer_cfg = [
        LatexExtractionConfig(
            normalization_config=NormalizationConfig(
                nits=False,
                malformed_operators=False,
                basic_latex=True,
                equations=True,
                boxed="all",
                units=True,
            ),
            boxed_match_priority=0,
            try_extract_without_anchor=False,
        ),
        ExprExtractionConfig(),
    ]

    def mv(gold: str, response: str) -> bool:
        try:
            gold_parsed = parse(gold, extraction_mode="first_match")
            if not gold_parsed:
                return False
            answer = parse(response, extraction_config=answer_cfg, extraction_mode="first_match")
            return bool(verify(gold_parsed, answer))
        except BaseException:
            return False

    return mv


def rlvr(gold: str, response: str) -> bool:
    return verify_math(gold, response).status == "correct"


# ---------------------------------------------------------------- data
def load_jsonl(name: str) -> list[dict]:
    with open(DATA / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tally(rows: list[tuple[str, bool, bool]]) -> dict[str, Any]:
    """rows: (category, expected, got) → accuracy, false accepts, false rejects per category."""
    cats: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "ok": 0, "fa": 0, "fr": 0})
    for cat, expected, got in rows:
        for key in (cat, "ALL"):
            c = cats[key]
            c["n"] += 1
            c["ok"] += expected == got
            c["fa"] += (not expected) and got
            c["fr"] += expected and not got
    return {k: {**v, "accuracy": round(v["ok"] / v["n"], 4)} for k, v in sorted(cats.items())}


def bench_hard_cases(mv: Any, limit: int | None) -> dict[str, Any]:
    rows = load_jsonl("hard_cases.jsonl")[:limit]
    ours, theirs, misses = [], [], []
    for r in rows:
        cat = "mv-testsuite" if r["kind"] == "testsuite" else r["category"]
        got = rlvr(r["gold"], r["pred"])
        ours.append((cat, r["expected"], got))
        theirs.append((cat, r["expected"], mv(r["gold"], r["pred"])))
        if got != r["expected"]:
            misses.append(
                {
                    "gold": r["gold"][:200],
                    "pred": r["pred"][-200:],
                    "expected": r["expected"],
                    "category": cat,
                    "note": r.get("note", ""),
                }
            )
    return {"rlvr": tally(ours), "math_verify": tally(theirs), "rlvr_misses": misses}


def bench_hardverify(mv: Any, limit: int | None) -> dict[str, Any]:
    with open(DATA / "tinyv_HardVerify-Math.json", encoding="utf-8") as fh:
        items = json.load(fh)[:limit]
    out: dict[str, Any] = {}
    for name, fn in (("rlvr", rlvr), ("math_verify", mv)):
        acc = [fn(it["ground_truth"], it["fn_output"]) for it in items]
        rej = [not fn(it["ground_truth"], it["tn_output"]) for it in items]
        out[name] = {
            "n": len(items),
            "accept_correct": round(sum(acc) / len(items), 4),
            "reject_wrong": round(sum(rej) / len(items), 4),
        }
        if name == "rlvr":
            out["rlvr_false_rejects"] = [
                {"id": it["id"], "gold": it["ground_truth"], "answer": it["fn_output"]}
                for it, ok in zip(items, acc, strict=True)
                if not ok
            ]
            out["rlvr_false_accepts"] = [
                {"id": it["id"], "gold": it["ground_truth"], "answer": it["tn_output"]}
                for it, ok in zip(items, rej, strict=True)
                if not ok
            ]
    return out


def corrected_label(gold: str, pred: str, label: bool) -> tuple[bool, str]:
    """Qwen's label, corrected only for its documented bug: `{,}` in the gold (math-verification §2.2-D)."""
    if not label and "{,}" in gold and gold.replace("{,}", "") == pred.replace(",", ""):
        return True, "qwen grader rejects a gold with a {,} thousands separator"
    return label, ""


def bench_qwen(mv: Any, limit: int | None) -> dict[str, Any]:
    rows = load_jsonl("qwen_math_cot_100_graded.jsonl")[:limit]
    agree = {"rlvr": 0, "math_verify": 0}
    total, corrections, disagreements = 0, [], []
    for r in rows:
        for i, response in enumerate(r["code"]):
            label, why = corrected_label(r["gt"], r["pred"][i], bool(r["score"][i]))
            if why:
                corrections.append({"idx": r["idx"], "sample": i, "gold": r["gt"], "reason": why})
            total += 1
            v = verify_math(r["gt"], response)
            agree["rlvr"] += (v.status == "correct") == label
            agree["math_verify"] += mv(r["gt"], response) == label
            if (v.status == "correct") != label:
                disagreements.append(
                    {
                        "idx": r["idx"],
                        "sample": i,
                        "gold": r["gt"],
                        "qwen_pred": r["pred"][i],
                        "label": label,
                        "rlvr_extracted": v.extracted,
                        "rlvr_status": v.status,
                        "rlvr_match": v.detail.get("match"),
                    }
                )
    return {
        "n": total,
        "label_corrections": corrections,
        "agreement": {k: round(v / total, 4) for k, v in agree.items()},
        "rlvr_disagreements": disagreements,
    }


# ---------------------------------------------------------------- speed
def _golds() -> list[str]:
    golds = [r["answer"] for r in load_jsonl("math500_test.jsonl")]
    golds += [r["answer"].split("####")[-1].strip() for r in load_jsonl("gsm8k_test.jsonl")]
    golds += [str(r["answer"]) for r in load_jsonl("aime24_test.jsonl")]
    golds += [str(r["answer"]) for r in load_jsonl("amc23_test.jsonl")]
    golds += [a for r in load_jsonl("olympiadbench_test.jsonl") for a in r["final_answer"]]
    return [g for g in dict.fromkeys(golds) if g and len(g) < 200]


def _wrong(gold: str, rng: random.Random, pool: list[str]) -> str:
    nums = re.findall(r"\d+", gold)
    if nums and rng.random() < 0.7:
        n = rng.choice(nums)
        return gold.replace(n, str(int(n) + rng.choice([1, 2, 10])), 1)
    return rng.choice(pool)


def _respell(gold: str) -> str:
    """An equivalent spelling: \\dfrac, $…$ inside text, thousands separators, trailing .0."""
    if re.fullmatch(r"\d{4,}", gold):
        return f"{int(gold):,}".replace(",", "{,}")
    if re.fullmatch(r"-?\d+", gold):
        return gold + ".0"
    return gold.replace("\\frac", "\\dfrac").replace("\\left", "").replace("\\right", "")


_TEMPLATES = [
    "{reason}\n\nTherefore, the answer is $\\boxed{{{ans}}}$.",
    "{reason}\n\nThe final answer is ${ans}$. I hope it is correct.",
    "<think>\n{reason}\n</think>\n<answer>\\boxed{{{ans}}}</answer>",
    "{reason}\n\n**Answer:** ${ans}$",
    "<think>{reason}</think>\n\nSo the result is \\[\\boxed{{{ans}}}\\]",
]


def speed_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    golds = _golds()
    sols = [r["solution"] for r in load_jsonl("math500_test.jsonl")]
    pairs: dict[tuple[str, str], None] = {}
    while len(pairs) < n:
        gold = rng.choice(golds)
        reason = re.sub(r"\\boxed\{", "{", rng.choice(sols))[: rng.randint(200, 2000)]
        ans = rng.choice([gold, gold, _respell(gold), _wrong(gold, rng, golds)])
        pairs[(gold, rng.choice(_TEMPLATES).format(reason=reason, ans=ans))] = None
    return list(pairs)


def pathological() -> list[tuple[str, str]]:
    tower = (
        "\\boxed{\\dfrac{5^{\\left(5^{\\left(5^{\\left(5^5\\right)}\\right)} - 4\\right)} - 5}{16}}"
    )
    return [
        ("1", "\\boxed{10^{10^{10}}}"),
        ("5", tower),
        ("7", "\\boxed{" + "9" * 5000 + "}"),
        ("7", "\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}"),
        ("7", "x" * 1_000_000 + " \\boxed{7}"),
        ("x", "\\boxed{(x+1)^{100000}}"),
        ("2", "\\boxed{2^{2^{2^{2^{2}}}}}"),
        ("\\sin(x)", "\\boxed{" + "+".join(f"\\sin^{{{k}}}(x)" for k in range(1, 300)) + "}"),
        ("1", "\\boxed{\\prod_{k=1}^{100000} (1+1/k)}"),  # passes the guards: stopped by the bound
    ]


def bench_speed(mv: Any, n: int) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # workers inherit it
    pairs = speed_pairs(n)
    verify_math("x+1", "\\boxed{1+x}")  # start the worker (its import is not a check)
    lat, statuses = [], Counter()
    t0 = time.perf_counter()
    for gold, resp in pairs:
        s = time.perf_counter()
        statuses[verify_math(gold, resp).status] += 1
        lat.append((time.perf_counter() - s) * 1000)
    ours_s = time.perf_counter() - t0
    mv("1", "$1$")
    t0 = time.perf_counter()
    for gold, resp in pairs:
        mv(gold, resp)
    mv_s = time.perf_counter() - t0
    lat.sort()
    cfg = MathConfig()
    worst = [(g[:30], verify_math(g, r, config=cfg)) for g, r in pathological()]
    return {
        "pairs": len(pairs),
        "rlvr_pairs_per_s": round(len(pairs) / ours_s, 1),
        "math_verify_pairs_per_s": round(len(pairs) / mv_s, 1),
        "speedup": round(mv_s / ours_s, 2),
        "rlvr_p50_ms": round(statistics.median(lat), 3),
        "rlvr_p99_ms": round(lat[int(0.99 * (len(lat) - 1))], 3),
        "rlvr_max_ms": round(lat[-1], 1),
        "rlvr_statuses": dict(statuses),
        "pathological": [
            {
                "gold": g,
                "status": v.status,
                "elapsed_ms": round(v.elapsed_ms, 1),
                "reason": v.detail.get("reason", ""),
            }
            for g, v in worst
        ],
        "pathological_worst_ms": round(max(v.elapsed_ms for _, v in worst), 1),
        "bound_ms": cfg.timeout_s * 1000,
    }


# ---------------------------------------------------------------- report
def show(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    hc = results["hard_cases"]
    t = Table(title="hard_cases.jsonl: accuracy (false accepts / false rejects)")
    for col in ("category", "n", "rlvr", "Math-Verify"):
        t.add_column(col)
    for cat, r in hc["rlvr"].items():
        m = hc["math_verify"][cat]
        t.add_row(
            cat,
            str(r["n"]),
            f"{r['accuracy']:.3f} ({r['fa']}/{r['fr']})",
            f"{m['accuracy']:.3f} ({m['fa']}/{m['fr']})",
        )
    con.print(t)
    hv, qw, sp_ = results["hardverify"], results["qwen_cot"], results["speed"]
    t = Table(title="HardVerify, Qwen CoT, speed")
    for col in ("metric", "rlvr", "Math-Verify"):
        t.add_column(col)
    t.add_row(
        "HardVerify accept correct",
        str(hv["rlvr"]["accept_correct"]),
        str(hv["math_verify"]["accept_correct"]),
    )
    t.add_row(
        "HardVerify reject wrong",
        str(hv["rlvr"]["reject_wrong"]),
        str(hv["math_verify"]["reject_wrong"]),
    )
    t.add_row(
        "Qwen CoT agreement (corrected)",
        str(qw["agreement"]["rlvr"]),
        str(qw["agreement"]["math_verify"]),
    )
    t.add_row(
        "pairs/s on one core", str(sp_["rlvr_pairs_per_s"]), str(sp_["math_verify_pairs_per_s"])
    )
    t.add_row("speed-up", f"{sp_['speedup']}x", "1x")
    t.add_row(
        "p50 / p99 / max ms",
        f"{sp_['rlvr_p50_ms']} / {sp_['rlvr_p99_ms']} / {sp_['rlvr_max_ms']}",
        "",
    )
    t.add_row(
        "pathological worst ms (bound)", f"{sp_['pathological_worst_ms']} ({sp_['bound_ms']})", ""
    )
    con.print(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="subsets and 1,000 speed pairs (< 60 s)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "math_bench.json"))
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"error: {DATA} is absent — the benchmark needs ../shared/data/math")
    mv = make_math_verify()
    limit = 120 if args.quick else None
    t0 = time.perf_counter()
    results = {
        "mode": "quick" if args.quick else "full",
        "hard_cases": bench_hard_cases(mv, limit),
        "hardverify": bench_hardverify(mv, 60 if args.quick else None),
        "qwen_cot": bench_qwen(mv, 15 if args.quick else None),
        "speed": bench_speed(mv, 1000 if args.quick else 10_000),
    }
    results["wall_s"] = round(time.perf_counter() - t0, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    show(results)


if __name__ == "__main__":
    main()
