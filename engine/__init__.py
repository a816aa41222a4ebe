"""The data engine: the lake, prompt ingest, scoring, SQL and the `rlvr` CLI.

>>> from engine import Lake
>>> lake = Lake.open(tmp_lake)  # doctest: +SKIP
>>> lake.connect().execute("SELECT count(*) FROM prompts").fetchone()  # doctest: +SKIP
(0,)
"""

from engine.ids import new_run_id, prompt_id, rollout_id
from engine.lake import Lake
from engine.schema import SCHEMAS

__all__ = ["SCHEMAS", "Lake", "connect", "new_run_id", "prompt_id", "rollout_id"]


def connect(lake: Lake | str | None = None):
    """A DuckDB connection with the lake's views and macros (``Lake.open(lake).connect()``)."""
    return (lake if isinstance(lake, Lake) else Lake.open(lake)).connect()
