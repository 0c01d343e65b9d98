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

import base64
import re
from collections.abc import Callable, Iterable
from os import PathLike
from pathlib import Path
from typing import Any

from ._replay import areplay, replay
from ._secrets import known_secrets, redact, redact_bytes, redact_url, secret_forms
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
