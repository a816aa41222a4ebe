"""`rlvr train`: recipes, a real TRL GRPO/SFT step with our rewards, rollout capture, resume.

The GRPO runs are 2-3 steps of 16 completions on the tiny model (about 1 s a step on one thread).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("trl")

import trl
from trl import GRPOConfig, SFTConfig

from engine.cli import main
from engine.lake import Lake
from training.recipe import RECIPES, RecipeError, load_recipe, resolved_config
from training.train import train
from verifiers.rewards import completion_text, math_reward

# 16 completions a step (2 prompts × 8), whatever the recipe's batch: the counts below rely on it
SMALL = ["rlvr.synth={task: arithmetic, n: 16, difficulty: easy, seed: 0}", "save_steps=1",
         "per_device_train_batch_size=16"]  # fmt: skip


# -- recipes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RECIPES)
@pytest.mark.parametrize("cuda", [False, True])
def test_bundled_recipes_build_trl_configs(name: str, cuda: bool, tmp_path: Path) -> None:
    recipe = load_recipe(name)
    cls = GRPOConfig if recipe.trainer == "grpo" else SFTConfig
    fields = {f.name for f in dataclasses.fields(cls)}
    config = resolved_config(recipe, cuda=cuda, output_dir=str(tmp_path))
    assert set(config) <= fields  # one to one onto TRL's config
    if cuda:  # bf16 and vLLM need the GPU to build the config: the gpu test below does that
        assert config["bf16"] is True and config["activation_checkpointing"] is True
        if recipe.trainer == "grpo":
            assert config["use_vllm"] is True and config["vllm_mode"] == "colocate"
        return
    args = cls(**config)
    assert args.use_cpu is (not cuda)
    if not cuda:
        assert not args.bf16 and not args.activation_checkpointing
    if recipe.trainer == "grpo":
        assert args.loss_type == "grpo" and args.beta == pytest.approx(0.001)
        assert args.scale_rewards == "group"


def test_r1_rl_uses_the_papers_clip_and_language_reward() -> None:
    recipe = load_recipe("r1-rl")
    assert recipe.config["epsilon"] == 10.0  # R1 v2 §3.2.1
    assert "verifiers.rewards.language_reward" in recipe.reward_funcs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["max_prompt_length=64"], "unknown field 'max_prompt_length'"),  # gone in TRL 1.x
        (["rlvr.cpu={use_gpu: true}"], "unknown field 'use_gpu' in rlvr.cpu"),
        (["rlvr.trainer=ppo"], "rlvr.trainer must be grpo or sft"),
        (["rlvr.template=alpaca"], "rlvr.template"),
        (["beta"], "not key=value"),
    ],
)
def test_bad_recipe_fields_name_the_field(overrides, message) -> None:
    with pytest.raises(RecipeError, match=message):
        load_recipe("r1-zero", overrides)


def test_overrides_are_read_as_yaml() -> None:
    recipe = load_recipe("r1-zero", ["beta=0", "learning_rate=1e-5", "rlvr.template=chat",
                                     "save_strategy=no", "use_cpu=true"])  # fmt: skip
    assert recipe.config["beta"] == 0 and recipe.config["learning_rate"] == 1e-5
    assert recipe.config["save_strategy"] == "no" and recipe.config["use_cpu"] is True
    assert recipe.template == "chat"


def test_cli_unknown_field_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    lake = tmp_path / "lake"
    with pytest.raises(SystemExit) as exit_:
        main(["train", "grpo", "--recipe", "r1-zero", "--lake", str(lake), "bogus=1"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2
    assert err.startswith("error: unknown field 'bogus'") and "\n" not in err
    assert not lake.exists()  # nothing written for a bad recipe


def test_recipe_runs_under_trls_own_cli_parser() -> None:
    """`trl grpo --config recipe.yaml`: TRL's parser reads the file; reward_funcs resolve as
    trl/scripts/grpo.py resolves dotted paths (rsplit, import_module, getattr)."""
    from trl.scripts.grpo import make_parser

    for name in ("r1-zero", "r1-rl"):
        path = Path(load_recipe(name).path)
        script, config, model, _ = make_parser().parse_args_and_config(
            [
                "--config",
                str(path),
                "--output_dir",
                "/tmp/x",
                "--use_cpu",
                "true",
                "--bf16",
                "false",
            ],
            fail_with_unknown_args=False,
        )
        assert config.loss_type == "grpo" and config.beta == pytest.approx(0.001)
        assert model.model_name_or_path == load_recipe(name).model
        for dotted in script.reward_funcs:
            module, attr = dotted.rsplit(".", 1)
            func = getattr(importlib.import_module(module), attr)
            assert callable(func) and trl.trainer.utils.get_callable_name(func) == attr


# -- GRPO in a real trainer, with capture ----------------------------------------------------------


@pytest.fixture(scope="module")
def grpo_run(tiny_model: Path, tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("grpo")
    lake = Lake.open(root / "lake")
    out = str(root / "out")
    result = train("grpo", "r1-zero", model=str(tiny_model), lake=lake, output_dir=out,
                   overrides=[*SMALL, "max_steps=2"])  # fmt: skip
    return lake, result, out


def _train_rows(lake: Lake) -> list[dict]:
    con = lake.connect()
    return (
        con.execute(
            "SELECT r.*, p.answer FROM read_parquet(?, hive_partitioning = true) r "
            "JOIN read_parquet(?, hive_partitioning = true) p USING (prompt_id)",
            [str(lake.root / "rollouts/**/*.parquet"), str(lake.root / "prompts/**/*.parquet")],
        )
        .fetch_df()
        .to_dict("records")
    )


def test_grpo_step_captures_every_completion_with_its_rewards(grpo_run) -> None:
    lake, result, _ = grpo_run
    rows = _train_rows(lake)
    assert result.global_step == 2 and result.rollouts == 32 == len(rows)  # 2 steps × 16
    assert {r["step"] for r in rows} == {1, 2} and {r["source"] for r in rows} == {"train"}
    verdicts = lake.scan("verdicts").collect().to_dicts()
    by = {(v["rollout_id"], v["verifier"]): v for v in verdicts}
    for r in rows:  # the lake's reward is the verifier's reward on that very completion
        stored = by[(r["rollout_id"], "math")]["reward"]
        again = math_reward(completions=[r["completion"]], answer=[r["answer"]])[0]
        assert stored == again
        assert (r["rollout_id"], "format") in by
        assert r["completion_tokens"] >= 1 and r["finish_reason"] in ("stop", "length")


def test_run_row_records_recipe_config_and_checkpoints(grpo_run) -> None:
    lake, result, out = grpo_run
    con = lake.connect()
    kind, status, params = con.execute(
        "SELECT kind, status, params FROM read_parquet(?, hive_partitioning = true) "
        "WHERE run_id = ? ORDER BY created_at DESC LIMIT 1",
        [str(lake.root / "runs/**/*.parquet"), result.run_id],
    ).fetchone()
    params = json.loads(params)
    assert (kind, status) == ("train", "done")
    assert params["recipe"]["name"] == "r1-zero" and params["config"]["use_cpu"] is True
    assert params["checkpoints"] == [f"{out}/checkpoint-1", f"{out}/checkpoint-2"]
    assert all(Path(p).is_dir() for p in params["checkpoints"])


def test_sql_answers_reward_and_length_by_step(grpo_run) -> None:
    lake, _, _ = grpo_run
    from engine.sql import connect

    con = connect(lake)
    got = con.execute(
        "SELECT r.step, avg(v.reward), avg(r.completion_tokens) FROM rollouts r "
        "JOIN verdicts v USING (rollout_id) WHERE r.source = 'train' AND v.verifier = 'math' "
        "GROUP BY r.step ORDER BY r.step"
    ).fetchall()
    assert [s for s, _, _ in got] == [1, 2]
    assert all(0 <= rew <= 1 and length > 0 for _, rew, length in got)


def test_resume_continues_from_the_last_checkpoint(grpo_run) -> None:
    lake, first, out = grpo_run
    again = train("grpo", "r1-zero", model=first.output_dir, lake=lake, output_dir=out,
                  overrides=[*SMALL, "max_steps=3"])  # fmt: skip
    assert again.resumed_from == f"{out}/checkpoint-2"
    assert again.global_step == 3 and again.rollouts == 16  # only step 3 was sampled
    steps = {r["step"] for r in _train_rows(lake) if r["run_id"] == again.run_id}
    assert steps == {3}


def test_none_rewards_are_left_out_not_zero(tiny_model: Path, tmp_path: Path) -> None:
    """Prompts without a gold answer: math reward None → NaN in TRL, NULL in the lake."""
    lake = Lake.open(tmp_path / "lake")
    from engine.tasks import prompt_rows, synthesize

    rows = prompt_rows("nogold", "train", synthesize("arithmetic", n=4, seed=0))
    for row in rows:
        row["answer"] = None
    lake.append("prompts", rows, run_id="ingest-nogold")
    result = train("grpo", "r1-zero", model=str(tiny_model), lake=lake, dataset="nogold",
                   output_dir=str(tmp_path / "out"),
                   overrides=["max_steps=1", "per_device_train_batch_size=16"])  # fmt: skip
    maths = [v for v in lake.scan("verdicts").collect().to_dicts() if v["verifier"] == "math"]
    assert result.rollouts == 16 and len(maths) == 16
    assert all(v["reward"] is None and v["status"] == "unverifiable" for v in maths)


# -- SFT ------------------------------------------------------------------------------------------


def test_sft_step_trains_on_the_assistant_turn_only(tiny_model: Path, tmp_path: Path) -> None:
    from training.train import _build_trainer, build_dataset

    recipe = load_recipe("cold-start-sft", ["rlvr.synth={task: arithmetic, n: 16, seed: 0}",
                                            "max_steps=1", "per_device_train_batch_size=4"])  # fmt: skip
    data, _ = build_dataset(recipe, Lake.open(tmp_path / "lake"), None)
    config = resolved_config(recipe, cuda=False, output_dir=str(tmp_path / "out"))
    trainer = _build_trainer(recipe, str(tiny_model), config, data)
    row = trainer.train_dataset[0]
    trained = [t for t in row["labels"] if t != -100]
    text = trainer.processing_class.decode(trained)
    assert 0 < len(trained) < len(row["input_ids"])
    assert text.startswith("<think>") and "What is" not in text  # the user turn is not trained on
    trainer.train()
    assert math.isfinite(trainer.state.log_history[-1]["train_loss"])


def test_trace_rows_are_conversational_for_trl() -> None:
    from trl.data_utils import is_conversational

    from engine.tasks import synthesize
    from training.traces import sft_rows

    row = sft_rows(synthesize("countdown", n=1, seed=0))[0]
    assert is_conversational(row)
    assert completion_text([row["messages"][1]]).startswith("<think>")


# -- GPU + vLLM -----------------------------------------------------------------------------------


@pytest.mark.gpu
def test_cuda_recipe_generates_with_vllm_colocate(request, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU on this machine")
    pytest.importorskip("vllm")
    tiny_model = request.getfixturevalue("tiny_model")
    lake = Lake.open(tmp_path / "lake")
    result = train("grpo", "r1-zero", model=str(tiny_model), lake=lake,
                   output_dir=str(tmp_path / "out"), overrides=[*SMALL, "max_steps=2"])  # fmt: skip
    params = json.loads(lake.scan("runs").collect().to_dicts()[-1]["params"])
    assert params["config"]["use_vllm"] is True and result.rollouts == 32
