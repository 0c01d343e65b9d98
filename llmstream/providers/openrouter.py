"""OpenRouter over httpx2 and llmstream's own WHATWG SSE decoder (no vendor SDK).

The wire is OpenAI's chat-completions stream with OpenRouter's additions: ``: OPENROUTER
PROCESSING`` keep-alive comments, ``reasoning`` / ``reasoning_details`` deltas, ``cost`` in the
usage chunk (which may come after the finish chunk), and mid-stream ``{"error": …}`` events with
``finish_reason: "error"`` on an HTTP 200. Each event's JSON is parsed exactly once, into plain
dicts that the translator reads directly.
"""

from __future__ import annotations

import json
from typing import Any

from .._client import BaseClient
from .._errors import LLMStreamError
from .._output import response_format
from .._settings import Request
from .._status import error_for_status
from .._transport import AsyncNative, guarded_http_client, http_timeout
from ._openai_events import EventResponse, JSONEventParser
from ._openai_wire import WIRE_DONE, OpenAIEventTranslator, messages_payload, tools_payload

__all__ = ["DEFAULT_BASE_URL", "JSONEventParser", "OpenRouterClient", "OpenRouterTranslator"]

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"

#: The OpenAI-wire dict translator reads OpenRouter's extras (``reasoning_details``, in-band errors).
OpenRouterTranslator = OpenAIEventTranslator


def _error_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return fallback


class OpenRouterClient(BaseClient):
    """OpenRouter (https://openrouter.ai); key from ``OPENROUTER_API_KEY``.

    ``referer`` and ``title`` set OpenRouter's optional ``HTTP-Referer`` / ``X-Title`` attribution
    headers. Remaining keyword arguments go to the ``httpx2.Client`` (e.g. ``transport``).
    """

    provider = "openrouter"
    env_keys = ("OPENROUTER_API_KEY",)

    def __init__(self, model: str, *, referer: str | None = None, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.base_url = (self.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.referer = referer
        self.title = title

    def _make_sdk(self, *, asynchronous: bool) -> Any:
        return guarded_http_client(self.settings, asynchronous=asynchronous, **self._sdk_options)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._require_key()}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        if self.referer:
            headers["HTTP-Referer"] = self.referer
        if self.title:
            headers["X-Title"] = self.title
        return headers

    def _payload(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages_payload(request.conversation, self.provider),
            "stream": True,
            "stream_options": {"include_usage": True},
            "usage": {"include": True},
        }
        if request.tools:
            body["tools"] = tools_payload(request.tools)
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.output is not None:
            body["response_format"] = response_format(request.output)
        body.update(request.extra)
        return body

    def _build(self, http: Any, request: Request) -> Any:
        return http.build_request(
            "POST",
            f"{self.base_url}/chat/completions",
            headers=self._headers(),
            content=json.dumps(self._payload(request)).encode(),
            timeout=http_timeout(request.settings),
        )

    def _raise_for_status(self, response: Any, body: bytes) -> None:
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")[:500]
        message = _error_message(parsed, f"HTTP {response.status_code}")
        raise error_for_status(
            response.status_code, message, provider=self.provider, body=parsed, headers=response.headers
        )

    def _open(self, request: Request) -> EventResponse:
        http = self.sdk
        response = http.send(self._build(http, request), stream=True)
        if response.status_code >= 400:
            try:
                body = response.read()
            finally:
                response.close()
            self._raise_for_status(response, body)
        return EventResponse(response, self.provider, request.settings.max_event_bytes, WIRE_DONE)

    async def _aopen(self, request: Request) -> AsyncNative:
        http = self.async_sdk
        response = await http.send(self._build(http, request), stream=True)
        if response.status_code >= 400:
            try:
                body = await response.aread()
            finally:
                await response.aclose()
            self._raise_for_status(response, body)
        events = EventResponse(response, self.provider, request.settings.max_event_bytes, WIRE_DONE)
        return AsyncNative(events, response.aclose, response=response)

    def _translator(self, request: Request) -> OpenAIEventTranslator:
        return OpenAIEventTranslator(self.provider)

    def _map_error(self, exc: BaseException) -> LLMStreamError | None:
        return None  # httpx2 failures are mapped by the common transport table
