"""The Anthropic oracle: the ``anthropic`` SDK's ``messages.stream(...).get_final_message()``
(``beta.messages`` for recordings made on the ``?beta=true`` endpoint)."""

from __future__ import annotations

from urllib.parse import urlsplit

from llmstream import FinishReason, InBandError, LLMStreamError, Usage
from tests.oracles.corpus import Expected, ExpectedCall, Recording, finish_for, http_error, mock_transport, parse_args

__all__ = ["ANTHROPIC_FINISH", "anthropic_oracle"]

ANTHROPIC_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
}


def anthropic_oracle(rec: Recording) -> Expected:
    import anthropic
    import httpx2

    beta = "beta=true" in urlsplit(rec.uri).query
    name = "anthropic " + ("beta." if beta else "") + "MessageStream.get_final_message()"
    sdk = anthropic.Anthropic(
        api_key="oracle", base_url="http://oracle.invalid", max_retries=0,
        http_client=httpx2.Client(transport=mock_transport(rec)),
    )
    messages = sdk.beta.messages if beta else sdk.messages
    error: type[LLMStreamError] | None = None
    try:
        with messages.stream(model=rec.model, max_tokens=1024, messages=[{"role": "user", "content": "x"}]) as stream:
            try:
                message = stream.get_final_message()
            except anthropic.APIStatusError as exc:
                if exc.status_code >= 400:
                    raise
                error, message = InBandError, stream.current_message_snapshot  # an error event in the 200 stream
    except anthropic.APIStatusError:
        return http_error(rec, name)
    text = "".join(block.text for block in message.content if block.type == "text")
    reasoning = "".join(block.thinking for block in message.content if block.type == "thinking")
    calls = tuple(ExpectedCall(b.id, b.name, parse_args(b.input)) for b in message.content if b.type == "tool_use")
    signatures = tuple(
        block.signature if block.type == "thinking" else f"redacted:{block.data}"
        for block in message.content
        if block.type == "redacted_thinking" or (block.type == "thinking" and block.signature)
    )
    usage = message.usage
    fresh, read = usage.input_tokens or 0, usage.cache_read_input_tokens or 0
    created = usage.cache_creation_input_tokens or 0
    details = getattr(usage, "output_tokens_details", None)
    normalized = Usage(
        input_tokens=fresh + read + created,  # DESIGN: Anthropic input = input + cache read + cache creation
        output_tokens=usage.output_tokens or 0,
        cached_input_tokens=read,
        cache_write_tokens=created,
        reasoning_tokens=getattr(details, "thinking_tokens", None) or 0,
    )
    raw = message.stop_reason
    return Expected(
        oracle=name,
        id=message.id or None,
        model=message.model or None,
        text=text,
        reasoning=reasoning,
        tool_calls=calls,
        usage=normalized,
        signatures=signatures,
        finish_reason=FinishReason.ERROR if error else finish_for(ANTHROPIC_FINISH, raw, len(calls)),
        raw_finish_reason=raw,
        error=error,
    )
