"""Hostile programs (shared/docs/hostile-cases.md, groups A and B) run for real in the bwrap jail.

Each case is data: a program, its expected statuses, and optionally what its output must show.
The `host_untouched` fixture then asserts that no jailed process survived and that the next job
runs normally.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from sandbox import Limits
from tests.sandbox.conftest import FAST, needs_bwrap, needs_root, run_code

pytestmark = [needs_bwrap, pytest.mark.usefixtures("host_untouched")]
PROJECT = Path(__file__).resolve().parents[2]

# (id, program, expected statuses, substring the stdout must contain or None)
CASES = [
    # A1: CPU loop -> killed by the CPU watchdog / RLIMIT_CPU
    ("A1-loop", "while True: pass", {"time_limit"}, None),
    # A2: a long C-level call never returns to the interpreter; only an external kill ends it
    ("A2-c-level", "sum(range(10**13))", {"time_limit"}, None),
    # A3: sleeping uses no CPU; the wall backstop ends it
    ("A3-sleep", "import time; time.sleep(10**6)", {"time_limit"}, None),
    # A3: input() on an exhausted stdin sees EOF instead of blocking
    ("A3-eof", "input(); input()", {"runtime_error"}, None),
    # A5: fork bomb: pids/NPROC cap, then CPU or wall ends it
    (
        "A5-fork-bomb",
        "import os\nwhile True:\n  try: os.fork()\n  except OSError: pass",
        {"time_limit", "runtime_error"},
        None,
    ),
    # A6: thread bomb: same cap on tasks
    (
        "A6-thread-bomb",
        "import threading, time\nwhile True: threading.Thread(target=time.sleep, args=(100,)).start()",
        {"time_limit", "runtime_error"},
        None,
    ),
    # A7: one huge allocation
    ("A7-bytearray", "x = bytearray(1 << 36)", {"memory_limit"}, None),
    # A7: allocation that grows until the cap
    ("A7-grow", "a = []\nwhile True: a.append(' ' * 10**7)", {"memory_limit"}, None),
    # A8: legitimate threads and a moderate allocation must still pass
    (
        "A8-threads-ok",
        "import threading\nx = bytearray(32 << 20)\nts = [threading.Thread(target=len, args=('a',)) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]; print('fine')",
        {"ok"},
        "fine",
    ),
    # A9: /dev/shm is a private, size-capped tmpfs
    (
        "A9-dev-shm",
        "f = open('/dev/shm/x', 'wb')\nwhile True: f.write(b'0' * (1 << 20)); f.flush()",
        {"runtime_error", "memory_limit"},
        None,
    ),
    # A10: unbounded recursion
    (
        "A10-recursion",
        "import sys\nsys.setrecursionlimit(10**9)\ndef f(n): return f(n + 1)\nf(0)",
        {"runtime_error", "memory_limit"},
        None,
    ),
    # A11: unbounded stdout
    ("A11-stdout", "while True: print('x' * 10**6)", {"output_limit"}, None),
    # A12: unbounded stderr
    ("A12-stderr", "import sys\nwhile True: sys.stderr.write('e' * 10**6)", {"output_limit"}, None),
    # A13: disk fill in the work dir (tmpfs size cap / RLIMIT_FSIZE)
    (
        "A13-disk",
        "f = open('big', 'wb')\nwhile True: f.write(b'x' * (1 << 20)); f.flush()",
        {"runtime_error"},
        None,
    ),
    # A14: inode fill in the private tmpfs: bounded by the memory cgroup and the CPU limit
    (
        "A14-inodes",
        "import os\ntry:\n  for i in range(10**7): open(f'f{i}', 'w').close()\nexcept OSError as e: print('stopped', e.errno)",
        {"ok", "time_limit", "memory_limit"},
        None,
    ),
    # A15: file descriptor exhaustion stops at RLIMIT_NOFILE
    (
        "A15-fds",
        "fs = []\ntry:\n  while True: fs.append(open('/dev/null'))\nexcept OSError as e: print('stopped', len(fs) < 300)",
        {"ok"},
        "stopped True",
    ),
    # A17: double fork + setsid daemon; the main exits, the daemon must die with the jail
    (
        "A17-daemon",
        "import os, sys, time\nif os.fork(): sys.exit(0)\nos.setsid()\nif os.fork(): sys.exit(0)\ntime.sleep(10**6)",
        {"ok"},
        None,
    ),
    # B1/B2: network egress, including DNS and the cloud metadata address
    (
        "B1-egress",
        "import socket\nfor h in [('169.254.169.254', 80), ('1.1.1.1', 53)]:\n"
        "  try: socket.create_connection(h, timeout=1); print('open', h)\n"
        "  except OSError: print('blocked')",
        {"ok"},
        "blocked\nblocked",
    ),
    # B3: host files: shadow, root's home, the project, /home
    (
        "B3-host-files",
        "import os\nfor p in ['/etc/shadow', '/root', '"
        + str(PROJECT)
        + "', '/home', '/work/main']:\n"
        "  print(p, os.path.exists(p))",
        {"ok"},
        "/etc/shadow False\n/root False",
    ),
    # B5: writing outside the work dir
    (
        "B5-write-outside",
        "import os\nfor p in ['/usr/lib/python3/x.py', '/bin/x', '/etc/x', '/x']:\n"
        "  try: open(p, 'w'); print('wrote', p)\n  except OSError: print('denied')",
        {"ok"},
        "denied\ndenied\ndenied\ndenied",
    ),
    # B6: signal the parent and everyone; only the jail is affected
    (
        "B6-kill-parent",
        "import os, signal\nos.kill(os.getppid(), 9)\nos.kill(-1, 9)\nprint('alive')",
        {"ok", "runtime_error"},
        None,
    ),
    # B7: ptrace of the jail's own pid 1 (same uid inside) is refused by seccomp
    (
        "B7-ptrace-pid1",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())",
        {"ok"},
        "-1 1",
    ),
    # A19: kernel-object abuse: keyrings, io_uring, nested namespaces are refused (EPERM)
    (
        "A19-syscalls",
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print([libc.syscall(nr, 0, 0, 0, 0, 0) for nr in (250, 425, 272)], ctypes.get_errno())",
        {"ok"},
        "[-1, -1, -1] 1",
    ),
    # B8: /proc shows only the jail's processes
    (
        "B8-proc",
        "import os\nps = [p for p in os.listdir('/proc') if p.isdigit()]\nprint(len(ps) <= 3)\n"
        "print(any(b'pytest' in open(f'/proc/{p}/cmdline', 'rb').read() for p in ps))",
        {"ok"},
        "True\nFalse",
    ),
    # B9: shelling out is allowed but confined
    ("B9-shell", "import os\nprint(os.system('cat /etc/shadow 2>/dev/null') != 0)", {"ok"}, "True"),
    # B13: no controlling terminal to inject into
    (
        "B13-tiocsti",
        "import fcntl, termios\ntry: fcntl.ioctl(0, termios.TIOCSTI, b'x'); print('injected')\n"
        "except OSError: print('no tty')",
        {"ok"},
        "no tty",
    ),
    # B14: a minimal /dev
    (
        "B14-devices",
        "import os\nprint(sorted(set(os.listdir('/dev')) & {'kvm', 'mem', 'sda', 'nvidia0'}))",
        {"ok"},
        "[]",
    ),
]


@pytest.mark.parametrize(
    ("program", "expected", "shows"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_hostile_python(program: str, expected: set[str], shows: str | None) -> None:
    result = run_code(program)
    assert result.status in expected, (result.status, result.message, result.stderr[-500:])
    if shows is not None:
        assert shows in result.stdout.decode(), result.stdout


def test_a4_threads_share_one_cpu_budget() -> None:
    """A4: CPU summed over threads (cgroup) or per process (RLIMIT_CPU) still ends the run."""
    burn = "import threading\ndef f():\n  while True: pass\nfor _ in range(4): threading.Thread(target=f).start()\nf()"
    result = run_code(burn)
    assert result.status == "time_limit"
    assert result.cpu_s >= FAST.cpu_s


def test_a7_cpp_memory_bomb() -> None:
    code = "#include <vector>\nint main(){ std::vector<long long> v(1LL<<34, 1); return v[7]; }"
    result = run_code(code, language="cpp")
    assert result.status == "memory_limit", result


@needs_root
def test_a14_inode_cap_of_host_work_dir() -> None:
    """A14: a work dir with input files is a host tmpfs with nr_inodes: creation fails (ENOSPC)."""
    code = "import os\ntry:\n  for i in range(10**7): open(f'f{i}', 'w').close()\nexcept OSError as e: print('stopped', e.errno)"
    result = run_code(code, files={"in.txt": "x"}, limits=FAST.replace(cpu_s=2, wall_s=4))
    assert result.stdout == b"stopped 28\n", (result.status, result.stderr[-300:])


def test_a16_nothing_persists_between_runs() -> None:
    write = (
        "import os\nfor p in ['/tmp/p', '/dev/shm/p', 'p']: open(p, 'w').write('x')\nprint('ok')"
    )
    assert run_code(write).stdout == b"ok\n"
    look = "import os\nprint([os.path.exists(p) for p in ['/tmp/p', '/dev/shm/p', 'p']])"
    assert run_code(look).stdout == b"[False, False, False]\n"


def test_b2_loopback_listener_unreachable() -> None:
    """B2: a service on the host's 127.0.0.1 (like the sandbox API itself) is out of reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)
    port = server.getsockname()[1]
    got: list[object] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            got.append(server.accept())

    t = threading.Thread(target=accept)
    t.start()
    code = (
        f"import socket\ntry:\n  socket.create_connection(('127.0.0.1', {port}), timeout=1); print('connected')\n"
        "except OSError: print('refused')"
    )
    result = run_code(code)
    t.join()
    server.close()
    assert result.stdout == b"refused\n"
    assert got == []


def test_b4_environment_secret_invisible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLVR_TEST_SECRET", "hunter2")
    result = run_code("import os\nprint(sorted(os.environ))\nprint('hunter2' in str(os.environ))")
    assert result.status == "ok"
    assert result.stdout.endswith(b"False\n")
    assert b"RLVR_TEST_SECRET" not in result.stdout


def test_b5_host_untouched_after_write_attempts(tmp_path: Path) -> None:
    """B5: nothing is created on the host outside the run's own work dir."""
    target = tmp_path / "escape"
    code = f"try: open({str(target)!r}, 'w').write('x')\nexcept OSError: print('denied')"
    assert run_code(code).stdout == b"denied\n"
    assert not target.exists()


def test_b7_ptrace_cannot_reach_the_host() -> None:
    """B7: the only processes ptrace could see are the jail's own; the caller is not among them."""
    code = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"print(libc.ptrace(16, {os.getpid()}, 0, 0))"
    )
    assert run_code(code).stdout == b"-1\n"


def test_b11_symlinked_collect_file_is_not_followed() -> None:
    code = "import os\nos.symlink('/etc/passwd', 'out.txt')\nos.symlink('/proc/self/environ', 'env.txt')"
    result = run_code(code, collect=("out.txt", "env.txt"))
    assert result.status == "ok"
    assert result.files == {}


def test_b12_compile_time_include_of_host_file() -> None:
    result = run_code('#include "/etc/shadow"\nint main(){}', language="cpp")
    assert result.status == "compile_error", result
    assert "No such file" in result.message


def test_b15_run_files_do_not_leak_between_runs() -> None:
    from sandbox import Job, Run, run

    code = "import os\nprint(sorted(f for f in os.listdir('.') if f != 'main.py'))"
    job = Job(
        language="python",
        files={"main.py": code},
        runs=(Run(files={"in1.txt": "secret-1"}), Run(files={"in2.txt": "x"})),
        limits=FAST,
    )
    first, second = run(job).runs
    assert first.stdout == b"['in1.txt']\n"
    assert second.stdout == b"['in2.txt']\n"


def test_rlimit_fallback_binds_nproc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without cgroups, RLIMIT_NPROC must still bind: the jail is never root outside."""
    from sandbox import _cgroups as cgroups

    monkeypatch.setattr(cgroups, "_layout", None)
    code = (
        "import os, time\nn = 0\ntry:\n  for _ in range(200):\n    if os.fork() == 0: time.sleep(5); os._exit(0)\n"
        "    n += 1\nexcept OSError: pass\nprint(n < 200)"
    )
    result = run_code(code, limits=Limits(cpu_s=1, wall_s=3, processes=16, memory_mb=256))
    assert result.stdout == b"True\n", (result.status, result.stderr[-300:])


def test_memory_rlimit_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import _cgroups as cgroups

    monkeypatch.setattr(cgroups, "_layout", None)
    assert run_code("x = bytearray(1 << 34)").status == "memory_limit"


def test_a18_background_writer_is_dead_before_files_are_collected() -> None:
    """A18: a child that keeps rewriting the result file dies with the main process."""
    code = (
        "import os, time\nopen('res.txt', 'w').write('good')\n"
        "if os.fork() == 0:\n  time.sleep(0.3)\n  while True: open('res.txt', 'w').write('evil')\n"
    )
    result = run_code(code, collect=("res.txt",))
    time.sleep(0.5)
    assert result.files == {"res.txt": b"good"}
