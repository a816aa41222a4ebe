"""The batch (polars) text measures agree with their scalar references on any text."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.curate import text as tx
from engine.curate.steps import _NOT_PROSE
from verifiers.language import SCRIPTS, language_share

# Pieces that exercise every rule: scripts, blank lines, fences, LaTeX, identifiers, repeats.
PIECES = ["We", "add", "the", "加", "数字", "слово", "x_1", "\\frac", "```", "~~~", "`c`", "\n",
          "\n\n", "\n  \n", " ", "  ", "2", "ab12", "É", ".", "{", "}"]  # fmt: skip
texts = st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join) | st.none()


@settings(max_examples=150, deadline=None)
@given(st.lists(texts, min_size=1, max_size=6))
def test_batch_measures_match_the_scalar_ones(batch: list[str | None]) -> None:
    series = pl.Series(batch, dtype=pl.String)
    assert tx.repetition_scores(series).to_list() == pytest.approx(
        [tx.repetition_score(t) for t in batch])  # fmt: skip
    assert tx.longest_paragraphs(series).to_list() == [tx.longest_paragraph_words(t) for t in batch]
    assert tx.code_blocks(series).to_list() == [tx.has_code_block(t) for t in batch]
    for target in ("en", "zh"):
        shares = tx.language_shares(series, target, SCRIPTS, _NOT_PROSE).to_list()
        assert shares == pytest.approx([language_share(t or "", target) for t in batch])
    keys = tx.normalized_hashes(series).to_list()
    for i, a in enumerate(batch):
        for j, b in enumerate(batch):
            same = tx.normalized_text(a) == tx.normalized_text(b)
            assert (keys[i] == keys[j]) == same


# Paragraphs packed as tightly as words go (one-character words, one character between them,
# multi-byte letters): the byte-length shortcut of paragraphs_within is tight on these.
tight = (
    st.lists(st.sampled_from(["a", "É", "加", "1", "\n\n", "\n \n"]), max_size=30).map(
        lambda parts: " ".join(parts) if len(parts) % 2 else ".".join(parts)
    )
    | texts
)


@settings(max_examples=200, deadline=None)
@given(st.lists(tight, min_size=1, max_size=6), st.integers(-1, 12))
def test_paragraphs_within_equals_counting_every_paragraph(batch, max_words: int) -> None:
    series = pl.Series(batch, dtype=pl.String)
    expected = [tx.longest_paragraph_words(t) <= max_words for t in batch]
    assert tx.paragraphs_within(series, max_words).to_list() == expected


def test_paragraphs_within_at_the_byte_bound() -> None:
    """k one-letter words take 2k - 1 characters: at max_words words the shortcut keeps the
    text uncounted, one word more is counted and dropped."""
    at, over = " ".join("a" * 3), " ".join("a" * 4)  # 3 words in 5 bytes, 4 in 7
    assert tx.paragraphs_within(pl.Series([at, over, None]), 3).to_list() == [True, False, True]


@settings(max_examples=50, deadline=None)
@given(st.lists(texts, min_size=1, max_size=5), st.integers(1, 6))
def test_shingle_hashes_count_the_shingles(batch: list[str | None], size: int) -> None:
    flat, offsets = tx.shingle_hashes(pl.Series(batch, dtype=pl.String), size)
    counts = [len(list(tx.shingles(t, size))) for t in batch]
    assert list(offsets[1:] - offsets[:-1]) == counts and len(flat) == sum(counts)


@settings(max_examples=150, deadline=None)
@given(st.lists(texts | st.text(st.characters(max_codepoint=127), max_size=30), max_size=6))
def test_word_hashes_are_the_hashes_of_each_texts_words(batch: list[str | None]) -> None:
    """Pure-ASCII texts are split without the regex: every text still hashes exactly its words,
    in order, whether the batch is all ASCII, all not, or mixed."""
    got = tx.WordHashes.of(pl.Series(batch, dtype=pl.String))
    expected = [tx.words(t) for t in batch]
    assert got.lengths.tolist() == [len(w) for w in expected]
    flat = [word for w in expected for word in w]
    assert got.hashes.tolist() == pl.Series(flat, dtype=pl.String).hash(seed=0).to_list()
    ascii_only = [t for t in batch if t is None or t.isascii()]
    if ascii_only:
        alone = tx.WordHashes.of(pl.Series(ascii_only, dtype=pl.String))
        assert alone.lengths.tolist() == [len(tx.words(t)) for t in ascii_only]
