"""The code-test schema moved to :mod:`verifiers.code.schema` (with the code verifier); this module
stays so that old imports keep working."""

from __future__ import annotations

from verifiers.code.schema import (
    SCHEMA_VERSION,
    CodeTests,
    FunctionCase,
    StdioCase,
    TestSchemaError,
)

__all__ = ["SCHEMA_VERSION", "CodeTests", "FunctionCase", "StdioCase", "TestSchemaError"]
