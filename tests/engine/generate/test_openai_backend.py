"""The openai backend against a real OpenAI-compatible server on 127.0.0.1 (`rlvr serve-model`'s
app over the transformers backend), with injected faults: 429/500 then success, a server that
refuses n > 1, one that hangs, one that is not there. No mock of the client."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("transformers")

from engine.generate import BackendError, Prompt, Sample, SamplingParams, get_backend
from engine.generate.serve import create_app
from tests.engine.generate.servers import Faults, free_port, serving, with_faults

CHAT = Prompt(key="c", messages=({"role": "user", "content": "1 + 2 = ?"},))
TEXT = Prompt(key="t", text="3 + 4 =")


@pytest.fixture(scope="module")
def local_backend(random_model):
    return get_backend("transformers", model=str(random_model))


def _client(url: str, **options):
    options = {"timeout_s": 30.0, "backoff_s": 0.01, "max_backoff_s": 0.05, **options}
    return get_backend("openai", model=None, base_url=url, **options)


def test_chat_and_completions_give_k_samples(local_backend) -> None:
    faults = Faults()
    with serving(with_faults(create_app(local_backend), faults)) as url:
        client = _client(url)
        groups = client.generate([CHAT, TEXT], SamplingParams(n=3, max_tokens=7, seed=2))
    assert client.model == local_backend.model  # the server's first model, from /v1/models
    assert [len(g) for g in groups] == [3, 3]
    for group in groups:
        assert all(s.finish_reason == "length" and s.prompt_tokens > 0 for s in group)
        assert all(s.completion_tokens is None for s in group)  # n > 1: only a total is given
    assert client.tokens_generated == 2 * 3 * 7
    paths = sorted(path for path, _, _ in faults.seen)
    assert paths == ["/v1/chat/completions", "/v1/completions"]  # one request per prompt
    assert all(body["n"] == 3 and body["max_tokens"] == 7 for _, body, _ in faults.seen)


def test_one_sample_per_request_has_exact_counts(local_backend) -> None:
    with serving(create_app(local_backend)) as url:
        [[sample]] = _client(url).generate([TEXT], SamplingParams(n=1, max_tokens=5))
    assert sample.completion_tokens == 5 and sample.finish_reason == "length"


def test_same_seed_gives_the_same_samples_through_the_server(local_backend) -> None:
    params = SamplingParams(n=2, max_tokens=8, seed=11)
    with serving(create_app(local_backend)) as url:
        client = _client(url)
        first = [s.text for g in client.generate([CHAT, TEXT], params) for s in g]
        again = [s.text for g in client.generate([TEXT, CHAT], params)[::-1] for s in g]
    assert sorted(first) == sorted(again) and len(set(first)) > 1


def test_429_and_500_are_retried_until_success(local_backend) -> None:
    faults = Faults(script=[429, 500, 503])
    with serving(with_faults(create_app(local_backend), faults)) as url:
        groups = _client(url, max_retries=3).generate([TEXT], SamplingParams(n=2, max_tokens=4))
    assert len(faults.seen) == 4  # three failures, then the answer
    assert [s.finish_reason for s in groups[0]] == ["length", "length"]


def test_retries_are_bounded(local_backend) -> None:
    faults = Faults(script=[500] * 10)
    with serving(with_faults(create_app(local_backend), faults)) as url:
        groups = _client(url, max_retries=2).generate([TEXT], SamplingParams(n=2, max_tokens=4))
    assert len(faults.seen) == 3
    assert [s.finish_reason for s in groups[0]] == ["error", "error"]
    assert "HTTP 500" in groups[0][0].error


def test_a_client_error_is_not_retried(local_backend) -> None:
    faults = Faults(script=[404])
    with serving(with_faults(create_app(local_backend), faults)) as url:
        groups = _client(url).generate([TEXT], SamplingParams(n=1, max_tokens=4))
    assert len(faults.seen) == 1 and groups[0][0].finish_reason == "error"


def test_a_server_that_refuses_n_gets_one_request_per_sample(local_backend) -> None:
    faults = Faults(refuse_n=True)
    with serving(with_faults(create_app(local_backend), faults)) as url:
        client = _client(url)
        groups = client.generate([TEXT, CHAT], SamplingParams(n=3, max_tokens=4, seed=1))
    assert not client.n_supported
    assert [len(g) for g in groups] == [3, 3]
    assert all(s.finish_reason == "length" and s.completion_tokens == 4 for g in groups for s in g)
    assert len({s.seed for s in groups[0]}) == 3  # each split request has its own seed
    assert sum(body["n"] == 1 for _, body, _ in faults.seen) == 6


def test_a_hanging_request_times_out_and_is_retried(local_backend) -> None:
    faults = Faults(script=["hang"])
    with serving(with_faults(create_app(local_backend), faults)) as url:
        start = time.monotonic()
        groups = _client(url, timeout_s=0.5).generate([TEXT], SamplingParams(n=1, max_tokens=3))
        elapsed = time.monotonic() - start
    assert groups[0][0].finish_reason == "length"
    assert len(faults.seen) == 2 and elapsed < 10


def test_a_server_that_always_hangs_costs_a_bounded_time(local_backend) -> None:
    faults = Faults(script=["hang"] * 10)
    with serving(with_faults(create_app(local_backend), faults)) as url:
        start = time.monotonic()
        client = _client(url, timeout_s=0.3, max_retries=1)
        groups = client.generate([TEXT, CHAT], SamplingParams(n=1, max_tokens=3))
        elapsed = time.monotonic() - start
    assert all(g[0].finish_reason == "error" and "timed out" in g[0].error for g in groups)
    assert elapsed < 5  # (retries + 1) × timeout + backoff, the two prompts concurrently


def test_reasoning_content_becomes_the_samples_reasoning() -> None:
    class Scripted:  # a server-side backend that always thinks first
        name, model, tokens_generated = "scripted", "scripted", 0

        def check_prompts(self, prompts, params) -> None: ...

        def generate(self, prompts, params):
            text = "<think>3 + 4 is 7</think> <answer>7</answer>"
            return [[Sample(text=text, prompt_tokens=3, completion_tokens=9,
                            finish_reason="stop", latency_ms=1.0)] * params.n for _ in prompts]  # fmt: skip

    with serving(create_app(Scripted(), reasoning_parser="think")) as url:
        [[sample]] = _client(url).generate([CHAT], SamplingParams(n=1))
    assert sample.reasoning == "3 + 4 is 7" and sample.text == "<answer>7</answer>"
    assert sample.finish_reason == "stop" and sample.completion_tokens == 9


def test_the_api_key_comes_from_the_environment(local_backend, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    faults = Faults()
    with serving(with_faults(create_app(local_backend), faults)) as url:
        _client(url).generate([TEXT], SamplingParams(n=1, max_tokens=2))
    assert faults.seen[0][2]["authorization"] == "Bearer sk-test-123"


def test_a_refused_connection_is_a_user_error() -> None:
    with pytest.raises(BackendError, match=r"cannot reach .* start the server"):
        _client(f"http://127.0.0.1:{free_port()}/v1")


def test_a_prompt_too_long_for_the_server_is_an_error_sample(local_backend) -> None:
    long = Prompt(key="long", text="1 + 2 = 3. " * 300)
    with serving(create_app(local_backend)) as url:
        client = _client(url)
        groups = client.generate([long, TEXT], SamplingParams(n=2, max_tokens=4))
    assert [s.finish_reason for s in groups[0]] == ["error", "error"]
    assert "context" in groups[0][0].error
    assert [s.finish_reason for s in groups[1]] == ["length", "length"]  # the other prompt is fine
    assert client.n_supported  # a long prompt is not a server that refuses n


def test_the_server_batches_concurrent_requests_whatever_their_seeds() -> None:
    class Slow:  # records how many prompts each generate call got
        name, model, tokens_generated = "slow", "slow", 0

        def __init__(self) -> None:
            self.calls: list[int] = []

        def check_prompts(self, prompts, params) -> None: ...

        def generate(self, prompts, params):
            self.calls.append(len(prompts))
            time.sleep(0.2)  # the next requests queue up meanwhile
            sample = Sample(text="1", prompt_tokens=1, completion_tokens=1,
                            finish_reason="stop", latency_ms=1.0)  # fmt: skip
            return [[sample] * params.n for _ in prompts]

    backend = Slow()
    prompts = [Prompt(key=f"p{i}", text=f"{i} + 1 =") for i in range(12)]
    with serving(create_app(backend)) as url:
        groups = _client(url).generate(prompts, SamplingParams(n=1))
    assert all(g[0].text == "1" for g in groups)
    assert sum(backend.calls) == 12 and max(backend.calls) > 1  # one call served several
