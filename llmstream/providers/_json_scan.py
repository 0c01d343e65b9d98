"""The C scanner ``json.loads`` ends in, for the fast paths' one parse per event.

``json.loads`` reaches it through three Python calls (loads, decode, raw_decode); calling it directly
returns ``(value, end)`` or raises ``StopIteration`` on junk. A payload that is not one value from its
first character to its last is left to ``json.loads`` by the callers, so values and errors are its own.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from typing import Any

__all__ = ["scan"]

scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
