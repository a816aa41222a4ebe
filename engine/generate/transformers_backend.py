"""The ``transformers`` backend: batched sampling with ``model.generate`` on CPU or GPU.

Sequences (prompt × sample) are packed ``batch_size`` at a time, left-padded, and generated until
every row has produced an EOS token (the tokenizer's and the generation config's) or
``max_tokens`` new tokens; ``finish_reason`` is ``stop`` or ``length`` accordingly, and the token
counts are exact (the EOS token counts as generated, padding never does).

Seeds — what is promised. The next token is drawn by :class:`SeededSampler` (temperature, then
top-p, then inverse-CDF sampling) from a stream of uniforms that belongs to the sample alone:
``torch.Generator`` seeded with :func:`~engine.generate.base.sample_seed`. So the same seed, model,
device and batch composition give bit-identical outputs, and a sample's random draws do not depend
on which other sequences share its batch. Across batch compositions the logits themselves may
differ in the last float bits (padding changes matmul shapes), which can flip a draw that lands
within ~1e-6 of a boundary — rare, and not promised away. ``temperature=0`` is greedy.

Threads: on CPU, models this small run far faster with one intra-op thread than with two (the
issue #11 measurement: tiny GRPO at 5 steps/s with one thread, 0.3 with two), so below
``SMALL_MODEL_PARAMS`` parameters the backend sets ``torch.set_num_threads(1)`` unless told
otherwise; larger models get one thread per core. The setting is process-wide, as torch's is.

torch and transformers are imported inside the functions: the engine loads this module lazily,
and ``rlvr sql`` must start without torch (DESIGN.md).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.generate.base import (
    BackendError,
    Prompt,
    Sample,
    SamplingParams,
    check_context,
    sample_seed,
)
from engine.generate.templates import tokenizer_template_warnings

__all__ = ["SMALL_MODEL_PARAMS", "SeededSampler", "TransformersBackend"]

SMALL_MODEL_PARAMS = 50_000_000  # below this, one CPU thread beats several (see the docstring)


class TransformersBackend:
    """Local generation with transformers. ``batch_size`` counts sequences, not prompts.

    >>> backend = TransformersBackend("models/tiny")  # doctest: +SKIP
    >>> backend.generate([Prompt(key="p", text="2+3=")], SamplingParams(n=2))  # doctest: +SKIP
    """

    name = "transformers"

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        threads: int | None = None,
        batch_size: int = 64,
        dtype: str | None = None,
    ) -> None:
        import torch

        self.model = str(model)
        self.batch_size = batch_size
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer, self.lm = _load(self.model, self.device, dtype)
        self.threads = _set_threads(self.lm, self.device, threads)
        self.eos_ids = _eos_ids(self.tokenizer, self.lm)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.eos_ids[0]
        self.context = int(getattr(self.lm.config, "max_position_embeddings", 0) or 0) or None
        self.tokens_generated = 0

    # -- prompts ---------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> str:
        """The text the model completes: raw text, or the messages through the chat template."""
        if prompt.text is not None:
            return prompt.text
        if not getattr(self.tokenizer, "chat_template", None):
            raise BackendError(
                f"{self.model}: the tokenizer has no chat template — use --template r1-zero"
            )
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in prompt.messages or ()], add_generation_prompt=True, tokenize=False
        )

    def encode(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        texts = [self.render(p) for p in prompts]
        # The chat template already holds any special tokens; raw text gets the tokenizer's own.
        return [
            self.tokenizer(text, add_special_tokens=p.text is not None)["input_ids"]
            for p, text in zip(prompts, texts, strict=True)
        ]

    def check_prompts(self, prompts: Sequence[Prompt], params: SamplingParams) -> None:
        if self.context is None:
            return
        for prompt, ids in zip(prompts, self.encode(prompts), strict=True):
            check_context(prompt, len(ids), params.max_tokens, self.model, self.context)

    def template_warnings(self) -> list[str]:
        return tokenizer_template_warnings(self.tokenizer)

    # -- generation ------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Sample]]:
        encoded = self.encode(prompts)
        rows = [
            (i, sample_seed(params.seed, p.key, j), encoded[i])
            for i, p in enumerate(prompts)
            for j in range(params.n)
        ]
        out: list[list[Sample]] = [[] for _ in prompts]
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            for (i, _, _), sample in zip(batch, self._generate_batch(batch, params), strict=True):
                out[i].append(sample)
        return out

    def _generate_batch(self, rows: list[tuple[int, int, list[int]]], params: SamplingParams):
        import torch

        width = max(len(ids) for _, _, ids in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, (_, _, ids) in enumerate(rows):  # left padding: every row ends at the same column
            input_ids[r, width - len(ids) :] = torch.tensor(ids)
            mask[r, width - len(ids) :] = 1
        seeds = [seed for _, seed, _ in rows]
        processors = []
        if params.temperature > 0:
            processors.append(SeededSampler(seeds, params, width, device=self.device))
        start = time.perf_counter()
        with torch.inference_mode():
            sequences = self.lm.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=params.max_tokens,
                do_sample=False,  # the choice is made by SeededSampler; greedy picks it
                num_beams=1,
                repetition_penalty=1.0,  # no defaults from the model's generation_config
                eos_token_id=self.eos_ids,
                pad_token_id=self.pad_id,
                logits_processor=processors,
            )
        latency_ms = (time.perf_counter() - start) * 1000
        generated = sequences[:, width:].tolist()
        samples = [
            self._sample(tokens, len(ids), seed, params, latency_ms)
            for tokens, (_, seed, ids) in zip(generated, rows, strict=True)
        ]
        self.tokens_generated += sum(s.completion_tokens or 0 for s in samples)
        return samples

    def _sample(self, tokens: list[int], prompt_len: int, seed: int, params, latency_ms) -> Sample:
        eos = set(self.eos_ids)
        end = next((k for k, t in enumerate(tokens) if t in eos), None)
        kept = tokens if end is None else tokens[:end]
        return Sample(
            text=self.tokenizer.decode(kept, skip_special_tokens=True),
            prompt_tokens=prompt_len,
            completion_tokens=len(kept) + (end is not None),
            finish_reason="length" if end is None else "stop",
            latency_ms=latency_ms,
            seed=seed,
        )

    def close(self) -> None:
        self.lm = None


class SeededSampler:
    """A logits processor that samples each row from its own seeded stream of uniforms.

    It returns scores that are 0 at the chosen token and -inf elsewhere, so ``generate``'s greedy
    step takes exactly that token. The uniforms are drawn up front, ``max_tokens`` per row, so a
    step costs one sort and one search for the whole batch.
    """

    def __init__(self, seeds: Sequence[int], params: SamplingParams, width: int, *, device: str):
        import torch

        self.temperature, self.top_p, self.width = params.temperature, params.top_p, width
        uniforms = [
            torch.rand(params.max_tokens, generator=torch.Generator().manual_seed(seed))
            for seed in seeds
        ]
        self.uniforms = torch.stack(uniforms).to(device)

    def __call__(self, input_ids, scores):
        import torch

        step = input_ids.shape[1] - self.width
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            # top-p (nucleus): keep the smallest prefix, by probability, whose mass reaches top_p
            sorted_probs, order = probs.sort(dim=-1, descending=True)
            drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= self.top_p
            probs = probs.scatter(1, order, sorted_probs.masked_fill(drop, 0.0))
        # Inverse CDF in token-id order, not sorted order: two near-equal probabilities that swap
        # places under float noise (another batch shape) must not change which token a draw hits.
        cumulative = probs.cumsum(dim=-1)
        target = self.uniforms[:, step : step + 1] * cumulative[:, -1:]
        index = torch.searchsorted(cumulative, target, right=True)
        index = index.clamp_(max=scores.shape[-1] - 1)
        # rounding can land a draw past the last kept token: take the most likely one instead
        chosen = torch.where(probs.gather(1, index) > 0, index, probs.argmax(dim=-1, keepdim=True))
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(1, chosen, 0.0)


def _load(model: str, device: str, dtype: str | None) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar is the one on stderr
    path = Path(model)
    if path.exists() and not (path / "config.json").is_file():
        raise BackendError(
            f"{model}: not a model folder (no config.json) — pass a folder saved with "
            "save_pretrained, e.g. one made by `rlvr model tiny --out models/tiny`"
        )
    torch_dtype = (
        getattr(torch, dtype)
        if dtype
        else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
    )
    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
        lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype)
    except (OSError, ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(
            f"{model}: cannot load a model and tokenizer ({first[:200]}) — pass a local model "
            "folder (with config.json and tokenizer files), e.g. `rlvr model tiny --out models/tiny`"
        ) from exc
    # transformers declares `to` through @wraps(nn.Module.to), which mypy reads as unbound (self
    # first); the call is fine at runtime. A stub bug, hence the one narrow ignore.
    return tokenizer, lm.to(device).eval()  # type: ignore[arg-type]


def _set_threads(lm: Any, device: str, threads: int | None) -> int | None:
    import torch

    if not device.startswith("cpu"):
        return threads
    if threads is None:
        small = sum(p.numel() for p in lm.parameters()) < SMALL_MODEL_PARAMS
        threads = 1 if small else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    return threads


def _eos_ids(tokenizer: Any, lm: Any) -> list[int]:
    ids: list[int] = []
    for value in (getattr(lm.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        for token in value if isinstance(value, list) else [value]:
            if token is not None and token not in ids:
                ids.append(int(token))
    if not ids:
        raise BackendError("the tokenizer has no EOS token — set eos_token in its config")
    return ids
