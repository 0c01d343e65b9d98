"""Request fields the vendor SDK has no keyword for go through the vendor's own pass-through.

``-o top_k 40`` or ``client.stream_complete(conv, top_k=40)``: the openai SDK's ``create()``
raises TypeError on keywords it does not know, and google-genai's ``GenerateContentConfig``
forbids unknown fields. Both SDKs have a documented way to send more: openai's ``extra_body``
(also Anthropic's ``messages.create()``) and google-genai's ``http_options.extra_body``.
Nothing a user gave is dropped; what the API itself does not know, it reports.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["into_extra_body", "into_gemini_extra_body"]


@functools.lru_cache(maxsize=16)
def _keywords(function: Any) -> frozenset[str] | None:
    """The keyword names an SDK method takes; None when it takes ``**kwargs``."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


def into_extra_body(create: Any, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with what ``create()`` has no keyword for moved into ``extra_body``."""
    accepted = _keywords(getattr(create, "__func__", create))
    if accepted is None or accepted.issuperset(params):
        return params
    known = {k: v for k, v in params.items() if k in accepted}
    unknown = {k: v for k, v in params.items() if k not in accepted}
    known["extra_body"] = {**unknown, **(params.get("extra_body") or {})}
    return known


def into_gemini_extra_body(config: dict[str, Any], config_type: Any) -> dict[str, Any]:
    """A ``GenerateContentConfig`` dict with the fields it does not define moved into
    ``http_options.extra_body`` (merged into the request body by google-genai)."""
    fields = config_type.model_fields
    known_names = set(fields) | {f.alias for f in fields.values() if f.alias}
    unknown = {k: v for k, v in config.items() if k not in known_names}
    if not unknown:
        return config
    known = {k: v for k, v in config.items() if k in known_names}
    http_options = known.get("http_options")
    if http_options is None or isinstance(http_options, dict):
        options = dict(http_options or {})
        options["extra_body"] = {**unknown, **(options.get("extra_body") or {})}
        known["http_options"] = options
    else:  # an HttpOptions model
        extra_body = {**unknown, **(http_options.extra_body or {})}
        known["http_options"] = http_options.model_copy(update={"extra_body": extra_body})
    return known
