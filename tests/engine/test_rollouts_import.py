"""`rlvr rollouts import` (issue 10): other tools' generations into the lake, one preset per tool.

Each fixture is written here in the tool's own output format, as its source writes it (see the
docstring of engine/ingest/rollouts.py for where each format comes from).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from engine import cli_rollouts, ids
from engine.errors import InputError, UserError
from engine.ingest.rollouts import import_rollouts
from engine.lake import Lake
from engine.verify import VerifyConfig, verify_rollouts

DATASET = "mini"
PROBLEMS = {"What is 1+1?": "2", "What is 2+3?": "5"}
P1, P2 = (ids.prompt_id(DATASET, p) for p in PROBLEMS)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake.open(tmp_path / "lake")
    rows = [
        {"prompt_id": ids.prompt_id(DATASET, p), "dataset": DATASET, "task": "math"}
        | {"problem": p, "answer": a}
        for p, a in PROBLEMS.items()
    ]
    with lake.run("ingest") as run_id:
        lake.append("prompts", rows, run_id=run_id)
    return lake


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def rollouts(lake: Lake, run_id: str) -> pl.DataFrame:
    return (
        lake.scan("rollouts")
        .filter(pl.col("run_id") == run_id)
        .collect()
        .sort("prompt_id", "sample_idx")
    )


def batch_line(custom_id: str, *choices: dict, status: int = 200) -> dict:
    # vLLM's run_batch writes BatchRequestOutput; OpenAI's Batch API output has the same shape.
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "Qwen/Qwen3-8B",
        "choices": list(choices),
        "usage": {"prompt_tokens": 17, "completion_tokens": 9, "total_tokens": 26},
    }
    return {
        "id": "vllm-batch-1",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": "vllm-batch-1", "body": body},
        "error": None,
    }


def choice(index: int, content: str, reasoning: str | None = None) -> dict:
    message = {"role": "assistant", "content": content, "tool_calls": []}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {"index": index, "message": message, "logprobs": None, "finish_reason": "stop"}


def test_openai_batch_output(lake, tmp_path) -> None:
    path = jsonl(
        tmp_path / "batch_output.jsonl",
        [
            batch_line(P1, choice(0, r"\boxed{2}", reasoning="1 and 1 make 2")),
            batch_line(f"{P2}#0", choice(0, r"\boxed{5}"), choice(1, r"\boxed{6}")),
            batch_line(f"{P2}#1", choice(0, r"\boxed{7}"), choice(1, r"\boxed{5}")),
        ],
    )
    result = import_rollouts(path, lake=lake, dataset=DATASET, model="m", preset="openai-batch")
    frame = rollouts(lake, result.run_id)
    assert result.rollouts == 5 and result.prompts == 2
    by_prompt = frame.group_by("prompt_id").agg(pl.col("sample_idx").sort()).sort("prompt_id")
    assert dict(by_prompt.iter_rows()) == {P1: [0], P2: [0, 1, 2, 3]}
    first = frame.filter(pl.col("prompt_id") == P1).row(0, named=True)
    assert first["reasoning"] == "1 and 1 make 2" and first["answer_text"] == r"\boxed{2}"
    assert first["completion"].startswith("<think>")  # verifiers read the whole completion
    assert first["prompt_tokens"] == 17 and first["finish_reason"] == "stop"
    assert first["source"] == "generate" and first["model"] == "m"
    assert first["rollout_id"] == ids.rollout_id(result.run_id, P1, 0)
    run = lake.scan("runs").filter(pl.col("run_id") == result.run_id).collect().row(-1, named=True)
    assert run["kind"] == "import" and run["status"] == "done" and run["backend"] == "openai-batch"


def test_openai_batch_failed_request_names_its_line(lake, tmp_path) -> None:
    failed = batch_line(P2, choice(0, "x"), status=500)
    path = jsonl(tmp_path / "out.jsonl", [batch_line(P1, choice(0, "2")), failed])
    with pytest.raises(InputError, match=r"out\.jsonl:2, field 'response': the request failed"):
        import_rollouts(path, lake=lake, dataset=DATASET, model="m", preset="openai-batch")
    assert lake.scan("rollouts").collect().height == 0  # nothing written, not even the run
    assert lake.scan("runs").filter(pl.col("kind") == "import").collect().height == 0


def lighteval_row(problem: str, texts: list[str]) -> dict:
    # lighteval >= 0.10 saves asdict(Detail(doc, model_response, metric)) per doc, columns sorted.
    query = (
        "Solve the following math problem efficiently and clearly. The last line of your "
        "response should be of the following format: 'Therefore, the final answer is: "
        f"$\\boxed{{ANSWER}}$'.\n\n{problem}"
    )
    doc = {"query": query, "choices": [PROBLEMS[problem]], "gold_index": 0, "instruction": None,
           "specific": None, "id": "0", "task_name": "lighteval|math_500|0", "num_samples": 2}  # fmt: skip
    response = {
        "input": query,
        "input_tokens": [1, 2, 3, 4],
        "text": texts,
        "output_tokens": [[5, 6], [7, 8, 9]],
        "text_post_processed": None,
        "reasonings": [None] * len(texts),
        "logprobs": [],
        "argmax_logits_eq_gold": [],
    }
    return {"doc": doc, "metric": {"extractive_match": 1.0}, "model_response": response}


def test_lighteval_details_parquet(lake, tmp_path) -> None:
    rows = [
        lighteval_row("What is 1+1?", [r"\boxed{2}", r"\boxed{3}"]),
        lighteval_row("What is 2+3?", [r"\boxed{5}", r"\boxed{5}"]),
    ]
    path = tmp_path / "details_lighteval|math_500|0_2026-01-01T00-00-00.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    result = import_rollouts(path, lake=lake, dataset=DATASET, model="m", preset="lighteval")
    frame = rollouts(lake, result.run_id)
    assert frame.height == 4  # prompts found by the problem inside lighteval's templated query
    assert frame.filter(pl.col("prompt_id") == P1)["answer_text"].to_list() == [
        r"\boxed{2}",
        r"\boxed{3}",
    ]
    assert frame["prompt_tokens"].to_list() == [4, 4, 4, 4]
    assert frame["completion_tokens"].to_list() == [2, 3, 2, 3]


def test_lighteval_old_flat_details(lake, tmp_path) -> None:
    # lighteval < 0.10: Detail(example, full_prompt, predictions, input_tokens, cont_tokens, ...)
    row = {"example": "What is 2+3?", "full_prompt": "Q: What is 2+3?\nA:", "predictions": ["5"],
           "input_tokens": [], "cont_tokens": [], "gold": ["5"], "metrics": {"em": 1.0}}  # fmt: skip
    path = tmp_path / "details_old.parquet"
    pq.write_table(pa.Table.from_pylist([row]), path)
    result = import_rollouts(path, lake=lake, dataset=DATASET, model="m", preset="lighteval")
    assert rollouts(lake, result.run_id)["prompt_id"].to_list() == [P2]


def nemo_line(problem: str, generation: str, **extra) -> dict:
    # NeMo-Skills generate.py dump_outputs: the input data point plus the generation fields.
    return {
        "problem": problem,
        "expected_answer": PROBLEMS[problem],
        "generation": generation,
        "num_generated_tokens": 12,
        "generation_start_time": 1.0,
        "generation_end_time": 2.0,
        "generation_time": 1.0,
    } | extra


def test_nemo_skills_output_files_one_per_seed(lake, tmp_path) -> None:
    runs = []
    for seed, answer in ((0, "2"), (1, "3")):
        path = jsonl(
            tmp_path / f"output-rs{seed}.jsonl",
            [
                nemo_line("What is 1+1?", f"so \\boxed{{{answer}}}"),
                # ++remove_thinking=True keeps the full text in _full_generation
                nemo_line(
                    "What is 2+3?",
                    r"\boxed{5}",
                    _has_think_tags=True,
                    _full_generation="<think>2 plus 3</think>\\boxed{5}",
                ),
            ],
        )
        runs.append(
            import_rollouts(path, lake=lake, dataset=DATASET, model="m", preset="nemo-skills")
        )
    first, second = (rollouts(lake, r.run_id) for r in runs)
    assert first["sample_idx"].to_list() == [0, 0] and second["sample_idx"].to_list() == [1, 1]
    assert second["seed"].to_list() == [1, 1]
    full = first.filter(pl.col("prompt_id") == P2).row(0, named=True)
    assert full["reasoning"] == "2 plus 3" and full["answer_text"] == r"\boxed{5}"
    assert first["completion_tokens"].to_list() == [12, 12]


def test_messages_datasets_open_r1_and_openthoughts(lake, tmp_path) -> None:
    open_r1 = {
        "problem": "What is 1+1?",
        "messages": [
            {"role": "user", "content": "What is 1+1?"},
            {"role": "assistant", "content": "<think>one and one</think> \\boxed{2}"},
        ],
    }
    openthoughts = {
        "system": "Your role as an assistant involves thoroughly exploring questions...",
        "conversations": [
            {"from": "user", "value": "What is 2+3?"},
            {"from": "assistant", "value": "<|begin_of_thought|>2+3<|end_of_thought|> \\boxed{6}"},
        ],
    }
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist([open_r1]), path)
    jsonl_path = jsonl(tmp_path / "openthoughts.jsonl", [openthoughts])
    a = import_rollouts(path, lake=lake, dataset=DATASET, model="r1", preset="messages")
    b = import_rollouts(jsonl_path, lake=lake, dataset=DATASET, model="r1", preset="messages")
    assert rollouts(lake, a.run_id)["reasoning"].to_list() == ["one and one"]
    assert rollouts(lake, b.run_id)["prompt_id"].to_list() == [P2]
    # ... and they are verified like our own rollouts
    verify_rollouts(lake, runs=[a.run_id, b.run_id], config=VerifyConfig())
    verdicts = lake.connect().execute(
        "SELECT r.prompt_id, v.status FROM verdicts v JOIN rollouts r USING (rollout_id) "
        "WHERE v.verifier = 'math' ORDER BY 1"
    )
    assert dict(verdicts.fetchall()) == {P1: "correct", P2: "incorrect"}


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"output": "2", "question": "What is 9+9?"}], r"x\.jsonl:1, field 'problem': no prompt"),
        (
            [{"output": "2", "question": "What is 1+1?"}, {"question": "What is 1+1?"}],
            r"x\.jsonl:2, field 'output': missing",
        ),
        ([{"output": 2, "question": "What is 1+1?"}], r"x\.jsonl:1, field 'output': expected text"),
    ],
)
def test_bad_records_name_their_line_and_write_nothing(lake, tmp_path, records, message) -> None:
    path = jsonl(tmp_path / "x.jsonl", records)
    with pytest.raises(InputError, match=message):
        import_rollouts(
            path,
            lake=lake,
            dataset=DATASET,
            model="m",
            mapping={"completion": "output", "problem": "question"},
        )
    assert lake.scan("rollouts").collect().height == 0


def test_reimporting_the_same_file_writes_nothing(lake, tmp_path) -> None:
    path = jsonl(tmp_path / "out.jsonl", [{"completion": r"\boxed{2}", "id": P1}])
    first = import_rollouts(path, lake=lake, dataset=DATASET, model="m")
    again = import_rollouts(path, lake=lake, dataset=DATASET, model="m")
    assert again.already_imported and again.run_id == first.run_id
    assert lake.scan("rollouts").collect().height == 1


def test_cli_imports_with_map_and_rejects_unknown_presets(lake, tmp_path) -> None:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    cli_rollouts.register(app)
    path = jsonl(tmp_path / "o.jsonl", [{"out": r"\boxed{5}", "q": "What is 2+3?"}])
    common = ["--dataset", DATASET, "--model", "m", "--lake", str(lake.root)]
    result = CliRunner().invoke(
        app, ["rollouts", "import", str(path), *common, "--map", "completion=out,problem=q"]
    )
    assert result.exit_code == 0, result.output
    assert "1 rollouts of 1 prompts" in result.output and "rlvr verify --run" in result.output
    bad = CliRunner().invoke(app, ["rollouts", "import", str(path), *common, "--preset", "nope"])
    assert isinstance(bad.exception, UserError) and "unknown preset" in str(bad.exception)


def test_a_list_of_completions_is_one_sample_each(lake, tmp_path) -> None:
    # open-r1's `generations` column (and Qwen's evaluation `code` column) hold k samples.
    path = jsonl(tmp_path / "gens.jsonl", [{"problem": "What is 1+1?", "generations": ["2", "3"]}])
    result = import_rollouts(
        path, lake=lake, dataset=DATASET, model="m", mapping={"completion": "generations"}
    )
    frame = rollouts(lake, result.run_id)
    assert frame["sample_idx"].to_list() == [0, 1] and frame["completion"].to_list() == ["2", "3"]
