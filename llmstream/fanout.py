"""Fan-out: several streams at once, ending with a result; the council pattern on top.

- ``merge`` / ``amerge`` read several streams at once (a thread / a task each) and yield
  ``(source, chunk)`` pairs as they arrive; ``merged.result`` is then a :class:`FanoutResult`
  (every completion, the errors, usage summed across sources, wall time). A source's failure is an
  ERROR chunk for that source, never an exception out of the merge.
- ``council`` / ``acouncil`` ask several members at once, then a synthesizer from their answers,
  yielding :class:`CouncilEvent` items ("member", "synthesis", then one "done" with the
  :class:`CouncilResult`).

Closing early (``break`` inside ``with``, ``close()``/``aclose()``) closes every stream.
"""

from __future__ import annotations

from ._council import (
    COUNCIL_TEMPLATE,
    AsyncCouncil,
    Council,
    CouncilEvent,
    CouncilResult,
    Stage,
    Template,
    acouncil,
    council,
    synthesis_prompt,
)
from ._merge import (
    JOIN_TIMEOUT,
    AsyncMerged,
    AsyncSource,
    FanoutResult,
    Merged,
    SyncSource,
    amerge,
    merge,
    sum_usage,
)

__all__ = [
    "COUNCIL_TEMPLATE",
    "JOIN_TIMEOUT",
    "AsyncCouncil",
    "AsyncMerged",
    "AsyncSource",
    "Council",
    "CouncilEvent",
    "CouncilResult",
    "FanoutResult",
    "Merged",
    "Stage",
    "SyncSource",
    "Template",
    "acouncil",
    "amerge",
    "council",
    "merge",
    "sum_usage",
    "synthesis_prompt",
]
