"""Math presets: one adapter per benchmark file; the gold answer as a string."""

from __future__ import annotations

from typing import Any

from engine.errors import FieldError
from engine.ingest.presets.base import Draft, _list, _pick, _str, answer_text, last_boxed

__all__ = [
    "aime24",
    "amc23",
    "gsm8k",
    "math500",
    "minerva",
    "olympiadbench",
    "qwen_math_cot",
    "rllm",
    "tinyv_hardverify",
]


def math500(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=answer_text(rec.get("answer")),
        meta=_pick(rec, "unique_id", "subject", "level", "solution"),
    )


def aime24(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=_str(rec, "answer"),
        meta=_pick(rec, "id", "url", "solution"),
    )


def amc23(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=answer_text(rec.get("answer")),
        meta=_pick(rec, "id", "url"),
    )


def gsm8k(rec: dict[str, Any]) -> Draft:
    solution = _str(rec, "answer")
    if "####" not in solution:
        raise FieldError("answer", "no '####' before the final number")
    gold = solution.rsplit("####", 1)[1].strip().replace(",", "")
    if not gold:
        raise FieldError("answer", "nothing after '####'")
    return Draft(
        problem=_str(rec, "question"),
        task="math",
        answer=gold,
        meta={**_pick(rec, "idx"), "solution": solution},
    )


def minerva(rec: dict[str, Any]) -> Draft:
    solution = _str(rec, "solution")
    gold = last_boxed(solution)
    if not gold:
        raise FieldError("solution", "no \\boxed{...} answer in the solution")
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=gold,
        meta=_pick(rec, "idx", "type", "solution"),
    )


def olympiadbench(rec: dict[str, Any]) -> Draft:
    finals = _list(rec, "final_answer")
    if not finals or not all(isinstance(a, str) and a.strip() for a in finals):
        raise FieldError("final_answer", "expected a non-empty list of strings")
    context = rec.get("context")
    problem = _str(rec, "question")
    return Draft(
        problem=f"{context}\n\n{problem}" if context else problem,
        task="math",
        answer=", ".join(finals),
        meta=_pick(
            rec, "id", "subfield", "answer_type", "is_multiple_answer", "unit", "error", "solution"
        ),
    )


def rllm(rec: dict[str, Any]) -> Draft:
    """DeepScaleR/rLLM evaluation format (``problem``, ``answer`` string or float)."""
    return Draft(
        problem=_str(rec, "problem"),
        task="math",
        answer=answer_text(rec.get("answer")),
        meta=_pick(
            rec,
            "unique_id",
            "url",
            "year",
            "aime_number",
            "problem_number",
            "difficulty",
            "solution",
        ),
    )


def qwen_math_cot(rec: dict[str, Any]) -> Draft:
    """Qwen2.5-Math graded sample: the problems with their gold (``gt``); responses are not imported."""
    return Draft(
        problem=_str(rec, "question"),
        task="math",
        answer=answer_text(rec.get("gt"), "gt"),
        meta=_pick(rec, "idx", "level", "gt_cot"),
    )


def tinyv_hardverify(rec: dict[str, Any]) -> Draft:
    return Draft(
        problem=_str(rec, "question"),
        task="math",
        answer=answer_text(rec.get("ground_truth"), "ground_truth"),
        meta=_pick(rec, "id", "source", "split", "fn_output", "tn_output"),
    )
