"""The weaker `process` backend (warns loudly) and the `docker` backend (skipped without a daemon)."""

from __future__ import annotations

import logging
import time

import pytest

from sandbox import Job, Limits, Run, available_backends, doctor, run
from tests.sandbox.conftest import FAST, pool_processes, run_code

# (id, program, expected status, stdout must contain)
PROCESS_CASES = [
    ("hello", "print(input())", "ok", "hi"),  # plain run with stdin
    ("loop", "while True: pass", "time_limit", None),  # RLIMIT_CPU / wall backstop
    ("memory", "x = bytearray(1 << 34)", "memory_limit", None),  # RLIMIT_DATA
    ("stdout", "while True: print('x' * 10**6)", "output_limit", None),  # output cap
    ("exit", "import sys; sys.exit(5)", "runtime_error", None),  # exit code
]


@pytest.mark.parametrize(
    ("program", "status", "shows"),
    [c[1:] for c in PROCESS_CASES],
    ids=[c[0] for c in PROCESS_CASES],
)
def test_process_backend(program: str, status: str, shows: str | None) -> None:
    result = run_code(program, stdin="hi\n", backend="process")
    assert result.status == status, (result.message, result.stderr[-300:])
    if shows:
        assert shows in result.stdout.decode()


def test_process_backend_warns_and_says_weak(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sandbox"):
        result = run(
            Job(language="python", files={"main.py": "print(1)"}, runs=(Run(),)), backend="process"
        )
    assert "WEAKER" in caplog.text
    assert result.enforcement["isolation"].startswith("weak")
    assert result.enforcement["memory"] == "rlimit"


def test_process_backend_kills_daemons() -> None:
    code = "import os, sys, time\nif os.fork(): sys.exit(0)\nos.setsid()\ntime.sleep(10**6)"
    assert run_code(code, backend="process").status == "ok"
    deadline = time.monotonic() + 3
    while pool_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool_processes() == []


def test_process_backend_compiles_cpp() -> None:
    job = Job(
        language="cpp",
        files={"main.cpp": '#include <cstdio>\nint main(){puts("c++");}'},
        runs=(Run(),),
        limits=FAST,
    )
    result = run(job, backend="process")
    assert result.runs[0].stdout == b"c++\n"


def test_doctor_reports_enforcement() -> None:
    report = doctor()
    assert "bwrap" in report["backends"]
    bwrap = report["backends"]["bwrap"]
    if bwrap["ok"]:
        assert bwrap["enforcement"]["memory"] in ("cgroup-v1", "cgroup-v2", "rlimit")
    assert "process" in available_backends()


@pytest.mark.docker
@pytest.mark.slow  # may start a private dockerd and build the image: 15-30 s
@pytest.mark.usefixtures("docker_ready")
def test_docker_backend_runs_and_limits() -> None:
    ok = run_code(
        "print(input())", stdin="hi\n", backend="docker", limits=Limits(cpu_s=2, memory_mb=128)
    )
    assert (ok.status, ok.stdout) == ("ok", b"hi\n")
    net = run_code(
        "import socket\ntry: socket.create_connection(('1.1.1.1', 53), timeout=1); print('open')\n"
        "except OSError: print('blocked')",
        backend="docker",
    )
    assert net.stdout == b"blocked\n"
    assert (
        run_code("open('/usr/x', 'w')", backend="docker").status == "runtime_error"
    )  # read-only root
    assert run_code("x = bytearray(1 << 34)", backend="docker").status == "memory_limit"
    assert run_code("import time; time.sleep(100)", backend="docker").status == "time_limit"
    # Docker's attach stream may lag a flood; either way the run ends and host memory stays bounded.
    flood = run_code("while True: print('x' * 10**6)", backend="docker")
    assert flood.status in ("output_limit", "time_limit")
    assert len(flood.stdout) <= FAST.output_bytes
    cpp = run(
        Job(language="cpp", files={"main.cpp": "int main(){return 3;}"}, runs=(Run(),)),
        backend="docker",
    )
    assert cpp.runs[0].exit_code == 3
