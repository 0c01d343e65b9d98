"""The one-off cost of a process's first stream: ``python bench/coldstart.py NAME URL`` in a fresh process.

Imports the contender's library, builds its client (``contenders.make``, lazy imports included) and
runs one short stream (``contenders.FIRST_COUNT`` chunks). Prints JSON: seconds from the start of the
script to the client built (``build``), from the call to the first item (``first``), and in all up to the
first item (``to_first``). ``run.py`` adds the interpreter's own start-up from the outside.
"""

from __future__ import annotations

import json
import sys
import time

began = time.perf_counter()

from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contenders  # noqa: E402


def main(name: str, url: str) -> None:
    run = contenders.make(name, url, contenders.FIRST_COUNT)
    built = time.perf_counter()
    marks: list[float] = []
    run(lambda: marks.append(time.perf_counter()))
    first = marks[0] if marks else float("nan")
    print(json.dumps({"build": built - began, "first": first - built, "to_first": first - began}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
