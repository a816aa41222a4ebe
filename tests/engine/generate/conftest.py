"""A throwaway tiny Qwen2 model for the generation tests (random weights, a local BPE tokenizer).

The project's embedded model (``training/tiny.py``) replaces it once it lands; until then these
tests only need a real transformers model that loads, tokenizes, chats and samples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_random_qwen2(
    out: Path, *, seed: int = 0, context: int = 512, hidden: int = 32, heads: int = 4
) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [f"{a} + {b} = {a + b}. <think> add </think> <answer> {a + b} </answer>"
              for a in range(40) for b in range(40)]  # fmt: skip
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=heads,
        num_key_value_heads=heads // 2,
        max_position_embeddings=context,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def random_model(tmp_path_factory) -> Path:
    """A tiny random Qwen2 (≈40k parameters) with a chat template, saved to a folder."""
    pytest.importorskip("transformers")
    return build_random_qwen2(tmp_path_factory.mktemp("random-qwen2") / "model")


@pytest.fixture(scope="session")
def stop_prone_model(tmp_path_factory, random_model) -> Path:
    """The random model with half its vocabulary as extra EOS ids in its generation config, so
    that samples end by ``stop`` after a few tokens about as often as they hit ``length``."""
    import shutil

    from transformers import GenerationConfig

    out = tmp_path_factory.mktemp("stop-prone") / "model"
    shutil.copytree(random_model, out)
    config = GenerationConfig.from_pretrained(out)
    config.eos_token_id = [config.eos_token_id, *range(3, 203)]
    config.save_pretrained(out)
    return out


@pytest.fixture
def lake_with_prompts(tmp_path):
    """A lake holding dataset ``add`` (6 math prompts) and a function to read it back."""
    from engine import ids
    from engine.lake import Lake

    lake = Lake.open(tmp_path / "lake")
    rows = [
        {"prompt_id": ids.prompt_id("add", f"What is {a} + {b}?"), "dataset": "add",
         "split": "test", "task": "math", "problem": f"What is {a} + {b}?", "answer": str(a + b)}
        for a, b in [(1, 2), (3, 4), (5, 6), (7, 8), (2, 2), (9, 1)]
    ]  # fmt: skip
    with lake.run("ingest") as run_id:
        lake.append("prompts", rows, run_id=run_id)
    return lake
