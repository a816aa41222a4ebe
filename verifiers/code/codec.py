"""Typed JSON: the values that travel between the judge, the candidate and the verifier.

Stdlib only and import-light: this module's source is also the first part of the program run in
the jail (`verifiers.code.functions.harness_files` ships ``codec.py + harness.py`` as one
``main.py``/``main.pyc``, so the jail pays for no extra file or import). The verifier imports it
to read the values the harness's records carry (`decode`, `PlainObject`, `Unserializable`).

A value is a *node*, a JSON list whose first item is its tag:

=====  ==========================================  ============================================
tag    value                                       rest of the node
=====  ==========================================  ============================================
``n``  ``None``
``b``  bool                                        ``true``/``false``
``i``  int                                         decimal text (exact; never through float)
``f``  float                                       ``repr`` text
``c``  complex                                     ``repr`` of the real and imaginary parts
``s``  str                                         the text
``y``  bytes (``Y``: bytearray)                    hex text
``D``  ``decimal.Decimal``                         its text
``Q``  ``fractions.Fraction``                      numerator and denominator, decimal text
``l``  list (``t`` tuple, ``S`` set,               ``[node, ...]``
       ``F`` frozenset, ``q`` deque)
``d``  dict                                        ``[[key node, value node], ...]``
``T``  a builtin type (``int``, ``list``, ...)     its name
``o``  an instance of a trusted class              class name, ref number, ``[[attr, node], ...]``
       (the prompt's ``ListNode``)
``P``  a stand-in for a program class              class name, ref number, ``[args, kwargs]``
       (MBPP's ``Node``; judge to candidate only)  node, ``[[attr, node], ...]``
``r``  the object numbered ref before (a cycle)    ref number
``u``  a value the encoder refused                 what it was (type name, ``too deep``, ...)
=====  ==========================================  ============================================

`dumps` and `loads` are the JSON text of records, without importing `json` (and its `re`):
start-up time is paid on every harness run.
"""

import _json  # the C half of json: no `re` import (start-up time is per run)
import math
from _collections import deque  # not `collections`: its import costs ~0.8 ms per run

# Annotations are strings and their types are imported for the type checker only: in the jail
# (python -I -S) `typing` is not loaded, and importing it would cost ~8 ms per run.
_TYPE_CHECKING = False
if _TYPE_CHECKING:
    from typing import Any

    from verifiers.code.protocol import Node

__all__ = [
    "MAX_DEPTH",
    "PlainObject",
    "StandIn",
    "Unserializable",
    "decode",
    "dumps",
    "encode",
    "loads",
]

MAX_DEPTH = 200  # containers nested deeper encode as ["u", "too deep"]


def encode(
    value: "Any", trusted: "tuple[type, ...]" = (), _memo: "dict | None" = None, _depth: int = 0
) -> "Node":
    """A JSON-able tagged form of a plain value; anything else becomes ``["u", type name]``.

    Ints are decimal strings (arbitrary precision, never through float); floats are ``repr``;
    containers keep their type (list/tuple/set/frozenset/dict/deque); instances of ``trusted``
    classes (the prompt's ``ListNode``/``TreeNode``) are encoded field by field, with back
    references for cycles. Subclasses of builtins are encoded as their base type, which strips
    any overridden ``__eq__``.

    >>> encode({"n": (1, 2.5)})
    ['d', [[['s', 'n'], ['t', [['i', '1'], ['f', '2.5']]]]]]
    >>> decode(encode({"n": (1, 2.5)}))
    {'n': (1, 2.5)}
    """
    if _depth > MAX_DEPTH:
        return ["u", "too deep"]
    memo = {} if _memo is None else _memo
    d = _depth + 1
    if value is None:
        return ["n"]
    if type(value) is Unserializable:
        return ["u", value.what]
    if isinstance(value, bool):
        return ["b", bool(int.__int__(value))]
    if isinstance(value, int):
        return ["i", int.__repr__(value)]
    if isinstance(value, float):
        return ["f", float.__repr__(value)]
    if isinstance(value, complex):
        return ["c", float.__repr__(value.real), float.__repr__(value.imag)]
    if isinstance(value, str):
        return ["s", str.__str__(value)]
    if isinstance(value, (bytes, bytearray)):
        return ["y" if isinstance(value, bytes) else "Y", bytes(value).hex()]
    module = type(value).__module__
    if module in ("decimal", "fractions"):  # imported lazily: start-up time matters here
        from decimal import Decimal
        from fractions import Fraction

        if isinstance(value, Decimal):
            return ["D", str(Decimal.__str__(value))]
        if isinstance(value, Fraction):
            return ["Q", int.__repr__(value.numerator), int.__repr__(value.denominator)]
    seq = _sequence_tag(value)
    if seq is not None:
        if id(value) in memo:
            return ["u", "cyclic container"]
        memo[id(value)] = None
        try:
            if seq == "d":
                items = [
                    [encode(k, trusted, memo, d), encode(v, trusted, memo, d)]
                    for k, v in list(dict.items(value))
                ]
                return ["d", items]
            return [seq, [encode(v, trusted, memo, d) for v in list(value)]]
        finally:
            memo.pop(id(value), None)
    if isinstance(value, StandIn):
        return _encode_standin(value, trusted, memo, d)
    if type(value) is type and _BUILTIN_TYPES.get(name := value.__name__) is value:
        return ["T", name]  # `remove_datatype(t, int)` (MBPP 533)
    if type(value) in trusted:
        return _encode_object(value, trusted, memo, d)
    item = getattr(type(value), "item", None)
    if type(value).__module__ == "numpy" and callable(item) and getattr(value, "ndim", 1) == 0:
        return encode(value.item(), trusted, memo, d)
    return ["u", type(value).__name__]


def _sequence_tag(value: object) -> "str | None":
    if isinstance(value, dict):
        return "d"
    if isinstance(value, list):
        return "l"
    if isinstance(value, tuple):
        return "t"
    if isinstance(value, frozenset):
        return "F"
    if isinstance(value, set):
        return "S"
    if isinstance(value, deque):
        return "q"
    return None


def _encode_object(value: object, trusted: "tuple[type, ...]", memo: dict, depth: int) -> "Node":
    refs = memo.setdefault("__objects__", {})
    if id(value) in refs:
        return ["r", refs[id(value)]]
    refs[id(value)] = len(refs)
    fields = getattr(value, "__dict__", {})
    attrs = [[k, encode(v, trusted, memo, depth)] for k, v in list(fields.items())]
    return ["o", type(value).__name__, refs[id(value)], attrs]


_BUILTIN_TYPES = {
    t.__name__: t
    for t in (int, float, complex, str, bytes, bytearray, bool, list, tuple, dict, set, frozenset)
}


def _encode_standin(
    value: "StandIn", trusted: "tuple[type, ...]", memo: dict, depth: int
) -> "Node":
    refs = memo.setdefault("__objects__", {})
    if id(value) in refs:
        return ["r", refs[id(value)]]
    refs[id(value)] = len(refs)
    fields = dict(value.__dict__)
    init = fields.pop("__rlvr_init__", ((), {}))
    made = encode([list(init[0]), init[1]], trusted, memo, depth)
    attrs = [[k, encode(v, trusted, memo, depth)] for k, v in list(fields.items())]
    return ["P", type(value).__name__, refs[id(value)], made, attrs]


class StandIn:
    """Judge-side stand-in for a program class the tests build inputs with (MBPP's ``Node``):
    keeps its constructor arguments and attributes; the candidate process rebuilds it with the
    program's own class (tag ``P``)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.__dict__["__rlvr_init__"] = (args, kwargs)


class Unserializable:
    """A value the encoder refused: equal to nothing (so a test comparing it fails)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"<unserializable {self.what}>"


class PlainObject:
    """An instance of a trusted class decoded where that class does not exist (the verifier)."""

    def __init__(self, cls: str, attrs: "dict[str, Any]") -> None:
        self.cls, self.attrs = cls, attrs

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PlainObject) and self.cls == other.cls and self.attrs == other.attrs
        )

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{self.cls}({self.attrs!r})"


_INT_CHARS = frozenset("-0123456789")


def decode(
    node: "Any",  # a node as received: checked here (malformed: raises)
    classes: "dict[str, type] | None" = None,
    _refs: "dict[int, Any] | None" = None,
    builders: "dict[str, Any] | None" = None,
) -> "Any":
    """The value `encode` described; strict: a malformed node raises ValueError.

    ``classes`` maps class names to trusted classes (inside the sandbox); without it objects
    decode as `PlainObject`. ``builders`` (the candidate process only) maps program class names
    to the program's classes, for stand-ins (tag ``P``); elsewhere that tag is malformed.
    """
    refs = {} if _refs is None else _refs
    if builders is not None:
        classes = _Classes(classes or {}, builders)
    tag = node[0]
    if tag == "n":
        return None
    if tag == "b":
        return node[1] is True
    if tag == "i":
        text = node[1]
        if not isinstance(text, str) or not text or not set(text) <= _INT_CHARS:
            raise ValueError("bad int")
        if len(text) > 4000:
            return Unserializable(f"int of {len(text)} digits")
        return int(text)
    if tag == "f":
        return float(node[1])
    if tag == "c":
        return complex(float(node[1]), float(node[2]))
    if tag == "s":
        if not isinstance(node[1], str):
            raise ValueError("bad str")
        return node[1]
    if tag in ("y", "Y"):
        raw = bytes.fromhex(node[1])
        return raw if tag == "y" else bytearray(raw)
    if tag == "D":
        from decimal import Decimal

        return Decimal(node[1])
    if tag == "Q":
        from fractions import Fraction

        return Fraction(int(node[1]), int(node[2]))
    if tag == "d":
        return {_hashable(decode(k, classes, refs)): decode(v, classes, refs) for k, v in node[1]}
    if tag in ("l", "t", "S", "F", "q"):
        items = [decode(v, classes, refs) for v in node[1]]
        if tag == "l":
            return items
        if tag == "t":
            return tuple(items)
        if tag == "q":
            return deque(items)
        items = [_hashable(v) for v in items]
        return set(items) if tag == "S" else frozenset(items)
    if tag == "o":
        return _decode_object(node, classes, refs)
    if tag == "P":
        return _build_standin(node, classes, refs)
    if tag == "T":
        return _BUILTIN_TYPES[node[1]]
    if tag == "r":
        return refs[node[1]]
    if tag == "u":
        return Unserializable(str(node[1]))
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(value: object) -> object:
    try:
        hash(value)
    except TypeError:
        return Unserializable("unhashable key")
    return value


def _decode_object(
    node: "Node", classes: "dict[str, type] | None", refs: "dict[int, Any]"
) -> object:
    _, name, ref, attrs = node
    cls: Any = (classes or {}).get(name)
    if cls is None:
        obj = PlainObject(name, {})
        refs[ref] = obj
        obj.attrs = {k: decode(v, classes, refs) for k, v in attrs}
        return obj
    obj = cls.__new__(cls)
    refs[ref] = obj
    for k, v in attrs:
        obj.__dict__[k] = decode(v, classes, refs)
    return obj


class _Classes(dict):  # dict[str, type]
    """Trusted classes by name, plus the program's classes that stand-ins are rebuilt with."""

    def __init__(self, classes: "dict[str, type]", builders: "dict[str, Any]") -> None:
        super().__init__(classes)
        self.builders = builders


def _build_standin(
    node: "Node", classes: "dict[str, type] | None", refs: "dict[int, Any]"
) -> object:
    _, name, ref, made, attrs = node
    builders = getattr(classes, "builders", None)
    if builders is None:
        raise ValueError("a stand-in outside the candidate process")
    cls = builders.get(name)
    if not isinstance(cls, type):
        raise NameError(f"name {name!r} is not a class of the program")
    args, kwargs = decode(made, classes, refs)
    obj = cls(*args, **kwargs)
    refs[ref] = obj
    for k, v in attrs:
        setattr(obj, k, decode(v, classes, refs))
    return obj


def dumps(value: object) -> str:
    """JSON text of records (dict/list/str/int/float/bool/None) without importing `json`."""
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else "null"
    if isinstance(value, dict):
        return "{" + ",".join(dumps(str(k)) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return dumps(repr(value))


# -- JSON text without `json` ----------------------------------------------------------------
class _Scanner:  # `_json.make_scanner` context: JSON without importing `json` (and `re`)
    strict = True
    object_hook = object_pairs_hook = None
    parse_float = float
    memo: "dict[str, str]" = {}  # noqa: RUF012 (the scanner's own cache, cleared after each call)

    @staticmethod
    def parse_int(text: str) -> int:
        return int(text) if len(text) < 40 else 0  # ints travel as strings; no 10**6-digit parse

    @staticmethod
    def parse_constant(text: str) -> float:
        return float(text)


# typeshed wants a `make_scanner` as the context; C reads only the attributes `_Scanner` has
_scan = _json.make_scanner(_Scanner())  # type: ignore[arg-type]


def loads(text: str) -> "Any":
    """The JSON value at the start of ``text`` (a reply line), without importing `json`: ints
    of 40 digits or more read as 0 (typed JSON sends ints as strings; no 10**6-digit parse)."""
    return _scan(text, 0)[0]
