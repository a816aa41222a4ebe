"""Read records (one dict per prompt) from JSON Lines, JSON, Parquet and CSV files.

Every record comes with its 1-based position, so a later mapping error can name the place:
the line of the record in a JSONL, JSON or CSV file (for a JSON array, the line where the element
starts; for CSV, the line where the row starts, the header being line 1), the row number in a
Parquet file. Syntax errors raise :class:`engine.errors.InputError` with file and line.

CSV files come from spreadsheets as often as from scripts, so their text encoding (a BOM, UTF-16,
else UTF-8, else what ``charset-normalizer`` finds, e.g. cp1252 from Excel) and their delimiter
(``csv.Sniffer`` over ``, ; tab |``) are detected; :class:`CsvOptions` overrides both (issue 10).

Readers load the whole file: benchmark files are megabytes, and import validates every row before
it writes anything (issue 2, point 5), so nothing is gained by streaming.

>>> from pathlib import Path; import tempfile
>>> p = Path(tempfile.mkdtemp()) / "x.jsonl"; _ = p.write_text('{"q": "1+1"}\\n\\n{"q": "2+2"}\\n')
>>> [(r.line, r.data) for r in read_records(p)]
[(1, {'q': '1+1'}), (3, {'q': '2+2'})]
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine.errors import InputError

__all__ = ["FORMATS", "CsvOptions", "Format", "Record", "detect_format", "read_records"]

Format = Literal["jsonl", "json", "parquet", "csv"]
FORMATS: tuple[str, ...] = ("auto", "jsonl", "json", "parquet", "csv")

_EXTENSIONS: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Record:
    """One input record and where it starts (1-based line, or row for Parquet)."""

    line: int
    data: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class CsvOptions:
    """How to read a CSV file; None means detect (see the module docstring).

    >>> CsvOptions(delimiter="tab").delimiter
    '\\t'
    """

    encoding: str | None = None
    delimiter: str | None = None

    def __post_init__(self) -> None:
        if self.delimiter is not None:
            named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
            object.__setattr__(self, "delimiter", named.get(self.delimiter, self.delimiter))
            if len(self.delimiter) != 1:
                raise InputError(
                    f"--delimiter {self.delimiter!r}: one character — e.g. ';', '|' or 'tab'"
                )
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise InputError(
                    f"--encoding {self.encoding!r}: unknown — e.g. utf-8, utf-16, cp1252, latin-1"
                ) from None


_SNIFFED = ",;\t|"
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def detect_format(path: Path) -> Format:
    """The format from the file extension, else from the first bytes; a clear error otherwise."""
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    if text.startswith("{"):
        # One object per line is JSONL; an object spread over lines is a single JSON document.
        first = text.splitlines()[0] if text else ""
        return "jsonl" if first.rstrip().endswith("}") else "json"
    raise InputError(
        "cannot tell the format from the name or content — pass --format jsonl|json|parquet|csv",
        path=str(path),
    )


def read_records(
    path: Path | str, fmt: str = "auto", *, csv_options: CsvOptions | None = None
) -> list[Record]:
    """All records of ``path``; raises InputError naming file and line on malformed input."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file — check the path", path=str(path))
    if fmt not in FORMATS:
        raise InputError(
            f"unknown format {fmt!r} — use one of {', '.join(FORMATS)}", path=str(path)
        )
    chosen: Format = detect_format(path) if fmt == "auto" else fmt  # type: ignore[assignment]
    if chosen == "csv":
        return list(_read_csv(path, csv_options or CsvOptions()))
    reader = {"jsonl": _read_jsonl, "json": _read_json, "parquet": _read_parquet}
    return list(reader[chosen](path))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text ({exc.reason})", path=str(path), line=line) from None


def _read_jsonl(path: Path) -> Iterator[Record]:
    # Split on "\n" only: str.splitlines also breaks at U+0085 and U+2028, which JSON strings may hold.
    for n, raw in enumerate(_read_text(path).split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            hint = (
                " — is this a JSON array? use --format json" if raw.lstrip().startswith("[") else ""
            )
            raise InputError(
                f"malformed JSON ({exc.msg} at column {exc.colno}){hint}", path=str(path), line=n
            ) from None
        yield _as_record(value, path, n)


def _read_json(path: Path) -> Iterator[Record]:
    """A JSON array of objects (each record knows its line) or a single object."""
    text = _read_text(path)
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if pos < len(text) and text[pos] != "[":
        value, end = _decode_at(decoder, text, pos, path)
        if _skip_ws(text, end) != len(text):
            raise InputError(
                "extra data after the JSON document — one object per line? use --format jsonl",
                path=str(path),
                line=text.count("\n", 0, end) + 1,
            )
        yield _as_record(value, path, text.count("\n", 0, pos) + 1)
        return
    yield from _read_json_array(text, path, decoder, pos + 1)


def _decode_at(decoder: json.JSONDecoder, text: str, pos: int, path: Path) -> tuple[Any, int]:
    """One JSON value starting at ``pos``; a malformed one is an InputError naming the line."""
    try:
        return decoder.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON ({exc.msg})", path=str(path), line=exc.lineno) from None


def _read_json_array(
    text: str, path: Path, decoder: json.JSONDecoder, pos: int
) -> Iterator[Record]:
    counter = _LineCounter(text)
    pos = _skip_ws(text, pos)
    if text[pos : pos + 1] == "]":
        yield from ()
        return _check_end(text, path, pos + 1, counter)
    while True:
        value, end = _decode_at(decoder, text, pos, path)
        yield _as_record(value, path, counter.line_at(pos))
        pos = _skip_ws(text, end)
        if text[pos : pos + 1] == "]":
            return _check_end(text, path, pos + 1, counter)
        if text[pos : pos + 1] != ",":
            what = "unterminated array" if pos >= len(text) else "expected ',' or ']'"
            raise InputError(f"malformed JSON ({what})", path=str(path), line=counter.line_at(pos))
        pos = _skip_ws(text, pos + 1)


class _LineCounter:
    """1-based line of a position, counting newlines incrementally (positions only grow)."""

    def __init__(self, text: str) -> None:
        self.text, self.pos, self.line = text, 0, 1

    def line_at(self, pos: int) -> int:
        self.line += self.text.count("\n", self.pos, pos)
        self.pos = pos
        return self.line


def _check_end(text: str, path: Path, pos: int, counter: _LineCounter) -> None:
    if _skip_ws(text, pos) != len(text):
        raise InputError(
            "extra data after the JSON array", path=str(path), line=counter.line_at(pos)
        )


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _as_record(value: Any, path: Path, line: int) -> Record:
    if not isinstance(value, dict):
        raise InputError(
            f"expected a JSON object per record, got {type(value).__name__}",
            path=str(path),
            line=line,
        )
    return Record(line=line, data=value)


def _read_parquet(path: Path) -> Iterator[Record]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=str(path)) from exc
    for n, row in enumerate(table.to_pylist(), start=1):
        yield Record(line=n, data=row)


def _csv_text(path: Path, encoding: str | None) -> str:
    """The file's text: in ``encoding`` if given, else by BOM, UTF-8 or charset-normalizer."""
    raw = path.read_bytes()
    if encoding is None:
        encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if encoding is None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            encoding = _guess_encoding(raw, path)
    try:
        return raw.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"not {encoding} text ({exc.reason}) — pass the file's --encoding",
            path=str(path),
            line=line,
        ) from None


def _guess_encoding(raw: bytes, path: Path) -> str:
    """charset-normalizer's best guess; among guesses it ranks equal, cp1252 (what Excel writes
    on Western Windows), since short files leave cp1250/cp1252/cp1257 tied."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise InputError(
            "cannot tell the text encoding — pass --encoding (e.g. cp1252, latin-1)",
            path=str(path),
        )
    best = matches[0]
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    if any("cp1252" in m.could_be_from_charset for m in tied):
        return "cp1252"
    return best.encoding


def _csv_delimiter(text: str) -> str:
    """The sniffed delimiter, if the header row holds it; else the header's most common one."""
    header = text.split("\n", 1)[0]
    try:
        sniffed = csv.Sniffer().sniff(text[: 64 * 1024], delimiters=_SNIFFED).delimiter
    except csv.Error:
        sniffed = None
    if sniffed is not None and sniffed in header:
        return sniffed
    counts = {d: header.count(d) for d in _SNIFFED}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def _read_csv(path: Path, options: CsvOptions) -> Iterator[Record]:
    text = _csv_text(path, options.encoding)
    delimiter = options.delimiter or _csv_delimiter(text)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        if not reader.fieldnames:
            raise InputError("empty CSV file (no header row)", path=str(path), line=1)
        start = reader.line_num + 1
        for row in reader:
            if None in row:
                raise InputError(
                    f"{len(reader.fieldnames) + len(row[None])} fields, the header has "
                    f"{len(reader.fieldnames)}",
                    path=str(path),
                    line=start,
                )
            yield Record(line=start, data={k: v for k, v in row.items() if v is not None})
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"malformed CSV ({exc})", path=str(path), line=reader.line_num) from None
