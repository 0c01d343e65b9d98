"""The Gemini oracle: the ``google-genai`` SDK's parsed ``GenerateContentResponse`` objects, parts
concatenated, the last ``usage_metadata`` and finish reason kept."""

from __future__ import annotations

import base64
from typing import Any

from llmstream import FinishReason, InBandError, LLMStreamError, Usage
from tests.oracles.corpus import Expected, ExpectedCall, Recording, finish_for, http_error, mock_transport

__all__ = ["GEMINI_FINISH", "gemini_oracle"]

_GEMINI_FILTERED = ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"]
GEMINI_FINISH = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    **dict.fromkeys(_GEMINI_FILTERED, FinishReason.CONTENT_FILTER),
}


def gemini_oracle(rec: Recording) -> Expected:
    import httpx2  # noqa: F401 - the transport below is httpx2's
    from google import genai
    from google.genai import errors, types

    name = "google-genai generate_content_stream (parts joined, last usage)"
    sdk = genai.Client(
        api_key="oracle",
        http_options=types.HttpOptions(
            base_url="http://oracle.invalid",
            client_args={"transport": mock_transport(rec)},
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[ExpectedCall] = []
    signatures: list[str] = []
    usage: Any = None
    raw: str | None = None
    error: type[LLMStreamError] | None = None
    seen = 0
    ids: list[str | None] = []
    try:
        for response in sdk.models.generate_content_stream(model=rec.model, contents="x"):
            seen += 1
            ids.append(response.response_id or None)
            ids.append(response.model_version or None)
            if response.usage_metadata is not None:
                usage = response.usage_metadata
            candidate = response.candidates[0] if response.candidates else None
            content = candidate.content if candidate is not None else None
            for part in (content.parts if content is not None else None) or ():
                signature = base64.b64encode(part.thought_signature).decode() if part.thought_signature else None
                if part.function_call is not None:
                    call = part.function_call
                    calls.append(ExpectedCall(call.id, call.name or "", dict(call.args or {}), signature))
                    continue
                if part.text:
                    (reasoning if part.thought else text).append(part.text)
                if signature:
                    signatures.append(signature)
            if candidate is not None and candidate.finish_reason is not None:
                raw = str(getattr(candidate.finish_reason, "name", candidate.finish_reason))
    except errors.APIError:
        if not seen and rec.status >= 400:
            return http_error(rec, name)
        error = InBandError
    normalized = None
    if usage is not None:
        thoughts = usage.thoughts_token_count or 0
        normalized = Usage(
            # Tool-use prompt tokens (search results fed back to the model) are prompt tokens too:
            # with them input + output equals Gemini's own totalTokenCount.
            input_tokens=(usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0),
            output_tokens=(usage.candidates_token_count or 0) + thoughts,  # DESIGN: candidates + thoughts
            cached_input_tokens=usage.cached_content_token_count or 0,
            reasoning_tokens=thoughts,
        )
        if usage.total_token_count is not None:
            assert normalized.total_tokens == usage.total_token_count, f"{rec.id}: Gemini totals do not add up"
    finish = finish_for(GEMINI_FINISH, raw, len(calls))
    if finish is FinishReason.STOP and calls:
        finish = FinishReason.TOOL_CALLS  # Gemini says STOP after function calls; raw keeps "STOP"
    return Expected(
        oracle=name,
        text="".join(text),
        reasoning="".join(reasoning),
        id=ids[0] if ids else None,  # the first response's, as every later one repeats it
        model=ids[1] if ids else None,
        tool_calls=tuple(calls),
        usage=normalized,
        signatures=tuple(signatures),
        finish_reason=FinishReason.ERROR if error else finish,
        raw_finish_reason=raw,
        error=error,
    )
