"""Text measures behind the selection predicates: words, n-grams, repetition, paragraphs, MinHash.

Words are lower-cased ``\\w+`` runs, so punctuation, LaTeX braces and spacing never split or join
an n-gram differently in a benchmark prompt and in a training text.

>>> repetition_score("a b c d a b c d a b c d")  # 9 word 4-grams, 4 distinct
0.5555555555555556
>>> longest_paragraph_words("one two\\n\\nthree")
2
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

__all__ = [
    "BandIndex",
    "WordHashes",
    "code_blocks",
    "earlier_sharing",
    "has_code_block",
    "language_shares",
    "longest_paragraph_words",
    "longest_paragraphs",
    "ngram_hashes",
    "ngram_matrix",
    "normalized_hashes",
    "normalized_text",
    "paragraphs_within",
    "repetition_score",
    "repetition_scores",
    "shingle_hashes",
    "shingles",
    "words",
    "words_series",
]

_WORD = re.compile(r"\w+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


def words(text: str | None) -> list[str]:
    return _WORD.findall(text.lower()) if text else []


def ngram_hashes(tokens: list[str], n: int) -> set[int]:
    """64-bit hashes of the word n-grams (xxhash: stable across processes, unlike hash())."""
    return {
        xxhash.xxh3_64_intdigest(" ".join(tokens[i : i + n]).encode())
        for i in range(len(tokens) - n + 1)
    }


def repetition_score(text: str | None, n: int = 4) -> float:
    """Share of word n-grams that repeat an earlier one: 1 - distinct/total (seq-rep-n of
    Welleck et al. 2019). 0 for text shorter than n words; near 1 for a degenerate loop."""
    tokens = words(text)
    total = len(tokens) - n + 1
    if total <= 0:
        return 0.0
    distinct = len({tuple(tokens[i : i + n]) for i in range(total)})
    return 1.0 - distinct / total


def longest_paragraph_words(text: str | None) -> int:
    """Words in the longest paragraph (paragraphs are separated by blank lines)."""
    if not text:
        return 0
    return max(len(_WORD.findall(part)) for part in _PARAGRAPH_BREAK.split(text))


def has_code_block(text: str | None) -> bool:
    """A fenced code block (``` or ~~~ at the start of a line)."""
    return bool(text and _FENCE.search(text))


def normalized_text(text: str | None) -> str:
    """Whitespace collapsed and stripped: the key of exact-duplicate removal."""
    return " ".join((text or "").split())


def shingles(text: str | None, size: int) -> Iterable[str]:
    """Word ``size``-shingles of a text (the text itself when it is shorter)."""
    tokens = words(text)
    if len(tokens) <= size:
        return [" ".join(tokens)]
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]


# -- the same measures over a whole batch, in polars (Rust regex, all cores) --------------------
# Selection runs these; the scalar functions above are their reference (tests check they agree).

_WORD_RX = r"\w+"
_PARAGRAPH_RX = r"\n\s*\n"
_FENCE_RX = r"(?m)^\s*(```|~~~)"


def words_series(texts: pl.Series) -> pl.Series:
    return texts.fill_null("").str.to_lowercase().str.extract_all(_WORD_RX)


@dataclass(frozen=True)
class WordHashes:
    """Every text's words (:func:`words`) as 64-bit hashes, flat, with the word count of each
    text: computed once per batch and shared by the steps that read the same column (seq-rep-n
    and MinHash shingles both start from the words of the completion)."""

    hashes: np.ndarray  # uint64, the words of text 0, then of text 1, ...
    lengths: np.ndarray  # int64, words per text

    @classmethod
    def of(cls, texts: pl.Series) -> WordHashes:
        """Pure-ASCII texts (nearly all) are split in numpy over the Arrow bytes, the others by
        the regex of :func:`words_series`; both hash the same word strings."""
        texts = texts.fill_null("")
        other = texts.str.contains(r"[^\x00-\x7F]").to_numpy()
        if not other.any():
            return cls(*_ascii_word_hashes(texts))
        if other.all():
            return cls._regex(texts)
        rows = [np.flatnonzero(~other), np.flatnonzero(other)]
        parts = [cls(*_ascii_word_hashes(texts.gather(rows[0]))), cls._regex(texts.gather(rows[1]))]
        return cls._interleave(parts, rows)

    @classmethod
    def _regex(cls, texts: pl.Series) -> WordHashes:
        tokens = words_series(texts)
        lengths = tokens.list.len().to_numpy().astype(np.int64)
        return cls(tokens.explode().drop_nulls().hash(seed=0).to_numpy(), lengths)

    @classmethod
    def _interleave(cls, parts: list[WordHashes], rows: list[np.ndarray]) -> WordHashes:
        """One WordHashes over the rows of all ``parts`` (``rows[i]``: part i's positions)."""
        order = np.argsort(np.concatenate(rows), kind="stable")
        lengths = np.concatenate([part.lengths for part in parts])[order]
        starts = np.zeros(len(order) + 1, dtype=np.int64)
        np.cumsum(np.concatenate([part.lengths for part in parts]), out=starts[1:])
        ends = np.cumsum(lengths)
        index = np.repeat(starts[:-1][order] - (ends - lengths), lengths)
        index += np.arange(len(index), dtype=np.int64)
        return cls(np.concatenate([part.hashes for part in parts])[index], lengths)

    def subset(self, rows: np.ndarray) -> WordHashes:
        """The texts at the sorted positions ``rows``."""
        mask = np.zeros(len(self.lengths), dtype=bool)
        mask[rows] = True
        return WordHashes(self.hashes[np.repeat(mask, self.lengths)], self.lengths[mask])


_ASCII_WORD = np.zeros(256, dtype=bool)
_ASCII_WORD[
    np.frombuffer(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", np.uint8)
] = True


def _ascii_word_hashes(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """:class:`WordHashes` fields of pure-ASCII texts without a regex: the words (``\\w+`` runs,
    i.e. ``[A-Za-z0-9_]+`` in ASCII) are the runs of word bytes, so the word bytes alone, cut
    where a run starts, are all the words as one Arrow string array (lower-cased first)."""
    arr = texts.str.to_lowercase().to_arrow().cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, offset_buffer, data_buffer = arr.buffers()
    offsets = np.frombuffer(offset_buffer, np.int64, len(arr) + 1, arr.offset * 8)
    first, size = int(offsets[0]), int(offsets[-1] - offsets[0])
    data = np.frombuffer(data_buffer, np.uint8, size, first) if size else np.zeros(0, np.uint8)
    offsets = offsets - first
    word = _ASCII_WORD[data]
    inner = offsets[1:-1][offsets[1:-1] < size]  # a text's first byte starts a run...
    starts = word.copy()
    starts[1:] &= ~word[:-1]
    starts[inner] = word[inner]
    ends = word.copy()  # ...and its last byte ends one
    ends[:-1] &= ~word[1:]
    last = inner - 1
    ends[last] = word[last]
    first_bytes, after = np.flatnonzero(starts), np.flatnonzero(ends) + 1
    word_offsets = np.zeros(len(first_bytes) + 1, dtype=np.int64)
    np.cumsum(after - first_bytes, out=word_offsets[1:])
    flat = pa.LargeStringArray.from_buffers(
        len(first_bytes), pa.py_buffer(word_offsets), pa.py_buffer(data[word])
    )
    hashed = pl.Series(flat).hash(seed=0).to_numpy()
    return hashed, np.diff(np.searchsorted(first_bytes, offsets)).astype(np.int64)


def ngram_matrix(
    texts: pl.Series, n: int, words: WordHashes | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every text's word n-grams as 64-bit hashes: ``(hashes, row of each hash, windows per
    row)``. Words are hashed once (polars), n-grams are a random linear combination of their
    words' hashes (numpy, wrapping uint64): no n-gram string is ever built."""
    words = words if words is not None else WordHashes.of(texts)
    lengths, words_hashed = words.lengths, words.hashes
    windows = np.maximum(lengths - n + 1, 0)
    total = len(words_hashed) - n + 1
    if total <= 0 or not windows.any():
        return np.zeros(0, np.uint64), np.zeros(0, np.int64), windows
    weights = _WEIGHTS[:n]
    grams = words_hashed[:total] * weights[0]
    for j in range(1, n):
        grams += words_hashed[j : j + total] * weights[j]
    # a window starting at flat word i is whole when it ends inside i's own text
    ends = np.repeat(np.cumsum(lengths), lengths)[:total]
    whole = np.arange(n, total + n, dtype=np.int64) <= ends
    rows = np.repeat(np.arange(len(lengths)), windows)
    return grams[whole], rows, windows


_WEIGHTS = np.random.default_rng(12).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def repetition_scores(texts: pl.Series, n: int = 4, words: WordHashes | None = None) -> pl.Series:
    """:func:`repetition_score` of every text."""
    grams, _, windows = ngram_matrix(texts, n, words)
    distinct = np.zeros(len(windows), dtype=np.int64)
    if len(grams):  # each text's grams as one list (offsets over the flat hashes, no copy)
        offsets = np.zeros(len(windows) + 1, dtype=np.int64)
        np.cumsum(windows, out=offsets[1:])
        lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(grams))
        counted = pl.from_arrow(lists)
        assert isinstance(counted, pl.Series)
        distinct = counted.list.n_unique().to_numpy().astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(windows > 0, 1.0 - distinct / np.maximum(windows, 1), 0.0)
    return pl.Series("rep", scores)


def longest_paragraphs(texts: pl.Series) -> pl.Series:
    """:func:`longest_paragraph_words` of every text."""
    parts = texts.fill_null("").str.replace_all(_PARAGRAPH_RX, "\x00").str.split("\x00")
    return parts.list.eval(pl.element().str.count_matches(_WORD_RX)).list.max().fill_null(0)


def paragraphs_within(texts: pl.Series, max_words: int) -> pl.Series:
    """``longest_paragraphs(texts) <= max_words``, counting words only where it can fail: k
    words take at least 2k - 1 characters (one between each two), so a paragraph of at most
    ``2 * max_words`` bytes has at most ``max_words`` words."""
    parts = texts.fill_null("").str.replace_all(_PARAGRAPH_RX, "\x00").str.split("\x00")
    longest = parts.list.eval(pl.element().str.len_bytes()).list.max().fill_null(0).to_numpy()
    within = np.ones(len(texts), dtype=bool)
    rows = np.flatnonzero(longest > 2 * max_words)
    if len(rows):
        counted = parts.gather(rows).list.eval(pl.element().str.count_matches(_WORD_RX))
        within[rows] = counted.list.max().fill_null(0).to_numpy() <= max_words
    return pl.Series("keep", within, dtype=pl.Boolean)


def code_blocks(texts: pl.Series) -> pl.Series:
    """:func:`has_code_block` of every text."""
    return texts.fill_null("").str.contains(_FENCE_RX)


def normalized_hashes(texts: pl.Series) -> pl.Series:
    """A 64-bit hash of :func:`normalized_text` (exact-duplicate keys; stable within a run)."""
    # Replacing every whitespace run by one space leaves a lone space as it is, so only runs of
    # two or more and lone non-space whitespace need replacing: ~10 matches per text, not ~500.
    collapsed = texts.fill_null("").str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars(" ")
    return collapsed.hash(seed=0)


def language_shares(
    texts: pl.Series, target: str, scripts: dict[str, str], not_prose: str
) -> pl.Series:
    """``verifiers.language.language_share`` of every text (None where there is no word).

    Most reasoning is pure ASCII, where only the scripts whose pattern matches an ASCII letter
    (English) can count: with one such script the share is 1 or 0 as soon as the text has one
    of its words, so the per-script counting runs only over the texts with other characters."""
    prose = texts.fill_null("").str.replace_all(f"(?s){not_prose}", " ")
    ascii_scripts = [name for name, pattern in scripts.items() if re.search(pattern, _ASCII)]
    if len(ascii_scripts) != 1:
        return _counted_shares(prose, target, scripts)
    other = prose.str.contains(r"[^\x00-\x7F]").to_numpy()
    if other.all():
        return _counted_shares(prose, target, scripts)
    (latin,) = ascii_scripts
    share = 1.0 if target == latin else 0.0
    has_word = prose.str.contains(scripts[latin])
    column = pl.select(pl.when(has_word).then(pl.lit(share)).otherwise(None).alias("share"))
    shares = column.to_series().cast(pl.Float64)
    rows = np.flatnonzero(other)
    if len(rows):
        counted = _counted_shares(prose.gather(rows), target, scripts)
        shares = shares.scatter(rows, counted)
    return shares


_ASCII = "".join(map(chr, range(128)))


def _counted_shares(prose: pl.Series, target: str, scripts: dict[str, str]) -> pl.Series:
    frame = pl.DataFrame({"t": prose})
    counts = frame.select(
        [pl.col("t").str.count_matches(pattern).alias(name) for name, pattern in scripts.items()]
    )
    total = counts.sum_horizontal()
    return pl.select(
        pl.when(total > 0).then(counts[target] / total).otherwise(None).alias("share")
    ).to_series()


def shingle_hashes(
    texts: pl.Series, size: int, words: WordHashes | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Flat 64-bit hashes of every text's word ``size``-shingles (:func:`shingles`; a text
    shorter than ``size`` words is one shingle), with row offsets: rensa's digest-matrix input."""
    grams, rows, windows = ngram_matrix(texts, size, words)
    short = np.flatnonzero(windows == 0)
    if len(short):  # one shingle for each short text: the hash of its words joined
        joined = words_series(texts[short.tolist()]).list.join(" ").hash(seed=1).to_numpy()
        grams = np.concatenate([grams, joined.astype(np.uint64)])
        rows = np.concatenate([rows, short])
        order = np.argsort(rows, kind="stable")
        grams, rows = grams[order], rows[order]
    counts = np.maximum(windows, 1).astype(np.uint64)
    offsets = np.zeros(len(windows) + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    return grams, offsets


def earlier_sharing(keys: np.ndarray) -> dict[int, list[int]]:
    """For each row of ``keys`` ([rows, bands]) that shares a band key with an earlier row, those
    earlier rows (ascending): the in-batch LSH candidates, found by sorting each band's keys."""
    found: dict[int, set[int]] = {}
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")  # equal keys: rows ascending
        ranked = keys[order, band]
        same = np.flatnonzero(ranked[1:] == ranked[:-1])  # order[i + 1] repeats order[i]'s key
        if not len(same):
            continue
        starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        first = starts[np.searchsorted(starts, same + 1, side="right") - 1]
        for pos, start in zip((same + 1).tolist(), first.tolist(), strict=True):
            found.setdefault(int(order[pos]), set()).update(order[start:pos].tolist())
    return {row: sorted(rows) for row, rows in found.items()}


class BandIndex:
    """The MinHash signatures of the rows near-duplicate removal kept, and their LSH band keys,
    for the question "which kept rows share a band with this one?" over a million rows.

    Per band, the keys sit in sorted numpy runs (key and kept id: 16 bytes an entry, where a
    dict of lists per band took ~100, i.e. ~0.8 GB for 500k kept rows); a new batch's keys
    form a new run, merged with the last one while it is at least half its size (an LSM tree,
    so there are O(log n) runs and every key is re-sorted O(log n) times)."""

    def __init__(self, num_bands: int) -> None:
        self.num_bands = num_bands
        self.size = 0
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # keys, ids: [bands, m] each
        self._chunks: list[np.ndarray] = []  # kept signatures, one array per add
        self._starts: list[int] = []

    def candidates(self, keys: np.ndarray) -> list[set[int] | None]:
        """For each row of ``keys`` ([rows, bands]), the kept ids sharing one of its band keys."""
        found: list[set[int] | None] = [None] * len(keys)
        for run_keys, run_ids in self._runs:
            for band in range(self.num_bands):
                column = keys[:, band]
                low = np.searchsorted(run_keys[band], column, side="left")
                high = np.searchsorted(run_keys[band], column, side="right")
                for row in np.flatnonzero(high > low).tolist():
                    hits = run_ids[band, low[row] : high[row]].tolist()
                    found[row] = (found[row] or set()).union(hits)
        return found

    def signature(self, kept_id: int) -> np.ndarray:
        chunk = bisect.bisect_right(self._starts, kept_id) - 1
        return self._chunks[chunk][kept_id - self._starts[chunk]]

    def add(self, keys: np.ndarray, signatures: np.ndarray) -> None:
        """Index rows kept, in order: their ids continue from :attr:`size`."""
        if not len(keys):
            return
        order = np.argsort(keys.T, axis=1, kind="stable")
        self._runs.append((np.take_along_axis(keys.T, order, axis=1), order + self.size))
        self._chunks.append(np.ascontiguousarray(signatures))
        self._starts.append(self.size)
        self.size += len(keys)
        while len(self._runs) > 1 and 2 * self._runs[-1][0].shape[1] >= self._runs[-2][0].shape[1]:
            (keys_b, ids_b), (keys_a, ids_a) = self._runs.pop(), self._runs.pop()
            merged_keys, merged_ids = np.hstack([keys_a, keys_b]), np.hstack([ids_a, ids_b])
            order = np.argsort(merged_keys, axis=1, kind="stable")
            self._runs.append((np.take_along_axis(merged_keys, order, axis=1),
                               np.take_along_axis(merged_ids, order, axis=1)))  # fmt: skip
