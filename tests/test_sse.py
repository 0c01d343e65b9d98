"""Tests of the WHATWG event-stream decoder: spec examples, chunking independence, guards, and a
property test against an independent whole-buffer reference decoder."""

from __future__ import annotations

import re

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmstream.sse as sse_module
from llmstream._errors import MalformedStreamError
from llmstream.sse import ServerSentEvent, SSEDecoder

E = ServerSentEvent


def run(chunks: list[bytes], **limits: int) -> tuple[list[ServerSentEvent], str]:
    dec = SSEDecoder(**limits)
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    last_id = dec.last_event_id
    assert dec.flush() == []
    return events, last_id


def decode(stream: bytes) -> list[ServerSentEvent]:
    """Decode ``stream`` whole, split in two at every offset and byte by byte; all must agree."""
    whole = run([stream])
    for i in range(len(stream) + 1):
        assert run([stream[:i], stream[i:]]) == whole, f"split at byte {i} of {stream!r}"
    assert run([stream[i : i + 1] for i in range(len(stream))]) == whole, "byte-by-byte"
    return whole[0]


def last_id_of(stream: bytes) -> str:
    return run([stream])[1]


# --- the spec's examples ------------------------------------------------------------------------


def test_spec_intro_messages() -> None:
    stream = (b"data: This is the first message.\n\n"
              b"data: This is the second message, it\ndata: has two lines.\n\n"
              b"data: This is the third message.\n\n")
    assert decode(stream) == [
        E(data="This is the first message."),
        E(data="This is the second message, it\nhas two lines."),
        E(data="This is the third message."),
    ]


def test_spec_event_types_example() -> None:
    stream = b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    assert decode(stream) == [E("add", "73857293"), E("remove", "2153"), E("add", "113411")]


def test_spec_stock_yhoo_multiline_data() -> None:
    assert decode(b"data: YHOO\ndata: +2\ndata: 10\n\n") == [E(data="YHOO\n+2\n10")]


def test_spec_test_stream_with_ids() -> None:
    stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    assert decode(stream) == [E(data="first event", id="1"), E(data="second event"), E(data=" third event")]
    assert last_id_of(stream) == ""
    # Without the final blank line the third event is never dispatched.
    assert decode(stream[:-1]) == decode(stream)[:2]


def test_spec_empty_data_and_newline_data() -> None:
    assert decode(b"data\n\ndata\ndata\n\ndata:") == [E(data=""), E(data="\n")]


def test_spec_colon_space_optional() -> None:
    events = decode(b"data:test\n\ndata: test\n\n")
    assert events == [E(data="test"), E(data="test")]
    assert events[0] == events[1]


# --- line ends --------------------------------------------------------------------------------


@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_line_terminators(eol: bytes) -> None:
    stream = eol.join([b"event: a", b"data: 1", b"data: 2", b"", b"data: 3", b"", b""])
    assert decode(stream) == [E("a", "1\n2"), E(data="3")]


def test_mixed_terminators() -> None:
    assert decode(b"data: a\rdata: b\ndata: c\r\n\r\rdata: d\n\r\n") == [E(data="a\nb\nc"), E(data="d")]


def test_crlf_split_across_feeds_is_one_line_end() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\n") == []  # the LF completes the CRLF: no blank line, no dispatch
    assert dec.feed(b"data: b\r") == []
    assert dec.feed(b"") == []  # an empty read must not forget the pending CR
    assert dec.feed(b"\ndata: c\r\n\r") == [E(data="a\nb\nc")]
    assert dec.feed(b"\n") == []


def test_cr_then_cr_across_feeds_is_two_line_ends() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\rdata: b") == [E(data="a")]


def test_event_dispatched_without_waiting_for_next_chunk() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r\r") == [E(data="a")]  # a trailing CR still ends the line now
    assert dec.feed(b"data: b\n\n") == [E(data="b")]


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_unicode_line_breaks_are_data(char: str) -> None:
    stream = f"data: a{char}b\ndata: {char}\n\n".encode()
    assert decode(stream) == [E(data=f"a{char}b\n{char}")]


# --- UTF-8 and BOM --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["🦀 emoji 👩‍💻", "中文字符\uff0c日本語のテキスト", "é ß ǅ ﬀ", "𝄞\u0301"])
def test_multibyte_utf8_split_everywhere(text: str) -> None:
    stream = f"event: {text}\ndata: {text}\nid: {text}\n\n".encode()
    assert decode(stream) == [E(text, text, text)]


def test_invalid_utf8_is_replaced() -> None:
    assert decode(b"data: a\xffb\xe4\xbd\n\n") == [E(data="a\ufffdb\ufffd")]


def test_leading_bom_dropped() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [E(data="x")]
    assert decode(b"\xef\xbb\xbf\n") == []


def test_second_bom_is_kept() -> None:
    assert decode(b"\xef\xbb\xbfdata: \xef\xbb\xbfx\n\n") == [E(data="\ufeffx")]
    # A second leading BOM becomes part of the field name, which is then unknown.
    assert decode(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == [E(data="y")]
    assert decode(b"data: a\n\n\xef\xbb\xbfdata: b\n\n") == [E(data="a")]


def test_bom_only_dropped_at_stream_start_even_on_first_feed_without_line() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"\xef") == []
    assert dec.feed(b"\xbb\xbfdata: x\n") == []
    assert dec.feed(b"\n\xef\xbb\xbfdata: y\n\n") == [E(data="x")]


# --- fields ---------------------------------------------------------------------------------------


def test_comments_ignored() -> None:
    stream = b": OPENROUTER PROCESSING\n\n:\ndata: a\n: keep-alive\ndata: b\n\n:data: c\n\n"
    assert decode(stream) == [E(data="a\nb")]


def test_only_one_space_stripped_and_colons_in_value_kept() -> None:
    assert decode(b"data:  two\ndata:\tTab\ndata: a: b:c\n\n") == [E(data=" two\n\tTab\na: b:c")]


def test_field_names_case_sensitive_and_unknown_ignored() -> None:
    assert decode(b"Data: x\nDATA: y\nfoo: bar\ndata : z\ndata: ok\n\n") == [E(data="ok")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b"1000", 1000), (b"0", 0), (b"007", 7), (b"10a0", None), (b"-1", None), (b"1.5", None), (b"", None),
     (b" 5", None), (b"5 ", None), ("\u0661\u0662".encode(), None), ("\u00b2".encode(), None), (b"+3", None)],
)
def test_retry_digits_only(value: bytes, expected: int | None) -> None:
    assert decode(b"retry: " + value + b"\ndata: x\n\n") == [E(data="x", retry=expected)]


def test_retry_belongs_to_its_event_and_invalid_keeps_previous() -> None:
    stream = b"retry: 5\nretry: x\ndata: a\n\ndata: b\n\nretry: 7\n\ndata: c\n\n"
    assert decode(stream) == [E(data="a", retry=5), E(data="b"), E(data="c")]


def test_id_persists_and_nul_is_ignored() -> None:
    stream = b"id: 1\ndata: a\n\ndata: b\n\nid: 2\x003\ndata: c\n\nid: 4\n\ndata: d\n\nid:\ndata: e\n\n"
    assert decode(stream) == [
        E(data="a", id="1"), E(data="b", id="1"), E(data="c", id="1"), E(data="d", id="4"), E(data="e"),
    ]


def test_last_event_id_committed_by_blank_line() -> None:
    assert last_id_of(b"id: 1\ndata: a\n\n") == "1"
    assert last_id_of(b"id: 1\n\n") == "1"  # no event, but the id still takes effect
    assert last_id_of(b"id: 1\ndata: a\n\nid: 2\ndata: b\n") == "1"  # unterminated block: not committed
    assert last_id_of(b"id: 1\n\nid: \x00\n\n") == "1"


def test_event_without_data_not_dispatched_and_type_reset() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [E(data="x")]
    assert decode(b"event: ping\nid: 3\nretry: 1\n\n") == []
    assert decode(b"event:\ndata: x\n\n") == [E("message", "x")]


def test_unterminated_final_event_and_line_dropped_at_flush() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: a\n\ndata: b\ndata: partial") == [E(data="a")]
    assert dec.flush() == []
    # The state is cleared, so the decoder can read a reconnection's stream; the last id survives.
    assert dec.feed(b"id: 9\n\n\xef\xbb\xbfdata: fresh\n\n") == []  # BOM not at stream start: unknown field
    assert dec.last_event_id == "9"
    assert dec.flush() == []
    assert dec.feed(b"\xef\xbb\xbfdata: c\n\n") == [E(data="c", id="9")]


def test_flush_discards_pending_cr() -> None:
    dec = SSEDecoder()
    dec.feed(b"data: a\r")
    dec.flush()
    assert dec.feed(b"\ndata: b\n\n") == [E(data="b")]  # the LF is a line end of its own now


# --- the event type ---------------------------------------------------------------------------------


def test_server_sent_event_type() -> None:
    assert sse_module.__all__ == ["SSEDecoder", "ServerSentEvent"]
    ev = E(data='{"a": [1, "é"]}')
    assert (ev.event, ev.id, ev.retry) == ("message", "", None)
    assert ev.json() == {"a": [1, "é"]}
    assert not hasattr(ev, "__dict__")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ev.data = "x"  # type: ignore[misc]


# --- guards -------------------------------------------------------------------------------------


def test_line_at_limit_is_fine() -> None:
    line = b"data: " + b"x" * 94
    assert run([line + b"\n\n"], max_line_bytes=100)[0] == [E(data="x" * 94)]
    assert run([line[i : i + 7] for i in range(0, 100, 7)] + [b"\r\n\r\n"], max_line_bytes=100)[0] == [
        E(data="x" * 94)
    ]


def test_overlong_complete_line_raises() -> None:
    with pytest.raises(MalformedStreamError, match=r"max_line_bytes=100\b"):
        SSEDecoder(max_line_bytes=100).feed(b"data: " + b"x" * 95 + b"\n\n")


def test_overlong_unterminated_line_raises_before_growing() -> None:
    dec = SSEDecoder(max_line_bytes=100)
    dec.feed(b": " + b"x" * 90)
    fed = 92
    with pytest.raises(MalformedStreamError, match="max_line_bytes=100"):
        for _ in range(100):
            fed += 3
            dec.feed(b"y" * 3)
    assert fed == 101  # raised by the very chunk that crossed the limit


def test_overlong_line_in_chunk_with_line_ends_raises() -> None:
    with pytest.raises(MalformedStreamError, match="max_line_bytes=10"):
        SSEDecoder(max_line_bytes=10).feed(b"data: a\n\ndata: " + b"z" * 20)


def test_event_at_limit_is_fine_and_over_limit_raises() -> None:
    # The data buffer is counted in UTF-8 bytes including the LF added per line: 9 + 1 == 10.
    assert run([b"data: 123456789\n\n"], max_event_bytes=10)[0] == [E(data="123456789")]
    with pytest.raises(MalformedStreamError, match=r"max_event_bytes=10\b"):
        run([b"data: 12345\ndata: 1234\n\n"], max_event_bytes=10)
    with pytest.raises(MalformedStreamError, match="max_event_bytes=10"):
        run(["data: ééééé\n\n".encode()], max_event_bytes=10)  # 5 characters, 10 bytes + LF


def test_event_limit_resets_between_events() -> None:
    stream = b"data: 12345678\n\n" * 50
    assert len(run([stream], max_event_bytes=10)[0]) == 50


def test_many_small_data_lines_hit_event_limit() -> None:
    dec = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(MalformedStreamError, match="max_event_bytes=1000"):
        for _ in range(1000):
            dec.feed(b"data: abc\n")


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SSEDecoder(max_line_bytes=0)


# --- property test against an independent reference ----------------------------------------------


def reference_decode(stream: bytes) -> tuple[list[ServerSentEvent], str]:
    """The spec's algorithm applied literally to the whole stream at once."""
    text = stream.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = re.split(r"\r\n|\r|\n", text)
    lines.pop()  # whatever follows the last line end is an incomplete line: discarded
    events: list[ServerSentEvent] = []
    data = event_type = id_buffer = last_event_id = ""
    retry: int | None = None
    for line in lines:
        if line == "":
            last_event_id = id_buffer
            if data != "":
                events.append(E(event_type or "message", data[:-1] if data.endswith("\n") else data,
                                id_buffer, retry))
            data = event_type = ""
            retry = None
            continue
        if line.startswith(":"):
            continue
        if ":" in line:
            field, value = line[: line.index(":")], line[line.index(":") + 1 :]
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "data":
            data += value + "\n"
        elif field == "event":
            event_type = value
        elif field == "id" and "\x00" not in value:
            id_buffer = value
        elif field == "retry" and re.fullmatch("[0-9]+", value):
            retry = int(value)
    return events, last_event_id


_special = st.sampled_from(["\u2028", "\u2029", "\x85", "\x00", "\x00", "\ufeff", " ", ":", "é", "中", "🦀", "\x0b"])
_char = st.one_of(_special, st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"))
_value = st.one_of(
    st.sampled_from([b"", b"\x00", b"7\x008", b" ", b" 1", "\u2028".encode(), b"\xef\xbb\xbf", b"\xe4\xbd"]),
    st.text(_char, max_size=12).map(lambda s: s.encode()),
    st.binary(max_size=8).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),  # invalid UTF-8 too
    st.text("0123456789\u0661\u00b2", min_size=1, max_size=4).map(str.encode),  # retry values, some non-ASCII digits
)
_name = st.sampled_from(
    [b"data", b"data", b"data", b"event", b"id", b"id", b"retry", b"retry", b"", b"foo", b"Data", b"\xef\xbb\xbfdata"]
)
_field = st.tuples(_name, st.sampled_from([b":", b": ", b":  "]), _value).map(b"".join)
_line = st.one_of(
    _field,
    _name,  # no colon
    _value.map(lambda v: b":" + v),  # comment
)
_eol = st.sampled_from([b"\r", b"\n", b"\r\n"])
_block = st.lists(st.tuples(st.one_of(_field, _line), _eol), max_size=6)  # field lines twice as likely


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """Blocks of lines, each closed by a blank line except perhaps the last, then perhaps a partial line."""
    parts = [b"\xef\xbb\xbf"] if draw(st.booleans()) else []
    blocks = draw(st.lists(_block, min_size=1, max_size=8))
    for i, block in enumerate(blocks):
        for line, eol in block:
            parts += [line, eol]
        if i < len(blocks) - 1 or draw(st.booleans()):
            parts.append(draw(_eol))  # the blank line; after a CR, an LF here merges into CRLF instead
    parts.append(draw(_value) if draw(st.booleans()) else b"")  # an unterminated tail
    return b"".join(parts)


@settings(max_examples=400, deadline=None)
@given(stream=streams(), data=st.data())
def test_random_streams_match_reference_under_any_chunking(stream: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts"))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = reference_decode(stream)
    assert run([stream]) == expected
    assert run(chunks) == expected
    assert run([stream[i : i + 1] for i in range(len(stream))]) == expected


def test_reference_agrees_on_a_known_vector() -> None:
    # Guards the property test against a reference that is wrong in the same way as the decoder.
    stream = "\ufeffid: 7\r\nretry: 12\rdata\ndata:  x\u2028\r\n\r\n: c\nevent: e\ndata: y\n\nid: 8\ndata: z".encode()
    assert reference_decode(stream) == ([E(data="\n x\u2028", id="7", retry=12), E("e", "y", "7")], "7")


# --- feed_data: the data-only fast path gives what feed gives ----------------------------------------


def _data_run(chunks: list[bytes], use_data: list[bool], **limits: int) -> tuple[list[str], str]:
    dec = SSEDecoder(**limits)
    out: list[str] = []
    for chunk, fast in zip(chunks, use_data, strict=True):
        out += dec.feed_data(chunk) if fast else [event.data for event in dec.feed(chunk)]
    return out, dec.last_event_id


_data_event = st.one_of(
    st.tuples(st.sampled_from([b"data: ", b"data:"]), _value).map(lambda p: p[0] + p[1] + b"\n\n"),
    st.tuples(st.sampled_from([b"data: ", b"data:"]), _value).map(lambda p: p[0] + p[1] + b"\r\n\r\n"),
    # ``event: <name>`` then one data line, as the Responses and Anthropic wires send every event
    st.tuples(st.sampled_from([b"event: ", b"event:"]), _value, st.sampled_from([b"data: ", b"data:", b"data"]),
              _value, st.sampled_from([b"\n", b"\r\n"])).map(
        lambda p: p[0] + p[1] + p[4] + p[2] + p[3] + p[4] * 2),
)


@st.composite
def data_streams(draw: st.DrawFn) -> list[bytes]:
    """Chunks of whole events (mostly plain ``data:`` ones, the fast path's case) and of anything else."""
    chunks = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            chunks.append(b"".join(draw(st.lists(_data_event, min_size=1, max_size=4))))
        else:
            chunks.append(draw(streams()))
    return chunks


@settings(max_examples=400, deadline=None)
@given(chunks=data_streams(), data=st.data())
def test_feed_data_is_feed_restricted_to_data(chunks: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(chunks)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4), label="cuts"))
    recut = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    events, last_id = reference_decode(stream)
    expected = ([event.data for event in events], last_id)
    for pieces in (chunks, recut):
        mixed = data.draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)), label="mix")
        assert _data_run(pieces, [True] * len(pieces)) == expected
        assert _data_run(pieces, mixed) == expected
    limits = {"max_line_bytes": 20, "max_event_bytes": 20}
    try:
        slow: object = _data_run(chunks, [False] * len(chunks), **limits)
    except MalformedStreamError as exc:
        slow = str(exc)
    try:
        fast: object = _data_run(chunks, [True] * len(chunks), **limits)
    except MalformedStreamError as exc:
        fast = str(exc)
    assert fast == slow


def test_feed_data_takes_the_fast_path_for_whole_data_events(monkeypatch: pytest.MonkeyPatch) -> None:
    dec = SSEDecoder()
    assert dec.feed_data(b": hello\n\n") == []  # the first chunk (a BOM may come) goes through feed
    monkeypatch.setattr(dec, "_process", None)  # the line-by-line interpretation is not used again
    assert dec.feed_data(b'data: {"a": 1}\n\ndata:x\n\n') == ['{"a": 1}', "x"]
    assert dec.feed_data(b"data: \xe4\xb8\xad\r\n\r\n") == ["中"]
    assert dec.feed_data(b"data: \xff\n\n") == ["\ufffd"]
    assert dec.feed_data(b"event: a.b\ndata: {}\n\nevent:c\r\ndata:x\r\n\r\n") == ["{}", "x"]
