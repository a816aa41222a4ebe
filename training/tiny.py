"""The embedded base model: a tiny Qwen2 causal LM, tokenizer trained here, pretrained on task text.

DESIGN.md § The embedded default: with no model downloaded, ``rlvr model tiny`` still gives the
pipeline a *base model in the R1 sense* — it has read the synthetic tasks' language (problems and
their short answers, :mod:`engine.tasks`, train split only; no reasoning traces) so it knows the
domain and solves some problems but not all, which leaves RL a signal and room to improve.

Stages, top to bottom: the corpus (task problems as compact, Q/A, chat and R1-Zero documents, plus
drill sheets of easy arithmetic),
the tokenizer (byte-level BPE trained with ``tokenizers`` through the *same* normalizer and
pre-tokenizer that ``transformers.Qwen2Tokenizer`` rebuilds on load, so ``AutoTokenizer`` round-trips
it), the model (``Qwen2ForCausalLM`` from a config), a short pretraining loop, and the save.

Measured while tuning (issues 11 and 13, held-out easy arithmetic through the R1-Zero template,
temperature 0.6, 33 problems x 32 samples): builder 2 (1000 steps at lr 3e-3, ``<think>`` working
in half of the R1-Zero documents) reached pass@1 0.06-0.10 and copied the question's numbers into
its working wrongly. Builder 3 trains 2000 steps at lr 1e-3 (1000 or 1500 steps left the model
unable to copy at all on builder 2's corpus: a late transition, so the budget is not cut further),
works every arithmetic answer in ``<think>`` and shows the working in compact documents too: it
copies the numbers (no copy errors in 1,056 held-out samples), gets the drilled facts right
greedily 9 times in 10, and held-out pass@1 is ~0.49 (maj@8 ~0.5): every error is a held-out fact
it has not learnt. xs costs ~300 s of CPU to build, xxs ~180 s, s ~530 s.

The build is cached: ``out/rlvr-tiny.json`` records a key of the arguments, the corpus mix, the
task definitions and :data:`BUILDER_VERSION`; a second call with the same key returns at once. The folder is written
beside ``out`` and renamed into place, under a file lock, so concurrent builders (pytest workers)
and killed builds never leave a half-written model.

>>> path = build_tiny_model(Path("models/tiny"))                              # doctest: +SKIP
>>> AutoModelForCausalLM.from_pretrained(path).num_parameters() < 10_000_000   # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    trainers,
)
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer

from engine import tasks
from engine.generate.templates import build_prompt
from engine.tasks import Problem, synthesize

__all__ = [
    "BUILDER_VERSION",
    "CHAT_TEMPLATE",
    "SIZES",
    "TinySize",
    "build_tiny_model",
]

BUILDER_VERSION = "3"  # bump when the corpus, tokenizer, model or loop changes: it keys the cache
MARKER = "rlvr-tiny.json"

# Special tokens, in id order. <think>/</think> are ordinary (non-special) added tokens, as in Qwen3,
# so decoding with skip_special_tokens keeps the reasoning tags.
ENDOFTEXT, IM_START, IM_END, THINK, END_THINK = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<think>",
    "</think>",
)

# Qwen2-style ChatML; reasoning_content renders as <think>…</think> and is kept in history (templates
# that drop it break SFT on reasoning: LlamaFactory#6987, open-r1#585). {% generation %} marks what
# the assistant wrote, for assistant-only loss (open-r1#710). The generation prompt does not prefill
# <think> (open-r1#560: a prefilled tag makes the format reward read every completion as wrong).
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}"
    "{%- if message['reasoning_content'] is defined and message['reasoning_content'] -%}"
    "{{- '<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{{- message['content'] + '<|im_end|>' -}}"
    "{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class TinySize:
    """Model shape and pretraining budget of one ``--size``."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    steps: int  # optimizer steps of pretraining
    batch: int  # sequences per step
    seq_len: int  # tokens per packed sequence: an R1-Zero prompt (~95 tokens) and its answer fit
    lr: float
    problems: int  # corpus problems per (task, difficulty) cell, before weights
    drill_epochs: int  # passes of the easy-arithmetic drill sheets in the corpus


SIZES: dict[str, TinySize] = {
    # xxs: the demo's distillation student, smaller than its xs teacher
    "xxs": TinySize(
        hidden=96, layers=3, heads=4, kv_heads=2, intermediate=288,
        steps=2000, batch=8, seq_len=160, lr=1e-3, problems=600, drill_epochs=24,
    ),
    "xs": TinySize(
        hidden=128, layers=4, heads=4, kv_heads=2, intermediate=384,
        steps=2000, batch=8, seq_len=160, lr=1e-3, problems=600, drill_epochs=24,
    ),
    "s": TinySize(
        hidden=192, layers=4, heads=6, kv_heads=3, intermediate=576,
        steps=2000, batch=8, seq_len=160, lr=1e-3, problems=1000, drill_epochs=24,
    ),
}  # fmt: skip
VOCAB_SIZE = 1024
MAX_POSITIONS = 2048

# (task, difficulty) -> weight of its problems in the corpus (times TinySize.problems); each
# problem becomes one document. Easy arithmetic comes in full and is also drilled (below).
CORPUS_MIX: dict[tuple[str, str], float] = {
    ("arithmetic", "easy"): 1.0,
    ("arithmetic", "medium"): 0.5,
    ("arithmetic", "hard"): 0.2,
    ("linear", "easy"): 0.5,
    ("linear", "medium"): 0.2,
    ("countdown", "easy"): 0.5,
    ("countdown", "medium"): 0.2,
}
DRILL_LINES = 8  # facts per drill document


# -- corpus -----------------------------------------------------------------------------------


def _short_answer(p: Problem) -> str:
    """What the base model learns to answer: the value, or the countdown solution."""
    return p.meta["solution"] if p.task == "countdown" else p.answer


def _document(p: Problem, rng: random.Random) -> str:
    """One problem as one of four document shapes: compact, plain Q/A, ChatML, or R1-Zero.

    Compact documents ("What is 3 + 4 - 2? 5") carry the most answers per token, so per FLOP of a
    pretraining budget measured in seconds they teach the arithmetic; half of the arithmetic ones
    show the working first ("What is 3 + 4? 3 + 4 = 7"), which teaches copying the question's
    numbers in a short context, the step the R1-Zero working needs. The others teach the shapes
    that generation uses.
    """
    answer = _short_answer(p)
    shape = rng.random()
    if shape < 0.35:
        if _has_working(p) and rng.random() < 0.5:
            return f"{p.problem} {_working(p, answer)}{ENDOFTEXT}"
        return f"{p.problem} {answer}{ENDOFTEXT}"
    if shape < 0.45:
        return f"Question: {p.problem}\nAnswer: {answer}{ENDOFTEXT}"
    if shape < 0.75:
        return f"{IM_START}user\n{p.problem}{IM_END}\n{IM_START}assistant\n{answer}{IM_END}\n{ENDOFTEXT}"
    return _r1_zero_document(p, answer, rng)


def _has_working(p: Problem) -> bool:
    return p.task == "math" and "expression" in p.meta


def _working(p: Problem, answer: str) -> str:
    return f"{p.meta['expression']} = {answer}"


def _r1_zero_document(p: Problem, answer: str, rng: random.Random) -> str:
    """The R1-Zero prompt as :func:`build_prompt` renders it (what GRPO and evaluation send),
    then an arithmetic answer always worked in ``<think>``, closed in the template's ``<answer>``
    tags half of the time and in words or bare otherwise.

    So the base model follows the R1-Zero format about half of the time (the format reward has
    something to raise), and its formatted and unformatted answers come from the same working:
    raising the format reward cannot cost accuracy. Builder 2 put the working in only half of
    the documents and answered the rest directly; it answered directly more accurately, so GRPO
    traded accuracy for format (held-out pass@1 0.37 -> 0.06 in 40 steps, measured).
    """
    prompt = build_prompt(p.key, p.problem, "r1-zero").text  # what GRPO and evaluation send
    if not _has_working(p):
        return f"{prompt} <answer> {answer} </answer>{IM_END}{ENDOFTEXT}"
    shape = rng.random()
    tail = (f"<answer> {answer} </answer>" if shape < 0.5
            else answer if shape < 0.75 else f"The answer is {answer}.")  # fmt: skip
    return f"{prompt} <think> {_working(p, answer)} </think> {tail}{IM_END}{ENDOFTEXT}"


def _drills(problems: list[Problem], epochs: int, rng: random.Random) -> list[str]:
    """Easy arithmetic as dense drill sheets, shuffled each epoch: plain lines ("3 + 4 = 7") and
    multi-turn chats (one question and its answer per turn); every fourth epoch, one R1-Zero
    document per problem instead (that prompt is long, but GRPO and evaluation ask through it).

    A pretraining budget of a minute of one CPU core sees a few hundred thousand tokens; one
    answer in ~25 tokens of document framing is too thin a signal for a 1M-parameter model to
    learn the sums in that time. Drill lines cost ~7 tokens an answer; chat turns ~18, and they
    teach the sums in the shape the chat template asks them (measured while building this: plain
    drills alone reached 55 % on the drilled facts but 3 % through the chat template).
    """
    docs = []
    for epoch in range(epochs):
        problems = rng.sample(problems, len(problems))
        if epoch % 4 == 3:
            docs += [_r1_zero_document(p, p.answer, rng) for p in problems]
            continue
        for i in range(0, len(problems), DRILL_LINES):
            sheet = problems[i : i + DRILL_LINES]
            if epoch % 2:
                lines = [f"{p.meta['expression']} = {p.answer}" for p in sheet]
                docs.append("\n".join(lines) + ENDOFTEXT)
            else:
                turns = [
                    f"{IM_START}user\n{p.problem}{IM_END}\n{IM_START}assistant\n{p.answer}{IM_END}\n"
                    for p in sheet
                ]
                docs.append("".join(turns) + ENDOFTEXT)
    return docs


def corpus(size: TinySize, seed: int) -> list[str]:
    """Pretraining documents from the train split only (the test split stays unseen)."""
    rng = random.Random(f"corpus\x1f{seed}")
    docs = []
    for (task, difficulty), weight in CORPUS_MIX.items():
        n = max(1, int(size.problems * weight))
        problems = synthesize(
            task, n=n, seed=seed, split="train", difficulty=difficulty, allow_fewer=True
        )
        docs += [_document(p, rng) for p in problems]
        if (task, difficulty) == ("arithmetic", "easy"):
            docs += _drills(problems, size.drill_epochs, rng)
    rng.shuffle(docs)
    return docs


# -- tokenizer --------------------------------------------------------------------------------


def train_tokenizer(docs: list[str], out: Path) -> Qwen2Tokenizer:
    """Byte-level BPE through Qwen2's normalizer + pre-tokenizer, saved as a Qwen2Tokenizer."""
    probe = Qwen2Tokenizer()  # the pipeline AutoTokenizer rebuilds on load: train through it
    backend = probe.backend_tokenizer
    tok = Tokenizer(models.BPE())
    tok.normalizer = backend.normalizer or normalizers.NFC()
    tok.pre_tokenizer = backend.pre_tokenizer or pre_tokenizers.ByteLevel()
    tok.decoder = decoders.ByteLevel()
    specials = [ENDOFTEXT, IM_START, IM_END, THINK, END_THINK]
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    state = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=state["vocab"],
        merges=merges,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        additional_special_tokens=[IM_START, IM_END],
    )
    tokenizer.add_tokens(
        [AddedToken(t, special=False, normalized=False) for t in (THINK, END_THINK)]
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = MAX_POSITIONS
    tokenizer.save_pretrained(out)
    return tokenizer


# -- model and pretraining --------------------------------------------------------------------


def make_model(size: TinySize, tokenizer: Qwen2Tokenizer) -> Qwen2ForCausalLM:
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        intermediate_size=size.intermediate,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.kv_heads,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids(IM_END),
        pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(config)


def _blocks(
    docs: list[str], tokenizer: Qwen2Tokenizer, seq_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Documents packed *whole* into ``seq_len`` blocks: ``(input_ids, labels)``.

    A document never straddles two blocks, so every answer is trained with its question in
    context; the rest of a block is padding, left out of the loss (label -100). Builder 1 cut one
    token stream into blocks, which split nearly every ~110-token R1-Zero document: the model
    learnt its answers without the question and answered the R1-Zero prompt blind (held-out
    pass@1 1-2 %, one answer for every problem). A document longer than a block is cut.
    """
    packed: list[list[int]] = []
    current: list[int] = []
    for doc in docs:
        ids = tokenizer(doc, add_special_tokens=False)["input_ids"][:seq_len]
        if len(current) + len(ids) > seq_len:
            packed.append(current)
            current = []
        current += ids
    packed.append(current)
    input_ids = torch.full((len(packed), seq_len), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(packed), seq_len), -100, dtype=torch.long)
    for row, ids in enumerate(packed):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids)] = torch.tensor(ids)
    return input_ids, labels


def pretrain(
    model: Qwen2ForCausalLM, blocks: tuple[torch.Tensor, torch.Tensor], size: TinySize, seed: int
) -> float:
    """AdamW with warmup and cosine decay; returns the mean loss of the last 50 steps."""
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=size.lr, weight_decay=0.01, betas=(0.9, 0.95))
    warmup = max(1, size.steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, size.steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    model.train()
    recent: list[float] = []
    for _ in range(size.steps):
        idx = torch.randint(0, blocks[0].shape[0], (size.batch,), generator=generator)
        loss = model(input_ids=blocks[0][idx], labels=blocks[1][idx]).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        recent = [*recent[-49:], loss.item()]
    model.eval()
    return sum(recent) / len(recent)


# -- build, cache, atomic placement ----------------------------------------------------------


def cache_key(size: str, seed: int) -> str:
    """Hash of everything the build depends on: arguments, shapes, corpus mix, task definitions."""
    spec = {
        "builder": BUILDER_VERSION,
        "size": asdict(SIZES[size]),
        "seed": seed,
        "mix": sorted((f"{t}/{d}", w) for (t, d), w in CORPUS_MIX.items()),
        "tasks": {t: {d: asdict(k) for d, k in ks.items()} for t, ks in tasks.DIFFICULTIES.items()},
        "test_fraction": tasks.TEST_FRACTION,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _cached(out: Path, key: str) -> bool:
    try:
        return json.loads((out / MARKER).read_text())["key"] == key
    except (OSError, ValueError, KeyError, TypeError):
        return False


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    # On 2 shared cores a model this small runs ~15x faster with ONE intra-op thread than with two
    # (measured for issue 11: tiny GRPO 5 steps/s at 1 thread, 0.3 at 2): the per-op work is too
    # small to amortize thread synchronization. Set it deliberately, and restore it afterwards.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _build_into(tmp: Path, size_name: str, seed: int, key: str) -> None:
    size = SIZES[size_name]
    start = time.perf_counter()
    random.seed(seed)
    torch.manual_seed(seed)
    docs = corpus(size, seed)
    tokenizer = train_tokenizer(docs, tmp)
    model = make_model(size, tokenizer)
    blocks = _blocks(docs, tokenizer, size.seq_len)
    loss = pretrain(model, blocks, size, seed)
    model.generation_config.eos_token_id = [
        tokenizer.convert_tokens_to_ids(IM_END),
        tokenizer.convert_tokens_to_ids(ENDOFTEXT),
    ]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(tmp)
    marker = {
        "key": key,
        "builder_version": BUILDER_VERSION,
        "size": size_name,
        "seed": seed,
        "parameters": model.num_parameters(),
        "corpus_documents": len(docs),
        "corpus_tokens": int((blocks[1] != -100).sum()),
        "final_loss": round(loss, 4),
        "build_s": round(time.perf_counter() - start, 1),
    }
    (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def build_tiny_model(out: Path | str, *, size: str = "xs", seed: int = 0) -> Path:
    """Build (or reuse) the tiny base model in ``out``; returns ``out``.

    Idempotent: the same ``size``/``seed``/builder version returns the cached folder at once. A
    folder at ``out`` that this builder did not make is never overwritten (ValueError).
    """
    if size not in SIZES:
        raise ValueError(f"size={size!r}: use one of {', '.join(SIZES)}")
    out = Path(out)
    key = cache_key(size, seed)
    if _cached(out, key):
        return out
    with _lock(out):
        if _cached(out, key):  # another process built it while we waited
            return out
        if out.exists() and not (out / MARKER).exists() and any(out.iterdir()):
            raise ValueError(
                f"{out} exists and is not a tiny model built by rlvr; pick another --out"
            )
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            with _one_thread():
                _build_into(tmp, size, seed, key)
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            if out.exists():
                out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return out
