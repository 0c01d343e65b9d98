"""Peak RSS growth of ``StreamingAccumulator`` over a long stream, in a fresh process.

``python bench/memory.py [CHUNKS]`` feeds CHUNKS (default 1,000,000) TEXT chunks to one accumulator,
then builds the completion, and prints JSON: the text's UTF-8 size and the growth of the peak resident
set size over the baseline taken just before the loop. Every chunk's text is a fresh ``str`` object,
as ``json.loads`` makes one per event (the pieces are slices of one pre-built string, so the source
text is part of the baseline, not of the growth).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import text_pieces


def _trim() -> None:
    """Give freed heap back to the OS (glibc), so that the baseline holds no reusable garbage."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0: ``5`` in clear_refs); False when unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_kb() -> int:
    return _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(count: int) -> None:
    from llmstream import ChunkType, StreamedChunk, StreamingAccumulator

    # ASCII pieces, so that characters are bytes; the text repeats every len(pieces) chunks, which
    # builds the source without big temporaries (freed memory would be reused unseen by the RSS).
    pieces = [p.encode("ascii", "ignore").decode() or "x" for p in text_pieces(4096)]
    lengths = [len(p) for p in pieces]
    whole, rest = divmod(count, len(pieces))
    source = "".join(pieces) * whole + "".join(pieces[:rest])
    text_bytes = len(source)
    kind = ChunkType.TEXT
    accumulator = StreamingAccumulator(provider="bench")
    _trim()
    reset = _reset_peak()
    baseline = _status_kb("VmRSS") if reset else None
    baseline = baseline or _peak_kb()
    offset = 0
    n = len(lengths)
    for i in range(count):
        end = offset + lengths[i % n]
        accumulator.add(StreamedChunk(kind, source[offset:end]))
        offset = end
    completion = accumulator.completion()
    peak = _peak_kb()
    assert completion.text == source
    growth = (peak - baseline) * 1024
    print(json.dumps({
        "chunks": count, "text_bytes": text_bytes, "rss_growth_bytes": growth, "ratio": growth / text_bytes,
        "peak_reset": reset,
    }))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
