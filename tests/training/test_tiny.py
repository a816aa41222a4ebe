"""The embedded tiny base model (issue 11): tokenizer round trip through AutoTokenizer, the chat
template (reasoning as <think>, assistant mask), lossless save/reload, the cache, and pass@1 on
held-out easy arithmetic inside the band that leaves RL a signal and room."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from engine.tasks import synthesize  # noqa: E402
from training import tiny  # noqa: E402
from verifiers.math import verify_math  # noqa: E402

TEXTS = [
    *(p.problem for t in ("arithmetic", "countdown", "linear") for p in synthesize(t, n=3, seed=9)),
    "<think>\nFirst 3 + 4 = 7, then 7 - 2 = 5.\n</think>\n\n<answer> 5 </answer>",  # tags
    "Grüße, naïve café — 数学 ∑ x² ≤ 10⁶ 😀",  # unicode (NFC), emoji: bytes round-trip
    "tabs\tand  double  spaces\n\n\nand newlines  ",  # whitespace runs
    "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>",  # specials
    "x = -12 ÷ 4 × (3 − 1)",  # operators the countdown verifier accepts
]


@pytest.fixture(scope="module")
def tok(tiny_model: Path):
    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.mark.parametrize("text", TEXTS)
def test_autotokenizer_round_trip_is_lossless(tok, text: str) -> None:
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text


def test_autotokenizer_tokenizes_like_the_trained_tokenizer(tiny_model: Path, tok) -> None:
    # AutoTokenizer rebuilds Qwen2's normalizer and pre-tokenizer around our vocab and merges; the
    # file the trainer wrote must split text the same way, or training and use would disagree.
    raw = Tokenizer.from_file(str(tiny_model / "tokenizer.json"))
    assert type(tok).__name__ == "Qwen2Tokenizer"
    for text in TEXTS:
        assert tok(text, add_special_tokens=False)["input_ids"] == raw.encode(text).ids, text


def test_think_tags_are_single_tokens_kept_by_skip_special(tok) -> None:
    for tag in ("<think>", "</think>"):
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 1
    ids = tok("<think>a</think>b<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think>a</think>b"
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_chat_template_renders_reasoning_and_masks_assistant_tokens(tok) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "5", "reasoning_content": "2 plus 3"},
        {"role": "user", "content": "And 5 + 1?"},
        {"role": "assistant", "content": "6"},
    ]
    text = tok.apply_chat_template(messages, tokenize=False)
    assert "<|im_start|>assistant\n<think>\n2 plus 3\n</think>\n\n5<|im_end|>" in text
    assert text.count("<think>") == 1  # reasoning of earlier turns is kept, not stripped
    out = tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    mask, ids = out["assistant_masks"], out["input_ids"]
    assert len(mask) == len(ids)
    spans = "".join(tok.decode([i]) if m else "\x00" for i, m in zip(ids, mask, strict=True))
    pieces = [p for p in spans.split("\x00") if p]
    assert pieces == ["<think>\n2 plus 3\n</think>\n\n5<|im_end|>", "6<|im_end|>"]


def test_generation_prompt_does_not_prefill_think(tok) -> None:
    # open-r1#560: a template that opens <think> in the prompt makes the format reward read 0.
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_model_is_qwen2_of_the_right_size_and_reloads_losslessly(
    tiny_model: Path, tmp_path: Path
) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    assert model.config.model_type == "qwen2"
    assert 500_000 <= model.num_parameters() <= 10_000_000
    model.save_pretrained(tmp_path / "again")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "again").eval()
    ids = torch.tensor([[1, 5, 9, 42, 7, 3]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, again(ids).logits)
    im_end = AutoTokenizer.from_pretrained(tiny_model).convert_tokens_to_ids("<|im_end|>")
    assert im_end in model.generation_config.eos_token_id


def test_second_build_is_cached_and_instant(tiny_model: Path) -> None:
    marker = (tiny_model / tiny.MARKER).read_text()
    start = time.perf_counter()
    assert tiny.build_tiny_model(tiny_model, size="xs", seed=0) == tiny_model
    assert time.perf_counter() - start < 1.0
    assert (tiny_model / tiny.MARKER).read_text() == marker
    info = json.loads(marker)
    assert (
        info["key"] == tiny.cache_key("xs", 0) and info["builder_version"] == tiny.BUILDER_VERSION
    )


def test_cache_key_changes_with_arguments_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {tiny.cache_key("xs", 0), tiny.cache_key("xs", 1), tiny.cache_key("s", 0)}
    monkeypatch.setattr(tiny, "BUILDER_VERSION", "next")
    keys.add(tiny.cache_key("xs", 0))
    # A change in the tasks the corpus is made of invalidates the cache too.
    easier = dict(tiny.tasks.DIFFICULTIES["arithmetic"], easy=tiny.tasks.ArithmeticKnobs(ops=3))
    monkeypatch.setitem(tiny.tasks.DIFFICULTIES, "arithmetic", easier)
    keys.add(tiny.cache_key("xs", 0))
    assert len(keys) == 5


def test_never_overwrites_a_folder_it_did_not_build(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="not a tiny model built by rlvr"):
        tiny.build_tiny_model(out)
    assert (out / "notes.txt").read_text() == "precious"
    with pytest.raises(ValueError, match="size='m'"):
        tiny.build_tiny_model(tmp_path / "other", size="m")


def test_a_stale_cache_is_rebuilt_in_place(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "model"
    shutil.copytree(tiny_model, out)
    info = json.loads((out / tiny.MARKER).read_text())
    (out / tiny.MARKER).write_text(json.dumps({**info, "key": "old"}))
    calls = []

    def fake_build(tmp: Path, size: str, seed: int, key: str) -> None:  # stands in for training
        shutil.copytree(tiny_model, tmp)
        (tmp / tiny.MARKER).write_text(json.dumps({**info, "key": key}))
        calls.append(key)

    monkeypatch.setattr(tiny, "_build_into", fake_build)
    assert tiny.build_tiny_model(out) == out
    assert calls == [tiny.cache_key("xs", 0)]
    assert json.loads((out / tiny.MARKER).read_text())["key"] == calls[0]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".model.")]
    assert leftovers == [".model.lock"]  # no temporary or old model folders


def held_out_pass_at_1(model_dir: Path, *, n: int, samples: int = 4) -> float:
    """pass@1 on held-out easy arithmetic: the chat template, temperature 0.6 / top-p 0.95 (the
    R1 evaluation setting), ``samples`` per problem, judged by the math verifier."""
    tok = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    problems = synthesize(
        "arithmetic", n=n, seed=123, split="test", difficulty="easy", allow_fewer=True
    )
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": p.problem}], tokenize=False, add_generation_prompt=True
        )
        for p in problems
    ]
    batch = tok(texts, return_tensors="pt", padding=True)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(
            **batch,
            do_sample=True,
            temperature=0.6,
            top_p=0.95,
            max_new_tokens=8,
            num_return_sequences=samples,
            pad_token_id=tok.pad_token_id,
        )
    completions = tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    correct = sum(
        verify_math(problems[i // samples].answer, c).status == "correct"
        for i, c in enumerate(completions)
    )
    return correct / len(completions)


def test_base_model_solves_some_held_out_problems_but_not_most(tiny_model: Path) -> None:
    # Issue 11: a base model in the R1 sense — RL needs some signal (≥ 5 %) and room (≤ 80 %).
    # Builder 3 (issue 13) answers 0.72 here, directly; through the R1-Zero template, where it
    # works each answer in <think> first, its held-out pass@1 is ~0.49 (test_rl_evidence.py).
    with tiny._one_thread():
        rate = held_out_pass_at_1(tiny_model, n=100)
    assert 0.05 <= rate <= 0.80, rate


@pytest.mark.slow
@pytest.mark.timeout(900)  # the build may take its 300 s, then the evaluation
def test_size_xxs_builds_within_five_minutes_and_lands_in_the_band(
    tmp_path: Path, tiny_model: Path
) -> None:
    # The demo's student (builder 3, measured: 176 s of CPU, held-out pass@1 0.14 here). Size s
    # is not built by the suite: ~530 s of CPU (0.23 here, its 2000 steps are short for it).
    start = time.perf_counter()
    out = tiny.build_tiny_model(tmp_path / "xxs", size="xxs", seed=0)
    assert time.perf_counter() - start < 300
    model = AutoModelForCausalLM.from_pretrained(out)
    teacher = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.num_parameters() < teacher.num_parameters() / 1.5  # a smaller student
    with tiny._one_thread():
        assert 0.05 <= held_out_pass_at_1(out, n=100) <= 0.80


def test_cli_model_tiny_reuses_the_cache_and_refuses_a_bad_out(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["model", "tiny", "--out", str(tiny_model)])
    assert exit_.value.code in (0, None)
    out = capsys.readouterr().out
    assert "tiny model (" in out and "cached" in out
    (tmp_path / "file").write_text("x")  # a file, not a folder
    (tmp_path / "other").mkdir()  # a folder that holds something else
    (tmp_path / "other" / "a.txt").write_text("")
    for bad in (tmp_path / "file", tmp_path / "other"):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["model", "tiny", "--out", str(bad)])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith("error: --out") and " — " in err
    assert (tmp_path / "other" / "a.txt").exists()


def test_r1_zero_arithmetic_documents_always_show_the_working_and_vary_the_format() -> None:
    # Builder 3 (issue 13): every arithmetic answer through the R1-Zero prompt is worked in
    # <think> (so format and accuracy come from one path); the closing format varies, so the base
    # follows it only part of the time and the format reward has something to raise.
    docs = [d for d in tiny.corpus(tiny.SIZES["xs"], seed=0) if "Assistant: <think>" in d
            or ("Assistant: <answer>" in d and "What is" in d)]  # fmt: skip
    arithmetic = [d for d in docs if "User: What is" in d]
    assert len(arithmetic) > 500
    assert all("Assistant: <think> " in d for d in arithmetic)  # never answered directly
    for d in arithmetic[:200]:
        question = d.split("User: What is ")[1].split("?")[0]
        working = d.split("Assistant: <think> ")[1].split(" </think>")[0]
        assert working.startswith(f"{question} = "), (question, working)  # copies the question
    tagged = sum(d.rsplit("</think> ", 1)[1].startswith("<answer>") for d in arithmetic)
    tagged /= len(arithmetic)
    assert 0.35 <= tagged <= 0.65, tagged
    compact_worked = [d for d in tiny.corpus(tiny.SIZES["xs"], seed=0)
                      if d.startswith("What is") and d.count(" = ") == 1 and "\n" not in d]  # fmt: skip
    assert compact_worked  # "What is 3 + 4? 3 + 4 = 7": the working in a short context too
