"""Errors a user can cause end in one line `error: <what> — <how to fix>`, exit 2, no traceback,
and reading commands never create a lake (issue 10). Run through `rlvr`'s own entry point."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from engine import cli, ids
from engine import lake as lake_module
from engine.lake import Lake


def rlvr(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        cli.main(list(argv))
    captured = capsys.readouterr()
    return exit_.value.code, captured.err


def one_error_line(err: str, *, fix: bool = True) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ") and (" — " in lines[0] or not fix), lines[0]
    return lines[0]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake.open(tmp_path / "lake")
    pid = ids.prompt_id("toy", "1+1?")
    lake.append("prompts", [{"prompt_id": pid, "dataset": "toy", "task": "math",
                             "problem": "1+1?", "answer": "2"}], run_id="ingest")  # fmt: skip
    lake.append("rollouts", [{"rollout_id": "r0", "prompt_id": pid, "sample_idx": 0,
                              "completion": r"\boxed{2}", "source": "generate"}], run_id="g")  # fmt: skip
    return lake


@pytest.mark.parametrize(
    "command",
    [
        ["verify"],  # reads rollouts: must not make an empty lake and judge nothing
        ["prompts", "list"],
        ["prompts", "show", "abc"],
        ["runs"],
        ["stats"],
        ["sql", "SELECT 1"],
    ],
)
def test_reading_commands_never_create_a_lake(capsys, tmp_path, monkeypatch, command) -> None:
    monkeypatch.chdir(tmp_path)
    code, err = rlvr(capsys, *command, "--lake", "typo")
    assert code == 2
    assert one_error_line(err).startswith("error: no lake at 'typo' — ")
    assert not (tmp_path / "typo").exists()


def test_a_failed_import_leaves_no_empty_lake(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "1+1?", "answer": "2"}\n{not json\n')
    code, err = rlvr(capsys, "prompts", "import", str(bad), "--dataset", "d",
                     "--lake", str(tmp_path / "new"))  # fmt: skip
    assert code == 2 and ":2: malformed JSON" in one_error_line(err, fix=False)
    assert not (tmp_path / "new").exists()


def test_an_unknown_run_is_an_error(capsys, lake: Lake) -> None:
    code, err = rlvr(capsys, "verify", "--run", "nope", "--lake", str(lake.root))
    assert code == 2
    assert one_error_line(err).startswith("error: no rollouts of run 'nope' in the lake — ")
    assert lake.scan("verdicts").collect().height == 0
    code, _ = rlvr(capsys, "verify", "--run", "g", "--lake", str(lake.root))  # control
    assert code == 0 and lake.scan("verdicts").collect().height == 1


def test_an_unreachable_lake_path(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = rlvr(capsys, "runs", "--lake", str(blocker / "lake"))
    assert code == 2 and "no lake at" in one_error_line(err)
    source = tmp_path / "p.jsonl"
    source.write_text('{"problem": "1+1?", "answer": "2"}\n')
    code, err = rlvr(capsys, "prompts", "import", str(source), "--dataset", "d", "--task", "math",
                     "--lake", str(blocker / "lake"))  # fmt: skip
    assert code == 2 and "cannot create the lake folder" in one_error_line(err)


def test_a_read_only_lake(capsys, lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(lake_module.pq, "write_table", read_only)
    code, err = rlvr(capsys, "verify", "--lake", str(lake.root))
    assert code == 2 and "Read-only file system" in one_error_line(err)
    assert not list(lake.root.rglob(".tmp-*"))


def test_debug_shows_the_traceback_and_is_in_help(capsys, tmp_path: Path) -> None:
    code, err = rlvr(capsys, "--debug", "runs", "--lake", str(tmp_path / "typo"))
    assert code == 2 and "Traceback" in err and "error: no lake at" in err
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0 and "--debug" in capsys.readouterr().out


def test_os_errors_are_described_with_a_fix() -> None:
    from engine.cli_errors import describe

    for number in (errno.ENOENT, errno.EACCES, errno.EROFS, errno.EISDIR, errno.ENOSPC):
        text = describe(OSError(number, "x", "/some/path"))
        assert "'/some/path' — " in text
