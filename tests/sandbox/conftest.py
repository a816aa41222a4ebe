"""Sandbox test helpers: run a program for real and check the host is untouched afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from sandbox import Job, JobResult, Limits, Run, RunResult, drop_warm, run
from sandbox.backends import get_backend
from sandbox.backends.base import UIDS

FAST = Limits(cpu_s=0.5, wall_s=1.5, memory_mb=128, output_bytes=1 << 20, workdir_mb=16)


def bwrap_ok() -> bool:
    return get_backend("bwrap").unavailable() is None


needs_bwrap = pytest.mark.skipif(not bwrap_ok(), reason="bwrap cannot create a jail here")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (pool uids, tmpfs mounts)")


def run_code(
    code: str,
    *,
    language: str = "python",
    limits: Limits = FAST,
    stdin: str = "",
    backend: str | None = None,
    **run_kw,
) -> RunResult:
    """Run one program once; a failed compile comes back as its compile result."""
    main = {"python": "main.py", "cpp": "main.cpp", "c": "main.c"}[language]
    result = run_job(
        Job(
            language=language, files={main: code}, runs=(Run(stdin=stdin, **run_kw),), limits=limits
        ),
        backend=backend,
    )
    return result.runs[0] if result.runs else result.compile


def run_job(job: Job, backend: str | None = None) -> JobResult:
    return run(job, backend=backend)


def pool_processes() -> list[psutil.Process]:
    """Processes still running under this test process's pool uids (must be none after a run;
    jails started ahead for the next warm job are dropped first: they belong to no run)."""
    drop_warm()
    first = UIDS._first
    out = []
    for proc in psutil.process_iter(["uids", "status"]):
        try:
            uid = proc.info["uids"].real
        except (psutil.Error, TypeError):
            continue
        if first <= uid < first + 128 and proc.info["status"] != psutil.STATUS_ZOMBIE:
            out.append(proc)
    return out


@pytest.fixture
def host_untouched():
    """After the test: no jailed process left, no stray job dir, and a normal job still runs."""
    yield
    deadline = time.monotonic() + 3
    while pool_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool_processes() == []
    after = run_code("print(6 * 7)")
    assert (after.status, after.stdout) == ("ok", b"42\n")


def leftovers() -> tuple[int, int]:
    """(tmpfs mounts, job dirs) of this process still on the host once finished jobs' clean-up
    has run: both must be back where they were after any request, failed ones included."""
    from sandbox._workdir import base_dir
    from sandbox.runner import settle

    settle()
    mine = f"{base_dir()}/job-{os.getpid()}-"  # other processes' jobs share the mount table
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for line in f if line.split()[4].startswith(mine))
    return mounts, len(list(base_dir().glob(f"job-{os.getpid()}-*")))


REPO = Path(__file__).resolve().parents[2]


def _docker_reason() -> str | None:
    from sandbox.backends import docker as docker_backend

    docker_backend._client.cache_clear()
    return get_backend("docker").unavailable()


@pytest.fixture(scope="session")
def docker_ready():
    """A usable docker backend: the running daemon, or a private dockerd started for this session
    (root + ``dockerd`` installed; own socket and data root, stopped afterwards). Skips otherwise."""
    if _docker_reason() is None:
        yield
        return
    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        pytest.skip(f"docker backend unavailable ({_docker_reason()}); no dockerd to start")
    home = Path(tempfile.mkdtemp(prefix="rlvr-dockerd-"))
    sock = f"unix://{home}/docker.sock"
    log = open(home / "dockerd.log", "wb")  # noqa: SIM115 - lives as long as the daemon
    daemon = subprocess.Popen(
        [
            "dockerd",
            "-H",
            sock,
            "--data-root",
            str(home / "data"),
            "--exec-root",
            str(home / "exec"),
            "--pidfile",
            str(home / "dockerd.pid"),
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    old = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = sock
    try:
        deadline = time.monotonic() + 30
        while subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
            if daemon.poll() is not None or time.monotonic() > deadline:
                pytest.skip(
                    "dockerd could not start here: " + (home / "dockerd.log").read_text()[-300:]
                )
            time.sleep(0.3)
        build = subprocess.run(
            ["bash", str(REPO / "docker" / "build_image.sh")], capture_output=True, text=True
        )
        if build.returncode != 0:
            pytest.skip(f"image build failed: {build.stderr[-300:]}")
        reason = _docker_reason()
        if reason is not None:
            pytest.skip(f"docker backend unavailable: {reason}")
        yield
    finally:
        if old is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old
        from sandbox.backends import docker as docker_backend

        docker_backend._client.cache_clear()
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True) if not os.environ.get("RLVR_KEEP_DOCKERD") else None
