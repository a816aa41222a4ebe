"""Errors of the verifiers.

::

    VerifierError                      base of everything a verifier raises on purpose
    ├── ParseError(ValueError)         math: the text is not an answer sympy can read, or a guard
    │                                  refused it (too deep, too many digits)
    ├── ExpressionError(ValueError)    countdown: not a countdown expression; str(exc) is the
    │                                  reason shown to users
    ├── TestSchemaError(ValueError)    a code tests document breaks the schema; the message names
    │                                  the field
    └── UnknownVerifier(KeyError)      registry.get(name) of a name not registered: .name, .known

Each also derives from the builtin its callers caught before the tree existed (``except
ValueError`` / ``except KeyError`` keep working). None of these is a verdict: a verifier turns
a wrong answer into a ``wrong`` verdict and its own fault into ``error`` (reward None); these are
raised to code that calls a verifier's helpers directly or asks for a verifier by name.

>>> issubclass(UnknownVerifier, KeyError) and issubclass(ParseError, ValueError)
True
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ExpressionError", "ParseError", "TestSchemaError", "UnknownVerifier", "VerifierError"]


class VerifierError(Exception):
    """Base class of the verifiers' errors."""


class ParseError(VerifierError, ValueError):
    """The text is not an answer sympy can read (or was refused by a guard)."""


class ExpressionError(VerifierError, ValueError):
    """The expression is not a countdown expression; ``str(exc)`` is the reason shown to users."""


class TestSchemaError(VerifierError, ValueError):
    """A tests document does not follow the schema; the message names the field."""

    __test__ = False  # not a pytest class


class UnknownVerifier(VerifierError, KeyError):
    """No verifier is registered as `name`; `known` lists the registered names."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name, self.known = name, tuple(known)
        super().__init__(f"unknown verifier {name!r}: known verifiers are {', '.join(self.known)}")
