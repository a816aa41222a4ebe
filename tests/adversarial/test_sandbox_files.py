"""Issue 9, class 1: the compile step must not trust file names nor follow links as root.

Two layers, each attacked on its own:

1. A client-supplied name never becomes an option: names are whitelisted when the `Job` is made
   (Python API, ``rlvr-sandbox run``, ``POST /v1/jobs``, ``POST /run_code`` all build one), and
   the commands put ``./`` (gcc) or ``--`` (python) before them, so even a name that got past the
   gate is a file, never ``-wrapper``, ``-fplugin=`` or an ``@response`` file.
2. Whatever the compile step leaves behind, the host takes the build product through an
   ``O_NOFOLLOW`` fd, only as a single-link regular file, and copies it to a directory of its
   own: a link to a host file is never chowned, chmodded, bound or read. To test this layer the
   name gate is taken out of the picture: a test language whose "compiler" is a shell script in
   the jail does what a compiler hijacked by any means could do.

Every attack comes with controls: an honest C, C++ and Python program still compiles and runs
with the right output, and an honest wrong one still gives its wrong output.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import stat
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from sandbox import Job, Run, languages, run
from sandbox._workdir import WorkDir, base_dir
from sandbox.cli import main as cli_main
from sandbox.errors import JobError, SandboxError
from sandbox.job import check_file_name, check_file_path
from sandbox.runner import settle
from sandbox.service import ServiceConfig, create_app
from tests.sandbox.conftest import FAST, needs_bwrap, needs_root, run_code

SUM_CPP = '#include <cstdio>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}'
SUM_C = '#include <stdio.h>\nint main(){long a,b;scanf("%ld %ld",&a,&b);printf("%ld\\n",a+b);}'
SUM_PY = "a, b = map(int, input().split())\nprint(a + b)"
WRONG_PY = "a, b = map(int, input().split())\nprint(a - b)"  # honest but wrong: a - b
SECRET = b"host secret, not for jobs\n"

# Names a policy or a client could send; each must be refused (comment: what it would do).
BAD_NAMES = [
    "@rsp",  # gcc reads options from the file `rsp`
    "@rsp.cpp",  # the same, with a source suffix so it lands in {sources}
    "-o",  # the next argument becomes gcc's output
    "-fplugin=/work/evil.so",  # gcc loads a shared object: code in the compiler
    "-wrapper",  # runs a program around each compiler pass
    "--help",  # long option
    "-c",  # python: run the next argument as code
    ".",  # the work dir itself
    "..",  # its parent
    "a..b",  # contains '..'
    ".hidden",  # leading dot
    "a/b.py",  # a path, not a name
    "/etc/passwd",  # absolute
    "main.cpp\n",  # a trailing newline slips past a `$`-anchored regex
    "main.cpp\n-wrapper",  # a newline inside
    "ma\u0131n.cpp",  # non-ASCII (dotless i): looks like main.cpp
    "main\u2024cpp",  # one dot leader: looks like main.cpp
    "main\x00.cpp",  # NUL truncates in C
    "main .cpp",  # space
    " main.cpp",  # leading space
    "",  # empty
    "a" * 101,  # too long
]


# -- layer 1: the name gate -------------------------------------------------------------------


@pytest.mark.parametrize("name", BAD_NAMES)
def test_attack_names_are_refused_as_sources_main_and_run_files(name: str) -> None:
    with pytest.raises(JobError, match=r"Job\.files"):
        Job(language="cpp", files={name: "int main(){}"})
    with pytest.raises(JobError, match=r"Job\.main"):
        Job(language="cpp", files={"main.cpp": SUM_CPP}, main=name)
    if name == "a/b.py":
        return  # a run's data file may be a relative path of safe names (SandboxFusion files)
    with pytest.raises(JobError, match=r"Job\.runs\[0\]\.files"):
        Job(language="python", files={"main.py": ""}, runs=(Run(files={name: "x"}),))


@pytest.mark.parametrize(
    "name",
    ["main.cpp", "main.py", "Solution_1.c", "a-b.txt", "0", "_x", "x" * 100, "in.txt", "util.h"],
)
def test_ordinary_names_are_accepted(name: str) -> None:
    """Control: what real jobs and datasets use still passes."""
    assert check_file_name(name, field="Job.files") == name
    Job(language="cpp", files={name: "x"}, runs=(Run(files={f"data/{name}": "y"}),))


@given(st.text(max_size=120))
def test_accepted_names_cannot_read_as_options_or_paths(name: str) -> None:
    """Whatever the text: accepted means ASCII, no option/response-file/hidden first character,
    no separator, no '..', no control character, at most 100 characters."""
    try:
        check_file_name(name, field="Job.files")
    except JobError as exc:
        assert "Job.files" in str(exc)
        return
    assert name.isascii() and name.isprintable() and 1 <= len(name) <= 100
    assert name[0] not in "-@." and "/" not in name and ".." not in name
    assert " " not in name and "\\" not in name


@given(st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", fullmatch=True))
def test_every_whitelisted_name_is_accepted(name: str) -> None:
    """No false refusals inside the documented alphabet (only '..' is carved out)."""
    if ".." in name:
        with pytest.raises(JobError):
            check_file_name(name, field="f")
    else:
        assert check_file_name(name, field="f") == name


@given(st.lists(st.text(max_size=12), min_size=1, max_size=10).map("/".join))
def test_accepted_run_file_paths_stay_inside_the_work_dir(path: str) -> None:
    try:
        check_file_path(path, field="Job.runs[0].files")
    except JobError:
        return
    parts = path.split("/")
    assert len(parts) <= 8
    assert all(p and p[0] not in "-@." and ".." not in p and p.isascii() for p in parts)
    assert os.path.normpath(os.path.join("/work", path)).startswith("/work/")


def test_commands_put_no_name_where_an_option_could_be() -> None:
    """Layer 1b, without the gate: gcc sees ``./name`` (it has no ``--``), python ``--``."""
    cpp = languages.get_language("cpp")
    names = ["@rsp.cpp", "-o.cpp", "-fplugin=x.cpp"]
    argv = cpp.expand(cpp.compile, main=names[0], files=names)
    assert [a for a in argv if a.endswith(".cpp")] == [f"./{n}" for n in names]
    py = languages.get_language("python")
    argv = py.expand(py.run, main="-c", files=["-c"])
    assert argv[-2:] == ["--", "-c"]


# -- the surfaces: Python API, CLI, POST /v1/jobs, POST /run_code ---------------------------


@needs_bwrap
def test_python_api_refuses_the_response_file_attack_and_still_runs_honest_jobs() -> None:
    rsp = "-x c++ code.txt -wrapper /bin/sh,-c,'ln -sf /etc/shadow main',--"
    with pytest.raises(JobError, match=r"Job\.files"):
        Job(language="cpp", files={"@rsp": "", "rsp": rsp, "code.txt": SUM_CPP}, main="@rsp")
    for language, main, code in (
        ("cpp", "main.cpp", SUM_CPP),
        ("c", "main.c", SUM_C),
        ("python", "main.py", SUM_PY),
    ):
        job = Job(language=language, files={main: code}, runs=(Run(stdin="40 2\n"),), limits=FAST)
        done = run(job).runs[0]
        assert (done.status, done.stdout) == ("ok", b"42\n"), language
    wrong = run_code(WRONG_PY, stdin="40 2\n")
    assert (wrong.status, wrong.stdout) == ("ok", b"38\n")  # control: wrong stays wrong


@needs_bwrap
@pytest.mark.parametrize("name", ["@rsp.cpp", "-o.cpp", "-fplugin=x.cpp"])
def test_cli_refuses_a_program_file_named_as_an_option(tmp_path: Path, capsys, name: str) -> None:
    prog = tmp_path / name
    prog.write_text(SUM_CPP)
    with pytest.raises(SystemExit) as exc:
        cli_main(["run", "--lang", "cpp", str(prog)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Job.files") and "—" in err[0]
    honest = tmp_path / "sum.cpp"  # control: same content, an ordinary name
    honest.write_text(SUM_CPP)
    stdin = tmp_path / "in.txt"
    stdin.write_text("40 2\n")
    with pytest.raises(SystemExit) as exc:
        cli_main(["run", str(honest), "--stdin", str(stdin), "--json"])
    assert exc.value.code in (0, None)
    assert json.loads(capsys.readouterr().out)["runs"][0]["stdout"] == "42\n"


@needs_bwrap
def test_http_jobs_refuses_option_names_per_job_and_runs_the_rest() -> None:
    body = {
        "jobs": [
            {
                "language": "cpp",
                "main": "@rsp",
                "files": {"@rsp": "", "rsp": "-wrapper /bin/sh,-c,id", "code.txt": SUM_CPP},
                "runs": [{}],
            },
            {"language": "c", "files": {"-fplugin=/work/p.so": "", "p.so": "x"}, "runs": [{}]},
            {"language": "python", "files": {"main.py": WRONG_PY}, "runs": [{"stdin": "40 2"}]},
            {"language": "cpp", "files": {"main.cpp": SUM_CPP}, "runs": [{"stdin": "40 2"}]},
        ]
    }
    response = TestClient(create_app(ServiceConfig())).post("/v1/jobs", json=body)
    assert response.status_code == 200
    results = response.json()["results"]
    assert "Job.files" in results[0]["error"] or "Job.main" in results[0]["error"]
    assert "Job.files" in results[1]["error"]
    assert results[2]["runs"][0]["stdout"] == "38\n"  # control: wrong stays wrong
    assert results[3]["runs"][0]["stdout"] == "42\n"  # control: right stays right


@needs_bwrap
def test_sandboxfusion_run_code_refuses_option_names_in_files() -> None:
    c = TestClient(create_app(ServiceConfig()))
    b64 = base64.b64encode(b"-wrapper /bin/sh,-c,id").decode()
    for bad in ("@rsp", "-o", ".profile", "a\nb"):
        response = c.post(
            "/run_code", json={"code": SUM_PY, "language": "python", "files": {bad: b64}}
        )
        data = response.json()
        assert 400 <= response.status_code < 500, bad  # the client's mistake, never a 500
        assert data["status"] == "SandboxError" and "files" in data["message"], bad
    ok = c.post("/run_code", json={"code": SUM_CPP, "language": "cpp", "stdin": "40 2\n"}).json()
    assert ok["status"] == "Success" and ok["run_result"]["stdout"] == "42\n"


# -- layer 2: build products are taken without following links ------------------------------


@pytest.fixture
def victim(tmp_path: Path):
    """A host file outside every work dir, owned by someone else, private."""
    path = tmp_path / "victim.txt"
    path.write_bytes(SECRET)
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        os.chown(path, 4321, 4321)
    os.chmod(tmp_path, 0o755)  # reachable by name; only its own mode protects it
    before = os.lstat(path)
    yield path
    after = os.lstat(path)
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (
        before.st_uid,
        before.st_gid,
        stat.S_IMODE(before.st_mode),
    )
    assert path.read_bytes() == SECRET


def _hijacked_compile(monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """Register ``hijacked``: C whose compile step also runs ``script`` in the compile jail
    (what a compiler turned by any means could do), after building the honest program."""
    c = languages.get_language("c")
    build = "/usr/bin/gcc -O2 -o main ./main.c"
    lang = dataclasses.replace(
        c, name="hijacked", aliases=(), compile=("/bin/sh", "-c", f"{build} && ( {script} )")
    )
    monkeypatch.setitem(languages.LANGUAGES, "hijacked", lang)
    monkeypatch.setitem(languages._ALIASES, "hijacked", lang)


def _hijacked_job(stdin: str = "40 2\n", code: str = SUM_C) -> Job:
    return Job(language="hijacked", files={"main.c": code}, runs=(Run(stdin=stdin),), limits=FAST)


def _never_leaks(result) -> None:
    for one in (result.compile, *result.runs):
        if one is not None:
            assert SECRET.strip() not in one.stdout + one.stderr + one.message.encode()


ATTACKS = [
    # the attack: the output binary becomes a link to a host file
    pytest.param("rm -f main && ln -s {victim} main", id="symlink-to-host-file"),
    # a link to a host directory, so a host path walk would continue there
    pytest.param("rm -f main && ln -s {victim_dir} main", id="symlink-to-host-dir"),
    # a hard link: an alias the host could mistake for the compiler's own file
    pytest.param("mv main real && ln real main", id="hard-link"),
    # a FIFO: an open() on the host would block forever
    pytest.param("rm -f main && mkfifo main", id="fifo"),
    # a directory holding a link to the host file
    pytest.param("rm -f main && mkdir main && ln -s {victim} main/x", id="directory"),
    # a socket file
    pytest.param(
        'rm -f main && /usr/bin/python3 -c "import socket; socket.socket(socket.AF_UNIX)'
        ".bind('main')\"",
        id="socket",
    ),
]


@needs_bwrap
@pytest.mark.parametrize("backend", ["bwrap", "process"])
@pytest.mark.parametrize("attack", ATTACKS)
def test_build_product_that_is_not_the_compilers_file_is_a_compile_error(
    monkeypatch: pytest.MonkeyPatch, victim: Path, attack: str, backend: str
) -> None:
    script = attack.format(victim=victim, victim_dir=victim.parent)
    _hijacked_compile(monkeypatch, script)
    started = time.monotonic()
    result = run(_hijacked_job(), backend=backend)
    assert time.monotonic() - started < 30  # a FIFO did not block the host
    assert result.compile is not None and result.compile.status == "compile_error"
    assert "build product refused" in result.compile.message
    assert result.runs == ()  # nothing ran, nothing was bound
    _never_leaks(result)


@needs_bwrap
@pytest.mark.parametrize("backend", ["bwrap", "process"])
def test_controls_for_the_hijacked_language(
    monkeypatch: pytest.MonkeyPatch, victim: Path, backend: str
) -> None:
    """The same test language with a harmless extra step: right is right, wrong is wrong."""
    _hijacked_compile(monkeypatch, "true")
    right = run(_hijacked_job(), backend=backend)
    assert (right.compile.status, right.runs[0].stdout) == ("ok", b"42\n")
    wrong = run(_hijacked_job(code=SUM_C.replace("a+b", "a-b")), backend=backend)
    assert (wrong.compile.status, wrong.runs[0].stdout) == ("ok", b"38\n")


@needs_bwrap
def test_product_swapped_by_a_process_left_running_is_never_followed(
    monkeypatch: pytest.MonkeyPatch, victim: Path
) -> None:
    """Own attack: a background loop keeps swapping ``main`` for a link while the compile
    step exits, racing the host's check. The jail's processes die with it, and the host opens
    through an fd with O_NOFOLLOW: at worst it copies the honest binary, never the host file."""
    loop = (
        f"cp main honest; (while :; do ln -sf {victim} l && mv -f l main; cp honest main; done) &"
    )
    _hijacked_compile(monkeypatch, f"{loop} sleep 0.2")
    for _ in range(3):
        result = run(_hijacked_job())
        _never_leaks(result)
        if result.compile.status == "ok":
            assert result.runs[0].stdout == b"42\n"  # it can only be the honest binary
        else:
            assert result.compile.status == "compile_error"


@needs_bwrap
def test_bound_program_is_a_host_owned_copy_the_run_cannot_change() -> None:
    """Own attack: a run rewrites or re-modes ``./main`` so that the next run (or the host)
    gets another program. The bound copy is read-only and, as root, owned by root."""
    code = (
        "#include <stdio.h>\n#include <sys/stat.h>\n"
        'int main(){struct stat s; stat("main", &s);\n'
        'FILE *f = fopen("main", "r+"); int c = chmod("main", 04777);\n'
        'printf("%s %d %u\\n", f ? "writable" : "ro", c, (unsigned)s.st_uid);}'
    )
    result = run(Job(language="c", files={"main.c": code}, runs=(Run(), Run()), limits=FAST))
    assert [one.stdout.split()[:2] for one in result.runs] == [[b"ro", b"-1"]] * 2


@needs_bwrap
@needs_root
def test_cleanup_does_not_follow_links_out_of_work_dirs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Own attack: links to a host directory left in the compile and run work dirs; removing
    the work dirs afterwards must not delete, chown or chmod anything behind them."""
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "file.txt").write_bytes(SECRET)
    os.chmod(keep / "file.txt", 0o600)
    _hijacked_compile(monkeypatch, f"ln -s {keep} d && ln -s {keep}/file.txt f")
    links = (
        f"import os\nos.symlink({str(keep)!r}, 'd')\nos.symlink({str(keep)!r} + '/file.txt', 'f')"
    )
    compiled = run(_hijacked_job())
    ran = run_code(links, collect=("d", "f", "d/file.txt"))
    settle()
    assert compiled.runs[0].stdout == b"42\n"
    assert ran.status == "ok" and ran.files == {}  # links are not followed when collecting
    assert (keep / "file.txt").read_bytes() == SECRET
    st = os.stat(keep / "file.txt")
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)


def test_sandbox_dir_that_is_a_link_or_shared_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Own attack: in a shared /tmp another user makes the sandbox dir first (a link to a
    directory of theirs, or a writable one); every job dir would live where they can swap it."""
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    link = tmp_path / "rlvr-sandbox"
    link.symlink_to(theirs)
    monkeypatch.setenv("RLVR_SANDBOX_DIR", str(link))
    with pytest.raises(SandboxError, match="RLVR_SANDBOX_DIR"):
        base_dir()
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("RLVR_SANDBOX_DIR", str(shared))
    with pytest.raises(SandboxError, match="RLVR_SANDBOX_DIR"):
        base_dir()
    private = tmp_path / "private"
    monkeypatch.setenv("RLVR_SANDBOX_DIR", str(private))
    assert base_dir() == private  # control: a fresh private dir is made and used


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda d, v: os.symlink(v, d / "main"), "symbolic link"),  # link to a host file
        (lambda d, v: os.symlink(v.parent, d / "main"), "symbolic link"),  # link to a host dir
        (lambda d, v: os.mkfifo(d / "main"), "not a regular file"),  # open would block
        (lambda d, v: os.mkdir(d / "main"), "not a regular file"),  # a directory
        (lambda d, v: [(d / "a").write_bytes(b"x"), os.link(d / "a", d / "main")], "hard links"),
        (lambda d, v: (d / "main").write_bytes(b"x" * 101), "over 100 bytes"),  # over the cap
        (lambda d, v: None, "missing"),  # nothing there
    ],
)
def test_copy_out_refuses_what_is_not_a_plain_product(
    tmp_path: Path, victim: Path, make, says: str
) -> None:
    """The host-side rule on its own (no jail needed): refused, nothing written at ``dest``."""
    work = tmp_path / "w"
    work.mkdir()
    make(work, victim)
    dest = tmp_path / "main.copy"
    why = WorkDir(work, mounted=False, uid=None, gid=None).copy_out("main", dest, cap_bytes=100)
    assert why is not None and says in why
    assert not dest.exists()


def test_copy_out_copies_a_plain_product_as_a_new_file_of_ours(tmp_path: Path) -> None:
    """Control: the compiler's plain file is copied byte for byte, mode 0755."""
    work = tmp_path / "w"
    work.mkdir()
    (work / "main").write_bytes(b"\x7fELF" + bytes(range(256)) * 40)
    dest = tmp_path / "main.copy"
    why = WorkDir(work, mounted=False, uid=None, gid=None).copy_out("main", dest, cap_bytes=1 << 20)
    assert why is None
    assert dest.read_bytes() == (work / "main").read_bytes()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755 and dest.stat().st_nlink == 1
