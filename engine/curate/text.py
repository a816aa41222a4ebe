"""Text measures behind the selection predicates: words, n-grams, repetition, paragraphs, MinHash.

Words are lower-cased ``\\w+`` runs, so punctuation, LaTeX braces and spacing never split or join
an n-gram differently in a benchmark prompt and in a training text.

>>> repetition_score("a b c d a b c d a b c d")  # 9 word 4-grams, 4 distinct
0.5555555555555556
>>> longest_paragraph_words("one two\\n\\nthree")
2
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import xxhash

__all__ = [
    "has_code_block",
    "longest_paragraph_words",
    "ngram_hashes",
    "normalized_text",
    "repetition_score",
    "shingles",
    "words",
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
    return bool(text) and _FENCE.search(text) is not None


def normalized_text(text: str | None) -> str:
    """Whitespace collapsed and stripped: the key of exact-duplicate removal."""
    return " ".join((text or "").split())


def shingles(text: str | None, size: int) -> Iterable[str]:
    """Word ``size``-shingles of a text (the text itself when it is shorter)."""
    tokens = words(text)
    if len(tokens) <= size:
        return [" ".join(tokens)]
    return [" ".join(tokens[i : i + size]) for i in range(len(tokens) - size + 1)]
