"""The transformers backend's contract on a tiny model: k samples, finish reasons, token counts,
seeds (reproducible, independent of the batch), greedy = transformers' own greedy."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from engine.generate import BackendError, Prompt, SamplingParams, get_backend

PROMPTS = [
    Prompt(key="a", text="1 + 2 ="),
    Prompt(key="b", messages=({"role": "user", "content": "3 + 4 = 7 and 10 + 11 = ?"},)),
    Prompt(key="c", text="12 + 30 = 42. 5 + 5 ="),
]


@pytest.fixture(scope="module")
def backend(random_model):
    return get_backend("transformers", model=str(random_model), batch_size=8)


def _texts(groups):
    return [[s.text for s in group] for group in groups]


def test_k_samples_per_prompt_with_counts(backend) -> None:
    before = backend.tokens_generated
    groups = backend.generate(PROMPTS, SamplingParams(n=5, max_tokens=12, seed=1))
    assert [len(g) for g in groups] == [5, 5, 5]
    prompt_lengths = [len(ids) for ids in backend.encode(PROMPTS)]
    for group, length in zip(groups, prompt_lengths, strict=True):
        assert {s.prompt_tokens for s in group} == {length}  # padding is never counted
        for s in group:
            assert s.finish_reason == "length" and s.completion_tokens == 12  # random: no EOS
            assert s.latency_ms > 0 and s.seed is not None
    assert backend.tokens_generated - before == 15 * 12


def test_stop_and_length_finish_reasons(stop_prone_model) -> None:
    backend = get_backend("transformers", model=str(stop_prone_model))
    groups = backend.generate(PROMPTS, SamplingParams(n=16, max_tokens=2, seed=0))
    samples = [s for g in groups for s in g]
    stops = [s for s in samples if s.finish_reason == "stop"]
    lengths = [s for s in samples if s.finish_reason == "length"]
    assert stops and lengths  # each step stops about half the samples
    assert all(s.completion_tokens == 2 for s in lengths)
    assert all(1 <= s.completion_tokens <= 2 for s in stops)  # the EOS token counts, once
    assert backend.tokens_generated == sum(s.completion_tokens for s in samples)


def test_counts_and_text_match_transformers_own_greedy_run(stop_prone_model) -> None:
    import torch

    backend = get_backend("transformers", model=str(stop_prone_model))
    reasons = set()
    for prompt in PROMPTS:
        ids = backend.encode([prompt])[0]
        with torch.inference_mode():
            out = backend.lm.generate(
                torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                do_sample=False, max_new_tokens=30, pad_token_id=backend.pad_id,
            )[0, len(ids) :].tolist()  # fmt: skip
        stop = next((i for i, t in enumerate(out) if t in backend.eos_ids), None)
        [[sample]] = backend.generate([prompt], SamplingParams(n=1, temperature=0, max_tokens=30))
        kept = out if stop is None else out[:stop]
        assert sample.text == backend.tokenizer.decode(kept, skip_special_tokens=True)
        assert sample.completion_tokens == len(kept) + (stop is not None)  # EOS counted once
        assert sample.finish_reason == ("length" if stop is None else "stop")
        reasons.add(sample.finish_reason)
    assert "stop" in reasons


def test_same_seed_same_samples_different_seed_different(backend) -> None:
    params = SamplingParams(n=4, max_tokens=16, seed=7)
    first = _texts(backend.generate(PROMPTS, params))
    assert _texts(backend.generate(PROMPTS, params)) == first
    other = _texts(backend.generate(PROMPTS, SamplingParams(n=4, max_tokens=16, seed=8)))
    assert other != first
    assert len(set(first[0])) > 1  # the k samples of one prompt differ from each other


def test_a_sample_does_not_depend_on_its_batch(backend, random_model) -> None:
    params = SamplingParams(n=6, max_tokens=24, seed=3)
    together = _texts(backend.generate(PROMPTS, params))
    alone = [_texts(backend.generate([p], params))[0] for p in PROMPTS]
    reordered = _texts(backend.generate(PROMPTS[::-1], params))[::-1]
    small = get_backend("transformers", model=str(random_model), batch_size=5)
    rebatched = _texts(small.generate(PROMPTS, params))  # batches cut across prompts
    assert together == alone == reordered == rebatched


def test_greedy_matches_transformers_generate(backend) -> None:
    import torch

    ids = backend.encode([PROMPTS[0]])[0]
    with torch.inference_mode():
        out = backend.lm.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            do_sample=False, max_new_tokens=10, pad_token_id=backend.pad_id,
        )  # fmt: skip
    expected = backend.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
    sample = backend.generate([PROMPTS[0]], SamplingParams(n=1, temperature=0, max_tokens=10))
    assert sample[0][0].text == expected


def test_top_p_keeps_only_the_nucleus(backend) -> None:
    # With a tiny nucleus only the most likely token survives: sampling becomes greedy.
    greedy = backend.generate(PROMPTS, SamplingParams(n=1, temperature=0, max_tokens=8))
    nucleus = backend.generate(PROMPTS, SamplingParams(n=3, top_p=1e-6, max_tokens=8, seed=5))
    for g, n in zip(greedy, nucleus, strict=True):
        assert {s.text for s in n} == {g[0].text}


def test_a_prompt_longer_than_the_context_is_refused(backend) -> None:
    long = Prompt(key="long", text="1 + 2 = 3. " * 200)
    with pytest.raises(BackendError, match="context of 512"):
        backend.check_prompts([PROMPTS[0], long], SamplingParams(max_tokens=16))
    backend.check_prompts(PROMPTS, SamplingParams(max_tokens=16))  # control: these fit


def test_a_folder_that_is_not_a_model(tmp_path) -> None:
    (tmp_path / "weights.txt").write_text("not a model")
    with pytest.raises(BackendError, match="not a model folder"):
        get_backend("transformers", model=str(tmp_path))


def test_one_cpu_thread_for_small_models(backend) -> None:
    import torch

    assert backend.threads == 1 and torch.get_num_threads() == 1
