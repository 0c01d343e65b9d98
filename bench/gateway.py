"""The gateway's server-side CPU per chunk next to the direct client's, in a fresh process.

``python bench/gateway.py URL CHUNKS ROUNDS``: the bench server (URL) streams CHUNKS OpenAI text
chunks + two tool calls, read by ``OpenAIClient`` (the SDK's models) and by its
``sdk_models=False`` fast path. *direct*: llmstream's async client reads the stream in this process.
*gateway*: ``llmstream.serve``'s app runs under uvicorn in this process and relays the same upstream
stream as ``chat.completion.chunk`` SSE to a reader in another process (its CPU is not counted), so
this process's CPU is the gateway's whole server side: upstream read, encode, HTTP write. Rounds are
interleaved and the medians kept. Prints JSON.
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wire import body, text_pieces

READER = r"""
import http.client, json, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=120)
conn.request("POST", "/v1/chat/completions", json.dumps({"model": "openai:gpt-4o-mini", "stream": True,
             "messages": [{"role": "user", "content": "Write about rivers."}]}),
             {"content-type": "application/json"})
response = conn.getresponse()
size = 0
while True:
    piece = response.read1(65536)
    if not piece:
        break
    size += len(piece)
    tail = piece[-64:]
print(response.status, size, tail.decode(errors="replace").strip().endswith("[DONE]"))
"""


def measure(url: str, chunks: int, rounds: int, sdk_models: bool) -> dict[str, Any]:
    import uvicorn

    import llmstream
    from llmstream.serve import create_app

    base = f"{url}/openai/{chunks}/v1"

    def factory(spec: str) -> llmstream.BaseClient:
        return llmstream.client(spec, api_key="sk" "-bench-not-a-real-key", base_url=base, max_retries=0, timeout=60,
                                sdk_models=sdk_models)

    events = body("openai", chunks).events
    expected = len("".join(text_pieces(chunks)))
    direct_client = factory("openai:gpt-4o-mini")

    async def direct() -> float:
        before = time.process_time()
        async with direct_client.astream("Write about rivers.") as stream:
            async for _ in stream:
                pass
        spent = time.process_time() - before
        assert len(stream.completion.text) == expected, "direct stream incomplete"
        return spent

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app("openai:gpt-4o-mini", client_factory=factory),
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def gateway() -> float:
        before = time.process_time()
        out = subprocess.run([sys.executable, "-c", READER, str(port)], capture_output=True, text=True, check=True)
        spent = time.process_time() - before
        status, _, done = out.stdout.split()
        assert status == "200" and done == "True", out.stdout + out.stderr
        return spent

    loop = asyncio.new_event_loop()
    loop.run_until_complete(direct())  # warm-up: imports, SDK clients, pools
    gateway()
    direct_cpu: list[float] = []
    gateway_cpu: list[float] = []
    for _ in range(rounds):
        direct_cpu.append(loop.run_until_complete(direct()))
        gateway_cpu.append(gateway())
    loop.run_until_complete(direct_client.aclose())
    server.should_exit = True
    thread.join(10)
    loop.close()
    result: dict[str, Any] = {
        "client": "OpenAIClient" + ("" if sdk_models else "(sdk_models=False)"),
        "chunks": chunks,
        "events": events,
        "direct_us_per_chunk": statistics.median(direct_cpu) / events * 1e6,
        "gateway_us_per_chunk": statistics.median(gateway_cpu) / events * 1e6,
    }
    result["ratio"] = result["gateway_us_per_chunk"] / result["direct_us_per_chunk"]
    return result


def main() -> None:
    url, chunks, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps({"runs": [measure(url, chunks, rounds, sdk_models) for sdk_models in (True, False)]}))


if __name__ == "__main__":
    main()
