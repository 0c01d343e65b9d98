"""OpenRouter's ``reasoning_details``: kept from the stream, sent back on the next turn.

OpenRouter streams a model's reasoning as ``reasoning_details`` entries (``reasoning.text`` with a
``signature``, ``reasoning.summary``, ``reasoning.encrypted`` with its ``data``; each with ``format``,
and often ``id`` and ``index``). Its docs ("Preserving reasoning blocks") ask for them back, unchanged
and in order, on the assistant message of the next request (``reasoning_details``): Claude's thinking
and Gemini 3's thought signatures (tied to the tool call by ``id``) are rejected or lost otherwise,
which breaks tool loops with thinking.

A streamed entry arrives in fragments: consecutive entries of the same ``type`` and ``index`` are one
block, whose ``text``/``summary``/``data`` pieces are joined and whose other fields take the last
non-empty value (the signature comes last). Entries without an ``index`` are kept as they came.
"""

from __future__ import annotations

from typing import Any

from .._conversation import Message
from .._types import ProviderOutput

__all__ = ["WIRE", "ReasoningDetails", "reasoning_details"]

#: ``ProviderOutput.wire`` of an OpenRouter turn: ``items`` are its ``reasoning_details`` entries.
WIRE = "openrouter"
_JOINED = ("text", "summary", "data")


class _Block:
    __slots__ = ("fields", "pieces")

    def __init__(self, detail: dict[str, Any]) -> None:
        self.fields: dict[str, Any] = {}
        self.pieces: dict[str, list[str]] = {}
        self.add(detail)

    def add(self, detail: dict[str, Any]) -> None:
        for key, value in detail.items():
            if key in _JOINED and isinstance(value, str):
                self.fields.setdefault(key, "")  # keeps the key's place
                self.pieces.setdefault(key, []).append(value)
            elif key not in self.fields or value not in (None, ""):
                self.fields[key] = value

    def item(self) -> dict[str, Any]:
        return {key: "".join(self.pieces[key]) if key in self.pieces else value for key, value in self.fields.items()}


class ReasoningDetails:
    """Per stream: the entries so far, merged; :meth:`output` for the STOP chunk."""

    __slots__ = ("_blocks",)

    def __init__(self) -> None:
        self._blocks: list[_Block] = []

    def __bool__(self) -> bool:
        return bool(self._blocks)

    def add(self, details: Any) -> None:
        for detail in details if isinstance(details, list) else ():
            if not isinstance(detail, dict):
                continue
            last = self._blocks[-1] if self._blocks else None
            index = detail.get("index")
            if (last is not None and index is not None and last.fields.get("index") == index
                    and last.fields.get("type") == detail.get("type")):
                last.add(detail)
            else:
                self._blocks.append(_Block(detail))

    def output(self) -> ProviderOutput:
        return ProviderOutput(WIRE, tuple(block.item() for block in self._blocks))


def reasoning_details(message: Message) -> list[dict[str, Any]] | None:
    """What an assistant message sends back to OpenRouter as ``reasoning_details`` (None: nothing)."""
    output = message.provider_output
    if output is None or output.wire != WIRE or not output.items:
        return None
    return [dict(item) for item in output.items]
