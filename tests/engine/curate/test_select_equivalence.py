"""The fast selection path (per-batch ``compute`` on threads, then ``decide`` in order) keeps
exactly the rows, in the same order and with the same funnel, as the plain path that applies
each step's ``keep`` in turn to what the steps before it kept (the selector before issue 12's
1M-row work). Inputs are random: rows, batch boundaries, step order, parameters."""

from __future__ import annotations

import importlib
from dataclasses import fields

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.curate import steps as S
from engine.curate import text as tx
from engine.curate.select import _computed, compute, decide

BENCH = "find the least common multiple of twelve and eighteen then add seven to it"
WORDS = ["we", "add", "the", "sum", "加", "数字", "слово", "x_1", "\\frac", "2", "go", "on",
         "find", "least", "common", "multiple", "of", "twelve", "É", "."]  # fmt: skip
SEPARATORS = [" ", " ", " ", "  ", "\n", "\n\n", "\n```\n"]


@st.composite
def texts(draw, max_words: int = 30) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=max_words))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words), max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True)).strip(" ")


@st.composite
def candidate_rows(draw) -> pl.DataFrame:
    n = draw(st.integers(1, 40))
    rows = []
    for i in range(n):
        completion = draw(texts())
        if rows and draw(st.booleans()):  # a copy of an earlier text: exact or lightly edited
            earlier = draw(st.sampled_from(rows))["completion"]
            edit = draw(st.sampled_from(["same", "spaces", "word"]))
            completion = {"same": earlier, "spaces": earlier.replace(" ", "  "),
                          "word": "so " + earlier}[edit]  # fmt: skip
        prompt = draw(st.integers(0, 4))  # a prompt has one problem, as in the lake
        problem = ["Add two and two.", f"Solve: {BENCH} now.", "Sum."][prompt % 3]
        rows.append({
            "rollout_id": f"r{i:03d}", "prompt_id": f"p{prompt}",
            "task": draw(st.sampled_from(["math", "code"])), "problem": problem,
            "correct": draw(st.sampled_from([True, True, True, False, None])),
            "finish_reason": draw(st.sampled_from(["stop", "stop", "length", None])),
            "format_reward": draw(st.sampled_from([1.0, 1.0, 0.0, None])),
            "tokens": draw(st.sampled_from([3, 10, 25, 40, None])),
            "pass_rate": draw(st.sampled_from([0.0, 0.5, 1.0, None])),
            "completion": f"<think>{completion}</think> 4" if draw(st.booleans()) else completion,
            "reasoning": draw(st.sampled_from([None, completion, completion + " 加"])),
        })  # fmt: skip
    return pl.DataFrame(rows, schema_overrides={"format_reward": pl.Float64})


def recipe_steps() -> list[S.Step]:
    """Every step, with parameters that make each of them drop something on small texts."""
    return [
        S.Correct(), S.NotTruncated(), S.Format(), S.Language(threshold=0.9),
        S.NoLongParagraphs(max_words=12), S.NoCodeBlocks(), S.NoRepetition(n=2, max_score=0.3),
        S.Length(min_tokens=5, max_tokens=30), S.ExactDedup(),
        S.NearDedup(threshold=0.5, num_perm=32, num_bands=16, shingle=2),
        S.Decontaminate(n=4, benchmarks=("math500",), field="both"),
        S.PassRate(inclusive=True, max=0.6), S.MaxPerPrompt(m=2),
    ]  # fmt: skip


def prepared(steps: list[S.Step]) -> tuple[S.Step, ...]:
    fresh = tuple(
        type(s)(**{f.name: getattr(s, f.name) for f in fields(s) if f.init}) for s in steps
    )
    context = S.Context(benchmark_texts={"math500": [BENCH]}, unit="rollouts")
    for step in fresh:
        step.prepare(context)
    return fresh


def plain_path(steps, batches: list[pl.DataFrame]) -> tuple[list[str], list[tuple[int, int]]]:
    """Each step's keep on what the steps before it kept, batch after batch."""
    counts = [[0, 0] for _ in steps]
    kept_ids: list[str] = []
    for frame in batches:
        for step, count in zip(steps, counts, strict=True):
            if frame.height == 0:
                break
            mask = step.keep(frame)
            count[0] += int(mask.sum())
            count[1] += frame.height - int(mask.sum())
            frame = frame.filter(mask)
        kept_ids += frame["rollout_id"].to_list()
    return kept_ids, [tuple(c) for c in counts]


def fast_path(steps, batches: list[pl.DataFrame], threads: int):
    counts = [{"step": s.name, "kept": 0, "dropped": 0, "seconds": 0.0} for s in steps]
    kept_ids: list[str] = []
    arrow = (frame.to_arrow().to_batches()[0] for frame in batches if frame.height)
    for batch, computed in _computed(steps, arrow, threads):
        rows = decide(steps, computed, batch.num_rows, counts)
        kept_ids += batch.take(pa.array(rows, pa.int64())).column("rollout_id").to_pylist()
    return kept_ids, [(c["kept"], c["dropped"]) for c in counts]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candidate_rows(), st.permutations(recipe_steps()), st.integers(1, 12), st.data())
def test_fast_path_equals_plain_path(frame, order, batch_rows, data) -> None:
    order = data.draw(st.lists(st.sampled_from(order), min_size=1, max_size=len(order),
                               unique_by=lambda s: s.name))  # fmt: skip
    batches = [frame.slice(i, batch_rows) for i in range(0, frame.height, batch_rows)]
    expected = plain_path(prepared(order), batches)
    threads = data.draw(st.sampled_from([1, 2]))
    assert fast_path(prepared(order), batches, threads) == expected


def test_compute_evaluates_later_steps_only_on_survivors_of_row_local_ones() -> None:
    """A row dropped by a row-local step is not looked at again; a stateful step's drops are
    decided later, so the steps after it still see that row (their result is then unused)."""
    frame = pl.DataFrame({"rollout_id": ["a", "b", "c"], "prompt_id": ["p", "p", "q"],
                          "correct": [True, False, True], "completion": ["x y", "x y", "x y"]})  # fmt: skip
    steps = prepared([S.Correct(), S.ExactDedup(), S.NoRepetition(n=1, max_score=0.9)])
    computed = compute(steps, frame.to_arrow().to_batches()[0])
    assert [list(seen) for seen, _, _ in computed] == [[0, 1, 2], [0, 2], [0, 2]]
    counts = [{"step": s.name, "kept": 0, "dropped": 0, "seconds": 0.0} for s in steps]
    assert list(decide(steps, computed, 3, counts)) == [0]
    assert [(c["kept"], c["dropped"]) for c in counts] == [(2, 1), (1, 1), (1, 0)]


@pytest.mark.parametrize("threads", [1, 2])
def test_many_batches_keep_their_order_on_threads(threads: int) -> None:
    frame = pl.DataFrame({"rollout_id": [f"r{i:04d}" for i in range(300)],
                          "prompt_id": [f"p{i % 7}" for i in range(300)],
                          "completion": [f"text {i % 50}" for i in range(300)]})  # fmt: skip
    batches = [frame.slice(i, 16) for i in range(0, 300, 16)]
    steps = [S.ExactDedup(), S.MaxPerPrompt(m=3)]
    assert fast_path(prepared(steps), batches, threads) == plain_path(prepared(steps), batches)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("ab \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000."),
                        max_size=12), min_size=1, max_size=8))  # fmt: skip
def test_exact_dedup_keys_equal_collapsing_every_whitespace_run(batch: list[str]) -> None:
    """The exact-duplicate key only rewrites whitespace runs that are not a lone space; it
    must equal collapsing every run (the key before), on any whitespace Unicode knows."""
    series = pl.Series(batch, dtype=pl.String)
    every_run = series.str.replace_all(r"\s+", " ").str.strip_chars(" ").hash(seed=0)
    assert tx.normalized_hashes(series).to_list() == every_run.to_list()


def dict_index_decide(batches, threshold: float, num_perm: int) -> list[bool]:
    """Near-duplicate decisions as the selector first made them: a dict of lists per band."""
    bands: list[dict] = [{} for _ in range(batches[0][1].shape[1])]
    kept: list = []
    out = []
    for signatures, keys in batches:
        for signature, row_keys in zip(signatures, keys.tolist(), strict=True):
            candidates = {c for band, key in zip(bands, row_keys, strict=True)
                          for c in band.get(key, ())}  # fmt: skip
            similar = any(
                np.count_nonzero(kept[c] == signature) >= threshold * num_perm for c in candidates
            )
            out.append(not similar)
            if not similar:
                for band, key in zip(bands, row_keys, strict=True):
                    band.setdefault(key, []).append(len(kept))
                kept.append(signature)
    return out


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=12), st.integers(0, 2**32 - 1),
       st.sampled_from([0.25, 0.5, 0.75]))  # fmt: skip
def test_near_dedup_band_index_decides_as_dicts_did(sizes, seed, threshold) -> None:
    """Signatures over a tiny alphabet, so band keys collide across and within batches."""
    rng = np.random.default_rng(seed)
    step = S.NearDedup(threshold=threshold, num_perm=8, num_bands=4)
    step.prepare(S.Context(benchmark_texts={}, unit="rollouts"))
    batches = []
    for size in sizes:
        signatures = rng.integers(0, 2, size=(size, 8)).astype(np.uint32)
        keys = signatures.reshape(size, 4, 2).astype(np.uint64) @ np.array([1, 2], np.uint64)
        batches.append((signatures, keys))
    got = [bool(kept) for batch in batches for kept in step.decide(batch)]
    assert got == dict_index_decide(batches, threshold, 8)


def test_texts_of_rows_the_leading_steps_drop_are_not_streamed(lake, monkeypatch) -> None:
    """The leading steps' SQL conditions only blank texts of rows those steps drop: the
    dataset and funnel equal those of a selection that streams every text."""
    from engine.curate import parse_recipe, select

    select_module = importlib.import_module("engine.curate.select")  # the function shadows it
    from tests.engine.curate.conftest import GEN, R, prompt_row, write_run

    write_run(lake, [prompt_row("a"), prompt_row("b")], {
        "0": [R(), R(status="incorrect"), R(finish="length"), R(format_reward=0.0),
              R(format_reward=None), R(format_reward=None, completion="no tags at all")],
        "1": [R(reasoning="go on " * 20), R(status=None), R(format_reward=float("nan"))],
    })  # fmt: skip
    recipe = parse_recipe("steps: [correct, not_truncated, format, no_repetition]", source="t")
    assert select_module.text_condition(recipe.steps) == (
        "(correct) AND (coalesce(finish_reason <> 'length', true)) AND "
        "((format_reward IS NULL OR format_reward >= 1.0))")  # fmt: skip
    blanked = select(lake, [GEN], recipe, "blanked")
    monkeypatch.setattr(select_module, "text_condition", lambda steps: None)
    streamed = select(lake, [GEN], recipe, "streamed")
    assert [(f.step, f.kept, f.dropped) for f in blanked.funnel] == [
        ("input", 9, 0), ("correct", 7, 2), ("not_truncated", 6, 1), ("format", 3, 3),
        ("no_repetition", 2, 1)]  # fmt: skip
    assert [(f.step, f.kept) for f in streamed.funnel] == [(f.step, f.kept) for f in blanked.funnel]
    tables = [pl.read_parquet(s.path / "data.parquet") for s in (blanked, streamed)]
    assert tables[0].height == 2 and tables[0].equals(tables[1])
