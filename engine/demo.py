"""`make demo`: public benchmark rollouts through the verifiers and the sandbox into the lake.

No model runs yet (generation backends come later), so the demo *replays* real, published model
outputs as a ``generate`` run with backend ``recorded``:

- math: 100 MATH problems × 8 Qwen2.5-Math chain-of-thought responses (Qwen's own evaluation sample,
  graded by Qwen's rule grader), judged by the ``math`` verifier;
- code: HumanEval problems × CodeGen-16B samples from CodeT (temperature 0.8, top-p 0.95), judged by
  the ``code`` verifier, every program run in the sandbox.

Then it prints pass@1 / pass@k per dataset from SQL over the lake, and how often our math verdicts
agree with Qwen's labels. Every step is idempotent (content-hash ids), so running it twice
changes nothing. Usage: ``python -m engine.demo [--lake lake] [--data ../shared/data]``.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from engine import ids
from engine.errors import UserError
from engine.ingest.core import import_prompts
from engine.ingest.rollouts import import_rollouts
from engine.lake import Lake
from engine.verify import VerifyConfig, verify_rollouts

__all__ = [
    "CODET_FILE",
    "DATA",
    "HUMANEVAL_FILE",
    "MATH_FILE",
    "PASS_AT_K",
    "console",
    "import_math",
    "main",
    "record_code",
    "record_math",
    "run",
]

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MATH_FILE, HUMANEVAL_FILE, CODET_FILE = (
    "math/qwen_math_cot_100_graded.jsonl",
    "code/humaneval_openai.jsonl",
    "code/humaneval_codegen16B_100samples_codet.jsonl",
)
console = Console()
_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)

PASS_AT_K = """
WITH per_prompt AS (
  SELECT p.dataset, v.verifier, r.prompt_id, count(*) AS n,
         count(*) FILTER (WHERE v.status = 'correct') AS c,
         count(*) FILTER (WHERE v.reward IS NULL) AS unjudged
  FROM rollouts r JOIN verdicts v USING (rollout_id) JOIN prompts p USING (prompt_id)
  WHERE r.run_id IN (SELECT unnest(?))
  GROUP BY ALL)
SELECT dataset, verifier, count(*) AS prompts, sum(n) AS rollouts, sum(unjudged) AS unjudged,
       round(avg(c / n), 3) AS "pass@1", round(avg(pass_at_k(n, c, 4)), 3) AS "pass@4",
       round(avg(pass_at_k(n, c, least(n, 8))), 3) AS "pass@8"
FROM per_prompt GROUP BY ALL ORDER BY dataset
"""


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _prompt_ids(lake: Lake, dataset: str) -> dict[str, str]:
    rows = lake.connect().execute(
        "SELECT problem, prompt_id FROM prompts WHERE dataset = ?", [dataset]
    )
    return dict(rows.fetchall())


def _rollout(run_id: str, prompt_id: str, idx: int, text: str, **fields: Any) -> dict[str, Any]:
    reasoning, sep, answer = text.partition("</think>")
    return {
        "rollout_id": ids.rollout_id(run_id, prompt_id, idx), "run_id": run_id, "prompt_id": prompt_id,
        "sample_idx": idx, "completion": text, "reasoning": reasoning.replace("<think>", "") if sep else None,
        "answer_text": answer if sep else text, "source": "generate", **fields,
    }  # fmt: skip


def record_math(lake: Lake, data: Path, dataset: str) -> tuple[str, dict[str, bool]]:
    """Replay Qwen's 800 responses; return the run id and Qwen's label per rollout id."""
    run_id = "recorded-qwen25-math-cot-100"
    problems = _prompt_ids(lake, dataset)
    rows, labels = [], {}
    for rec in _read_jsonl(data / MATH_FILE):
        pid = problems[rec["question"]]
        for i, (text, ok) in enumerate(zip(rec["code"], rec["score"], strict=True)):
            row = _rollout(run_id, pid, i, text, model="Qwen2.5-Math (Qwen eval sample)")
            rows.append(row)
            labels[row["rollout_id"]] = bool(ok)
    _append_run(lake, run_id, rows, model="Qwen2.5-Math (Qwen eval sample)", source=MATH_FILE)
    return run_id, labels


def import_math(lake: Lake, data: Path, dataset: str) -> tuple[str, dict[str, bool]]:
    """`make demo-recorded`: the same 800 responses through `rlvr rollouts import` (issue 10).

    Qwen's file holds the k responses of a problem as a list (``code``), one sample each.
    """
    model = "Qwen2.5-Math (Qwen eval sample)"
    mapping = {"completion": "code", "problem": "question"}
    result = import_rollouts(
        data / MATH_FILE, lake=lake, dataset=dataset, model=model, mapping=mapping
    )
    problems = _prompt_ids(lake, dataset)
    labels = {
        ids.rollout_id(result.run_id, problems[rec["question"]], i): bool(ok)
        for rec in _read_jsonl(data / MATH_FILE)
        for i, ok in enumerate(rec["score"])
    }
    return result.run_id, labels


def record_code(lake: Lake, data: Path, dataset: str, problems: int, samples: int) -> str:
    """Replay CodeT's CodeGen-16B HumanEval samples (function bodies completing the prompt)."""
    run_id = f"recorded-codet-codegen16b-{problems}x{samples}"
    # CodeT reformatted HumanEval's docstrings, so match problems by the function they define.
    by_entry = dict(lake.connect().execute(
        "SELECT json_extract_string(tests, '$.entry_point'), prompt_id FROM prompts WHERE dataset = ?",
        [dataset],
    ).fetchall())  # fmt: skip
    rows = []
    for rec in _read_jsonl(data / CODET_FILE)[:problems]:
        pid = by_entry[_DEF.findall(rec["prompt"])[-1]]
        for i, body in enumerate(rec["samples"][:samples]):
            rows.append(
                _rollout(
                    run_id, pid, i, body, model="codegen-16B-mono", temperature=0.8, top_p=0.95
                )
            )
    _append_run(lake, run_id, rows, model="codegen-16B-mono", source=CODET_FILE)
    return run_id


def _append_run(
    lake: Lake, run_id: str, rows: list[dict[str, Any]], *, model: str, source: str
) -> None:
    if lake.existing_ids("rollouts", run_id) >= {r["rollout_id"] for r in rows}:
        return  # already recorded by an earlier demo
    with lake.run(
        "generate", run_id=run_id, model=model, backend="recorded", params={"source": source}
    ):
        lake.append("rollouts", rows, run_id=run_id)


def _show(lake: Lake, runs: list[str]) -> None:
    result = lake.connect().execute(PASS_AT_K, [runs])
    table = Table(title="pass@k from SQL over the lake")
    for name in (d[0] for d in result.description):
        table.add_column(name, justify="left" if name in ("dataset", "verifier") else "right")
    for row in result.fetchall():
        table.add_row(*(str(x) for x in row))
    console.print(table)


def _agreement(lake: Lake, labels: dict[str, bool]) -> None:
    verdicts = dict(lake.connect().execute(
        "SELECT rollout_id, status FROM verdicts WHERE verifier = 'math' AND rollout_id IN (SELECT unnest(?))",
        [list(labels)],
    ).fetchall())  # fmt: skip
    agree = sum((verdicts.get(rid) == "correct") == ok for rid, ok in labels.items())
    console.print(
        f"math verifier vs Qwen's grader labels: agree on {agree}/{len(labels)} responses "
        f"(the disagreements are listed by `make bench`, benchmarks/math_bench.py)"
    )


def run(
    lake_path: str, data: Path, code_problems: int, code_samples: int, *, via_import: bool = False
) -> None:
    if not (data / MATH_FILE).is_file():
        raise UserError(
            f"{data}: benchmark data not found — pass --data DIR (the shared/data folder)"
        )
    lake = Lake.open(lake_path)
    console.rule("1 · prompts")
    for file, preset in ((MATH_FILE, "qwen_math_cot"), (HUMANEVAL_FILE, "humaneval")):
        s = import_prompts(data / file, lake=lake, preset=preset)
        console.print(
            f"{file}: {s.prompts} prompts as dataset [bold]{s.dataset}[/] ({s.already_present} already there)"
        )
        if preset == "humaneval":
            code_dataset = s.dataset
        else:
            math_dataset = s.dataset
    console.rule("2 · rollouts (recorded public model outputs)")
    record = import_math if via_import else record_math
    math_run, labels = record(lake, data, math_dataset)
    code_run = record_code(lake, data, code_dataset, code_problems, code_samples)
    console.print(f"runs {math_run} ({len(labels)} rollouts) and {code_run}")
    console.rule("3 · verify (math verifier; code verifier in the sandbox)")
    summary = verify_rollouts(lake, runs=[math_run, code_run], config=VerifyConfig(), progress=True)
    console.print(
        f"{summary.judged} verdicts in {summary.seconds:.1f} s, {summary.skipped} already judged"
    )
    console.rule("4 · results")
    _show(lake, [math_run, code_run])
    _agreement(lake, labels)
    # One unwrapped line that works as typed, with or without the venv activated (`make shell`).
    rlvr = "rlvr" if shutil.which("rlvr") else ".venv/bin/rlvr"
    hint = f"{rlvr} sql --lake {shlex.quote(str(lake.root))} 'SELECT * FROM runs'"
    console.print(f"lake: {lake.root}\ntry:  {hint}", soft_wrap=True, highlight=False, markup=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m engine.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--lake", default="lake", help="lake folder (default ./lake)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"benchmark data (default {DATA})")
    parser.add_argument("--code-problems", type=int, default=20, help="HumanEval problems to judge")
    parser.add_argument("--code-samples", type=int, default=10, help="CodeT samples per problem")
    parser.add_argument(
        "--via-import",
        action="store_true",
        help="bring the math responses in with `rlvr rollouts import` (make demo-recorded)",
    )
    args = parser.parse_args(argv)
    try:
        run(args.lake, args.data, args.code_problems, args.code_samples, via_import=args.via_import)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
