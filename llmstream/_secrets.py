"""What counts as a secret, and how text is cleaned of it. Pure, except the registry at the bottom.

Two kinds of redaction, applied together by :func:`redact`:

- **literal secrets**: the strings a client was configured with, found whatever their shape (an
  unprefixed proxy key, a key in ``base_url`` userinfo or in a ``?key=`` query) and in the forms
  they travel in (percent-encoded, JSON-escaped, and ``user:password`` as the base64 of an
  ``Authorization: Basic`` header). :func:`client_secrets` derives them from a client's settings.
- **patterns** for keys nobody told us about: vendor prefixes (``sk-…``, ``AIza…``), the values of
  ``Authorization`` / ``x-api-key`` / ``x-goog-api-key`` / ``api-key`` headers and of
  ``Bearer`` / ``Basic`` credentials, credential query parameters, and URL userinfo.

The registry holds the literal secrets of the clients alive in this process, for the places that
format text but never see a client: vendor and httpx2 log records (:func:`install_log_redaction`)
and cassettes recorded through :mod:`llmstream.testing`.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_QUERY_PARAMETERS",
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "client_secrets",
    "install_log_redaction",
    "known_secrets",
    "redact",
    "redact_bytes",
    "redact_url",
    "register",
    "secret_forms",
]

REDACTED = "[REDACTED]"
#: Shorter configured strings ("test", "k") are not treated as secrets: replacing them everywhere
#: would garble ordinary words, and a credential that short protects nothing anyway.
MIN_SECRET_LENGTH = 8
#: Headers whose whole value is a credential (lower case).
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "set-cookie"}
)
#: Query parameters whose value is a credential (Gemini accepts ``?key=``).
CREDENTIAL_QUERY_PARAMETERS = frozenset({"key", "api_key", "api-key", "apikey", "access_token", "token"})
#: Base-URL variables the vendor SDKs read themselves when no ``base_url`` is given.
BASE_URL_VARIABLES = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "OPENROUTER_BASE_URL")

_HEADER_NAMES = r"(?:proxy-)?authorization|x-goog-api-key|x-api-key|api[-_]?key"
#: Each pattern's group ``s`` is the secret: only it is replaced, and a match whose ``s`` is already
#: a marker is left as it is (so redacting twice changes nothing).
_PATTERNS = [
    # scheme://user:password@host → scheme://user:[REDACTED]@host; scheme://token@host → scheme://[REDACTED]@host
    re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://(?:[^\s/@:\"'<>\\\[\]]*:)?(?P<s>[^\s/@\"'<>\\\[\]]+)(?=@)"),
    # ?key=… and friends
    re.compile(r"(?i)[?&](?:key|api[-_]?key|apikey|access_token|token)=(?P<s>[^&\s\"'#<>]+)"),
    # "authorization": "Bearer …", x-api-key: …, x-goog-api-key=…, api_key='…' (any value shape)
    re.compile(
        rf"(?i)\b(?:{_HEADER_NAMES})[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic)\s+)?(?P<s>[^\s\"',;}}\])]{{6,}})"
    ),
    # Bearer … / Basic base64(user:password) anywhere else
    re.compile(r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9._~+/=\-]{8,})"),
    re.compile(r"\bBasic\s+(?P<s>(?=[A-Za-z0-9+/]*[0-9+/])[A-Za-z0-9+/]{8,}={0,2})"),
    # vendor key shapes: OpenAI / Anthropic / OpenRouter, Google
    re.compile(r"\b(?P<s>sk-(?:ant-|or-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,})"),
    re.compile(r"\b(?P<s>AIza[0-9A-Za-z_\-]{20,})"),
]


def _masked(match: re.Match[str]) -> str:
    whole, secret = match.group(0), match.group("s")
    if "REDACTED" in secret:
        return whole
    start, end = match.start("s") - match.start(), match.end("s") - match.start()
    return whole[:start] + REDACTED + whole[end:]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given literal secrets and every key-shaped string replaced by ``[REDACTED]``."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(_masked, text)
    return text


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """:func:`redact` for a URL that is parsed again (vcrpy, httpx2): a marker in the userinfo is
    percent-encoded, since brackets there read as an IPv6 host."""
    clean = redact(url, secrets)
    scheme, sep, rest = clean.partition("://")
    authority, slash, tail = rest.partition("/")
    if sep and "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        authority = userinfo.replace(REDACTED, quote(REDACTED, safe="")) + "@" + host
        clean = scheme + sep + authority + slash + tail
    return clean


def redact_bytes(data: bytes, secrets: Iterable[str] = ()) -> bytes:
    """:func:`redact` for a body; bytes that are not UTF-8 are kept byte for byte around the secrets."""
    text = data.decode("utf-8", "surrogateescape")
    clean = redact(text, secrets)
    return data if clean == text else clean.encode("utf-8", "surrogateescape")


def secret_forms(secret: str) -> list[str]:
    """A secret as it may show up in text: itself, percent-encoded, JSON-escaped."""
    forms = [secret, quote(secret, safe=""), quote(secret), json.dumps(secret)[1:-1]]
    return list(dict.fromkeys(form for form in forms if len(form) >= MIN_SECRET_LENGTH))


def _url_secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo = netloc.rpartition("@")[0]
        user, has_password, password = userinfo.partition(":")
        if has_password:  # the user name stays readable, as httpx2 shows it
            found.append(password)
            found.append(unquote(password))
        else:
            found.append(user)  # a token sent as the user name: all of it is the credential
            found.append(unquote(user))
        # httpx2 sends URL userinfo as ``Authorization: Basic base64(user:password)``.
        for pair in {f"{unquote(user)}:{unquote(password)}", userinfo}:
            found.append(base64.b64encode(pair.encode()).decode())
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() in CREDENTIAL_QUERY_PARAMETERS and value:
            found.append(value)
    return found


def client_secrets(api_key: str | None, base_url: str | None) -> tuple[str, ...]:
    """The literal secrets of a client: its key, and the userinfo and credential query values of its
    ``base_url`` (and of the base-URL variables the SDKs read). Longest first, so that a longer form
    is replaced before a part of it."""
    found: list[str] = [api_key] if api_key else []
    for url in (base_url, *(os.environ.get(name) for name in BASE_URL_VARIABLES)):
        if url:
            found += _url_secrets(url)
    forms = {form for secret in found if len(secret) >= MIN_SECRET_LENGTH for form in secret_forms(secret)}
    return tuple(sorted(forms, key=lambda form: (-len(form), form)))


# -- the registry of live clients' secrets ----------------------------------------------------------

_lock = threading.Lock()
_live: collections.Counter[str] = collections.Counter()
_known: tuple[str, ...] = ()


def register(owner: object, secrets: tuple[str, ...]) -> None:
    """Make ``secrets`` known to log records and cassette recording for as long as ``owner`` lives."""
    if not secrets:
        return
    with _lock:
        _live.update(secrets)
        _refresh()
    weakref.finalize(owner, _unregister, secrets)
    install_log_redaction()


def _unregister(secrets: tuple[str, ...]) -> None:
    with _lock:
        _live.subtract(secrets)
        for secret in secrets:
            if _live[secret] <= 0:
                del _live[secret]
        _refresh()


def _refresh() -> None:
    global _known
    _known = tuple(sorted(_live, key=lambda form: (-len(form), form)))


def known_secrets() -> tuple[str, ...]:
    """The literal secrets of every live client, longest first."""
    return _known


# -- log records ------------------------------------------------------------------------------------

#: Loggers that print request URLs or headers (httpx2's "HTTP Request: POST <url>", the SDKs' debug
#: lines). A logger's filters see only the records logged to it by name, hence the full names.
REDACTED_LOGGERS = (
    "llmstream",
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "openai",
    "openai._base_client",
    "anthropic",
    "anthropic._base_client",
    "google_genai",
    "google_genai._api_client",
    "google_genai.models",
)
_PREFIXES = tuple({name.split(".")[0] + "." for name in REDACTED_LOGGERS})


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and its traceback text) without the known secrets; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _known
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the handler's to report
            return True
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Put the redacting filter on the vendor and httpx2 loggers (idempotent, cheap to repeat)."""
    manager = logging.Logger.manager
    names = set(REDACTED_LOGGERS)
    names.update(name for name in list(manager.loggerDict) if name.startswith(_PREFIXES))
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
