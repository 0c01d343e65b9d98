"""Value constructors for the translators' hot paths: objects equal to what the classes' own
``__init__`` builds, with only the slots the common case needs stored.

A slot left empty reads as its field's default (a ``__getattr__`` fallback, installed here on the
classes whose objects this module builds, and only reached for an empty slot), so equality,
``repr``, hashing, ``attrs.evolve`` and pickling see every field. Each slot store goes through the
slot's own setter, as the classes' ``__init__`` do (the frozen ``__setattr__`` refuses them).
"""

from __future__ import annotations

from typing import Any

import attrs

from ._types import (
    ChunkType,
    StreamedChunk,
    Usage,
    _set_raw,
    _set_text,
    _set_type,
    _set_usage,
    _usage_cached,
    _usage_input,
    _usage_output,
    _usage_reasoning,
)

__all__ = ["text_chunk", "usage_chunk", "usage_counts"]

_new = object.__new__
_TEXT_TYPE, _USAGE_TYPE = ChunkType.TEXT, ChunkType.USAGE


def text_chunk(text: str, raw: Any) -> StreamedChunk:
    """``StreamedChunk(ChunkType.TEXT, text, raw=raw)``: three slot stores instead of fifteen."""
    chunk: StreamedChunk = _new(StreamedChunk)
    _set_type(chunk, _TEXT_TYPE)
    _set_text(chunk, text)
    _set_raw(chunk, raw)
    return chunk


def usage_chunk(usage: Usage, raw: Any) -> StreamedChunk:
    """``StreamedChunk(ChunkType.USAGE, usage=usage, raw=raw)`` (Gemini reports usage with every event)."""
    chunk: StreamedChunk = _new(StreamedChunk)
    _set_type(chunk, _USAGE_TYPE)
    _set_usage(chunk, usage)
    _set_raw(chunk, raw)
    return chunk


def usage_counts(input_tokens: int, output_tokens: int, cached_input_tokens: int, reasoning_tokens: int) -> Usage:
    """``Usage(input_tokens, output_tokens, cached_input_tokens, 0, reasoning_tokens)``: four slot stores, no
    keyword binding (Gemini's usage with every event); ``cache_write_tokens`` and ``cost`` left empty."""
    usage: Usage = _new(Usage)
    _usage_input(usage, input_tokens)
    _usage_output(usage, output_tokens)
    _usage_cached(usage, cached_input_tokens)
    _usage_reasoning(usage, reasoning_tokens)
    return usage


def _read_empty_slots_as_defaults(cls: type) -> None:
    defaults = {field.name: field.default for field in attrs.fields(cls)}
    message = f"'{cls.__name__}' object has no attribute {{!r}}"

    def empty_slot(self: Any, name: str) -> Any:
        """Only for an attribute not found: an empty slot reads as its field's default; other names raise."""
        try:
            return defaults[name]
        except KeyError:
            raise AttributeError(message.format(name)) from None

    setattr(cls, "__getattr__", empty_slot)  # noqa: B010 - hidden from type checkers on purpose


_read_empty_slots_as_defaults(StreamedChunk)
_read_empty_slots_as_defaults(Usage)
