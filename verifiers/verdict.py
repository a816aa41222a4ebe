"""The verdict every verifier returns (DESIGN.md § Verdicts).

A `Verdict` is what a rule-based verifier says about one response: a status from one small vocabulary,
a reward, the answer it read, and the detail behind the decision. A reward of ``None`` means "could
not be judged" (no gold answer, a sandbox fault): it is never silently a 0, and TRL skips it.

>>> v = Verdict(status="correct", reward=1.0, extracted="42")
>>> v.ok, v.to_dict()["status"]
(True, 'correct')
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Status = Literal["correct", "incorrect", "unverifiable", "timeout", "error"]
STATUSES: tuple[str, ...] = get_args(Status)

__all__ = ["STATUSES", "Status", "Verdict"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Verdict:
    """One verifier's decision on one response.

    status: ``correct`` | ``incorrect`` | ``unverifiable`` (nothing to judge against, or a fault of
        our own infrastructure) | ``timeout`` (the verifier's own time bound was hit) | ``error``.
    reward: the scalar reward, or ``None`` when the response could not be judged.
    extracted: the final answer (or program) the verifier read from the response.
    detail: JSON-serialisable reasons: per-test judge codes, which comparison matched, ...
    elapsed_ms: wall time the verifier spent.
    verifier / verifier_version: who judged, persisted with the verdict in the lake.
    """

    status: Status
    reward: float | None
    extracted: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: float = 0.0
    verifier: str = ""
    verifier_version: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"Verdict.status={self.status!r}: must be one of {', '.join(STATUSES)}"
            )

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=str)
