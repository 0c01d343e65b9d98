"""The Gemini wire's fast-path translator, sans-IO: each streamed event as the plain dict of its
camelCase REST JSON (``GeminiClient(sdk_models=False)``: one ``json.loads`` per event, no SDK model).

It gives exactly the chunks :class:`~._gemini_translate.GeminiTranslator` gives for the SDK's models of
the same events (a test checks it on every recording); finish words, usage and the finish are shared
with it, and so are tool-call pieces (``_vertex.PartialCalls``) and server tools (``_server_tools``),
which read SDK models and dicts alike. ``chunk.raw`` is the event's dict.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .._errors import InBandError, MalformedStreamError
from .._hot_values import text_chunk, usage_chunk
from .._types import ChunkType, StreamedChunk
from ._gemini_translate import blocked, finish, usage_of
from ._parts import Parts
from ._server_tools import GeminiServerTools
from ._vertex import PartialCalls

__all__ = ["GeminiDictTranslator", "in_band_error", "signature_of"]

_TEXT, _REASONING, _USAGE = ChunkType.TEXT, ChunkType.REASONING, ChunkType.USAGE
_URLSAFE = str.maketrans("-_", "+/")


def signature_of(value: Any) -> str | None:
    """A ``thoughtSignature`` as the SDK path gives it: the bytes it stands for, in padded standard base64
    (the wire may send the URL-safe alphabet or leave the padding off)."""
    if not value:
        return None
    text = str(value)
    if len(text) % 4 == 0 and "-" not in text and "_" not in text:
        return text  # already canonical: the usual case, no decoding
    try:
        data = base64.b64decode(text.translate(_URLSAFE) + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedStreamError(f"a thoughtSignature that is not base64: {text[:40]!r}") from None
    return base64.b64encode(data).decode() if data else None


def in_band_error(body: dict[str, Any], provider: str) -> InBandError:
    """An ``{"error": …}`` event inside a 200 stream, worded as the SDK path words it (``map_gemini_error``)."""
    error = body.get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    message = error.get("message") or body.get("message") or f"{code} {error.get('status')}. {body}"
    return InBandError(str(message), code=str(error.get("status") or code), body=body, provider=provider)


def _usage_chunk(metadata: dict[str, Any], raw: Any) -> StreamedChunk:
    """``usageMetadata`` as a USAGE chunk (Gemini reports usage with every event: built as text is)."""
    get = metadata.get
    counts = usage_of(get("promptTokenCount"), get("toolUsePromptTokenCount"), get("candidatesTokenCount"),
                      get("thoughtsTokenCount"), get("cachedContentTokenCount"))  # fmt: skip
    return usage_chunk(counts, raw)


class GeminiDictTranslator:
    """One event dict → StreamedChunks, one translator per stream (see the module docstring)."""

    __slots__ = ("_partial", "_parts", "_provider", "_server", "_texts")

    def __init__(self, provider: str = "gemini") -> None:
        self._provider = provider
        self._parts = Parts()
        self._partial = PartialCalls()
        self._server, self._texts = GeminiServerTools(), list[str]()

    def translate(self, event: Any) -> list[StreamedChunk]:
        if type(event) is not dict:
            raise MalformedStreamError(f"a Gemini event that is not a JSON object: {str(event)[:80]!r}",
                                       provider=self._provider)  # fmt: skip
        out: list[StreamedChunk] = []
        if "error" in event and next(iter(event)) == "error":  # as the SDK spots one: ``{"error": …``
            out.append(StreamedChunk(ChunkType.ERROR, error=in_band_error(event, self._provider), raw=event))
            return out
        parts = self._parts
        if not parts.started:
            out.append(parts.start(event.get("responseId"), event.get("modelVersion"), event))
        candidates = event.get("candidates")
        candidate = candidates[0] if candidates else None
        if candidate is not None:
            content = candidate.get("content")
            if content:
                texts = self._texts
                for part in content.get("parts") or ():
                    text = part.get("text")
                    # The hot path: a plain answer-text part.
                    if text and (len(part) == 1 or not (part.get("thought") or "thoughtSignature" in part
                                                         or part.get("functionCall") is not None)):
                        out.append(text_chunk(text, event))
                        texts.append(text)
                    else:
                        self._part(part, event, out)
            grounding = candidate.get("groundingMetadata")
            if grounding is not None:
                out += self._server.grounding(grounding, self._texts, event)
        usage = event.get("usageMetadata")
        if usage is not None:
            out.append(_usage_chunk(usage, event))
        if candidate is not None:
            word = candidate.get("finishReason")
            if word is not None:
                self._partial.close(parts, event, out)
                finish(parts, str(word), event, out)
        else:
            feedback = event.get("promptFeedback")
            if feedback and feedback.get("blockReason"):
                blocked(parts, str(feedback["blockReason"]), event, out)
        return out

    def missing_terminal(self) -> str | None:
        return None if self._parts.finished else "a finishReason"  # (or a blocked prompt's blockReason)

    def end(self) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []
        self._partial.close(self._parts, None, out)
        return out + self._parts.end()

    def _part(self, part: dict[str, Any], raw: Any, out: list[StreamedChunk]) -> None:
        signature = signature_of(part.get("thoughtSignature"))
        call = part.get("functionCall")
        if call is not None:
            if (self._partial.open or call.get("partialArgs") or call.get("willContinue")) and self._partial.feed(
                call, signature, raw, out, self._parts
            ):
                return
            arguments = json.dumps(call.get("args") or {}, separators=(",", ":"), ensure_ascii=False)
            self._parts.whole_call(call.get("id"), call.get("name") or "", arguments, raw, out, signature=signature)
            return
        text = part.get("text")
        if text:
            thought = bool(part.get("thought"))
            out.append(StreamedChunk(_REASONING if thought else _TEXT, text, raw=raw))
            if not thought:
                self._texts.append(text)
        out += self._server.part(part, raw)  # code parts (with their signatures); nothing for others
        if signature is not None:
            out.append(StreamedChunk(_REASONING, "", signature=signature, raw=raw))
