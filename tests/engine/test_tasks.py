"""Synthetic tasks (issue 11): deterministic by seed, held-out split disjoint from train, answers
that the verifiers accept, difficulty knobs, and `rlvr prompts synth` writing an ingest run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.cli as cli
from engine import cli_prompts, tasks
from engine.errors import UserError
from engine.lake import Lake
from engine.tasks import parse_difficulty, split_of, synthesize
from verifiers import registry

TASK_NAMES = ("arithmetic", "countdown", "linear")


@pytest.mark.parametrize("task", TASK_NAMES)
def test_same_seed_same_problems_other_seed_others(task: str) -> None:
    first = synthesize(task, n=50, seed=3)
    assert first == synthesize(task, n=50, seed=3)
    other = synthesize(task, n=50, seed=4)
    assert {p.key for p in first} != {p.key for p in other}
    assert len({p.key for p in first}) == 50  # distinct within a set


@settings(max_examples=15, deadline=None)
@given(
    task=st.sampled_from(TASK_NAMES),
    difficulty=st.sampled_from(("easy", "medium", "hard")),
    train_seed=st.integers(0, 2**32),
    test_seed=st.integers(0, 2**32),
)
def test_train_and_test_never_share_a_problem(
    task: str, difficulty: str, train_seed: int, test_seed: int
) -> None:
    # allow_fewer: easy arithmetic's whole test split is smaller than 150 problems.
    train = synthesize(
        task, n=150, seed=train_seed, split="train", difficulty=difficulty, allow_fewer=True
    )
    test = synthesize(
        task, n=150, seed=test_seed, split="test", difficulty=difficulty, allow_fewer=True
    )
    assert len(test) >= 30
    assert not {p.key for p in train} & {p.key for p in test}
    assert not {p.problem for p in train} & {p.problem for p in test}
    assert all(split_of(task, p.key) == "test" for p in test)


def test_countdown_key_ignores_number_order() -> None:
    # The same numbers in another order are the same problem: they must land in one split.
    p = synthesize("countdown", n=1, seed=0)[0]
    assert p.key == f"{sorted(p.meta['numbers'])}->{p.meta['target']}"
    assert p.meta["numbers"] == sorted(p.meta["numbers"])


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_math_answers_are_judged_correct_by_the_math_verifier(difficulty: str) -> None:
    for task in ("arithmetic", "linear"):
        for p in synthesize(task, n=15, seed=1, difficulty=difficulty):
            row = {"answer": p.answer, "task": p.task}
            assert registry.score("math", row, f"The answer is {p.answer}.").status == "correct"
            wrong = str(int(p.answer) + 1)
            assert registry.score("math", row, f"\\boxed{{{wrong}}}").status == "incorrect"


def _side(text: str, x: int) -> int:
    """Value of one side of a generated equation ("-3x - 73", "x + 5", "40") at x."""
    total = 0
    for term in text.replace(" - ", " + -").split(" + "):
        if term.endswith("x"):
            coef = term[:-1]
            total += (-1 if coef == "-" else 1 if coef == "" else int(coef)) * x
        else:
            total += int(term)
    return total


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_linear_answer_solves_the_equation_and_only_it(difficulty: str) -> None:
    for p in synthesize("linear", n=100, seed=2, difficulty=difficulty):
        left, right = p.meta["equation"].split(" = ")
        x = int(p.answer)
        assert _side(left, x) == _side(right, x), p.problem
        assert _side(left, x + 1) != _side(right, x + 1), p.problem  # one solution, not all x


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_countdown_planted_solution_verifies(difficulty: str) -> None:
    for p in synthesize("countdown", n=40, seed=5, difficulty=difficulty):
        row = {"meta": json.dumps(p.meta), "task": "countdown"}
        answer = f"<answer>{p.meta['solution']}</answer>"
        assert registry.score("countdown", row, answer).status == "correct", p.meta
        assert p.meta["target"] >= 1 and p.meta["target"] not in p.meta["numbers"]


def test_difficulty_knobs_change_the_problems() -> None:
    easy = parse_difficulty("arithmetic", "easy")
    more = parse_difficulty("arithmetic", "easy,ops=3,max_value=5")
    assert (more.ops, more.max_value) == (3, 5) and easy.ops != 3
    problems = synthesize("arithmetic", n=30, seed=0, difficulty=more)
    assert all(len(p.meta["expression"].split()) == 7 for p in problems)  # 4 operands, 3 ops
    assert all(
        int(tok) <= 5 for p in problems for tok in p.meta["expression"].split() if tok.isdigit()
    )
    hard = synthesize("countdown", n=5, seed=0, difficulty="hard")
    assert all(len(p.meta["numbers"]) == 6 for p in hard)


@pytest.mark.parametrize(
    ("task", "difficulty", "needle"),
    [
        ("arithmetic", "extreme", "easy, medium or hard"),  # unknown preset
        ("arithmetic", "easy,depth=3", "KNOB=VALUE"),  # unknown knob
        ("arithmetic", "easy,ops=two", "whole number"),  # not an int
        ("arithmetic", "easy,operators=/", "out of range"),  # no division in arithmetic
        ("countdown", "easy,min_used=5", "out of range"),  # more used than given
        ("linear", "easy,negative=maybe", "true or false"),
        ("sudoku", "easy", "unknown"),  # unknown task
    ],
)
def test_bad_difficulty_is_a_user_error(task: str, difficulty: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        parse_difficulty(task, difficulty)


def test_too_small_a_space_says_how_to_fix() -> None:
    with pytest.raises(UserError, match="lower --n or raise the difficulty"):
        synthesize("arithmetic", n=500, seed=0, difficulty="easy,ops=1,max_value=3")
    # allow_fewer: all of the small space instead (4 x 4 x 2 problems, about 80 % in train).
    found = synthesize(
        "arithmetic", n=500, seed=0, difficulty="easy,ops=1,max_value=3", allow_fewer=True
    )
    assert 15 <= len(found) < 32 and len({p.key for p in found}) == len(found)


# -- the command ------------------------------------------------------------------------------


@pytest.fixture
def rlvr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `rlvr ...` through engine.cli.main with only the prompts commands registered."""

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(
            cli, "app", typer.Typer(pretty_exceptions_enable=False, no_args_is_help=True)
        )
        monkeypatch.setattr(cli, "_register_commands", lambda: cli_prompts.register(cli.app))
        with pytest.raises(SystemExit) as info:
            cli.main(list(args))
        out = capsys.readouterr()
        return int(info.value.code or 0), out.out, out.err

    return run


def test_synth_writes_an_ingest_run_and_is_idempotent(tmp_path: Path, rlvr) -> None:
    lake = str(tmp_path / "lake")
    args = ("prompts", "synth", "--task", "countdown", "--n", "20", "--dataset", "cd")
    code, out, err = rlvr(*args, "--split", "test", "--lake", lake)
    assert code == 0, err
    assert "synthesized 20 countdown prompts (test) into dataset 'cd'" in out
    prompts = Lake.open(lake).scan("prompts").collect()
    assert prompts.height == 20 and set(prompts["task"]) == {"countdown"}
    assert set(prompts["split"]) == {"test"}
    meta = json.loads(prompts["meta"][0])
    assert prompts["answer"][0] == str(meta["target"]) and meta["numbers"]
    runs = Lake.open(lake).scan("runs").collect()
    params = json.loads(runs.filter(runs["status"] == "done")["params"][0])
    assert (params["synth"], params["n"], params["split"]) == ("countdown", 20, "test")
    code, out, _ = rlvr(*args, "--split", "test", "--lake", lake)
    assert code == 0 and "(20 already in the lake)" in out


def test_synth_math_tasks_are_math_prompts(tmp_path: Path, rlvr) -> None:
    lake = str(tmp_path / "lake")
    code, _, err = rlvr(
        "prompts", "synth", "--task", "linear", "-n", "5", "--dataset", "lin", "--lake", lake
    )
    assert code == 0, err
    rows = Lake.open(lake).scan("prompts").collect().to_dicts()
    assert {r["task"] for r in rows} == {"math"} and all(r["answer"] for r in rows)
    expected = [p.problem for p in tasks.synthesize("linear", n=5, seed=0)]
    assert sorted(r["problem"] for r in rows) == sorted(expected)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--task", "arithmetic", "--n", "5", "--difficulty", "nope"), "--difficulty 'nope'"),
        (("--task", "arithmetic", "--n", "0"), "--n 0: must be at least 1"),
        (
            ("--task", "arithmetic", "--n", "99999", "--difficulty", "easy,ops=1,max_value=2"),
            "lower --n",
        ),
    ],
)
def test_synth_bad_input_one_line_exit_2_nothing_written(
    tmp_path: Path, rlvr, args: tuple[str, ...], needle: str
) -> None:
    lake = tmp_path / "lake"
    code, _, err = rlvr("prompts", "synth", *args, "--dataset", "d", "--lake", str(lake))
    assert code == 2
    assert err.startswith("error: ") and needle in err and " — " in err
    assert len(err.strip().splitlines()) == 1
    assert not [p for p in lake.rglob("*.parquet")]
