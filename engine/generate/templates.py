"""Prompt templates and the ``<think>`` split.

- ``r1-zero``: the R1-Zero prompt, verbatim from the paper (R1 v1 Table 1), completed as raw text,
  so it suits base models. The problem replaces the word "prompt" of the table.
- ``chat``: the model's own chat template (an optional system message, then the problem as the
  user turn); rendered locally or by the server.

A completion is split at its first ``</think>``: what precedes it is the reasoning (less a leading
``<think>``), what follows is the answer text. With no ``</think>`` there is no reasoning and the
whole completion is the answer text.

>>> split_think("<think>2+2 is 4</think> <answer>4</answer>")
('2+2 is 4', '<answer>4</answer>')
>>> split_think("4")
(None, '4')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from engine.generate.base import Prompt

__all__ = [
    "R1_ZERO_TEMPLATE",
    "TEMPLATES",
    "THINK_CLOSE",
    "THINK_OPEN",
    "Render",
    "TemplateName",
    "build_prompt",
    "chat_template_warnings",
    "join_reasoning",
    "split_think",
    "tokenizer_template_warnings",
]

TemplateName = Literal["chat", "r1-zero"]
TEMPLATES: tuple[str, ...] = ("chat", "r1-zero")

# DeepSeek-R1 v1, Table 1 (verbatim; "{prompt}" stands for the red "prompt" of the table).
R1_ZERO_TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant "
    "solves it. The assistant first thinks about the reasoning process in the mind and then "
    "provides the user with the answer. The reasoning process and answer are enclosed within "
    "<think> </think> and <answer> </answer> tags, respectively, i.e., <think> reasoning process "
    "here </think> <answer> answer here </answer>. User: {prompt}. Assistant:"
)

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def build_prompt(key: str, problem: str, template: str, *, system: str | None = None) -> Prompt:
    """The backend prompt for one problem under ``template`` (``chat`` or ``r1-zero``)."""
    if template == "r1-zero":
        return Prompt(key=key, text=R1_ZERO_TEMPLATE.replace("{prompt}", problem))
    if template == "chat":
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": problem})
        return Prompt(key=key, messages=tuple(messages))
    raise ValueError(f"unknown template {template!r}; templates are {TEMPLATES}")


def split_think(completion: str) -> tuple[str | None, str]:
    """``(reasoning, answer_text)``: the completion split at its first ``</think>``."""
    head, sep, tail = completion.partition(THINK_CLOSE)
    if not sep:
        return None, completion.strip()
    reasoning = head.strip()
    if reasoning.startswith(THINK_OPEN):
        reasoning = reasoning[len(THINK_OPEN) :].strip()
    return reasoning, tail.strip()


def join_reasoning(reasoning: str | None, content: str) -> str:
    """One completion text from a server's separate ``reasoning_content`` and ``content``.

    Verifiers (format, math) read the completion, so the reasoning goes back inside think tags.
    """
    if reasoning is None:
        return content
    return f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n{content}"


Render = Callable[[Sequence[Mapping[str, str]], bool], str]

_PROBE_REASONING = "PROBE-REASONING-7f3a"


def chat_template_warnings(render: Render) -> list[str]:
    """The two traps of R1-distilled chat templates (open-r1#560, open-r1#585, LlamaFactory#6987).

    ``render(messages, add_generation_prompt)`` renders a conversation with the model's template.
    A template that ends the generation prompt with ``<think>`` makes the model's completion start
    inside its reasoning (no opening tag: format rewards read it wrong); one that drops the
    reasoning of earlier assistant turns loses it from SFT data built on it.
    """
    warnings = []
    user = [{"role": "user", "content": "1+1?"}]
    if render(user, True).rstrip().endswith(THINK_OPEN):
        warnings.append(
            "the chat template prefills <think> in the generation prompt: completions start inside "
            "the reasoning, without the opening tag (format rewards will read them wrong)"
        )
    answer = f"{THINK_OPEN}{_PROBE_REASONING}{THINK_CLOSE}2"
    history = [*user, {"role": "assistant", "content": answer}]
    try:
        rendered = render(history, False)
    except Exception:  # a template that cannot render history says nothing about stripping
        return warnings
    if _PROBE_REASONING not in rendered:
        warnings.append(
            "the chat template strips <think> reasoning from assistant turns in the history "
            "(SFT data rendered with it loses the reasoning)"
        )
    return warnings


def tokenizer_template_warnings(tokenizer: object) -> list[str]:
    """`chat_template_warnings` for a Hugging Face tokenizer; none when it has no chat template."""
    if not getattr(tokenizer, "chat_template", None):
        return []

    def render(messages: Sequence[Mapping[str, str]], gen: bool) -> str:
        return tokenizer.apply_chat_template(  # type: ignore[attr-defined]
            [dict(m) for m in messages], add_generation_prompt=gen, tokenize=False
        )

    return chat_template_warnings(render)
