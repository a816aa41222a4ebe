"""The CLI's one top-level handler: errors a user can cause become one line and exit code 2.

::

    engine.errors.RlvrError   → error: <its message>                       exit 2
    OSError (by kind below)   → error: <what> '<path>' — <how to fix>      exit 2
    KeyboardInterrupt         → interrupted — rerun the same command …     exit 130 (SIGTERM: 143)

``--debug`` (or ``RLVR_DEBUG=1``) shows the traceback as well. Click's own usage errors keep
their messages and exit codes. Anything else is a bug of ours and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback

import typer
import typer.main
from typer._click.exceptions import ClickException  # typer vendors click

from engine.errors import RlvrError
from engine.interrupt import INTERRUPTED_MESSAGE, exit_code

__all__ = ["describe", "run_cli"]

# errno → (what happened, how to fix it); the path is added between them.
_OS_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOENT: ("no such file or folder", "check the path; for an output, create its folder first"),
    errno.EACCES: ("permission denied", "check the permissions, or use another path"),
    errno.EPERM: ("permission denied", "check the permissions, or use another path"),
    errno.EROFS: ("read-only file system", "write to a writable place (another --lake or -o)"),
    errno.EISDIR: ("is a folder", "give a file path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "check the path"),
    errno.ENOSPC: ("no space left on the device", "free some space or write elsewhere"),
    errno.EEXIST: ("already exists", "remove it or choose another path"),
}  # fmt: skip


def describe(exc: BaseException) -> str:
    """The one-line message for a user-caused error (without the ``error: `` prefix)."""
    if isinstance(exc, OSError) and not isinstance(exc, RlvrError):
        what, fix = _OS_ERRORS.get(exc.errno or 0, (exc.strerror or str(exc), "check the path"))
        where = f" '{exc.filename}'" if exc.filename is not None else ""
        return f"{what}{where} — {fix}"
    return str(exc)


def run_cli(app: typer.Typer, argv: list[str], *, debug: bool) -> None:
    """Run the typer ``app`` on ``argv`` and exit; see the module docstring.

    The command is invoked here rather than through typer's ``main``, which turns a
    KeyboardInterrupt into a silent exit 130 and so loses which signal stopped the job.
    """
    command = typer.main.get_command(app)
    try:
        with command.make_context("rlvr", list(argv)) as ctx:
            command.invoke(ctx)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    except KeyboardInterrupt as exc:
        if debug:
            traceback.print_exc()
        typer.echo(INTERRUPTED_MESSAGE, err=True)
        sys.exit(exit_code(exc))
    except BrokenPipeError:  # `rlvr … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except (RlvrError, OSError) as exc:
        if debug:
            traceback.print_exc()
        typer.echo(f"error: {describe(exc)}", err=True)
        sys.exit(2)
    sys.exit(0)
