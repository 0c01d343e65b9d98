"""The shared real-traffic corpus (``../shared/cassettes``, read in place, never copied) and what every
vendor oracle shares: :class:`Recording`, our own SSE parser, :class:`Expected`, the error rules.

Usage and finish reasons are normalized by each oracle with tables of its own (DESIGN's rules), so
that a mistake in llmstream's tables cannot hide in both sides of the comparison.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from llmstream import AuthenticationError, BadRequestError, FinishReason, LLMStreamError, Usage

__all__ = [
    "FOLDERS",
    "Expected",
    "ExpectedCall",
    "OracleRejected",
    "Recording",
    "corpus",
    "finish_for",
    "http_error",
    "load",
    "mock_transport",
    "parse_args",
    "sse_events",
]

FOLDERS: dict[str, str] = {
    "openai": "openai",
    "openai_compatible": "openai",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "gemini_vertex": "gemini",
    "openrouter": "openrouter",
    "openai_responses": "openai-responses",
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


def parse_args(arguments: Any) -> Any:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if arguments is None or not str(arguments).strip():
        return {}
    return json.loads(arguments)


def finish_for(table: Mapping[str, FinishReason], raw: str | None, calls: int) -> FinishReason:
    if raw is None:  # DESIGN: no finish_reason → tool_calls when calls were made, else other
        return FinishReason.TOOL_CALLS if calls else FinishReason.OTHER
    return table.get(raw, FinishReason.OTHER)


def http_error(rec: Recording, oracle: str) -> Expected:
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


def mock_transport(rec: Recording) -> Any:
    import httpx2

    headers = rec.served_headers(gzipped=False)

    def handler(request: Any) -> Any:
        return httpx2.Response(rec.status, headers=headers, content=rec.body)

    return httpx2.MockTransport(handler)
