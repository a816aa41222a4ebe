"""`rlvr ui` (issue 15): a local, read-only web viewer over the lake.

Runs with their metrics, a run's prompts, a prompt's k rollouts side by side with their verdicts,
filters and full-text search, a SQL box, two runs compared, training curves by step. Pages are
rendered on the server (FastAPI + Jinja2, autoescaped) from an in-memory cache of per-run
aggregates (:mod:`engine.ui.store`); the SQL box runs one read-only SELECT under a time limit
(:mod:`engine.ui.readonly`).

>>> from engine.lake import Lake
>>> from fastapi.testclient import TestClient
>>> client = TestClient(create_app(Lake.open(tmp_lake)))  # doctest: +SKIP
>>> client.get("/").status_code  # doctest: +SKIP
200
"""

from engine.ui.app import create_app
from engine.ui.readonly import QueryResult, ReadOnlySQL
from engine.ui.store import Filters, Store

__all__ = ["Filters", "QueryResult", "ReadOnlySQL", "Store", "create_app"]
