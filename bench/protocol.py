"""The tiny line protocol between ``run.py`` and a contender's worker process (stdlib only).

A worker warms up once, prints ``READY <json check>``, then for each ``run`` line on stdin runs one
stream and prints ``{"cpu": seconds, "check": ...}``: the CPU time (user + system, all threads) that
this process spent on that stream. For each ``first`` line it runs one short stream on its warm client and
prints ``{"first": seconds}``: the wall time from the call to the first item. ``quit`` or EOF ends it.
Running each contender in its own process
keeps one contender's imports, caches and garbage out of another's figures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["serve"]


def serve(
    run: Callable[..., Any], warmup: Callable[..., Any] | None = None, first: Callable[..., Any] | None = None
) -> None:
    """Warm up (``warmup`` or one ``run``), then answer ``run``/``first`` commands until ``quit``/EOF.

    A runner takes an optional ``mark`` callable, which it calls once, right after the first item.
    """
    check = (warmup or run)()
    if first is not None:
        first()
    print("READY " + json.dumps(check), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command == "first" and first is not None:
            marks: list[float] = []
            began = time.perf_counter()
            first(lambda marks=marks: marks.append(time.perf_counter()))
            print(json.dumps({"first": marks[0] - began if marks else None}), flush=True)
            continue
        if command != "run":
            continue
        before = time.process_time()
        check = run()
        cpu = time.process_time() - before
        print(json.dumps({"cpu": cpu, "check": check}), flush=True)
