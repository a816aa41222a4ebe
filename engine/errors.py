"""Errors of the data engine.

::

    RlvrError                      base of everything the engine raises on purpose
    ├── UserError                  a user mistake: the CLI prints one line and exits 2
    │   ├── InputError             bad input file: carries .path, .line, .field
    │   └── SchemaError            a value does not fit a table's schema: .table, .field
    ├── FieldError(ValueError)     ingest: one input field cannot be mapped: .field (ingest
    │                              adds the file and line and raises InputError)
    └── LakeError                  the lake itself is damaged or unwritable: .path

Foreign errors (duckdb, pyarrow, json) are translated at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

__all__ = ["FieldError", "InputError", "LakeError", "RlvrError", "SchemaError", "UserError"]


class RlvrError(Exception):
    """Base class of the engine's errors."""


class UserError(RlvrError):
    """A mistake the user can fix; the message says what and how."""


class InputError(UserError):
    """A bad input file, with where: ``InputError("missing field", path=p, line=3, field="problem")``."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path, self.line, self.field = path, line, field
        where = ":".join(str(x) for x in (path, line) if x is not None)
        parts = [p for p in (where, f"field {field!r}" if field else None) if p]
        super().__init__(f"{', '.join(parts)}: {message}" if parts else message)


class SchemaError(UserError):
    """A value that does not fit a table's Arrow schema."""

    def __init__(self, message: str, *, table: str | None = None, field: str | None = None) -> None:
        self.table, self.field = table, field
        prefix = ".".join(x for x in (table, field) if x)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class FieldError(RlvrError, ValueError):
    """A value of one input field cannot be mapped; ingest adds the file and line."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class LakeError(RlvrError):
    """The lake is damaged or cannot be written."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)
