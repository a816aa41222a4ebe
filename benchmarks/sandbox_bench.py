"""Sandbox overhead and throughput against a bare subprocess (the anchor), plus the HTTP service.

Measures (issue 4): per-run overhead over a bare subprocess for ``python3 -c pass`` and a compiled
C++ program (median of 200 runs); 500 small jobs at concurrency 2 against bare-subprocess
throughput; the service under 2,000 requests from a local client (loopback only, bounded
client concurrency), with p50/p99 and the number of failed requests. SandboxFusion documents
< 100 ms overhead for its isolated mode: we report our ratio to that. The machine is shared, so
the load average is recorded before and after.

Usage: .venv/bin/python benchmarks/sandbox_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from sandbox import Job, Limits, Run, doctor, run

OUT = Path(__file__).parent / "results" / "sandbox_bench.json"
SANDBOXFUSION_OVERHEAD_MS = 100.0
# The runtime view bwrap gets in the raw anchor: /usr plus the merged-/usr links.
BWRAP_RUNTIME = ["--ro-bind", "/usr", "/usr"] + [
    a
    for top in ("bin", "sbin", "lib", "lib64")
    if os.path.islink(f"/{top}")
    for a in ("--symlink", os.readlink(f"/{top}"), f"/{top}")
]
PYTHON = "/usr/bin/python3"
NS_FLOOR = Path(__file__).parent / "helpers" / "ns_floor.py"
# CLONE_NEWUSER, NEWNS, NEWNET, NEWIPC, NEWUTS, NEWPID, NEWCGROUP: what every sandbox run gets.
NS_FLAGS = (0x10000000, 0x00020000, 0x40000000, 0x08000000, 0x04000000, 0x20000000, 0x02000000)
CPP = '#include <cstdio>\nint main(){ int x; if (scanf("%d", &x) == 1) printf("%d\\n", 2 * x); }'


def _median_ms(xs: list[float]) -> float:
    return round(statistics.median(xs) * 1000, 3)


def bare_runs(argv: list[str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, input=b"21\n", capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return times


def sandbox_runs(language: str, files: dict[str, str], n: int) -> tuple[list[float], dict]:
    """Per-run time inside one job (compile excluded), timed through the stop callback."""
    marks = [0.0]
    job = Job(
        language=language,
        files=files,
        runs=tuple(Run(stdin="21\n") for _ in range(n)),
        limits=Limits(cpu_s=2),
    )
    statuses: dict[str, int] = {}

    def stop(i: int, result) -> bool:
        marks.append(time.perf_counter())
        statuses[result.status] = statuses.get(result.status, 0) + 1
        return False

    original = job  # the first mark is taken right before the first run starts
    start_hook = time.perf_counter()
    result = run(original, stop=stop)
    first_run_start = start_hook + (result.compile.wall_s if result.compile else 0.0)
    marks[0] = first_run_start
    return [b - a for a, b in itertools.pairwise(marks)][1:], statuses


def overhead(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "main"
        src = Path(tmp) / "main.cpp"
        src.write_text(CPP)
        subprocess.run(["g++", "-O2", "-o", str(exe), str(src)], check=True)
        bare_py = bare_runs(["/usr/bin/python3", "-c", "pass"], n)
        bare_cpp = bare_runs([str(exe)], n)
    box_py, st_py = sandbox_runs("python", {"main.py": "pass"}, n + 1)
    box_cpp, st_cpp = sandbox_runs("cpp", {"main.cpp": CPP}, n + 1)
    out = {}
    for name, bare, box, st in (
        ("python3 -c pass", bare_py, box_py, st_py),
        ("compiled C++", bare_cpp, box_cpp, st_cpp),
    ):
        over = _median_ms(box) - _median_ms(bare)
        out[name] = {
            "bare_median_ms": _median_ms(bare),
            "sandbox_median_ms": _median_ms(box),
            "overhead_ms": round(over, 3),
            "target_overhead_ms": 8.0,
            "meets_target": over <= 8.0,
            "ratio_to_sandboxfusion_100ms": round(over / SANDBOXFUSION_OVERHEAD_MS, 4),
            "statuses": st,
            "n": len(box),
        }
    return out


def throughput(n_jobs: int, concurrency: int = 2) -> dict:
    code = "print(int(input()) * 2)"

    def bare(i: int) -> bool:
        done = subprocess.run(
            ["/usr/bin/python3", "-c", code], input=f"{i}\n".encode(), capture_output=True
        )
        return done.stdout == f"{2 * i}\n".encode()

    def boxed(i: int) -> bool:
        r = run(Job(language="python", files={"main.py": code}, runs=(Run(stdin=f"{i}\n"),)))
        return r.runs[0].stdout == f"{2 * i}\n".encode()

    raw_argv = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid",
        "65534",
        "--gid",
        "65534",
        *BWRAP_RUNTIME,
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/work",
        "--remount-ro",
        "/",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--",
        "/usr/bin/python3",
        "-c",
        code,
    ]

    def raw_bwrap(i: int) -> bool:
        """The same namespaces with bare bwrap: no cgroup, limits, seccomp or result handling."""
        done = subprocess.run(raw_argv, input=f"{i}\n".encode(), capture_output=True)
        return done.stdout == f"{2 * i}\n".encode()

    servers: list[subprocess.Popen] = []
    local = threading.local()

    def ns_floor(i: int) -> bool:
        """Fresh user/pid/net/ipc/uts/mount/cgroup namespaces per job and nothing else, from a
        minimal fork server (benchmarks/helpers/ns_floor.py): the kernel's price of a jail."""
        server = getattr(local, "server", None)
        if server is None:
            flags = sum(NS_FLAGS)
            argv = [PYTHON, "-I", "-S", str(NS_FLOOR), str(2_100_000 + len(servers)), str(flags)]
            server = local.server = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                                     stdout=subprocess.PIPE)  # fmt: skip
            servers.append(server)
        server.stdin.write(f"{i}\n".encode())
        server.stdin.flush()
        return server.stdout.readline() == f"{2 * i}\n".encode()

    runners = [("bare", bare), ("raw_bwrap", raw_bwrap), ("sandbox", boxed)]
    if os.geteuid() == 0:
        runners.insert(1, ("ns_floor", ns_floor))
    out = {}
    for name, fn in runners:
        t = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            ok = sum(pool.map(fn, range(n_jobs)))
        dt = time.perf_counter() - t
        out[name] = {
            "jobs": n_jobs,
            "ok": ok,
            "seconds": round(dt, 3),
            "jobs_per_s": round(n_jobs / dt, 2),
        }
    for server in servers:
        server.stdin.close()
        server.wait()
    ratio = out["sandbox"]["jobs_per_s"] / out["bare"]["jobs_per_s"]
    out["ratio"] = round(ratio, 3)
    out["raw_bwrap_ratio"] = round(out["raw_bwrap"]["jobs_per_s"] / out["bare"]["jobs_per_s"], 3)
    if "ns_floor" in out:
        out["ns_floor_ratio"] = round(out["ns_floor"]["jobs_per_s"] / out["bare"]["jobs_per_s"], 3)
    out["target_ratio"] = 0.8
    out["meets_target"] = ratio >= 0.8
    out["concurrency"] = concurrency
    return out


def service(n_requests: int, client_concurrency: int = 16) -> dict:
    import httpx
    import uvicorn

    from sandbox.service import ServiceConfig, create_app

    app = create_app(ServiceConfig(concurrency=2, queue=64))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/run_code"

    async def go() -> tuple[list[float], dict[str, int]]:
        sem = asyncio.Semaphore(client_concurrency)
        lat: list[float] = []
        codes: dict[str, int] = {}
        async with httpx.AsyncClient(timeout=120) as client:

            async def one(i: int) -> None:
                async with sem:
                    t = time.perf_counter()
                    try:
                        r = await client.post(
                            url,
                            json={
                                "code": "print(int(input()) + 1)",
                                "language": "python",
                                "stdin": f"{i}\n",
                            },
                        )
                        ok = (
                            r.status_code == 200
                            and r.json()["run_result"]["stdout"] == f"{i + 1}\n"
                        )
                        key = "ok" if ok else f"http_{r.status_code}"
                    except httpx.HTTPError as exc:
                        key = type(exc).__name__
                    lat.append(time.perf_counter() - t)
                    codes[key] = codes.get(key, 0) + 1

            await asyncio.gather(*(one(i) for i in range(n_requests)))
        return lat, codes

    t = time.perf_counter()
    lat, codes = asyncio.run(go())
    dt = time.perf_counter() - t
    server.should_exit = True
    thread.join(timeout=10)
    lat.sort()
    return {
        "requests": n_requests,
        "client_concurrency": client_concurrency,
        "service_concurrency": 2,
        "outcomes": codes,
        "dropped": n_requests - codes.get("ok", 0),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 2),
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 2),
        "requests_per_s": round(n_requests / dt, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, < 60 s")
    args = parser.parse_args()
    n, jobs, reqs = (30, 60, 150) if args.quick else (200, 500, 2000)
    load_before = os.getloadavg()
    report = doctor()
    results = {
        "quick": args.quick,
        "cpus": os.cpu_count(),
        "load_avg_before": [round(x, 2) for x in load_before],
        "backend": report["default_backend"],
        "enforcement": report["backends"][report["default_backend"]]["enforcement"],
        "overhead": overhead(n),
        "throughput": throughput(jobs),
        "service": service(reqs),
    }
    results["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["notes"] = _notes(results)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    _print(results)


def _notes(results: dict) -> list[str]:
    """Why a target is missed, from this run's own figures (the ceiling is raw bwrap)."""
    t = results["throughput"]
    notes = [
        "cgroup v1: run slots (sandbox/slots.py): each jail is forked by a small launcher that "
        "lives in the slot's groups, so no cgroup.procs migration (an RCU stall of 1-30 ms) and "
        "no fork of the large caller per run; limits and counters are plain writes per run.",
    ]
    if not t["meets_target"]:
        raw = t["raw_bwrap_ratio"]
        share = (t["ratio"] / raw) if raw else 0.0
        notes.append(
            f"throughput target missed: bwrap alone (same namespaces, no cgroup, limits, seccomp, "
            f"pool uid or result handling) reaches {raw} of bare in this run, and the bare "
            f"namespaces with nothing else (ns_floor) {t.get('ns_floor_ratio', 'n/a')}, so 0.8 "
            f"is above what fresh namespaces per job allow on this machine (their creation and "
            f"teardown, mounts, an extra fork/exec per job); the sandbox reaches {t['ratio']} = "
            f"{share:.2f} of the bwrap ceiling. "
            f"The rest: the launcher's fork and set-up (pool uid, rlimits), 3 tmpfs and ~12 "
            f"binds instead of 2 and 5, seccomp, cgroup limit and counter writes, job dir "
            f"staging and the supervisor. Shared 2-core machine: see load_avg_before/after."
        )
    for name, o in results["overhead"].items():
        if not o["meets_target"]:
            notes.append(f"per-run overhead for {name!r} ({o['overhead_ms']} ms) over 8 ms")
    return notes


def _print(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"sandbox_bench (load {results['load_avg_before']} -> {results['load_avg_after']})"
    )
    for col in ("measure", "bare (anchor)", "sandbox", "delta / ratio", "target"):
        table.add_column(col)
    for name, o in results["overhead"].items():
        table.add_row(
            f"per run: {name}",
            f"{o['bare_median_ms']} ms",
            f"{o['sandbox_median_ms']} ms",
            f"+{o['overhead_ms']} ms ({o['ratio_to_sandboxfusion_100ms']:.2f}x SF 100 ms)",
            "<= 8 ms " + ("ok" if o["meets_target"] else "MISSED"),
        )
    t = results["throughput"]
    table.add_row(
        f"{t['bare']['jobs']} jobs @ conc {t['concurrency']}",
        f"{t['bare']['jobs_per_s']}/s",
        f"{t['sandbox']['jobs_per_s']}/s",
        f"{t['ratio']:.2f}",
        ">= 0.80 " + ("ok" if t["meets_target"] else "MISSED"),
    )
    s = results["service"]
    table.add_row(
        f"service {s['requests']} req",
        "",
        f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms",
        f"{s['requests_per_s']} req/s",
        f"dropped {s['dropped']}",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
