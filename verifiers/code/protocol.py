"""What the function judge's processes send each other: one ``TypedDict`` per message kind.

Three parties (`verifiers.code.harness` draws the flow): the *verifier* (this process), the
harness's *judge* process and the *candidate* process forked from it. Every message is a plain
dict on the wire, so these types cost nothing at run time; the harness and the codec run in the
jail without `typing` (~8 ms to import there) and import this module only for the type checker.

=========================  ========================  ============================================
message                    from → to, as             type
=========================  ========================  ============================================
the job (part A, part B)   verifier → judge, stdin   ``dict`` (`verifiers.code.functions`)
a call                     judge → candidate, pipe   `Request` (marshal, length-prefixed)
an answer                  candidate → judge, pipe   `Reply` (one JSON line)
a channel record           judge → verifier, fd 1    `Record` (``<nonce> <seq> <json>`` lines)
=========================  ========================  ============================================

The keys are short because every record is written per test inside the jail. Values are typed
JSON nodes (`verifiers.code.codec`). The verifier trusts no record's shape: it reads each one as
a plain ``dict`` and checks every field it uses (`verifiers.code.functions.parse_channel`).
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "End",
    "Exp",
    "Halt",
    "Load",
    "Node",
    "Oversized",
    "Ready",
    "Record",
    "Reply",
    "Request",
    "Res",
]

Node: TypeAlias = list[Any]
"""A typed-JSON node, ``[tag, ...]`` (the tag table is in `verifiers.code.codec`)."""


# -- judge → candidate ------------------------------------------------------------------------
class Request(TypedDict):
    """A call of a candidate surface: the entry point (``n="candidate"``), a program function, a
    class (``k="new"``: construct it as object ``id``) or a method ``a`` of object ``o``."""

    k: Literal["call", "new"]  # kind
    n: str  # name: ``candidate``, a function or class of the program
    a: str | None  # attribute: the method, for a call on an object
    o: int | None  # object: the ``id`` a ``new`` request gave it
    x: Node  # the arguments, ``[[args...], {kwargs}]``
    id: int | None  # the new object's number (``k="new"`` only)


# -- candidate → judge ------------------------------------------------------------------------
class Reply(TypedDict, total=False):
    """The candidate's answer: first to loading the program (``load``), then to each request in
    order (``v``, or ``exc`` and ``msg``). Parsed by the judge; one that is not a dict reads as
    ``{"exc": "malformed reply"}``."""

    load: bool  # the program loaded (the first reply only)
    v: Node  # the call's value (not for ``new``)
    m: Node  # the arguments after the call, when the call changed them (``nums.sort()``)
    exc: str  # the exception's type name (the call raised, or the program failed to load)
    msg: str  # its message, cut to 300 characters


# -- judge → verifier: the channel ------------------------------------------------------------
class Ready(TypedDict):
    """First record: the judge started (a run without it is our fault, SE)."""

    t: Literal["ready"]


class Load(TypedDict):
    """The program loaded in the candidate process and the dataset's setup ran, or why not."""

    t: Literal["load"]
    ok: bool
    exc: NotRequired[str | None]  # the exception's name (when not ok)
    msg: NotRequired[str | None]


class Exp(TypedDict):
    """The judge's value of a non-literal expected source of case ``i`` (or why it failed)."""

    t: Literal["exp"]
    i: int
    v: NotRequired[Node]
    err: NotRequired[str]  # ``Type: message``: a dataset fault (SE)


class Res(TypedDict):
    """Test ``i``: a case's value (``v``) or an assert that held (``ok``), else why not."""

    t: Literal["res"]
    i: int
    kind: Literal["case", "assert"]
    ok: bool
    v: NotRequired[Node]  # a case's value
    why: NotRequired[str]  # raised | unserializable | assert | error (when not ok)
    msg: NotRequired[str]
    cpu: NotRequired[float]  # the candidate's CPU seconds for this test (every record sent has it)
    wall: NotRequired[float]  # wall seconds (every record sent has it)


class Halt(TypedDict):
    """The test ``i`` in flight ended the run: the judge killed the candidate past a per-test
    limit (``tle``, ``why`` cpu|wall) or the reply cap (``ole``), the candidate died (``died``),
    or calls sent ahead took over one test's limits (``retry``: run again one call at a time)."""

    t: Literal["tle", "ole", "died", "retry"]
    i: int
    why: str
    cpu: float
    wall: float


class End(TypedDict):
    """Last record: every test of ``n`` ran."""

    t: Literal["end"]
    n: int


class Oversized(TypedDict):
    """Made by the verifier, never sent: a record over the cap stands here (its test is OLE)."""

    t: Literal["oversized"]
    bytes: int


Record: TypeAlias = Ready | Load | Exp | Res | Halt | End | Oversized
