"""Test helpers for applications built on llmstream: record streams once, replay them offline forever.

Cassettes (vcrpy / pytest-recording)::

    # conftest.py
    from llmstream.testing import vcr_config_fixture  # noqa: F401  (registers the "vcr_config" fixture)

    @pytest.mark.vcr
    def test_answer() -> None:
        completion = llmstream.client("openai:gpt-4o-mini").stream_complete("Hi")

Run once with ``pytest --record-mode=once`` and real keys; afterwards the tests replay offline
(``record_mode="none"``). Keys never reach a cassette: the ``authorization``, ``x-api-key``,
``x-goog-api-key``, ``api-key`` and cookie headers and the ``key`` query parameter are dropped; the
URI, the other headers and both bodies are redacted of key-shaped strings and of the secrets of the
llmstream clients in use (an unprefixed proxy key a server echoes, ``base_url`` userinfo); and
:func:`find_secrets` / :func:`assert_no_secrets` (``secrets=[...]`` for your own) catch anything that
slipped through.

:func:`replay` / :func:`areplay` turn a cassette back into ``StreamedChunk`` objects through the
real SDK path of the provider that recorded it, with no network and no server: the recorded bytes
are served to the vendor SDK by an ``httpx2.MockTransport``. :class:`MockClient` scripts streams
without any cassette.

Only this module's callers pay for its imports: ``import llmstream`` never loads it, and pytest,
vcrpy and PyYAML are imported only by the functions that need them (the CLI demo replays with no
test framework installed).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import re
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._client import BaseClient, client
from ._errors import ConfigurationError
from ._meta import install_hint
from ._secrets import known_secrets, redact, redact_bytes, redact_url, secret_forms
from ._types import ChunkType, StreamedChunk
from .providers.mock import MockClient

__all__ = [
    "MockClient",
    "SCRUBBED_HEADERS",
    "SCRUBBED_QUERY_PARAMETERS",
    "areplay",
    "assert_no_secrets",
    "find_secrets",
    "replay",
    "vcr_config",
    "vcr_config_fixture",  # noqa: F822 - made on first access by the module __getattr__ below
]

#: Request headers that carry credentials (OpenAI/OpenRouter, Anthropic, Gemini, Azure) or session cookies.
SCRUBBED_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie")
#: Query parameters that carry credentials (Gemini accepts ``?key=``).
SCRUBBED_QUERY_PARAMETERS = ("key",)

# Key shapes of the vendors llmstream talks to, and credentials of any shape where their place gives
# them away: header values, ``Bearer``/``Basic`` credentials, URL userinfo. ``\b`` keeps words such
# as "risk-…" or base64 blobs (signatures) from matching in the middle.
_SECRET = re.compile(
    r"\bsk-(?:ant-|or-v1-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"  # OpenAI, Anthropic, OpenRouter
    r"|\bAIza[0-9A-Za-z_\-]{35}"  # Google API keys
    r"|\bBearer\s+[A-Za-z0-9._~+/=\-]{8,}"  # any bearer token
    r"|\bBasic\s+(?=[A-Za-z0-9+/]*[0-9+/])[A-Za-z0-9+/]{8,}={0,2}"  # base64(user:password)
    # a credential header's value, as JSON, a repr or vcrpy's YAML list ("x-api-key:\n  - value")
    r"|(?i:\b(?:proxy-)?authorization|\bx-api-key|\bx-goog-api-key|\bapi-key)[\"']?\s*[:=]\s*(?:-\s+)?[\"']?"
    r"(?:(?i:bearer|basic)\s+)?[^\s\"',}\]\[]{4,}"
    r"|(?i:\b[a-z][a-z0-9+.\-]*://)[^\s/@\"'<>\[\]]+@"  # URL userinfo
    r"|\bya29\.[0-9A-Za-z_\-]{20,}"  # Google OAuth access tokens (Vertex AI), also outside a header
)


def vcr_config(*, record_mode: str = "none", secrets: Iterable[str] = (), **overrides: Any) -> dict[str, Any]:
    """The keyword arguments for ``vcr.use_cassette`` (or pytest-recording's ``vcr_config`` fixture).

    Credential headers, cookies and the ``key`` query parameter are dropped; the URI (userinfo,
    credential query values), the other headers and both bodies are redacted of every key-shaped
    string, of ``secrets`` and of the secrets of every llmstream client alive while recording (its
    key, ``base_url`` userinfo, ``?key=``). Hooks given as ``before_record_request`` /
    ``before_record_response`` run first. ``decode_compressed_response`` stores readable bodies
    (gzip would hide keys from review and from :func:`find_secrets`); ``allow_playback_repeats=False``
    makes a test that sends a request twice fail instead of silently reusing one recording.
    ``"rewrite"`` is a pytest-recording mode only.
    """
    given = tuple(form for secret in secrets for form in secret_forms(secret))
    config: dict[str, Any] = {
        "filter_headers": list(SCRUBBED_HEADERS),
        "filter_query_parameters": list(SCRUBBED_QUERY_PARAMETERS),
        "decode_compressed_response": True,
        "allow_playback_repeats": False,
        "record_mode": record_mode,
    }
    theirs = {name: overrides.pop(name, None) for name in ("before_record_request", "before_record_response")}
    config.update(overrides)
    scrub = _Scrub(given)
    config["before_record_request"] = _chain(theirs["before_record_request"], scrub.request)
    config["before_record_response"] = _chain(theirs["before_record_response"], scrub.response)
    return config


def _chain(theirs: Any, ours: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One vcrpy hook: the caller's (one or a list), then ours; None (drop it) stops the chain."""
    hooks = [] if theirs is None else list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]

    def hook(item: Any) -> Any:
        for function in [*hooks, ours]:
            if item is None:
                return None
            item = function(item)
        return item

    return hook


class _Scrub:
    """vcrpy hooks that redact what the header and query filters cannot see."""

    def __init__(self, given: tuple[str, ...]) -> None:
        self.given = given

    def secrets(self) -> tuple[str, ...]:
        return (*self.given, *known_secrets())

    def request(self, request: Any) -> Any:
        if request is None:
            return None
        secrets = self.secrets()
        request.uri = redact_url(request.uri, secrets)
        for name in list(request.headers):
            value = request.headers[name]
            if isinstance(value, str):
                request.headers[name] = redact(value, secrets)
        body = request.body
        if isinstance(body, (bytes, str)) and body:
            request.body = redact_bytes(body.encode() if isinstance(body, str) else body, secrets)
        return request

    def response(self, response: dict[str, Any] | None) -> dict[str, Any] | None:
        """Drop ``Set-Cookie`` (session cookies are credentials too); redact headers and body."""
        if response is None:
            return None
        secrets = self.secrets()
        headers = response.get("headers") or {}
        for name in list(headers):
            if name.lower() == "set-cookie":
                del headers[name]
            else:
                values = headers[name]
                headers[name] = [redact(str(v), secrets) for v in values] if isinstance(values, list) else values
        body = response.get("body") or {}
        data = body.get("string")
        if isinstance(data, (bytes, str)) and data:
            raw = data.encode() if isinstance(data, str) else data
            clean = redact_bytes(raw, secrets)
            if clean is not raw:
                body["string"] = clean if isinstance(data, bytes) else clean.decode("utf-8", "surrogateescape")
                for name in [name for name in headers if name.lower() == "content-length"]:
                    headers[name] = [str(len(clean))]
        return response


def find_secrets(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Everything key-shaped in ``text``, and every form of the given ``secrets`` in it (as they are,
    percent-encoded, JSON-escaped, inside base64 such as a ``Basic`` credential). Shown cut short,
    so that a report does not leak them again."""
    found = [match.group(0)[:12] + "…" for match in _SECRET.finditer(text) if "REDACTED" not in match.group(0)]
    given = list(secrets)
    if given:
        decoded = [_b64(match.group(0)) for match in _BASE64.finditer(text)]
        for number, secret in enumerate(given, 1):
            if any(form in text for form in secret_forms(secret)):
                found.append(f"given secret #{number}")
            elif any(secret in blob for blob in decoded):
                found.append(f"given secret #{number} (base64, e.g. Basic user:key)")
    return found


_BASE64 = re.compile(r"[A-Za-z0-9+/]{12,}={0,2}")


def _b64(token: str) -> str:
    try:
        return base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8", "replace")
    except ValueError:
        return ""


def assert_no_secrets(*paths: str | PathLike[str], secrets: Iterable[str] = ()) -> None:
    """Fail if a cassette (or a folder of them, searched recursively) holds anything key-shaped or any
    of ``secrets``. Each file is searched as written and, when PyYAML is installed, as its decoded
    values too (a ``!!binary`` body or a line folded by the YAML writer hides nothing)."""
    given = list(secrets)
    found: list[str] = []
    for path in map(Path, paths):
        for file in sorted(path.rglob("*.yaml")) if path.is_dir() else [path]:
            hits: dict[str, None] = {}
            for text in _texts(file.read_text(encoding="utf-8")):
                hits.update(dict.fromkeys(find_secrets(text, given)))
            found += [f"{file}: {secret}" for secret in hits]
    if found:
        raise AssertionError("key-shaped strings or given secrets in cassettes:\n" + "\n".join(found))


def _texts(text: str) -> list[str]:
    """The file as written, then each of its decoded values."""
    try:
        import yaml
    except ImportError:
        return [text]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return [text]
    values: list[str] = []
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, bytes):
            values.append(item.decode("utf-8", "replace"))
        elif isinstance(item, str):
            values.append(item)
    return [text, *values]


def __getattr__(name: str) -> Any:
    # Built on first access so that importing this module (the CLI demo does) needs no pytest.
    if name == "vcr_config_fixture":
        import pytest

        @pytest.fixture(name="vcr_config")
        def fixture(request: Any) -> dict[str, Any]:
            """pytest-recording's ``vcr_config`` with llmstream's scrubbing; ``--record-mode`` wins."""
            return vcr_config(record_mode=request.config.getoption("--record-mode", default=None) or "none")

        globals()[name] = fixture
        return fixture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))  # lets pytest find the lazy fixture as a plugin


# -- replay ------------------------------------------------------------------------------------------

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
