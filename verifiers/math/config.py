"""`MathConfig`: every policy of the math verifier in one frozen, validated, picklable object.

>>> MathConfig(timeout_s=0.5, percent="either").timeout_s
0.5
>>> MathConfig(timeout_s=0)
Traceback (most recent call last):
...
ValueError: MathConfig.timeout_s=0: must be a positive number of seconds
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["ListOrder", "MathConfig", "PercentPolicy"]

PercentPolicy = Literal["strip", "fraction", "either"]
ListOrder = Literal["ordered", "unordered"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MathConfig:
    """Policies of `verify_math`.

    timeout_s: wall-clock bound of the symbolic check of one call; when it is hit the worker process
        is killed and replaced, and the verdict is ``timeout`` with reward `timeout_reward`.
    timeout_reward: reward of a ``timeout`` verdict: 0.0 (default: a runaway answer earns nothing) or
        None (TRL skips the sample).
    percent: how a number marked with ``%`` reads. ``either`` (default): as written or divided by
        100, so ``5\\%`` ≡ ``5`` ≡ ``0.05``; an unmarked ``50`` never equals ``0.5`` (no ×100 guessing,
        unlike Qwen/PRIME). ``strip``: the sign is a unit only (``0.05`` ≢ ``5\\%``); ``fraction``:
        ``5\\%`` ≡ ``0.05`` only.
    bare_lists: how a list without brackets (``10, 4, -2``) is compared: ``unordered`` (default: such
        lists are "all solutions" answers) or ``ordered`` (the MATH/hendrycks convention). Sets
        ``\\{…\\}``, ``\\pm`` and lists of tuples are always unordered, tuples always ordered.
    interval_inequality: ``x < 3`` ≡ ``(-\\infty, 3)`` in both directions (Math-Verify only accepts it
        when the gold is the inequality).
    form_sensitive: a factored gold needs a completely factored answer and an expanded gold an
        expanded one (CAS equality alone rewards restating the question).
    decimal_sig_digits: a decimal answer to an exact non-integer gold (``0.3333`` for ``1/3``)
        passes when it shows at least this many significant digits and is right to its last digit.
        Integers never get a tolerance.
    degrees_to_radians: ``30^\\circ`` ≡ ``\\frac{\\pi}{6}`` when the other side contains π.
    max_answer_chars: longer extracted answers are judged by string only, never parsed.
    startup_timeout_s: how long a fresh worker may take to import sympy (not part of `timeout_s`).
    """

    timeout_s: float = 1.0
    timeout_reward: float | None = 0.0
    percent: PercentPolicy = "either"
    bare_lists: ListOrder = "unordered"
    interval_inequality: bool = True
    form_sensitive: bool = True
    decimal_sig_digits: int = 4
    degrees_to_radians: bool = True
    max_answer_chars: int = 2000
    startup_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("timeout_s", "startup_timeout_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(
                    f"MathConfig.{name}={value!r}: must be a positive number of seconds"
                )
        reward = self.timeout_reward
        if reward is not None and (isinstance(reward, bool) or not isinstance(reward, int | float)):
            raise ValueError(f"MathConfig.timeout_reward={reward!r}: must be a float or None")
        self._check_choice("percent", get_args(PercentPolicy))
        self._check_choice("bare_lists", get_args(ListOrder))
        for name in ("decimal_sig_digits", "max_answer_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MathConfig.{name}={value!r}: must be a positive integer")

    def _check_choice(self, name: str, choices: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in choices:
            raise ValueError(f"MathConfig.{name}={value!r}: must be one of {', '.join(choices)}")

    def judge_options(self) -> dict[str, Any]:
        """The policies the judging stages read (a plain dict: cheap to send to a worker)."""
        return {
            "percent": self.percent,
            "bare_lists": self.bare_lists,
            "interval_inequality": self.interval_inequality,
            "form_sensitive": self.form_sensitive,
            "decimal_sig_digits": self.decimal_sig_digits,
            "degrees_to_radians": self.degrees_to_radians,
            "max_answer_chars": self.max_answer_chars,
        }
