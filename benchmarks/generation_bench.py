"""Generation benchmark: what rlvr adds on top of the backends it drives (issue 11).

Three comparisons, each side by side in one run, alternating the two sides ``--repeats`` times
and keeping the median:

1. transformers on CPU, k = 8: ``rlvr generate`` end to end (read prompts from the lake, render,
   tokenize, generate, write rollouts to Parquet) against calling ``model.generate`` directly
   (``do_sample=True``, ``num_return_sequences=8``) on the same prompts, batch size and threads.
   Target: ≤ 5 % overhead. The model has random weights (the tiny model's shape and tokenizer
   when ``--model`` is given, else a small Qwen2), so samples rarely stop early and both sides do
   about the same work; the token totals go into the JSON (the bare side does not count EOS).
2. ``--verify`` on math prompts, end to end: ``rlvr generate --verify`` against ``rlvr
   generate``, each a fresh process (start-up, model load, generation, writes; the verifier
   process starts while torch loads). Target: ≤ 1.1×.
3. openai at concurrency 32 against ``rlvr serve-model`` on 127.0.0.1 (its own process):
   the openai backend against a bare ``httpx`` loop sending the same request bodies with the
   same concurrency: requests/s and the p99 latency rlvr adds.

The machine is shared, so the load average goes into the JSON with the figures.

    .venv/bin/python benchmarks/generation_bench.py                 # full: results/generation_bench.json
    .venv/bin/python benchmarks/generation_bench.py --small --out benchmarks/.work/generation_bench.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import ids
from engine.generate import SamplingParams, get_backend
from engine.generate.run import GenerateConfig, generate
from engine.generate.templates import build_prompt
from engine.lake import Lake

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGETS = {"transformers_overhead": 0.05, "verify_over_generate": 1.10}


def random_model(out: Path, like: str | None) -> Path:
    """A random-weight Qwen2: the shape and tokenizer of ``like`` if given, else a small one."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    if like is None:
        from tests.engine.generate.conftest import build_random_qwen2

        return build_random_qwen2(out, hidden=128, heads=4, context=1024)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(like))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(like).save_pretrained(out)
    return out


def make_lake(root: Path, prompts: int) -> Lake:
    lake = Lake.open(root)
    rows = []
    for i in range(prompts):
        a, b, c = 17 + 7 * i, 3 + 5 * i, 2 + i % 7
        problem = f"Compute ({a} + {b}) * {c}."
        rows.append({"prompt_id": ids.prompt_id("bench", problem), "dataset": "bench",
                     "split": "test", "task": "math", "problem": problem,
                     "answer": str((a + b) * c)})  # fmt: skip
    with lake.run("ingest") as run_id:
        lake.append("prompts", rows, run_id=run_id)
    return lake


def bare_transformers(backend, problems: list[str], params: SamplingParams) -> tuple[float, int]:
    """The anchor: model.generate on the same token ids, 64 sequences a call, left padded."""
    import torch

    tokenizer, lm = backend.tokenizer, backend.lm
    tokenizer.padding_side = "left"
    per_call = max(1, backend.batch_size // params.n)
    texts = [backend.render(build_prompt("x", p, "chat")) for p in problems]
    start, tokens = time.perf_counter(), 0
    for i in range(0, len(texts), per_call):
        batch = tokenizer(texts[i : i + per_call], return_tensors="pt", padding=True,
                          add_special_tokens=False)  # fmt: skip
        with torch.inference_mode():
            out = lm.generate(**batch, do_sample=True, temperature=params.temperature,
                              top_p=params.top_p, top_k=0, num_return_sequences=params.n,
                              max_new_tokens=params.max_tokens, pad_token_id=backend.pad_id,
                              eos_token_id=backend.eos_ids)  # fmt: skip
        tokens += int((out[:, batch["input_ids"].shape[1] :] != backend.pad_id).sum())
    return time.perf_counter() - start, tokens


def rlvr_run(model: Path, work: Path, prompts: int, params: SamplingParams, verify: bool):
    lake = make_lake(Path(tempfile.mkdtemp(dir=work)), prompts)
    config = GenerateConfig(dataset="bench", model=str(model), sampling=params, verify=verify,
                            backend_options={"batch_size": 64})  # fmt: skip
    start = time.perf_counter()
    summary = generate(lake, config)
    seconds = time.perf_counter() - start
    shutil.rmtree(lake.root, ignore_errors=True)
    return seconds, summary


def bench_transformers(model: Path, work: Path, prompts: int, repeats: int, max_tokens: int):
    params = SamplingParams(n=8, max_tokens=max_tokens, seed=0)
    backend = get_backend("transformers", model=str(model), batch_size=64)
    problems = make_lake(Path(tempfile.mkdtemp(dir=work)), prompts).scan("prompts").collect()
    problems = sorted(zip(problems["prompt_id"], problems["problem"], strict=True))
    texts = [p for _, p in problems]
    bare, ours, tokens = [], [], {}
    # warm-up, not timed: first calls pay for kernels, allocator growth and imports
    bare_transformers(backend, texts[:2], params)
    rlvr_run(model, work, 2, params, verify=False)
    for _ in range(repeats):
        seconds, tokens["bare"] = bare_transformers(backend, texts, params)
        bare.append(seconds)
        seconds, summary = rlvr_run(model, work, prompts, params, verify=False)
        ours.append(seconds)
        tokens["rlvr"] = summary.tokens
    b, o = statistics.median(bare), statistics.median(ours)
    return {
        "prompts": prompts, "k": 8, "max_tokens": max_tokens, "threads": backend.threads,
        "tokens": tokens, "bare_generate_s": bare, "rlvr_generate_s": ours, "overhead": o / b - 1,
    }  # fmt: skip


def cli_run(model: Path, work: Path, prompts: int, max_tokens: int, verify: bool) -> float:
    """Wall time of one `rlvr generate` process (start-up, model load, generation, writes)."""
    lake = make_lake(Path(tempfile.mkdtemp(dir=work)), prompts)
    args = [sys.executable, "-m", "engine.cli", "generate", "--dataset", "bench", "--model",
            str(model), "-k", "8", "--max-tokens", str(max_tokens), "--lake", str(lake.root)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run([*args, *(["--verify"] if verify else [])], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    seconds = time.perf_counter() - start
    shutil.rmtree(lake.root, ignore_errors=True)
    return seconds


def bench_verify(model: Path, work: Path, prompts: int, repeats: int, max_tokens: int) -> dict:
    """`rlvr generate --verify` against `rlvr generate`, each a fresh process, end to end."""
    plain, verify = [], []
    for _ in range(repeats):
        plain.append(cli_run(model, work, prompts, max_tokens, verify=False))
        verify.append(cli_run(model, work, prompts, max_tokens, verify=True))
    p, v = statistics.median(plain), statistics.median(verify)
    return {"prompts": prompts, "k": 8, "max_tokens": max_tokens, "generate_s": plain,
            "generate_verify_s": verify, "verify_over_generate": v / p}  # fmt: skip


# -- openai ------------------------------------------------------------------------------------


def start_server(model: Path, port: int) -> subprocess.Popen:
    args = [sys.executable, "-m", "engine.cli", "serve-model", "--model", str(model),
            "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return proc
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
    raise RuntimeError("serve-model did not start")


async def bare_httpx(url: str, bodies: list[dict], concurrency: int) -> list[float]:
    import httpx

    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:

        async def one(body: dict) -> float:
            async with gate:
                start = time.perf_counter()
                response = await client.post("chat/completions", json=body)
                response.raise_for_status()
                return (time.perf_counter() - start) * 1000

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def bench_openai(model: Path, requests: int, repeats: int, max_tokens: int) -> dict:
    from tests.engine.generate.servers import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    server = start_server(model, port)
    try:
        client = get_backend("openai", model=None, base_url=url, concurrency=32)
        params = SamplingParams(n=1, max_tokens=max_tokens, seed=0)
        prompts = [build_prompt(f"p{i}", f"What is {i} + {i}?", "chat") for i in range(requests)]
        bodies = [{"model": client.model, "messages": list(p.messages), "n": 1,
                   "temperature": 0.6, "top_p": 0.95, "max_tokens": max_tokens, "seed": i}
                  for i, p in enumerate(prompts)]  # fmt: skip
        client.generate(prompts[:32], params)  # warm up the server
        runs = {"bare": [], "rlvr": []}
        for _ in range(repeats):
            start = time.perf_counter()
            latencies = asyncio.run(bare_httpx(url, bodies, 32))
            runs["bare"].append((time.perf_counter() - start, latencies))
            start = time.perf_counter()
            groups = client.generate(prompts, params)
            seconds = time.perf_counter() - start
            assert all(g[0].finish_reason != "error" for g in groups)
            runs["rlvr"].append((seconds, [g[0].latency_ms for g in groups]))
    finally:
        server.terminate()
        server.wait(timeout=30)
    out = {"requests": requests, "concurrency": 32, "max_tokens": max_tokens}
    for side, values in runs.items():
        seconds = statistics.median(s for s, _ in values)
        out[f"{side}_requests_per_s"] = requests / seconds
        out[f"{side}_p99_latency_ms"] = statistics.median(p99(lat) for _, lat in values)
    out["p99_added_latency_ms"] = out["rlvr_p99_latency_ms"] - out["bare_p99_latency_ms"]
    out["throughput_ratio"] = out["rlvr_requests_per_s"] / out["bare_requests_per_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="Take the shape and tokenizer of this model folder.")
    parser.add_argument("--small", action="store_true", help="A quick validation run.")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "generation_bench.json")
    args = parser.parse_args()
    if args.small:
        args.prompts, args.requests, args.repeats, args.max_tokens = 16, 128, 1, 32
    work = Path(tempfile.mkdtemp(prefix="generation-bench-"))
    try:
        model = random_model(work / "model", args.model)
        load_before = os.getloadavg()
        results = {
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_before": load_before,
            },
            "targets": TARGETS,
            "transformers": bench_transformers(
                model, work, args.prompts, args.repeats, args.max_tokens
            ),
            "verify": bench_verify(model, work, args.prompts, args.repeats, args.max_tokens),
            "openai": bench_openai(model, args.requests, args.repeats, 16),
        }
        results["machine"]["load_after"] = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = results["verify"]["verify_over_generate"]
    results["met"] = {
        "transformers_overhead": results["transformers"]["overhead"]
        <= TARGETS["transformers_overhead"],
        "verify_over_generate": ratio <= TARGETS["verify_over_generate"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        json.dumps({k: results[k] for k in ("transformers", "verify", "openai", "met")}, indent=2)
    )


if __name__ == "__main__":
    main()
