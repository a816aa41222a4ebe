"""Cold-start long chain-of-thought traces for the synthetic tasks, written by program.

R1 v1 §2.3.1 starts R1 from "thousands of long CoT" examples in a *readable* format:
``|special_token|<reasoning_process>|special_token|<summary>`` — the working, then a summary a
reader can check. For our synthetic tasks we write those traces exactly instead of sampling them:
the working is inside ``<think>…</think>`` (the tokens our chat template and format reward use),
one step per line, with a check at the end; the summary after it restates the result and gives the
answer in ``\\boxed{}`` (what the math and countdown verifiers read).

>>> from engine.tasks import synthesize
>>> p = synthesize("arithmetic", n=1, seed=1, difficulty="medium")[0]
>>> print(trace(p))  # doctest: +NORMALIZE_WHITESPACE
<think>
We need the value of 1 * 5 * 10.
Step 1: 1 * 5 = 5, so the expression becomes 5 * 10.
Step 2: 5 * 10 = 50.
Check: every operation is done, the value is 50.
</think>
<BLANKLINE>
1 * 5 * 10 = 50. The answer is \\boxed{50}.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from engine.tasks import Problem

__all__ = ["sft_rows", "trace"]

_TOKEN = re.compile(r"\d+|[-+*/()]")


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value}"


def _apply(a: Fraction, op: str, b: Fraction) -> Fraction:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else Fraction(0)}[op]


def _reduce_once(tokens: list[Any]) -> tuple[list[Any], str]:
    """One step of evaluation: the innermost bracket's first operation by precedence."""
    start, end = 0, len(tokens)
    for i, t in enumerate(tokens):
        if t == "(":
            start = i + 1
        elif t == ")":
            end = i
            break
    inner = tokens[start:end]
    if len(inner) == 1:  # "(8)" → "8"
        return tokens[: start - 1] + inner + tokens[end + 1 :], ""
    ops = [k for k in range(1, len(inner), 2) if inner[k] in "*/"] or list(range(1, len(inner), 2))
    k = ops[0]
    a, op, b = inner[k - 1], inner[k], inner[k + 1]
    value = _apply(a, op, b)
    inner = [*inner[: k - 1], value, *inner[k + 2 :]]
    if len(inner) == 1 and start > 0:
        return tokens[: start - 1] + inner + tokens[end + 1 :], f"{_fmt(a)} {op} {_fmt(b)}"
    return tokens[:start] + inner + tokens[end:], f"{_fmt(a)} {op} {_fmt(b)}"


def _show(tokens: list[Any]) -> str:
    text = " ".join(_fmt(t) if isinstance(t, Fraction) else t for t in tokens)
    return text.replace("( ", "(").replace(" )", ")")


def evaluation_steps(expression: str) -> tuple[list[str], Fraction]:
    """Lines "Step k: a op b = c, so the expression becomes …" and the value."""
    tokens: list[Any] = [Fraction(int(t)) if t.isdigit() else t for t in _TOKEN.findall(expression)]
    lines = []
    while len(tokens) > 1:
        tokens, done = _reduce_once(tokens)
        if not done:
            continue
        if len(tokens) == 1:
            lines.append(f"Step {len(lines) + 1}: {done} = {_show(tokens)}.")
        else:
            result = _apply(*_parts(done))
            lines.append(
                f"Step {len(lines) + 1}: {done} = {_fmt(result)}, so the expression becomes "
                f"{_show(tokens)}."
            )
    return lines, tokens[0]


def _parts(done: str) -> tuple[Fraction, str, Fraction]:
    a, op, b = done.split(" ")
    return Fraction(a), op, Fraction(b)


def _arithmetic(p: Problem) -> tuple[list[str], str, str]:
    expression = p.meta["expression"]
    steps, value = evaluation_steps(expression)
    lines = [f"We need the value of {expression}.", *steps,
             f"Check: every operation is done, the value is {_fmt(value)}."]  # fmt: skip
    return lines, f"{expression} = {_fmt(value)}.", _fmt(value)


def _linear(p: Problem) -> tuple[list[str], str, str]:
    left, right = (s.strip() for s in p.meta["equation"].split("="))
    m = re.fullmatch(r"(-?\d*)x(?: ([+-]) (\d+))?", left)
    if m is None or not re.fullmatch(r"-?\d+", right):  # both sides carry x: solve in one line
        return [f"We solve {p.meta['equation']} for x.", f"x = {p.answer}."], "", p.answer
    coef = int({"": "1", "-": "-1"}.get(m[1], m[1]))
    const = int(m[3] or 0) * (-1 if m[2] == "-" else 1)
    rhs = int(right)
    lines = [f"We solve {p.meta['equation']} for x."]
    if const:
        verb = "Subtract" if const > 0 else "Add"
        lines.append(f"Step 1: {verb} {abs(const)} on both sides: {coef}x = {rhs - const}.")
    x = Fraction(rhs - const, coef)
    lines.append(f"Step {len(lines)}: Divide both sides by {coef}: x = {_fmt(x)}.")
    lines.append(f"Check: {coef} * {_fmt(x)} + {const} = {_fmt(coef * x + const)}, which is {rhs}.")
    return lines, f"x = {_fmt(x)}.", _fmt(x)


def _countdown(p: Problem) -> tuple[list[str], str, str]:
    numbers, target, solution = p.meta["numbers"], p.meta["target"], p.meta["solution"]
    steps, value = evaluation_steps(solution)
    lines = [f"We need {target} from the numbers {', '.join(map(str, numbers))}, each at most once.",
             f"Try {solution}.", *steps]  # fmt: skip
    lines.append(
        f"Check: {solution} = {_fmt(value)} uses each number at most once and equals {target}."
    )
    return lines, f"{solution} = {target}.", solution


_WRITERS = {"arithmetic": _arithmetic, "linear": _linear, "countdown": _countdown}


def trace(p: Problem) -> str:
    """The assistant's text for problem ``p``: ``<think>`` working ``</think>`` then a summary."""
    kind = p.meta.get("kind", p.task)
    if kind not in _WRITERS:
        raise ValueError(f"no trace writer for {kind!r}: known {', '.join(_WRITERS)}")
    lines, summary, answer = _WRITERS[kind](p)
    body = "\n".join(lines)
    return f"<think>\n{body}\n</think>\n\n{summary} The answer is \\boxed{{{answer}}}.".replace(
        "\n\n The", "\n\nThe"
    )


def sft_rows(problems: list[Problem]) -> list[dict[str, Any]]:
    """Conversational SFT rows (TRL's ``messages`` form) for cold-start training."""
    return [{"messages": [{"role": "user", "content": p.problem},
                          {"role": "assistant", "content": trace(p)}]}
            for p in problems]  # fmt: skip
