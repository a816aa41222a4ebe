"""The R1 format and language-consistency rewards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifiers import registry
from verifiers.format import verify_format
from verifiers.language import language_share, verify_language


@pytest.mark.parametrize(
    ("response", "options", "ok"),
    [
        ("<think>a</think>b", {}, True),  # minimal well-formed
        ("  \n<think>\nsteps\n</think>\n\nThe answer is 4.", {}, True),  # whitespace around tags
        ("The answer is 4.", {}, False),  # no think block at all
        ("<think>a</think>", {}, False),  # no answer after the block
        ("<think> </think>4", {}, False),  # empty reasoning
        ("<think>a</think>b<think>c</think>d", {}, False),  # two blocks
        ("<think>a</think></think>b", {}, False),  # stray closing tag
        ("<think>a", {}, False),  # never closed (truncated)
        ("x<think>a</think>b", {}, False),  # text before the block
        ("steps</think>4", {}, False),  # prefilled template, strict mode
        (
            "steps</think>4",
            {"prefilled_think": True},
            True,
        ),  # open-r1#560: prompt prefilled <think>
        ("<think>a</think><answer>4</answer>", {"answer_tags": True}, True),  # R1-Zero template
        ("<think>a</think>4", {"answer_tags": True}, False),  # R1-Zero needs <answer>
        ("<think>a</think><answer> </answer>", {"answer_tags": True}, False),  # empty answer
        ("<think>a</think><answer>4</answer> extra", {"answer_tags": True}, False),  # trailing text
    ],
)
def test_format(response: str, options: dict, ok: bool) -> None:
    v = verify_format(response, **options)
    assert v.ok is ok
    assert v.reward == (1.0 if ok else 0.0)
    assert ("reason" in v.detail) is (not ok)


@given(st.text(min_size=1).filter(lambda s: s.strip() and "<" not in s))
def test_format_accepts_any_wrapped_text(body: str) -> None:
    assert verify_format(f"<think>{body}</think>{body}").ok


@pytest.mark.parametrize(
    ("text", "target", "share"),
    [
        ("We add two numbers", "en", 1.0),  # all English
        ("我们 把 两个数 相加", "zh", 1.0),  # every ideograph is one word
        ("We 加 the 数字", "en", 0.4),  # 2 English words of 5
        (r"Let \frac{x_1}{2} = 3, so x = 6", "en", 1.0),  # LaTeX and identifiers are not words
        ("Считаем: add", "ru", 0.5),  # Cyrillic vs Latin
        ("```python\nprint('你好')\n``` Done", "en", 1.0),  # code blocks are not prose
        ("1 + 2 = 3", "en", None),  # no words at all
    ],
)
def test_language_share(text: str, target: str, share: float | None) -> None:
    got = language_share(text, target)
    assert got == pytest.approx(share) if share is not None else got is None


def test_language_reads_only_the_reasoning() -> None:
    v = verify_language("<think>Reasoning in English.</think> 答案是四", target="en")
    assert v.reward == 1.0 and v.ok
    mixed = verify_language("<think>Reasoning 然后 继续 推理 in English.</think>", target="en")
    assert mixed.status == "incorrect" and 0 < mixed.reward < 0.95


def test_language_without_words_is_unverifiable_not_zero() -> None:
    v = verify_language("<think>1+1=2</think>")
    assert v.status == "unverifiable" and v.reward is None


def test_language_rejects_unknown_target() -> None:
    with pytest.raises(ValueError, match="target='xx'"):
        verify_language("hi", target="xx")


def test_registry_scores_through_prompt_rows() -> None:
    prompt = {"answer": None, "meta": '{"language": "zh"}'}
    assert registry.score("language", prompt, "<think>我们 相加</think>").reward == 1.0
    assert registry.score("format", prompt, "<think>a</think>b").reward == 1.0
    with pytest.raises(KeyError, match="known verifiers"):
        registry.get("nope")
