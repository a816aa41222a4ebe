"""`rlvr ui` (issue 15): serve the read-only web viewer over the lake (engine.ui)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from engine.cli_lake import LakeOption
from engine.errors import UserError
from engine.lake import Lake

__all__ = ["LOOPBACK_NAMES", "check_bind", "register", "ui"]

LOOPBACK_NAMES = {"localhost"}


def ui(
    lake: LakeOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8765,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow a non-loopback --host (needs --token)."),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(help="Secret every request must carry (?token=… once, then a cookie)."),
    ] = None,
    sql_timeout: Annotated[
        float, typer.Option(help="Seconds before a SQL-box query is cancelled.", min=0.1)
    ] = 10.0,
) -> None:
    """Browse runs, prompts, rollouts and verdicts in a local web page (read-only).

    Runs with pass@1 and maj@k, a run's prompts (sortable), a prompt's k rollouts side by side,
    filters and full-text search, a SQL box, two runs compared, training curves by step. Binds
    to 127.0.0.1; another address needs --allow-remote and --token.

    \b
    Examples:
      rlvr ui --lake lake                      # then open http://127.0.0.1:8765/
      rlvr ui --host 0.0.0.0 --allow-remote --token "$(openssl rand -hex 16)"
    """
    loopback = check_bind(host, allow_remote=allow_remote, token=token)
    store = Lake.open(lake, create=False)
    _check_port(host, port)
    import uvicorn

    from engine.ui import create_app

    app = create_app(store, token=token, sql_timeout_s=sql_timeout, loopback=loopback)
    typer.echo(f"rlvr ui: reading {store.root} …", err=True)
    ready = app.state.warm_up()  # before listening: the first page is as fast as the next
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    typer.echo(
        f"rlvr ui: ready in {ready['warm_up_s']:.1f} s; serving at {url} (Ctrl-C stops)", err=True
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except SystemExit as exc:  # uvicorn exits 1 when the port is taken
        raise UserError(
            f"cannot listen on {host}:{port} — is another server using the port? pass --port"
        ) from exc


def check_bind(host: str, *, allow_remote: bool, token: str | None) -> bool:
    """Whether ``host`` is loopback; UserError when it is not and the flags do not allow it."""
    loopback = _is_loopback(host)
    if token is not None and len(token) < 8:
        raise UserError("--token is shorter than 8 characters — use a long random one")
    if not loopback and not (allow_remote and token):
        raise UserError(
            f"--host {host} is reachable from other machines — add --allow-remote and "
            "--token SECRET, or keep the default 127.0.0.1"
        )
    return loopback


def _check_port(host: str, port: int) -> None:
    """One line, not uvicorn's log, when the address cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host.strip("[]"), port))
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port} ({exc.strerror}) — is another server using the "
            "port? pass another --port"
        ) from None


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        try:
            return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
        except (OSError, ValueError):
            return False


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
