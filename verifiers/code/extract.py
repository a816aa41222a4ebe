"""Reading the program out of a model response (STYLE.md §3: read first, judge after).

The program is the **last fenced code block in the wanted language after** ``</think>`` (R1's
format: reasoning first, answer after). A block tagged with another language is skipped; an
untagged block is taken only when no tagged block of the wanted language exists. No block, an
unterminated block (a truncated generation) or reasoning that never closed is a compile error with
the reason, never a guess.

>>> extract_program("<think>```python\\nx=1\\n```</think>\\n```python\\nprint(2)\\n```", "python").code
'print(2)\\n'
>>> extract_program("no code here", "python").reason
'no ```python code block after </think>'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LANG_TAGS", "Extraction", "extract_program"]

# Fence info-string words that name each language (the first word after the backticks).
LANG_TAGS: dict[str, frozenset[str]] = {
    "python": frozenset({"python", "python3", "py", "py3", "python3.11"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx", "c++17", "cpp17", "c++20", "hpp"}),
    "c": frozenset({"c", "h", "c11", "c99"}),
}
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([^\s`]*)[^\n]*\n", re.MULTILINE)


@dataclass(frozen=True, kw_only=True, slots=True)
class Extraction:
    """The program (or None) and, when None, why."""

    code: str | None
    reason: str = ""


def _blocks(text: str) -> tuple[list[tuple[str, str]], bool]:
    """(tag, body) of every fenced block, and whether the last fence was left open."""
    blocks: list[tuple[str, str]] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if m is None:
            return blocks, False
        fence, tag = m.group(1), m.group(2).lower()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = close.search(text, m.end())
        if end is None:
            return blocks, True
        blocks.append((tag, text[m.end() : end.start()]))
        pos = end.end()


def extract_program(response: str, lang: str) -> Extraction:
    """The last ``lang`` block after ``</think>`` (see the module docstring)."""
    text = response
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    elif "<think>" in text:
        return Extraction(code=None, reason="reasoning never closed: no </think>")
    tags = LANG_TAGS.get(lang, frozenset({lang}))
    blocks, open_fence = _blocks(text)
    tagged = [body for tag, body in blocks if tag in tags]
    untagged = [body for tag, body in blocks if not tag]
    chosen = tagged or untagged
    if chosen:
        code = chosen[-1]
        if not code.strip():
            return Extraction(code=None, reason=f"the last ```{lang} block is empty")
        return Extraction(code=code)
    if open_fence:
        return Extraction(code=None, reason="the code block is not closed (truncated response?)")
    return Extraction(code=None, reason=f"no ```{lang} code block after </think>")
