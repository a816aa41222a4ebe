"""The ``vllm`` backend: vLLM's offline engine (``vllm.LLM``), on GPUs or vLLM's CPU build.

Raw-text prompts go through ``LLM.generate``, chat prompts through ``LLM.chat`` (the model's chat
template, applied by vLLM). Each prompt is one request with ``n`` samples and its own seed,
``sample_seed(seed, prompt, 0)``; vLLM derives the ``n`` samples from it. ``max_tokens`` is
always passed: vLLM's own default is 16 tokens.

Seeds — what vLLM promises: with a per-request seed, the same request in the same engine
configuration and the same batch gives the same samples. A different batch composition is *not*
promised to be bit-identical (batched kernels change the float sums), so the tests check
same-seed determinism for a fixed batch, and that different seeds give different samples.

Install with the ``vllm`` extra (GPU), or see ``make test-vllm`` for the CPU build. ``vllm`` is
imported when the backend is built, never at module level (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

__all__ = ["VllmBackend"]


class VllmBackend:
    """Generation with ``vllm.LLM``; ``engine_kwargs`` go to its constructor as they are.

    >>> backend = VllmBackend("Qwen/Qwen2.5-Math-1.5B", engine_kwargs={"max_model_len": 4096})  # doctest: +SKIP
    """

    name = "vllm"

    def __init__(self, model: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise BackendError(
                "vLLM is not installed — `pip install 'rlvr[vllm]'` on a GPU machine "
                "(or `make test-vllm` for its CPU build), or use --backend transformers"
            ) from exc
        self.model = str(model)
        self._vllm = vllm
        try:
            self.llm = vllm.LLM(model=self.model, **dict(engine_kwargs or {}))
        except (OSError, ValueError) as exc:
            raise BackendError(
                f"{model}: vLLM cannot load it ({str(exc).splitlines()[0][:200]}) — pass a "
                "model folder or a name vLLM can load"
            ) from exc
        self.tokenizer = self.llm.get_tokenizer()
        self.context = int(self.llm.llm_engine.model_config.max_model_len)
        self.tokens_generated = 0

    def _sampling(self, params: SamplingParams, key: str):
        return self._vllm.SamplingParams(
            n=params.n,
            temperature=params.temperature,
            top_p=params.top_p,
            max_tokens=params.max_tokens,  # vLLM's default would be 16
            seed=sample_seed(params.seed, key, 0),
        )

    def _render(self, prompt: Prompt) -> str:
        if prompt.text is not None:
            return prompt.text
        return self.tokenizer.apply_chat_template(
            [dict(m) for m in prompt.messages or ()], add_generation_prompt=True, tokenize=False
        )

    def check_prompts(self, prompts: Sequence[Prompt], params: SamplingParams) -> None:
        for prompt in prompts:
            if prompt.messages is not None and not getattr(self.tokenizer, "chat_template", None):
                raise BackendError(
                    f"{self.model}: the tokenizer has no chat template — use --template r1-zero"
                )
            length = len(
                self.tokenizer(self._render(prompt), add_special_tokens=False)["input_ids"]
            )
            check_context(prompt, length, params.max_tokens, self.model, self.context)

    def template_warnings(self) -> list[str]:
        return tokenizer_template_warnings(self.tokenizer)

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Sample]]:
        import time

        out: list[list[Sample]] = [[] for _ in prompts]
        texts = [(i, p) for i, p in enumerate(prompts) if p.messages is None]
        chats = [(i, p) for i, p in enumerate(prompts) if p.messages is not None]
        for group, chat in ((texts, False), (chats, True)):
            if not group:
                continue
            sampling = [self._sampling(params, p.key) for _, p in group]
            start = time.perf_counter()
            if chat:
                conversations = [[dict(m) for m in p.messages or ()] for _, p in group]
                results = self.llm.chat(conversations, sampling, use_tqdm=False)
            else:
                results = self.llm.generate([p.text for _, p in group], sampling, use_tqdm=False)
            latency_ms = (time.perf_counter() - start) * 1000
            for (i, p), result in zip(group, results, strict=True):
                out[i] = self._samples(result, sample_seed(params.seed, p.key, 0), latency_ms)
        return out

    def _samples(self, result: Any, seed: int, latency_ms: float) -> list[Sample]:
        prompt_tokens = len(result.prompt_token_ids or [])
        samples = []
        for completion in sorted(result.outputs, key=lambda c: c.index):
            tokens = len(completion.token_ids)
            self.tokens_generated += tokens
            samples.append(
                Sample(
                    text=completion.text,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=tokens,
                    finish_reason="length" if completion.finish_reason == "length" else "stop",
                    latency_ms=latency_ms,
                    seed=seed,
                )
            )
        return samples

    def close(self) -> None:
        self.llm = None
