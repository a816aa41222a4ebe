"""Synthetic verifiable tasks: multi-step arithmetic, countdown and linear equations.

The embedded default (DESIGN.md) needs prompts with gold answers on a machine with no data: these
generators make them. Each is deterministic by seed, has difficulty knobs, and a held-out split that
is disjoint from training *by construction*: a problem's split is a function of its content (a hash
of its canonical form, :func:`split_of`), so a train set and a test set never share a problem,
whatever seeds made them. A generator draws problems from ``Random((task, split, seed))`` and keeps
the ones whose hash lands in the requested split; within a set, problems are distinct.

- ``arithmetic`` → lake task ``math``, ``answer`` the integer value ("What is 12 + 7 * 3?" → "33").
- ``linear`` → lake task ``math``, ``answer`` the integer solution ("Solve for x: 3x + 7 = 22." → "5").
  Both are judged by the ``math`` verifier.
- ``countdown`` → lake task ``countdown``, ``meta`` = ``{"numbers": [...], "target": T, "solution":
  "..."}``, ``answer`` = the target (for SQL); judged by the ``countdown`` verifier, which computes
  every value here too (one evaluator, so a generated solution and a judged answer cannot disagree).

Difficulty: a preset name (``easy`` | ``medium`` | ``hard``) optionally followed by knob overrides,
e.g. ``medium,max_value=50``; the knobs are the fields of each task's dataclass below. Easy
arithmetic is one operation on single digits (200 problems, about 33 of them in the test split):
small on purpose, so that the tiny base model can learn part of it in a minute of CPU and RL has a
signal; ask for more than a split holds and the error says to raise the difficulty.

>>> [p.answer for p in synthesize("arithmetic", n=2, seed=0, difficulty="easy")] == [
...     p.answer for p in synthesize("arithmetic", n=2, seed=0, difficulty="easy")]
True
>>> synthesize("countdown", n=1, seed=0)[0].task
'countdown'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine import ids
from engine.errors import UserError
from verifiers.countdown import parse_expression

__all__ = [
    "DIFFICULTIES",
    "MAX_DRY_DRAWS",
    "SPLITS",
    "TASKS",
    "TEST_FRACTION",
    "ArithmeticKnobs",
    "CountdownKnobs",
    "Knobs",
    "LinearKnobs",
    "Problem",
    "SynthSummary",
    "parse_difficulty",
    "prompt_rows",
    "split_of",
    "synth_prompts",
    "synthesize",
]

SPLITS = ("train", "test")
TEST_FRACTION = 0.2  # share of each task's problem space held out for evaluation
MAX_DRY_DRAWS = 5000  # draws without a new problem before giving up: the space is too small for n


@dataclass(frozen=True, kw_only=True, slots=True)
class ArithmeticKnobs:
    """ops: operations per problem; max_value: largest operand; operators: from ``+-*``;
    max_factor: largest operand next to ``*``; parens: allow one parenthesised group."""

    ops: int = 1
    max_value: int = 9
    operators: str = "+-"
    max_factor: int = 12
    parens: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class CountdownKnobs:
    """numbers: how many are given; max_value: largest number; min_used: numbers the planted
    solution uses at least; max_target: largest target."""

    numbers: int = 3
    max_value: int = 20
    min_used: int = 2
    max_target: int = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class LinearKnobs:
    """max_coef: largest |coefficient|; max_const: largest |constant|; max_solution: largest |x|;
    negative: allow negative numbers; both_sides: x on both sides of the equation."""

    max_coef: int = 9
    max_const: int = 50
    max_solution: int = 20
    negative: bool = False
    both_sides: bool = False


Knobs = ArithmeticKnobs | CountdownKnobs | LinearKnobs

DIFFICULTIES: dict[str, dict[str, Knobs]] = {
    "arithmetic": {
        "easy": ArithmeticKnobs(),
        "medium": ArithmeticKnobs(ops=2, max_value=50, operators="+-*"),
        "hard": ArithmeticKnobs(ops=3, max_value=100, operators="+-*", parens=True),
    },
    "countdown": {
        "easy": CountdownKnobs(),
        "medium": CountdownKnobs(numbers=4, max_value=50, min_used=3, max_target=500),
        "hard": CountdownKnobs(numbers=6, max_value=100, min_used=4, max_target=1000),
    },
    "linear": {
        "easy": LinearKnobs(),
        "medium": LinearKnobs(max_coef=12, max_const=60, negative=True),
        "hard": LinearKnobs(
            max_coef=20, max_const=100, max_solution=30, negative=True, both_sides=True
        ),
    },
}
TASKS = tuple(DIFFICULTIES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """One synthetic problem, ready for the prompts table (``task`` is the lake's task)."""

    problem: str
    answer: str
    task: str
    key: str  # canonical form: what identifies the problem across phrasings and orders
    meta: dict[str, Any] = field(default_factory=dict)


# -- the generators -------------------------------------------------------------------------------


def _chain(rng: random.Random, k: ArithmeticKnobs) -> str:
    """``ops`` random operations over random operands; a factor next to ``*`` stays small."""
    ops = [rng.choice(k.operators) for _ in range(k.ops)]
    values = []
    for i in range(k.ops + 1):
        near_star = (i > 0 and ops[i - 1] == "*") or (i < k.ops and ops[i] == "*")
        values.append(rng.randint(0, k.max_factor if near_star else k.max_value))
    parts = [str(values[0])]
    for op, v in zip(ops, values[1:], strict=True):
        parts += [op, str(v)]
    if k.parens and k.ops >= 2:  # wrap one inner run of 2+ operands: "a - (b + c) * d"
        first = rng.randrange(k.ops)
        last = rng.randint(first + 1, k.ops)
        if (first, last) != (0, k.ops):
            parts[2 * first] = "(" + parts[2 * first]
            parts[2 * last] += ")"
    return " ".join(parts)


def _arithmetic(rng: random.Random, k: ArithmeticKnobs) -> Problem:
    expression = _chain(rng, k)
    value = parse_expression(expression).value
    return Problem(
        problem=f"What is {expression}?",
        answer=str(int(value)),
        task="math",
        key=expression,
        meta={"kind": "arithmetic", "expression": expression},
    )


def _countdown(rng: random.Random, k: CountdownKnobs) -> Problem | None:
    numbers = [rng.randint(1, k.max_value) for _ in range(k.numbers)]
    used = rng.sample(numbers, rng.randint(min(k.min_used, k.numbers), k.numbers))
    expression = str(used[0])
    for v in used[1:]:  # fold left with random ops, bracketing so the order is the fold's
        op = rng.choice("+-*/")
        expression = (
            f"({expression}) {op} {v}"
            if op in "*/" and " " in expression
            else (f"{expression} {op} {v}")
        )
    try:
        value = parse_expression(expression).value
    except ValueError:  # division by zero cannot happen (numbers ≥ 1), kept for safety
        return None
    if value.denominator != 1 or not 1 <= value <= k.max_target or value in numbers:
        return None  # unreachable or trivial targets are redrawn
    target = int(value)
    shown = sorted(numbers)
    return Problem(
        problem=(
            f"Using the numbers {', '.join(map(str, shown))}, each at most once, and the "
            f"operations + - * / with parentheses, write an expression equal to {target}."
        ),
        answer=str(target),
        task="countdown",
        key=f"{shown}->{target}",
        meta={"kind": "countdown", "numbers": shown, "target": target, "solution": expression},
    )


def _linear(rng: random.Random, k: LinearKnobs) -> Problem | None:
    low = -k.max_coef if k.negative else 1
    a = rng.randint(low, k.max_coef)
    b = rng.randint(-k.max_const if k.negative else 0, k.max_const)
    x = rng.randint(-k.max_solution if k.negative else 0, k.max_solution)
    c = rng.randint(low, k.max_coef) if k.both_sides else 0
    if a == 0 or a == c:
        return None
    d = (a - c) * x + b  # a x + b = c x + d
    left = _linear_side(a, b)
    right = _linear_side(c, d) if k.both_sides else str(d)
    equation = f"{left} = {right}"
    return Problem(
        problem=f"Solve for x: {equation}.",
        answer=str(x),
        task="math",
        key=equation,
        meta={"kind": "linear", "equation": equation},
    )


def _linear_side(coef: int, const: int) -> str:
    term = {1: "x", -1: "-x"}.get(coef, f"{coef}x")
    if const == 0:
        return term
    return f"{term} {'+' if const > 0 else '-'} {abs(const)}"


_GENERATORS: dict[str, Callable[[random.Random, Any], Problem | None]] = {
    "arithmetic": _arithmetic,
    "countdown": _countdown,
    "linear": _linear,
}


# -- splits, knobs, the entry point ---------------------------------------------------------------


def split_of(task: str, key: str) -> str:
    """The split a problem belongs to, from its content alone (so splits never overlap)."""
    digest = hashlib.blake2b(f"{task}\x1f{key}".encode(), digest_size=8).digest()
    return "test" if int.from_bytes(digest, "big") / 2**64 < TEST_FRACTION else "train"


def parse_difficulty(task: str, text: str | Knobs = "easy") -> Knobs:
    """``"medium"`` or ``"medium,max_value=50,parens=true"`` → the task's knobs dataclass."""
    if task not in DIFFICULTIES:
        raise UserError(f"--task {task!r}: unknown — use one of {', '.join(TASKS)}")
    if not isinstance(text, str):
        return text
    preset, *overrides = (part.strip() for part in text.split(","))
    if preset not in DIFFICULTIES[task]:
        raise UserError(
            f"--difficulty {preset!r}: unknown — use easy, medium or hard, then optional "
            "KNOB=VALUE overrides (e.g. medium,max_value=50)"
        )
    knobs = DIFFICULTIES[task][preset]
    fields = {f.name: f for f in dataclasses.fields(knobs)}
    changes: dict[str, Any] = {}
    for item in overrides:
        name, sep, raw = (s.strip() for s in item.partition("="))
        if not sep or name not in fields:
            raise UserError(
                f"--difficulty {item!r}: expected KNOB=VALUE with KNOB one of {', '.join(fields)}"
            )
        changes[name] = _knob_value(name, raw, type(getattr(knobs, name)))
    return _validated(task, dataclasses.replace(knobs, **changes))


def _knob_value(name: str, raw: str, kind: type) -> Any:
    if kind is bool:
        if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise UserError(f"--difficulty {name}={raw}: expected true or false")
        return raw.lower() in ("true", "1", "yes")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise UserError(f"--difficulty {name}={raw}: expected a whole number") from None
    return raw


def _validated(task: str, k: Knobs) -> Knobs:
    ints = {
        f.name: getattr(k, f.name) for f in dataclasses.fields(k) if type(getattr(k, f.name)) is int
    }
    bad = [
        n
        for n, v in ints.items()
        if v < (0 if n == "max_value" and task == "arithmetic" else 1) or v > 10_000
    ]
    if isinstance(k, ArithmeticKnobs) and (not k.operators or set(k.operators) - set("+-*")):
        bad.append("operators")
    if isinstance(k, CountdownKnobs) and k.min_used > k.numbers:
        bad.append("min_used")
    if bad:
        raise UserError(
            f"--difficulty: {', '.join(f'{n}={getattr(k, n)!r}' for n in bad)} out of range — whole "
            "numbers from 1 to 10000, operators from '+-*', min_used ≤ numbers"
        )
    return k


def synthesize(
    task: str,
    *,
    n: int,
    seed: int = 0,
    split: str = "train",
    difficulty: str | Knobs = "easy",
    allow_fewer: bool = False,
) -> list[Problem]:
    """``n`` distinct problems of ``task`` in ``split``, the same list for the same arguments.

    Raises UserError when the difficulty's problem space cannot supply ``n`` distinct problems,
    unless ``allow_fewer`` (then it returns all it found).
    """
    if split not in SPLITS:
        raise UserError(f"--split {split!r}: unknown — use train or test")
    if n < 1:
        raise UserError(f"--n {n}: must be at least 1 — e.g. --n 1000")
    knobs = parse_difficulty(task, difficulty)
    rng = random.Random(f"{task}\x1f{split}\x1f{seed}")  # str seeds hash with SHA-512: stable
    make = _GENERATORS[task]
    found: dict[str, Problem] = {}
    stale = 0  # draws since the last new problem: a long dry run means the space is used up
    while stale < MAX_DRY_DRAWS:
        p = make(rng, knobs)
        stale += 1
        if p is not None and p.key not in found and split_of(task, p.key) == split:
            found[p.key] = p
            stale = 0
            if len(found) == n:
                return list(found.values())
    if allow_fewer:
        return list(found.values())
    raise UserError(
        f"only {len(found)} distinct {task} problems found for --split {split} at this difficulty "
        f"— lower --n or raise the difficulty (e.g. --difficulty medium)"
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SynthSummary:
    """The outcome of one ``rlvr prompts synth``; ``already_present`` prompts were in the lake."""

    dataset: str
    run_id: str
    task: str
    split: str
    prompts: int
    already_present: int


def prompt_rows(dataset: str, split: str, problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as rows of the lake's ``prompts`` table (``prompt_id`` = hash of dataset+problem)."""
    return [
        {
            "prompt_id": ids.prompt_id(dataset, p.problem),
            "dataset": dataset,
            "split": split,
            "task": p.task,
            "problem": p.problem,
            "answer": p.answer,
            "tests": None,
            "meta": json.dumps(p.meta, ensure_ascii=False),
        }
        for p in problems
    ]


def synth_prompts(
    lake: Any,
    task: str,
    *,
    n: int,
    dataset: str,
    seed: int = 0,
    split: str = "train",
    difficulty: str = "easy",
) -> SynthSummary:
    """Synthesize ``n`` problems into ``lake`` (an :class:`engine.lake.Lake`) as one ingest run.

    The same path as ``rlvr prompts import``: every row is built and checked against the schema
    before the run row is written, then one atomic append; bad arguments write nothing.
    """
    from engine.schema import conform

    if not dataset or not dataset.strip() or ids.SEPARATOR in dataset:
        raise UserError("--dataset NAME is required (e.g. --dataset arith_easy)")
    knobs = parse_difficulty(task, difficulty)
    problems = synthesize(task, n=n, seed=seed, split=split, difficulty=knobs)
    rows = prompt_rows(dataset, split, problems)
    run_id = ids.new_run_id("ingest")
    table = conform("prompts", rows, run_id=run_id)
    before = lake.existing_ids("prompts")
    params = {
        "synth": task,
        "dataset": dataset,
        "n": n,
        "seed": seed,
        "split": split,
        "difficulty": difficulty,
        "knobs": dataclasses.asdict(knobs),
        "prompts": len(rows),
    }
    with lake.run("ingest", run_id=run_id, params=params, seed=seed):
        lake.append("prompts", table, run_id=run_id)
    return SynthSummary(
        dataset=dataset,
        run_id=run_id,
        task=task,
        split=split,
        prompts=len(rows),
        already_present=sum(1 for r in rows if r["prompt_id"] in before),
    )
