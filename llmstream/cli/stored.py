"""What the conversation log keeps of a turn: attachments by reference, client options without credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def part_again(saved: dict[str, Any]) -> Any:
    """A saved attachment, read again as it is now; a changed file is sent as it is, with a warning."""
    from .._content_dicts import part_from_json

    part = part_from_json(saved)
    expected = saved.get("sha256")
    if expected and getattr(part, "sha256", expected) != expected:
        import warnings

        where = saved.get("path") or saved.get("url")
        warnings.warn(f"attachment {where} changed since it was sent; sending it as it is now", stacklevel=2)
    return part



def keyless(options: Mapping[str, Any]) -> dict[str, Any]:
    """Client options as stored: a ``base_url``'s userinfo and ``key=`` query (credentials) are
    dropped, never saved; ``-c`` then needs the key again (``--key``, the variable or the key store)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    out = dict(options)
    url = out.get("base_url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in ("key", "api_key", "api-key")])
        out["base_url"] = urlunsplit((parts.scheme, host, parts.path, query, parts.fragment))
    return out
