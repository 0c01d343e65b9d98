"""The bench's loopback provider: an asyncio HTTP/1.1 server on 127.0.0.1, run in its own process.

``python bench/server.py`` prints ``PORT <n>`` and serves until its stdin closes (the bench holds the
pipe) or ``--max-seconds`` pass. A request to ``/<wire>/<count>/<anything>`` (any method) is answered
with that wire's stream of ``count`` text chunks plus two tool calls (see :mod:`wire`), written as fast
as the socket takes it, one HTTP chunk per SSE frame; connections are kept alive. Stdlib only, so that
its CPU is never the client's and its behaviour does not depend on the package under test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import WIRES, body, chunked

_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)
_CACHE: dict[tuple[str, int], bytes] = {}


def _payload(path: str) -> bytes | None:
    parts = path.split("/", 3)
    if len(parts) < 3 or parts[1] not in WIRES or not parts[2].isdigit():
        return None
    key = (parts[1], int(parts[2]))
    data = _CACHE.get(key)
    if data is None:
        data = _CACHE[key] = _HEAD + chunked(body(*key).frames)
    return data


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    if "chunked" in headers.get("transfer-encoding", ""):
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if not size:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                return
            await reader.readexactly(size + 2)
    length = int(headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else "/"
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip().lower()
            await _read_body(reader, headers)
            data = _payload(target.split("?", 1)[0])
            if data is None:
                message = b'{"error": {"message": "bench server: unknown path", "type": "bench"}}'
                writer.write(
                    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(message), message)
                )
            else:
                writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _main(max_seconds: float) -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await asyncio.sleep(max_seconds)


def _exit_when_parent_leaves() -> None:
    sys.stdin.read()
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    threading.Thread(target=_exit_when_parent_leaves, daemon=True).start()
    asyncio.run(_main(args.max_seconds))


if __name__ == "__main__":
    main()
