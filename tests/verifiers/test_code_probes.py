"""check(candidate) test modules that never call check (verifiers.code.probes.complete_asserts)."""

from __future__ import annotations

import pytest

from verifiers.code.probes import complete_asserts

CHECK = "def check(candidate):\n    assert candidate(2) == 4\n"


@pytest.mark.parametrize(
    ("asserts", "setup", "called"),
    [
        ((CHECK,), "", 0),  # HumanEval's `test` field taken whole: completed
        (("METADATA = {}\n\n\n" + CHECK,), "", 0),  # with its METADATA
        (("assert candidate(1) == 2", CHECK), "", 1),  # the item that defines it
        ((CHECK + "\ncheck(f)",), "", None),  # already called: unchanged
        (("check(f)",), CHECK, None),  # defined in the setup, called by an item
        (("assert candidate(1) == 2",), CHECK, None),  # a setup helper nobody calls: left alone
        (("def check():\n    pass\n",), "", None),  # no parameter: not a check(candidate)
        (("def check(:",), "", None),  # does not parse: left to the judge (an error there)
    ],
)
def test_completes_uncalled_check(asserts, setup, called) -> None:
    got = complete_asserts(asserts, setup)
    if called is None:
        assert got == asserts
    else:
        assert got[called].rstrip().endswith("check(candidate)")
        assert [a for k, a in enumerate(got) if k != called] == [
            a for k, a in enumerate(asserts) if k != called
        ]
        assert len(got) == len(asserts)  # the test count is the dataset's
