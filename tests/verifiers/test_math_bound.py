"""The time bound and the API contract: threads, asyncio, processes, timeouts, config, registry."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import verifiers.math as vm
import verifiers.math.verify as vm_verify
from verifiers import registry
from verifiers.math import MathConfig, averify_math, score_prompt, verify_math, verify_math_batch
from verifiers.math.bound import get_pool

# pairs that need the symbolic worker (not decidable by the fast path) and their verdicts
SYMBOLIC_PAIRS = [
    (r"2\sqrt{3}", r"\boxed{\sqrt{12}}", "correct"),
    (r"x^2-1", r"\boxed{(x-1)(x+1)+1}", "incorrect"),
    ("(0, 12.5)", "$0 < x < 12.5$", "correct"),
    ("42", r"\boxed{42}", "correct"),
]
TOWER = r"\boxed{\dfrac{5^{\left(5^{\left(5^{\left(5^5\right)}\right)} - 4\right)} - 5}{16}}"


def _statuses(results: list) -> list[str]:
    return [v.status for v in results]


def _verify_in_child(pair: tuple[str, str]) -> str:
    return verify_math(*pair).status


def test_public_surface() -> None:
    assert set(vm.__all__) == {
        "VERSION",
        "MathConfig",
        "averify_math",
        "score_prompt",
        "verify_math",
        "verify_math_batch",
    }


def test_verdict_fields() -> None:
    v = verify_math(r"\frac{1}{2}", r"so \boxed{0.5}")
    assert (v.status, v.reward, v.extracted, v.verifier) == ("correct", 1.0, "0.5", "math")
    assert v.detail["match"] == "exact-rational" and v.elapsed_ms >= 0 and v.verifier_version


def test_same_results_from_threads_asyncio_and_processes() -> None:
    expected = [s for _, _, s in SYMBOLIC_PAIRS]
    pairs = [(g, r) for g, r, _ in SYMBOLIC_PAIRS]
    with ThreadPoolExecutor(4) as ex:
        assert [v.status for v in ex.map(lambda p: verify_math(*p), pairs * 2)] == expected * 2

    async def all_async() -> list[str]:
        return _statuses(await asyncio.gather(*(averify_math(g, r) for g, r in pairs)))

    assert asyncio.run(all_async()) == expected
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:  # daemonic workers: the verifier must still start its own workers
        assert pool.map(_verify_in_child, pairs) == expected
    assert _statuses(verify_math_batch(pairs, workers=2)) == expected


def test_batch_keeps_order_and_shows_progress() -> None:
    pairs = [(str(i), rf"\boxed{{{i if i % 3 else i + 1}}}") for i in range(30)]
    verdicts = verify_math_batch(pairs, workers=3, progress=True)
    assert [v.ok for v in verdicts] == [bool(i % 3) for i in range(30)]
    with pytest.raises(ValueError, match="workers=0"):
        verify_math_batch(pairs, workers=0)


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("1", r"\boxed{10^{10^{10}}}"),  # power tower: refused before sympy
        ("5", TOWER),  # Math-Verify#65 "hangs forever"
        ("7", r"\boxed{" + "9" * 5000 + "}"),  # 5,000-digit number: exact string compare
        ("7", r"\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}"),  # deep braces
        ("7", "x" * 1_000_000 + r" \boxed{8}"),  # a megabyte response
        ("2", r"\boxed{2^{2^{2^{2^{2}}}}}"),  # 2^65536: a tower that is refused
    ],
)
def test_pathological_inputs_answer_within_bound(gold: str, response: str) -> None:
    cfg = MathConfig(timeout_s=1.0)
    verify_math("x", r"\boxed{x}", config=cfg)  # warm worker: start-up is not part of the bound
    start = time.perf_counter()
    verdict = verify_math(gold, response, config=cfg)
    elapsed = time.perf_counter() - start
    assert verdict.status in ("incorrect", "timeout")
    assert elapsed <= cfg.timeout_s + 0.1


def test_timeout_kills_and_replaces_the_worker() -> None:
    pool = get_pool()
    pool.call("pid", (), timeout_s=30)
    start = time.perf_counter()
    assert pool.call("sleep", (30,), timeout_s=0.3) == ("timeout", None)
    assert time.perf_counter() - start < 0.3 + 0.1
    status, pid = pool.call("pid", (), timeout_s=30)  # the replacement answers
    assert status == "ok" and isinstance(pid, int)
    assert verify_math(r"2\sqrt{3}", r"\boxed{\sqrt{12}}").ok  # and the verifier still works


def test_timeout_verdict_reward_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vm_verify, "_judge", lambda g, p, cfg: ("timeout", None))
    v = verify_math("x", r"\boxed{y}")
    assert (v.status, v.reward) == ("timeout", 0.0)
    v = verify_math("x", r"\boxed{y}", config=MathConfig(timeout_reward=None))
    assert (v.status, v.reward) == ("timeout", None)


def test_timeout_from_many_threads_never_hangs() -> None:
    pool = get_pool(2)
    results: list[tuple] = []

    def run() -> None:
        results.append(pool.call("sleep", (30,), timeout_s=0.2, startup_timeout_s=60))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [("timeout", None)] * 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_s": 0}, "timeout_s=0"),  # must be positive
        ({"timeout_s": "1"}, "timeout_s='1'"),  # must be a number
        ({"percent": "half"}, "percent='half'"),  # unknown policy
        ({"bare_lists": "sorted"}, "bare_lists='sorted'"),  # unknown policy
        ({"timeout_reward": "0"}, "timeout_reward='0'"),  # float or None
        ({"decimal_sig_digits": 0}, "decimal_sig_digits=0"),  # positive integer
    ],
)
def test_config_errors_name_the_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MathConfig(**kwargs)


def test_score_prompt_and_registry() -> None:
    assert registry.get("math") is score_prompt
    assert score_prompt({"answer": "4"}, r"\boxed{4}").ok
    for answer in (None, "", "   "):
        v = score_prompt({"answer": answer}, r"\boxed{4}")
        assert (v.status, v.reward) == ("unverifiable", None)
    assert score_prompt({"answer": "4"}, r"\boxed{4}", timeout_s=2.0).ok


def test_no_answer_is_incorrect_not_an_error() -> None:
    v = verify_math("4", "I do not know.")
    assert (v.status, v.reward, v.extracted) == ("incorrect", 0.0, None)
