"""Reading: find the final answer in a model response (or in a gold string).

Only the text after the last ``</think>`` is read: the reasoning is never graded (trl#4563). The
anchors are tried from the most to the least explicit, and the *last* match wins because models
restate and correct themselves:

1. ``<answer>…</answer>`` (R1-Zero template), then the anchors below inside it;
2. the last ``\\boxed{}`` / ``\\fbox{}`` (nested braces). Boxes that end the response and are joined
   only by connectives are one answer (``\\boxed{1}, \\boxed{2}`` is the list ``1, 2``); joined by
   "or" they are a hedge, which is never rewarded (math-verification.md §0);
3. "final answer is X", "the answer is X", "Answer: X", ``答案是``;
4. the last LaTeX span (``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]``);
5. a bare answer: the whole text when it is short and math-like, else the last number or
   ``\\frac`` of the last sentence.

Everything here is linear-time string scanning, so megabyte responses stay cheap.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = [
    "MATH_WORDS",
    "Extraction",
    "extract_answer",
    "extract_gold",
    "find_boxed",
    "is_answer_only",
    "mcq_letter",
]

_TAIL_CHARS = 60_000  # the answer is at the end; a megabyte response is read from its tail
_BOX_CMDS = ("\\boxed", "\\fbox")
_CONNECTIVE = re.compile(
    r"^(?:\s|[,;.$:]|\\[,;:! ]|\\quad|\\qquad|\\\]|\\\[|\\\)|\\\(|&|\\\\|and|or"
    r"|\\(?:text|mbox)\{[^{}]{0,30}\}|[A-Za-z()]{1,12})*$",
)
_CONNECTIVE_WORDS = 3  # `\boxed{1} papers and \boxed{2}`: at most this many words between boxes
_OR = re.compile(r"(?:^|[\s}$])or(?:[\s{$]|$)|\\text\{\s*or\s*\}|\\vee")
_PHRASES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"final answer\s*(?:is|:)\s*:?\s*(?P<ans>.+?)(?:\.\s*I hope|\n\n|$)",
        r"(?:the|my) answer is\s*:?\s*(?P<ans>.+?)(?:\n\n|$)",
        r"\banswer\s*\**\s*:\s*\**\s*(?P<ans>.+?)(?:\n\n|$)",
        r"答案是\s*(?P<ans>.+?)(?:\n|$)",
        r"(?:^|[.!?]\s|\n)(?P<ans>[^.\n]{1,300}?)\.?\s*I hope it is correct",
    )
]
_LATEX_SPAN = re.compile(
    r"\$\$(?P<a>.+?)\$\$|\\\[(?P<b>.+?)\\\]|\\\((?P<c>[^\n]+?)\\\)|(?<![\\$])\$(?P<d>(?:\\\$|[^$\n])+?)(?<!\\)\$",
    re.DOTALL,
)
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_ANSWER_TAG = re.compile(r"<answer>(?P<body>.*?)(?:</answer>|$)", re.DOTALL)
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
MATH_WORDS = frozenset(
    [
        "sqrt",
        "frac",
        "dfrac",
        "tfrac",
        "cdot",
        "times",
        "infty",
        "pmatrix",
        "bmatrix",
        "matrix",
        "begin",
        "end",
        "left",
        "right",
        "text",
        "circ",
        "degree",
        "pi",
        "cup",
        "cap",
        "mathrm",
        "mathbf",
        "boxed",
        "and",
        "or",
        "le",
        "ge",
        "leq",
        "geq",
        "neq",
        "sin",
        "cos",
        "tan",
        "log",
        "ln",
        "exp",
        "min",
        "max",
        "gcd",
        "lcm",
        "mod",
        "pmod",
        "cot",
        "sec",
        "csc",
        "arcsin",
        "arccos",
        "arctan",
        "det",
        "dots",
        "ldots",
        "cdots",
    ]
)
_LAST_NUMBER = re.compile(
    r"(?P<n>\\d?frac\{[^{}]*\}\{[^{}]*\}|-?\d[\d,]*(?:\.\d+)?(?:/\d+)?%?|\*\*[^*]{1,40}\*\*)"
)
_MCQ = re.compile(r"^\(?([A-E])\)?[.:]?$")


@dataclass(frozen=True, slots=True)
class Extraction:
    """What was read: the answer text (None when nothing was found) and how it was found."""

    answer: str | None
    source: str  # boxed | answer-tag | phrase | latex | bare | none
    hedged: bool = False
    reason: str = ""


def _matching_brace(text: str, open_idx: int) -> int:
    """Index of the brace closing the one at `open_idx`, or -1 (linear scan, escapes skipped)."""
    depth, i, n = 0, open_idx, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def find_boxed(text: str) -> list[tuple[int, int, str]]:
    """All ``\\boxed{…}`` / ``\\fbox{…}`` / ``\\boxed X`` as (start, end, content), in order."""
    found: list[tuple[int, int, str]] = []
    pos = 0
    while True:
        starts = [(text.find(cmd, pos), cmd) for cmd in _BOX_CMDS]
        starts = [(s, c) for s, c in starts if s >= 0]
        if not starts:
            return found
        start, cmd = min(starts)
        j = start + len(cmd)
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            end = _matching_brace(text, j)
            if end < 0:
                return found
            found.append((start, end + 1, text[j + 1 : end]))
            pos = end + 1
        elif j > start + len(cmd) and j < len(text):  # `\boxed 5`: one token
            m = re.match(r"[^\s$]+", text[j:])
            token = m.group(0) if m else ""
            found.append((start, j + len(token), token))
            pos = j + len(token)
        else:
            pos = j
    return found


def _final_boxes(text: str) -> Extraction | None:
    boxes = find_boxed(text)
    if not boxes:
        return None
    cluster = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        between = text[prev[1] : cluster[0][0]]
        words = re.findall(r"[A-Za-z]{2,}", re.sub(r"\\[a-z]+", "", between))
        if len(between) > 40 or not _CONNECTIVE.match(between) or len(words) > _CONNECTIVE_WORDS:
            break
        if words and "and" not in words and not _OR.search(between):
            break
        cluster.insert(0, prev)
    values = [c[2].strip() for c in cluster]
    if len(set(values)) == 1:
        return Extraction(values[0], "boxed")
    joins = [text[a[1] : b[0]] for a, b in itertools.pairwise(cluster)]
    hedged = any(_OR.search(j) for j in joins)
    # several boxes ending the response are one answer: the set of their values
    joined = "\\{" + ", ".join(values) + "\\}"
    return Extraction(joined, "boxed", hedged=hedged, reason="hedged" if hedged else "")


_HOPE = re.compile(r"\.?\s*I hope it is correct.*$", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"\.\s|\n|<\|")
_IS = re.compile(r"\b(?:is|are|was|be|equals)\b\s*:?", re.IGNORECASE)


def _strip_span(ans: str) -> str:
    """The answer inside a phrase: `The volume of $V$ is 120.` → `120`; `is $x$.` → `x`."""
    ans = _HOPE.sub("", ans).strip().strip("*").strip()
    tail = _IS.split(ans)[-1].strip() if _IS.search(ans) else ans
    tail = _SENTENCE_END.split(tail, maxsplit=1)[0]
    spans = [next(v for v in m.groups() if v is not None) for m in _LATEX_SPAN.finditer(tail)]
    if spans:
        return ", ".join(s.strip() for s in spans)
    tail = tail.rstrip(".").strip()
    if is_answer_only(tail) or find_boxed(tail):
        return tail
    last = None
    for m in _LAST_NUMBER.finditer(tail):
        last = m
    return last.group("n").strip("*").strip() if last else tail


def _phrase(text: str, *, strong: bool = False) -> Extraction | None:
    """The last answer phrase; `strong` skips the weak "… I hope it is correct" sentence anchor."""
    best: tuple[int, str] | None = None
    for pattern in _PHRASES[:-1] if strong else _PHRASES:
        for m in pattern.finditer(text):
            if best is None or m.start() > best[0]:
                best = (m.start(), m.group("ans"))
    if best is None:
        return None
    ans = _strip_span(best[1])
    if not re.search(r"[A-Za-z0-9]", ans):
        return None
    boxes = find_boxed(ans)
    if boxes:
        ans = boxes[-1][2]
    return Extraction(ans, "phrase") if ans.strip() else None


def is_answer_only(text: str) -> bool:
    """True when the whole text looks like a bare answer (short, at most two prose words)."""
    stripped = text.strip()
    if not stripped or len(stripped) > 300 or "\n\n" in stripped:
        return False
    prose = _WORD.findall(re.sub(r"\\text\{[^{}]*\}", "", stripped))
    if re.match(r"^[A-Za-z]+\s+[a-z']{2,}\s", stripped):  # starts like a sentence
        return False
    return sum(w.lower() not in MATH_WORDS for w in prose) <= 2


def _last_span(text: str) -> Extraction | None:
    last = None
    for m in _LATEX_SPAN.finditer(text):
        last = m
    if last is None:
        return None
    body = next(v for v in last.groups() if v is not None).strip()
    return Extraction(body, "latex") if body else None


def _bare(text: str) -> Extraction | None:
    stripped = text.strip().rstrip(".").strip()
    if is_answer_only(stripped):
        return Extraction(stripped, "bare")
    tail = stripped[-400:]
    last = None
    for m in _LAST_NUMBER.finditer(tail):
        last = m
    if last is None:
        return None
    return Extraction(last.group("n").strip("*").strip(), "bare")


def _after_think(response: str) -> tuple[str | None, str]:
    if _THINK_CLOSE in response:
        return response.rsplit(_THINK_CLOSE, 1)[1], ""
    if _THINK_OPEN in response:
        return None, "unterminated <think> block: the answer is never read from the reasoning"
    return response, ""


def extract_answer(response: str) -> Extraction:
    """Read the final answer of a model response (see the module docstring for the order)."""
    text, why = _after_think(response)
    if text is None:
        return Extraction(None, "none", reason=why)
    text = text[-_TAIL_CHARS:]
    tags = list(_ANSWER_TAG.finditer(text)) if "<answer>" in text else []
    if tags:
        text = tags[-1].group("body")
    boxes = find_boxed(text)
    # an explicit answer phrase after the last box wins ("\boxed{255} ... The final answer is $10,455$")
    phrase = _phrase(text[boxes[-1][1] :], strong=True) if boxes else None
    for reader in (lambda t: phrase, _final_boxes, _phrase, _last_span, _bare):
        found = reader(text)
        if found is not None and (found.answer or "").strip():
            return found if not tags else Extraction(found.answer, "answer-tag", found.hedged)
    return Extraction(None, "none", reason="no final answer found")


def extract_gold(gold: str) -> Extraction:
    """Read a gold answer: usually the whole string; a solution text is read like a response.

    A gold written as several LaTeX spans joined by words (``$1331$ and $1728$``) is the list of
    those spans: every one of them must be answered.
    """
    text = gold.strip()
    if not text:
        return Extraction(None, "none", reason="empty gold answer")
    boxes = find_boxed(text)
    if boxes:
        return _final_boxes(text) or Extraction(boxes[-1][2], "boxed")
    spans = list(_LATEX_SPAN.finditer(text))
    if spans:
        rest = _LATEX_SPAN.sub("", text)
        if is_answer_only(rest) or len(rest.strip()) <= 12:
            bodies = [next(v for v in m.groups() if v is not None).strip() for m in spans]
            return Extraction(", ".join(b for b in bodies if b), "latex")
        if len(text) <= 300 and not _phrase(text):  # a one-sentence gold states its answer first
            first = next(v for v in spans[0].groups() if v is not None).strip()
            return Extraction(first, "latex") if first else extract_answer(text)
        return extract_answer(text)
    if is_answer_only(text) or (len(text) <= 100 and "\n" not in text):
        return Extraction(text.rstrip(".").strip() or text, "bare")
    return extract_answer(text)


def mcq_letter(answer: str) -> str | None:
    """The choice letter of a multiple-choice answer (``C``, ``(C)``, ``\\text{(C)}``), else None."""
    inner = re.sub(r"\\(?:text|textbf|mathrm)\{([^{}]*)\}", r"\1", answer).strip()
    m = _MCQ.match(inner)
    return m.group(1) if m else None
