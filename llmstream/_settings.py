"""The request a provider adapter opens, and the resilience knobs it carries (sans-IO values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._conversation import Conversation
from ._errors import ConfigurationError
from ._output import OutputSpec
from ._types import Tool

__all__ = ["SETTING_NAMES", "Request", "Settings"]


@attrs.frozen(slots=True)
class Settings:
    """The resilience knobs; set on the client, overridable per call."""

    max_retries: int = 2
    timeout: float | None = 10.0
    idle_timeout: float | None = 60.0  # longest gap between content chunks, after the first one
    total_timeout: float | None = None
    first_chunk_timeout: float | None = 600.0  # request sent -> first content chunk (reasoning models think)
    retry_on_timeout: bool = False  # re-send a request that timed out after its response headers arrived
    max_content_chars: int | None = None
    retry_backoff: float = 0.5
    retry_backoff_max: float = 8.0
    retry_after_cap: float = 30.0
    max_event_bytes: int = 16 * 1024 * 1024  # one SSE line or event, on every path (_guard.DEFAULT_MAX_EVENT_BYTES)

    def __attrs_post_init__(self) -> None:
        # 0 would fail late, as a socket error
        for name in ("timeout", "idle_timeout", "total_timeout", "first_chunk_timeout"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be more than 0 seconds (None: no limit), got {value!r}")
        if self.max_event_bytes <= 0:
            raise ConfigurationError(f"max_event_bytes must be positive, got {self.max_event_bytes!r}")

    @property
    def read_timeout(self) -> float | None:
        """What the HTTP layer may wait for one read: a backstop under the stream's watchdog, which
        measures first_chunk_timeout and idle_timeout between content chunks (not bytes) and
        total_timeout, and shuts the connection itself; so the longer of the two gaps (a slow first
        byte must not fail on the idle gap), or the total budget when neither gap is limited."""
        first, idle = self.first_chunk_timeout, self.idle_timeout
        if first is None or idle is None:
            return self.total_timeout
        return max(first, idle)


SETTING_NAMES = frozenset(f.name for f in attrs.fields(Settings))


@attrs.frozen(slots=True)
class Request:
    """Everything a provider adapter needs to open one stream."""

    model: str
    conversation: Conversation
    tools: tuple[Tool, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    settings: Settings = attrs.field(factory=Settings)
    #: A response cache (``llmstream.cache``) and how to use it: read_write, read_only or refresh.
    cache: Any = None
    cache_mode: str = "read_write"
    #: ``False`` turns OpenTelemetry off for this stream; a ``telemetry.Telemetry`` picks providers.
    telemetry: Any = True
    output: OutputSpec | None = None  # structured output asked for with ``output_type=``
