"""`rlvr generate` end to end on a tiny model: what lands in the lake, resume, bad input (exit 2,
nothing written), --verify streaming, template warnings, SIGKILL and SIGTERM in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from engine import ids
from engine.cli import main
from engine.errors import UserError
from engine.generate import SamplingParams
from engine.generate.run import GenerateConfig, generate
from engine.generate.templates import split_think
from engine.lake import Lake
from tests.engine.generate.servers import free_port

ROOT = Path(__file__).resolve().parents[3]


def _config(model, **fields) -> GenerateConfig:
    sampling = fields.pop("sampling", SamplingParams(n=3, max_tokens=8, seed=0))
    return GenerateConfig(dataset="add", model=str(model), sampling=sampling, **fields)


def _raw_rollouts(lake: Lake, run_id: str) -> pl.DataFrame:
    """Every row in the run's files, duplicates included (the views would hide them)."""
    files = sorted((lake.root / "rollouts" / f"run_id={run_id}").glob("part-*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def _run_row(lake: Lake, run_id: str) -> dict:
    return lake.scan("runs").filter(pl.col("run_id") == run_id).collect().to_dicts()[0]


def test_rollouts_and_the_run_are_recorded(lake_with_prompts, random_model) -> None:
    lake = lake_with_prompts
    summary = generate(lake, _config(random_model, run_id="g1", template="r1-zero"))
    assert (summary.status, summary.written, summary.prompts, summary.skipped) == ("done", 18, 6, 0)
    assert summary.tokens == 18 * 8
    run = _run_row(lake, "g1")
    assert (run["kind"], run["status"], run["backend"], run["seed"]) == (
        "generate", "done", "transformers", 0)  # fmt: skip
    assert run["model"] == str(random_model)
    params = json.loads(run["params"])
    assert params["n"] == 3 and params["temperature"] == 0.6 and params["top_p"] == 0.95
    assert params["template"] == "r1-zero" and params["max_tokens"] == 8
    rows = lake.scan("rollouts").collect()
    assert rows.height == 18 and rows.select("prompt_id", "sample_idx").is_unique().all()
    for row in rows.iter_rows(named=True):
        assert row["rollout_id"] == ids.rollout_id("g1", row["prompt_id"], row["sample_idx"])
        assert (row["reasoning"], row["answer_text"]) == split_think(row["completion"])
        assert row["finish_reason"] == "length" and row["completion_tokens"] == 8
        assert row["source"] == "generate" and row["temperature"] == 0.6


def test_resume_fills_only_the_missing_samples(lake_with_prompts, random_model) -> None:
    lake = lake_with_prompts
    first = generate(lake, _config(random_model, run_id="g2", limit=2, batch_prompts=1))
    assert first.written == 6
    full = generate(lake, _config(random_model, run_id="g2", batch_prompts=2))
    assert (full.written, full.skipped) == (12, 6)
    # lose one file (as if its batch never finished) and resume: exactly its rows come back.
    # The oldest file: the lake's in-process id cache (engine/lake.py _dedupe) does not notice
    # the removal of the file it wrote last; a crash loses that one with the process anyway.
    files = (lake.root / "rollouts" / "run_id=g2").glob("part-*.parquet")
    oldest = min(files, key=lambda f: f.stat().st_mtime_ns)
    lost = pl.read_parquet(oldest)
    before = _raw_rollouts(lake, "g2").sort("rollout_id")["completion"].to_list()
    oldest.unlink()
    again = generate(lake, _config(random_model, run_id="g2"))
    assert (again.written, again.skipped) == (lost.height, 18 - lost.height)
    raw = _raw_rollouts(lake, "g2")
    assert raw.height == 18 and raw.select("prompt_id", "sample_idx").is_unique().all()
    assert raw.sort("rollout_id")["completion"].to_list() == before  # seeded: same samples
    nothing = generate(lake, _config(random_model, run_id="g2"))
    assert (nothing.written, nothing.skipped) == (0, 18)


def test_resume_with_other_settings_is_refused(lake_with_prompts, random_model) -> None:
    generate(lake_with_prompts, _config(random_model, run_id="g3", limit=1))
    other = SamplingParams(n=3, max_tokens=8, seed=0, temperature=1.0)
    with pytest.raises(UserError, match="other settings \\(temperature\\)"):
        generate(lake_with_prompts, _config(random_model, run_id="g3", sampling=other))


def test_verify_streams_verdicts_into_a_linked_verify_run(lake_with_prompts, random_model) -> None:
    lake = lake_with_prompts
    summary = generate(lake, _config(random_model, run_id="g4", verify=True, batch_prompts=2))
    assert summary.verify_run_id and summary.pass_rate is not None
    verify_run = _run_row(lake, summary.verify_run_id)
    assert verify_run["kind"] == "verify" and verify_run["status"] == "done"
    assert json.loads(verify_run["params"])["generate_run"] == "g4"
    verdicts = lake.scan("verdicts").collect()
    rollouts = lake.scan("rollouts").collect()
    assert verdicts.height == rollouts.height == 18
    assert set(verdicts["rollout_id"]) == set(rollouts["rollout_id"])
    assert set(verdicts["verifier"]) == {"math"}
    assert set(verdicts["run_id"]) == {summary.verify_run_id}


def test_resume_with_verify_judges_the_rollouts_left_unjudged(lake_with_prompts, random_model):
    lake = lake_with_prompts
    generate(lake, _config(random_model, run_id="g5", limit=2))  # 6 rollouts, no verdicts
    summary = generate(lake, _config(random_model, run_id="g5", verify=True))
    assert (summary.written, summary.skipped) == (12, 6)
    verdicts = lake.scan("verdicts").collect()
    assert set(verdicts["rollout_id"]) == set(lake.scan("rollouts").collect()["rollout_id"])
    assert verdicts.height == 18


def test_openai_backend_writes_the_servers_reasoning(lake_with_prompts) -> None:
    from engine.generate import Sample
    from engine.generate.serve import create_app
    from tests.engine.generate.servers import serving

    class Thinker:
        name, model, tokens_generated = "scripted", "thinker", 0

        def check_prompts(self, prompts, params) -> None: ...

        def generate(self, prompts, params):
            sample = Sample(text="<think>so 42</think>\\boxed{42}", prompt_tokens=4,
                            completion_tokens=6, finish_reason="stop", latency_ms=1.0)  # fmt: skip
            return [[sample] * params.n for _ in prompts]

    with serving(create_app(Thinker(), reasoning_parser="think")) as url:
        config = GenerateConfig(dataset="add", model=None, backend="openai", limit=2,
                                sampling=SamplingParams(n=2), backend_options={"base_url": url})  # fmt: skip
        summary = generate(lake_with_prompts, config)
    assert summary.written == 4
    rows = lake_with_prompts.scan("rollouts").collect()
    assert set(rows["reasoning"]) == {"so 42"} and set(rows["answer_text"]) == {"\\boxed{42}"}
    assert set(rows["model"]) == {"thinker"}
    assert split_think(rows["completion"][0]) == ("so 42", "\\boxed{42}")


# -- the CLI: bad input is one line, exit 2, nothing written --------------------------------


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["generate", *args])
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def _nothing_written(lake: Lake) -> None:
    assert lake.scan("runs").filter(pl.col("kind") != "ingest").collect().height == 0
    assert lake.scan("rollouts").collect().height == 0


def _bad_model(tmp_path: Path) -> str:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "README").write_text("hello")
    return str(folder)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "unknown dataset",
            "dataset 'nope' has no prompts in the lake — datasets in the lake: add",
        ),
        ("not a model", "not a model folder (no config.json) — pass a folder"),
        ("too long", "exceeds"),  # a prompt + max tokens beyond the 512-token context
        ("refused", "cannot reach"),
        ("system with r1-zero", "--system applies to the chat template"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    case, expected, lake_with_prompts, random_model, tmp_path, capsys
) -> None:
    lake = lake_with_prompts
    args = ["--dataset", "add", "--model", str(random_model), "--lake", str(lake.root), "-k", "2"]
    extra = {
        "unknown dataset": ["--dataset", "nope"],
        "not a model": ["--model", _bad_model(tmp_path)],
        "too long": ["--max-tokens", "600"],
        "refused": ["--backend", "openai", "--base-url", f"http://127.0.0.1:{free_port()}/v1"],
        "system with r1-zero": ["--template", "r1-zero", "--system", "be brief"],
    }[case]
    code, _, err = _cli(capsys, *args, *extra)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and " — " in lines[0]
    assert expected in lines[0]
    _nothing_written(lake)


def test_a_template_that_prefills_think_is_warned_about(
    lake_with_prompts, random_model, tmp_path, capsys
) -> None:
    import shutil

    from transformers import AutoTokenizer

    model = tmp_path / "prefill"
    shutil.copytree(random_model, model)
    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.chat_template += "{% if add_generation_prompt %}<think>\n{% endif %}"
    tokenizer.save_pretrained(model)
    args = ["--dataset", "add", "--model", str(model), "--lake", str(lake_with_prompts.root)]
    code, _, err = _cli(capsys, *args, "-k", "1", "--max-tokens", "2", "--run-id", "w1")
    assert code == 0
    assert "warning:" in err and "prefills <think>" in err
    params = json.loads(_run_row(lake_with_prompts, "w1")["params"])
    assert any("prefills <think>" in w for w in params["template_warnings"])
    _cli_ok = _cli(capsys, "--dataset", "add", "--model", str(random_model), "--lake",
                   str(lake_with_prompts.root), "-k", "1", "--max-tokens", "2")  # fmt: skip
    assert _cli_ok[0] == 0 and "warning:" not in _cli_ok[2]  # control: a clean template


# -- killed and interrupted in a subprocess ---------------------------------------------------


def _start(lake: Lake, model: Path, run_id: str) -> subprocess.Popen:
    # one prompt per batch and long samples: several files land before the run could finish
    args = [sys.executable, "-m", "engine.cli", "generate", "--dataset", "add", "--model",
            str(model), "--lake", str(lake.root), "-k", "4", "--batch-size", "4",
            "--max-tokens", "300", "--run-id", run_id]  # fmt: skip
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_files(lake: Lake, run_id: str, proc: subprocess.Popen, count: int = 1) -> None:
    folder = lake.root / "rollouts" / f"run_id={run_id}"
    deadline = time.monotonic() + 240
    while len(list(folder.glob("part-*.parquet"))) < count:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no rollouts file appeared"
        time.sleep(0.05)


def _complete(lake: Lake, random_model: Path, run_id: str, k: int = 4) -> None:
    """Resume the run to the end and check no sample is missing or written twice."""
    summary = generate(lake, _config(random_model, run_id=run_id,
                                     sampling=SamplingParams(n=k, max_tokens=300, seed=0)))  # fmt: skip
    assert summary.status == "done" and summary.skipped > 0
    raw = _raw_rollouts(lake, run_id)
    assert raw.height == 6 * k
    assert raw.select("prompt_id", "sample_idx").is_unique().all()
    assert lake.check().ok


def test_resume_after_sigkill(lake_with_prompts, random_model) -> None:
    lake = lake_with_prompts
    proc = _start(lake, random_model, "killed")
    _wait_for_files(lake, "killed", proc)
    proc.kill()
    proc.wait(timeout=30)
    assert _run_row(lake, "killed")["status"] == "running"  # nobody could mark it
    assert 0 < _raw_rollouts(lake, "killed").height < 24
    _complete(lake, random_model, "killed")


def test_sigterm_marks_the_run_interrupted(lake_with_prompts, random_model) -> None:
    lake = lake_with_prompts
    proc = _start(lake, random_model, "stopped")
    _wait_for_files(lake, "stopped", proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err.decode()  # 128 + SIGTERM
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    assert _run_row(lake, "stopped")["status"] == "interrupted"
    assert lake.check().ok  # no temp file left behind
    _complete(lake, random_model, "stopped")
    assert os.path.isdir(lake.root)
