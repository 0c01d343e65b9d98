"""Every Python block of the README runs, so the documentation cannot drift from the code.

Each block runs on its own, in a fresh namespace holding what the README's prose assumes: a
``client`` (the mock provider, which echoes the prompt), a ``conversation``, and the callbacks and
helpers it names (``handle``, ``handler``, ``show``, ``log``, ``save``, ``ui``, ``get_weather``).
A block that needs a real API key is marked by a ``<!-- needs-key -->`` line right above its
fence: it is compiled (its syntax is checked) but not run.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import logging
import re
from pathlib import Path
from typing import Any

import pytest

import llmstream
from llmstream import Conversation, FinishReason, StreamedChunk

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- needs-key -->"
_BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)\n```", re.DOTALL)


def python_blocks() -> list[tuple[int, str, bool]]:
    """(line number, code, needs a key) for each ```python block."""
    text = README.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start("code")) + 1, match.group("code"), match.group("before").strip() == MARKER)
        for match in _BLOCK.finditer(text)
    ]


def prelude() -> dict[str, Any]:
    seen: list[StreamedChunk] = []
    return {
        "__name__": "readme",
        "llmstream": llmstream,
        "pytest": pytest,
        "FinishReason": FinishReason,
        "client": llmstream.client("mock:echo"),
        "conversation": Conversation().system("Be brief.").user("Write a haiku about rivers."),
        "handle": seen.append, "handler": seen.append, "show": seen.append,
        "log": logging.getLogger("readme"), "save": lambda completion: None, "ui": [],
        "get_weather": lambda city: {"city": city, "temp": 18},
    }


BLOCKS = python_blocks()


def test_the_readme_has_blocks_to_run_and_marks_the_ones_that_need_a_key() -> None:
    assert len(BLOCKS) >= 8
    assert any(needs_key for _, _, needs_key in BLOCKS)
    assert sum(not needs_key for _, _, needs_key in BLOCKS) >= 6


@pytest.mark.parametrize(("line", "code", "needs_key"), BLOCKS, ids=[f"README.md:{b[0]}" for b in BLOCKS])
def test_readme_block(line: int, code: str, needs_key: bool, capsys: pytest.CaptureFixture[str]) -> None:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    compiled = compile(code, f"README.md:{line}", "exec", flags=flags)
    if needs_key:
        return
    namespace = prelude()
    result = eval(compiled, namespace)  # our own README
    if inspect.iscoroutine(result):  # a block with top-level await
        asyncio.run(result)
    completion = namespace.get("completion")
    if completion is not None:
        assert completion.error is None and completion.finish_reason is FinishReason.STOP
