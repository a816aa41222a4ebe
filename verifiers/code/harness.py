"""The function-call harness: this file's source *is* the program run inside the sandbox.

It is sent as ``main.py`` and run by the sandbox's Python (stdlib only, 3.11+). The verifier
process imports the same module for `decode` (the host side of the typed-JSON channel); nothing
here runs candidate code outside the sandbox.

Two modes, selected on stdin (one JSON document, read whole before any candidate code loads):

``record`` (the candidate's process)
    1. move the real stdout to a private fd (the *channel*); fd 1 becomes stderr, so what the
       candidate prints never reaches the channel; stdin is replaced by /dev/null;
    2. exec the trusted ``prefix`` (prompt header) into the *test namespace*; emit ``ready``;
    3. exec the program (prefix + candidate code) and ``setup`` into the *program namespace*;
    4. bind the candidate surface into the test namespace as recording proxies: ``candidate``,
       the entry point, and any other program-only name the tests call. A proxy calls the real
       object, encodes the result as typed JSON, records it, and hands the tests a *decoded copy*:
       the tests never touch an object the candidate made (no rigged ``__eq__``);
    5. run each case (``call`` source) and each assert item, recording values, exceptions, CPU
       and wall time per test, with a per-test CPU limit (RLIMIT_CPU, kernel-enforced) and a
       wall watchdog; emit ``end``.

``replay`` (a clean process: no candidate code at all)
    The same trusted prefix, setup and assert items run again, but every proxy returns the value
    recorded in ``record`` mode. Whether an assert holds is decided here, so a candidate that
    patches ``AssertionError``, builtins or ``math.isclose`` in its own process changes nothing.
    Non-literal expected values of cases are evaluated here too.

Channel records are lines ``<nonce> <seq> <json>``; the verifier checks nonce and sequence and
ignores everything else. The candidate can write to the channel fd (same process), but it never
sees an expected value, so a forged record can only claim a return value, which is compared
outside like any other; an early exit leaves tests without records, which the verifier scores RE.
"""

import _json  # the C half of json: no `re` import (start-up time is per run)
import _thread
import marshal
import math
import os
import sys
import time
import zlib
from _collections import deque  # not `collections`: its import costs ~0.8 ms per run

# Imported by `main` only when the program or the tests mention it (~1 ms per run otherwise).
random = None

try:  # not on every platform; the verifier side never needs it
    import resource
except ImportError:  # pragma: no cover
    resource = None  # type: ignore[assignment]

MAX_DEPTH = 200


# -- typed JSON ------------------------------------------------------------------------------
def encode(value, trusted=(), _memo=None, _depth=0):
    """A JSON-able tagged form of a plain value; anything else becomes ``["u", type name]``.

    Ints are decimal strings (arbitrary precision, never through float); floats are ``repr``;
    containers keep their type (list/tuple/set/frozenset/dict/deque); instances of ``trusted``
    classes (the prompt's ``ListNode``/``TreeNode``) are encoded field by field, with back
    references for cycles. Subclasses of builtins are encoded as their base type, which strips
    any overridden ``__eq__``.
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
    if type(value) in trusted:
        return _encode_object(value, trusted, memo, d)
    item = getattr(type(value), "item", None)
    if type(value).__module__ == "numpy" and callable(item) and getattr(value, "ndim", 1) == 0:
        return encode(value.item(), trusted, memo, d)
    return ["u", type(value).__name__]


def _sequence_tag(value):
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


def _encode_object(value, trusted, memo, depth):
    refs = memo.setdefault("__objects__", {})
    if id(value) in refs:
        return ["r", refs[id(value)]]
    refs[id(value)] = len(refs)
    fields = getattr(value, "__dict__", {})
    attrs = [[k, encode(v, trusted, memo, depth)] for k, v in list(fields.items())]
    return ["o", type(value).__name__, refs[id(value)], attrs]


def args_key(encoded_args):
    """A short digest of encoded arguments: replay matches calls by it (probes.py)."""
    text = dumps(encoded_args).encode("ascii")
    return f"{zlib.crc32(text):08x}{len(text):x}"


class Unserializable:
    """A value the encoder refused: equal to nothing (so a test comparing it fails)."""

    def __init__(self, what):
        self.what = what

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<unserializable {self.what}>"


class PlainObject:
    """An instance of a trusted class decoded where that class does not exist (the verifier)."""

    def __init__(self, cls, attrs):
        self.cls, self.attrs = cls, attrs

    def __eq__(self, other):
        return (
            isinstance(other, PlainObject) and self.cls == other.cls and self.attrs == other.attrs
        )

    __hash__ = object.__hash__

    def __repr__(self):
        return f"{self.cls}({self.attrs!r})"


_INT_CHARS = frozenset("-0123456789")


def decode(node, classes=None, _refs=None):
    """The value `encode` described; strict: a malformed node raises ValueError.

    ``classes`` maps class names to trusted classes (inside the sandbox); without it objects
    decode as `PlainObject`.
    """
    refs = {} if _refs is None else _refs
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
    if tag == "r":
        return refs[node[1]]
    if tag == "u":
        return Unserializable(str(node[1]))
    raise ValueError(f"unknown tag {tag!r}")


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return Unserializable("unhashable key")
    return value


def _decode_object(node, classes, refs):
    _, name, ref, attrs = node
    cls = (classes or {}).get(name)
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


def dumps(value):
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


# -- the channel -----------------------------------------------------------------------------
class Channel:
    """Numbered, nonce-tagged JSON lines on a private fd (see the module docstring)."""

    def __init__(self, fd, nonce):
        self.fd, self.nonce, self.seq = fd, nonce, 0
        self.lock = _thread.allocate_lock()
        self._dumps, self._write = dumps, os.write

    def send(self, record):
        with self.lock:
            line = f"{self.nonce} {self.seq} {self._dumps(record)}\n".encode()
            self.seq += 1
            view = memoryview(line)
            while view:
                view = view[self._write(self.fd, view) :]


class Raised(Exception):
    """What the candidate raised, as replayed or re-raised to the tests (type name, message)."""


class Refused(Exception):
    """The candidate returned a value the encoder refuses (replayed as a failure)."""


# -- recording proxies -----------------------------------------------------------------------
class Recorder:
    """The per-test log of candidate calls, and the proxies that fill it."""

    def __init__(self, trusted):
        self.trusted = trusted
        self.calls = []

    def call(self, name, attr, kind, fn, args, kwargs):
        pre = encode([list(args), kwargs], self.trusted)
        entry = {"n": name, "a": attr, "k": kind, "x": args_key(pre)}
        state = random.getstate() if random else None  # the tests' stream is not the candidate's
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # recorded, then re-raised as Raised
            if random:
                random.setstate(state)
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            entry.update(exc=type(exc).__name__, msg=str(exc)[:300])
            self.calls.append(entry)
            raise Raised(type(exc).__name__) from None
        if random:
            random.setstate(state)
        post = encode([list(args), kwargs], self.trusted)
        if post != pre:
            entry["m"] = post
        if kind == "new":
            self.calls.append(entry)
            return result
        encoded = encode(result, self.trusted)
        entry["v"] = encoded
        self.calls.append(entry)
        return decode(encoded, {c.__name__: c for c in self.trusted})


class FuncProxy:
    def __init__(self, rec, name, target):
        self._rec, self._name, self._target = rec, name, target

    def __call__(self, *args, **kwargs):
        try:
            target = self._target()
        except (KeyError, AttributeError, TypeError) as exc:
            self._rec.calls.append({"n": self._name, "a": None, "k": "call", "exc": "NameError"})
            raise Raised(f"NameError: {exc}") from None
        return self._rec.call(self._name, None, "call", target, args, kwargs)


class ClassProxy:
    def __init__(self, rec, name, cls):
        self._rec, self._name, self._cls = rec, name, cls

    def __call__(self, *args, **kwargs):
        obj = self._rec.call(self._name, None, "new", self._cls(), args, kwargs)
        return InstanceProxy(self._rec, self._name, obj)


class InstanceProxy:
    def __init__(self, rec, name, obj):
        object.__setattr__(self, "_p", (rec, name, obj))

    def __getattr__(self, attr):
        rec, name, obj = object.__getattribute__(self, "_p")
        if attr.startswith("__"):
            raise AttributeError(attr)

        def method(*args, **kwargs):
            return rec.call(name, attr, "call", getattr(obj, attr), args, kwargs)

        return method


# -- replay proxies --------------------------------------------------------------------------
class Diverged(Exception):
    """The tests asked for a call the record does not hold (nondeterminism or a lost record)."""


class Player:
    """Serves recorded values to the tests in the clean process."""

    def __init__(self, classes):
        self.classes = classes
        self.calls = deque()

    def next(self, name, attr, kind, args, kwargs):
        want = (
            name,
            attr,
            kind,
            args_key(encode([list(args), kwargs], tuple(self.classes.values()))),
        )
        while self.calls:
            entry = self.calls.popleft()
            if (entry.get("n"), entry.get("a"), entry.get("k"), entry.get("x")) == want:
                break
        else:
            raise Diverged(f"no recorded call of {name} with these arguments")
        if "m" in entry:
            _apply_mutation(args, kwargs, decode(entry["m"], self.classes))
        if "exc" in entry:
            raise Raised(entry["exc"])
        if kind == "new":
            return None
        value = decode(entry["v"], self.classes)
        if _contains_unserializable(value):
            raise Refused(repr(value))
        return value


def _contains_unserializable(value, depth=0):
    if isinstance(value, Unserializable):
        return True
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, (list, tuple, set, frozenset, deque)):
        return any(_contains_unserializable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_contains_unserializable(v, depth + 1) for v in value.values())
    return False


def _apply_mutation(args, kwargs, after):
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


class ReplayFunc:
    def __init__(self, player, name):
        self._player, self._name = player, name

    def __call__(self, *args, **kwargs):
        return self._player.next(self._name, None, "call", args, kwargs)


class ReplayClass:
    def __init__(self, player, name):
        self._player, self._name = player, name

    def __call__(self, *args, **kwargs):
        self._player.next(self._name, None, "new", args, kwargs)
        return ReplayInstance(self._player, self._name)


class ReplayInstance:
    def __init__(self, player, name):
        object.__setattr__(self, "_p", (player, name))

    def __getattr__(self, attr):
        player, name = object.__getattribute__(self, "_p")
        if attr.startswith("__"):
            raise AttributeError(attr)
        return lambda *a, **k: player.next(name, attr, "call", a, k)


# -- running tests ---------------------------------------------------------------------------
def _exec_prefix(prefix, ns):
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


def _trusted_classes(ns):
    return tuple(v for v in ns.values() if isinstance(v, type) and v.__module__ == "__tests__")


class Limiter:
    """Per-test CPU (RLIMIT_CPU soft limit: the kernel sends SIGXCPU) and wall (watchdog) limits."""

    def __init__(self, chan, cpu_s, wall_s):
        self.chan, self.cpu_s, self.wall_s = chan, cpu_s, wall_s
        self.current = None
        _thread.start_new_thread(self._watch, ())

    def start(self, index):
        if resource is not None:
            _, hard = resource.getrlimit(resource.RLIMIT_CPU)
            want = math.ceil(time.process_time() + self.cpu_s + 0.5)
            if hard != resource.RLIM_INFINITY:
                want = min(want, hard)
            resource.setrlimit(resource.RLIMIT_CPU, (want, hard))
        self.current = (index, time.monotonic())

    def stop(self):
        self.current = None

    def _watch(self):
        while True:  # polls: a sleeping test costs nothing, and no Condition (threading) import
            time.sleep(0.05)
            current = self.current
            if current is not None and time.monotonic() - current[1] > self.wall_s:
                self.chan.send({"t": "tle", "i": current[0], "why": "wall"})
                os._exit(0)


def _outcome(exc):
    if isinstance(exc, Raised):
        return "raised", exc.args[0] if exc.args else "Exception"
    if isinstance(exc, Refused):
        return "unserializable", str(exc)[:200]
    if isinstance(exc, Diverged):
        return "diverged", str(exc)[:200]
    if isinstance(exc, AssertionError):
        return "assert", str(exc)[:200]
    return "error", f"{type(exc).__name__}: {str(exc)[:200]}"


def _bind_record(doc, tns, ns, rec):
    """Recording proxies for the candidate surface the verifier decided (``doc["bound"]``)."""
    entry = doc.get("entry") or ""
    cls_name, _, method = entry.rpartition(".")
    holder = {}

    def method_target():
        if "obj" not in holder:
            holder["obj"] = ns[cls_name]()
        return getattr(holder["obj"], method)

    for name, kind in doc.get("bound", {}).items():
        if name == "candidate":
            target = method_target if cls_name else (lambda: ns[entry])
            tns[name] = FuncProxy(rec, name, target)
        elif kind == "data":
            tns[name] = ns.get(name)  # builds the tests' inputs; replayed as a stand-in
        elif kind == "class":
            tns[name] = ClassProxy(rec, name, lambda name=name: ns[name])
        else:
            tns[name] = FuncProxy(rec, name, lambda name=name: ns[name])


def _bind_replay(bound, tns, player):
    for name, kind in bound.items():
        if kind == "data":
            tns[name] = type(name, (_StandIn,), {})
        else:
            tns[name] = ReplayClass(player, name) if kind == "class" else ReplayFunc(player, name)


class _StandIn:
    """Replay stand-in for a program class the tests build inputs with: keeps what it is given;
    encodes as the same opaque marker as the real instances did, so recorded calls still match."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def _exec_imports(imports, tns):
    for text in imports:
        try:
            exec(compile(text, "<imports>", "exec"), tns)
        except Exception:  # a missing module fails the tests that use it
            continue


def _run_test(kind, source, tns, index, seed):
    if random:
        random.seed(seed * 1000003 + index)
    if kind == "case":
        return eval(compile(source, f"<case {index}>", "eval"), tns)
    exec(compile(source, f"<test {index}>", "exec"), tns)
    return None


def _namespace(name):
    """A real module's dict: ``@dataclass`` and pickling look classes up in ``sys.modules``."""
    module = type(sys)(name)
    sys.modules[name] = module
    return module.__dict__


def record(doc, chan):
    tns = _namespace("__tests__")
    _exec_prefix(doc.get("prefix", ""), tns)
    trusted = _trusted_classes(tns)
    chan.send({"t": "ready"})
    _exec_imports(doc.get("imports", []), tns)
    ns = _namespace("solution")
    rec = Recorder(trusted)
    try:
        exec(compile(doc["program"], "solution.py", "exec"), ns)
        if doc.get("setup"):
            exec(compile(doc["setup"], "<setup>", "exec"), ns)
    except BaseException as exc:  # reported; the tests cannot run
        chan.send({"t": "load", "ok": False, "exc": type(exc).__name__, "msg": str(exc)[:500]})
        return
    _bind_record(doc, tns, ns, rec)
    tns["__rlvr_probe__"] = lambda *values: None  # probes.py: asserts without expected values
    try:
        if doc.get("setup"):
            exec(compile(doc["setup"], "<setup>", "exec"), tns)
        chan.send({"t": "load", "ok": True, "calls": rec.calls})
    except BaseException as exc:
        chan.send({"t": "load", "ok": False, "exc": type(exc).__name__, "msg": str(exc)[:500]})
        return
    _record_tests(doc, tns, rec, chan)


def _record_tests(doc, tns, rec, chan):
    limiter = Limiter(chan, doc["test_cpu_s"], doc["test_wall_s"])
    tests = [("case", c) for c in doc.get("cases", [])] + [("assert", a) for a in doc["asserts"]]
    start, seed = doc.get("start", 0), doc.get("seed", 0)
    skip = set(doc.get("skip", ()))
    for index, (kind, source) in enumerate(tests):
        if index in skip or (kind == "case" and index < start):
            continue  # restarted after a test that killed the process (all-tests mode)
        rec.calls = []
        limiter.start(index)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        out = {"t": "res", "i": index, "kind": kind}
        try:
            value = _run_test(kind, source, tns, index, seed)
            out["ok"] = True
            if kind == "case":
                out["v"] = encode(value, rec.trusted)
        except BaseException as exc:  # the test's outcome, reported
            if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                raise
            out["ok"] = False
            out["why"], out["msg"] = _outcome(exc)
        limiter.stop()
        out["cpu"] = round(time.process_time() - cpu0, 6)
        out["wall"] = round(time.perf_counter() - wall0, 6)
        out["calls"] = rec.calls
        if index >= start:
            chan.send(out)
    chan.send({"t": "end", "n": len(tests)})


def replay(doc, chan):
    tns = _namespace("__tests__")
    _exec_prefix(doc.get("prefix", ""), tns)
    classes = {c.__name__: c for c in _trusted_classes(tns)}
    chan.send({"t": "ready"})
    _exec_imports(doc.get("imports", []), tns)
    player = Player(classes)
    _bind_replay(doc.get("bound", {}), tns, player)
    player.calls = deque(doc.get("setup_calls", []))
    if doc.get("setup"):
        exec(compile(doc["setup"], "<setup>", "exec"), tns)
    for index, source in sorted(doc.get("expected", {}).items(), key=lambda kv: int(kv[0])):
        try:
            value = eval(compile(source, f"<expected {index}>", "eval"), tns)
            chan.send({"t": "exp", "i": int(index), "v": encode(value, tuple(classes.values()))})
        except Exception as exc:  # a dataset fault, reported as such
            chan.send({"t": "exp", "i": int(index), "err": f"{type(exc).__name__}: {exc}"[:300]})
    seed, start = doc.get("seed", 0), doc.get("start", 0)
    for item in doc.get("items", []):
        index = item["i"]
        player.calls = deque(item["calls"])
        out = {"t": "rep", "i": index, "ok": True}
        try:
            _run_test("assert", item["source"], tns, index, seed)
        except Exception as exc:  # the verdict of this test
            out["ok"] = False
            out["why"], out["msg"] = _outcome(exc)
        if index >= start:
            chan.send(out)
    chan.send({"t": "end", "n": len(doc.get("items", []))})


def main():
    raw = sys.stdin.buffer.read()
    doc = marshal.loads(raw)  # written by the verifier, never by the candidate
    if doc.get("rng", True):  # the program or the tests mention random: seed it per test
        global random
        import random
    chan = Channel(os.dup(1), doc["nonce"])
    os.dup2(2, 1)  # what the candidate prints goes to stderr, never to the channel
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))
    if doc["mode"] == "record":
        record(doc, chan)
    else:
        replay(doc, chan)
    sys.stdout.flush()
    os._exit(0)  # no atexit handler of the candidate runs after our last record


if __name__ == "__main__":
    main()
