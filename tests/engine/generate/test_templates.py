"""Prompt templates, the </think> split and the chat-template traps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.generate.templates import (
    R1_ZERO_TEMPLATE,
    build_prompt,
    chat_template_warnings,
    join_reasoning,
    split_think,
)

# DeepSeek-R1 v1, Table 1, copied from the paper by hand: the template must match it verbatim.
PAPER_TABLE_1 = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves "
    "it. The assistant first thinks about the reasoning process in the mind and then provides the "
    "user with the answer. The reasoning process and answer are enclosed within <think> </think> "
    "and <answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> "
    "<answer> answer here </answer>. User: prompt. Assistant:"
)


def test_r1_zero_template_is_the_papers_table_1_verbatim() -> None:
    assert R1_ZERO_TEMPLATE.replace("{prompt}", "prompt") == PAPER_TABLE_1
    prompt = build_prompt("p1", "What is 2 + 2?", "r1-zero")
    assert prompt.messages is None
    assert prompt.text == PAPER_TABLE_1.replace("User: prompt.", "User: What is 2 + 2?.")


def test_chat_template_prompt_has_the_system_message_first() -> None:
    prompt = build_prompt("p1", "2+2?", "chat", system="Be brief.")
    assert prompt.text is None
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert build_prompt("p1", "2+2?", "chat").messages == ({"role": "user", "content": "2+2?"},)


@pytest.mark.parametrize(
    ("completion", "reasoning", "answer"),
    [
        ("<think>a</think>b", "a", "b"),  # the R1 shape
        ("a</think>b", "a", "b"),  # a template prefilled <think>: no opening tag
        ("<think>\n x \n</think>\n<answer>4</answer>", "x", "<answer>4</answer>"),  # R1-Zero
        ("just 4", None, "just 4"),  # no reasoning at all
        ("<think>unfinished", None, "<think>unfinished"),  # truncated inside the reasoning
        ("a</think>b</think>c", "a", "b</think>c"),  # split at the first closing tag only
    ],
)
def test_split_think(completion: str, reasoning: str | None, answer: str) -> None:
    assert split_think(completion) == (reasoning, answer)


@given(st.text(alphabet=st.characters(blacklist_characters="<>")), st.text())
def test_join_then_split_gives_back_the_reasoning(reasoning: str, content: str) -> None:
    got_reasoning, got_answer = split_think(join_reasoning(reasoning, content))
    assert got_reasoning == reasoning.strip()
    assert got_answer == content.strip()


def _render(prefill: bool, strip: bool):
    def render(messages, add_generation_prompt: bool) -> str:
        out = []
        for m in messages:
            content = m["content"]
            if strip and m["role"] == "assistant":
                content = content.split("</think>")[-1]  # what R1-Distill templates do
            out.append(f"<|{m['role']}|>{content}")
        if add_generation_prompt:
            out.append("<|assistant|>" + ("<think>\n" if prefill else ""))
        return "".join(out)

    return render


@pytest.mark.parametrize(
    ("prefill", "strip", "expected"),
    [
        (False, False, []),  # a clean template: no warning
        (True, False, ["prefills <think>"]),
        (False, True, ["strips <think> reasoning"]),
        (True, True, ["prefills <think>", "strips <think> reasoning"]),
    ],
)
def test_chat_template_warnings(prefill: bool, strip: bool, expected: list[str]) -> None:
    warnings = chat_template_warnings(_render(prefill, strip))
    assert len(warnings) == len(expected)
    for warning, phrase in zip(warnings, expected, strict=True):
        assert phrase in warning
