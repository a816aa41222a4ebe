"""String normalisation and exact numbers: the cheap half of judging, done in the calling process.

``normalize`` maps the many spellings of one answer onto one string: delimiters, ``\\left``/
``\\right``, ``\\dfrac``, spacing macros, ``\\text{}`` wrappers, units after a number, degrees,
percent and currency signs, thousands separators, unicode symbols, and golds whose escapes were
eaten by JSON (``\\t``ext → TAB+"ext", ``\\f``rac → form feed + "rac"; math-verification.md §4).

``parse_number`` reads integers, decimals, fractions, mixed numbers (``1 1/4``, ``2\\frac{1}{2}``)
and scientific notation as an exact ``Fraction``. Integers are compared as canonical digit strings,
so a 5,000-digit number costs a string compare and never a float (``10^18 ≠ 10^18+1``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "Normalized",
    "Number",
    "mixed_to_expression",
    "normalize",
    "parse_number",
    "repair_escapes",
    "strip_units",
]

_MAX_DIGITS = 4000  # Python refuses int() on > 4300 digits; longer integers compare as strings
_MAX_EXP10 = 400  # `a \times 10^{b}` with |b| above this is left to the bounded worker

_CONTROL = {
    "\t": "\\t",  # \text, \times, \theta, \tfrac
    "\x0c": "\\f",  # \frac
    "\x08": "\\b",  # \boxed, \begin
    "\x07": "\\a",  # \alpha
    "\x0b": "\\v",  # \vec
}
_UNICODE = {
    "∞": "\\infty ",
    "∪": "\\cup ",
    "∩": "\\cap ",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\ne ",
    "＞": ">",
    "＜": "<",
    "（": "(",
    "）": ")",
    "，": ",",
    "：": ":",
    "π": "\\pi ",
    "√": "\\sqrt ",
    "−": "-",
    "–": "-",
    "×": "\\times ",
    "·": "\\cdot ",
    "÷": "/",
    "°": "^\\circ ",
    "∈": "\\in ",
    "±": "\\pm ",
    "∀": "\\forall ",
}
_CIRCLED = {chr(0x2460 + i): f",{i + 1}" for i in range(20)}
_SPACING = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad|~|\\displaystyle|\\limits|\\nonumber")
_SIZING = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)[lr]?(?![a-zA-Z])\.?")
_FONT = re.compile(r"\\(?:mathrm|mathbf|textbf|mathit|textit|boldsymbol|operatorname|rm|bf)\s*")
_TEXT = re.compile(r"\\(?:text|mbox|textrm|textnormal|textbf|textit|mathrm)\s*\{([^{}]*)\}")
_DEGREE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\degree|\^\s*\{?\s*\\textcirc\s*\}?|\\textdegree")
_PERCENT = re.compile(r"\\?%|\s*\\text\{\s*percent\s*\}|\s+percent\b")
_CURRENCY = re.compile(r"\\\$|(?<=\d)\s*(?:dollars?|USD|cents?)\b|[€£¥]|\\euro|\bRs\.?")
_THOUSANDS = re.compile(r"(?<=\d)(?:\{,\}|,\\!|\\,)\s*(?=\d{3}(?!\d))")
_PLAIN_THOUSANDS = re.compile(r"^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_ARRAY_BEGIN = re.compile(r"\\begin\{(?:array\}\{[lcr| ]*|[bBvV]?matrix|smallmatrix)\}")
_MATRIX_END = re.compile(r"\\end\{(?:array|[bBvV]?matrix|smallmatrix)\}")
_BRACKETED_MATRIX = re.compile(r"^[\[(]\s*(\\begin\{(\w+)\}.*\\end\{\2\})\s*[\])]$", re.DOTALL)
_UNIT_WORDS = re.compile(
    r"^(?P<num>[-+]?[\d.,/\\{}a-z^]*\d[\d.,/{}]*)\s+(?P<unit>[a-zA-Z][a-zA-Z .^\d]*)$"
)
_ORDINAL = re.compile(r"^(\d+)\s*(?:\^\s*\{?\s*)?(?:st|nd|rd|th)\s*\}?(?=\s|$)")
_KEEP_WORDS = frozenset({"i", "e", "pi", "x", "y", "z", "n", "k", "or", "and"})

_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_FRAC = re.compile(r"(?P<s>[+-]?)\\frac\{(?P<a>[+-]?\d+)\}\{(?P<b>[+-]?\d+)\}")
_FRAC_SHORT = re.compile(r"(?P<s>[+-]?)\\frac(?P<a>\d)(?P<b>\d)")
_SLASH = re.compile(r"(?P<a>[+-]?\d+)/(?P<b>\d+)")
_MIXED = re.compile(
    r"(?P<w>[+-]?\d+)(?:\s+|\\,)(?P<a>\d+)/(?P<b>\d+)|(?P<w2>[+-]?\d+)\s*\\frac\{(?P<a2>\d+)\}\{(?P<b2>\d+)\}"
)
_SCI = re.compile(
    r"(?P<m>[+-]?(?:\d+\.?\d*|\.\d+))\s*(?:\\times|\\cdot|\*|x)\s*10\^\{?(?P<e>[+-]?\d+)\}?"
)
_E_NOTATION = re.compile(r"(?P<m>[+-]?(?:\d+\.?\d*|\.\d+))[eE](?P<e>[+-]?\d+)")


@dataclass(frozen=True, slots=True)
class Number:
    """An exact number read from text. `decimals` is the digits shown after the point (None: exact)."""

    value: Fraction | None  # None only for integers too long for int(); `digits` holds them
    digits: str = ""  # canonical integer digits (sign included) when the number is an integer
    decimals: int | None = None

    @property
    def is_integer(self) -> bool:
        return bool(self.digits)


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised answer with the markers that were taken off it."""

    text: str  # canonical LaTeX-ish text, whitespace collapsed
    compact: str  # `text` without any whitespace: the key for string equality
    percent: bool = False
    degrees: bool = False


def repair_escapes(text: str) -> str:
    """Restore backslashes that JSON escaping turned into control characters (or doubled)."""
    if "\\\\" in text and "\\begin" not in text:
        text = re.sub(r"\\\\(?=[a-zA-Z]{2,})", r"\\", text)
    if any(ch in text for ch in _CONTROL):
        for bad, good in _CONTROL.items():
            text = text.replace(bad, good)
    return text.replace("\r", "\\r") if "\right" in text or "\rangle" in text else text


def _unicode(text: str) -> str:
    if text.isascii():
        return text
    for bad, good in _UNICODE.items():
        text = text.replace(bad, good)
    if any(ch in text for ch in _CIRCLED):
        for bad, good in _CIRCLED.items():
            text = text.replace(bad, good)
        text = text.lstrip(",")
    return re.sub(r"<sup>(.*?)</sup>", r"^{\1}", text)


def _strip_wrappers(text: str) -> str:
    """Take off `$…$`, `\\(…\\)`, `\\[…\\]`, a whole-answer `\\boxed{}` and trailing punctuation."""
    prev = None
    while prev != text:
        prev = text
        text = text.strip().rstrip(".").strip().strip("*").strip()
        if text.count("$") == 1 and not text.startswith("\\$"):  # a lone `$`: currency
            text = text.replace("$", "")
        for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if (
                text.startswith(left)
                and text.endswith(right)
                and len(text) >= len(left) + len(right)
            ):
                text = text[len(left) : len(text) - len(right)]
        for cmd in ("\\boxed{", "\\fbox{", "\\text{", "\\mbox{", "\\textbf{", "\\mathrm{"):
            if text.startswith(cmd) and text.endswith("}") and _balanced(text[len(cmd) : -1]):
                text = text[len(cmd) : -1]
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def strip_units(text: str) -> str:
    """`10\\text{ units}` → `10`, `5 cm` → `5`: words after a number are a unit, not the answer."""
    text = _TEXT.sub(lambda m: " " + m.group(1).strip() + " ", text).strip()
    if " " not in text or len(text) > 200:  # nothing to strip (and no quadratic regex scan)
        return text
    m = _UNIT_WORDS.match(text)
    if m and not set(m.group("unit").lower().split()) & _KEEP_WORDS:
        return m.group("num")
    return text


def normalize(answer: str) -> Normalized:
    """Canonical form of one extracted answer (see the module docstring)."""
    text = _unicode(repair_escapes(answer))
    text = _strip_wrappers(text)
    text = _THOUSANDS.sub("", text)
    text = _SPACING.sub(" ", text)
    text = _SIZING.sub("", text)
    text = _BRACKETED_MATRIX.sub(r"\1", text.strip())
    text = re.sub(r"\.\s*([\])])$", r"\1", text)  # `(a, b.]`: a stray full stop
    if "\\begin{" in text:  # one spelling for matrices: pmatrix
        text = _ARRAY_BEGIN.sub(r"\\begin{pmatrix}", text)
        text = _MATRIX_END.sub(r"\\end{pmatrix}", text)
    text = (
        text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    )
    for long, short in (("\\leqslant", "\\le"), ("\\geqslant", "\\ge"), ("\\leq", "\\le")):
        text = text.replace(long, short)
    text = text.replace("\\geq", "\\ge").replace("\\neq", "\\ne")
    text = text.replace("\\lt", "<").replace("\\gt", ">").replace("\\infin", "\\infty")
    text = _TEXT.sub(lambda m: " " + m.group(1).strip() + " ", text) if "\\" in text else text
    text = _FONT.sub("", text) if "\\" in text else text
    degrees = bool(_DEGREE.search(text))
    text = _DEGREE.sub("", text)
    percent = bool(_PERCENT.search(text))
    text = _PERCENT.sub("", text)
    text = _CURRENCY.sub("", text)
    if "$" in text:  # math-mode switches left inside an answer (`$(-6,6)$, $(2,6)$`)
        text = re.sub(r"(?<!\\)\$", "", text)
    text = _THOUSANDS.sub("", text)
    text = strip_units(_ORDINAL.sub(r"\1", _strip_wrappers(text)))
    if _PLAIN_THOUSANDS.match(text.strip()):
        text = text.replace(",", "")
    text = " ".join(text.split()).rstrip(".").strip()
    return Normalized(text, "".join(text.split()), percent=percent, degrees=degrees)


def _canonical_int(text: str) -> str:
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0") or "0"
    return ("" if digits == "0" else sign) + digits


def _integer(text: str) -> Number:
    digits = _canonical_int(text)
    value = Fraction(int(digits)) if len(digits) <= _MAX_DIGITS else None
    return Number(value, digits=digits)


def _from_fraction(value: Fraction, decimals: int | None = None) -> Number:
    if value.denominator == 1 and decimals is None:
        return Number(value, digits=str(value.numerator))
    return Number(value, decimals=decimals)


def parse_number(text: str) -> Number | None:
    """Read `text` (already normalised) as one exact number, or None when it is anything else."""
    text = text.strip()
    if len(text) < 200 and " " in text:
        mixed = _parse_compound(text)
        if mixed is not None:
            return mixed
        text = text.replace(" ", "")
    if text.startswith("{") and text.endswith("}") and _balanced(text[1:-1]):
        text = text[1:-1]
    if _INT.fullmatch(text):
        return _integer(text)
    if len(text) > 200:
        return None
    if _DEC.fullmatch(text):
        mantissa = text.lstrip("+-")
        decimals = len(mantissa.split(".", 1)[1])
        value = Fraction(text if not text.endswith(".") else text[:-1])
        return Number(value, decimals=decimals) if decimals else _from_fraction(value)
    for pattern in (_FRAC, _FRAC_SHORT, _SLASH):
        m = pattern.fullmatch(text)
        if m and int(m.group("b")) != 0:
            sign = -1 if m.groupdict().get("s") == "-" else 1
            return _from_fraction(sign * Fraction(int(m.group("a")), int(m.group("b"))))
    return _parse_compound(text)


def _parse_compound(text: str) -> Number | None:
    """Mixed numbers and scientific notation (mantissa kept exact)."""
    m = _MIXED.fullmatch(text)
    if m:
        whole, a, b = (m.group("w"), m.group("a"), m.group("b"))
        if whole is None:
            whole, a, b = (m.group("w2"), m.group("a2"), m.group("b2"))
        if int(b) == 0:
            return None
        part = Fraction(int(a), int(b))
        w = int(whole)
        value = w - part if whole.startswith("-") else w + part
        return _from_fraction(value)
    for pattern in (_SCI, _E_NOTATION):
        m = pattern.fullmatch(text)
        if m and abs(int(m.group("e"))) <= _MAX_EXP10:
            value = Fraction(m.group("m")) * Fraction(10) ** int(m.group("e"))
            return _from_fraction(value)
    return None


def mixed_to_expression(text: str) -> str:
    """`1 1/4` → `1+1/4` and `2\\frac{1}{2}` → `2+\\frac{1}{2}`, for the symbolic parser."""
    text = re.sub(r"(?<![\d.^_}])(\d+)\s+(\d+)/(\d+)(?![\d/])", r"(\1+\2/\3)", text)
    return re.sub(r"(?<![\d.^_}])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}", r"(\1+\\frac{\2}{\3})", text)
