"""verifiers.errors: one tree under VerifierError, and the builtins old callers caught still catch."""

from __future__ import annotations

import pytest

from verifiers import registry
from verifiers.code.schema import CodeTests
from verifiers.countdown import parse_expression
from verifiers.errors import (
    ExpressionError,
    ParseError,
    TestSchemaError,
    UnknownVerifier,
    VerifierError,
)
from verifiers.math.parse import to_sympy


def test_an_unknown_verifier_name_is_a_key_error_that_names_the_known_ones() -> None:
    with pytest.raises(KeyError) as caught:
        registry.get("maths")
    exc = caught.value
    assert isinstance(exc, UnknownVerifier) and isinstance(exc, VerifierError)
    assert exc.name == "maths"
    assert exc.known == tuple(registry.names()) and "math" in exc.known
    assert "unknown verifier 'maths'" in str(exc)


def test_a_bad_tests_document_is_a_value_error_in_the_tree() -> None:
    with pytest.raises(ValueError) as caught:
        CodeTests.from_dict({"version": 1, "kind": "carrier-pigeon", "cases": []})
    assert isinstance(caught.value, TestSchemaError)
    assert isinstance(caught.value, VerifierError)


def test_math_and_countdown_parse_errors_are_value_errors_in_the_tree() -> None:
    with pytest.raises(ValueError) as math_error:
        to_sympy("\\frac{1}{")
    assert isinstance(math_error.value, ParseError)
    assert isinstance(math_error.value, VerifierError)
    with pytest.raises(ValueError) as countdown_error:
        parse_expression("1 +* 2")
    assert isinstance(countdown_error.value, ExpressionError)
    assert isinstance(countdown_error.value, VerifierError)
