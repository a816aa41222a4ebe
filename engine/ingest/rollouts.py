"""Import generations made by other tools into the lake as rollouts (issue 10).

Each file becomes one run of kind ``import`` (backend = the preset), its rows go into the
``rollouts`` table with ``source = 'generate'`` and the lake's ids (``rollout_id(run_id,
prompt_id, sample_idx)``), so ``rlvr verify``, the metrics and selection treat them like our own.
Like ``rlvr prompts import``, every record is read, mapped and matched before anything is written:
one bad record is an :class:`~engine.errors.InputError` naming file, line and field, and the lake
is left as it was. Importing the same file again (same bytes, dataset, model, preset and mapping)
finds the earlier run and writes nothing.

Presets read each tool's own output, as its source writes it:

- ``openai-batch``: vLLM ``run_batch`` / OpenAI Batch API output JSONL, one line per request:
  ``{"custom_id", "response": {"status_code", "body": {"choices": [...], "usage": {...}}},
  "error"}``; chat choices carry ``message.content`` (and vLLM's ``message.reasoning_content``),
  completion choices ``text``. ``custom_id`` is the prompt id, optionally ``<prompt_id>#<n>``.
- ``lighteval``: the per-sample details Parquet of ``--save-details``
  (``details/<model>/<date>/details_<task>_<date>.parquet``): one row per doc with the structs
  ``doc`` (``query``, ``id``…) and ``model_response`` (``text``: one string per sample,
  ``reasonings``, ``input_tokens``, ``output_tokens``); older files (lighteval < 0.10) have flat
  ``full_prompt``/``example`` and ``predictions`` columns, read too.
- ``nemo-skills``: ``ns generate`` output (``output.jsonl``, ``output-rs<seed>.jsonl``): the input
  fields (``problem``/``question``, ``id``…) plus ``generation``, ``num_generated_tokens``,
  ``finish_reason`` when kept, and ``_full_generation`` when thinking was removed
  (``++remove_thinking``); the seed in the file name is the sample index.
- ``messages``: HF chat datasets — ``messages`` (``role``/``content``, open-r1) or
  ``conversations`` (``from``/``value``, OpenThoughts): the first user turn is the prompt, the
  last assistant turn the completion.

Without a preset, ``--map`` names the fields (``completion``, ``problem``, ``id``, ``sample_idx``,
``reasoning``, ``finish_reason``); a list of completions is one sample per element.

Prompts are matched by id (our ``prompt_id``, or the id field) or by text: the problem exactly
(whitespace-normalised), else the one prompt of the dataset whose problem the record's prompt
contains (lighteval and NeMo-Skills wrap the problem in a template).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine import ids
from engine.errors import InputError, UserError
from engine.generate.templates import join_reasoning, split_think
from engine.ingest.core import file_sha256
from engine.ingest.readers import read_records

__all__ = [
    "MAP_TARGETS",
    "PRESETS",
    "Reader",
    "RolloutImport",
    "Sample",
    "generic",
    "import_rollouts",
    "lighteval",
    "messages",
    "nemo_skills",
    "openai_batch",
    "parse_mapping",
    "read_samples",
]

MAP_TARGETS = ("problem", "completion", "id", "sample_idx", "reasoning", "finish_reason")


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    """One generation as a tool wrote it, before it is matched to a prompt."""

    line: int
    key: str | None = None  # an id: our prompt_id, or the tool's id of the problem
    problem: str | None = None  # the problem or the whole prompt text
    completion: str
    reasoning: str | None = None  # reasoning the tool kept apart from the completion
    sample_idx: int | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    seed: int | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class RolloutImport:
    """What an import did; ``already_imported`` when the same file was imported before."""

    run_id: str
    rollouts: int
    prompts: int
    preset: str
    already_imported: bool = False


class _Bad(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- presets -------------------------------------------------------------------------------------


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise _Bad(field, f"expected text, got {type(value).__name__}")
    return value


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def openai_batch(rec: dict[str, Any], line: int, path: Path) -> Iterator[Sample]:
    """vLLM run_batch / OpenAI Batch output: one request per line, ``n`` choices each."""
    custom_id = _text(rec.get("custom_id"), "custom_id")
    response = rec.get("response") or {}
    if rec.get("error") or response.get("status_code", 200) != 200:
        error = rec.get("error") or response.get("body")
        raise _Bad("response", f"the request failed ({error}) — rerun it or drop the line")
    body = response.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list):
        raise _Bad("response.body.choices", "missing — is this a batch *output* file?")
    key, _, index = custom_id.partition("#")
    usage = body.get("usage") or {}
    choices = body["choices"]
    for choice in choices:
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else choice.get("text")
        reasoning = message.get("reasoning_content") if isinstance(message, dict) else None
        yield Sample(
            line=line,
            key=key,
            completion=_text(text, "response.body.choices.message.content"),
            reasoning=reasoning if isinstance(reasoning, str) else None,
            sample_idx=_choice_index(index, choice, len(choices)),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")) if len(choices) == 1 else None,
        )


def _choice_index(suffix: str, choice: dict[str, Any], n: int) -> int | None:
    index = _int(choice.get("index"))
    if suffix:
        if not suffix.isdigit():
            raise _Bad("custom_id", f"expected <prompt_id>#<number>, got a suffix {suffix!r}")
        return int(suffix) * n + (index or 0)
    return None if n == 1 else index


def lighteval(rec: dict[str, Any], line: int, path: Path) -> Iterator[Sample]:
    """lighteval details: ``doc`` + ``model_response`` structs (or the older flat columns)."""
    if "model_response" in rec:
        doc, response = rec.get("doc") or {}, rec.get("model_response") or {}
        problem = doc.get("original_query") or doc.get("query")
        texts, reasonings = response.get("text") or [], response.get("reasonings") or []
        outputs, prompt_tokens = response.get("output_tokens") or [], response.get("input_tokens")
        key = doc.get("id") or None
    else:  # lighteval < 0.10: Detail(example, full_prompt, predictions, ...)
        problem = rec.get("example") or rec.get("full_prompt")
        texts, reasonings, outputs = rec.get("predictions") or [], [], rec.get("cont_tokens") or []
        prompt_tokens, key = rec.get("input_tokens"), None
    if not isinstance(texts, list) or not texts:
        raise _Bad("model_response.text", "no generations in this row")
    for i, text in enumerate(texts):
        reasoning = reasonings[i] if i < len(reasonings) else None
        tokens = outputs[i] if i < len(outputs) else None
        yield Sample(
            line=line,
            key=str(key) if key is not None else None,
            problem=_text(problem, "doc.query"),
            completion=_text(text, "model_response.text"),
            reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
            sample_idx=i,
            prompt_tokens=len(prompt_tokens) if isinstance(prompt_tokens, list) else None,
            completion_tokens=len(tokens) if isinstance(tokens, list) else None,
        )


_SEED = re.compile(r"output-rs(\d+)")


def nemo_skills(rec: dict[str, Any], line: int, path: Path) -> Iterator[Sample]:
    """``ns generate`` output: input fields plus ``generation`` (``_full_generation`` if cut)."""
    text = rec.get("_full_generation", rec.get("generation"))
    problem = rec.get("problem", rec.get("question"))
    seed = _SEED.search(path.name)
    yield Sample(
        line=line,
        key=str(rec["id"]) if rec.get("id") is not None else None,
        problem=_text(problem, "problem") if problem is not None else None,
        completion=_text(text, "generation"),
        reasoning=rec.get("reasoning_content") if isinstance(rec.get("reasoning_content"), str) else None,
        sample_idx=int(seed.group(1)) if seed else None,
        seed=int(seed.group(1)) if seed else None,
        finish_reason=rec.get("finish_reason"),
        prompt_tokens=_int(rec.get("num_input_tokens")),
        completion_tokens=_int(rec.get("num_generated_tokens")),
    )  # fmt: skip


def messages(rec: dict[str, Any], line: int, path: Path) -> Iterator[Sample]:
    """A chat: ``messages`` (role/content) or ``conversations`` (from/value)."""
    field = "messages" if "messages" in rec else "conversations"
    turns = rec.get(field)
    if not isinstance(turns, list) or not turns:
        raise _Bad(field, "expected a list of turns (messages or conversations)")
    pairs = [_turn(t, field) for t in turns]
    users = [text for role, text in pairs if role in ("user", "human")]
    answers = [text for role, text in pairs if role in ("assistant", "gpt")]
    if not users or not answers:
        raise _Bad(field, "needs a user turn and an assistant turn")
    yield Sample(line=line, key=_id(rec), problem=users[0], completion=answers[-1])


def _turn(turn: Any, field: str) -> tuple[str, str]:
    if not isinstance(turn, dict):
        raise _Bad(field, f"a turn is {type(turn).__name__}, expected an object")
    role = turn.get("role", turn.get("from"))
    text = turn.get("content", turn.get("value"))
    return str(role).lower(), _text(text, f"{field}.content")


def _id(rec: dict[str, Any]) -> str | None:
    for name in ("prompt_id", "id", "uuid"):
        if rec.get(name) is not None:
            return str(rec[name])
    return None


Reader = Callable[[dict[str, Any], int, Path], Iterator[Sample]]
PRESETS: dict[str, Reader] = {
    "openai-batch": openai_batch,
    "vllm-batch": openai_batch,
    "lighteval": lighteval,
    "nemo-skills": nemo_skills,
    "messages": messages,
}


def generic(mapping: Mapping[str, str]) -> Reader:
    """``--map completion=output,problem=question``: samples from named fields.

    A list in the completion field is one sample per element, in order (open-r1's
    ``generations``, Qwen's evaluation ``code`` column).
    """

    def read(rec: dict[str, Any], line: int, path: Path) -> Iterator[Sample]:
        def get(target: str) -> Any:
            return rec.get(mapping.get(target, target))

        name = mapping.get("completion", "completion")
        completions = get("completion")
        if completions is None:
            raise _Bad(name, "missing — name the completion field: --map completion=FIELD")
        problem, key, index = get("problem"), get("id"), _int(get("sample_idx"))
        many = isinstance(completions, list)
        for i, completion in enumerate(completions if many else [completions]):
            yield Sample(
                line=line,
                key=str(key) if key is not None else None,
                problem=_text(problem, mapping.get("problem", "problem")) if problem is not None else None,
                completion=_text(completion, name),
                reasoning=get("reasoning"),
                sample_idx=i if many else index,
                finish_reason=get("finish_reason"),
            )  # fmt: skip

    return read


# -- reading and matching ------------------------------------------------------------------------


def read_samples(path: Path, preset: str | None, mapping: Mapping[str, str]) -> list[Sample]:
    """Every sample of ``path``; an InputError naming file, line and field on the first bad one."""
    reader = _reader(preset, mapping)
    samples: list[Sample] = []
    for record in read_records(path):
        try:
            samples.extend(reader(record.data, record.line, path))
        except _Bad as exc:
            raise InputError(str(exc), path=str(path), line=record.line, field=exc.field) from None
        except (AttributeError, TypeError) as exc:  # a field of the wrong shape
            raise InputError(f"unexpected shape ({exc}) — is --preset right?",
                             path=str(path), line=record.line) from None  # fmt: skip
    if not samples:
        raise InputError("no records — is the file empty?", path=str(path))
    return samples


def parse_mapping(text: str | None) -> dict[str, str]:
    """``"completion=output,problem=question"`` -> ``{"completion": "output", ...}``."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        target, sep, source = (x.strip() for x in part.partition("="))
        if not sep or not target or not source:
            raise UserError(
                f"--map {part.strip()!r}: expected TARGET=FIELD, e.g. completion=output"
            )
        mapping[target] = source
    return mapping


def _reader(preset: str | None, mapping: Mapping[str, str]) -> Reader:
    unknown = sorted(set(mapping) - set(MAP_TARGETS))
    if unknown:
        raise UserError(f"--map target {unknown[0]!r} unknown — use {', '.join(MAP_TARGETS)}")
    if preset is None:
        return generic(mapping)
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r} — use one of {', '.join(PRESETS)} or --map")
    return PRESETS[preset]


def _normal(text: str) -> str:
    return " ".join(text.split())


class _Prompts:
    """The dataset's prompts, found by id, by exact text, or by the text the prompt contains."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.ids = {pid for pid, _ in rows}
        self.by_text: dict[str, str] = {}
        for pid, problem in rows:
            self.by_text.setdefault(_normal(problem), pid)

    def find(self, sample: Sample) -> str | None:
        if sample.key is not None and sample.key in self.ids:
            return sample.key
        if sample.problem is None:
            return None
        text = _normal(sample.problem)
        if text in self.by_text:
            return self.by_text[text]
        inside = [pid for problem, pid in self.by_text.items() if problem and problem in text]
        return inside[0] if len(inside) == 1 else None


def _match(samples: list[Sample], prompts: _Prompts, path: Path, dataset: str) -> list[dict]:
    """Rollout rows without run ids: prompt found, sample index settled (file order)."""
    rows: list[dict] = []
    used: defaultdict[str, set[int]] = defaultdict(set)  # sample indexes taken, per prompt
    for sample in samples:
        pid = prompts.find(sample)
        if pid is None:
            what = f"id {sample.key!r}" if sample.key and sample.problem is None else "text"
            raise InputError(
                f"no prompt of dataset {dataset!r} has this {what} — import the prompts first "
                "(rlvr prompts import) or check --dataset",
                path=str(path), line=sample.line, field="id" if what != "text" else "problem",
            )  # fmt: skip
        index = sample.sample_idx
        if index in used[pid]:
            raise InputError(f"sample {index} of this prompt appears twice",
                             path=str(path), line=sample.line)  # fmt: skip
        if index is None:  # the tool does not number samples: the next free index, file order
            index = next(i for i in range(len(used[pid]) + 1) if i not in used[pid])
        used[pid].add(index)
        rows.append(_row(replace(sample, sample_idx=index), pid))
    return rows


def _row(sample: Sample, prompt_id: str) -> dict[str, Any]:
    reasoning: str | None
    if sample.reasoning is not None:
        completion = join_reasoning(sample.reasoning, sample.completion)
        reasoning, answer = sample.reasoning, sample.completion
    else:
        completion = sample.completion
        reasoning, answer = split_think(sample.completion)
    return {
        "prompt_id": prompt_id,
        "sample_idx": sample.sample_idx,
        "completion": completion,
        "reasoning": reasoning,
        "answer_text": answer,
        "prompt_tokens": sample.prompt_tokens,
        "completion_tokens": sample.completion_tokens,
        "finish_reason": sample.finish_reason,
        "seed": sample.seed,
        "source": "generate",
    }


# -- the import ----------------------------------------------------------------------------------


def import_rollouts(
    path: Path | str,
    *,
    lake: Any,
    dataset: str,
    model: str,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
) -> RolloutImport:
    """Import ``path``'s generations for ``dataset`` as one ``import`` run of ``model``."""
    path, mapping = Path(path), dict(mapping or {})
    samples = read_samples(path, preset, mapping)
    frame = lake.scan("prompts").filter(_col("dataset") == dataset).select("prompt_id", "problem")
    prompt_rows = list(frame.collect().iter_rows())
    if not prompt_rows:
        raise UserError(f"dataset {dataset!r} has no prompts in the lake — import them first "
                        "with rlvr prompts import, or check --dataset")  # fmt: skip
    rows = _match(samples, _Prompts(prompt_rows), path, dataset)
    preset_name = preset or "map"
    params = {"file": str(path), "sha256": file_sha256(path), "preset": preset_name,
              "dataset": dataset, "mapping": mapping, "records": len(samples)}  # fmt: skip
    earlier = _earlier_run(lake, params, model)
    prompts = len({r["prompt_id"] for r in rows})
    if earlier is not None:
        return RolloutImport(run_id=earlier, rollouts=len(rows), prompts=prompts,
                             preset=preset_name, already_imported=True)  # fmt: skip
    run_id = ids.new_run_id("import")
    for row in rows:
        row |= {"rollout_id": ids.rollout_id(run_id, row["prompt_id"], row["sample_idx"]),
                "model": model}  # fmt: skip
    from engine.schema import conform

    table = conform("rollouts", rows, run_id=run_id)  # validate before the run row is written
    with lake.run("import", run_id=run_id, model=model, backend=preset_name, params=params):
        lake.append("rollouts", table, run_id=run_id)
    return RolloutImport(run_id=run_id, rollouts=len(rows), prompts=prompts, preset=preset_name)


def _col(name: str) -> Any:
    import polars as pl

    return pl.col(name)


def _earlier_run(lake: Any, params: dict[str, Any], model: str) -> str | None:
    """A finished import of the same bytes, dataset, preset and mapping for ``model``."""
    import polars as pl

    runs = lake.scan("runs").filter((pl.col("kind") == "import") & (pl.col("status") == "done"))
    for run_id, run_model, raw in runs.select("run_id", "model", "params").collect().iter_rows():
        recorded = json.loads(raw or "{}")
        same = all(recorded.get(k) == params[k] for k in ("sha256", "dataset", "preset", "mapping"))
        if same and run_model == model:
            return run_id
    return None
