"""The vllm backend's contract, run for real by `make test-vllm` (vLLM's CPU build in its own venv);
skipped where vLLM is not importable. What vLLM promises about seeds is tested, no more: the same
seeds in the same batch give the same samples (not bit-identity across batch compositions)."""

from __future__ import annotations

import pytest

# vLLM and its torch raise deprecation warnings of their own; ours are still errors elsewhere
pytestmark = [pytest.mark.vllm, pytest.mark.filterwarnings("ignore")]

vllm = pytest.importorskip("vllm")

from engine.generate import BackendError, Prompt, SamplingParams, get_backend  # noqa: E402
from tests.engine.generate.conftest import build_random_qwen2  # noqa: E402

PROMPTS = [
    Prompt(key="a", text="1 + 2 ="),
    Prompt(key="b", messages=({"role": "user", "content": "3 + 4 = ?"},)),
]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    # head_dim 64: vLLM's CPU attention kernels support a fixed set of head sizes
    model = build_random_qwen2(tmp_path_factory.mktemp("vllm") / "m", hidden=128, heads=2)
    # On the CPU build gpu_memory_utilization is a share of host memory (checked at start-up);
    # a fixed, small KV cache keeps the test independent of what else the machine runs.
    engine = {"max_model_len": 512, "dtype": "float32", "seed": 0, "enforce_eager": True,
              "gpu_memory_utilization": 0.1, "kv_cache_memory_bytes": 128 << 20}  # fmt: skip
    backend = get_backend("vllm", model=str(model), engine_kwargs=engine)
    yield backend
    backend.close()


def test_k_samples_and_max_tokens_is_passed(backend) -> None:
    # vLLM's own default is 16 tokens: 24 proves the cap is ours
    groups = backend.generate(PROMPTS, SamplingParams(n=4, max_tokens=24, seed=1))
    assert [len(g) for g in groups] == [4, 4]
    for group in groups:
        for sample in group:
            assert sample.prompt_tokens > 0
            if sample.finish_reason == "length":
                assert sample.completion_tokens == 24
            else:
                assert sample.finish_reason == "stop" and sample.completion_tokens <= 24
    assert backend.tokens_generated == sum(s.completion_tokens for g in groups for s in g)


def test_same_seeds_same_batch_same_samples(backend) -> None:
    params = SamplingParams(n=3, max_tokens=16, seed=5)
    first = [[s.text for s in g] for g in backend.generate(PROMPTS, params)]
    again = [[s.text for s in g] for g in backend.generate(PROMPTS, params)]
    other = [
        [s.text for s in g]
        for g in backend.generate(PROMPTS, SamplingParams(n=3, max_tokens=16, seed=6))
    ]
    assert first == again
    assert first != other
    assert len(set(first[0])) > 1


def test_context_is_checked_before_generating(backend) -> None:
    long = Prompt(key="long", text="1 + 2 = 3. " * 200)
    with pytest.raises(BackendError, match="context of 512"):
        backend.check_prompts([long], SamplingParams(max_tokens=16))
    backend.check_prompts(PROMPTS, SamplingParams(max_tokens=16))
