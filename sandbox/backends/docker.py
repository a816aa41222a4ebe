"""The Docker backend: one container per execution, from a locally built image (no pulls).

Container settings: ``network_mode=none``, read-only root, ``cap_drop=ALL``, ``no-new-privileges``,
``mem_limit`` = ``memswap_limit`` (no swap), ``pids_limit``, user ``65534``, rlimits via
``ulimits``, the run's host work dir (a size-capped tmpfs when we are root) bound at ``/work``
and a tmpfs ``/tmp``. The image is built by ``docker/build_image.sh`` (``docker import`` of a
root filesystem copied from this host's python3 and gcc), tag ``rlvr-sandbox:latest`` or
``RLVR_SANDBOX_DOCKER_IMAGE``. Needs the ``docker`` extra (the Docker SDK) and a daemon.
"""

from __future__ import annotations

import contextlib
import os
import time
from functools import cache

from sandbox._supervise import Supervised
from sandbox.backends.base import ExecSpec, classify
from sandbox.job import RunResult

__all__ = ["IMAGE", "DockerBackend"]

_STDOUT, _STDERR = ".rlvr-stdout", ".rlvr-stderr"
IMAGE = os.environ.get("RLVR_SANDBOX_DOCKER_IMAGE", "rlvr-sandbox:latest")


@cache
def _client():
    import docker  # the optional `docker` extra

    return docker.from_env(timeout=30)


class DockerBackend:
    name = "docker"

    def unavailable(self) -> str | None:
        try:
            client = _client()
        except ImportError:
            return "the Docker SDK is missing: pip install 'rlvr[docker]'"
        except Exception as exc:  # docker.errors.DockerException and OS errors from the socket
            return f"no Docker daemon reachable ({type(exc).__name__}): start dockerd"
        try:
            client.ping()
            client.images.get(IMAGE)
        except Exception as exc:
            return f"image {IMAGE} or daemon unavailable ({type(exc).__name__}): run `make sandbox-image`"
        return None

    def enforcement(self) -> dict[str, str]:
        return {
            "memory": "docker-cgroup",
            "pids": "docker-cgroup",
            "cpu": "rlimit",
            "workdir": "tmpfs" if os.geteuid() == 0 else "rlimit-fsize",
            "isolation": "container(network none, read-only root, cap_drop ALL)",
        }

    private_workdir = False  # needs a host work dir in every ExecSpec

    def execute(self, spec: ExecSpec) -> RunResult:
        import docker.errors
        import docker.types

        lim = spec.limits
        stdin_path = spec.host_dir.path.parent / f"{spec.host_dir.path.name}.stdin"
        stdin_path.write_bytes(spec.stdin)
        os.chmod(stdin_path, 0o644)
        volumes = {str(spec.host_dir.path): {"bind": "/work", "mode": "rw"}}
        volumes[str(stdin_path)] = {"bind": "/.stdin", "mode": "ro"}
        for host, name in spec.binds:
            volumes[host] = {"bind": f"/work/{name}", "mode": "ro"}
        cpu = int(lim.cpu_s) + 1
        # stdout/stderr go to files in the size-capped work dir; FSIZE caps them just past
        # output_bytes (no attach stream to pump, no daemon-side kill needed on a flood).
        fsize = max(lim.file_size_bytes, lim.output_bytes + 1)
        ulimits = [
            docker.types.Ulimit(name="cpu", soft=cpu, hard=cpu + 1),
            docker.types.Ulimit(name="fsize", soft=fsize, hard=fsize),
            docker.types.Ulimit(name="nofile", soft=lim.open_files, hard=lim.open_files),
        ]
        started = time.monotonic()
        try:
            container = _client().containers.create(
                IMAGE,
                # The wall limit is enforced inside (coreutils `timeout`): killing through the
                # daemon can take 10 s+ when runc is slow to signal (seen in nested VMs).
                command=[
                    "/usr/bin/timeout",
                    "-s",
                    "KILL",
                    f"{lim.effective_wall_s:.3f}",
                    "/bin/sh",
                    "-c",
                    f'exec "$@" < /.stdin > /work/{_STDOUT} 2> /work/{_STDERR}',
                    "sh",
                    *spec.argv,
                ],
                log_config=docker.types.LogConfig(
                    type="json-file", config={"max-size": "1m", "max-file": "1"}
                ),
                working_dir="/work",
                # the run's pool uid owns its work dir (never root; 65534 when unprivileged)
                user=f"{spec.uid}:{spec.uid}" if spec.uid is not None else "65534:65534",
                environment=dict(spec.env),
                network_mode="none",
                read_only=True,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                mem_limit=f"{lim.memory_mb}m",
                memswap_limit=f"{lim.memory_mb}m",
                pids_limit=lim.processes,
                ulimits=ulimits,
                tmpfs={"/tmp": f"size={lim.workdir_mb}m", "/dev/shm": f"size={lim.workdir_mb}m"},
                volumes=volumes,
                detach=True,
            )
        except docker.errors.DockerException as exc:
            stdin_path.unlink(missing_ok=True)
            return RunResult(status="sandbox_error", message=f"docker create failed: {exc}")
        try:
            return self._run(container, spec, started)
        finally:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)
            stdin_path.unlink(missing_ok=True)

    def _run(self, container, spec: ExecSpec, started: float) -> RunResult:
        lim = spec.limits
        container.start()
        try:
            status = container.wait(timeout=lim.effective_wall_s + 10)["StatusCode"]
            killed = None
        except Exception:  # requests' ReadTimeout: `timeout` inside did not end it
            killed = "wall"
            _kill(container)
            status = container.wait(timeout=30)["StatusCode"]
        wall = time.monotonic() - started
        if status == 128 + 9 and wall >= lim.effective_wall_s:
            killed = "wall"
        try:
            oom = bool(container.client.api.inspect_container(container.id)["State"]["OOMKilled"])
        except Exception:  # the daemon lost the container: no OOM information
            oom = False
        out = spec.host_dir.read(_STDOUT, cap_bytes=lim.output_bytes + 1) or b""
        err = spec.host_dir.read(_STDERR, cap_bytes=lim.output_bytes + 1) or b""
        over = len(out) > lim.output_bytes or len(err) > lim.output_bytes
        if over:
            killed = "output"
        seen = Supervised(
            stdout=out[: lim.output_bytes],
            stderr=err[: lim.output_bytes],
            stdout_truncated=len(out) > lim.output_bytes,
            stderr_truncated=len(err) > lim.output_bytes,
            killed=killed,
            wall_s=wall,
            wait_status=(status - 128) if status > 128 else (status << 8),
            rusage_cpu_s=0.0,
            rusage_maxrss_mb=0.0,
            cpu_s=None,
        )
        files = spec.host_dir.collect(spec.collect, cap_bytes=lim.output_bytes)
        return classify(
            seen,
            limits=lim,
            cpu_s=0.0,
            memory_mb=0.0,
            oom_killed=oom,
            setup_failed=None,
            files=files,
        )


def _kill(container) -> None:
    """SIGKILL the container; it may have exited on its own in the meantime."""
    import docker.errors

    try:
        container.kill()
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: not running any more
            raise
