"""The math answer verifier: read the final answer of a response and judge it against a gold answer.

This is the accuracy reward of the R1 recipe (R1 §2.2.2: "rule-based reward ... the model is required
to provide the final answer in a specified format (e.g., within a box)"). Stages, one module each:

- `extract`: reading (the last ``\\boxed{}``, answer tags, "final answer is", LaTeX spans, bare answers;
  only after ``</think>``; hedges);
- `normalize`: one spelling per answer, and exact numbers;
- `structure`: lists, tuples, sets, intervals, relations and labels, read in plain Python;
- `compare`: the cheap judge, in the calling process (strings, letters, exact arithmetic);
- `parse` + `symbolic`: LaTeX → sympy and structural/symbolic judging, in a worker process;
- `bound`: the pool of worker processes that enforces the time bound without signals.

Every call returns a `Verdict` and never raises for bad input: ``correct``/``incorrect`` (reward 1/0),
``unverifiable`` (no gold: reward None), ``timeout`` (reward `MathConfig.timeout_reward`), ``error``
(a fault of ours: reward None). Policies and the parser choice are written down in NOTES.md.

>>> verify_math("\\\\frac{1}{2}", "... so the answer is \\\\boxed{0.5}").status
'correct'
>>> verify_math("10^{18}", "\\\\boxed{1000000000000000001}").reward
0.0
"""

from __future__ import annotations

from verifiers.math.config import MathConfig
from verifiers.math.verify import (
    VERSION,
    averify_math,
    score_prompt,
    verify_math,
    verify_math_batch,
)

__all__ = [
    "VERSION",
    "MathConfig",
    "averify_math",
    "score_prompt",
    "verify_math",
    "verify_math_batch",
]
