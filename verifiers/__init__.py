"""Rule-based verifiers: math answers, code in the sandbox, R1's format and language rewards.

Every verifier returns a :class:`Verdict`; the registry maps a name to a prompt scorer
``score(prompt_row, response) -> Verdict``. Families load lazily (sympy, the sandbox).

>>> from verifiers import registry
>>> registry.score("format", {}, "<think>2+2=4</think> 4").status
'correct'
"""

from verifiers import registry
from verifiers.verdict import STATUSES, Verdict

__all__ = ["STATUSES", "Verdict", "registry"]
