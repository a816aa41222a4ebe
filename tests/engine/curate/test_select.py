"""Recipes (errors name the step and field), `rlvr select` end to end: funnel, lineage, idempotence."""

from __future__ import annotations

import json

import polars as pl
import pytest

from engine.cli import main
from engine.curate import load_recipe, parse_recipe, select
from engine.errors import UserError
from tests.engine.curate.conftest import GEN, INGEST, R, prompt_row, write_run

WRONG = "incorrect"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps:\n  - corect\n", "step 1 'corect' is not a step"),  # a typo in a step name
        (
            "steps:\n  - correct\n  - language: {treshold: 0.9}\n",
            "step 2 'language': unknown field 'treshold'",
        ),
        ("steps:\n  - length: {max_tokens: many}\n", "field 'max_tokens' = 'many' is not int"),
        ("unit: prompts\nsteps:\n  - correct\n", "does not apply to unit 'prompts'"),
        ("steps: [correct\n", "not valid YAML"),
        ("stepz:\n  - correct\n", "unknown field 'stepz'"),
        ("steps:\n  - pass_rate: {min: 0.9, max: 0.1}\n", "need 0 ≤ min ≤ max ≤ 1"),
        ("steps: []\n", "non-empty list"),
        ("steps:\n  - near_dedup: {field: completoin}\n", "field 'field' = 'completoin'"),
        ("unit: prompts\nsteps:\n  - exact_dedup: {field: completion}\n", "use one of problem"),
    ],
)
def test_recipe_mistakes_name_the_step_and_field(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        parse_recipe(text, source="r.yaml")


def test_builtin_recipes_parse() -> None:
    assert load_recipe("r1-sft").unit == "rollouts"
    assert load_recipe("grpo-prompts").unit == "prompts"
    with pytest.raises(UserError, match="no recipe 'nope'"):
        load_recipe("nope")


def _lake(lake):
    ps = [prompt_row("a"), prompt_row("b"), prompt_row("c")]
    write_run(lake, ps, {
        "0": [R(tokens=30, reasoning="First we add. Then we check it carefully."),
              R(status=WRONG, extracted="5"),
              R(tokens=20, reasoning="We add the numbers, and that is all there is."),
              R(tokens=5, finish="length", reasoning="We add, then we")],
        "1": [R(status=WRONG, extracted="2"), R(tokens=12, reasoning="Twelve tokens of sums."),
              R(tokens=11, reasoning="Twelve tokens of sums.")],  # an exact duplicate, shorter
        "2": [R(reasoning="Three is three."), R(reasoning="Three is three, yes indeed it is.")],
    })  # fmt: skip
    return ps


def test_select_funnel_and_shortest_correct_first(lake) -> None:
    _lake(lake)
    recipe = parse_recipe("steps:\n  - correct\n  - not_truncated\n  - exact_dedup\n"
                          "  - max_per_prompt: {m: 1}\n", source="t")  # fmt: skip
    result = select(lake, [GEN], recipe, "t1")
    assert [(f.step, f.kept, f.dropped) for f in result.funnel] == [
        ("input", 9, 0), ("correct", 7, 2), ("not_truncated", 6, 1), ("exact_dedup", 5, 1),
        ("max_per_prompt", 3, 2)]  # fmt: skip
    data = pl.read_parquet(result.path / "data.parquet")
    by_prompt = dict(zip(data["prompt_id"], data["tokens"], strict=True))
    assert sorted(by_prompt.values()) == [10, 11, 20]  # the shortest correct of each prompt
    lineage = json.loads((result.path / "lineage.json").read_text())
    assert lineage["source_runs"][0]["run_id"] == GEN and lineage["rows"] == 3
    assert {k: lineage["funnel"][1][k] for k in ("step", "kept", "dropped")} == {
        "step": "correct", "kept": 7, "dropped": 2}  # fmt: skip
    assert "max_per_prompt" in lineage["recipe"]["text"]
    runs = lake.connect().execute("SELECT kind, status FROM runs WHERE kind = 'select'").fetchall()
    assert runs == [("select", "done")]


def test_reselection_is_identical_and_an_existing_name_is_refused(lake) -> None:
    _lake(lake)
    first = select(lake, [GEN], load_recipe("r1-sft"), "one")
    second = select(lake, [GEN], load_recipe("r1-sft"), "two")
    a, b = (pl.read_parquet(s.path / "data.parquet") for s in (first, second))
    assert a.height > 0 and a.equals(b)
    assert first.lineage["ids_sha256"] == second.lineage["ids_sha256"]
    with pytest.raises(UserError, match="dataset 'one' exists"):
        select(lake, [GEN], load_recipe("r1-sft"), "one")
    again = select(lake, [GEN], load_recipe("r1-sft"), "one", replace=True)
    assert pl.read_parquet(again.path / "data.parquet").equals(a)
    assert not [p for p in (lake.root / "datasets").iterdir() if p.name.startswith(".")]


def test_grpo_prompts_keep_the_pass_rate_band_and_drop_benchmark_prompts(lake) -> None:
    bench = (
        "Find the number of ordered pairs of positive integers whose product is exactly 720 today"
    )
    contaminated = prompt_row("x", problem=f"Copied: {bench}")
    ps = [prompt_row("a"), prompt_row("b"), contaminated]
    write_run(lake, ps, {"0": [R(), R(status=WRONG, extracted="3")], "1": [R(), R()],
                         "2": [R(), R(status=WRONG, extracted="3")]})  # fmt: skip
    lake.append("prompts", [prompt_row("m", dataset="math500", problem=bench)], run_id=INGEST)
    result = select(lake, [GEN], load_recipe("grpo-prompts"), "rl")
    data = pl.read_parquet(result.path / "data.parquet")
    assert data["prompt_id"].to_list() == [ps[0]["prompt_id"]]
    funnel = {f.step: f.dropped for f in result.funnel}
    assert funnel["pass_rate"] == 1 and funnel["decontaminate"] == 1
    assert result.lineage["benchmarks_found"] == ["math500"]


def test_a_run_without_verdicts_is_refused(lake) -> None:
    write_run(lake, [prompt_row("a")], {"0": [R(status=None, format_reward=None)]})
    with pytest.raises(UserError, match="has no verdicts — judge it first"):
        select(lake, [GEN], load_recipe("r1-sft"), "x")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--recipe", "BAD"], "step 1 'corect' is not a step"),
        (["--recipe", "r1-sft", "--run", "nope"], "no rollouts for run 'nope'"),
        (["--recipe", "nope.yaml"], "no recipe 'nope.yaml'"),
    ],
)
def test_cli_errors_are_one_line_exit_2(lake, tmp_path, capsys, args, message) -> None:
    _lake(lake)
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - corect\n")
    args = [str(bad) if a == "BAD" else a for a in args]
    argv = ["select", "--lake", str(lake.root), "--run", GEN, "--name", "n", *args]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (lake.root / "datasets" / "n").exists()


def run_cli(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


def test_cli_select_prints_the_funnel_and_eval_prints_metrics(lake, capsys) -> None:
    _lake(lake)
    lake_args = ["--lake", str(lake.root), "--run", GEN]
    assert run_cli(["select", *lake_args, "--recipe", "r1-sft", "--name", "s"]) == 0
    out = capsys.readouterr().out
    assert "correct" in out and "max_per_prompt" in out
    assert run_cli(["eval", *lake_args, "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    pass1 = next(r for r in rows if r["metric"] == "pass@1")
    assert pass1["dataset"] == "demo" and pass1["value"] == pytest.approx((3 / 4 + 2 / 3 + 1) / 3)


def test_datasets_from_a_run(lake) -> None:
    from engine.curate import datasets_from

    _lake(lake)
    select(lake, [GEN], load_recipe("r1-sft"), "a")
    assert [d["name"] for d in datasets_from(lake, GEN)] == ["a"]
    assert datasets_from(lake, "another-run") == []
