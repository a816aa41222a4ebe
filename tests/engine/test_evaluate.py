"""`rlvr evaluate`: on the demo's recorded outputs its numbers equal the README's pass@k SQL; the
generating path on a synthetic file with the tiny model; bad input is one line, exit 2, no lake."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine import demo
from engine.cli import main
from engine.evaluate import BENCHMARKS, resolve_benchmark
from engine.ingest.core import import_prompts
from engine.lake import Lake
from engine.tasks import synthesize

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_pass_at_k_sql() -> str:
    """The README's first SQL block: pass@1 and pass@8 per dataset and verifier."""
    block = re.search(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert block and "pass_at_k(n, c, 8)" in block.group(1)
    return block.group(1)


def _evaluate(capsys, *args: str) -> list[dict]:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", *args, "--format", "json"])
    captured = capsys.readouterr()
    assert exit_info.value.code == 0, captured.err
    return [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]


def test_recorded_runs_equal_the_readme_sql(tmp_path, shared_data, capsys) -> None:
    # `make demo-recorded`'s runs: Qwen2.5-Math (800, via `rlvr rollouts import`) and CodeGen
    # (3 HumanEval problems x 8 samples here, so that pass@8 is defined for both).
    lake = Lake.open(tmp_path / "lake")
    math = import_prompts(shared_data / demo.MATH_FILE, lake=lake, preset="qwen_math_cot")
    math_run, _ = demo.import_math(lake, shared_data, math.dataset)
    code = import_prompts(shared_data / demo.HUMANEVAL_FILE, lake=lake, preset="humaneval")
    code_run = demo.record_code(lake, shared_data, code.dataset, problems=3, samples=8)
    lake_args = ["--lake", str(lake.root), "--backend", "recorded"]
    got = _evaluate(capsys, *lake_args, "--benchmark", str(shared_data / demo.MATH_FILE),
                    "--run", math_run)  # fmt: skip
    got += _evaluate(capsys, *lake_args, "--benchmark", "humaneval", "--data", str(shared_data),
                     "--run", code_run)  # fmt: skip
    readme = {
        row[0]: row
        for row in lake.connect().execute(_readme_pass_at_k_sql().rstrip().rstrip(";")).fetchall()
    }
    assert {row["dataset"] for row in got} == set(readme) == {"qwen_math_cot_100", "humaneval"}
    for row in got:
        _, _verifier, prompts, pass1, pass8 = readme[row["dataset"]]
        assert row["k"] == 8 and row["prompts"] == prompts
        assert round(row["pass@1"], 3) == pass1 and round(row["pass@8"], 3) == pass8
    assert got[0]["pass@1"] == pytest.approx(0.911, abs=5e-4)  # Qwen's sample, judged by us


def test_generates_with_the_paper_settings_on_a_synthetic_file(tmp_path, tiny_model, capsys):
    problems = synthesize("arithmetic", n=5, seed=0, difficulty="easy")
    path = tmp_path / "synth_arith.jsonl"
    path.write_text("".join(json.dumps({"problem": p.problem, "answer": p.answer}) + "\n"
                            for p in problems))  # fmt: skip
    lake_dir = tmp_path / "lake"
    got = _evaluate(capsys, "--lake", str(lake_dir), "--benchmark", str(path), "--model",
                    str(tiny_model), "-k", "3", "--limit", "2", "--max-tokens", "12")  # fmt: skip
    con = Lake.open(lake_dir).connect()
    run = con.execute(
        "SELECT run_id, params->>'temperature', params->>'top_p', params->>'n' FROM runs "
        "WHERE kind = 'generate'"
    ).fetchall()
    assert [r[1:] for r in run] == [("0.6", "0.95", "3")]
    run_id = run[0][0]
    assert [row["run_id"] for row in got] == [run_id]
    assert con.execute("SELECT count(*) FROM prompts").fetchone() == (5,)  # the file, imported
    per_prompt = con.execute(
        "SELECT count(*) AS n, count(*) FILTER (WHERE v.status = 'correct') AS c "
        "FROM rollouts r JOIN verdicts v USING (rollout_id) WHERE r.run_id = ? AND "
        "v.verifier = 'math' GROUP BY r.prompt_id",
        [run_id],
    ).fetchall()
    assert sorted(n for n, _ in per_prompt) == [3, 3]  # --limit 2, k = 3, every rollout judged
    assert got[0]["pass@1"] == pytest.approx(sum(c / n for n, c in per_prompt) / 2)
    assert got[0]["dataset"] == "synth_arith" and got[0]["k"] == 3
    # again: the benchmark is in the lake now, so nothing is imported twice
    _evaluate(capsys, "--lake", str(lake_dir), "--benchmark", str(path), "--model",
              str(tiny_model), "-k", "1", "--limit", "1", "--max-tokens", "4")  # fmt: skip
    assert Lake.open(lake_dir).connect().execute(
        "SELECT count(*) FROM runs WHERE kind = 'ingest'"
    ).fetchone() == (1,)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # a named benchmark whose file is not where --data says
        (["--benchmark", "aime24", "--data", "{tmp}/nowhere", "--model", "m"],
         "error: benchmark file {tmp}/nowhere/math/aime24_test.jsonl not found — pass --file"),
        # neither a name nor a file
        (["--benchmark", "aime2024", "--model", "m"], "error: benchmark 'aime2024': not a known name"),
        # recorded outputs need their run
        (["--benchmark", "{tmp}/b.jsonl", "--backend", "recorded"],
         "error: --backend recorded needs --run RUN"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_and_no_lake(tmp_path, capsys, args, message) -> None:
    (tmp_path / "b.jsonl").write_text('{"problem": "1+1", "answer": "2"}\n')
    lake_dir = tmp_path / "lake"
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--lake", str(lake_dir), *args])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert err.startswith(message.replace("{tmp}", str(tmp_path))) and "\n" not in err
    assert not lake_dir.exists()


def test_recorded_run_of_another_benchmark_is_refused(tmp_path, shared_data, capsys) -> None:
    lake = Lake.open(tmp_path / "lake")
    code = import_prompts(shared_data / demo.HUMANEVAL_FILE, lake=lake, preset="humaneval")
    code_run = demo.record_code(lake, shared_data, code.dataset, problems=1, samples=1)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--lake", str(lake.root), "--benchmark", "math500", "--data",
              str(shared_data), "--backend", "recorded", "--run", code_run])  # fmt: skip
    assert exit_info.value.code == 2
    assert "has rollouts of humaneval, not of math500" in capsys.readouterr().err
    # a mistyped run: one line, and the benchmark is not imported for nothing
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--lake", str(lake.root), "--benchmark", "aime24", "--data",
              str(shared_data), "--backend", "recorded", "--run", "nope"])  # fmt: skip
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: no rollouts for run 'nope' — list the runs with `rlvr runs`"
    )
    datasets = lake.connect().execute("SELECT DISTINCT dataset FROM prompts").fetchall()
    assert ("aime24",) not in datasets and ("math500",) in datasets


def test_every_benchmark_name_resolves_to_its_shared_file(shared_data) -> None:
    for name, (preset, rel) in BENCHMARKS.items():
        bench = resolve_benchmark(name, data=shared_data)
        assert bench.path == shared_data / rel and bench.preset == preset, name
