"""The function-call harness: this file's source *is* the program run inside the sandbox.

It is sent as ``main.py`` (or its ``.pyc``), after the source of `verifiers.code.codec` (the
typed-JSON values it sends and reads), and run by the sandbox's Python (stdlib only, 3.11+, no
`typing`). The verifier imports only the codec to read the records; nothing here runs candidate
code outside the sandbox. The messages between the three processes, key by key, are the
``TypedDict`` s of `verifiers.code.protocol`.

Two processes in one jail (issue 9, classes 2 and 3)
----------------------------------------------------
The *judge* process (``main``) never loads anything of the candidate: it runs the trusted prompt
prefix, the dataset's setup and the original test code (cases, assert items, non-literal expected
values), decides every assert itself and writes the only channel the verifier reads. The
*candidate* process is forked from it before it has read any test: it loads the program and
answers calls, nothing else. Its whole view of the tests is the arguments of the calls it gets.

1. stdin holds two marshal documents: *A* (program, prefix, entry point, nonce) and *B*
   (setup, tests, limits, candidate names). The judge makes itself non-dumpable before it reads
   anything (``prctl(PR_SET_DUMPABLE, 0)``: another process of the jail's uid can then neither
   read its memory nor open its fds through ``/proc``), reads A exactly, sends ``ready``, runs the prompt prefix (trusted
   and already the candidate's to read; its imports are then loaded once for both), forks the
   candidate, and only then reads B. So the test code and its expected values exist only in the
   judge's memory, only the judge holds the channel's fd, and after the fork the judge imports
   nothing from the work dir (the candidate can write there).
2. The candidate process: stdin is ``/dev/null``, fd 1 is stderr, every other fd is closed but
   its two pipes; it loads the program into its own namespace and serves calls: a request names
   a candidate surface (``candidate``, the entry point, a class and its methods, a program
   function the tests call) and carries typed-JSON arguments; the reply is the typed-JSON result
   (or the exception's name), and the arguments again if the call changed them.
3. The judge binds the candidate names of its test namespace to *remote proxies*: calling one
   sends the request and hands the tests a decoded copy of the reply (plain values or instances
   of the prompt's own classes, never an object the candidate made). Nothing the response
   contains is executed or bound there: no import of the response, no name it chose over one
   the prefix, the setup or the tests define (`verifiers.code.functions._candidate_names`). Program
   classes the tests use to build inputs (MBPP's ``Node``) are stand-ins here, rebuilt with the
   program's class in the candidate process.
4. Per-test limits are kept from outside the candidate's process: while a call is in flight the
   judge reads the candidate's CPU clock (``clock_gettime`` of its process CPU clock, all its
   threads) and the wall clock, and kills it past ``test_cpu_s``/``test_wall_s``; the CPU time
   reported per test is the candidate's, measured by the judge. Stubbing ``resource``, ``time``
   or ``signal`` in the candidate's process changes nothing the judge measures. (Processes the
   candidate spawns are not in that clock: the per-test wall limit and the run's CPU limit bound
   them.)
5. Calls sent ahead: cases the verifier marked plain (``batch``: one call of a candidate
   function over literals) are written to the candidate in one window and answered in order,
   which saves a round trip per test. The window shares one test's limits: a test is accepted
   only while the window's total CPU and wall time are within them; past that the judge kills
   the candidate (``retry``) and the verifier runs the tests from that one again, one call at a
   time. The candidate learns nothing new (the next arguments a little earlier).

Channel records are lines ``<nonce> <seq> <json>`` (`verifiers.code.protocol.Record`); the
verifier checks nonce and sequence and ignores everything else. A test whose call killed the
candidate ends the run with a ``tle``, ``ole``, ``died`` (or ``retry``) record naming it
(`~verifiers.code.protocol.Halt`); the verifier restarts the harness after it in all-tests mode.
"""

import _thread
import builtins
import gc
import marshal
import os
import select
import sys
import time
from _collections import deque  # not `collections`: its import costs ~0.8 ms per run

if __name__ != "__main__":  # the verifier's import; in the jail, codec.py's source came first
    from verifiers.code.codec import (
        MAX_DEPTH,
        StandIn,
        Unserializable,
        decode,
        dumps,
        encode,
        loads,
    )

# Annotations are strings, their types imported for the type checker only (`typing` is not
# loaded in the jail; importing it would cost ~8 ms per run).
_TYPE_CHECKING = False
if _TYPE_CHECKING:
    from typing import Any, Literal, NoReturn, TypeAlias

    from verifiers.code.protocol import Node, Record, Reply, Request, Res

    # A call sent ahead (`_send_window`): (test index, args, kwargs, the classes to decode with)
    _Ahead: TypeAlias = tuple[int, tuple[Any, ...], dict[str, Any], dict[str, type]]
    _Test: TypeAlias = tuple[Literal["case", "assert"], str]  # (kind, source) of one test
    # Why the judge stopped the candidate: the `Halt` record it sends (kind, why)
    _Failure: TypeAlias = tuple[Literal["tle", "ole", "died", "retry"], str]

__all__ = [
    "MAX_REPLY",
    "PIPE_BUF",
    "Candidate",
    "Channel",
    "Raised",
    "Refused",
    "Remote",
    "RemoteClass",
    "RemoteFunc",
    "RemoteInstance",
    "Stop",
    "judge",
    "main",
]

# Imported by `main` only when the program or the tests mention it (~1 ms per run otherwise).
_random = None


# -- the channel -----------------------------------------------------------------------------
class Channel:
    """Numbered, nonce-tagged JSON lines on a private fd (see the module docstring)."""

    def __init__(self, fd: int, nonce: str) -> None:
        self.fd, self.nonce, self.seq = fd, nonce, 0
        self.lock = _thread.allocate_lock()
        self._dumps, self._write = dumps, os.write

    def send(self, record: "Record") -> None:
        with self.lock:
            line = f"{self.nonce} {self.seq} {self._dumps(record)}\n".encode()
            self.seq += 1
            view = memoryview(line)
            while view:
                view = view[self._write(self.fd, view) :]


class Raised(Exception):
    """What the candidate raised, re-raised to the tests (type name, message)."""


_RAISED: "dict[str, type[Exception]]" = {}


def _raised(name: str) -> "type[Exception]":
    """`Raised`, and the builtin exception of that name when there is one, so that a test's
    ``except ValueError`` catches the candidate's ValueError (AssertionError and the iteration
    protocol's exceptions excepted: a claim of those must not end an assert or a loop)."""
    cls = _RAISED.get(name)
    if cls is None:
        base = getattr(builtins, name, None)
        cls = Raised
        skip = (AssertionError, StopIteration, StopAsyncIteration, GeneratorExit)
        if isinstance(base, type) and issubclass(base, Exception) and not issubclass(base, skip):
            try:
                cls = type(name, (Raised, base), {})
            except TypeError:  # a base with its own instance layout (OSError, UnicodeError)
                cls = Raised
        _RAISED[name] = cls
    return cls


class Refused(Exception):
    """The candidate returned a value the encoder refuses (an assert over it fails)."""


# -- values the candidate returned, in the judge process -----------------------------------
def _contains_unserializable(value: object, depth: int = 0) -> bool:
    if isinstance(value, Unserializable):
        return True
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, (list, tuple, set, frozenset, deque)):
        return any(_contains_unserializable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_contains_unserializable(v, depth + 1) for v in value.values())
    return False


def _apply_mutation(args: "tuple[Any, ...]", kwargs: "dict[str, Any]", after: "Any") -> None:
    """Re-apply in-place changes the candidate made to its arguments (``nums.sort()`` problems)."""
    new_args, new_kwargs = after
    pairs = list(zip(args, new_args, strict=False))
    pairs += [(kwargs[k], new_kwargs.get(k)) for k in kwargs]
    for old, new in pairs:
        if isinstance(old, list) and isinstance(new, list):
            old[:] = new
        elif (isinstance(old, dict) and isinstance(new, dict)) or (
            isinstance(old, set) and isinstance(new, set)
        ):
            old.clear()
            old.update(new)
        elif isinstance(old, bytearray) and isinstance(new, bytearray):
            old[:] = new
        elif hasattr(old, "__dict__") and hasattr(new, "__dict__") and type(old) is type(new):
            old.__dict__.clear()
            old.__dict__.update(new.__dict__)


# -- running tests ---------------------------------------------------------------------------
def _exec_prefix(prefix: str, ns: "dict[str, Any]") -> bool:
    """The trusted prompt header; a prompt that ends in a bare ``def`` gets a ``pass`` body."""
    for text in (prefix, prefix + "\n    pass\n"):
        try:
            exec(compile(text, "<prompt>", "exec"), ns)
            return True
        except SyntaxError:
            continue
        except Exception:  # a broken header leaves the tests its own names only
            return False
    return False


def _trusted_classes(ns: "dict[str, Any]") -> "tuple[type, ...]":
    return tuple(v for v in ns.values() if isinstance(v, type) and v.__module__ == "__tests__")


def _namespace(name: str) -> "dict[str, Any]":
    """A real module's dict: ``@dataclass`` and pickling look classes up in ``sys.modules``."""
    module = type(sys)(name)
    sys.modules[name] = module
    return module.__dict__


def _outcome(exc: BaseException) -> "tuple[str, str]":
    if isinstance(exc, Raised):
        return "raised", exc.args[0] if exc.args else "Exception"
    if isinstance(exc, Refused):
        return "unserializable", str(exc)[:200]
    if isinstance(exc, AssertionError):
        return "assert", str(exc)[:200]
    return "error", f"{type(exc).__name__}: {str(exc)[:200]}"


def _run_test(kind: str, source: str, tns: "dict[str, Any]", index: int, seed: int) -> "Any":
    if _random:
        _random.seed(seed * 1000003 + index)
    if kind == "case":
        return eval(compile(source, f"<case {index}>", "eval"), tns)
    exec(compile(source, f"<test {index}>", "exec"), tns)
    return None


# -- the candidate process -------------------------------------------------------------------
def _read_exact(fd: int, n: int) -> "bytes | None":
    chunks, left = [], n
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> "tuple[str, str]":
    try:
        return type(exc).__name__, str(exc)[:300]
    except BaseException:  # the candidate's own __str__ may fail
        return type(exc).__name__, ""


class Candidate:
    """The forked process that loads the program and answers calls (see the module docstring)."""

    def __init__(self, doc: "dict[str, Any]", rfd: int, wfd: int, tns: "dict[str, Any]") -> None:
        self.doc, self.rfd, self.wfd = doc, rfd, wfd
        self.objects: dict[int, Any] = {}  # what `new` requests made, by their id
        self.entry_obj: list[Any] = []  # the entry point's instance, once made
        self.trusted = _trusted_classes(tns)  # the prompt's classes decode the arguments
        self.ns = _namespace("solution")
        self.classes = {c.__name__: c for c in self.trusted}

    def send(self, reply: "Reply") -> None:
        line = dumps(reply).encode("ascii") + b"\n"
        view = memoryview(line)
        while view:
            view = view[os.write(self.wfd, view) :]

    def serve(self) -> None:
        try:
            exec(compile(self.doc["program"], "solution.py", "exec"), self.ns)
        except BaseException as exc:  # reported; the tests cannot run
            name, msg = _describe(exc)
            self.send({"load": False, "exc": name, "msg": msg})
            return
        self.send({"load": True})
        while True:
            head = _read_exact(self.rfd, 8)
            if head is None:
                return
            body = _read_exact(self.rfd, int(head, 16))
            if body is None:
                return
            self.send(self.answer(marshal.loads(body)))  # from the judge only

    def target(self, req: "Request") -> "Any":
        name, attr, kind = req["n"], req.get("a"), req["k"]
        oid = req.get("o")
        if kind == "call" and oid is not None:
            return getattr(self.objects[oid], attr)  # type: ignore[arg-type]  # a str with "o"
        if name != "candidate":
            return self.ns[name]
        cls, _, method = self.doc["entry"].rpartition(".")
        if not cls:
            return self.ns[self.doc["entry"]]
        if not self.entry_obj:
            self.entry_obj.append(self.ns[cls]())
        return getattr(self.entry_obj[0], method)

    def answer(self, req: "Request") -> "Reply":
        try:
            fn = self.target(req)
            args, kwargs = decode(req["x"], self.classes, builders=self.ns)
        except BaseException as exc:  # a missing name or a stand-in the program cannot build
            name, msg = _describe(exc)
            return {"exc": "NameError" if name in ("KeyError", "AttributeError") else name,
                    "msg": msg}  # fmt: skip
        pre = encode([list(args), kwargs], self.trusted)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # the outcome of this call, whatever it is
            name, msg = _describe(exc)
            return {"exc": name, "msg": msg}
        reply: Reply = {}
        post = encode([list(args), kwargs], self.trusted)
        if post != pre:
            reply["m"] = post
        if req["k"] == "new":
            self.objects[req["id"]] = result  # type: ignore[index]  # an int with "new"
        else:
            reply["v"] = encode(result, self.trusted)
        return reply


# -- the judge process: remote proxies -------------------------------------------------------
MAX_REPLY = 8 << 20  # one call's encoded result; past it the candidate is killed (OLE)


class Stop(BaseException):
    """The candidate was killed (limit) or died: the test in flight ends, whatever it catches."""


class Remote:
    """The judge's side of the candidate process: calls, and the per-test limits."""

    def __init__(self, pid: int, wfd: int, rfd: int, cpu_s: float, wall_s: float) -> None:
        self.pid, self.wfd, self.rfd = pid, wfd, rfd
        self.cpu_s, self.wall_s = cpu_s, wall_s
        self.clock = ((~pid) << 3) | 2  # the process CPU clock of `pid` (CPUCLOCK_SCHED)
        self.buf = bytearray()
        self.test: tuple[float, float] | None = None  # (cpu, wall) at its start while one runs
        # (cpu, wall) when a window of calls was sent ahead (`_send_window`)
        self.window: tuple[float, float] | None = None
        # ("tle", "cpu"|"wall"), ("ole", why), ("died", status text) or ("retry", why), once
        self.failure: _Failure | None = None
        self.next_id = 0

    def cpu(self) -> float:
        try:
            return time.clock_gettime(self.clock)
        except OSError:  # gone
            return 0.0

    def begin(self) -> None:
        self.test = (self.cpu(), time.monotonic())

    def end(self) -> "tuple[float, float]":
        assert self.test is not None  # called while a test runs
        cpu0, wall0 = self.test
        self.test = None
        return max(0.0, self.cpu() - cpu0), time.monotonic() - wall0

    def lap(self) -> "tuple[float, float]":
        """A windowed call's (cpu, wall) since the previous reply was read; the next starts."""
        cpu, wall = self.cpu(), time.monotonic()
        assert self.test is not None  # a window runs
        cpu0, wall0 = self.test
        self.test = (cpu, wall)
        return max(0.0, cpu - cpu0), wall - wall0

    def check(self) -> None:
        if self.failure is not None:
            return
        if self.window is not None:  # the whole window within one test's limits, or unbatched
            cpu0, wall0 = self.window
            if self.cpu() - cpu0 > self.cpu_s or time.monotonic() - wall0 > self.wall_s:
                self.kill(("retry", "the calls sent ahead took over one test's limit"))
            return
        if self.test is None:
            return
        cpu0, wall0 = self.test
        if self.cpu() - cpu0 > self.cpu_s:
            self.kill(("tle", "cpu"))
        elif time.monotonic() - wall0 > self.wall_s:
            self.kill(("tle", "wall"))

    def kill(self, why: "_Failure") -> "NoReturn":
        self.failure = self.failure or why
        try:  # noqa: SIM105 (contextlib costs an import per run)
            os.kill(self.pid, 9)
        except OSError:
            pass
        raise Stop(why)

    def died(self) -> "NoReturn":
        try:
            _, status = os.waitpid(self.pid, 0)
        except OSError:
            status = 0
        if os.WIFSIGNALED(status):
            text = f"killed by signal {os.WTERMSIG(status)}"
        else:
            text = f"exited with code {os.WEXITSTATUS(status)} during the call"
        self.failure = self.failure or ("died", text)
        raise Stop(text)

    def call(self, req: "Request") -> "dict[str, Any]":
        if self.failure is not None:
            raise Stop(self.failure)
        self.check()
        data = marshal.dumps(req)  # type: ignore[arg-type]  # a TypedDict is a dict
        try:
            os.write(self.wfd, b"%08x" % len(data) + data)  # the candidate reads it whole
        except OSError:
            self.died()
        return self.reply()

    def reply(self) -> "dict[str, Any]":
        """The candidate's next answer as parsed: a `Reply` by claim only (it is the candidate's;
        every field the judge uses is checked there)."""
        buf = self.buf
        while True:
            nl = buf.find(b"\n")
            if nl >= 0:
                line = bytes(buf[:nl])
                del buf[: nl + 1]
                return self.parse(line)
            if len(buf) > MAX_REPLY:
                self.kill(("ole", f"a result over {MAX_REPLY} bytes"))
            if select.select([self.rfd], [], [], 0.02)[0]:
                chunk = os.read(self.rfd, 1 << 20)
                if not chunk:
                    self.died()
                buf += chunk
            else:
                self.check()

    @staticmethod
    def parse(line: bytes) -> "dict[str, Any]":
        try:
            doc = loads(line.decode("ascii"))
        except (ValueError, RecursionError, MemoryError, StopIteration, UnicodeDecodeError):
            doc = None
        return doc if isinstance(doc, dict) else {"exc": "malformed reply"}


def _mutated(
    args: "tuple[Any, ...]", kwargs: "dict[str, Any]", node: "Node", classes: "dict[str, type]"
) -> None:
    try:  # noqa: SIM105
        _apply_mutation(args, kwargs, decode(node, classes))
    except Exception:  # a malformed claim changes nothing of the tests
        pass


class RemoteFunc:
    def __init__(
        self,
        remote: Remote,
        name: str,
        classes: "dict[str, type]",
        obj: "tuple[str, int] | None" = None,
    ) -> None:
        self._r, self._name, self._classes, self._obj = remote, name, classes, obj

    def __call__(self, *args: "Any", **kwargs: "Any") -> "Any":
        return _remote_call(self._r, self._classes, "call", self._name, self._obj, args, kwargs)


def _remote_call(
    remote: Remote,
    classes: "dict[str, type]",
    kind: "Literal['call', 'new']",
    name: str,
    obj: "tuple[str, int] | None",
    args: "tuple[Any, ...]",
    kwargs: "dict[str, Any]",
    new_id: "int | None" = None,
) -> "Any":
    attr, oid = None, None
    if obj is not None:
        name, attr, oid = obj[0], name, obj[1]
    x = encode([list(args), kwargs], tuple(classes.values()))
    req: Request = {"k": kind, "n": name, "a": attr, "o": oid, "x": x, "id": new_id}
    return _finish(remote.call(req), classes, kind, args, kwargs)


def _finish(
    reply: "dict[str, Any]",
    classes: "dict[str, type]",
    kind: str,
    args: "tuple[Any, ...]",
    kwargs: "dict[str, Any]",
) -> "Any":
    """A call's reply as the tests see it: mutations applied, the candidate's exception raised,
    the value decoded (a copy; never an object the candidate made)."""
    if "m" in reply:
        _mutated(args, kwargs, reply["m"], classes)
    if "exc" in reply:
        name = str(reply["exc"])[:100]
        raise _raised(name)(name)
    if kind == "new":
        return None
    try:
        value = decode(reply.get("v"), classes)
    except Exception as exc:  # a malformed value is the candidate's
        raise Refused(f"malformed value ({type(exc).__name__})") from None
    if _REFUSE[0] and _contains_unserializable(value):
        raise Refused(repr(value))
    return value


class RemoteClass:
    def __init__(self, remote: Remote, name: str, classes: "dict[str, type]") -> None:
        self._r, self._name, self._classes = remote, name, classes

    def __call__(self, *args: "Any", **kwargs: "Any") -> "RemoteInstance":
        oid = self._r.next_id
        self._r.next_id += 1
        _remote_call(self._r, self._classes, "new", self._name, None, args, kwargs, new_id=oid)
        return RemoteInstance(self._r, (self._name, oid), self._classes)


class RemoteInstance:
    def __init__(self, remote: Remote, obj: "tuple[str, int]", classes: "dict[str, type]") -> None:
        object.__setattr__(self, "_p", (remote, obj, classes))

    def __getattr__(self, attr: str) -> RemoteFunc:
        remote, obj, classes = object.__getattribute__(self, "_p")
        if attr.startswith("__"):
            raise AttributeError(attr)
        return RemoteFunc(remote, attr, classes, obj)


# -- the judge process: tests ----------------------------------------------------------------
_REFUSE = [True]  # an unencodable result fails an assert; a case reports it (compared: WA)


def _bind(
    doc: "dict[str, Any]", tns: "dict[str, Any]", remote: Remote, classes: "dict[str, type]"
) -> None:
    """Remote proxies for the candidate names the verifier decided (``doc["bound"]``); stdlib
    modules the tests use without importing them (MBPP 596's ``sys``) by their own name."""
    for name, kind in doc.get("bound", {}).items():
        if kind == "data":
            tns[name] = type(name, (StandIn,), {})
        elif kind == "class":
            tns[name] = RemoteClass(remote, name, classes)
        else:
            tns[name] = RemoteFunc(remote, name, classes)
    bound = doc.get("bound", {})
    for name in doc.get("modules", ()):  # a module name is never the candidate's function
        if name in sys.stdlib_module_names and (name not in tns or name in bound):
            try:  # noqa: SIM105
                tns[name] = __import__(name)
            except Exception:  # not in this Python: the tests that use it fail
                pass


def _no_dump() -> None:
    """``prctl(PR_SET_DUMPABLE, 0)`` through `_ctypes` (0.5 ms; `ctypes` costs 20 ms): the
    candidate process, same uid, can then neither read this process's memory nor its fds."""
    import _ctypes

    class Int(_ctypes._SimpleCData):
        _type_ = "i"

    class Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = Int

    class Lib:
        _handle = _ctypes.dlopen(None, 2)  # type: ignore[arg-type]  # NULL: our own symbols

    if Fn(("prctl", Lib()))(4, 0, 0, 0, 0) != 0:  # type: ignore[arg-type]  # a CDLL's _handle
        raise OSError("prctl(PR_SET_DUMPABLE, 0) failed")


def _fork(doc: "dict[str, Any]", chan_fd: int, tns: "dict[str, Any]") -> "tuple[int, int, int]":
    """Fork the candidate process (it never returns here); the judge's (pid, wfd, rfd)."""
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(req_r)
        os.close(rep_w)
        return pid, req_w, rep_r
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # the rest of stdin (the tests) stays with the judge
        os.dup2(2, 1)  # what the candidate prints goes to stderr, never to the channel
        os.dup2(req_r, 3)
        os.dup2(rep_w, 4)
        # The channel, the pipes' other ends: nothing else stays open (up to RLIMIT_NOFILE: a
        # fixed 65536 costs 65,000 close() calls where seccomp refuses close_range).
        os.closerange(5, max(64, os.sysconf("SC_OPEN_MAX")))
        Candidate(doc, 3, 4, tns).serve()
    finally:
        os._exit(0)


def judge(doc: "dict[str, Any]", chan: Channel, remote: Remote, tns: "dict[str, Any]") -> None:
    trusted = _trusted_classes(tns)
    classes = {c.__name__: c for c in trusted}
    _bind(doc, tns, remote, classes)
    load: dict[str, Any] = remote.reply() if remote.failure is None else {"load": False}
    if not load.get("load"):
        if "exc" not in load:  # the candidate process died while loading: the run's status
            os._exit(1)
        chan.send({"t": "load", "ok": False, "exc": load.get("exc"), "msg": load.get("msg")})
        return
    try:
        if doc.get("setup"):
            exec(compile(doc["setup"], "<setup>", "exec"), tns)
    except BaseException as exc:  # setup over the candidate's classes failed
        why = remote.failure[1] if remote.failure else type(exc).__name__
        chan.send({"t": "load", "ok": False, "exc": why, "msg": str(exc)[:500]})
        return
    chan.send({"t": "load", "ok": True})
    _expected(doc, tns, trusted, chan)
    _tests(doc, tns, trusted, chan, remote)


def _expected(
    doc: "dict[str, Any]", tns: "dict[str, Any]", trusted: "tuple[type, ...]", chan: Channel
) -> None:
    """Non-literal expected values of cases, evaluated here (trusted code, no candidate)."""
    for index, source in sorted(doc.get("expected", {}).items(), key=lambda kv: int(kv[0])):
        try:
            value = eval(compile(source, f"<expected {index}>", "eval"), tns)
            chan.send({"t": "exp", "i": int(index), "v": encode(value, trusted)})
        except Exception as exc:  # a dataset fault, reported as such
            chan.send({"t": "exp", "i": int(index), "err": f"{type(exc).__name__}: {exc}"[:300]})


def _tests(
    doc: "dict[str, Any]",
    tns: "dict[str, Any]",
    trusted: "tuple[type, ...]",
    chan: Channel,
    remote: Remote,
) -> None:
    tests: list[_Test] = [
        *(("case", c) for c in doc.get("cases", [])),
        *(("assert", a) for a in doc["asserts"]),
    ]
    start, seed = doc.get("start", 0), doc.get("seed", 0)
    skip = set(doc.get("skip", ()))
    batch = doc.get("batch", {})
    ahead: deque[_Ahead] = deque()  # calls sent ahead, answered in order
    for index, (kind, source) in enumerate(tests):
        if index in skip or (kind == "case" and index < start):
            continue  # restarted after a test that killed the candidate (all-tests mode)
        out: Res = {"t": "res", "i": index, "kind": kind, "ok": True}
        _REFUSE[0] = kind != "case"
        try:
            if not ahead and index in batch:
                ahead = _send_window(tests, index, skip, batch, tns, remote)
            if ahead:
                value = _windowed(ahead, remote, index, out)
            else:
                remote.begin()
                value = _run_test(kind, source, tns, index, seed)
            if kind == "case":
                out["v"] = encode(value, trusted)
        except BaseException as exc:  # the test's outcome (Stop: see remote.failure)
            out["ok"] = False
            out["why"], out["msg"] = _outcome(exc)
        if "cpu" not in out:
            cpu, wall = remote.end() if remote.test else (0.0, 0.0)
            out["cpu"], out["wall"] = round(cpu, 6), round(wall, 6)
        if remote.failure is not None:
            what, why = remote.failure
            chan.send({"t": what, "i": index, "why": why, "cpu": out["cpu"], "wall": out["wall"]})
            os._exit(1 if what == "died" else 0)  # a death: the run's status says MLE or RE
        if index >= start:
            chan.send(out)
    chan.send({"t": "end", "n": len(tests)})


# -- the judge process: calls sent ahead ------------------------------------------------------
PIPE_BUF = 4096  # one write up to this into the (empty) request pipe never blocks


def _send_window(
    tests: "list[_Test]",
    index: int,
    skip: "set[int]",
    batch: "dict[int, str]",
    tns: "dict[str, Any]",
    remote: Remote,
) -> "deque[_Ahead]":
    """Write the requests of the plain cases from `index` on at once (the verifier's ``batch``:
    one call of a candidate function over literals, so building them runs nothing else and
    changes nothing); the candidate answers them in order. Empty when fewer than two fit.

    The window shares one test's limits: if its calls together pass ``test_cpu_s`` or
    ``test_wall_s``, the candidate is killed (``retry``) and the verifier runs the tests from the
    first unanswered one again, one call at a time. So every windowed test accepted took at most
    one test's limits (the CPU reported for each is measured between the replies as the judge
    reads them; their sum is exact)."""
    ahead: deque[_Ahead] = deque()
    frames, size, i = [], 0, index
    while i < len(tests) and i in batch and i not in skip:
        item = _plain_request(tests[i][1], batch[i], tns, i)
        if item is None or size + len(item[0]) > PIPE_BUF:
            break
        frames.append(item[0])
        ahead.append((i, *item[1:]))
        size, i = size + len(item[0]), i + 1
    if len(ahead) < 2 or remote.failure is not None:
        return deque()
    remote.window = remote.test = (remote.cpu(), time.monotonic())
    try:
        os.write(remote.wfd, b"".join(frames))
    except OSError:
        remote.died()
    return ahead


def _capture(*args: "Any", **kwargs: "Any") -> "tuple[tuple[Any, ...], dict[str, Any]]":
    return args, kwargs


def _plain_request(
    source: str, name: str, tns: "dict[str, Any]", index: int
) -> "tuple[bytes, tuple[Any, ...], dict[str, Any], dict[str, type]] | None":
    """(framed request, args, kwargs, classes) of a plain case, or None to run it as written."""
    fn = tns.get(name)
    if type(fn) is not RemoteFunc or fn._obj is not None:
        return None
    try:
        tns[name] = _capture
        try:
            args, kwargs = eval(compile(source, f"<case {index}>", "eval"), tns)
        finally:
            tns[name] = fn
        x = encode([list(args), kwargs], tuple(fn._classes.values()))
        data = marshal.dumps({"k": "call", "n": fn._name, "a": None, "o": None, "x": x, "id": None})
    except Exception:  # not plain after all: run as written, where its error is reported
        return None
    return b"%08x" % len(data) + data, args, kwargs, fn._classes


def _windowed(ahead: "deque[_Ahead]", remote: Remote, index: int, out: "Res") -> "Any":
    """The reply to a call sent ahead, as the test's value (see `_send_window`)."""
    i, args, kwargs, classes = ahead.popleft()
    if i != index:  # cannot happen: a window is consecutive tests
        remote.kill(("retry", "window out of order"))
    reply = remote.reply()
    remote.check()  # the window so far within one test's limits, or this test runs again
    cpu, wall = remote.lap()
    out["cpu"], out["wall"] = round(cpu, 6), round(wall, 6)
    if not ahead:
        remote.window = remote.test = None
    return _finish(reply, classes, "call", args, kwargs)


def main() -> None:
    # Non-dumpable before anything of the job is read: in a warm jail (`Job.warm`) this runs
    # ahead of the job, so the `_ctypes` import (~0.5 ms) is off the verdict's critical path.
    _no_dump()
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    head = _read_exact(0, 16)
    body = _read_exact(0, int(head, 16)) if head else None
    if body is None:
        raise SystemExit("stdin ended before the job")
    part_a = marshal.loads(body)  # written by the verifier
    chan = Channel(os.dup(1), part_a.pop("nonce"))
    os.dup2(2, 1)  # what the tests print goes to stderr, never to the channel
    # `ready` before the fork: a candidate that kills or stops this process early makes its own
    # run fail (RE/TLE), never one that "did not start" (SE, no reward).
    chan.send({"t": "ready"})
    # The prompt prefix (trusted, and the candidate's to read) runs before the fork: the modules
    # it imports (`typing`: ~8 ms) are then loaded once for both processes, not once in each.
    tns = _namespace("__tests__")
    _exec_prefix(part_a.get("prefix", ""), tns)
    gc.freeze()  # the candidate's collections then leave the shared pages alone (no copies)
    pid, wfd, rfd = _fork(part_a, chan.fd, tns)
    # The candidate can write its work dir: nothing this process imports from now on (random,
    # the tests' modules) may come from there, only from the read-only standard library.
    here = os.path.dirname(os.path.abspath(sys.argv[0]))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != here]
    sys.path_importer_cache.clear()
    chunks = []
    while chunk := os.read(0, 1 << 20):
        chunks.append(chunk)
    doc = {**part_a, **marshal.loads(b"".join(chunks))}  # the tests: read after the fork
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    if doc.get("rng", True):  # the tests mention random: seed it per test
        global _random
        import random as _random
    judge(doc, chan, Remote(pid, wfd, rfd, doc["test_cpu_s"], doc["test_wall_s"]), tns)
    os._exit(0)  # the candidate process goes with the jail


if __name__ == "__main__":
    main()
