"""Fixtures of the scale-out tests (issue 14): ONE local Ray per test session, a moto S3 server.

Ray's local start costs ~10 s and 1.5 GB here, so every Ray test shares the instance this module
starts (``include_dashboard=False, log_to_driver=False``); the engine sees ``ray.is_initialized()``
and reuses it. moto's server enforces conditional puts (``If-None-Match: *``), as S3 does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """The session's local Ray (2 CPUs); yields its GCS address for drivers in subprocesses."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory):
    """A moto S3 server on a free port; yields the env a client needs (endpoint, keys, region)."""
    pytest.importorskip("boto3")
    server = Path(sys.executable).with_name("moto_server")
    if not server.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_env(moto_s3, monkeypatch):
    """The moto server's AWS_* variables set for this test; a fresh bucket name per test."""
    import uuid

    import boto3

    for key, value in moto_s3.items():
        monkeypatch.setenv(key, value)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_s3["AWS_ENDPOINT_URL"]).create_bucket(Bucket=bucket)
    return {**moto_s3, "bucket": bucket, "env": {**os.environ, **moto_s3}}
