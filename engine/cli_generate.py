"""`rlvr generate` and `rlvr serve-model`: thin over engine.generate (parse, call, print)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn

from engine.cli_lake import LakeOption
from engine.cli_ray import Engine, EngineOption, RayActorsOption, RayAddressOption
from engine.errors import UserError
from engine.progress import Progress  # rich at a terminal, periodic lines otherwise

__all__ = ["BackendName", "TemplateName", "generate", "register", "serve_model"]


class BackendName(StrEnum):
    transformers = "transformers"
    vllm = "vllm"
    openai = "openai"


class TemplateName(StrEnum):
    chat = "chat"
    r1_zero = "r1-zero"


def generate(
    dataset: Annotated[str, typer.Option(help="Dataset of prompts in the lake.")],
    model: Annotated[
        str | None,
        typer.Option(help="Model folder or name (openai: default is the server's first model)."),
    ] = None,
    backend: Annotated[BackendName, typer.Option(help="transformers, vllm or openai.")] = (
        BackendName.transformers
    ),
    k: Annotated[int, typer.Option("-k", "--k", help="Samples per prompt.", min=1)] = 8,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.", min=0)] = 0.6,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling mass.")] = 0.95,
    max_tokens: Annotated[int, typer.Option(help="Cap on generated tokens.", min=1)] = 1024,
    template: Annotated[
        TemplateName, typer.Option(help="chat (the model's template) or r1-zero (R1 Table 1).")
    ] = TemplateName.chat,
    system: Annotated[str | None, typer.Option(help="System message (chat template).")] = None,
    seed: Annotated[int, typer.Option(help="Base seed of every sample's seed.")] = 0,
    split: Annotated[str | None, typer.Option(help="Only this split of the dataset.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N prompts.", min=1)] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Judge rollouts as they come.")] = False,
    run_id: Annotated[
        str | None, typer.Option(help="Run id; an existing one is resumed (fills missing samples).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1.")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="openai: requests in flight.", min=1)] = 32,
    request_timeout: Annotated[
        float, typer.Option(help="openai: seconds one request may wait for the server.")
    ] = 600.0,
    batch_size: Annotated[
        int, typer.Option(help="transformers: sequences per generate call.", min=1)
    ] = 64,
    threads: Annotated[
        int | None,
        typer.Option(help="transformers on CPU: torch threads (default: by model size)."),
    ] = None,
    lake: LakeOption = None,
    engine: EngineOption = Engine.local,
    ray_address: RayAddressOption = None,
    ray_actors: RayActorsOption = 1,
) -> None:
    """Sample k completions per prompt into the lake (R1 evaluation: temperature 0.6, top-p 0.95).

    Resumable: the same --run-id fills only missing (prompt, sample) pairs. Ctrl-C or SIGTERM
    marks the run interrupted. The API key for --backend openai comes from OPENAI_API_KEY.

    \b
    Examples:
      rlvr generate --dataset countdown --model models/tiny -k 8 --verify
      rlvr generate --dataset countdown --model models/tiny -k 8 --engine ray \\
        --ray-actors 2
      rlvr generate --dataset math500 --backend openai --base-url \\
        http://127.0.0.1:8000/v1 -k 4 --max-tokens 8192
    """
    from engine.generate import SamplingParams
    from engine.generate.run import GenerateConfig
    from engine.generate.run import generate as run_generate
    from engine.lake import Lake

    if backend is not BackendName.openai and model is None:
        raise UserError(f"--backend {backend.value} needs --model PATH — e.g. --model models/tiny")
    if backend is BackendName.openai and not base_url:
        raise UserError("--backend openai needs --base-url — e.g. http://127.0.0.1:8000/v1")
    options = _backend_options(backend, base_url, concurrency, request_timeout, batch_size, threads)
    config = GenerateConfig(
        dataset=dataset, model=model, backend=backend.value,
        sampling=SamplingParams(n=k, temperature=temperature, top_p=top_p,
                                max_tokens=max_tokens, seed=seed),
        template=template.value, system=system, split=split, limit=limit, verify=verify,
        run_id=run_id, backend_options=options,
    )  # fmt: skip
    err = Console(stderr=True)
    store = Lake.open(lake)
    if engine is Engine.ray:  # the same job as a Ray Data job (issue 14)
        from engine.ray_engine import RayOptions, generate_ray

        summary = generate_ray(
            store, config, options=RayOptions(address=ray_address, actors=ray_actors)
        )
        _print_summary(summary)
        return
    with _progress(err, verify) as on_progress:  # Ctrl-C: the CLI's top-level handler reports it
        summary = run_generate(
            store, config, on_progress=on_progress,
            on_warning=lambda w: err.print(f"[yellow]warning:[/yellow] {w}"),
        )  # fmt: skip
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(1)


def _backend_options(backend, base_url, concurrency, timeout, batch_size, threads) -> dict:
    if backend is BackendName.openai:
        return {"base_url": base_url, "concurrency": concurrency, "timeout_s": timeout}
    if backend is BackendName.transformers:
        return {"batch_size": batch_size, "threads": threads}
    return {}


class _progress:
    """A rich bar over prompts with samples, tokens/s and (with --verify) the pass rate."""

    def __init__(self, console: Console, verify: bool) -> None:
        columns = [
            TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TextColumn("prompts"),
            TextColumn("{task.fields[samples]} samples · {task.fields[rate]} tok/s"),
        ]  # fmt: skip
        if verify:
            columns.append(TextColumn("· pass {task.fields[pass_rate]}"))
        columns.append(TimeElapsedColumn())
        self.bar = Progress(*columns, console=console, transient=False)
        self.task: TaskID | None = None  # added on the first snapshot, which knows the total

    def __enter__(self):
        self.bar.start()

        def update(snapshot: dict[str, Any]) -> None:
            if self.task is None:
                self.task = self.bar.add_task(
                    "gen", total=snapshot["total"], samples=0, rate="-", pass_rate="-"
                )
            rate = snapshot["pass_rate"]
            self.bar.update(
                self.task, advance=snapshot["prompts"], samples=snapshot["written"],
                rate=f"{snapshot['tokens_per_s']:.0f}",
                pass_rate="-" if rate is None else f"{rate:.1%}",
            )  # fmt: skip

        return update

    def __exit__(self, *exc) -> None:
        self.bar.stop()


def _print_summary(summary) -> None:
    console = Console()
    line = (f"run {summary.run_id}: {summary.status}, {summary.written} rollouts written "
            f"({summary.skipped} already there, {summary.failed} failed) for {summary.prompts} "
            f"prompts in {summary.seconds:.1f} s, {summary.tokens} tokens")  # fmt: skip
    console.print(line)
    if summary.verify_run_id:
        rate = "-" if summary.pass_rate is None else f"{summary.pass_rate:.1%}"
        console.print(f"verify run {summary.verify_run_id}: pass rate {rate}")
    if summary.failed:
        console.print(f"{summary.failed} samples failed — re-run with --run-id {summary.run_id} "
                      "to fill them")  # fmt: skip


def serve_model(
    model: Annotated[Path, typer.Option(help="Model folder (transformers).")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reasoning_parser: Annotated[
        str | None, typer.Option(help="'think': return <think> text as reasoning_content.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Sequences per generate call.", min=1)] = 64,
) -> None:
    """Serve a local model over the OpenAI API (/v1/completions, /v1/chat/completions).

    Example: rlvr serve-model --model models/tiny --port 8000
    """
    import uvicorn

    from engine.generate import get_backend
    from engine.generate.serve import create_app

    if reasoning_parser not in (None, "think"):
        raise UserError(f"--reasoning-parser {reasoning_parser!r}: the one parser is 'think'")
    backend = get_backend("transformers", model=str(model), batch_size=batch_size)
    app = create_app(backend, reasoning_parser=reasoning_parser)  # type: ignore[arg-type]
    uvicorn.run(app, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("serve-model")(serve_model)
