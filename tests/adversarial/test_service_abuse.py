"""Issue 9, class 6: a hostile client of ``rlvr-sandbox serve``, against a real uvicorn server on
127.0.0.1. The attacks: limits far above what the operator allows (100 GB of memory, Infinity CPU
seconds, a terabyte of output), malformed bodies, huge and slow bodies, deep nesting, thousands of
files, hostile file names, wrong tokens, a flood of requests. Each is answered with a 4xx and a
JSON error (never a 500), leaves no tmpfs mount or work dir behind, and each has its control: a
valid request on the same server still runs with the right output.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn

from sandbox.service import ServiceConfig, create_app
from tests.sandbox.conftest import leftovers, needs_bwrap

pytestmark = needs_bwrap

CAP_OUT = 1 << 16
CONFIG = dict(
    max_memory_mb=256,
    max_cpu_s=5,
    max_output_bytes=CAP_OUT,
    max_body_bytes=1 << 20,
    max_response_bytes=1 << 20,
    concurrency=2,
    queue=2,
    body_timeout_s=1.0,
)
GOOD = {"code": "print(sum(map(int, input().split())))", "language": "python", "stdin": "2 40"}


class Server:
    """uvicorn serving `create_app(config)` on a free loopback port, in a thread."""

    def __init__(self, **config) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        app = create_app(ServiceConfig(**config))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def raw(self, data: bytes, *, pause_s: float = 0.0) -> tuple[int, bytes]:
        """Send bytes as they are (lying headers, partial bodies); the status and the body."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(data)
            time.sleep(pause_s)
            s.shutdown(socket.SHUT_WR) if not pause_s else None
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        return int(head.split()[1]), body


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server(**CONFIG)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def secured() -> Iterator[Server]:
    s = Server(**CONFIG, token="s3cret-token")
    yield s
    s.stop()


def post_raw(server: Server, path: str, body: str | bytes, **headers: str) -> httpx.Response:
    data = body.encode() if isinstance(body, str) else body
    return server.http.post(
        path, content=data, headers={"content-type": "application/json", **headers}
    )


def refused(r: httpx.Response, *statuses: int) -> dict:
    """A 4xx (one of ``statuses``) whose body is a JSON object with an ``error`` string."""
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    data = r.json()
    assert isinstance(data["error"], str) and data["error"]
    return data


def assert_control(server: Server) -> None:
    """The same server still runs a valid request with the right output."""
    r = server.http.post("/run_code", json=GOOD)
    assert r.status_code == 200 and r.json()["run_result"]["stdout"] == "42\n", r.text


@pytest.fixture
def clean(server: Server) -> Iterator[None]:
    """Nothing of the test's requests stays on the host, and the server still serves."""
    before = leftovers()
    yield
    assert leftovers() == before
    assert_control(server)


# --- the attacks the issue names --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/run_code", {**GOOD, "memory_limit_MB": 100 * 1024}),  # 100 GB, SandboxFusion field
        (
            "/v1/jobs",
            {
                "jobs": [
                    {
                        "language": "python",
                        "files": {"main.py": "print(1)"},
                        "limits": {"memory_mb": 100 * 1024},
                        "runs": [{}],
                    }
                ]
            },
        ),
        (
            "/v1/jobs",
            {
                "jobs": [
                    {
                        "language": "python",
                        "files": {"main.py": "print(1)"},
                        "runs": [{"limits": {"memory_mb": 10**40}}],
                    }
                ]
            },
        ),
        (
            "/v1/jobs",
            {
                "jobs": [
                    {
                        "language": "c",
                        "files": {"main.c": "int main(){}"},
                        "compile_limits": {"memory_mb": 100 * 1024},
                    }
                ]
            },
        ),
    ],
)
def test_100_gb_of_memory_is_refused(server: Server, clean, path: str, body: dict) -> None:
    data = refused(server.http.post(path, json=body), 422)
    assert "memory" in data["error"] and "256" in data["error"]
    # control: the same request within the cap runs
    ok = {**GOOD, "memory_limit_MB": 256}
    assert server.http.post("/run_code", json=ok).json()["run_result"]["stdout"] == "42\n"


@pytest.mark.parametrize(
    "value",
    ["Infinity", "-Infinity", "NaN", "1e999", "1e308", "-1", "0", '"10"', "true", "[1]", "{}"],
)
@pytest.mark.parametrize("field", ["run_timeout", "compile_timeout"])
def test_infinite_or_nonsense_cpu_time_is_refused(
    server: Server, clean, field: str, value: str
) -> None:
    body = f'{{"code": "print(1)", "language": "python", "{field}": {value}}}'
    data = refused(post_raw(server, "/run_code", body), 422)
    assert field in data["error"] and data["status"] == "SandboxError"
    jobs = (
        '{"jobs": [{"language": "python", "files": {"main.py": "print(1)"}, '
        f'"limits": {{"cpu_s": {value}}}, "runs": [{{}}]}}]}}'
    )
    assert "cpu_s" in refused(post_raw(server, "/v1/jobs", jobs), 422)["error"]


def test_a_terabyte_of_output_is_refused_or_cut_at_the_cap(server: Server, clean) -> None:
    ask = {"language": "python", "files": {"main.py": "print(1)"}, "runs": [{}]}
    for limits in ({"output_bytes": 10**12}, {"output_bytes": 1 << 40, "file_size_bytes": 1}):
        data = refused(
            server.http.post("/v1/jobs", json={"jobs": [{**ask, "limits": limits}]}), 422
        )
        assert "output_bytes" in data["error"]
    # a program that would write a terabyte: the server holds at most the cap of it
    flood = (
        "import os\nb = b'x' * (1 << 20)\nfor _ in range(1 << 20): os.write(1, b); os.write(2, b)"
    )
    r = server.http.post("/run_code", json={"code": flood, "language": "python", "run_timeout": 5})
    run = r.json()["run_result"]
    assert r.status_code == 200 and r.json()["status"] == "Failed"
    assert 0 < len(run["stdout"]) <= CAP_OUT and len(run["stderr"]) <= CAP_OUT
    assert len(r.content) < 4 * CAP_OUT  # the whole answer, JSON and all
    batch = {"jobs": [{"language": "python", "files": {"main.py": flood}, "runs": [{}] * 40}]}
    r = server.http.post("/v1/jobs", json=batch)
    result = r.json()["results"][0]
    assert r.status_code == 200 and "stopped" in result and len(result["runs"]) < 40
    assert all(x["status"] == "output_limit" for x in result["runs"])
    assert len(r.content) < 8 * CONFIG["max_response_bytes"]


MALFORMED = [
    b"",  # empty
    b"{",  # cut short
    b"null",  # JSON, not an object
    b"[]",
    b'"jobs"',
    b"\xff\xfe\x00{",  # not UTF-8
    b'{"jobs": null}',
    b'{"jobs": [null]}',
    b'{"jobs": [{"language": null, "files": {}}]}',
    b'{"jobs": [{"language": "python", "files": {"main.py": 5}}]}',
    b'{"jobs": [{"language": "python", "files": ["main.py"]}]}',
    b'{"jobs": [{"language": "python", "files": {"main.py": ""}, "runs": [{"stdin": []}]}]}',
    b'{"jobs": [{"language": "python", "files": {"main.py": ""}, "runs": {"0": {}}}]}',
    b'{"code": "x", "language": "python", "memory_limit_MB": 1' + b"0" * 5000 + b"}",
    b'{"code": "x", "language": "python", "files": {"a": 5}}',
    b'{"code": "x", "language": "python", "fetch_files": "out.txt"}',
    b'{"code": "x", "language": "python", "stdin": {"a": 1}}',
    b'{"code": "x", "language": ["python"]}',
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
@pytest.mark.parametrize("path", ["/v1/jobs", "/run_code"])
def test_malformed_bodies_get_4xx_json_not_500(server: Server, clean, path: str, body) -> None:
    refused(post_raw(server, path, body), 400, 422)


def test_no_leftovers_after_a_burst_of_failing_requests(server: Server) -> None:
    """Fail before the jail (bad base64, unknown language, names), inside it (compile error),
    and half-way through setting it up (files that overflow the work dir's size or inodes)."""
    big = "x" * (600 << 10)
    job = {"language": "python", "files": {"main.py": "print(1)"}}
    burst = [
        ("/run_code", {"code": "int main(){ nope }", "language": "cpp"}),
        ("/run_code", {"code": "x", "language": "brainfuck"}),
        ("/run_code", {"code": "x", "language": "python", "files": {"in": "!!!"}}),
        ("/run_code", {"code": "x", "language": "python", "files": {"/etc/x": ""}}),
        ("/run_code", {"code": "x", "language": "python", "files": {"d": "", "d/e": ""}}),
        (
            "/v1/jobs",
            {
                "jobs": [
                    {**job, "runs": [{"files": {"a": big, "b": big}, "limits": {"workdir_mb": 1}}]}
                ]
            },
        ),
        (
            "/v1/jobs",
            {
                "jobs": [
                    {
                        **job,
                        "runs": [
                            {
                                "files": {f"f{i}": "" for i in range(200)},
                                "limits": {"workdir_mb": 1},
                            }
                        ],
                    }
                ]
            },
        ),
        (
            "/v1/jobs",
            {
                "jobs": [
                    {
                        "language": "c",
                        "files": {"main.c": big + big},
                        "compile_limits": {"workdir_mb": 1},
                    }
                ]
            },
        ),
    ]
    before = leftovers()
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda pb: server.http.post(pb[0], json=pb[1]), burst * 3))
    for r in replies:
        assert r.status_code < 500, r.text[:300]
        body = r.json()
        assert "error" in body or body.get("status") == "Failed" or "error" in body["results"][0]
    assert leftovers() == before
    assert_control(server)


# --- attacks of our own -----------------------------------------------------------------------


def test_huge_bodies_declared_lied_or_streamed_are_413(server: Server, clean) -> None:
    cap = CONFIG["max_body_bytes"]
    big = json.dumps({**GOOD, "code": "#" * (cap + 10)}).encode()
    refused(post_raw(server, "/run_code", big), 413)  # declared honestly

    def chunks() -> Iterator[bytes]:  # chunked: no Content-Length to refuse up front
        yield b'{"code": "'
        for _ in range(4):
            yield b"#" * cap
        yield b'", "language": "python"}'

    refused(server.http.post("/run_code", content=chunks()), 413)
    huge = "9" * 40  # a Content-Length no int64 holds
    head = f"POST /run_code HTTP/1.1\r\nHost: x\r\nContent-Length: {huge}\r\n\r\n".encode()
    status, _ = server.raw(head + b"{}")
    assert status in (400, 413)
    # control: a body just under the cap is read and run
    assert (
        server.http.post("/run_code", json={**GOOD, "code": GOOD["code"] + " " * 1000}).json()[
            "run_result"
        ]["stdout"]
        == "42\n"
    )


def test_deeply_nested_json_is_400_not_a_crash(server: Server, clean) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    refused(post_raw(server, "/v1/jobs", deep), 400, 413)
    nested = '{"jobs": [{"language": "python", "files": {"main.py": ""}, "runs": [{"args": '
    nested += "[" * 50_000 + "]" * 50_000 + "}]}]}"
    refused(post_raw(server, "/v1/jobs", nested), 400, 422)


def test_thousands_of_files_are_refused_before_any_is_written(server: Server, clean) -> None:
    files = {f"f{i}.txt": "" for i in range(5000)}
    refused(server.http.post("/run_code", json={**GOOD, "files": files}), 413, 422)
    job = {"language": "python", "files": {"main.py": "print(1)"}, "runs": [{"files": files}]}
    refused(server.http.post("/v1/jobs", json={"jobs": [job]}), 413)
    # control: a handful of files is fine and reaches the program
    few = {f"f{i}.txt": "eA==" for i in range(5)}
    code = "import os; print(sorted(f for f in os.listdir('.') if f.startswith('f')))"
    r = server.http.post("/run_code", json={"code": code, "language": "python", "files": few})
    assert r.json()["run_result"]["stdout"] == str(sorted(few)) + "\n"


HOSTILE_NAMES = [
    "../../tmp/{tag}",  # climbs out of the work dir
    "/tmp/{tag}",  # absolute
    "a/../../{tag}",  # climbs in the middle
    "x\x00/tmp/{tag}",  # NUL: C truncates here
    "-o/tmp/{tag}",  # an option to the compiler
    "@{tag}",  # a gcc response file
    "./{tag}",
    "ü{tag}",  # non-ASCII
    "a\n{tag}",  # a newline in a name
    "",  # empty
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_file_names_never_reach_the_host(server: Server, clean, name: str) -> None:
    tag = f"rlvr-pwned-{uuid.uuid4().hex}"
    name = name.format(tag=tag)
    r = server.http.post("/run_code", json={**GOOD, "files": {name: "eA=="}})
    refused(r, 422)
    job = {"language": "c", "files": {name: "int main(){return 0;}"}, "main": name, "runs": [{}]}
    run_file = {"language": "python", "files": {"main.py": "print(1)"},
                "runs": [{"files": {name: "x"}}]}  # fmt: skip
    r = server.http.post("/v1/jobs", json={"jobs": [job, run_file]})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:  # content problems are per-job errors; no job ran
        assert all("error" in x for x in r.json()["results"]), r.text
    assert not list(Path("/tmp").glob(f"*{tag}*")) and not Path(f"/{tag}").exists()
    # control: a nested relative name is fine and reaches the program
    ok = {"code": "print(open('data/in.txt').read())", "language": "python",
          "files": {"data/in.txt": "eA=="}}  # fmt: skip
    assert server.http.post("/run_code", json=ok).json()["run_result"]["stdout"] == "x\n"


def test_a_slow_body_is_cut_off_with_408(server: Server, clean) -> None:
    head = b"POST /run_code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status, body = server.raw(head + b"Content-Length: 100\r\n\r\n{", pause_s=2.0)
    assert status == 408 and "body" in json.loads(body)["error"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,  # no header
        "Bearer wrong",
        "Bearer s3cret-token-and-more",  # a longer token with the right prefix
        "Bearer s3cret-toke",  # a prefix of the token
        "bearer s3cret-token",  # the scheme is case-sensitive here: send it as documented
        "Bearer  s3cret-token",  # two spaces
        "Basic czNjcmV0LXRva2Vu",  # another scheme
        "s3cret-token",  # no scheme
    ],
)
def test_wrong_tokens_are_401_before_anything_runs(secured: Server, authorization) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    marker = f"/tmp/rlvr-token-{uuid.uuid4().hex}"
    body = {**GOOD, "code": f"open({marker!r}, 'w')"}
    data = refused(secured.http.post("/run_code", json=body, headers=headers), 401)
    assert data["status"] == "SandboxError"
    refused(secured.http.post("/v1/jobs", content=b"not json", headers=headers), 401)
    refused(secured.http.get("/run_code?token=s3cret-token", headers=headers), 401)
    # controls: the right token runs, and /healthz needs none
    right = {"Authorization": "Bearer s3cret-token"}
    r = secured.http.post("/run_code", json=GOOD, headers=right)
    assert r.status_code == 200 and r.json()["run_result"]["stdout"] == "42\n"
    assert secured.http.get("/healthz").json()["ok"] is True


def test_a_flood_gets_429_with_retry_after_and_the_server_recovers(server: Server, clean) -> None:
    """More concurrent requests than concurrency + queue: the rest are refused at once, none is
    a 500, and every admitted one gives the right answer."""
    slow = {"code": "import time; time.sleep(0.5); print(input())", "language": "python"}

    def one(i: int) -> httpx.Response:
        return server.http.post("/run_code", json={**slow, "stdin": str(i)})

    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(one, range(12)))
    codes = [r.status_code for r in replies]
    assert set(codes) <= {200, 429} and 429 in codes and 200 in codes, codes
    for i, r in enumerate(replies):
        if r.status_code == 429:
            assert r.headers["retry-after"] == "1" and "busy" in r.json()["error"]
        else:
            assert r.json()["run_result"]["stdout"] == f"{i}\n"
