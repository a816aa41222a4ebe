"""The public API: languages, compile once / run many, stop, collect, files, threads, async."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

import sandbox
from sandbox import Job, JobError, Limits, Run, run
from sandbox.backends.bwrap import BwrapBackend
from tests.sandbox.conftest import FAST, needs_bwrap, needs_root, run_code

pytestmark = needs_bwrap

ECHO = {
    # language: (file, source) of a program printing its stdin's first token twice
    "python": ("main.py", "s = input()\nprint(s + s)"),
    "cpp": (
        "main.cpp",
        "#include <iostream>\nint main(){std::string s; std::cin >> s; std::cout << s << s << '\\n';}",
    ),
    "c": (
        "main.c",
        '#include <stdio.h>\nint main(){char s[64]; scanf("%63s", s); printf("%s%s\\n", s, s);}',
    ),
}


def test_public_surface() -> None:
    assert set(sandbox.__all__) >= {"run", "arun", "doctor", "available_backends", "Job", "Run"}
    for name in sandbox.__all__:
        assert hasattr(sandbox, name), name


@pytest.mark.parametrize("language", sorted(ECHO))
def test_each_language_echoes(language: str) -> None:
    name, source = ECHO[language]
    job = Job(language=language, files={name: source}, runs=(Run(stdin="ab\n"), Run(stdin="xy\n")))
    result = run(job)
    assert [r.stdout for r in result.runs] == [b"abab\n", b"xyxy\n"]
    assert all(r.status == "ok" for r in result.runs)
    assert (result.compile is None) == (language == "python")
    assert result.backend == "bwrap"
    assert set(result.enforcement) >= {"memory", "pids", "cpu"}


@pytest.mark.parametrize(("language", "main"), [("cpp", "main.cpp"), ("c", "main.c")])
def test_compiled_languages_define_online_judge(language: str, main: str) -> None:
    # Codeforces solutions freopen local files unless ONLINE_JUDGE is defined.
    source = '#include <stdio.h>\n#ifndef ONLINE_JUDGE\n#error no ONLINE_JUDGE\n#endif\nint main(void){puts("ok");return 0;}\n'
    result = run(Job(language=language, files={main: source}, runs=(Run(),)))
    assert result.compiled, result.compile.message if result.compile else ""
    assert result.runs[0].stdout == b"ok\n"


@pytest.mark.parametrize(
    ("language", "source"),
    [
        ("cpp", "int main(){ undeclared; }"),  # C++ syntax error
        ("c", "int main(){ return }"),  # C syntax error
    ],
)
def test_compile_error_has_compiler_stderr(language: str, source: str) -> None:
    main = ECHO[language][0]
    result = run(Job(language=language, files={main: source}, runs=(Run(),)))
    assert result.compile is not None and result.compile.status == "compile_error"
    assert b"error" in result.compile.stderr
    assert "error" in result.compile.message
    assert result.runs == ()


def test_compile_time_limit_is_a_compile_error() -> None:
    """B12: a compiler stuck on /dev/urandom ends as a compile error within the compile limits."""
    job = Job(
        language="cpp",
        files={"main.cpp": '#include "/dev/urandom"\nint main(){}'},
        runs=(Run(),),
        compile_limits=Limits(cpu_s=1, wall_s=3, memory_mb=512, output_bytes=4096),
    )
    result = run(job)
    assert result.compile is not None and result.compile.status == "compile_error"


@pytest.mark.parametrize(
    ("program", "status", "exit_code", "sig"),
    [
        ("import sys; sys.exit(3)", "runtime_error", 3, None),  # exit code kept
        (
            "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
            "runtime_error",
            None,
            11,
        ),  # signal
        ("raise ValueError('boom')", "runtime_error", 1, None),  # uncaught exception
        ("print('fine')", "ok", 0, None),  # plain success
    ],
)
def test_exit_codes_and_signals(program: str, status: str, exit_code, sig) -> None:
    result = run_code(program)
    assert (result.status, result.exit_code, result.signal) == (status, exit_code, sig)


def test_stop_callback_ends_early() -> None:
    job = Job(
        language="python",
        files={"main.py": "print(int(input()) * 2)"},
        runs=tuple(Run(stdin=f"{i}\n") for i in range(5)),
    )
    seen = []
    result = run(job, stop=lambda i, r: seen.append(i) or i == 1)
    assert len(result.runs) == 2 and seen == [0, 1]


def test_files_and_collect() -> None:
    code = "data = open('in.txt').read()\nopen('result.json', 'w').write(data.upper())"
    result = run_code(code, files={"in.txt": "hello"}, collect=("result.json", "missing.txt"))
    assert result.status == "ok"
    assert result.files == {"result.json": b"HELLO"}


def test_stdout_cap_keeps_head_and_flags_truncation() -> None:
    result = run_code("print('a' * 5000)", limits=FAST.replace(output_bytes=1000))
    assert result.status == "output_limit"
    assert result.stdout == b"a" * 1000 and result.stdout_truncated


def test_large_stdin_is_streamed() -> None:
    data = "1\n" * 300_000
    result = run_code(
        "import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))", stdin=data
    )
    assert result.stdout == b"300000\n"


def test_measures_cpu_wall_memory() -> None:
    result = run_code(
        "x = bytearray(40 << 20)\ns = 0\nfor i in range(3 * 10**6): s += i",
        limits=FAST.replace(cpu_s=3, wall_s=6),
    )
    assert result.status == "ok"
    assert result.cpu_s > 0.05 and result.wall_s >= result.cpu_s * 0.5
    assert result.memory_mb >= 40


@needs_root
def test_jailed_process_is_not_root_outside() -> None:
    job = Job(
        language="python",
        files={"main.py": "import time; time.sleep(3)  # rlvr-uid-probe"},
        runs=(Run(),),
        limits=FAST.replace(wall_s=5),
    )
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(run, job)
        uids = set()
        deadline = time.monotonic() + 4
        while not uids and time.monotonic() < deadline:
            for p in psutil.process_iter(["cmdline", "uids"]):
                if p.info["cmdline"] and "main.py" in p.info["cmdline"] and p.info["uids"]:
                    uids.add(p.info["uids"].real)
            time.sleep(0.05)
        future.result()
    assert uids and 0 not in uids


def test_concurrent_threads() -> None:
    job = Job(
        language="python",
        files={"main.py": "print(int(input()) ** 2)"},
        runs=tuple(Run(stdin=f"{i}\n") for i in range(3)),
    )
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: run(job), range(6)))
    for result in results:
        assert [r.stdout for r in result.runs] == [b"0\n", b"1\n", b"4\n"]


def test_arun() -> None:
    job = Job(language="python", files={"main.py": "print('async')"}, runs=(Run(),))

    async def go():
        return await asyncio.gather(sandbox.arun(job), sandbox.arun(job))

    results = asyncio.run(go())
    assert [r.runs[0].stdout for r in results] == [b"async\n", b"async\n"]


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Job(language="cobol", files={"a": "x"}), "Job.language"),  # unknown language
        (lambda: Job(language="python", files={}), "Job.files"),  # nothing to run
        (lambda: Job(language="python", files={"../x.py": "x"}), "Job.files"),  # path traversal
        (lambda: Job(language="python", files={"/etc/x.py": "x"}), "Job.files"),  # absolute path
        (
            lambda: Job(
                language="python", files={"main.py": ""}, runs=(Run(files={"../../y": "1"}),)
            ),
            "runs[0].files",
        ),
        (
            lambda: Job(language="python", files={"main.py": ""}, main="other.py"),
            "Job.main",
        ),  # missing entry file
    ],
)
def test_invalid_jobs_raise_job_error(make, field: str) -> None:
    """Raised when the job is made (names) or run (language, empty files): never run."""
    with pytest.raises(JobError, match=field.replace("[", r"\[").replace("]", r"\]")):
        run(make())


def test_unknown_backend_is_a_job_error() -> None:
    with pytest.raises(JobError, match="backend"):
        run(Job(language="python", files={"main.py": ""}), backend="nope")


def test_broken_bwrap_is_a_sandbox_error_not_a_program_failure(monkeypatch) -> None:
    """A jail that cannot be set up is never confused with the program's failure."""
    backend = BwrapBackend()
    broken = backend.argv

    def argv(spec, **kw):
        full = broken(spec, **kw)
        end = full.index("--")  # bwrap's own options end here; the program's argv follows
        return [*full[:end], "--ro-bind", "/nonexistent-src", "/x", *full[end:]]

    monkeypatch.setattr(backend, "argv", argv)
    monkeypatch.setattr("sandbox.runner.get_backend", lambda name: backend)
    result = run(Job(language="python", files={"main.py": "print(1)"}, runs=(Run(),)))
    assert result.runs[0].status == "sandbox_error"
    assert "nonexistent-src" in result.runs[0].message


def test_program_faking_a_bwrap_error_is_its_own_failure() -> None:
    result = run_code("import sys\nsys.stderr.write('bwrap: Can\\'t mount\\n'); sys.exit(1)")
    assert result.status == "runtime_error"


def test_nothing_left_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox import runner

    made = []
    original = runner._job_dir
    monkeypatch.setattr(runner, "_job_dir", lambda: made.append(original()) or made[-1])
    run_code("open('x', 'w').write('y')")
    run_code("int main(){}", language="cpp")
    runner.settle()  # job directories go on a background thread, once the job is over
    assert len(made) == 2
    assert not any(p.exists() for p in made)
    with open("/proc/self/mounts") as f:
        assert not any(str(p) in f.read() for p in made)
