"""What the viewer's pages read: per-run aggregates cached in memory, text read on demand.

Pages must render in ≤ 300 ms on a lake of a million rollouts (issue 15), and the lake's views
keep one row per id with a window over the whole table, which costs seconds at that size. So a
:class:`Store` builds, once per state of the lake, an in-memory DuckDB database of small tables
without any text (``ui_facts``: one row per rollout; ``ui_prompt_stats``: one per (run, prompt);
``ui_run_stats``; ``ui_runs``; ``ui_prompts``: previews; ``ui_verdicts``), and pages query
those. Each id's latest row is kept (the views' rule) with where it lies: file and row number.
Text (completions, verdict details, full problems) is read on demand by row number, with
DuckDB's Parquet prefetching off so that a page reads the few pages of a column chunk holding
its rows rather than the whole chunk (1 MB instead of 71 MB for 8 rollouts of 1800 characters
among 128k), and Parquet footers are cached. :meth:`Store.warm_up` (``rlvr ui`` calls it before
listening) builds the cache and reads every file's footer, so the first page waits for neither.
The state of the lake is the list of data files with their sizes and mtimes, checked at most
once a second; an append or a compact rebuilds the cache.

Definitions follow :mod:`engine.metrics_sql`: a rollout's accuracy verdict is the one from the
verifier named like its prompt's task; judged = non-NULL reward; the majority answer groups
every correct rollout together and the others by ``answer_key``; maj@k here is cons@n (all k
samples vote) with the tie rule of the metrics (1/t when the correct group is among t tied tops).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import duckdb

from engine import sql
from engine.lake import Lake
from engine.schema import SCHEMAS, id_columns

__all__ = [
    "CHECK_EVERY_S",
    "PAGE_ROWS",
    "PROMPT_SORTS",
    "Filters",
    "Page",
    "Store",
    "lake_signature",
]

PAGE_ROWS = 50
CHECK_EVERY_S = 1.0

# The cache, built from ``ui_prompts``, ``ui_rollouts`` and ``ui_verdicts`` (:func:`_located`:
# each id's latest row, the columns the pages filter and aggregate on, and where the row lies).
# Stored in page order, by run and prompt: DuckDB's min/max per row group then skips the other
# runs' rows (and, for one prompt, all but one group).
_CACHE_SQL = [
    """CREATE TABLE ui_facts AS
       SELECT r.run_id, r.prompt_id, r.rollout_id, r.sample_idx, r.source, r.step,
              r.file_idx, r.row,
              p.dataset, p.task, r.completion_tokens AS tokens,
              coalesce(r.finish_reason = 'length', false) AS truncated,
              coalesce(a.status, 'unjudged') AS status, a.reward, a.extracted,
              coalesce(a.reward IS NOT NULL, false) AS judged,
              coalesce(a.status = 'correct', false) AS correct,
              answer_key(a.extracted) AS answer_key,
              coalesce(l.status = 'incorrect', false) AS mixed, t.total_reward
       FROM ui_rollouts AS r LEFT JOIN ui_prompts AS p USING (prompt_id)
       LEFT JOIN ui_verdicts AS a ON a.rollout_id = r.rollout_id AND a.verifier = p.task
       LEFT JOIN ui_verdicts AS l ON l.rollout_id = r.rollout_id AND l.verifier = 'language'
       LEFT JOIN (SELECT rollout_id, sum(reward) AS total_reward FROM ui_verdicts GROUP BY 1)
              AS t ON t.rollout_id = r.rollout_id
       ORDER BY r.run_id, r.prompt_id, r.sample_idx""",
    "DROP TABLE ui_rollouts",
    """CREATE TABLE ui_prompt_stats AS
       WITH groups AS (
           SELECT run_id, prompt_id, correct, min(extracted) AS answer, count(*) AS votes,
                  min(sample_idx) AS first_idx
           FROM ui_facts WHERE judged AND (correct OR answer_key IS NOT NULL)
           GROUP BY run_id, prompt_id, correct, CASE WHEN correct THEN NULL ELSE answer_key END),
       tops AS (
           SELECT *, votes = max(votes) OVER (PARTITION BY run_id, prompt_id) AS is_top
           FROM groups),
       maj AS (
           SELECT run_id, prompt_id,
                  arg_min(answer, first_idx) FILTER (WHERE is_top) AS maj_answer,
                  arg_min(correct, first_idx) FILTER (WHERE is_top) AS maj_correct,
                  count(*) FILTER (WHERE is_top AND correct) / count(*) FILTER (WHERE is_top)
                      AS maj_score
           FROM tops GROUP BY ALL)
       SELECT f.run_id, f.prompt_id, any_value(f.dataset) AS dataset, count(*) AS rollouts,
              count(*) FILTER (WHERE f.judged) AS n, count(*) FILTER (WHERE f.correct) AS c,
              count(*) FILTER (WHERE f.correct) / nullif(count(*) FILTER (WHERE f.judged), 0)
                  AS pass_rate,
              avg(f.tokens) AS mean_tokens, avg(f.truncated::INT) AS truncation_rate,
              any_value(m.maj_answer) AS maj_answer, any_value(m.maj_correct) AS maj_correct,
              CASE WHEN count(*) FILTER (WHERE f.judged) > 0
                   THEN coalesce(any_value(m.maj_score), 0.0) END AS maj_score
       FROM ui_facts AS f LEFT JOIN maj AS m USING (run_id, prompt_id)
       GROUP BY f.run_id, f.prompt_id ORDER BY f.run_id, f.prompt_id""",
    "CREATE TABLE ui_runs AS SELECT * FROM runs",
    """CREATE TABLE ui_datasets AS
       SELECT DISTINCT run_id, dataset FROM ui_prompt_stats WHERE dataset IS NOT NULL""",
    """CREATE TABLE ui_run_stats AS
       SELECT s.run_id, s.prompts, s.rollouts, s.pass1, s.maj, s.k, l.len_correct,
              l.len_incorrect, l.len_all
       FROM (SELECT run_id, count(*) AS prompts, sum(rollouts) AS rollouts,
                    avg(pass_rate) AS pass1, avg(maj_score) AS maj, max(n) AS k
             FROM ui_prompt_stats GROUP BY 1) AS s
       LEFT JOIN (SELECT run_id, avg(tokens) FILTER (WHERE judged AND correct) AS len_correct,
                         avg(tokens) FILTER (WHERE judged AND NOT correct) AS len_incorrect,
                         avg(tokens) AS len_all
                  FROM ui_facts GROUP BY 1) AS l USING (run_id)""",
]

# Per table: the name of its located cache table, the columns kept in memory, and whether it is
# stored by id (pages look prompts and verdicts up by id; ui_rollouts only feeds ui_facts).
_LOCATED = {
    "prompts": (
        "ui_prompts",
        "prompt_id, dataset, task, left(problem, 240) AS preview, answer",
        True,
    ),
    "rollouts": (
        "ui_rollouts",
        "run_id, prompt_id, rollout_id, sample_idx, source, step, completion_tokens, finish_reason",
        False,
    ),
    "verdicts": ("ui_verdicts", "rollout_id, verifier, status, reward, extracted", True),
}

PROMPT_SORTS = {
    "pass_rate": "s.pass_rate",
    "mean_tokens": "s.mean_tokens",
    "n": "s.n",
    "maj_answer": "s.maj_answer",
    "dataset": "s.dataset",
    "truncation_rate": "s.truncation_rate",
}


@dataclass(frozen=True, kw_only=True)
class Filters:
    """The rollout filters of a run: verdict, truncated, language-mixed, length, dataset, text."""

    status: str = ""  # "", correct, incorrect, unverifiable
    truncated: bool = False
    mixed: bool = False
    min_tokens: int | None = None
    max_tokens: int | None = None
    dataset: str = ""
    text: str = ""

    def where(self) -> tuple[str, list[Any]]:
        """SQL conditions on ``ui_facts AS f`` and their parameters (text search is separate)."""
        terms: list[str] = ["f.run_id = ?"]
        params: list[Any] = []
        if self.status == "correct":
            terms.append("f.status = 'correct'")
        elif self.status == "incorrect":
            terms.append("f.status = 'incorrect'")
        elif self.status == "unverifiable":
            terms.append("f.status NOT IN ('correct', 'incorrect')")
        if self.truncated:
            terms.append("f.truncated")
        if self.mixed:
            terms.append("f.mixed")
        if self.min_tokens is not None:
            terms.append("f.tokens >= ?")
            params.append(self.min_tokens)
        if self.max_tokens is not None:
            terms.append("f.tokens <= ?")
            params.append(self.max_tokens)
        if self.dataset:
            terms.append("f.dataset = ?")
            params.append(self.dataset)
        return " AND ".join(terms), params


@dataclass(frozen=True, kw_only=True)
class Page:
    """One page of rows (dicts) and whether another follows."""

    rows: list[dict[str, Any]]
    page: int
    more: bool


def lake_signature(lake: Lake) -> tuple:
    """The data files of every table with size and mtime: equal signatures, equal lakes."""
    found = []
    for table in SCHEMAS:
        for path in sorted(lake.root.joinpath(table).glob("run_id=*/*.parquet")):
            if path.name[0] in "._":
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed by a compact while listing
                continue
            found.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


class Store:
    """The viewer's read side over ``lake``; thread-safe (each call uses its own cursor)."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self.signature: tuple | None = None
        self._checked = 0.0
        self._files: dict[str, list[str]] = {}
        self.build_s = 0.0  # how long the last cache build took
        self.warm_s = 0.0  # how long warm_up took (the build included)

    # -- the cache ---------------------------------------------------------------------------

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current cache, rebuilt first when the lake changed."""
        return self._open()[0]

    def _open(self) -> tuple[duckdb.DuckDBPyConnection, dict[str, list[str]]]:
        """A cursor on the current cache and the file lists it was built from (one snapshot)."""
        with self._lock:
            now = time.monotonic()
            if self._db is None or now - self._checked >= CHECK_EVERY_S:
                self._checked = now
                signature = lake_signature(self.lake)
                if signature != self.signature or self._db is None:
                    self._db = self._rebuild(signature)
            cur = self._db.cursor()
            # pages read a few rows by number: fetch only the pages of a column chunk that hold
            # them, not the whole chunk (71 MB of text for 128k rollouts of 1800 characters)
            cur.execute("SET disable_parquet_prefetching = true")
            return cur, self._files

    def _rebuild(self, signature: tuple) -> duckdb.DuckDBPyConnection:
        started = time.perf_counter()
        db = duckdb.connect(":memory:")
        db.execute("SET enable_progress_bar = false")
        # Parquet footers parsed once per database, not once per page (the name before 1.3)
        known = {name for (name,) in db.execute("SELECT name FROM duckdb_settings()").fetchall()}
        db.execute(
            "SET parquet_metadata_cache = true"
            if "parquet_metadata_cache" in known
            else "SET enable_object_cache = true"
        )
        files = {table: [str(p) for p in self.lake.files(table)] for table in SCHEMAS}
        for statement in sql.setup_statements(self.lake):
            db.execute(statement)
        for table, (name, columns, by_id) in _LOCATED.items():
            db.execute(_located(name, table, columns, files[table], by_id=by_id))
        for statement in _CACHE_SQL:
            db.execute(statement)
        self._files = files
        # the old database is not closed here: a request may still be reading it (it goes
        # when its last cursor does)
        self.signature = signature
        self.build_s = time.perf_counter() - started
        return db

    def warm_up(self) -> float:
        """Build the cache and read one row of every data file, so that the first pages neither
        wait for the build nor parse footers; returns the seconds it took (kept in ``warm_s``)."""
        started = time.perf_counter()
        cur, files = self._open()
        for table in _LOCATED:
            for file_idx in range(len(files.get(table, []))):
                _read_located(cur, files, table, [{"file_idx": file_idx, "row": 0}], ["created_at"])
        self.warm_s = time.perf_counter() - started
        return self.warm_s

    # -- pages -------------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first, with its metrics when it has rollouts."""
        cur = self.cursor()
        return _dicts(
            cur.execute("""
            SELECT run.run_id, run.kind, run.model,
                   CASE WHEN run.run_id IN (SELECT run_id FROM stale_runs) THEN 'stale'
                        ELSE run.status END AS status,
                   date_trunc('second', run.started_at) AS started_at, s.*
            FROM ui_runs AS run LEFT JOIN ui_run_stats AS s USING (run_id)
            ORDER BY run.started_at DESC, run.run_id""")
        )

    def run(self, run_id: str) -> dict[str, Any] | None:
        cur = self.cursor()
        rows = _dicts(
            cur.execute(
                """
            SELECT run.*, s.prompts, s.rollouts, s.pass1, s.maj, s.k, s.len_correct,
                   s.len_incorrect, s.len_all,
                   (SELECT count(*) FROM ui_facts WHERE run_id = ? AND step IS NOT NULL) AS steps
            FROM ui_runs AS run LEFT JOIN ui_run_stats AS s USING (run_id)
            WHERE run.run_id = ?""",
                [run_id, run_id],
            )
        )
        return rows[0] if rows else None

    def datasets(self, run_id: str) -> list[str]:
        cur = self.cursor()
        rows = cur.execute(
            "SELECT dataset FROM ui_datasets WHERE run_id = ? ORDER BY 1",
            [run_id],
        ).fetchall()
        return [row[0] for row in rows]

    def prompts(
        self,
        run_id: str,
        *,
        sort: str = "pass_rate",
        desc: bool = False,
        page: int = 1,
        dataset: str = "",
    ) -> Page:
        """A run's prompts with pass rate, majority answer, mean length; sorted, paginated."""
        order = PROMPT_SORTS.get(sort, "s.pass_rate")
        direction = "DESC" if desc else "ASC"
        where, params = "s.run_id = ?", [run_id]
        if dataset:
            where += " AND s.dataset = ?"
            params.append(dataset)
        sorted_by = f"{order} {direction} NULLS LAST, s.prompt_id"
        query = f"""
            WITH s AS (
                SELECT * FROM ui_prompt_stats AS s WHERE {where} ORDER BY {sorted_by}
                LIMIT ? OFFSET ?)
            SELECT s.*, p.preview, p.answer AS gold, p.task  -- the page's prompts only
            FROM s LEFT JOIN ui_prompts AS p USING (prompt_id) ORDER BY {sorted_by}"""
        return _page(self.cursor(), query, params, page)

    def prompt(self, run_id: str, prompt_id: str) -> dict[str, Any] | None:
        """The prompt, its stats in the run, and its rollouts with their verdicts."""
        cur, files = self._open()
        prompt = _prompt(cur, files, prompt_id)
        if prompt is None:
            return None
        stats = _dicts(
            cur.execute(
                "SELECT * FROM ui_prompt_stats WHERE run_id = ? AND prompt_id = ?",
                [run_id, prompt_id],
            )
        )
        rollouts = _dicts(
            cur.execute(
                "SELECT * FROM ui_facts WHERE run_id = ? AND prompt_id = ? ORDER BY sample_idx",
                [run_id, prompt_id],
            )
        )
        # the cards show the reasoning (folded) and the answer; the whole text is on the rollout page
        _read_text(
            cur, files, rollouts, ["reasoning", "answer_text", "finish_reason", "completion_tokens"]
        )
        bare = [r for r in rollouts if r["reasoning"] is None and r["answer_text"] is None]
        _read_text(cur, files, bare, ["completion"])  # no think/answer split recorded
        _attach_verdicts(cur, files, rollouts, prompt["task"])
        return {"prompt": prompt, "stats": stats[0] if stats else None, "rollouts": rollouts}

    def rollout(self, rollout_id: str) -> dict[str, Any] | None:
        cur, files = self._open()
        rollouts = _dicts(cur.execute("SELECT * FROM ui_facts WHERE rollout_id = ?", [rollout_id]))
        if not rollouts:
            return None
        columns = ["completion", "reasoning", "answer_text", "model", "finish_reason"]
        _read_text(cur, files, rollouts, [*columns, "completion_tokens"])
        prompt = _prompt(cur, files, rollouts[0]["prompt_id"])
        _attach_verdicts(cur, files, rollouts, prompt["task"] if prompt else None)
        return {"prompt": prompt, "rollout": rollouts[0]}

    def search(self, run_id: str, filters: Filters, page: int = 1) -> Page:
        """A run's rollouts matching ``filters``, by prompt and sample; with a text, the ones whose
        completion contains it (``ILIKE``, literal), in storage order (:meth:`_search_text`)."""
        cur, files = self._open()
        where, params = filters.where()
        if filters.text:
            result = self._search_text(cur, files, run_id, filters.text, where, params, page)
        else:
            query = f"""
                SELECT f.* FROM ui_facts AS f WHERE {where}
                ORDER BY f.prompt_id, f.sample_idx LIMIT ? OFFSET ?"""
            result = _page(cur, query, [run_id, *params], page)
        _read_text(cur, files, result.rows, ["completion"] if filters.text else ["answer_text"])
        for row in result.rows:
            row["snippet"] = _snippet(
                row.get("completion") or row.get("answer_text") or "", filters.text
            )
        return result

    def _search_text(self, cur, files, run_id, text, where, params, page) -> Page:
        """Full-text search that stops once the page is full: the run's files are scanned in
        order, each with a LIMIT DuckDB streams (a common word reads a small part of the run;
        a rare one reads all of its completions, the cost of search without an index)."""
        pattern = "%" + _like_escape(text) + "%"
        want = page * PAGE_ROWS + 1  # up to the end of the page, and one to know if more follow
        found: list[dict[str, Any]] = []
        for file_idx, path in enumerate(files.get("rollouts", [])):
            if f"/run_id={run_id}/" not in path:
                continue
            limit = want - len(found)
            while True:
                rows = [
                    row
                    for (row,) in cur.execute(
                        "SELECT file_row_number FROM read_parquet(?, file_row_number = true) "
                        "WHERE completion ILIKE ? ESCAPE '\\' LIMIT ?",
                        [path, pattern, limit],
                    ).fetchall()
                ]
                kept = _dicts(
                    cur.execute(
                        f"SELECT f.* FROM ui_facts AS f WHERE {where} AND f.file_idx = ? "
                        "AND f.row IN (SELECT unnest(?::BIGINT[])) ORDER BY f.row",  # hash join
                        [run_id, *params, file_idx, rows],
                    )
                )
                if len(rows) < limit or len(found) + len(kept) >= want:
                    break
                limit *= 4  # the filters dropped some: read further into the file
            found.extend(kept)
            if len(found) >= want:
                break
        page = max(1, page)
        rows = found[(page - 1) * PAGE_ROWS :]
        return Page(rows=rows[:PAGE_ROWS], page=page, more=len(rows) > PAGE_ROWS)

    def compare(self, a: str, b: str, *, flipped: bool = False, page: int = 1) -> Page:
        """Per-prompt pass rates of runs ``a`` and ``b`` on the prompts both sampled."""
        where = (
            "WHERE coalesce(x.maj_correct, false) <> coalesce(y.maj_correct, false)"
            if flipped
            else ""
        )
        query = f"""
            WITH pairs AS (
                SELECT x.prompt_id, x.dataset, x.pass_rate AS a_pass, y.pass_rate AS b_pass,
                       y.pass_rate - x.pass_rate AS delta, x.maj_answer AS a_maj,
                       y.maj_answer AS b_maj, x.maj_correct AS a_maj_correct,
                       y.maj_correct AS b_maj_correct
                FROM ui_prompt_stats AS x JOIN ui_prompt_stats AS y
                     ON x.prompt_id = y.prompt_id AND x.run_id = ? AND y.run_id = ?
                {where}
                ORDER BY abs(delta) DESC NULLS LAST, x.prompt_id LIMIT ? OFFSET ?)
            SELECT pairs.*, p.preview  -- the previews of the page's prompts only
            FROM pairs LEFT JOIN ui_prompts AS p USING (prompt_id)
            ORDER BY abs(pairs.delta) DESC NULLS LAST, pairs.prompt_id"""
        return _page(self.cursor(), query, [a, b], page)

    def compare_summary(self, a: str, b: str) -> dict[str, Any]:
        """Shared prompts, mean pass rates, and how many flipped each way (majority answer)."""
        row = _dicts(
            self.cursor().execute(
                """
            SELECT count(*) AS shared, avg(x.pass_rate) AS a_pass, avg(y.pass_rate) AS b_pass,
                   count(*) FILTER (WHERE NOT coalesce(x.maj_correct, false)
                                    AND coalesce(y.maj_correct, false)) AS gained,
                   count(*) FILTER (WHERE coalesce(x.maj_correct, false)
                                    AND NOT coalesce(y.maj_correct, false)) AS lost
            FROM ui_prompt_stats AS x JOIN ui_prompt_stats AS y
                 ON x.prompt_id = y.prompt_id AND x.run_id = ? AND y.run_id = ?""",
                [a, b],
            )
        )
        return row[0]

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """A training run's mean total reward, accuracy and completion length per step."""
        return _dicts(
            self.cursor().execute(
                """
            SELECT step, avg(total_reward) AS reward,
                   avg(correct::INT) FILTER (WHERE judged) AS accuracy,
                   avg(tokens) AS mean_tokens, count(*) AS rollouts
            FROM ui_facts WHERE run_id = ? AND step IS NOT NULL GROUP BY step ORDER BY step""",
                [run_id],
            )
        )


def _located(name: str, table: str, columns: str, files: list[str], *, by_id: bool) -> str:
    """Table ``name``: ``columns`` of each id's latest row of ``table`` (the rule of the lake's
    views) and where that row lies, ``file_idx`` (in ``files``) and ``row`` (its row number), so a
    page reads a few rows' text by number (DuckDB skips the pages of the file that hold others).
    ``by_id``: stored sorted by id, so that a lookup by id reads one row group, not all."""
    source = sql.table_source(table, [])  # the typed columns, even of files that lack some
    position, number = "NULL::INT", "NULL::BIGINT"
    if files:
        listed = ", ".join(sql._quote(f) for f in files)
        source += (
            f" UNION ALL BY NAME SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
            "union_by_name = true, filename = true, file_row_number = true)"
        )
        position, number = f"list_position([{listed}], filename)::INT - 1", "file_row_number"
    keys = ", ".join(id_columns(table))
    return f"""
        CREATE TABLE {name} AS
        SELECT {columns}, {position} AS file_idx, {number} AS row FROM ({source})
        QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY created_at DESC) = 1
        {f"ORDER BY {keys}" if by_id else ""}"""


def _read_located(
    cur, files: dict[str, list[str]], table: str, located: list[dict], columns: list[str]
) -> dict[tuple[int, int], dict[str, Any]]:
    """``columns`` of the rows of ``table`` at each ``(file_idx, row)`` of ``located``, read by row
    number one file at a time; keyed by ``(file_idx, row)``."""
    by_file: dict[int, set[int]] = {}
    for place in located:
        if place.get("file_idx") is not None:
            by_file.setdefault(place["file_idx"], set()).add(place["row"])
    found: dict[tuple[int, int], dict[str, Any]] = {}
    query = (
        f"SELECT _row, {', '.join(columns)} FROM ({sql.table_source(table, [])} UNION ALL BY NAME "
        "SELECT *, file_row_number AS _row FROM read_parquet(?, hive_partitioning = true, "
        "file_row_number = true) WHERE file_row_number BETWEEN ? AND ? "
        "AND list_contains(?, file_row_number))"
    )
    for file_idx, rows in by_file.items():
        numbers = sorted(rows)
        path = files[table][file_idx]
        for number, *values in cur.execute(
            query, [path, numbers[0], numbers[-1], numbers]
        ).fetchall():
            found[(file_idx, number)] = dict(zip(columns, values, strict=True))
    return found


def _read_text(cur, files: dict[str, list[str]], rows: list[dict], columns: list[str]) -> None:
    """Add ``columns`` of each rollout in ``rows`` (rows of ``ui_facts``)."""
    texts = _read_located(cur, files, "rollouts", rows, columns)
    for row in rows:
        row.update(texts.get((row["file_idx"], row["row"])) or dict.fromkeys(columns))


def _prompt(cur, files: dict[str, list[str]], prompt_id: str) -> dict[str, Any] | None:
    """Every column of the prompt's latest row, or None."""
    located = _dicts(
        cur.execute("SELECT file_idx, row FROM ui_prompts WHERE prompt_id = ?", [prompt_id])
    )
    found = _read_located(cur, files, "prompts", located, SCHEMAS["prompts"].names)
    return next(iter(found.values()), None)


def _attach_verdicts(cur, files, rollouts: list[dict], task: str | None) -> None:
    """Each rollout's ``verdicts`` (every verifier's latest, the task's first) and ``verdict``
    (the accuracy one, from the verifier named like the prompt's task)."""
    ids = [r["rollout_id"] for r in rollouts]
    # one equality per id: each skips to its row group of the table stored by id (a list of ids
    # would scan the whole table)
    lookup = "SELECT file_idx, row FROM ui_verdicts WHERE rollout_id = ?"
    located = _dicts(cur.execute(" UNION ALL ".join([lookup] * len(ids)), ids)) if ids else []
    verdicts = _read_located(cur, files, "verdicts", located, SCHEMAS["verdicts"].names).values()
    by_id: dict[str, list[dict]] = {}
    for verdict in sorted(verdicts, key=lambda v: (v["verifier"] != task, v["verifier"])):
        by_id.setdefault(verdict["rollout_id"], []).append(verdict)
    for rollout in rollouts:
        rollout["verdicts"] = by_id.get(rollout["rollout_id"], [])
        accuracy = [v for v in rollout["verdicts"] if v["verifier"] == task]
        rollout["verdict"] = accuracy[0] if accuracy else None


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _page(cur, query: str, params: list[Any], page: int) -> Page:
    page = max(1, page)
    rows = _dicts(cur.execute(query, [*params, PAGE_ROWS + 1, (page - 1) * PAGE_ROWS]))
    return Page(rows=rows[:PAGE_ROWS], page=page, more=len(rows) > PAGE_ROWS)


def _like_escape(text: str) -> str:
    """``text`` matched literally by ``ILIKE ? ESCAPE '\\'``: its wildcards escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _snippet(text: str, needle: str, width: int = 240) -> str:
    """Up to ``width`` characters of ``text`` around the first match of ``needle``."""
    at = text.lower().find(needle.lower()) if needle else -1
    start = max(0, at - width // 3) if at >= 0 else 0
    piece = text[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")
