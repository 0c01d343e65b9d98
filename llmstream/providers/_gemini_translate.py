"""The Gemini wire's translation, sans-IO, on the google-genai SDK's ``GenerateContentResponse`` models
(read by attribute); what it shares with the dict translator of the fast path (``_gemini_dicts``):
the finish words, usage and the finish itself. Calls arrive whole (START, one DELTA, END), or in
pieces on Vertex (``_vertex.PartialCalls``); code parts and grounding are ``_server_tools``'s.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .._hot_values import text_chunk, usage_chunk, usage_counts
from .._types import ChunkType, FinishReason, StreamedChunk, Usage
from ._parts import Parts
from ._server_tools import GeminiServerTools
from ._vertex import PartialCalls

__all__ = ["FINISH_REASONS", "GeminiTranslator", "finish", "usage_of"]

_FILTERED = "SAFETY RECITATION BLOCKLIST PROHIBITED_CONTENT SPII IMAGE_SAFETY IMAGE_PROHIBITED_CONTENT"
# The model's function-call turn failed: the caller has nothing usable to run.
_FAILED = "MALFORMED_FUNCTION_CALL UNEXPECTED_TOOL_CALL TOO_MANY_TOOL_CALLS MISSING_THOUGHT_SIGNATURE"
#: Gemini's finish reason → ours. LANGUAGE, OTHER, CONTINUATION (seen only with the SDK's automatic
#: continuation off) and anything new are OTHER.
FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    **dict.fromkeys([*_FILTERED.split(), "IMAGE_RECITATION", "MODEL_ARMOR"], FinishReason.CONTENT_FILTER),
    **dict.fromkeys([*_FAILED.split(), "MALFORMED_RESPONSE"], FinishReason.ERROR),
}

_TEXT, _REASONING = ChunkType.TEXT, ChunkType.REASONING


def usage_of(prompt: int | None, tool_prompt: int | None, candidates: int | None, thoughts: int | None,
             cached: int | None) -> Usage:  # fmt: skip
    """Gemini's usage counts, normalized (DESIGN: output = candidates + thoughts)."""
    thoughts = thoughts or 0
    # Tool-use prompt tokens (e.g. search results fed back) are prompt tokens billed as input.
    return usage_counts((prompt or 0) + (tool_prompt or 0), (candidates or 0) + thoughts, cached or 0, thoughts)


def finish(parts: Parts, word: str, raw: Any, out: list[StreamedChunk]) -> None:
    """The STOP for Gemini's finish ``word`` (a repetition adds none)."""
    reason = FINISH_REASONS.get(word, FinishReason.OTHER)
    if reason is FinishReason.STOP and parts.calls:
        reason = FinishReason.TOOL_CALLS  # Gemini says STOP after function calls too
    stop = parts.stop(reason, word, raw)
    if stop is not None:
        out.append(stop)


def blocked(parts: Parts, reason: str, raw: Any, out: list[StreamedChunk]) -> None:
    """The prompt itself was blocked: no candidate at all, only the reason."""
    stop = parts.stop(FinishReason.CONTENT_FILTER, reason, raw)
    if stop is not None:
        out.append(stop)


class GeminiTranslator:
    """GenerateContentResponse (the SDK's model) → StreamedChunks, pure, one per stream: the first candidate
    only (as ``response.text``); code parts and grounding are SERVER_TOOL / CITATION chunks; calls arrive
    whole (START, one DELTA, END; ``call_<n>_<name>`` when Gemini gives no id)."""

    __slots__ = ("_partial", "_parts", "_server", "_texts")

    def __init__(self) -> None:
        self._parts = Parts()
        self._partial = PartialCalls()  # Vertex: a call whose arguments arrive in pieces
        self._server, self._texts = GeminiServerTools(), list[str]()  # texts: the answer, for grounding offsets

    def translate(self, event: Any) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []
        parts = self._parts
        if not parts.started:
            out.append(parts.start(event.response_id, event.model_version, event))
        candidates = event.candidates
        candidate = candidates[0] if candidates else None
        content = candidate.content if candidate is not None else None
        if content is not None and content.parts:
            for part in content.parts:
                text = part.text
                # The hot path: a plain answer-text part.
                if text and not part.thought and part.thought_signature is None and not part.function_call:
                    out.append(text_chunk(text, event))
                    self._texts.append(text)
                else:
                    self._part(part, event, out)
        if candidate is not None and candidate.grounding_metadata is not None:  # {} until the last chunk
            out += self._server.grounding(candidate.grounding_metadata, self._texts, event)
        usage = event.usage_metadata
        if usage is not None:
            counts = usage_of(usage.prompt_token_count, usage.tool_use_prompt_token_count,
                              usage.candidates_token_count, usage.thoughts_token_count,
                              usage.cached_content_token_count)  # fmt: skip
            out.append(usage_chunk(counts, event))
        if candidate is not None and candidate.finish_reason is not None:
            self._partial.close(parts, event, out)
            finish(parts, _name(candidate.finish_reason), event, out)
        elif candidate is None and event.prompt_feedback is not None and event.prompt_feedback.block_reason:
            blocked(parts, _name(event.prompt_feedback.block_reason), event, out)
        return out

    def missing_terminal(self) -> str | None:
        return None if self._parts.finished else "a finishReason"  # (or a blocked prompt's blockReason)

    def end(self) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []  # usage is cumulative: a call still in pieces and a missing finish are owed
        self._partial.close(self._parts, None, out)
        return out + self._parts.end()

    def _part(self, part: Any, raw: Any, out: list[StreamedChunk]) -> None:
        signature = base64.b64encode(part.thought_signature).decode() if part.thought_signature else None
        call = part.function_call
        pieces = call is not None and (self._partial.open or call.partial_args or call.will_continue)
        if pieces and self._partial.feed(call, signature, raw, out, self._parts):
            return
        if call is not None:
            arguments = json.dumps(call.args or {}, separators=(",", ":"), ensure_ascii=False)
            self._parts.whole_call(call.id, call.name or "", arguments, raw, out, signature=signature)
            return
        if part.text:
            out.append(StreamedChunk(_REASONING if part.thought else _TEXT, part.text, raw=raw))
            self._texts += () if part.thought else (part.text,)
        out += self._server.part(part, raw)  # code parts (with their signatures); nothing for others
        if signature is not None:
            # Kept as a reasoning block so that ``conversation.append(completion)`` sends it back.
            out.append(StreamedChunk(_REASONING, "", signature=signature, raw=raw))


def _name(value: Any) -> str:
    """An SDK enum's name (unknown values become pseudo-members that keep theirs), or the string."""
    return str(getattr(value, "name", value))
