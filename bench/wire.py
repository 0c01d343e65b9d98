"""The bench's response bodies: one long (or short) stream per wire format, as the real APIs frame it.

Stdlib only (the LiteLLM runner and the server import nothing else). Every body is a list of SSE frames,
one per wire event; :func:`chunked` adds HTTP/1.1 chunked framing, one HTTP chunk per SSE frame, as the
providers flush them. The text and the two tool calls are the same in every format.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

__all__ = ["WIRES", "Body", "body", "chunked", "text_pieces", "tool_calls"]

_SAMPLE = (
    "the river runs past stone and reed , carrying light from the hills to a quiet sea . "
    "each bend holds a story : a mill , a bridge , children who throw pebbles and count the rings . "
    "water remembers nothing yet shapes everything it touches ; banks give way , deltas grow , "
    "and the current keeps its patient promise . café naïve 川 — "
)
_VOCAB = tuple(_SAMPLE.split())
_CREATED = 1_700_000_000
_TOOLS = (
    ("call_bench_1", "get_weather", {"location": "Paris, France", "unit": "celsius", "days": 3}),
    ("call_bench_2", "get_time", {"timezone": "Europe/Paris", "format": "24h"}),
)


def text_pieces(count: int, seed: int = 8) -> list[str]:
    """``count`` token-sized text deltas (1-9 characters, a leading space like real tokens)."""
    rng = random.Random(seed)
    return [" " + rng.choice(_VOCAB) if i else rng.choice(_VOCAB) for i in range(count)]


def tool_calls() -> list[tuple[str, str, str, list[str]]]:
    """``(id, name, arguments JSON, argument fragments)`` for the two tool calls."""
    out = []
    for call_id, name, args in _TOOLS:
        arguments = json.dumps(args)
        fragments = [arguments[i : i + 6] for i in range(0, len(arguments), 6)]
        out.append((call_id, name, arguments, fragments))
    return out


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _frame(data: Any, event: str | None = None, newline: str = "\n") -> bytes:
    text = data if isinstance(data, str) else _dumps(data)
    head = f"event: {event}{newline}" if event else ""
    return f"{head}data: {text}{newline}{newline}".encode()


# -- OpenAI chat completions (stream_options.include_usage) -----------------------------------------


def _openai_frames(count: int) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": "gpt-4o-mini-2024-07-18",
            "service_tier": "default",
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
            "obfuscation": "Xy7",
        }

    frames = [_frame(chunk({"role": "assistant", "content": "", "refusal": None}))]
    frames += [_frame(chunk({"content": piece})) for piece in text_pieces(count)]
    for index, (call_id, name, _, fragments) in enumerate(tool_calls()):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        frames.append(_frame(chunk({"tool_calls": [head]})))
        frames += [
            _frame(chunk({"tool_calls": [{"index": index, "function": {"arguments": f}}]})) for f in fragments
        ]
    frames.append(_frame(chunk({}, "tool_calls")))
    usage = {
        "prompt_tokens": 21,
        "completion_tokens": count + 40,
        "total_tokens": count + 61,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    final = chunk({})
    final["choices"] = []
    final["usage"] = usage
    frames.append(_frame(final))
    frames.append(_frame("[DONE]"))
    return frames


# -- OpenRouter: the OpenAI wire with OpenRouter's additions ----------------------------------------


def _openrouter_frames(count: int) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "gen-1700000000-bench",
            "provider": "OpenAI",
            "model": "openai/gpt-4o-mini",
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", **delta},
                    "finish_reason": finish,
                    "native_finish_reason": finish,
                    "logprobs": None,
                }
            ],
        }

    frames = [b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n"]
    frames += [_frame(chunk({"content": piece, "reasoning": None})) for piece in text_pieces(count)]
    for index, (call_id, name, _, fragments) in enumerate(tool_calls()):
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        frames.append(_frame(chunk({"content": "", "tool_calls": [head]})))
        frames += [
            _frame(chunk({"content": "", "tool_calls": [{"index": index, "function": {"arguments": f}}]}))
            for f in fragments
        ]
    frames.append(_frame(chunk({"content": ""}, "tool_calls")))
    final = chunk({"content": ""})
    final["usage"] = {
        "prompt_tokens": 21,
        "completion_tokens": count + 40,
        "total_tokens": count + 61,
        "cost": 0.0012,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 0},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    frames.append(_frame(final))
    frames.append(_frame("[DONE]"))
    return frames


# -- Anthropic messages ------------------------------------------------------------------------------


def _anthropic_frames(count: int) -> list[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return _frame({"type": name, **data}, event=name)

    message = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 21,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
            "service_tier": "standard",
        },
    }
    frames = [event("message_start", {"message": message}), event("ping", {})]
    frames.append(event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
    frames += [
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        for piece in text_pieces(count)
    ]
    frames.append(event("content_block_stop", {"index": 0}))
    for n, (call_id, name, _, fragments) in enumerate(tool_calls(), start=1):
        block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
        frames.append(event("content_block_start", {"index": n, "content_block": block}))
        frames += [
            event("content_block_delta", {"index": n, "delta": {"type": "input_json_delta", "partial_json": f}})
            for f in fragments
        ]
        frames.append(event("content_block_stop", {"index": n}))
    frames.append(
        event(
            "message_delta",
            {"delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": count + 40}},
        )
    )
    frames.append(event("message_stop", {}))
    return frames


# -- Gemini streamGenerateContent?alt=sse (CRLF framing) ---------------------------------------------


def _gemini_frames(count: int) -> list[bytes]:
    def response(parts: list[dict[str, Any]], produced: int, finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        usage = {
            "promptTokenCount": 21,
            "candidatesTokenCount": produced,
            "totalTokenCount": 21 + produced,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 21}],
        }
        data = {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "gemini-2.5-flash",
            "responseId": "bench-response-1",
        }
        return _frame(data, newline="\r\n")

    frames = [response([{"text": piece}], n) for n, piece in enumerate(text_pieces(count), start=1)]
    calls = [{"functionCall": {"name": name, "args": json.loads(arguments)}} for _, name, arguments, _ in tool_calls()]
    frames.append(response(calls, count + 40, "STOP"))
    return frames


# -- OpenAI Responses (POST /v1/responses, stream=True) -------------------------------------------------


def _responses_frames(count: int) -> list[bytes]:
    seq = iter(range(1_000_000_000))

    def event(data: dict[str, Any]) -> bytes:
        return _frame({**data, "sequence_number": next(seq)}, event=data["type"])

    response: dict[str, Any] = {
        "id": "resp_bench", "object": "response", "created_at": _CREATED, "status": "in_progress",
        "model": "gpt-5-mini-2025-08-07", "output": [], "usage": None, "error": None, "incomplete_details": None,
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "background": False,
    }
    mid = "msg_bench"
    pieces = text_pieces(count)
    text = "".join(pieces)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    message = {"id": mid, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
    frames = [event({"type": "response.created", "response": response}),
              event({"type": "response.in_progress", "response": response}),
              event({"type": "response.output_item.added", "output_index": 0, "item": message}),
              event({"type": "response.content_part.added", "item_id": mid, "output_index": 0, "content_index": 0,
                     "part": part})]
    frames += [event({"type": "response.output_text.delta", "item_id": mid, "output_index": 0, "content_index": 0,
                      "delta": piece, "logprobs": [], "obfuscation": "Xy7"}) for piece in pieces]
    done_part = {**part, "text": text}
    done_message = {**message, "status": "completed", "content": [done_part]}
    frames += [event({"type": "response.output_text.done", "item_id": mid, "output_index": 0, "content_index": 0,
                      "text": text, "logprobs": []}),
               event({"type": "response.content_part.done", "item_id": mid, "output_index": 0, "content_index": 0,
                      "part": done_part}),
               event({"type": "response.output_item.done", "output_index": 0, "item": done_message})]
    output = [done_message]
    for index, (call_id, name, arguments, fragments) in enumerate(tool_calls(), start=1):
        fid = f"fc_bench_{index}"
        call = {"id": fid, "type": "function_call", "status": "in_progress", "call_id": call_id, "name": name,
                "arguments": ""}
        frames.append(event({"type": "response.output_item.added", "output_index": index, "item": call}))
        frames += [event({"type": "response.function_call_arguments.delta", "item_id": fid, "output_index": index,
                          "delta": f, "obfuscation": "Xy7"}) for f in fragments]
        frames.append(event({"type": "response.function_call_arguments.done", "item_id": fid, "output_index": index,
                             "arguments": arguments}))
        done_call = {**call, "status": "completed", "arguments": arguments}
        frames.append(event({"type": "response.output_item.done", "output_index": index, "item": done_call}))
        output.append(done_call)
    usage = {"input_tokens": 21, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": count + 40,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": count + 61}
    final = {**response, "status": "completed", "output": output, "usage": usage}
    frames.append(event({"type": "response.completed", "response": final}))
    return frames


WIRES: dict[str, Callable[[int], list[bytes]]] = {
    "openai": _openai_frames,
    "responses": _responses_frames,
    "openrouter": _openrouter_frames,
    "anthropic": _anthropic_frames,
    "gemini": _gemini_frames,
}


class Body:
    """A stream's frames, and how many of them are events (comments and ``[DONE]`` excluded)."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self.events = sum(1 for f in frames if not f.startswith(b":") and b"data: [DONE]" not in f)
        self.size = sum(len(f) for f in frames)


def body(wire: str, count: int) -> Body:
    return Body(WIRES[wire](count))


def chunked(frames: list[bytes]) -> bytes:
    """HTTP/1.1 chunked transfer encoding, one HTTP chunk per SSE frame, with the last-chunk marker."""
    return b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n"
