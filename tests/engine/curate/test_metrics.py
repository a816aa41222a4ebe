"""rlvr eval's metrics against hand-computed fixtures, the pass_at_k macro and the SQL views."""

from __future__ import annotations

import math
import statistics

import polars as pl
import pytest

from engine.errors import UserError
from engine.metrics import maj_answers, metric_value, run_metrics
from tests.engine.curate.conftest import GEN, R, prompt_row, write_run

WRONG = "incorrect"


@pytest.fixture
def fixture_lake(lake):
    # prompt a: correct, "5", "5 " (same key as "5"), correct spelt "1." -> ties at k=2 and k=4
    # prompt b: "2", "3", correct, truncated with no answer -> three-way tie at k=4
    write_run(lake, [prompt_row("a"), prompt_row("b")], {
        "0": [R(tokens=10), R(status=WRONG, extracted="5", tokens=40),
              R(status=WRONG, extracted="5 ", tokens=60), R(extracted="1.", tokens=30)],
        "1": [R(status=WRONG, extracted="2", tokens=20), R(status=WRONG, extracted="3", tokens=20),
              R(extracted="1", tokens=50, format_reward=0.0),
              R(status=WRONG, extracted=None, finish="length", tokens=100)],
    })  # fmt: skip
    return lake


def test_hand_computed_metrics(fixture_lake) -> None:
    frame = run_metrics(fixture_lake, GEN)
    value = lambda name: metric_value(frame, name)  # noqa: E731
    assert value("pass@1") == pytest.approx((2 / 4 + 1 / 4) / 2)
    # pass@2: a = 1 - C(2,2)/C(4,2) = 5/6; b = 1 - C(3,2)/C(4,2) = 1/2
    assert value("pass@2") == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert value("pass@4") == 1.0
    assert value("maj@1") == pytest.approx((1 + 0) / 2)
    assert value("maj@2") == pytest.approx((1 / 2 + 0) / 2)  # a: 1 correct vs 1 "5": tie of two
    assert value("maj@4") == pytest.approx((1 / 2 + 1 / 3) / 2)  # a: 2 v 2; b: 1 v 1 v 1
    assert value("no_answer_rate") == pytest.approx((0 + 1 / 4) / 2)
    assert value("truncation_rate") == pytest.approx((0 + 1 / 4) / 2)
    assert value("format_reward") == pytest.approx((1 + 3 / 4) / 2)
    assert value("length_correct_mean") == pytest.approx((10 + 30 + 50) / 3)
    assert value("length_correct_median") == 30
    assert value("length_incorrect_median") == 40  # 40, 60, 20, 20, 100
    # SE over prompts: sd of the per-prompt values / sqrt(2)
    se = frame.filter(pl.col("metric") == "pass@1")["se"][0]
    assert se == pytest.approx(statistics.stdev([0.5, 0.25]) / math.sqrt(2))
    lengths = [10, 30, 50]
    se = frame.filter(pl.col("metric") == "length_correct_median")["se"][0]
    assert se == pytest.approx(math.sqrt(math.pi / 2) * statistics.stdev(lengths) / math.sqrt(3))


def test_maj_groups_show_the_tie(fixture_lake) -> None:
    groups = maj_answers(fixture_lake, GEN).filter(pl.col("k") == 4)
    a = groups.filter(pl.col("prompt_id") == prompt_row("a")["prompt_id"])
    assert sorted(a["votes"].to_list()) == [2, 2]  # "5" and "5 " are one answer
    assert set(a["top_groups"].to_list()) == {2}
    assert a.filter(pl.col("correct"))["maj_score"][0] == 0.5


def test_maj_correct_answers_merge_whatever_their_spelling(lake) -> None:
    # three correct spellings against two identical wrong answers: the correct group wins 3-2
    write_run(lake, [prompt_row("a")], {"0": [
        R(extracted="1/2"), R(extracted="0.5"), R(extracted="\\frac{1}{2}"),
        R(status=WRONG, extracted="2"), R(status=WRONG, extracted="2")]})  # fmt: skip
    frame = run_metrics(lake, GEN)
    assert metric_value(frame, "maj@5") == 1.0
    assert metric_value(frame, "maj@4") == 1.0  # 3 correct vs 1 wrong among the first four


def test_unjudged_rollouts_are_not_counted_as_wrong(lake) -> None:
    write_run(lake, [prompt_row("a")], {"0": [
        R(), R(status="unverifiable", extracted=None), R(status="error", extracted=None),
        R(status=WRONG, extracted="3")]})  # fmt: skip
    frame = run_metrics(lake, GEN)
    assert metric_value(frame, "pass@1") == 0.5  # n = 2 judged, c = 1
    assert "pass@4" not in frame["metric"].to_list()  # k stops at n = 2


@pytest.mark.parametrize(("n", "c"), [(8, 3), (16, 1), (5, 5), (7, 0), (12, 11)])
def test_pass_at_k_agrees_with_the_sql_macro(lake, n: int, c: int) -> None:
    write_run(lake, [prompt_row("a"), prompt_row("b")], {
        "0": [R()] * c + [R(status=WRONG, extracted="9")] * (n - c),
        "1": [R()] * (n - c) + [R(status=WRONG, extracted="9")] * c,
    })  # fmt: skip
    frame = run_metrics(lake, GEN)
    con = lake.connect()
    for k in [2**e for e in range(8) if 2**e < n] + [n]:
        macro = con.execute("SELECT (pass_at_k(?, ?, ?) + pass_at_k(?, ?, ?)) / 2",
                            [n, c, k, n, n - c, k]).fetchone()[0]  # fmt: skip
        assert metric_value(frame, f"pass@{k}") == pytest.approx(macro, abs=1e-12)


def test_sql_view_equals_the_library(fixture_lake) -> None:
    api = run_metrics(fixture_lake, GEN).sort("metric")
    view = pl.from_arrow(fixture_lake.connect().sql(
        "SELECT * FROM run_metrics ORDER BY metric").to_arrow_table())  # fmt: skip
    assert view["metric"].to_list() == api["metric"].to_list()
    assert view["value"].to_list() == pytest.approx(api["value"].to_list())


def test_by_task_and_by_dataset(lake) -> None:
    write_run(lake, [prompt_row("a", dataset="d1"), prompt_row("b", dataset="d2")],
              {"0": [R(), R()], "1": [R(status=WRONG, extracted="4")] * 2})  # fmt: skip
    by_dataset = run_metrics(lake, GEN, by="dataset")
    assert metric_value(by_dataset, "pass@1", "d1") == 1.0
    assert metric_value(by_dataset, "pass@1", "d2") == 0.0
    assert metric_value(run_metrics(lake, GEN, by="task"), "pass@1", "math") == 0.5


def test_unknown_run_is_a_user_error(fixture_lake) -> None:
    with pytest.raises(UserError, match="no rollouts for run 'nope'"):
        run_metrics(fixture_lake, "nope")


def _split_wrong_answers(lake) -> None:
    # two correct votes against "0.5" and "1/2": two spellings of one wrong answer
    write_run(lake, [prompt_row("a", answer="3")], {"0": [
        R(extracted="3"), R(status=WRONG, extracted="0.5"), R(extracted="3"),
        R(status=WRONG, extracted="1/2")]})  # fmt: skip


def test_maj_merges_wrong_answers_the_verifier_finds_equal(lake) -> None:
    _split_wrong_answers(lake)
    assert metric_value(run_metrics(lake, GEN), "maj@4") == 0.5  # 2 correct v 2 "1/2": a tie
    assert metric_value(run_metrics(lake, GEN, equivalence=False), "maj@4") == 1.0
    groups = maj_answers(lake, GEN).filter(pl.col("k") == 4)
    assert sorted(groups["votes"].to_list()) == [2, 2]


def test_the_verifier_is_asked_only_where_a_merge_could_change_maj(lake, monkeypatch) -> None:
    import engine.metrics as metrics

    asked: list = []
    monkeypatch.setattr(
        metrics, "_equal", lambda pairs: asked.extend(pairs) or [False] * len(pairs)
    )
    # 3 correct against 1 + 1 wrong: no merge of the wrong answers can reach 3
    write_run(lake, [prompt_row("a", answer="3")], {"0": [
        R(extracted="3"), R(extracted="3"), R(extracted="3"),
        R(status=WRONG, extracted="0.5"), R(status=WRONG, extracted="1/2")]})  # fmt: skip
    assert metric_value(run_metrics(lake, GEN), "maj@5") == 1.0
    assert asked == []  # at k=4 and k=5 the wrong votes (1, 2) stay below 3; at k=1, 2 none


def test_pairwise_checks_are_bounded(lake, monkeypatch) -> None:
    import engine.metrics as metrics

    asked: list = []
    monkeypatch.setattr(
        metrics, "_equal", lambda pairs: asked.extend(pairs) or [False] * len(pairs)
    )
    wrong = [R(status=WRONG, extracted=f"x+{v}") for v in range(10, 22)]  # 12 distinct ones
    write_run(lake, [prompt_row("a", answer="3")], {"0": [R(extracted="3"), *wrong]})
    run_metrics(lake, GEN)
    assert len(asked) == 28  # the 8 most-voted wrong answers, pairwise
    asked.clear()
    con = lake.connect()
    with metrics._prepared(con, [GEN], equivalence=False):
        pass
    assert asked == []


def test_plain_numbers_are_compared_without_the_verifier(lake, monkeypatch) -> None:
    import engine.metrics as metrics

    asked: list = []
    monkeypatch.setattr(
        metrics, "_equal", lambda pairs: asked.extend(pairs) or [False] * len(pairs)
    )
    write_run(lake, [prompt_row("a", answer="3")], {"0": [
        R(extracted="3"), R(status=WRONG, extracted="2"), R(extracted="3"),
        R(status=WRONG, extracted="2.0")]})  # fmt: skip
    assert metric_value(run_metrics(lake, GEN), "maj@4") == 0.5  # "2" and "2.0" are one answer
    assert asked == []


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_cli_eval_formats(fixture_lake, capsys, fmt: str) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--lake", str(fixture_lake.root), "--run", GEN, "--format", fmt])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    if fmt == "csv":
        frame = pl.read_csv(out.encode())
        assert frame.columns == ["run_id", "dataset", "metric", "k", "value", "se", "count"]
        assert frame.filter(pl.col("metric") == "pass@1")["value"][0] == pytest.approx(0.375)
    else:
        assert "maj@4" in out and "0.4167" in out


def test_cli_eval_unknown_run_exits_2(fixture_lake, capsys) -> None:
    from engine.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--lake", str(fixture_lake.root), "--run", "nope"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: no rollouts for run 'nope' — list the runs with `rlvr runs`"
    )


def test_a_group_of_one_prompt_keeps_its_rates(lake) -> None:
    # One prompt: every prompt-level SE is NULL; DuckDB's plain UNPIVOT dropped such rows.
    write_run(
        lake, [prompt_row("a")], {"0": [R(), R(status=WRONG, extracted=None, finish="length")]}
    )
    frame = run_metrics(lake, GEN)
    assert metric_value(frame, "truncation_rate") == pytest.approx(0.5)
    assert metric_value(frame, "no_answer_rate") == pytest.approx(0.5)
    assert metric_value(frame, "format_reward") == 1.0
