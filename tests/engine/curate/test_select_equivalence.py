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
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.curate import steps as S
from engine.curate import text as tx
from engine.curate.passes import _computed, compute, decide

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
    # typed as the candidate query types them (a column of only None would be dtype Null)
    types = {"format_reward": pl.Float64, "tokens": pl.Int64, "pass_rate": pl.Float64,
             "correct": pl.Boolean, "finish_reason": pl.String, "reasoning": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema_overrides=types)


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


def varied_lake(lake, seed: int) -> list[str]:
    """Two runs of 16 samples for 10 prompts, every r1-sft filter with something to drop, some
    token counts unknown, verdicts re-judged by a later run (the views keep the latest)."""
    from tests.engine.curate.conftest import R, prompt_row, write_run

    rng = np.random.default_rng(seed)
    pool = ["we", "add", "the", "sum", "then", "check", "x", "=", "2", "so", "it", "is", "and"]

    def text() -> str:
        paragraphs = [" ".join(rng.choice(pool, rng.integers(3, 25))) for _ in range(3)]
        kind = rng.integers(0, 8)
        if kind == 0:
            paragraphs[1] = "我们 把 数字 相加 " * 5  # mixed language
        elif kind == 1:
            paragraphs[0] = " ".join(rng.choice(pool, 60))  # a long paragraph (max_words below)
        elif kind == 2:
            paragraphs.append("```python\nprint(1)\n```")
        elif kind == 3:
            paragraphs[2] = "wait let me check\n\n" * 12  # a loop (of short paragraphs)
        return "\n\n".join(paragraphs)

    prompts = [prompt_row(str(i)) for i in range(9)]
    prompts.append(prompt_row("9", problem=f"Solve it: {BENCH} please"))
    bench = prompt_row("b", dataset="math500", problem=f"Compute: {BENCH}.")
    runs = []
    for run in range(2):
        rollouts: dict[str, list[R]] = {}
        for key in range(10):
            samples: list[R] = []
            for _ in range(16):
                if samples and rng.random() < 0.2:  # a copy of an earlier sample, maybe edited
                    earlier = samples[rng.integers(0, len(samples))]
                    samples.append(R(reasoning=earlier.reasoning + rng.choice(["", " so"]),
                                     tokens=earlier.tokens))  # fmt: skip
                    continue
                samples.append(R(
                    status=rng.choice(["correct", "correct", "incorrect", None]),
                    tokens=None if rng.random() < 0.2 else int(rng.integers(5, 80)),
                    finish=rng.choice(["stop"] * 9 + ["length"]),
                    format_reward=rng.choice([1.0] * 8 + [0.0, None]),
                    reasoning=text(),
                ))  # fmt: skip
            rollouts[str(key)] = samples
        run_id = f"20261130T10000{run}-generate-mix"
        write_run(lake, [*prompts, {**bench, "key": "b"}] if run == 0 else prompts, rollouts,
                  run_id=run_id, verify_run=f"20261130T11000{run}-verify-mix")  # fmt: skip
        runs.append(run_id)
    rows = (
        lake.connect()
        .execute(
            "SELECT rollout_id, verifier, reward FROM verdicts USING SAMPLE 30 ROWS (reservoir, 1)"
        )
        .fetchall()
    )
    rejudged = [{"rollout_id": r, "verifier": v, "status": "incorrect", "reward": 0.0}
                for r, v, reward in rows if reward == 1.0]  # fmt: skip
    lake.append("verdicts", rejudged, run_id="20261130T120000-verify-again")
    return runs


RECIPE = """
steps:
  - correct
  - not_truncated
  - format
  - language: {threshold: 0.95}
  - no_long_paragraphs: {max_words: 40}
  - no_code_blocks
  - no_repetition: {n: 4, max_score: 0.5}
  - length: {min_tokens: 10, max_tokens: 70}
  - exact_dedup
  - near_dedup: {threshold: 0.7, num_perm: 64, num_bands: 16, shingle: 2}
  - decontaminate: {n: 6, benchmarks: [math500]}
  - max_per_prompt: {m: 3}
"""


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rollouts_computed_in_file_order_equal_one_sorted_query(lake, monkeypatch, seed) -> None:
    """The rollouts' path (texts never sorted: computed in the lake's order, decided in the
    selection's order, kept texts fetched again) writes the very dataset, funnel and id digest
    of one sorted query carrying every text, with batches cut anywhere."""
    from engine.curate import parse_recipe, select

    select_module = importlib.import_module("engine.curate.select")
    passes = importlib.import_module("engine.curate.passes")
    runs = varied_lake(lake, seed)
    recipe = parse_recipe(RECIPE, source="t")
    monkeypatch.setattr(select_module, "BATCH_ROWS", 7)
    monkeypatch.setattr(passes, "TEXT_BATCH_ROWS", 5)
    fast = select(lake, runs, recipe, "fast")
    monkeypatch.setattr(select_module, "_stream_rollouts", lambda con, runs, steps, folder,
                        progress, label: select_module._stream_sorted(
                            con, runs, recipe, steps, folder, progress))  # fmt: skip
    sorted_ = select(lake, runs, recipe, "sorted")
    funnels = [[(f.step, f.kept, f.dropped) for f in s.funnel] for s in (fast, sorted_)]
    assert funnels[0] == funnels[1]
    assert all(f.dropped for f in fast.funnel[1:]), funnels[0][6:]  # every step had work
    tables = [pq.read_table(s.path / "data.parquet") for s in (fast, sorted_)]
    assert tables[0].schema == tables[1].schema
    assert tables[0].num_rows > 10 and tables[0].equals(tables[1])
    assert fast.lineage["ids_sha256"] == sorted_.lineage["ids_sha256"]


def test_rollout_texts_are_read_from_the_lake_once(lake, monkeypatch) -> None:
    """The kept rows' texts come back from the spill of the first pass (rows every row-local
    step passes), not from a second read of the lake; the spill leaves the dataset folder. A
    recipe of stateful steps only spills every text, one with a row-local step only its
    survivors."""
    from engine.curate import parse_recipe, select

    passes = importlib.import_module("engine.curate.passes")
    runs = varied_lake(lake, 3)
    calls, spilled = [], []
    reads = passes._texts
    monkeypatch.setattr(passes, "_texts", lambda *a: calls.append(1) or reads(*a))
    monkeypatch.setattr(passes, "TEXT_BATCH_ROWS", 9)
    save = passes._Spill.write

    def write(self, texts, places):
        spilled.append(len(places))
        save(self, texts, places)

    monkeypatch.setattr(passes._Spill, "write", write)
    whole = select(lake, runs, parse_recipe(RECIPE, source="t"), "whole")
    assert len(calls) == 1
    assert sorted(p.name for p in whole.path.iterdir()) == [
        "data.parquet", "lineage.json", "recipe.yaml"]  # fmt: skip
    assert 0 < whole.rows < sum(spilled) < whole.input_rows
    calls.clear(), spilled.clear()
    dedup = select(lake, runs, parse_recipe("steps: [exact_dedup]", source="t"), "dedup")
    assert len(calls) == 1 and sum(spilled) == dedup.input_rows > dedup.rows > 0
