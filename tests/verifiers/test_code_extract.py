"""Reading the program out of a response, and putting it after a prompt prefix."""

from __future__ import annotations

import pytest

from verifiers.code.extract import extract_program
from verifiers.code.functions import build_program

PY = "```python\nprint(1)\n```"


@pytest.mark.parametrize(
    ("response", "lang", "code"),
    [
        (PY, "python", "print(1)\n"),  # one block
        ("```python\na\n```\ntext\n```python\nb\n```", "python", "b\n"),  # the last one wins
        ("<think>```python\nx\n```</think>\n" + PY, "python", "print(1)\n"),  # after </think>
        ("```py\nx\n```", "python", "x\n"),  # alias tag
        ("```\nx\n```", "python", "x\n"),  # untagged, no tagged block
        ("```python\na\n```\n```\nb\n```", "python", "a\n"),  # tagged wins over untagged
        ("```cpp\nint main(){}\n```\n" + PY, "cpp", "int main(){}\n"),  # other languages skipped
        ("````python\n```inner```\n````", "python", "```inner```\n"),  # longer fences nest
        ("~~~python\nx\n~~~", "python", "x\n"),  # tilde fences
        ("```python title=sol.py\nx\n```", "python", "x\n"),  # info string after the tag
    ],
)
def test_extracts(response, lang, code):
    assert extract_program(response, lang).code == code


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("just words", "no ```python code block"),  # nothing fenced
        ("```cpp\nint main(){}\n```", "no ```python code block"),  # only another language
        ("```python\nprint(1)\n", "not closed"),  # truncated generation
        ("<think>```python\nx\n```", "never closed"),  # reasoning never ended
        ("```python\n   \n```", "empty"),  # empty block
        ("```python\nx\n```</think>no code after", "no ```python"),  # code only in reasoning
    ],
)
def test_no_program_says_why(response, reason):
    got = extract_program(response, "python")
    assert got.code is None and reason in got.reason


@pytest.mark.parametrize(
    ("prefix", "code", "program"),
    [
        ("def f(x):\n", "    return x\n", "def f(x):\n    return x\n"),  # a body continues
        # a whole function after a bare signature: the stub gets a body
        (
            "import m\ndef f(x):\n",
            "def f(x):\n    return x\n",
            "import m\ndef f(x):\n    pass\n\n\ndef f(x):\n    return x\n",
        ),
        ("", "def f(): pass", "def f(): pass"),  # no prefix
        (
            "H = 1\n",
            "class Solution:\n    pass\n",
            "H = 1\n\n\nclass Solution:\n    pass\n",
        ),  # class entry
    ],
)
def test_build_program(prefix, code, program):
    entry = "Solution.f" if "class" in code else "f"
    assert build_program(prefix, code, entry) == program
