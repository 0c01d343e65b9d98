"""Connections and threads (issue 22): pools sized for many concurrent streams, a pool wait reported as
such, the vendor client built once per client (sync) and once per event loop (async), and closed with
its loop, against the loopback server with the real vendor SDK clients."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest

import llmstream
from llmstream import BaseClient, Completion, LLMStreamError, StreamTimeoutError
from tests.helpers import complete
from tests.loopback import LoopbackServer, Scripted
from tests.test_resilience import PIECES, WIRES, Wire, client_for

TEXT = "".join(PIECES)
_BY_NAME = {w.name: w for w in WIRES}
POOLED = [_BY_NAME["openrouter"], _BY_NAME["gemini"]]  # the two on httpx2 clients built by llmstream


def _gated(loopback: LoopbackServer, wire: Wire) -> None:
    """Every stream sends its first frame, then waits at the gate until released."""
    loopback.default = Scripted(chunks=wire.frames(PIECES), gate_after=1)


def _run_concurrently(client: BaseClient, mode: str, count: int, loopback: LoopbackServer) -> list[Any]:
    """``count`` streams at once (threads, or tasks of one event loop); all are held open together at
    the server's gate (which proves they were concurrent), then released."""
    if mode == "sync":
        with ThreadPoolExecutor(count) as pool:
            futures = [pool.submit(_outcome, client.stream_complete, "hi") for _ in range(count)]
            assert loopback.wait_gated(count, timeout=120), f"only {loopback._parked} streams got a connection"
            loopback.release(count)
            return [future.result() for future in futures]

    async def main() -> list[Any]:
        tasks = [asyncio.ensure_future(_aoutcome(client.astream_complete("hi"))) for _ in range(count)]
        parked = await asyncio.to_thread(loopback.wait_gated, count, 120)
        loopback.release(count)
        results = await asyncio.gather(*tasks)
        assert parked, "not every stream got a connection at once"
        return results

    return asyncio.run(main())


def _outcome(call: Callable[..., Completion], *args: Any) -> Completion | LLMStreamError:
    try:
        return call(*args)
    except LLMStreamError as error:
        return error


async def _aoutcome(awaitable: Any) -> Completion | LLMStreamError:
    try:
        result: Completion = await awaitable
        return result
    except LLMStreamError as error:
        return error


@pytest.mark.parametrize("wire", POOLED, ids=[w.name for w in POOLED])
def test_150_concurrent_streams_on_one_client_all_succeed(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    _gated(loopback, wire)
    client = client_for(wire, loopback, timeout=60.0)
    results = _run_concurrently(client, mode, 150, loopback)
    errors = [r for r in results if isinstance(r, LLMStreamError)]
    assert not errors, f"{len(errors)} failed, e.g. {errors[0]!r}"
    assert all(r.text == TEXT for r in results)


# -- a pool wait is reported as such -----------------------------------------------------------------


def _tiny_pool_client(name: str, loopback: LoopbackServer, asynchronous: bool) -> BaseClient:
    limits = httpx2.Limits(max_connections=1)
    transport = httpx2.AsyncHTTPTransport(limits=limits) if asynchronous else httpx2.HTTPTransport(limits=limits)
    if name == "openrouter":
        return client_for(_BY_NAME["openrouter"], loopback, timeout=0.5, transport=transport)
    http = (httpx2.AsyncClient if asynchronous else httpx2.Client)(transport=transport)
    return llmstream.OpenAIClient("gpt-4o-mini", api_key="sk" "-test", base_url=loopback.url + "/v1",
                                  max_retries=0, timeout=0.5, http_client=http)


@pytest.mark.parametrize("name", ["openrouter", "openai"])
def test_a_pool_wait_that_times_out_blames_the_pool_not_the_provider(
    name: str, loopback: LoopbackServer, mode: str
) -> None:
    """One connection, held by a first stream: the second waits for the pool, never reaching the server."""
    _gated(loopback, _BY_NAME["openrouter"])
    client = _tiny_pool_client(name, loopback, mode == "async")

    def second(error_box: list[Any]) -> None:
        assert loopback.wait_gated(1, timeout=30)
        error_box.append(_outcome(complete, client, "hi", "sync"))

    if mode == "sync":
        box: list[Any] = []
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(_outcome, client.stream_complete, "hi")
            second(box)
            loopback.release(1)
            assert first.result().text == TEXT
        error = box[0]
    else:

        async def main() -> Any:
            first = asyncio.ensure_future(_aoutcome(client.astream_complete("hi")))
            assert await asyncio.to_thread(loopback.wait_gated, 1, 30)
            outcome = await _aoutcome(client.astream_complete("hi"))
            loopback.release(1)
            assert (await first).text == TEXT
            return outcome

        error = asyncio.run(main())
    assert isinstance(error, StreamTimeoutError), error
    assert "connection pool" in str(error) and "never sent to the provider" in str(error)
    assert len(loopback.requests) == 1


# -- the vendor client: built once per client, once per event loop ----------------------------------


def _counting(client: BaseClient) -> list[Any]:
    """Record every vendor client the llmstream client builds."""
    built: list[Any] = []
    make = client._make_sdk

    def counted(*, asynchronous: bool) -> Any:
        sdk = make(asynchronous=asynchronous)
        built.append(sdk)
        return sdk

    client._make_sdk = counted  # type: ignore[method-assign]
    return built


_VENDORS = [w for w in WIRES if "sdk_models" not in w.name]


@pytest.mark.parametrize("wire", _VENDORS, ids=[w.name for w in _VENDORS])
def test_50_threads_first_using_a_client_build_one_vendor_client(wire: Wire, loopback: LoopbackServer) -> None:
    client = client_for(wire, loopback)
    built = _counting(client)
    barrier = threading.Barrier(50)

    def first_use() -> Any:
        barrier.wait()
        return client.sdk

    with ThreadPoolExecutor(50) as pool:
        seen = list(pool.map(lambda _: first_use(), range(50)))
    assert len(built) == 1
    assert all(sdk is built[0] for sdk in seen)


@pytest.mark.parametrize("wire", _VENDORS, ids=[w.name for w in _VENDORS])
def test_one_async_vendor_client_per_event_loop(wire: Wire, loopback: LoopbackServer) -> None:
    loopback.default = Scripted(chunks=wire.frames(PIECES))
    client = client_for(wire, loopback)
    built = _counting(client)

    async def many() -> list[Completion]:
        return list(await asyncio.gather(*(client.astream_complete("hi") for _ in range(20))))

    assert all(c.text == TEXT for c in asyncio.run(many()))
    assert len(built) == 1
    assert all(c.text == TEXT for c in asyncio.run(many()))
    assert len(built) == 2  # the second loop got its own (the first loop's pool cannot serve it)


def test_250_concurrent_gemini_streams_on_threads_all_succeed(loopback: LoopbackServer) -> None:
    """Each thread's first use races for the vendor client; none may be dropped (google-genai's
    ``Client.__del__`` closes its HTTP client) under the streams running on it."""
    wire = _BY_NAME["gemini"]
    loopback.default = Scripted(chunks=wire.frames(PIECES))
    client = client_for(wire, loopback, timeout=60.0)
    built = _counting(client)
    barrier = threading.Barrier(250)

    def one(index: int) -> Completion | LLMStreamError:
        barrier.wait()
        if index % 5:
            return _outcome(client.stream_complete, "hi")
        return asyncio.run(_aoutcome(client.astream_complete("hi")))  # a loop of its own, on its thread

    with ThreadPoolExecutor(250) as pool:
        results = list(pool.map(one, range(250)))
    errors = [r for r in results if isinstance(r, LLMStreamError)]
    assert not errors, f"{len(errors)} failed, e.g. {errors[0]!r}"
    assert all(r.text == TEXT for r in results)
    assert sum(1 for sdk in built if sdk is client.sdk) == 1


# -- asyncio.run per call leaves no socket to the garbage collector ---------------------------------


@pytest.mark.parametrize("wire", WIRES, ids=[w.name for w in WIRES])
def test_asyncio_run_per_call_leaves_no_unclosed_socket(wire: Wire, loopback: LoopbackServer) -> None:
    loopback.default = Scripted(chunks=wire.frames(PIECES))
    client = client_for(wire, loopback)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(20):
            assert asyncio.run(client.astream_complete("hi")).text == TEXT
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
    assert loopback.wait_idle(timeout=10.0) and loopback.open_connections == 0  # closed, not left to the GC
    assert loopback.total_connections >= 20  # each loop had a pool of its own


class _CountingTransport(httpx2.AsyncHTTPTransport):
    closed = 0

    async def aclose(self) -> None:
        self.closed += 1
        await super().aclose()


def test_a_users_own_transport_is_not_closed_with_the_loop(loopback: LoopbackServer) -> None:
    wire = _BY_NAME["openrouter"]
    loopback.default = Scripted(chunks=wire.frames(PIECES))
    ours, theirs = _CountingTransport(), _CountingTransport()
    client = client_for(wire, loopback, transport=theirs)
    assert asyncio.run(client.astream_complete("hi")).text == TEXT
    assert theirs.closed == 0  # the user's to close

    async def with_ours() -> str:  # the same check passes when closing is ours to do
        from llmstream._vendor import VendorClients

        clients = VendorClients()
        clients.for_loop(asyncio.get_running_loop(), lambda: httpx2.AsyncClient(transport=ours), True)
        return "built"

    assert asyncio.run(with_ours()) == "built"
    assert ours.closed == 1  # closed by the loop's shutdown


def test_loops_closed_without_their_shutdown_are_not_kept_alive(loopback: LoopbackServer) -> None:
    """A hand-run loop closed without ``shutdown_asyncgens``: its client is forgotten once the next loop
    builds one (nothing keeps the closed loops alive); with the shutdown, it is closed at once."""
    import weakref

    wire = _BY_NAME["openrouter"]
    loopback.default = Scripted(chunks=wire.frames(PIECES))
    client = client_for(wire, loopback)
    loops = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # those loops' sockets: nothing could close them
        for _ in range(5):
            loop = asyncio.new_event_loop()
            assert loop.run_until_complete(client.astream_complete("hi")).text == TEXT
            loop.close()
            loops.append(weakref.ref(loop))
            del loop
        gc.collect()
    assert sum(ref() is not None for ref in loops) <= 1  # at most the last one, until the next loop comes
    loop = asyncio.new_event_loop()
    loop.run_until_complete(client.astream_complete("hi"))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    assert len(client._vendor._loops) == 0
