"""Background load for sandbox_bench (issue 9): other jails keeping the machine busy.

Run as ``python load_worker.py jail <cpu_ms>`` (a loop of sandboxed CPU-bound jobs, each one
fresh jail that spins ``cpu_ms`` of CPU, as the verifier's jails do while generation shares the
node) or ``python load_worker.py cpu`` (a trusted spinner, no jail: the control that separates
sharing the CPU from contending with other jails' set-up in the kernel). It stops when its
stdin closes and then prints one JSON line: jobs done and their statuses.

The benchmark side: `background` runs workers for the length of a ``with`` block, and
`Runnable` samples how many tasks are runnable meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _stop_on_eof(stop: threading.Event) -> None:
    sys.stdin.buffer.read()  # returns when the benchmark closes our stdin (or dies)
    stop.set()


def jail_loop(cpu_ms: int, stop: threading.Event) -> dict:
    from sandbox import Job, Limits, Run, run

    spin = (
        "import time\nt = time.process_time()\n"
        f"while time.process_time() - t < {cpu_ms / 1000}:\n    pass\n"
    )
    job = Job(language="python", files={"main.py": spin}, runs=(Run(),), limits=Limits(cpu_s=2))
    statuses: dict[str, int] = {}
    while not stop.is_set():
        result = run(job)
        status = result.runs[0].status if result.runs else f"compile:{result.compile.status}"
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def cpu_loop(stop: threading.Event) -> dict:
    n = 0
    while not stop.is_set():
        for _ in range(100_000):
            n += 1
    return {"spins": n}


# -- the benchmark's side ---------------------------------------------------------------------


class Runnable:
    """Mean number of runnable tasks (``/proc/loadavg`` field 4, less the sampler) while open."""

    def __init__(self) -> None:
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            with contextlib.suppress(OSError, ValueError, IndexError):
                running = Path("/proc/loadavg").read_text().split()[3].split("/")[0]
                self.samples.append(int(running) - 1)

    def __enter__(self) -> Runnable:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict:
        s = self.samples or [0]
        return {"runnable_mean": round(sum(s) / len(s), 2), "loadavg_1m": os.getloadavg()[0]}


@contextlib.contextmanager
def background(kind: str, count: int, cpu_ms: int, warmup_s: float):
    """``count`` load workers (``helpers/load_worker.py``); yields the list their reports fill."""
    argv = [sys.executable, __file__, kind, str(cpu_ms)]
    procs = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(count)
    ]
    reports: list[dict] = []
    try:
        time.sleep(warmup_s)  # their slots and first jails exist before we measure
        yield reports
    finally:
        for p in procs:
            p.stdin.close()
        for p in procs:
            out = p.stdout.read()  # it finishes the job in hand (bounded by its limits), reports
            try:
                p.wait(timeout=30)
                reports.append(json.loads(out.decode().strip().splitlines()[-1]))
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                p.kill()
                p.wait()
                reports.append({"error": "worker did not report"})


def main() -> None:
    kind = sys.argv[1]
    stop = threading.Event()
    threading.Thread(target=_stop_on_eof, args=(stop,), daemon=True).start()
    started = time.monotonic()
    done = jail_loop(int(sys.argv[2]), stop) if kind == "jail" else cpu_loop(stop)
    done["seconds"] = round(time.monotonic() - started, 3)
    done["pid"] = os.getpid()
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
