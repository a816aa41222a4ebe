"""The HTTP service: batch jobs, SandboxFusion /run_code, auth, size caps, admission (429)."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from fastapi.testclient import TestClient

from sandbox.service import ServiceConfig, create_app
from tests.sandbox.conftest import needs_bwrap

pytestmark = needs_bwrap


def client(**config) -> TestClient:
    return TestClient(create_app(ServiceConfig(**config)))


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
