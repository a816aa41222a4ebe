"""The HTTP service: batch jobs, SandboxFusion /run_code, auth, size caps, admission (429),
operator caps and JSON errors (issue 9), and the `serve` command's safety checks."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.caps import cap_limits
from sandbox.cli import main
from sandbox.errors import RequestError
from sandbox.job import Limits
from sandbox.service import ServiceConfig, create_app
from tests.sandbox.conftest import leftovers, needs_bwrap

pytestmark = needs_bwrap


def client(**config) -> TestClient:
    return TestClient(create_app(ServiceConfig(**config)), raise_server_exceptions=False)


def job(code: str = "print(input())", **extra) -> dict:
    return {"language": "python", "files": {"main.py": code}, **extra}


def test_healthz_and_openapi() -> None:
    c = client()
    assert c.get("/healthz").json()["ok"] is True
    paths = c.get("/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/run_code", "/healthz"} <= set(paths)


def test_batch_of_jobs_with_a_bad_one() -> None:
    body = {
        "jobs": [
            {
                "language": "python",
                "files": {"main.py": "print(input())"},
                "runs": [{"stdin": "a"}, {"stdin": "b"}],
            },
            {"language": "cobol", "files": {"x": "y"}, "runs": [{}]},
            {
                "language": "c",
                "files": {"main.c": "int main(){return 3;}"},
                "runs": [{"limits": {"cpu_s": 1}}],
            },
        ]
    }
    results = client().post("/v1/jobs", json=body).json()["results"]
    assert [r["stdout"] for r in results[0]["runs"]] == ["a\n", "b\n"]
    assert "unknown language" in results[1]["error"]
    assert results[2]["runs"][0]["exit_code"] == 3


def test_bad_limits_refuse_the_request() -> None:
    """Issue 9: a limit is the client's own setting, not a rollout's content: 422, naming it."""
    body = {"jobs": [{"language": "python", "files": {"main.py": ""}, "limits": {"cpu_s": -1}}]}
    r = client().post("/v1/jobs", json=body)
    assert r.status_code == 422
    assert "cpu_s" in r.json()["error"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no token
        ({"Authorization": "Bearer wrong"}, 401),  # wrong token
        ({"Authorization": "Bearer s3cret"}, 200),  # right token
    ],
)
def test_bearer_token(headers: dict, status: int) -> None:
    r = client(token="s3cret").post(
        "/run_code", json={"code": "print(1)", "language": "python"}, headers=headers
    )
    assert r.status_code == status


def test_body_cap_413() -> None:
    r = client(max_body_bytes=1000).post(
        "/run_code", json={"code": "#" * 5000, "language": "python"}
    )
    assert r.status_code == 413


def test_too_many_jobs_413() -> None:
    body = {"jobs": [{"language": "python", "files": {"main.py": ""}}] * 3}
    assert client(max_jobs_per_request=2).post("/v1/jobs", json=body).status_code == 413


def test_queue_full_429() -> None:
    app = create_app(ServiceConfig(concurrency=1, queue=0))
    slow = {"code": "import time; time.sleep(1)", "language": "python", "run_timeout": 2}

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = asyncio.create_task(c.post("/run_code", json=slow))
            await asyncio.sleep(0.3)
            second = await c.post("/run_code", json=slow)
            return [(await first).status_code, second.status_code]

    assert asyncio.run(go()) == [200, 429]


@pytest.mark.parametrize(
    ("request_body", "status", "run_status"),
    [
        (
            {"code": "print(input())", "language": "python", "stdin": "hi"},
            "Success",
            "Finished",
        ),  # ok
        ({"code": "import sys; sys.exit(4)", "language": "python"}, "Failed", "Finished"),  # exit 4
        (
            {"code": "while True: pass", "language": "python", "run_timeout": 0.5},
            "Failed",
            "TimeLimitExceeded",
        ),
        ({"code": "int main(){return 0;}", "language": "cpp"}, "Success", "Finished"),  # compiled
    ],
)
def test_run_code_sandboxfusion_shape(request_body: dict, status: str, run_status: str) -> None:
    data = client().post("/run_code", json=request_body).json()
    assert data["status"] == status
    assert data["run_result"]["status"] == run_status
    assert set(data["run_result"]) == {
        "status",
        "execution_time",
        "return_code",
        "stdout",
        "stderr",
    }


def test_run_code_compile_error() -> None:
    data = client().post("/run_code", json={"code": "int main(){ nope }", "language": "cpp"}).json()
    assert data["status"] == "Failed" and data["run_result"] is None
    assert "nope" in data["compile_result"]["stderr"]


def test_run_code_files_and_fetch_files() -> None:
    body = {
        "code": "open('out.txt', 'w').write(open('data/in.txt').read().upper())",
        "language": "python",
        "files": {"data/in.txt": base64.b64encode(b"hello").decode()},
        "fetch_files": ["out.txt", "/etc/passwd", "../x"],
    }
    data = client().post("/run_code", json=body).json()
    assert data["status"] == "Success"
    assert data["files"] == {"out.txt": base64.b64encode(b"HELLO").decode()}


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x", "language": "brainfuck"},  # unsupported language
        {"code": "x", "language": "python", "files": {"../evil": ""}},  # path traversal
        {"code": "x", "language": "python", "files": {"a": "not base64!"}},  # bad base64
    ],
)
def test_run_code_user_mistakes_are_sandbox_errors_with_a_message(body: dict) -> None:
    data = client().post("/run_code", json=body).json()
    assert data["status"] == "SandboxError" and data["message"]


# --- issue 9: operator caps, JSON errors, clean-up, the token, `serve` -------------------------


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"concurrency": 0}, "--max-jobs"),  # nothing could ever run
        ({"queue": -1}, "--queue"),  # negative queue
        ({"max_memory_mb": 0}, "--max-memory"),  # zero memory cap
        ({"max_cpu_s": float("inf")}, "--max-time"),  # an infinite cap is no cap
        ({"max_cpu_s": float("nan")}, "--max-time"),  # NaN compares false with everything
        ({"max_output_bytes": 1.5}, "--max-output"),  # not an integer
        ({"max_output_bytes": 1 << 20, "max_response_bytes": 1 << 20}, "--max-response"),
        ({"token": ""}, "--token"),  # an empty token would accept "Bearer "
        ({"token": " s3cret"}, "--token"),  # whitespace: never what the operator meant
        ({"concurrency": True}, "--max-jobs"),  # bool is not a count
    ],
)
def test_service_config_refuses_bad_values(kwargs: dict, says: str) -> None:
    with pytest.raises(ValueError, match="ServiceConfig") as exc:
        ServiceConfig(**kwargs)
    assert says in str(exc.value)
    name, value = next(iter(kwargs.items()))
    if name != "token":  # the message names the value, except a secret
        assert f"{name}={value!r}"[:20] in str(exc.value)
    else:
        assert value.strip() not in str(exc.value) or not value.strip()


def test_the_token_never_shows_in_the_config_repr() -> None:
    assert "s3cret" not in repr(ServiceConfig(token="s3cret"))  # configs end up in logs


def test_cap_limits_refuses_over_and_lowers_defaults() -> None:
    config = ServiceConfig(max_memory_mb=256, max_cpu_s=5, max_output_bytes=1 << 16)
    with pytest.raises(RequestError, match=r"limits\.memory_mb=100000 .* cap of 256"):
        cap_limits({"memory_mb": 100_000}, Limits(), config, where="limits")
    lowered = cap_limits({}, Limits(), config, where="limits")  # defaults 512 MB, 8 MiB
    assert (lowered.memory_mb, lowered.output_bytes, lowered.cpu_s) == (256, 1 << 16, 2.0)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["cpu_s", "wall_s", "memory_mb", "output_bytes", "processes"]),
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.integers(min_value=-(10**30), max_value=10**30),
            st.booleans(),
            st.text(max_size=3),
        ),
    )
)
def test_cap_limits_never_exceeds_a_cap(given_limits: dict) -> None:
    """Whatever a client sends, the limits that reach the sandbox are within the caps, or the
    request is refused with RequestError (never another exception)."""
    config = ServiceConfig(max_memory_mb=256, max_cpu_s=5, max_output_bytes=1 << 16)
    try:
        limits = cap_limits(given_limits, Limits(), config, where="limits")
    except RequestError:
        return
    caps = config.caps()
    assert limits.cpu_s <= caps["cpu_s"] and limits.effective_wall_s <= caps["wall_s"]
    assert limits.memory_mb <= caps["memory_mb"] and limits.output_bytes <= caps["output_bytes"]
    assert limits.processes <= caps["processes"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/v1/jobs", {"jobs": [job(limits={"memory_mb": 100_000})]}, 422, "memory_mb"),
        ("/v1/jobs", {"jobs": [job(runs=[{"limits": {"cpu_s": 60}}])]}, 422, "cpu_s"),
        ("/v1/jobs", {"jobs": [job(limits={"cpu_s": "2"})]}, 422, "cpu_s"),  # a string
        ("/v1/jobs", {"jobs": [job(limits={"memroy_mb": 64})]}, 422, "memroy_mb"),  # typo
        ("/v1/jobs", {"jobs": [job(compile_limits={"output_bytes": 1 << 40})]}, 422, "output"),
        ("/v1/jobs", {"jobs": [job(runs=[{"collect": ["o"] * 20}])]}, 422, "collect"),
        ("/v1/jobs", {"jobs": "nope"}, 422, "jobs"),  # wrong type
        ("/v1/jobs", [1, 2], 422, "body"),  # not an object
        ("/run_code", {"code": "print(1)", "language": "python", "run_timeout": 11}, 422, "cap"),
        ("/run_code", {"code": "print(1)", "language": "cobol"}, 422, "python"),
        ("/run_code", {"code": 5, "language": "python"}, 422, "code"),
        ("/run_code", {"code": "", "language": "python", "memory_limit_MB": 2.5}, 422, "memory"),
        ("/nope", {}, 404, "Not Found"),
    ],
)
def test_bad_requests_get_a_4xx_json_error(path: str, body, status: int, says: str) -> None:
    r = client().post(path, json=body)
    assert r.status_code == status, r.text
    assert says in r.json()["error"]
    if path == "/run_code":  # SandboxFusion clients read these
        assert r.json()["status"] == "SandboxError" and r.json()["message"]


def test_defaults_above_a_cap_are_lowered_not_refused() -> None:
    """A client that names no limit gets the default lowered to the cap, and the program runs
    under it (a 100 MB allocation fails under a 64 MB cap)."""
    c = client(max_memory_mb=64, max_output_bytes=1 << 16, max_response_bytes=1 << 20)
    grab = "x = bytearray(100 << 20); print('allocated')"
    r = c.post("/run_code", json={"code": grab, "language": "python"})
    assert r.status_code == 200 and r.json()["status"] == "Failed"
    r = c.post("/run_code", json={"code": "print('small')", "language": "python"})
    assert r.json()["run_result"]["stdout"] == "small\n"  # control: a normal program runs


@pytest.mark.parametrize("path", ["/v1/jobs", "/run_code"])
def test_output_beyond_the_cap_is_never_returned(path: str) -> None:
    """A program printing without end returns at most max_output_bytes per stream."""
    cap = 1 << 16
    flood = "import sys\nwhile True: sys.stdout.write('x' * 65536)"
    c = client(max_output_bytes=cap, max_response_bytes=1 << 20)
    if path == "/run_code":
        r = c.post(path, json={"code": flood, "language": "python", "run_timeout": 5})
        out = r.json()["run_result"]["stdout"]
    else:
        r = c.post(path, json={"jobs": [job(flood, runs=[{"limits": {"cpu_s": 5}}])]})
        run = r.json()["results"][0]["runs"][0]
        assert run["status"] == "output_limit" and run["stdout_truncated"]
        out = run["stdout"]
    assert r.status_code == 200 and 0 < len(out) <= cap


def test_a_batch_stops_once_its_results_reach_the_response_budget() -> None:
    body = {"jobs": [job("print('y' * 40000)", runs=[{}] * 6)]}
    data = client(max_output_bytes=1 << 16, max_response_bytes=1 << 17).post("/v1/jobs", json=body)
    result = data.json()["results"][0]
    assert 3 <= len(result["runs"]) < 6 and "max_response_bytes" in result["stopped"]
    # control: under the budget every run is made and nothing says stopped
    full = client().post("/v1/jobs", json=body).json()["results"][0]
    assert len(full["runs"]) == 6 and "stopped" not in full


def test_no_mount_or_work_dir_is_left_after_failed_requests() -> None:
    """Requests that fail before, during and after the jail: nothing of theirs stays behind."""
    big = "x" * (2 << 20)
    bad = [
        ("/run_code", {"code": "int main(){", "language": "cpp"}),  # compile error
        ("/run_code", {"code": "x", "language": "cobol"}),  # unknown language
        ("/run_code", {"code": "x", "language": "python", "files": {"a": "%%"}}),  # base64
        ("/run_code", {"code": "x", "language": "python", "files": {"../e": ""}}),  # name
        ("/run_code", {"code": "x", "language": "python", "files": {"a": "", "a/b": ""}}),
        ("/v1/jobs", {"jobs": [job(runs=[{"files": {"f": big}, "limits": {"workdir_mb": 1}}])]}),
        (
            "/v1/jobs",
            {"jobs": [job(compile_limits={"workdir_mb": 1}, language="c", files={"main.c": big})]},
        ),
        (
            "/v1/jobs",
            {
                "jobs": [
                    job(
                        runs=[
                            {
                                "files": {f"f{i}": "" for i in range(200)},
                                "limits": {"workdir_mb": 1},
                            }
                        ]
                    )
                ]
            },
        ),
    ]
    c = client()
    before = leftovers()
    for path, body in bad:
        r = c.post(path, json=body)
        assert r.status_code < 500, (path, r.text)
        if path == "/v1/jobs":
            assert "error" in r.json()["results"][0], r.text
        else:
            assert r.json()["status"] in ("SandboxError", "Failed"), r.text
    assert leftovers() == before
    ok = c.post("/run_code", json={"code": "print(6 * 7)", "language": "python"})
    assert ok.json()["run_result"]["stdout"] == "42\n"  # control: a good request still runs


def test_token_is_checked_before_the_body_and_healthz_stays_open() -> None:
    c = client(token="s3cret")
    r = c.post("/run_code", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["status"] == "SandboxError"
    assert c.get("/openapi.json").status_code == 401  # docs are an endpoint too
    assert c.get("/healthz").status_code == 200
    auth = {"Authorization": "Bearer s3cret"}
    assert c.get("/openapi.json", headers=auth).status_code == 200
    # control: without a configured token no header is needed
    r = client().post("/run_code", json={"code": "print(2)", "language": "python"})
    assert r.status_code == 200 and r.json()["run_result"]["stdout"] == "2\n"


def test_busy_answers_carry_retry_after() -> None:
    app = create_app(ServiceConfig(concurrency=1, queue=0))
    slow = {"code": "import time; time.sleep(1)", "language": "python", "run_timeout": 2}

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = asyncio.create_task(c.post("/run_code", json=slow))
            await asyncio.sleep(0.3)
            second = await c.post("/v1/jobs", json={"jobs": [job()]})
            await first
            return second

    second = asyncio.run(go())
    assert second.status_code == 429 and second.headers["retry-after"] == "1"
    assert "busy" in second.json()["error"]


def test_a_batch_larger_than_capacity_is_413_not_429_for_ever() -> None:
    r = client(concurrency=1, queue=1).post("/v1/jobs", json={"jobs": [job()] * 3})
    assert r.status_code == 413 and "split" in r.json()["error"]


class _Served(Exception):
    pass


@pytest.fixture
def fake_uvicorn(monkeypatch):
    """`serve` up to the point where it would bind: the config it would serve with."""
    import uvicorn

    seen: dict = {}

    def fake_run(app, host, port, **_):
        seen.update(app=app, host=host, port=port)
        raise _Served

    monkeypatch.setattr(uvicorn, "run", fake_run)
    for name in ("TOKEN", "HOST", "MAX_MEMORY", "MAX_TIME", "MAX_JOBS", "MAX_OUTPUT"):
        monkeypatch.delenv(f"RLVR_SANDBOX_{name}", raising=False)
    return seen


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (["--host", "0.0.0.0"], {}, "--token"),  # open to the network without a token
        (["--host", "sandbox.example"], {}, "--allow-unauthenticated"),  # a name: not loopback
        (["--max-memory", "lots"], {}, "--max-memory"),
        (["--max-time", "inf"], {}, "--max-time"),
        ([], {"RLVR_SANDBOX_MAX_TIME": "nan"}, "--max-time"),  # env equivalents too
        (["--max-jobs", "0"], {}, "--max-jobs"),
        (["--max-output", "0"], {}, "--max-output"),
    ],
)
def test_serve_refuses_unsafe_or_bad_options(
    fake_uvicorn, monkeypatch, capsys, argv: list[str], env: dict, says: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SystemExit) as exc:
        main(["serve", *argv])
    assert exc.value.code == 2 and not fake_uvicorn
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and says in err[0]


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--host", "0.0.0.0", "--token", "s3cret"], {}),
        (["--host", "0.0.0.0"], {"RLVR_SANDBOX_TOKEN": "s3cret"}),
        (["--host", "0.0.0.0", "--allow-unauthenticated"], {}),  # the operator's explicit call
        (["--host", "::1"], {}),  # loopback needs no token
    ],
)
def test_serve_binds_with_a_token_or_explicit_consent(
    fake_uvicorn, monkeypatch, argv: list[str], env: dict
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(_Served):
        main(["serve", *argv])
    assert fake_uvicorn["host"] == argv[1]


def test_serve_options_and_env_reach_the_caps(fake_uvicorn, monkeypatch) -> None:
    monkeypatch.setenv("RLVR_SANDBOX_MAX_MEMORY", "256M")
    monkeypatch.setenv("RLVR_SANDBOX_TOKEN", "s3cret")
    with pytest.raises(_Served):
        main(["serve", "--max-time", "3", "--max-output", "64K", "--max-jobs", "1"])
    c = TestClient(fake_uvicorn["app"])
    auth = {"Authorization": "Bearer s3cret"}
    over = {"code": "x", "language": "python", "memory_limit_MB": 257}
    assert "256" in c.post("/run_code", json=over, headers=auth).json()["error"]
    slow = {"code": "x", "language": "python", "run_timeout": 3.5}
    assert c.post("/run_code", json=slow, headers=auth).status_code == 422
    assert c.post("/run_code", json=over).status_code == 401


def test_the_compile_step_is_held_under_the_caps_too() -> None:
    """A job that names no compile limits compiles under the language's, lowered to the caps
    (the compiler is a process the client's input drives, like any other)."""
    cpp = {
        "language": "cpp",
        "files": {"main.cpp": "#include <iostream>\nint main(){std::cout<<42;}"},
    }
    body = {"jobs": [{**cpp, "runs": [{}]}]}
    starved = client(max_memory_mb=8).post("/v1/jobs", json=body).json()["results"][0]
    assert (
        starved["compile"]["status"] == "compile_error"
        and "memory" in starved["compile"]["message"]
    )
    fed = client(max_memory_mb=256).post("/v1/jobs", json=body).json()["results"][0]
    assert fed["runs"][0]["stdout"] == "42"  # control: under a workable cap it compiles


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_FUZZ = client(max_memory_mb=256, max_cpu_s=2)  # one app for every example
FIELDS = ["code", "language", "compile_timeout", "run_timeout", "memory_limit_MB", "stdin",
          "files", "fetch_files"]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4))
def test_any_json_in_any_field_is_answered_never_a_500(fields: dict) -> None:
    """Whatever JSON a client puts in /run_code's fields: a 200 run or a 4xx JSON error."""
    body = {"code": "print(1)", "language": "python", **fields}
    r = _FUZZ.post(
        "/run_code", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200 or 400 <= r.status_code < 500, r.text
    data = r.json()
    assert data["status"] in ("Success", "Failed", "SandboxError")
    if r.status_code != 200:
        assert data["error"] and data["message"] == data["error"]
