"""`rlvr ui` through FastAPI's TestClient: pages, numbers against the metric views, filters,
search, escaping, the SQL box's locks and time limit, access control, and the command's checks."""

from __future__ import annotations

import html
import re
import socket

import markupsafe
import pytest
from fastapi.testclient import TestClient

from engine.cli import main
from engine.cli_ui import check_bind
from engine.errors import UserError
from engine.schema import conform
from engine.ui import ReadOnlySQL, create_app
from engine.ui.store import Filters, Store
from tests.engine.curate.conftest import GEN, INGEST
from tests.ui.conftest import AFTER, EVIL, TRAIN


@pytest.fixture
def client(ui_lake) -> TestClient:
    return TestClient(create_app(ui_lake, sql_timeout_s=2.0))


def _ids(page: str, prefix: str) -> list[str]:
    return re.findall(rf'href="/{prefix}/([0-9a-f]{{16}})"', page)


def test_runs_page_lists_runs_with_metrics(client) -> None:
    page = client.get("/").text
    for run in (GEN, AFTER, TRAIN):
        assert f'href="/runs/{run}"' in page
    # GEN: pass@1 = mean(1/4, 2/4, 0/1) = 0.25; maj@4 = (0 + 1/2 tie + 0) / 3
    row = page[page.index(f'href="/runs/{GEN}"') :].split("</tr>")[0]
    assert "0.250" in row and "0.167" in row and "k=4" in row


def test_prompt_stats_agree_with_the_metric_views(ui_lake) -> None:
    store = Store(ui_lake)
    rows = {r["prompt_id"]: r for r in store.prompts(GEN).rows}
    con = ui_lake.connect()
    scores = con.execute(
        "SELECT prompt_id, c / n FROM prompt_scores WHERE run_id = ? AND verifier IN ('math', 'code')",
        [GEN],
    ).fetchall()
    assert {p: rows[p]["pass_rate"] for p, _ in scores} == dict(scores)
    maj = con.execute(
        "SELECT prompt_id, sum(maj_score) FROM maj_answers WHERE run_id = ? AND k = n_k GROUP BY 1"
        .replace("n_k", "(SELECT max(k) FROM maj_answers m2 WHERE m2.run_id = maj_answers.run_id "
                        "AND m2.prompt_id = maj_answers.prompt_id)"),
        [GEN],
    ).fetchall()  # fmt: skip
    assert maj and all(rows[p]["maj_score"] == pytest.approx(v) for p, v in maj)


def test_prompts_sort_and_paginate(ui_lake, monkeypatch) -> None:
    store = Store(ui_lake)
    up = [r["pass_rate"] for r in store.prompts(GEN, sort="pass_rate").rows]
    down = [r["pass_rate"] for r in store.prompts(GEN, sort="pass_rate", desc=True).rows]
    assert up == sorted(up) and down == sorted(up, reverse=True) and up != down
    monkeypatch.setattr("engine.ui.store.PAGE_ROWS", 2)
    first, second = store.prompts(GEN, page=1), store.prompts(GEN, page=2)
    assert len(first.rows) == 2 and first.more and len(second.rows) == 1 and not second.more
    assert {r["prompt_id"] for r in first.rows}.isdisjoint(r["prompt_id"] for r in second.rows)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(status="incorrect"), 6),  # 3 + 2 math, 1 code
        (Filters(status="correct"), 3),
        (Filters(truncated=True), 1),
        (Filters(mixed=True), 1),  # the language verdict said mixed
        (Filters(min_tokens=30, max_tokens=50), 3),  # 40, 50, 30 (not 99, 20)
        (Filters(dataset="codes"), 1),
        (Filters(text="onerror"), 1),  # full-text over completions
        (Filters(text="100%"), 0),  # the wildcard is literal
        (Filters(status="correct", text="onerror"), 0),
    ],
)
def test_filters_and_search(ui_lake, filters, expected) -> None:
    assert len(Store(ui_lake).search(GEN, filters).rows) == expected


def test_incorrect_filter_page_shows_only_incorrect(client) -> None:
    page = client.get(f"/runs/{GEN}/rollouts", params={"status": "incorrect"}).text
    assert page.count('<span class="badge incorrect">incorrect</span>') == 6
    assert 'badge correct">correct' not in page


def test_prompt_page_shows_k_rollouts_and_escapes_model_text(client, ui_lake) -> None:
    prompt_id = Store(ui_lake).search(GEN, Filters(text="onerror")).rows[0]["prompt_id"]
    page = client.get(f"/runs/{GEN}/prompts/{prompt_id}").text
    assert page.count('class="card is-') == 4
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "</textarea><img" not in page
    assert str(markupsafe.escape(EVIL)) in page  # shown, as text
    assert 'class="extracted">5<' in page and "<details>" in page  # extracted answer, folded CoT


def test_code_rollout_shows_judge_codes_and_the_failing_test(client, ui_lake) -> None:
    rollout_id = Store(ui_lake).search(GEN, Filters(dataset="codes")).rows[0]["rollout_id"]
    page = client.get(f"/rollouts/{rollout_id}").text
    assert "badge code-WA" in page and "tests 0/2" in page
    failing = page[page.index("failing test 0") :]
    assert "1 2" in failing and "3" in failing and "4" in failing  # input, expected, actual


def test_compare_counts_flips(client) -> None:
    page = client.get("/compare", params={"a": GEN, "b": AFTER}).text
    # a: majority wrong in GEN, right in AFTER; b: tie (first group wrong) → wrong in AFTER
    summary = re.sub(r"<[^>]+>", "", page[page.index('id="compare-summary"') :].split("</p>")[0])
    assert "2 shared prompts" in summary and "correct majority: 1" in summary
    flipped = client.get("/compare", params={"a": GEN, "b": AFTER, "flipped": "true"}).text
    assert flipped.count('badge unverifiable">flipped') == 1


def test_training_run_plots_by_step(client, ui_lake) -> None:
    steps = Store(ui_lake).steps(TRAIN)
    assert [s["accuracy"] for s in steps] == [0.25, 0.5, 0.75]
    assert [s["mean_tokens"] for s in steps] == [10, 20, 30]
    page = client.get(f"/runs/{TRAIN}").text
    assert page.count("<svg") == 3 and "accuracy by step" in page


def test_cache_follows_appends(ui_lake, monkeypatch) -> None:
    monkeypatch.setattr("engine.ui.store.CHECK_EVERY_S", 0.0)
    store = Store(ui_lake)
    before = store.runs()
    ui_lake.write_run("generate", run_id="later-run")
    assert len(store.runs()) == len(before) + 1


def test_sql_box_renders_a_paginated_table(client) -> None:
    page = client.get("/sql", params={"q": "SELECT range AS i FROM range(250)", "page": 2}).text
    cells = re.findall(r"<td>(\d+)</td>", page)
    assert cells[0] == "100" and cells[-1] == "199" and "next →" in page


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("COPY runs TO '/tmp/out.csv'", "COPY statements are refused"),
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_text('/etc/passwd')", "file system operations are disabled"),
        ("ATTACH '/tmp/x.db' AS x", "ATTACH statements are refused"),
        ("CREATE TABLE t AS SELECT 1", "CREATE statements are refused"),
        ("INSTALL httpfs", "LOAD statements are refused"),
        ("SET enable_external_access = true", "SET statements are refused"),
        ("SELECT 1; DROP VIEW runs", "one statement at a time"),
        ("SELEC 1", "syntax"),
    ],
)
def test_sql_box_refuses_writes_and_outside_files(client, ui_lake, query, says) -> None:
    response = client.get("/sql", params={"q": query})
    assert response.status_code == 400
    assert says in html.unescape(response.text)
    assert not list(ui_lake.root.rglob("*.csv")) and not list(ui_lake.root.rglob("*.db"))


def test_sql_box_cannot_unlock_itself(ui_lake) -> None:
    box = ReadOnlySQL(ui_lake)
    with pytest.raises(Exception, match="locked"):
        box._db.execute("SET enable_external_access = true")
    assert box.query("SELECT count(*) FROM rollouts").rows == [(29,)]  # 9 + 8 + 12


def test_sql_box_cancels_a_slow_query(ui_lake) -> None:
    box = ReadOnlySQL(ui_lake, timeout_s=0.3)
    with pytest.raises(UserError, match=r"cancelled after 0.3 s"):
        box.query(
            "SELECT count(*) FROM range(1000000) a, range(100000) b WHERE a.range + b.range = -1"
        )
    assert box.query("SELECT 42").rows == [(42,)]  # the box still works


def test_token_is_required_when_set(ui_lake) -> None:
    client = TestClient(create_app(ui_lake, token="s3cret-token", loopback=False))
    assert client.get("/").status_code == 401
    assert client.get("/", params={"token": "wrong-token"}).status_code == 401
    assert client.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.get("/", params={"token": "s3cret-token"}).status_code == 200  # cookie set
    assert client.get(f"/runs/{GEN}").status_code == 200


def test_loopback_refuses_foreign_host_headers(ui_lake) -> None:
    client = TestClient(create_app(ui_lake))
    assert client.get("/", headers={"Host": "evil.example:8765"}).status_code == 403
    assert client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200


@pytest.mark.parametrize(
    ("host", "remote", "token", "ok"),
    [
        ("127.0.0.1", False, None, True),
        ("localhost", False, None, True),
        ("::1", False, None, True),
        ("0.0.0.0", False, None, False),  # every interface: refused by default
        ("0.0.0.0", True, None, False),  # --allow-remote alone is not enough
        ("0.0.0.0", False, "long-enough-token", False),
        ("0.0.0.0", True, "long-enough-token", True),
        ("0.0.0.0", True, "short", False),
    ],
)
def test_bind_rules(host, remote, token, ok) -> None:
    if ok:
        check_bind(host, allow_remote=remote, token=token)
    else:
        with pytest.raises(UserError):
            check_bind(host, allow_remote=remote, token=token)


def test_command_refuses_a_remote_host_in_one_line(ui_lake, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["ui", "--lake", str(ui_lake.root), "--host", "0.0.0.0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --host 0.0.0.0") and "--allow-remote" in err and "\n" not in err


def test_missing_things_are_one_line_errors(client, tmp_path, capsys) -> None:
    page = client.get("/runs/no-such-run")
    assert page.status_code == 400 and "no run" in page.text
    assert client.get(f"/runs/{GEN}/rollouts", params={"min_tokens": "ten"}).status_code == 400
    with pytest.raises(SystemExit) as exit_info:
        main(["ui", "--lake", str(tmp_path / "nope")])
    assert exit_info.value.code == 2 and "no lake" in capsys.readouterr().err


def test_a_rewritten_rollout_shows_its_latest_text_once(ui_lake) -> None:
    store = Store(ui_lake)
    row = store.search(GEN, Filters(text="onerror")).rows[0]
    rewritten = {k: row[k] for k in ("rollout_id", "prompt_id", "sample_idx")}
    rewritten |= {
        "completion": "rewritten text",
        "answer_text": "rewritten answer",
        "source": "generate",
    }
    # a later row with the same id, written past the append-time dedupe (as a compact may leave)
    ui_lake._write("rollouts", conform("rollouts", [rewritten], run_id=GEN), GEN)
    fresh = Store(ui_lake)
    found = fresh.prompt(GEN, row["prompt_id"])
    assert [r["answer_text"] for r in found["rollouts"]].count("rewritten answer") == 1
    assert len(found["rollouts"]) == 4
    assert fresh.search(GEN, Filters(text="onerror")).rows == []
    assert fresh.rollout(row["rollout_id"])["rollout"]["completion"] == "rewritten text"


@pytest.mark.parametrize("status", ["", "incorrect", "correct"])
def test_text_search_pages_cover_every_match_once(ui_lake, monkeypatch, status) -> None:
    monkeypatch.setattr("engine.ui.store.PAGE_ROWS", 2)  # several pages, filters dropping rows
    store = Store(ui_lake)
    seen, page = [], 1
    while True:
        result = store.search(GEN, Filters(text="answer is", status=status), page)
        seen += [row["rollout_id"] for row in result.rows]
        if not result.more:
            break
        page += 1
    expected = (
        ui_lake.connect()
        .execute(
            "SELECT r.rollout_id FROM rollouts AS r JOIN rollout_facts AS f USING (rollout_id) "
            "WHERE r.run_id = ? AND r.completion ILIKE '%answer is%' AND (? = '' OR f.status = ?)",
            [GEN, status, status],
        )
        .fetchall()
    )
    assert len(seen) == len(set(seen)) and set(seen) == {rid for (rid,) in expected}
    assert len(seen) > 2  # more than one page


def test_a_taken_port_is_a_one_line_error(ui_lake, capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["ui", "--lake", str(ui_lake.root), "--port", str(port)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot listen on 127.0.0.1:{port}") and "\n" not in err


def test_a_rejudged_verdict_and_a_rewritten_prompt_show_their_latest_rows(ui_lake) -> None:
    store = Store(ui_lake)
    row = store.search(GEN, Filters(status="correct")).rows[0]
    prompt = store.prompt(GEN, row["prompt_id"])["prompt"]
    # later rows with the same ids: the math verdict re-judged, the problem rewritten
    ui_lake.append("verdicts", [{"rollout_id": row["rollout_id"], "verifier": "math",
                                 "status": "incorrect", "reward": 0.0, "extracted": "99"}],
                   run_id="20261130T140000-verify-again")  # fmt: skip
    rewritten = {k: prompt[k] for k in ("prompt_id", "dataset", "task", "answer", "split")}
    rewritten["problem"] = "Rewritten problem text."
    ui_lake._write("prompts", conform("prompts", [rewritten], run_id=INGEST), INGEST)
    fresh = Store(ui_lake)
    found = fresh.prompt(GEN, row["prompt_id"])
    assert found["prompt"]["problem"] == "Rewritten problem text."
    card = next(r for r in found["rollouts"] if r["rollout_id"] == row["rollout_id"])
    assert [(v["verifier"], v["status"], v["extracted"]) for v in card["verdicts"]].count(
        ("math", "incorrect", "99")
    ) == 1
    assert [v["verifier"] for v in card["verdicts"]].count("math") == 1
    assert card["status"] == "incorrect" and card["verdict"]["extracted"] == "99"
    alone = fresh.rollout(row["rollout_id"])
    assert alone["rollout"]["verdict"]["status"] == "incorrect"
    assert alone["prompt"]["problem"] == "Rewritten problem text."
    preview = fresh.prompts(GEN).rows
    assert "Rewritten problem text." in {r["preview"] for r in preview}


def test_warm_up_builds_everything_before_the_first_page(ui_lake, monkeypatch) -> None:
    app = create_app(ui_lake)
    store = app.state.store
    timings = app.state.warm_up()
    assert timings["warm_up_s"] >= timings["cache_build_s"] > 0
    builds = []
    monkeypatch.setattr(store, "_rebuild", lambda signature: builds.append(signature))
    client = TestClient(app)
    prompt_id = store.prompts(GEN).rows[0]["prompt_id"]
    for url in ("/", f"/runs/{GEN}", f"/runs/{GEN}/prompts/{prompt_id}", "/sql?q=SELECT+1"):
        assert client.get(url).status_code == 200
    assert builds == []  # the lake did not change: no page waited for a build


def test_command_warms_up_before_it_listens(ui_lake, monkeypatch, capsys) -> None:
    import uvicorn

    seen = {}

    def fake_run(app, **kwargs) -> None:
        seen["built"] = app.state.store.signature is not None

    monkeypatch.setattr(uvicorn, "run", fake_run)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SystemExit) as exit_info:
        main(["ui", "--lake", str(ui_lake.root), "--port", str(port)])
    assert exit_info.value.code == 0 and seen == {"built": True}
    err = capsys.readouterr().err
    assert re.search(r"ready in \d+\.\d s; serving at http://127\.0\.0\.1:\d+/", err)
