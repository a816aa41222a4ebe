"""Reward adapters (verifiers/rewards.py): TRL 1.16's reward contract over our verifiers.

Called by hand here; tests/training/test_train.py runs them inside a real GRPOTrainer step.
"""

from __future__ import annotations

import asyncio
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifiers import rewards as R
from verifiers.verdict import Verdict

ADD = {"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3"}]}
GOOD = "```python\nprint(sum(map(int, input().split())))\n```"
WRONG = "```python\nprint(4)\n```"
# What TRL passes besides the columns (GRPOTrainer._calculate_rewards).
TRL_EXTRAS = {"trainer_state": object(), "log_extra": print, "log_metric": print}


@pytest.mark.parametrize(
    ("completion", "answer", "expected"),
    [
        ("<think>2+2</think> \\boxed{4}", "4", 1.0),  # standard completion, right
        ("<think>2+2</think> \\boxed{5}", "4", 0.0),  # honest wrong answer
        ("\\boxed{4}", None, None),  # no gold: cannot be judged, never 0
        ([{"role": "assistant", "content": "\\boxed{4}"}], "4", 1.0),  # conversational
        ([{"role": "assistant", "content": "<answer> 4 </answer>"}], "4", 1.0),  # R1-Zero tags
    ],
)
def test_math_reward_follows_trl_contract(completion, answer, expected) -> None:
    out = R.math_reward(prompts=["p"], completions=[completion], completion_ids=[[1]],
                        answer=[answer], **TRL_EXTRAS)  # fmt: skip
    assert out == [expected]


def test_reasoning_content_goes_back_inside_think_tags() -> None:
    msg = [{"role": "assistant", "content": "4", "reasoning_content": "two and two"}]
    assert R.completion_text(msg).startswith("<think>\ntwo and two\n</think>")
    assert R.format_reward(completions=[msg]) == [1.0]
    assert R.format_reward(completions=[[{"role": "assistant", "content": "4"}]]) == [0.0]


def test_format_language_countdown_rewards() -> None:
    meta = json.dumps({"numbers": [3, 4, 9], "target": 21})
    assert R.countdown_reward(completions=["<answer>3 * (9 - 4) + 6</answer>",
                                           "<answer>(3 + 4) * 3</answer>",
                                           "<answer>3 * 4 + 9</answer>"],
                              meta=[meta] * 3) == [0.0, 0.0, 1.0]  # fmt: skip
    assert R.countdown_reward(completions=["x"], meta=[None]) == [None]  # no problem: unjudged
    assert R.r1_zero_format_reward(completions=["<think>a</think> <answer>b</answer>",
                                                "<think>a</think> b"]) == [1.0, 0.0]  # fmt: skip
    got = R.language_reward(completions=["<think>we add 加</think> 4", "<think>12</think>"])
    assert got[0] == pytest.approx(2 / 3) and got[1] is None
    zh = R.language_reward(
        completions=["<think>加法</think>"], meta=[json.dumps({"language": "zh"})]
    )
    assert zh == [1.0]


def test_code_reward_judges_the_batch_at_once(monkeypatch) -> None:
    import verifiers.code as code

    calls = []
    real = code.verify_code_batch

    def spy(items, **kw):
        items = list(items)
        calls.append(len(items))
        return real(items, **kw)

    monkeypatch.setattr(code, "verify_code_batch", spy)
    tests = [json.dumps(ADD)] * 3 + [None]
    out = R.code_reward(completions=[GOOD, WRONG, "no code", GOOD], tests=tests)
    assert out == [1.0, 0.0, 0.0, None]  # the prompt without tests is not judged, not 0
    assert calls == [3]  # one batch to the sandbox, never one completion at a time


def test_async_code_reward_matches_sync() -> None:
    tests = [json.dumps(ADD)] * 2 + [None]
    got = asyncio.run(R.async_code_reward(completions=[GOOD, WRONG, GOOD], tests=tests))
    assert got == [1.0, 0.0, None]
    assert R.async_code_reward.last_verdicts[0].status == "correct"


def test_sandbox_fault_is_none_not_zero(monkeypatch) -> None:
    import verifiers.code as code

    fault = Verdict(status="unverifiable", reward=None, detail={"tests": [{"code": "SE"}]})
    monkeypatch.setattr(code, "verify_code_batch", lambda items, **kw: [fault for _ in items])
    assert R.code_reward(completions=[GOOD], tests=[json.dumps(ADD)]) == [None]


def test_a_verifier_crash_is_none(monkeypatch) -> None:
    from verifiers import registry

    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(registry, "get", lambda name: boom)
    assert R.math_reward(completions=["\\boxed{1}"], answer=["1"]) == [None]


def test_rewards_pickle_with_their_names() -> None:
    for fn in (R.math_reward, R.format_reward, R.code_reward, R.async_code_reward,
               R.language_reward, R.countdown_reward):  # fmt: skip
        back = pickle.loads(pickle.dumps(fn))
        assert back.__name__ == fn.__name__
    assert pickle.loads(pickle.dumps(R.math_reward))(completions=["\\boxed{2}"], answer=["2"]) == [
        1.0
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: R.make_reward("nope"), "unknown verifier"),
        (lambda: R.make_language_reward(target="xx"), "target="),
        (lambda: R.make_language_reward(threshold=2), "threshold="),
        (lambda: R.make_format_reward(answer_tags="yes"), "answer_tags="),
        (lambda: R.make_code_reward(workers=0), "workers="),
        (lambda: R.make_code_reward(nonsense=1), "unknown code reward option"),
    ],
)
def test_factories_validate_arguments(call, message) -> None:
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        call()


@pytest.mark.parametrize(
    ("source", "solution", "truth", "extra", "expected"),
    [
        ("synth-arithmetic", "\\boxed{7}", "7", None, 1.0),  # math by default
        ("synth-arithmetic", "\\boxed{8}", "7", None, 0.0),
        ("synth-arithmetic", "\\boxed{8}", None, None, None),  # no gold: None, not 0
        ("countdown", "<answer>3 + 4</answer>", {"numbers": [3, 4], "target": 7}, None, 1.0),
        ("mbpp", GOOD, json.dumps(ADD), None, 1.0),  # code benchmark name → code verifier
        ("mine", WRONG, json.dumps(ADD), {"ability": "code"}, 0.0),  # verl's ability column
    ],
)
def test_verl_compute_score(source, solution, truth, extra, expected) -> None:
    assert R.compute_score(source, solution, truth, extra) == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=80),
            st.lists(
                st.fixed_dictionaries(
                    {"role": st.just("assistant"), "content": st.text(max_size=40)}
                ),
                max_size=2,
            ),
        ),
        max_size=4,
    )
)
def test_any_completion_gets_a_reward_or_none(completions) -> None:  # fmt: skip
    n = len(completions)
    for fn, cols in ((R.math_reward, {"answer": ["1"] * n}), (R.format_reward, {}),
                     (R.language_reward, {}),
                     (R.countdown_reward, {"meta": [json.dumps({"numbers": [1], "target": 1})] * n})):  # fmt: skip
        out = fn(completions=completions, **cols)
        assert len(out) == n
        assert all(r is None or (isinstance(r, float) and 0.0 <= r <= 1.0) for r in out)
