"""A synthetic lake for timing `rlvr select` (issue 12): N rollouts of realistic length.

Each rollout's reasoning is 5-7 paragraphs of ~60-90 words (300-600 words, ~450 on average,
~2.8 KB), drawn from a pool of Zipf-worded paragraphs so the texts compress like prose and no two
rollouts share much; 16 samples per prompt. Every filter of the r1-sft recipe has something to
do: ~50 % incorrect (a per-prompt difficulty), 5 % truncated, 3 % format reward 0, and 2 % each
of mixed-language reasoning, one long paragraph, a code block, a repetition loop, an exact
duplicate (whitespace changed) and a near duplicate (one word changed) of the prompt's first
sample; 1 % of the prompts copy a 12-word span of a benchmark prompt (math500, aime24 are in the
lake). Texts are assembled with Arrow kernels so building 1M rows takes well under a minute.

    .venv/bin/python benchmarks/helpers/select_lake.py LAKE_DIR --rows 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import ids
from engine.lake import Lake

GEN = "20261130T100000-generate-bench"
INGEST = "20261130T090000-ingest-bench"
VERIFY = "20261130T110000-verify-bench"
SAMPLES = 16
BATCH = 50_000


def _vocab(rng: np.random.Generator) -> np.ndarray:
    letters = np.array(list("etaoinshrdlucmfwypvbgkqjxz"))
    words = ["".join(rng.choice(letters[:20], n)) for n in rng.integers(2, 10, size=20_000)]
    words[:10] = ["the", "we", "so", "=", "+", "x^2", "\\frac{1}{2}", "wait,", "then", "is"]
    return np.array(words)


def _paragraphs(rng: np.random.Generator, vocab: np.ndarray, size: int, words: tuple[int, int]):
    out = []
    for n in rng.integers(*words, size=size):
        picks = np.minimum(rng.zipf(1.2, n), len(vocab)) - 1
        out.append(" ".join(vocab[picks]) + ".")
    return out


def _join(parts: list[pa.Array], sep: str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def _reasoning(rng, pool: pa.Array, cjk: pa.Array, size: int) -> tuple[pa.Array, np.ndarray]:
    """Texts of 5-7 pool paragraphs, with the planted defects; also each row's word count."""
    count = rng.integers(5, 8, size=size)
    parts = [pool.take(pa.array(rng.integers(0, len(pool), size=size))) for _ in range(7)]
    empty = pa.array([""] * size)
    parts = [pc.if_else(pa.array(count > i), p, empty) for i, p in enumerate(parts)]
    draw = rng.random(size)
    mixed = draw < 0.02
    parts[1] = pc.if_else(
        pa.array(mixed), cjk.take(pa.array(rng.integers(0, len(cjk), size))), parts[1]
    )
    loop = (draw >= 0.02) & (draw < 0.03)
    parts[2] = pc.if_else(pa.array(loop), _join([parts[2]] * 12, "\n\n"), parts[2])
    code = (draw >= 0.03) & (draw < 0.05)
    fence = pa.array(["```python\nx = solve(a, b)\nprint(x)\n```"] * size)
    parts[3] = pc.if_else(pa.array(code), _join([parts[3], fence], "\n\n"), parts[3])
    joined = _join(parts, "\n\n")
    joined = pc.utf8_trim(pc.replace_substring_regex(joined, r"\n\n(\n\n)+", "\n\n"), "\n")
    long = (draw >= 0.05) & (draw < 0.07)
    joined = pc.if_else(pa.array(long), pc.replace_substring(joined, "\n\n", " "), joined)
    words = pc.list_value_length(pc.utf8_split_whitespace(joined)).to_numpy()
    return joined, words


def _prompts(rng, vocab, n_prompts: int, bench: list[str]) -> tuple[list[dict], list[str]]:
    problems = _paragraphs(rng, vocab, n_prompts, (25, 60))
    rows, pids = [], []
    for i, problem in enumerate(problems):
        problem = f"Problem {i}: {problem}"
        if rng.random() < 0.01:  # contaminated: a 12-word span of a benchmark prompt
            words = bench[rng.integers(0, len(bench))].split()
            problem += " Also: " + " ".join(words[5:17])
        pid = ids.prompt_id("synth", problem)
        pids.append(pid)
        rows.append({"prompt_id": pid, "dataset": "synth", "task": "math", "split": "train",
                     "problem": problem, "answer": str(i % 97)})  # fmt: skip
    return rows, pids


def _batch(rng, start: int, size: int, pids: list[str], hard: np.ndarray, pool, cjk):
    row = np.arange(start, start + size)
    prompt, sample = row // SAMPLES, row % SAMPLES
    reasoning, words = _reasoning(rng, pool, cjk, size)
    draw = rng.random(size)
    first = row - sample  # the prompt's first sample, within this batch (BATCH % SAMPLES == 0)
    dup = (sample > 0) & (draw < 0.02)
    near = (sample > 0) & (draw >= 0.02) & (draw < 0.04)
    base = reasoning.take(pa.array(first - start))
    spaced = pc.replace_substring(base, " ", "  ", max_replacements=3)
    edited = pc.replace_substring_regex(base, r"^\S+", "Hmm,")
    reasoning = pc.if_else(pa.array(dup), spaced, pc.if_else(pa.array(near), edited, reasoning))
    answers = pa.array((prompt % 97).astype(str))
    answer_text = _join([pa.array(["The answer is $\\boxed{"] * size), answers,
                         pa.array(["}$."] * size)], "")  # fmt: skip
    completion = _join([pa.array(["<think>\n"] * size), reasoning,
                        pa.array(["\n</think>\n\n"] * size), answer_text], "")  # fmt: skip
    p_id = [pids[p] for p in prompt]
    rids = [ids.rollout_id(GEN, p, int(s)) for p, s in zip(p_id, sample, strict=True)]
    correct = rng.random(size) < hard[prompt]
    truncated = rng.random(size) < 0.05
    fmt = np.where(rng.random(size) < 0.03, 0.0, 1.0)
    rollouts = pa.table({
        "rollout_id": rids, "prompt_id": p_id, "sample_idx": sample.astype(np.int32),
        "model": pa.repeat(pa.scalar("synthetic/r1-distill"), size), "completion": completion,
        "reasoning": reasoning, "answer_text": answer_text,
        "prompt_tokens": np.full(size, 80, np.int32),
        "completion_tokens": (words * 1.3 + 20).astype(np.int32),
        "finish_reason": np.where(truncated, "length", "stop"),
        "temperature": np.full(size, 0.6), "top_p": np.full(size, 0.95),
        "source": pa.repeat(pa.scalar("generate"), size),
    })  # fmt: skip
    n = len(rids)
    verdicts = pa.table({
        "rollout_id": rids + rids, "verifier": ["math"] * n + ["format"] * n,
        "status": np.concatenate([np.where(correct, "correct", "incorrect"),
                                  np.where(fmt == 1.0, "correct", "incorrect")]),
        "reward": np.concatenate([correct.astype(float), fmt]),
        "extracted": pa.concat_arrays([answers, pa.nulls(n, pa.string())]),
    })  # fmt: skip
    return rollouts, verdicts


def build(root: Path, rows: int, seed: int = 0) -> Lake:
    rng = np.random.default_rng(seed)
    lake = Lake.open(root)
    vocab = _vocab(rng)
    pool = pa.array(_paragraphs(rng, vocab, 20_000, (60, 91)))
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    cjk = pa.array(["".join(rng.choice(han, 150)) + "。" for _ in range(500)])
    bench = _paragraphs(rng, vocab, 530, (30, 60))
    lake.append("prompts", [{"dataset": "math500" if i < 500 else "aime24", "task": "math",
                             "split": "test", "problem": p, "answer": "0",
                             "prompt_id": ids.prompt_id("math500" if i < 500 else "aime24", p)}
                            for i, p in enumerate(bench)], run_id=INGEST)  # fmt: skip
    n_prompts = -(-rows // SAMPLES)
    prompt_rows, pids = _prompts(rng, vocab, n_prompts, bench)
    lake.append("prompts", prompt_rows, run_id=INGEST)
    hard = rng.beta(1.2, 1.2, size=n_prompts)
    lake.write_run("generate", run_id=GEN, model="synthetic/r1-distill",
                   params={"sampling": {"temperature": 0.6, "top_p": 0.95}})  # fmt: skip
    verdicts = []

    def batches():
        for start in range(0, rows, BATCH):
            r, v = _batch(rng, start, min(BATCH, rows - start), pids, hard, pool, cjk)
            verdicts.append(v)
            yield r

    lake.append_batches("rollouts", batches(), run_id=GEN)
    lake.finish_run(GEN)
    lake.append_batches("verdicts", verdicts, run_id=VERIFY)
    return lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.lake.exists():
        sys.exit(f"error: {args.lake} exists — pass a new folder")
    start = time.perf_counter()
    build(args.lake, args.rows)
    print(f"built {args.rows} rollouts in {time.perf_counter() - start:.1f} s: {args.lake}")


if __name__ == "__main__":
    main()
