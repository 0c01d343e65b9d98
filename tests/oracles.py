"""The shared real-traffic corpus, and the vendor-side oracles llmstream is compared with.

A :class:`Recording` is one interaction of ``../shared/cassettes`` (read in place, never copied).
An oracle turns the same response bytes into an :class:`Expected` completion *without llmstream*:

- OpenAI wire: the ``openai`` SDK's own client (fed through an ``httpx2.MockTransport``) and its
  ``ChatCompletionStreamState`` accumulator; where that helper rejects a chunk or is known to
  mis-accumulate, :func:`openai_json_oracle`, a JSON-level accumulation written here from DESIGN's rules.
- Anthropic: the ``anthropic`` SDK's ``messages.stream(...).get_final_message()`` (``beta.messages``
  for recordings made on the ``?beta=true`` endpoint).
- Gemini: the ``google-genai`` SDK's parsed ``GenerateContentResponse`` objects, parts concatenated,
  the last ``usage_metadata`` and finish reason kept.

Usage and finish reasons are normalized here with tables of our own (DESIGN's rules), so that a
mistake in llmstream's tables cannot hide in both sides of the comparison.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import gzip
import itertools
import json
import re
import ssl
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from llmstream import AuthenticationError, BadRequestError, FinishReason, InBandError, LLMStreamError, Usage

__all__ = [
    "BASE_PATHS",
    "FOLDERS",
    "Expected",
    "ExpectedCall",
    "OracleRejected",
    "Recording",
    "corpus",
    "differences",
    "expect_matches",
    "llmstream_client",
    "oracle",
    "served",
    "shared_ssl_context",
    "sse_events",
]

#: corpus folder → the wire (and llmstream provider) it is replayed through.
FOLDERS: dict[str, str] = {
    "openai": "openai",
    "openai_compatible": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "gemini_vertex": "gemini",
    "openrouter": "openrouter",
    "openai_responses": "responses",
}

# Hop-by-hop and framing headers are the loopback server's business, not the recording's.
_NOT_SERVED = {"content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie", "content-encoding"}


@dataclass(frozen=True)
class Recording:
    """One recorded interaction: the request's URI and body, the response's status, headers and body."""

    path: Path
    folder: str
    method: str
    uri: str
    request_body: Any
    status: int
    headers: dict[str, str]  # response headers, lower-case names
    raw_body: bytes  # exactly as recorded (gzip when Content-Encoding says so)

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.path.stem}"

    @property
    def wire(self) -> str:
        return FOLDERS[self.folder]

    @property
    def gzipped(self) -> bool:
        return "gzip" in self.headers.get("content-encoding", "")

    @functools.cached_property
    def body(self) -> bytes:
        """The body as the SDK sees it after HTTP content decoding."""
        encoding = self.headers.get("content-encoding", "")
        if "gzip" in encoding:
            return gzip.decompress(self.raw_body)
        if "deflate" in encoding:
            return zlib.decompress(self.raw_body)
        return self.raw_body

    @property
    def model(self) -> str:
        path = urlsplit(self.uri).path
        match = re.search(r"models/([^/:]+):", path)
        if match:  # Gemini and Vertex carry the model in the path
            return match.group(1)
        if isinstance(self.request_body, dict) and self.request_body.get("model"):
            return str(self.request_body["model"])
        match = re.search(r"deployments/([^/]+)/", path)  # Azure: the deployment is the model
        return match.group(1) if match else "unknown-model"

    def served_headers(self, *, gzipped: bool) -> dict[str, str]:
        headers = {name: value for name, value in self.headers.items() if name not in _NOT_SERVED}
        if gzipped:
            headers["content-encoding"] = "gzip"
        return headers


def load(path: Path) -> Recording:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    interactions = data["interactions"]
    assert len(interactions) == 1, f"{path}: the corpus holds one interaction per file"
    request, response = interactions[0]["request"], interactions[0]["response"]
    body = response["body"].get("string", b"")
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    headers = {name.lower(): ", ".join(values) for name, values in (response.get("headers") or {}).items()}
    try:
        request_body = json.loads(request.get("body") or "null")
    except ValueError:
        request_body = None
    return Recording(
        path=path,
        folder=path.parent.name,
        method=request["method"],
        uri=request["uri"],
        request_body=request_body,
        status=int(response["status"]["code"]),
        headers=headers,
        raw_body=raw,
    )


@functools.lru_cache(maxsize=1)
def _corpus(root: str) -> tuple[Recording, ...]:
    return tuple(load(path) for folder in FOLDERS for path in sorted((Path(root) / folder).glob("*.yaml")))


def corpus(root: Path) -> tuple[Recording, ...]:
    """Every recording under ``root``, folder by folder (empty when the folder is absent)."""
    return _corpus(str(root)) if root.is_dir() else ()


# -- an SSE parser of our own (WHATWG rules), independent of llmstream.sse --------------------------


def sse_events(body: bytes) -> list[tuple[str, str]]:
    """``(event, data)`` pairs. Lines end at CRLF, LF or CR; ``:`` lines are comments; an event
    is dispatched at a blank line (an unterminated last event is dropped, as the standard says)."""
    events: list[tuple[str, str]] = []
    event, data = "", []
    for line in re.split(r"\r\n|\r|\n", body.decode("utf-8")):
        if not line:
            if data:
                events.append((event or "message", "\n".join(data)))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    return events


# -- expected results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedCall:
    id: str | None  # None: the vendor sent no id (Gemini); llmstream must make a stable one
    name: str
    args: Any
    signature: str | None = None  # Gemini's thought signature on the call part (base64)


@dataclass(frozen=True)
class Expected:
    """What the vendor-side oracle says the completion is (or which error llmstream must raise)."""

    oracle: str
    id: str | None = None  # the response id and model the vendor reported ("" counts as none)
    model: str | None = None
    text: str = ""
    reasoning: str = ""
    refusal: str = ""
    tool_calls: tuple[ExpectedCall, ...] = ()
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    error: type[LLMStreamError] | None = None
    status_code: int | None = None
    error_message: str | None = None
    #: Opaque reasoning state that must survive for the next turn, in order: thinking / thought
    #: signatures, and ``"redacted:<data>"`` for encrypted blocks; None where the oracle cannot say.
    signatures: tuple[str, ...] | None = None
    notes: tuple[str, ...] = field(default=())


class OracleRejected(Exception):
    """The vendor helper cannot accumulate this stream (its own limitation, named in the message)."""


def _parse_args(arguments: Any) -> Any:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if arguments is None or not str(arguments).strip():
        return {}
    return json.loads(arguments)


def _finish(table: Mapping[str, FinishReason], raw: str | None, calls: int) -> FinishReason:
    if raw is None:  # DESIGN: no finish_reason → tool_calls when calls were made, else other
        return FinishReason.TOOL_CALLS if calls else FinishReason.OTHER
    return table.get(raw, FinishReason.OTHER)


def _http_error(rec: Recording, oracle: str) -> Expected:
    """Error recordings: 401/403 → AuthenticationError, 400/404/422 → BadRequestError, with the
    vendor's own message (``error.message`` of the JSON body) in the error text.

    Gemini answers a bad API key with 400 INVALID_ARGUMENT / API_KEY_INVALID: to the caller that is
    an authentication failure, and llmstream reports it as one (documented normalization)."""
    body = rec.body.decode("utf-8", "replace")
    if rec.status in (401, 403) or "API_KEY_INVALID" in body:
        error: type[LLMStreamError] = AuthenticationError
    elif rec.status in (400, 404, 422):
        error = BadRequestError
    else:
        raise AssertionError(f"{rec.id}: no rule for HTTP {rec.status}")
    message = (json.loads(body).get("error") or {}).get("message")
    return Expected(oracle=oracle, error=error, status_code=rec.status, error_message=message)


def _transport(rec: Recording) -> Any:
    import httpx2

    headers = rec.served_headers(gzipped=False)

    def handler(request: Any) -> Any:
        return httpx2.Response(rec.status, headers=headers, content=rec.body)

    return httpx2.MockTransport(handler)


# -- OpenAI chat completions -------------------------------------------------------------------------

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
        http_client=httpx2.Client(transport=_transport(rec)),
    )
    try:
        stream = sdk.chat.completions.create(model=rec.model, messages=[{"role": "user", "content": "x"}], stream=True)
    except openai.APIStatusError:
        return _http_error(rec, name)
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
        calls.append(ExpectedCall(call.id, call.function.name, _parse_args(call.function.arguments)))
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
        finish_reason=FinishReason.ERROR if error else _finish(OPENAI_FINISH, raw, len(calls)),
        raw_finish_reason=raw,
        error=error,
    )


def _doubled(value: str) -> bool:
    """``"abcabc"``: what ``accumulate_delta`` makes of an id a server repeats in every delta."""
    half = len(value) // 2
    return len(value) % 2 == 0 and half > 0 and value[:half] == value[half:]


def openai_json_oracle(rec: Recording) -> Expected:
    """OpenAI-wire accumulation at the JSON level, from DESIGN's rules (independent of llmstream)."""
    name = "JSON-level chat-completions accumulation (tests/oracles.py)"
    if rec.status >= 400:
        return _http_error(rec, name)
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
    expected_calls = tuple(ExpectedCall(c["id"], c["name"] or "", _parse_args("".join(c["args"]))) for c in calls)
    return Expected(
        oracle=name,
        id=head.get("id") or None,
        model=head.get("model") or None,
        text="".join(text),
        reasoning="".join(reasoning),
        refusal="".join(refusal),
        tool_calls=expected_calls,
        usage=_openai_usage(usage),
        finish_reason=FinishReason.ERROR if error else _finish(OPENAI_FINISH, raw, len(calls)),
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


# -- Anthropic ---------------------------------------------------------------------------------------

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
        http_client=httpx2.Client(transport=_transport(rec)),
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
        return _http_error(rec, name)
    text = "".join(block.text for block in message.content if block.type == "text")
    reasoning = "".join(block.thinking for block in message.content if block.type == "thinking")
    calls = tuple(ExpectedCall(b.id, b.name, _parse_args(b.input)) for b in message.content if b.type == "tool_use")
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
        finish_reason=FinishReason.ERROR if error else _finish(ANTHROPIC_FINISH, raw, len(calls)),
        raw_finish_reason=raw,
        error=error,
    )


# -- Gemini ------------------------------------------------------------------------------------------

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
            client_args={"transport": _transport(rec)},
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
            return _http_error(rec, name)
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
    finish = _finish(GEMINI_FINISH, raw, len(calls))
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


ORACLES: dict[str, Callable[[Recording], Expected]] = {
    "openai": openai_oracle,
    "openrouter": openai_oracle,
    "anthropic": anthropic_oracle,
    "gemini": gemini_oracle,
}


_EXPECTED: dict[str, Expected] = {}


def oracle(rec: Recording) -> Expected:
    """The expected completion of a recording (computed once per session: sync, async and the
    incremental test share it)."""
    if rec.id not in _EXPECTED:
        _EXPECTED[rec.id] = ORACLES[rec.wire](rec)
    return _EXPECTED[rec.id]


# -- replaying through llmstream -----------------------------------------------------------------------

#: where each wire's SDK expects its base_url, relative to the loopback server's root.
BASE_PATHS = {"openai": "/v1", "anthropic": "", "gemini": "", "openrouter": "/api/v1"}


def served(rec: Recording, pieces: list[bytes] | None = None) -> Any:
    """The loopback answer for ``rec``: as recorded (gzip stays gzip), or the decoded body in ``pieces``."""
    from tests.loopback import Scripted

    if pieces is not None:
        return Scripted(status=rec.status, headers=rec.served_headers(gzipped=False), chunks=pieces)
    headers = rec.served_headers(gzipped=rec.gzipped)
    if rec.status >= 400:
        return Scripted(status=rec.status, headers=headers, body=rec.raw_body)
    return Scripted(status=rec.status, headers=headers, chunks=[rec.raw_body])


def llmstream_client(rec: Recording, server: Any, **options: Any) -> Any:
    """The real llmstream client of the recording's wire, pointed at the loopback server; no retries."""
    import llmstream

    base_url = server.url + BASE_PATHS[rec.wire]
    return llmstream.client(
        f"{rec.wire}:{rec.model}", api_key="replay-key", base_url=base_url, max_retries=0, **options
    )


def differences(completion: Any, expected: Expected) -> list[str]:
    """What differs between llmstream's completion and the oracle's, one line per field."""
    out = []
    for name in ("id", "model", "text", "reasoning", "refusal", "usage", "finish_reason", "raw_finish_reason"):
        got, want = getattr(completion, name), getattr(expected, name)
        if got != want:
            out.append(f"{name}: llmstream {got!r} != oracle {want!r}")
    if expected.signatures is not None:
        got = tuple(
            f"redacted:{block.redacted_data}" if block.redacted_data is not None else block.signature
            for block in completion.reasoning_blocks
            if block.signature or block.redacted_data is not None
        )
        if got != expected.signatures:
            out.append(f"reasoning signatures: llmstream {_short(got)} != oracle {_short(expected.signatures)}")
    got_calls = [(call.id, call.name, call.args, call.signature) for call in completion.tool_calls]
    want_calls = [(call.id, call.name, call.args, call.signature) for call in expected.tool_calls]
    if len({call[0] for call in got_calls}) != len(got_calls) or not all(call[0] for call in got_calls):
        out.append(f"tool-call ids must be present and unique: {[call[0] for call in got_calls]}")
    # Where the vendor sent no id (Gemini), llmstream's synthesized one is accepted as it is.
    want_calls = [
        (got[0] if want[0] is None and got is not None else want[0], *want[1:])
        for want, got in itertools.zip_longest(want_calls, got_calls[: len(want_calls)])
    ]
    if got_calls != want_calls:
        out.append(f"tool_calls: llmstream {got_calls!r} != oracle {want_calls!r}")
    return out


def _short(values: Any) -> list[str]:
    return [value if value is None or len(value) <= 24 else value[:20] + "…" for value in values]


def expect_matches(completion: Any, expected: Expected) -> None:
    diffs = differences(completion, expected)
    notes = "".join(f"\n  note: {note}" for note in expected.notes)
    assert not diffs, f"differs from {expected.oracle}:\n  " + "\n  ".join(diffs) + notes


@contextlib.contextmanager
def shared_ssl_context() -> Iterator[None]:
    """Let every vendor SDK client share one default SSL context while the tests run.

    Each openai/anthropic/google-genai client builds fresh certifi contexts (~0.1 s apiece, google-genai
    two) although these tests only speak plain HTTP to 127.0.0.1: a few hundred clients would spend
    most of the suite's time loading CA bundles. Contexts are made to be shared; nothing here uses TLS.
    """
    original = ssl.create_default_context
    cached = functools.lru_cache(maxsize=None)(original)
    ssl.create_default_context = cached  # type: ignore[assignment]
    try:
        yield
    finally:
        ssl.create_default_context = original
