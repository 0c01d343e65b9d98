"""The OpenAI chat-completions oracles (also OpenRouter's wire).

The ``openai`` SDK's own client (fed through an ``httpx2.MockTransport``) and its
``ChatCompletionStreamState`` accumulator; where that helper rejects a chunk or is known to
mis-accumulate, :func:`openai_json_oracle`, a JSON-level accumulation written here from DESIGN's rules.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from llmstream import FinishReason, InBandError, LLMStreamError, Usage
from tests.oracles.corpus import (
    Expected,
    ExpectedCall,
    OracleRejected,
    Recording,
    finish_for,
    http_error,
    mock_transport,
    parse_args,
    sse_events,
)

__all__ = ["OPENAI_FINISH", "openai_json_oracle", "openai_oracle", "openai_sdk_oracle", "openrouter_signatures"]

OPENAI_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def _openai_usage(usage: Any) -> Usage | None:
    if not usage:
        return None
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    cached = prompt.get("cached_tokens")
    if cached is None:  # DeepSeek: prompt_tokens = cache hits + misses
        cached = usage.get("prompt_cache_hit_tokens")
    cost = usage.get("cost")
    return Usage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cached_input_tokens=cached or 0,
        cache_write_tokens=prompt.get("cache_write_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
        cost=float(cost) if isinstance(cost, (int, float)) else None,
    )


def openai_sdk_oracle(rec: Recording) -> Expected:
    """The openai SDK client on the recorded bytes, accumulated by ``ChatCompletionStreamState``."""
    import httpx2
    import openai
    from openai.lib.streaming.chat import ChatCompletionStreamState

    name = "openai ChatCompletionStreamState"
    sdk = openai.OpenAI(
        api_key="oracle", base_url="http://oracle.invalid/v1", max_retries=0,
        http_client=httpx2.Client(transport=mock_transport(rec)),
    )
    try:
        stream = sdk.chat.completions.create(model=rec.model, messages=[{"role": "user", "content": "x"}], stream=True)
    except openai.APIStatusError:
        return http_error(rec, name)
    state: Any = ChatCompletionStreamState()
    usage: Any = None
    error: type[LLMStreamError] | None = None
    seen = 0
    try:
        for chunk in stream:
            # The helper overwrites usage with every chunk's (null after the usage chunk, e.g. a
            # moderation chunk): keep the last one reported, as DESIGN asks.
            if chunk.usage is not None:
                usage = chunk.usage.to_dict()
            try:
                state.handle_chunk(chunk)
            except Exception as exc:
                reason = f"ChatCompletionStreamState rejects chunk {seen}: {type(exc).__name__}: {exc}"
                raise OracleRejected(reason) from exc
            seen += 1
    except openai.APIError as exc:  # an error event inside the 200 stream
        if isinstance(exc, openai.APIStatusError):
            raise
        error = InBandError
    if not seen:
        return Expected(oracle=name, usage=_openai_usage(usage), error=error)
    snapshot = state.current_completion_snapshot
    choice = next((c for c in snapshot.choices if c.index == 0), None)
    message = choice.message if choice is not None else None
    extra = (message.model_extra or {}) if message is not None else {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
    if not isinstance(reasoning, str):
        raise OracleRejected("reasoning is not a string")
    calls = []
    for call in (message.tool_calls or []) if message is not None else []:
        if _doubled(call.id or "") or _doubled(call.function.name or ""):
            # accumulate_delta appends every string: an id/name a server repeats in each delta doubles.
            raise OracleRejected(f"ChatCompletionStreamState concatenated a repeated id/name: {call.id!r}")
        calls.append(ExpectedCall(call.id, call.function.name, parse_args(call.function.arguments)))
    raw = choice.finish_reason if choice is not None else None
    return Expected(
        oracle=name,
        id=snapshot.id or None,
        model=snapshot.model or None,
        text=(message.content or "") if message is not None else "",
        reasoning=reasoning,
        refusal=(message.refusal or "") if message is not None else "",
        tool_calls=tuple(calls),
        usage=_openai_usage(usage),
        finish_reason=FinishReason.ERROR if error else finish_for(OPENAI_FINISH, raw, len(calls)),
        raw_finish_reason=raw,
        error=error,
    )


def _doubled(value: str) -> bool:
    """``"abcabc"``: what ``accumulate_delta`` makes of an id a server repeats in every delta."""
    half = len(value) // 2
    return len(value) % 2 == 0 and half > 0 and value[:half] == value[half:]


def openai_json_oracle(rec: Recording) -> Expected:
    """OpenAI-wire accumulation at the JSON level, from DESIGN's rules (independent of llmstream)."""
    name = "JSON-level chat-completions accumulation (tests/oracles/openai.py)"
    if rec.status >= 400:
        return http_error(rec, name)
    text: list[str] = []
    reasoning: list[str] = []
    refusal: list[str] = []
    calls: list[dict[str, Any]] = []
    by_index: dict[int, dict[str, Any]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    usage: Any = None
    raw: str | None = None
    error: type[LLMStreamError] | None = None
    head: dict[str, Any] = {}  # the first chunk names the response, as in the SDK's snapshot
    for event, data in sse_events(rec.body):
        if data.strip() == "[DONE]":
            break
        chunk = json.loads(data)
        head = head or chunk
        if event == "error" or chunk.get("error"):
            error = InBandError
            break
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1: the completion is the first choice
            delta = choice.get("delta") or {}
            said = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(said, str):
                reasoning.append(said)
            else:  # reasoning_details alone: its text / summary entries
                for detail in delta.get("reasoning_details") or ():
                    piece = detail.get("text") if detail.get("type") == "reasoning.text" else detail.get("summary")
                    if isinstance(piece, str):
                        reasoning.append(piece)
            text.append(delta.get("content") or "")
            refusal.append(delta.get("refusal") or "")
            for fragment in delta.get("tool_calls") or ():
                index, call_id = fragment.get("index"), fragment.get("id") or None
                function = fragment.get("function") or {}
                call = by_index.get(index) if index is not None else (by_id.get(call_id) if call_id else None)
                if index is None and call_id is None and calls:
                    call = calls[-1]  # neither index nor id: continues the latest call
                if call is not None and call_id and call["id"] and call["id"] != call_id:
                    call = by_id.get(call_id)  # a new id at a used index is a new call
                if call is None:
                    call = {"id": call_id, "name": function.get("name"), "args": []}
                    calls.append(call)
                # A server repeating id and name in every delta repeats, it does not append.
                call["id"] = call["id"] or call_id
                call["name"] = call["name"] or function.get("name")
                if index is not None:
                    by_index[index] = call
                if call_id:
                    by_id[call_id] = call
                if function.get("arguments"):  # null adds nothing
                    call["args"].append(function["arguments"])
            if choice.get("finish_reason"):
                raw = choice["finish_reason"]
    expected_calls = tuple(ExpectedCall(c["id"], c["name"] or "", parse_args("".join(c["args"]))) for c in calls)
    return Expected(
        oracle=name,
        id=head.get("id") or None,
        model=head.get("model") or None,
        text="".join(text),
        reasoning="".join(reasoning),
        refusal="".join(refusal),
        tool_calls=expected_calls,
        usage=_openai_usage(usage),
        finish_reason=FinishReason.ERROR if error else finish_for(OPENAI_FINISH, raw, len(calls)),
        raw_finish_reason=raw,
        error=error,
    )


def openrouter_signatures(rec: Recording) -> tuple[str, ...]:
    """OpenRouter's ``reasoning_details``: signatures and encrypted blocks, in order (JSON level: the
    openai SDK keeps them as untyped extras)."""
    out: list[str] = []
    for _, data in sse_events(rec.body):
        if data.strip() == "[DONE]":
            break
        for choice in json.loads(data).get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            for detail in (choice.get("delta") or {}).get("reasoning_details") or ():
                if detail.get("type") == "reasoning.encrypted":
                    out.append(f"redacted:{detail.get('data') or ''}")
                elif detail.get("signature"):
                    out.append(detail["signature"])
    return tuple(out)


def openai_oracle(rec: Recording) -> Expected:
    """The vendor helper where it can; the JSON-level oracle (with the reason noted) where it cannot."""
    try:
        expected = openai_sdk_oracle(rec)
    except OracleRejected as reason:
        expected = openai_json_oracle(rec)
        expected = dataclasses.replace(expected, notes=(*expected.notes, str(reason)))
    if rec.wire == "openrouter" and rec.status < 400:
        expected = dataclasses.replace(expected, signatures=openrouter_signatures(rec))
    return expected
