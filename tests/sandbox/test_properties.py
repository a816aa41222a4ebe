"""Open-ended inputs: file-name safety and byte-exact I/O through the jail (hypothesis)."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Job, Run, run
from sandbox._workdir import check_name
from sandbox.errors import JobError
from tests.sandbox.conftest import FAST, needs_bwrap

segment = st.sampled_from(["a", "b.txt", "..", ".", "", "x y", "\u00e9", "/", "sub"])


@given(st.lists(segment, min_size=1, max_size=5).map("/".join))
def test_accepted_names_stay_inside_the_work_dir(name: str) -> None:
    try:
        path = check_name(name)
    except JobError:
        return
    joined = posixpath.normpath(posixpath.join("/work", str(path)))
    assert joined.startswith("/work/") and ".." not in path.parts


@needs_bwrap
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_stdin_to_stdout_is_byte_exact(data: bytes) -> None:
    """C11: bytes in, the same bytes out (NUL, invalid UTF-8, CRLF, no final newline)."""
    code = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())"
    job = Job(language="python", files={"main.py": code}, runs=(Run(stdin=data),), limits=FAST)
    result = run(job).runs[0]
    assert (result.status, result.stdout) == ("ok", data)


@pytest.mark.parametrize("cap", [1, 4095, 4096, 65536])
@needs_bwrap
def test_output_cap_is_exact(cap: int) -> None:
    """The kept output is exactly the first ``cap`` bytes, whatever the chunking."""
    code = "import sys\nsys.stdout.write('0123456789' * 20000)"
    result = run(
        Job(
            language="python",
            files={"main.py": code},
            runs=(Run(),),
            limits=FAST.replace(output_bytes=cap),
        )
    ).runs[0]
    assert result.status == "output_limit"
    assert result.stdout == (b"0123456789" * 20000)[:cap]
