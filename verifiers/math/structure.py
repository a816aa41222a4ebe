"""The structure of an answer string, read in plain Python (no sympy): lists, tuples, sets,
intervals, ratios, relations, labels and ``\\pm``.

Both judging stages use it: `compare` to decide lists of plain numbers exactly, `symbolic` to
split an answer before parsing its pieces, so the LaTeX parser only ever sees one scalar, relation
or matrix at a time.
"""

from __future__ import annotations

import re

from verifiers.math.normalize import strip_units

__all__ = [
    "OR",
    "drop_lhs",
    "expand_pm",
    "is_setlike",
    "names_only",
    "pm_items",
    "relation_parts",
    "rename_variable",
    "split_top",
    "strip_qualifier",
    "structure_of",
    "unwrap",
    "vector_items",
]

_OPEN, _CLOSE = "([{", ")]}"
_WORDY = re.compile(r"(?<!\\)[A-Za-z]{2,}|\\\\")
_REL = re.compile(r"\\le(?![a-z])|\\ge(?![a-z])|\\ne(?![a-z])|<=|>=|!=|<|>|=")
_MEMBER = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*\\in\s*")
_BUILDER = re.compile(r"^\\\{\s*[A-Za-z]\s*(?:\\in\s*\\mathbb\{R\}\s*)?(?:\||\\mid|:)(.*)\\\}$")
_SETISH = re.compile(r"\\cup|\\infty|\\emptyset|\\varnothing|\\mathbb\{R\}")
_QUALIFIER = re.compile(
    r"\s*,?\s+(?:for all|for every|for each|for some|for any|where|when|with|if)\s.*$", re.DOTALL
)
_OPERATOR = re.compile(r"[-+*/^=\d]|\\(?:pi|frac|sqrt|cdot)")
_LETTER_VAR = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z](?![a-zA-Z])")
_VECTOR = re.compile(r"^\\begin\{pmatrix\}(.*)\\end\{pmatrix\}$", re.DOTALL)
_SUBSCRIPT = re.compile(r"_\{[^{}]*\}|_\w")
OR = re.compile(r"(?<=[\s)}])or(?=[\s({])|\\text\{\s*or\s*\}|\\vee|\\lor")


def split_top(text: str, seps: tuple[str, ...] = (",",)) -> list[str]:
    """Split on separators outside (), [], {} (a `\\{` counts as a bracket too)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1 : i + 2] in ("{", "}"):
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0:
            for sep in seps:
                if text.startswith(sep, i):
                    parts.append(text[start:i])
                    start = i + len(sep)
                    i = start - 1
                    break
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _enclosed(text: str, left: str, right: str) -> bool:
    """True when `left` … `right` wrap the whole of `text` (not `(1,2)(3,4)`)."""
    if not (text.startswith(left) and text.endswith(right)):
        return False
    depth = 0
    inner = text[len(left) : len(text) - len(right)]
    for ch in inner:
        depth += (ch in _OPEN) - (ch in _CLOSE)
        if depth < 0:
            return False
    return depth == 0


def structure_of(text: str) -> tuple[str, list[str]]:
    """Kind and items of an answer: set | tuple | interval | list | scalar.

    ``\\{a, b\\}`` is a set; ``(a, b)`` is a tuple that may also be an open interval; ``[a, b)`` is an
    interval; ``a, b`` is a bare list; ``a \\text{ and } b`` and ``a; b`` are bare lists too.
    """
    text = text.strip()
    if _enclosed(text, "\\{", "\\}"):
        inner = text[2:-2]
        if "|" not in inner and "\\mid" not in inner:
            return "set", [p for p in split_top(inner) if p]
    if text.startswith("{") and _enclosed(text, "{", "}") and len(split_top(text[1:-1])) >= 2:
        return "set", [p for p in split_top(text[1:-1]) if p]
    if text[:1] in "([" and text[-1:] in ")]" and _enclosed(text, text[0], text[-1]):
        items = split_top(text[1:-1])
        if len(items) == 1 and ";" in text:  # `(0;-2;6)`
            items = split_top(text[1:-1], (";",))
        if len(items) >= 2:
            same = text[0] + text[-1] == "()"
            return ("tuple" if same else "interval"), items
    items = split_top(text, (",", ";", "\\text{and}", " and ", "\\text{ and }", "\\cup"))
    items = [p for p in items if p]
    if len(items) >= 2 and "\\cup" not in text:
        return "list", items
    ratio = split_top(text, (":",))
    if len(ratio) >= 2 and all(ratio) and "=" not in text and not _WORDY.search(text):
        return "ratio", ratio
    return "scalar", [text]


def unwrap(text: str) -> str:
    text = text.strip()
    m = _BUILDER.match(text)
    if m:
        text = m.group(1).strip()
    return _MEMBER.sub("", text)


def pm_items(text: str) -> list[str] | None:
    """`a \\pm b` → [a + b, a - b]; several signs give every combination (at most 8)."""
    if "\\pm" not in text and "\\mp" not in text:
        return None
    out = [text]
    for _ in range(3):
        nxt = []
        for t in out:
            m = re.search(r"\\[pm]{2}(?![a-z])", t)
            if m is None:
                nxt.append(t)
                continue
            first, second = ("+", "-") if m.group(0) == "\\pm" else ("-", "+")
            nxt += [t[: m.start()] + first + t[m.end() :], t[: m.start()] + second + t[m.end() :]]
        out = nxt
    return out


def relation_parts(text: str) -> tuple[list[str], list[str]]:
    """Top-level pieces and relation operators of `a = b < c`."""
    pieces, ops = [], []
    depth, start = 0, 0
    i = 0
    while i < len(text):
        ch = text[i]
        depth += (ch in "([{") - (ch in ")]}")
        if depth == 0:
            m = _REL.match(text, i)
            if m and not text.startswith("\\left", i):
                pieces.append(text[start:i].strip())
                ops.append(m.group(0))
                start = i = m.end()
                continue
        i += 1
    pieces.append(text[start:].strip())
    return pieces, ops


def is_setlike(text: str, kind: str) -> bool:
    if kind == "interval" or _SETISH.search(text):
        return True
    _, ops = relation_parts(text)
    return bool(ops) and all(op != "=" for op in ops)


def drop_lhs(text: str, other: str) -> str:
    """`(p, q) = (3, 2)` → `(3, 2)` when the other side is not an equation."""
    if "=" not in text or "=" in other or len(split_top(text)) > 1:
        return text
    parts, ops = relation_parts(text)
    if not (ops and set(ops) == {"="} and names_only(parts[0])):
        return text
    if re.fullmatch(r"[a-z]{2,3}", parts[0].strip()) and set(parts[0]) & set(other):
        return text  # `xy = 6` against `6/x`: a relation between variables, not a label
    return parts[-1]


def strip_qualifier(text: str) -> str:
    """`f(x) = 1 for all x \\in \\mathbb{Q}` → `f(x) = 1`; a leading `and` goes too."""
    if len(split_top(text, (",", " and "))) == 1:
        text = _QUALIFIER.sub("", text).strip()
    return re.sub(r"^(?:and|or)\s+", "", text)


def rename_variable(g: str, p: str) -> tuple[str, str]:
    """A bound variable may be renamed (`f(x) = 2x` ≡ `f(t) = 2t`, `k\\pi` ≡ `n\\pi`): when each side
    has exactly one letter the other lacks, used equally often, the answer's is renamed."""
    if not (_OPERATOR.search(g) and _OPERATOR.search(p)):
        return g, p  # a bare letter is an answer (a choice, a name), not a bound variable
    gl, pl = _LETTER_VAR.findall(g), _LETTER_VAR.findall(p)
    only_g, only_p = set(gl) - set(pl) - {"e", "i"}, set(pl) - set(gl) - {"e", "i"}
    if len(only_g) != 1 or len(only_p) != 1:
        return g, p
    (a,), (b,) = only_g, only_p
    if gl.count(a) != pl.count(b):
        return g, p
    return g, re.sub(rf"(?<![\\a-zA-Z]){b}(?![a-zA-Z])", a, p)


def vector_items(text: str) -> list[str] | None:
    m = _VECTOR.match(text.strip())
    if not m:
        return None
    items = [x.strip() for x in re.split(r"\\\\|&", m.group(1)) if x.strip()]
    return items if len(items) >= 2 else None


def expand_pm(items: list[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(pm_items(item) or [strip_units(item)])
    return out


def names_only(lhs: str) -> bool:
    """A left-hand side that only names the answer (`x`, `(p, q)`, `|AB|`, `V_{1}:V_{2}`)."""
    bare = re.sub(r"(?<=[A-Za-z])\([^()]*\)", "", _SUBSCRIPT.sub("", lhs))
    return bool(bare) and not any(ch.isdigit() for ch in bare) and len(bare) <= 40
