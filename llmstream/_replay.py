"""Replay a vcrpy cassette as ``StreamedChunk`` objects through the real SDK path of the provider that
recorded it: the recorded bytes are served to the vendor SDK by an ``httpx2.MockTransport``, so no
network and no server is involved. Public through :mod:`llmstream.testing` (``replay``/``areplay``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
import zlib
from collections.abc import AsyncIterator, Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._client import BaseClient, client
from ._errors import ConfigurationError
from ._meta import install_hint
from ._types import ChunkType, StreamedChunk

__all__ = ["areplay", "replay"]

# Provider by recorded host; other hosts are identified by the endpoint path below.
_HOSTS = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "generativelanguage.googleapis.com": "gemini",
    "openrouter.ai": "openrouter",
}
# Hop-by-hop and encoding headers describe the recorded transfer, not the body that is served again.
_DROPPED = {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"}
_PACED = (ChunkType.TEXT, ChunkType.REASONING)


class _Recording:
    """One recorded interaction, reduced to what replaying it needs."""

    def __init__(self, request: Mapping[str, Any], response: Mapping[str, Any], source: str) -> None:
        self.uri = str(request.get("uri") or "")
        self.request_body = _json_or_none(request.get("body"))
        self.status = int(response["status"]["code"])
        raw_headers: Mapping[str, Any] = response.get("headers") or {}
        headers = {str(k).lower(): ", ".join(v) if isinstance(v, list) else str(v) for k, v in raw_headers.items()}
        self.body = _decoded(response.get("body", {}).get("string") or b"", headers.get("content-encoding", ""))
        self.headers = {name: value for name, value in headers.items() if name not in _DROPPED}
        self.source = source
        self.provider, self.base_url = self._endpoint()

    def _endpoint(self) -> tuple[str, str]:
        url = urlsplit(self.uri)
        root, path = f"{url.scheme}://{url.netloc}", url.path
        if path.rstrip("/").endswith("/responses"):  # the OpenAI Responses API (OpenRouter's too)
            return "openai-responses", root + path[: path.rfind("/responses")]
        provider = _HOSTS.get(url.hostname or "")
        if provider is None:  # OpenAI-compatible servers, Vertex AI, proxies: known by their endpoint
            if path.endswith("/chat/completions"):
                provider = "openai"
            elif path.endswith("/messages"):
                provider = "anthropic"
            elif ":streamGenerateContent" in path:
                provider = "vertex" if (url.hostname or "").endswith("aiplatform.googleapis.com") else "gemini"
            else:
                raise ConfigurationError(f"{self.source}: cannot tell which provider recorded {self.uri}")
        if provider in ("openai", "openrouter"):  # their SDK convention: everything before the endpoint
            return provider, root + path[: path.rfind("/chat/completions")]
        return provider, root

    @property
    def model(self) -> str:
        match = re.search(r"models/([^/:]+):", urlsplit(self.uri).path)  # Gemini: the model is in the path
        if match:
            return match.group(1)
        model = self.request_body.get("model") if isinstance(self.request_body, dict) else None
        return str(model or "replay")

    def client(self, *, asynchronous: bool) -> BaseClient:
        """The provider's real llmstream client, its HTTP layer swapped for the recording."""
        import httpx2

        def handler(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(self.status, headers=self.headers, content=self.body)

        transport = httpx2.MockTransport(handler)
        options: dict[str, Any]
        if self.provider in ("gemini", "vertex"):
            version = urlsplit(self.uri).path.strip("/").split("/")[0]
            options = {"http_options": {"client_args": {"transport": transport},
                                        "async_client_args": {"transport": transport}}}
            if re.fullmatch(r"v\d+\w*", version):
                options["api_version"] = version
        elif self.provider == "openrouter":
            options = {"transport": transport}
        else:
            http_client = httpx2.AsyncClient if asynchronous else httpx2.Client
            options = {"http_client": http_client(transport=transport)}
        if self.provider == "vertex":
            options.update(_vertex_replay_auth(urlsplit(self.uri).path))
        else:
            options["api_key"] = "replay"
        return client(f"{self.provider}:{self.model}", base_url=self.base_url, max_retries=0, **options)


def _vertex_replay_auth(path: str) -> dict[str, Any]:
    """Vertex AI: the recorded project and location with a fixed token, or express mode (no project)."""
    scope = re.search(r"/projects/([^/]+)/locations/([^/]+)/", path)
    if scope is None:
        return {"api_key": "replay"}
    from google.oauth2.credentials import Credentials

    # A token that is never refreshed: no expiry and no refresh token, so nothing asks Google for one.
    return {"project": scope.group(1), "location": scope.group(2), "credentials": Credentials(token="replay")}  # type: ignore[no-untyped-call]


def _json_or_none(body: Any) -> Any:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _decoded(body: str | bytes, encoding: str) -> bytes:
    data = body.encode("utf-8") if isinstance(body, str) else body
    if "gzip" in encoding:
        return gzip.decompress(data)
    if "deflate" in encoding:
        return zlib.decompress(data)
    return data


def _is_stream(request: Mapping[str, Any]) -> bool:
    uri = str(request.get("uri") or "")
    body = _json_or_none(request.get("body"))
    streamed_body = isinstance(body, dict) and body.get("stream") is True
    return "alt=sse" in uri or ":streamGenerateContent" in uri or streamed_body


def _load(path: str | PathLike[str], interaction: int | None) -> _Recording:
    try:
        import yaml
    except ImportError as exc:  # PyYAML is a test-time dependency, not a runtime one
        raise ConfigurationError(f"replaying cassettes needs PyYAML: {install_hint('testing')}") from exc
    source = str(path)
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    interactions = (data or {}).get("interactions") if isinstance(data, dict) else None
    if not interactions:
        raise ConfigurationError(f"{source} is not a vcrpy cassette with interactions")
    if interaction is None:  # the first streamed request: a cassette may also hold plain calls
        interaction = next((i for i, item in enumerate(interactions) if _is_stream(item["request"])), 0)
    item = interactions[interaction]
    return _Recording(item["request"], item["response"], source)


def replay(
    cassette_path: str | PathLike[str], *, pace: float = 0.0, interaction: int | None = None
) -> Iterator[StreamedChunk]:
    """The chunks of a recorded stream, through the real SDK code path of the provider that recorded it.

    Nothing touches the network: the recorded response is handed to the vendor SDK by an in-memory
    transport. ``pace`` sleeps that many seconds between text/reasoning chunks (a natural reading
    pace for demos). ``interaction`` picks one interaction of the cassette (default: the first
    streamed one). A recorded HTTP error raises the llmstream error it maps to.
    """
    recording = _load(cassette_path, interaction)  # fails here, not on the first next(), when unusable
    return _chunks(recording, pace)


def _chunks(recording: _Recording, pace: float) -> Iterator[StreamedChunk]:
    llm = recording.client(asynchronous=False)
    paced = False
    try:
        with llm.stream("replay") as stream:
            for chunk in stream:
                if pace and chunk.type in _PACED:
                    if paced:
                        time.sleep(pace)
                    paced = True
                yield chunk
    finally:
        llm.close()


def areplay(
    cassette_path: str | PathLike[str], *, pace: float = 0.0, interaction: int | None = None
) -> AsyncIterator[StreamedChunk]:
    """The async twin of :func:`replay` (``async for chunk in areplay(path)``)."""
    recording = _load(cassette_path, interaction)
    return _achunks(recording, pace)


async def _achunks(recording: _Recording, pace: float) -> AsyncIterator[StreamedChunk]:
    llm = recording.client(asynchronous=True)
    paced = False
    try:
        async with llm.astream("replay") as stream:
            async for chunk in stream:
                if pace and chunk.type in _PACED:
                    if paced:
                        await asyncio.sleep(pace)
                    paced = True
                yield chunk
    finally:
        await llm.aclose()
