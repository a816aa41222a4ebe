"""The countdown verifier: does the response's expression reach the target with the given numbers?

Countdown (TinyZero's R1-Zero reproduction task) gives a multiset of numbers and a target; the model
must write an arithmetic expression that equals the target using each number at most once.

Reading (the extraction rule, in order):

1. Only text after the last ``</think>`` counts when the response has one (reasoning is scratch).
2. The last ``<answer>…</answer>`` block; else the last ``\\boxed{…}``; else the last non-empty line.
3. A label before the last ``:`` is dropped (``Answer: 50*6 + 25``). An equation keeps one side:
   the left of the first ``=``, unless that side is a bare number (``325 = 50*6 + 25``), then the
   right. A trailing ``.`` is dropped.

Judging: a small recursive-descent parser over a token whitelist — integer literals, ``+ - * /``
and their spellings ``× x X · ∗ \\times \\cdot ÷ \\div − –`` (unicode minus and en dash), and
parentheses. There is no ``eval``, no power, no unary sign (every operation combines two numbers,
as in the game), no decimals. Arithmetic is exact (``fractions.Fraction``): ``7/2*2`` is 7, and a
division by zero makes the answer incorrect. The literals used must fit in the prompt's multiset.

Bounds (checked before parsing, so hostile input costs O(length) and never recursion): the
extracted expression is at most :data:`MAX_EXPRESSION_CHARS` characters, parentheses nest at most
:data:`MAX_DEPTH` deep, a literal has at most :data:`MAX_LITERAL_DIGITS` digits. Hitting a bound is
a clear ``incorrect`` with the reason in ``detail``. With no exponent and at most as many literals
as the prompt has numbers, every value stays small, so the verifier needs no process or timer.

Status: ``correct``/``incorrect`` (reward 1/0); ``unverifiable`` (reward None) when the prompt has
no usable numbers/target — a fault of the data, never the candidate's.

>>> verify_countdown([3, 7, 25, 50], 325, "<answer>(50 - 25) * (7 + 3) + 75</answer>").status
'incorrect'
>>> verify_countdown([3, 7, 25, 50], 325, "<think>try</think><answer>(7 + 3 + 3) * 25</answer>").detail["reason"]
'number 3 used more times than given'
>>> verify_countdown([3, 7, 25, 50], 325, "<answer>(7 + 3 * 2) * 25</answer>").detail["reason"]
'number 2 is not one of the given numbers'
>>> verify_countdown([6, 25, 50, 75], 325, "<answer>6 × 50 + 25</answer>").reward
1.0
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

from verifiers.errors import ExpressionError
from verifiers.verdict import Verdict

__all__ = [
    "MAX_DEPTH",
    "MAX_EXPRESSION_CHARS",
    "MAX_LITERAL_DIGITS",
    "VERSION",
    "ExpressionError",
    "Parsed",
    "extract_expression",
    "parse_expression",
    "score_prompt",
    "verify_countdown",
]

VERSION = "1"
MAX_EXPRESSION_CHARS = 1000  # a 6-number solution is ~30 characters; 1000 leaves room for spaces
MAX_DEPTH = 32  # nesting of parentheses
MAX_LITERAL_DIGITS = 12  # countdown numbers are small; a longer literal cannot be in the multiset

# Every accepted spelling of an operator, longest first (LaTeX commands before single characters).
_OPERATORS: dict[str, str] = {
    "\\times": "*", "\\cdot": "*", "\\div": "/",
    "*": "*", "×": "*", "x": "*", "X": "*", "·": "*", "∗": "*", "⋅": "*",
    "/": "/", "÷": "/",
    "+": "+", "-": "-", "−": "-", "–": "-",
    "(": "(", ")": ")",
}  # fmt: skip
_IGNORED = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\ ", "$")
_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
_BOXED = re.compile(r"\\boxed\s*\{")
_BARE_NUMBER = re.compile(r"\s*\d+\s*")


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed expression: its exact value and the integer literals it used, in order."""

    value: Fraction
    literals: tuple[int, ...]


# -- reading ----------------------------------------------------------------------------------


def extract_expression(response: str) -> str | None:
    """The expression the response commits to (see the module docstring), or None."""
    end = response.rfind("</think>")
    text = response[end + len("</think>") :] if end >= 0 else response
    candidate = _last_answer_block(text)
    if candidate is None:
        candidate = _last_boxed(text)
    if candidate is None:
        candidate = _last_line(text)
    if candidate is None:
        return None
    candidate = candidate[candidate.rfind(":") + 1 :]
    return _one_side(candidate).strip().rstrip(".").strip() or None


def _last_line(text: str) -> str | None:
    """The last non-empty line, in O(length) without splitting a 10 MB response into lines."""
    text = text.rstrip()
    return text[text.rfind("\n") + 1 :] if text else None


def _last_answer_block(text: str) -> str | None:
    close = text.rfind(_ANSWER_CLOSE)
    if close < 0:
        return None
    open_ = text.rfind(_ANSWER_OPEN, 0, close)
    return None if open_ < 0 else text[open_ + len(_ANSWER_OPEN) : close]


def _last_boxed(text: str) -> str | None:
    """The last ``\\boxed{…}`` (balanced braces) in the response's tail: an answer comes last."""
    tail = text[-(MAX_EXPRESSION_CHARS * 4) :]
    starts = list(_BOXED.finditer(tail))
    if not starts:
        return None
    depth, begin = 1, starts[-1].end()
    for i in range(begin, len(tail)):
        depth += {"{": 1, "}": -1}.get(tail[i], 0)
        if depth == 0:
            return tail[begin:i]
    return None  # unbalanced: no boxed answer


def _one_side(text: str) -> str:
    if "=" not in text:
        return text
    left, _, right = text.partition("=")
    return right.split("=")[0] if _BARE_NUMBER.fullmatch(left) else left


# -- parsing ----------------------------------------------------------------------------------


def _tokens(text: str) -> list[str | int]:
    """Whitelist tokenizer: integers and the operator spellings of _OPERATORS; anything else fails."""
    for noise in _IGNORED:
        text = text.replace(noise, " ")
    out: list[str | int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < n and "0" <= text[j] <= "9":
                j += 1
            if j - i > MAX_LITERAL_DIGITS:
                raise ExpressionError(f"a number has more than {MAX_LITERAL_DIGITS} digits")
            if j + 1 < n and text[j] in ".," and "0" <= text[j + 1] <= "9":
                raise ExpressionError("only whole numbers are allowed (no decimals or 1,000)")
            out.append(int(text[i:j]))
            i = j
        else:
            op = next((s for s in _OPERATORS if text.startswith(s, i)), None)
            if op is None:
                raise ExpressionError(f"character {ch!r} is not allowed")
            out.append(_OPERATORS[op])
            i += len(op)
    return out


class _Parser:
    """expr := term (('+'|'-') term)* ; term := atom (('*'|'/') atom)* ; atom := INT | '(' expr ')'."""

    def __init__(self, tokens: list[str | int]) -> None:
        self.tokens, self.pos, self.literals = tokens, 0, list[int]()

    def peek(self) -> str | int | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expr(self, depth: int) -> Fraction:
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.tokens[self.pos]
            self.pos += 1
            right = self.term(depth)
            value = value + right if op == "+" else value - right
        return value

    def term(self, depth: int) -> Fraction:
        value = self.atom(depth)
        while self.peek() in ("*", "/"):
            op = self.tokens[self.pos]
            self.pos += 1
            right = self.atom(depth)
            if op == "*":
                value = value * right
            elif right == 0:
                raise ExpressionError("division by zero")
            else:
                value = value / right
        return value

    def atom(self, depth: int) -> Fraction:
        token = self.peek()
        self.pos += 1
        if isinstance(token, int):
            self.literals.append(token)
            return Fraction(token)
        if token == "(":
            if depth >= MAX_DEPTH:  # unreachable after _check_depth; kept as the parser's own guard
                raise ExpressionError(f"parentheses nest deeper than {MAX_DEPTH}")
            value = self.expr(depth + 1)
            if self.peek() != ")":
                raise ExpressionError("unbalanced parentheses")
            self.pos += 1
            return value
        if token in ("+", "-"):
            raise ExpressionError("a sign before a number is not allowed (operations are binary)")
        raise ExpressionError("incomplete expression" if token is None else f"unexpected {token!r}")


def _check_depth(tokens: list[str | int]) -> None:
    depth = 0
    for t in tokens:
        depth += 1 if t == "(" else -1 if t == ")" else 0
        if depth > MAX_DEPTH:
            raise ExpressionError(f"parentheses nest deeper than {MAX_DEPTH}")
        if depth < 0:
            raise ExpressionError("unbalanced parentheses")
    if depth:
        raise ExpressionError("unbalanced parentheses")


def parse_expression(text: str) -> Parsed:
    """Parse and evaluate a countdown expression exactly; raises ExpressionError with the reason.

    >>> parse_expression("(7 − 3) × 25 / 2")
    Parsed(value=Fraction(50, 1), literals=(7, 3, 25, 2))
    """
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    tokens = _tokens(text)
    if not tokens:
        raise ExpressionError("empty expression")
    _check_depth(tokens)
    parser = _Parser(tokens)
    value = parser.expr(0)
    if parser.pos != len(tokens):
        raise ExpressionError(f"unexpected {tokens[parser.pos]!r}")
    return Parsed(value=value, literals=tuple(parser.literals))


# -- judging ----------------------------------------------------------------------------------


def _verdict(status: str, reward: float | None, start: float, **fields: Any) -> Verdict:
    return Verdict(
        status=status,  # type: ignore[arg-type]
        reward=reward,
        elapsed_ms=(time.perf_counter() - start) * 1000,
        verifier="countdown",
        verifier_version=VERSION,
        **fields,
    )


def _overused(literals: Sequence[int], numbers: Sequence[int]) -> int | None:
    """The first literal used more often than the multiset allows, or None."""
    have = Counter(numbers)
    for value, count in Counter(literals).items():
        if count > have.get(value, 0):
            return value
    return None


def verify_countdown(numbers: Sequence[int], target: int, response: str) -> Verdict:
    """Judge `response` for the countdown problem (`numbers`, `target`); never raises."""
    start = time.perf_counter()
    expression = extract_expression(response)
    if expression is None:
        return _verdict("incorrect", 0.0, start, detail={"reason": "no expression found"})
    shown = expression[:200]
    try:
        parsed = parse_expression(expression)
    except ExpressionError as exc:
        return _verdict("incorrect", 0.0, start, extracted=shown, detail={"reason": str(exc)})
    extra = _overused(parsed.literals, numbers)
    if extra is not None:
        reason = (
            f"number {extra} used more times than given"
            if extra in numbers
            else f"number {extra} is not one of the given numbers"
        )
        return _verdict("incorrect", 0.0, start, extracted=shown, detail={"reason": reason})
    value = str(parsed.value)
    if parsed.value != target:
        detail = {"reason": f"evaluates to {value}, not {target}", "value": value}
        return _verdict("incorrect", 0.0, start, extracted=shown, detail=detail)
    return _verdict("correct", 1.0, start, extracted=shown, detail={"value": value})


def _problem_of(prompt: Mapping[str, Any]) -> tuple[list[int], int] | None:
    """(numbers, target) from the prompt row's ``meta`` (dict or JSON text), or None."""
    meta = prompt.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return None
    if not isinstance(meta, Mapping):
        return None
    numbers, target = meta.get("numbers"), meta.get("target")
    valid = (
        isinstance(numbers, list)
        and numbers
        and all(type(n) is int and n >= 0 for n in numbers)
        and type(target) is int
    )
    return (cast(list[int], numbers), cast(int, target)) if valid else None


def score_prompt(prompt: Mapping[str, Any], response: str, **options: Any) -> Verdict:
    """Registry entry: numbers and target come from ``prompt["meta"]``; no options."""
    if options:
        raise TypeError(f"countdown takes no options, got {', '.join(options)}")
    problem = _problem_of(prompt)
    if problem is None:
        return _verdict(
            "unverifiable",
            None,
            time.perf_counter(),
            detail={"reason": "prompt meta has no integer 'numbers' list and 'target'"},
        )
    return verify_countdown(problem[0], problem[1], response)
