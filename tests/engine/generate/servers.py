"""Real HTTP servers on 127.0.0.1 for the openai backend's tests: `rlvr serve-model`'s app,
optionally behind an ASGI layer that injects faults (429, 500, hangs, refusing n > 1)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """What the next POSTs get: an HTTP status, "hang", or "ok" (popped in order; then "ok").

    refuse_n: answer 400 to any request with n > 1 (servers and APIs without `n`).
    seen: (path, body, headers) of every POST that reached the fault layer.
    """

    script: list[Any] = field(default_factory=list)
    refuse_n: bool = False
    seen: list[tuple[str, dict, dict]] = field(default_factory=list)


def with_faults(app, faults: Faults):
    async def wrapped(scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await app(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        faults.seen.append((scope["path"], request, headers))
        action = faults.script.pop(0) if faults.script else "ok"
        if faults.refuse_n and request.get("n", 1) > 1:
            action = 400
        if action == "hang":
            await asyncio.sleep(3600)
        if isinstance(action, int):
            error = json.dumps({"error": {"message": f"injected {action}"}}).encode()
            start = {"type": "http.response.start", "status": action,
                     "headers": [(b"content-type", b"application/json")]}  # fmt: skip
            await send(start)
            await send({"type": "http.response.body", "body": error})
            return None

        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await app(scope, replay, send)

    return wrapped


@contextmanager
def serving(app) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on a free 127.0.0.1 port; yield its /v1 URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="error", timeout_graceful_shutdown=1, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
