"""`rlvr export`: every format loads back with `datasets`; SFT rows render through a chat template
with assistant-only masks; the dataset card; an existing folder is refused with nothing written."""

from __future__ import annotations

import json

import pytest

from engine.curate import load_recipe, select
from engine.curate.export import export_dataset
from engine.errors import UserError
from tests.engine.curate.conftest import GEN, R, prompt_row, write_run

datasets = pytest.importorskip("datasets")
WRONG = "incorrect"


@pytest.fixture
def selected(lake):
    ps = [prompt_row("a", answer="4"), prompt_row("b", answer="7"),
          prompt_row("c", task="code", answer=None, tests='{"asserts": ["assert f() == 1"]}')]  # fmt: skip
    write_run(lake, ps, {
        "0": [R(reasoning="Two plus two is four.", answer_text="The answer is 4."),
              R(status=WRONG, extracted="5")],
        "1": [R(reasoning="Three plus four is seven.", answer_text="So 7.")],
        "2": [R(reasoning="Return one.", answer_text="def f(): return 1"),
              R(status=WRONG, extracted="x")],
    })  # fmt: skip
    select(lake, [GEN], load_recipe("r1-sft"), "sft")
    select(lake, [GEN], load_recipe("grpo-prompts"), "rl")
    return lake


def load(path):
    return datasets.load_dataset("parquet", data_files=str(path), split="train")


def test_sft_messages_inline_reasoning(selected, tmp_path) -> None:
    ds = load(export_dataset(selected, "sft", tmp_path / "o", fmt="sft-messages"))
    assert ds.column_names == ["messages"] and len(ds) == 3
    row = next(r for r in ds if "four" in r["messages"][1]["content"])
    user, assistant = row["messages"]
    assert user["role"] == "user" and user["content"].startswith("Problem a")
    assert assistant == {"role": "assistant",
                         "content": "<think>\nTwo plus two is four.\n</think>\n\nThe answer is 4."}  # fmt: skip


def test_sft_reasoning_field(selected, tmp_path) -> None:
    ds = load(
        export_dataset(selected, "sft", tmp_path / "o", fmt="sft-messages", reasoning="field")
    )
    assistant = next(r for r in ds if "So 7." in r["messages"][1]["content"])["messages"][1]
    assert assistant["content"] == "So 7."
    assert assistant["reasoning_content"] == "Three plus four is seven."


def test_prompt_completion_and_sharegpt(selected, tmp_path) -> None:
    pc = load(export_dataset(selected, "sft", tmp_path / "pc", fmt="prompt-completion"))
    assert pc.column_names == ["prompt", "completion"]
    assert pc[0]["prompt"][0]["role"] == "user" and pc[0]["completion"][0]["role"] == "assistant"
    sg = load(export_dataset(selected, "sft", tmp_path / "sg", fmt="sharegpt"))
    turns = sg[0]["conversations"]
    assert [t["from"] for t in turns] == ["human", "gpt"] and "<think>" in turns[1]["value"]


def test_grpo_extra_columns_reach_reward_functions_as_kwargs(selected, tmp_path) -> None:
    ds = load(export_dataset(selected, "rl", tmp_path / "g", fmt="grpo"))
    assert {"prompt", "answer", "tests", "task"} <= set(ds.column_names)
    # what GRPOTrainer does: every column but the prompt goes to the reward function by name
    extra = {k: [row[k] for row in ds] for k in ds.column_names if k != "prompt"}

    def reward(prompts, completions, answer, **kwargs):
        return [float(c == a) for c, a in zip(completions, answer, strict=True)]

    assert reward([r["prompt"] for r in ds], ["4"] * len(ds), **extra) == [
        float(a == "4") for a in extra["answer"]]  # fmt: skip


def test_verl_layout(selected, tmp_path) -> None:
    ds = load(export_dataset(selected, "sft", tmp_path / "v", fmt="verl"))
    assert ds.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    code = next(r for r in ds if r["ability"] == "code")
    assert code["reward_model"] == {"style": "rule",
                                    "ground_truth": '{"asserts": ["assert f() == 1"]}'}  # fmt: skip
    math = next(r for r in ds if r["ability"] == "math")
    assert math["reward_model"]["ground_truth"] in ("4", "7")
    assert math["prompt"] == [{"role": "user", "content": math["extra_info"]["question"]}]


def test_card_and_existing_folder(selected, tmp_path) -> None:
    out = tmp_path / "o"
    export_dataset(selected, "sft", out, fmt="sft-messages", license="mit")
    card = (out / "README.md").read_text()
    header = card.split("---")[1]
    assert "license: mit" in header and "size_categories:\n- n<1K" in header
    assert "task_categories:\n- text-generation" in header
    assert GEN in card and "| correct |" in card and "fixture-model" in card
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(UserError, match="exists"):
        export_dataset(selected, "sft", out, fmt="grpo")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(UserError, match="prompt set"):
        export_dataset(selected, "rl", tmp_path / "x", fmt="sft-messages")
    assert not (tmp_path / "x").exists()


def test_sft_rows_render_with_assistant_only_masks(selected, tmp_path) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from training.tiny import CHAT_TEMPLATE

    ds = load(export_dataset(selected, "sft", tmp_path / "o", fmt="sft-messages",
                             reasoning="field"))  # fmt: skip
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials,
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    bpe.train_from_iterator([json.dumps(r["messages"]) for r in ds], trainer)
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                               pad_token="<|endoftext|>")  # fmt: skip
    tok.chat_template = CHAT_TEMPLATE
    for row in ds:
        out = tok.apply_chat_template(row["messages"], tokenize=True, return_dict=True,
                                      return_assistant_tokens_mask=True)  # fmt: skip
        ids, mask = out["input_ids"], out["assistant_masks"]
        trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
        ignored = tok.decode([i for i, m in zip(ids, mask, strict=True) if not m])
        assistant = row["messages"][1]
        assert trained.startswith("<think>\n" + assistant["reasoning_content"])
        assert trained.endswith(assistant["content"] + "<|im_end|>")
        assert (
            row["messages"][0]["content"] in ignored
            and row["messages"][0]["content"] not in trained
        )


def _cli(argv: list[str]) -> int:
    from engine.cli import main

    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


def test_cli_export_and_its_mistakes(selected, tmp_path, capsys) -> None:
    lake = ["--lake", str(selected.root)]
    out = tmp_path / "cli"
    assert _cli(["export", "sft", "--format", "sharegpt", "-o", str(out), *lake]) == 0
    assert load(out / "data" / "train.parquet").column_names == ["conversations"]
    capsys.readouterr()
    for argv, message in [
        (["export", "sft", "--format", "grpo", "-o", str(out)], "exists"),
        (["export", "nope", "--format", "grpo", "-o", str(tmp_path / "n")], "no dataset 'nope'"),
    ]:
        assert _cli([*argv, *lake]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    ("dataset", "fmt"), [("sft", "sft-messages"), ("sft", "prompt-completion"), ("rl", "grpo")]
)
def test_trl_reads_the_rows_as_conversational(selected, tmp_path, dataset, fmt) -> None:
    data_utils = pytest.importorskip("trl.data_utils")
    ds = load(export_dataset(selected, dataset, tmp_path / "o", fmt=fmt))
    assert all(data_utils.is_conversational(row) for row in ds)
