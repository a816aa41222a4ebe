"""The options `rlvr generate` and `rlvr verify` share to run as a Ray Data job (issue 14)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["Engine", "EngineOption", "RayActorsOption", "RayAddressOption"]


class Engine(StrEnum):
    local = "local"
    ray = "ray"


EngineOption = Annotated[
    Engine,
    typer.Option(help="local (this process) or ray (a Ray Data job; pip install rlvr[ray])."),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        help="--engine ray: a running cluster (ray://HEAD:10001 or auto); default a local Ray.",
        envvar="RAY_ADDRESS",
    ),
]
RayActorsOption = Annotated[
    int, typer.Option(help="--engine ray: actors in the pool (generation or verification).", min=1)
]
