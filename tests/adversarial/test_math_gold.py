"""Issue 10: a math gold answer that cannot be parsed is our data's fault, so the verdict is
``unverifiable`` (reward None), never ``incorrect``. The attack side: a policy must not be able to
choose "no reward" for itself — on a gold that can be judged, no response, however malformed, is
``unverifiable``; only the gold decides (``verifiers.math.symbolic.gold_parses``).

Each broken-gold case has its controls: the same responses against a good gold are still
``correct`` or ``incorrect`` with reward 1.0 / 0.0.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifiers import registry
from verifiers.math import VERSION, verify_math

JUNK = [
    r"\boxed{\frac{}",  # a fraction without parts
    r"\boxed{x^{}",  # an empty exponent
    r"\boxed{???}",  # no mathematics at all
    r"\boxed{{{{}",  # unbalanced braces
    r"\boxed{5}",  # a plain number
]


@pytest.mark.parametrize(
    "gold",
    [
        r"\frac{1}{",  # truncated LaTeX in the dataset
        "???",  # a placeholder left in the data
        r"\sqrt{",  # an unclosed root
    ],
)
@pytest.mark.parametrize("response", JUNK)
def test_an_unparseable_gold_is_unverifiable_whatever_the_response(gold, response) -> None:
    if response == rf"\boxed{{{gold}}}":
        # The gold copied as written is still `correct` by the string rule: the policy never
        # sees the gold, so this is no way to choose a reward.
        assert verify_math(gold, response).reward == 1.0
        return
    verdict = verify_math(gold, response)
    assert (verdict.status, verdict.reward) == ("unverifiable", None), verdict.detail
    assert "gold answer cannot be parsed" in verdict.detail["reason"]
    assert verdict.verifier_version == VERSION == "3"


@pytest.mark.parametrize(
    ("gold", "right", "wrong"),
    [
        (r"\frac{1}{2}", r"\boxed{0.5}", r"\boxed{0.4}"),  # a plain number
        (r"m_{\max} = n^{2}-n-1", r"\boxed{n^2-n-1}", r"\boxed{n^2}"),  # a labelled expression
        (
            r"x = \frac{1}{2}, x = \frac{-1 \pm \sqrt{13}}{4}",
            r"\boxed{x = \frac{1}{2}}",
            r"\boxed{7}",
        ),
        ("(1, 2]", r"\boxed{(1, 2]}", r"\boxed{[1, 2]}"),  # an interval
    ],
)
@pytest.mark.parametrize("junk", JUNK[:4])
def test_a_judgeable_gold_never_lets_a_response_choose_no_reward(gold, right, wrong, junk) -> None:
    attack = verify_math(gold, junk)
    assert attack.status == "incorrect" and attack.reward == 0.0, attack.detail
    if gold.startswith("x ="):
        right = r"\boxed{\frac{1}{2}, \frac{-1 + \sqrt{13}}{4}, \frac{-1 - \sqrt{13}}{4}}"
    assert verify_math(gold, right).reward == 1.0  # control: the right answer still scores
    assert verify_math(gold, wrong).reward == 0.0  # control: an honest wrong one still fails


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from(list(r"\{}^_()[]=,+-*/0123456789xnpifracsqrt ")), max_size=24)
)
def test_no_response_makes_a_good_gold_unverifiable(text) -> None:
    for gold in (r"\frac{1}{2}", r"m_{\max} = n^{2}-n-1", r"\{1, 2\}"):
        verdict = verify_math(gold, rf"\boxed{{{text}}}")
        assert verdict.status != "unverifiable", (gold, text, verdict.detail)


def test_the_engine_records_a_broken_gold_as_unverifiable() -> None:
    prompt = {"prompt_id": "p", "task": "math", "problem": "?", "answer": r"\frac{1}{"}
    verdict = registry.score("math", prompt, r"\boxed{5}")
    assert (verdict.status, verdict.reward) == ("unverifiable", None)
    control = registry.score("math", {**prompt, "answer": "5"}, r"\boxed{5}")
    assert (control.status, control.reward) == ("correct", 1.0)
