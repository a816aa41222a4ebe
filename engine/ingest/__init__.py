"""Prompt ingest: benchmark files (JSONL, JSON, Parquet, CSV) into the lake's ``prompts`` table.

Stages, one module each: :mod:`~engine.ingest.readers` (file -> records with line numbers),
:mod:`~engine.ingest.presets` (one adapter per benchmark; ``--map`` for anything else),
:mod:`~engine.ingest.code_tests` (code tests -> the one test schema, :mod:`verifiers.code.schema`),
:mod:`~engine.ingest.core` (validate every row, then one atomic append under an ``ingest`` run).

>>> from engine.lake import Lake                                                   # doctest: +SKIP
>>> s = import_prompts("../shared/data/math/gsm8k_test.jsonl", preset="auto",
...                    lake=Lake.open("lake"))                                     # doctest: +SKIP
>>> s.dataset, s.prompts                                                           # doctest: +SKIP
('gsm8k', 1319)
"""

from engine.ingest.core import ImportSummary, Prepared, import_prompts, parse_mapping, prepare
from engine.ingest.presets import PRESETS, Draft, Preset, preset_for_file
from engine.ingest.readers import Record, detect_format, read_records

__all__ = [
    "PRESETS",
    "Draft",
    "ImportSummary",
    "Prepared",
    "Preset",
    "Record",
    "detect_format",
    "import_prompts",
    "parse_mapping",
    "prepare",
    "preset_for_file",
    "read_records",
]
