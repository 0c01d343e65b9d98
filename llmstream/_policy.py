"""Compatibility re-exports: ``_policy`` was split by responsibility.

``_settings`` (Settings, Request), ``_retry`` (retry rules, backoff, Retry-After), ``_status``
(``error_for_status``), ``_transport`` (transport error mapping), ``_adapter`` (Translator).
New code imports from those modules; nothing inside the package imports this one.
"""

from __future__ import annotations

from ._adapter import Translator
from ._retry import backoff_delay, is_retryable, parse_retry_after, retry_after_from_headers
from ._settings import SETTING_NAMES, Request, Settings
from ._status import error_for_status
from ._transport import map_transport_error

__all__ = [
    "SETTING_NAMES", "Request", "Settings", "Translator", "backoff_delay", "error_for_status", "is_retryable",
    "map_transport_error", "parse_retry_after", "retry_after_from_headers",
]
