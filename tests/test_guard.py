"""The byte guard below the vendor SDKs' decoders: bounded lines and events, BOM, SSE normalization."""

from __future__ import annotations

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmstream import MalformedStreamError
from llmstream._guard import AsyncGuardTransport, ByteGuard, GuardTransport

BODY = b'data: {"a": 1}\n\n: keep-alive\n\ndata: {"b": 2}\n\n'


def run(guard: ByteGuard, pieces: list[bytes]) -> bytes:
    return b"".join([guard.feed(p) for p in pieces] + [guard.flush()])


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@given(st.lists(st.integers(0, len(BODY)), max_size=8))
def test_bytes_pass_through_unchanged_however_they_are_split(cuts: list[int]) -> None:
    assert run(ByteGuard(64), splits(BODY, cuts)) == BODY


@given(st.lists(st.integers(0, 20), max_size=5))
def test_a_leading_bom_is_dropped_even_split_across_reads(cuts: list[int]) -> None:
    assert run(ByteGuard(), splits(b"\xef\xbb\xbf" + BODY, cuts)) == BODY
    assert run(ByteGuard(), [b"\xef\xbb"]) == b"\xef\xbb"  # a body shorter than a BOM is kept


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_a_line_that_never_ends_stops_at_the_limit(piece: int) -> None:
    guard = ByteGuard(10_000)
    fed = 0
    with pytest.raises(MalformedStreamError, match="line grew past max_event_bytes=10000"):
        while True:
            guard.feed(b"x" * piece)
            fed += piece
    assert fed <= 10_000  # nothing past the limit was accepted


def test_a_long_line_inside_one_read_is_caught() -> None:
    with pytest.raises(MalformedStreamError, match="line"):
        ByteGuard(100).feed(b"a\n" + b"x" * 500 + b"\nb\n" + b"y" * 101)


def test_an_event_of_many_short_lines_that_never_ends_stops_at_the_limit() -> None:
    guard = ByteGuard(1000)
    with pytest.raises(MalformedStreamError, match="event grew past"):
        for _ in range(1000):
            guard.feed(b"data: x\n")


def test_events_under_the_limit_reset_at_each_blank_line() -> None:
    guard = ByteGuard(100)
    for _ in range(1000):
        guard.feed(b"data: " + b"x" * 40 + b"\r\n\r\n")  # 1000 events of 48 bytes: never too large


def test_normalize_mode_drops_comments_and_fields_and_fixes_data_without_space() -> None:
    body = b"\xef\xbb\xbf: hi\nevent: message\nid: 3\nretry: 10\ndata:{\"a\":1}\r\n\r\ndata: {\"b\":2}\n\n"
    out = run(ByteGuard(normalize_sse=True), splits(body, [3, 9, 30, 31]))
    assert out == b'data: {"a":1}\n\ndata: {"b":2}\n\n'


def _normalized_lines(body: bytes) -> bytes:
    """Normalize mode's rule, line by line, on a whole body: what google-genai must be given."""
    out = []
    for line in body.split(b"\n")[:-1]:
        line = line.rstrip(b"\r")
        if line.startswith((b":", b"event:", b"id:", b"retry:")):
            continue
        out.append(b"data: " + line[5:] if line.startswith(b"data:") and not line.startswith(b"data: ") else line)
    return b"".join(line + b"\n" for line in out)


_sse_line = st.one_of(
    st.sampled_from([b"", b": ping", b"event: e", b"id: 1", b"data:x", b"data: {}", b"data: a\rb", b"\r"]),
    st.binary(max_size=6).map(lambda value: b"data: " + value.replace(b"\n", b"")),
)


@given(st.lists(st.tuples(_sse_line, st.sampled_from([b"\n", b"\r\n"])), max_size=12),
       st.lists(st.integers(0, 200), max_size=6))
def test_normalize_mode_gives_the_same_lines_however_the_reads_fall(lines: list[tuple[bytes, bytes]],
                                                                    cuts: list[int]) -> None:
    """Reads of plain ``data: `` and blank lines pass unchanged (CRLF kept: google-genai splits CR, LF
    and CRLF alike); any other read is rewritten; both give the lines of the rule above."""
    body = b"".join(line + end for line, end in lines)
    out = run(ByteGuard(normalize_sse=True), splits(body, cuts))
    assert out.replace(b"\r\n", b"\n") == _normalized_lines(body)


def test_normalize_mode_passes_plain_reads_unchanged() -> None:
    guard = ByteGuard(normalize_sse=True)
    guard.feed(b": first read\n")
    read = b'data: {"a": 1}\r\n\r\ndata: {"b": 2}\r\n\r\n'
    assert guard.feed(read) is read


def _response(request: httpx2.Request, body: bytes, status: int = 200, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, headers={"content-type": "text/event-stream", **headers}, content=body,
                           request=request)


def test_the_sync_transport_guards_200_event_streams_only() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/big":
            return _response(request, b"data: " + b"x" * 5000)
        if request.url.path == "/error":
            return _response(request, b"x" * 5000, status=400)
        return _response(request, b"\xef\xbb\xbf" + BODY)

    with httpx2.Client(transport=GuardTransport(httpx2.MockTransport(handler), 1000)) as client:
        assert client.get("http://t/ok").content == BODY
        assert len(client.get("http://t/error").content) == 5000
        with pytest.raises(MalformedStreamError), client.stream("GET", "http://t/big") as response:
            response.read()


async def test_the_async_transport_normalizes_for_gemini() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return _response(request, b": ping\ndata:{\"x\":1}\n\n")

    transport = AsyncGuardTransport(httpx2.MockTransport(handler), normalize_sse=True)
    async with httpx2.AsyncClient(transport=transport) as client:
        response = await client.get("http://t/")
        assert response.content == b'data: {"x":1}\n\n'
