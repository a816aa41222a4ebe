"""Reward hacking through the TRL adapters (verifiers/rewards.py): what a GRPO policy could emit to
score a wrong answer, or to turn its wrong answer into "no reward" (None is left out of the
group's baseline, so a None for a wrong sample would hide it). Each attack has its controls: the
right answer still earns 1.0 and the honest wrong answer still earns 0.0, never None."""

from __future__ import annotations

import json

import pytest

from verifiers import rewards as R

ADD = json.dumps({"kind": "stdio", "cases": [{"stdin": "1 2\n", "expected": "3"}]})
RIGHT = "```python\nprint(sum(map(int, input().split())))\n```"
HONEST_WRONG = "```python\nprint(4)\n```"


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("```python\nimport os\nos._exit(0)\n```", 0.0),  # exit before printing: RE, not None
        ("```python\nimport sys\nsys.exit(0)\n```", 0.0),
        ("```python\nprint('ACCEPTED')\n```", 0.0),  # claiming success on stdout
        ("```python\nimport os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n```", 0.0),
        ("```python\nwhile True: pass\n```", 0.0),  # TLE is the candidate's, never "unjudged"
        ("no code at all", 0.0),  # no program: CE, a 0
        (RIGHT, 1.0),  # control: the right program
        (HONEST_WRONG, 0.0),  # control: the honest wrong one
    ],
)
def test_code_reward_cannot_be_turned_into_none(completion: str, expected: float) -> None:
    sync = R.make_code_reward(test_cpu_s=1.0)
    assert sync(completions=[completion], tests=[ADD]) == [expected]


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think>x</think> \\boxed{4} \\boxed{5}", 0.0),  # two final answers
        ("<think>x</think> 4 or 5", 0.0),  # a hedge
        ("\\boxed{4}</think> \\boxed{5}", 0.0),  # the right answer only before </think>
        ("<think>x</think> \\boxed{" + "9" * 5000 + "}", 0.0),  # a huge number
        ("<think>x</think> \\boxed{\\frac{8}{2}}", 1.0),  # control: right, in another form
        ("<think>x</think> \\boxed{5}", 0.0),  # control: honest wrong
    ],
)
def test_math_reward_attacks(completion: str, expected: float) -> None:
    assert R.math_reward(completions=[completion], answer=["4"]) == [expected]


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<think><think>x</think></think> <answer>4</answer>", 0.0),  # nested blocks
        ("<think>x</think> <answer>4</answer><answer>5</answer>", 0.0),  # two answers
        ("<think> </think> <answer>4</answer>", 0.0),  # empty reasoning
        ("<think>x</think> <answer>4</answer>", 1.0),  # control
    ],
)
def test_r1_zero_format_reward_attacks(completion: str, expected: float) -> None:
    assert R.r1_zero_format_reward(completions=[completion]) == [expected]


def test_a_wrong_answer_is_never_none_in_a_mixed_batch() -> None:
    """The batch path must not let one sample's state leak into another's verdict."""
    completions = [RIGHT, "```python\nimport os\nos._exit(0)\n```", HONEST_WRONG, RIGHT]
    got = R.code_reward(completions=completions, tests=[ADD] * 4)
    assert got == [1.0, 0.0, 0.0, 1.0]
