"""The tiny line protocol between ``run.py`` and a contender's worker process (stdlib only).

A worker warms up once, prints ``READY <json check>``, then for each ``run`` line on stdin runs one
stream and prints ``{"cpu": seconds, "check": ...}``: the CPU time (user + system, all threads) that
this process spent on that stream. ``quit`` or EOF ends it. Running each contender in its own process
keeps one contender's imports, caches and garbage out of another's figures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["serve"]


def serve(run: Callable[[], Any], warmup: Callable[[], Any] | None = None) -> None:
    """Warm up (``warmup`` or one ``run``), then answer ``run`` commands until ``quit``/EOF."""
    check = (warmup or run)()
    print("READY " + json.dumps(check), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "run":
            continue
        before = time.process_time()
        check = run()
        cpu = time.process_time() - before
        print(json.dumps({"cpu": cpu, "check": check}), flush=True)
