"""The SERVER_TOOL and CITATION chunk types as the accumulator rebuilds them."""

from __future__ import annotations

from llmstream import (
    ChunkType,
    Citation,
    ServerToolEvent,
    ServerToolStatus,
    StreamedChunk,
    StreamingAccumulator,
)


def _tool(event: ServerToolEvent) -> StreamedChunk:
    return StreamedChunk(ChunkType.SERVER_TOOL, server_tool=event)


def test_server_tool_events_fold_into_one_entry_per_call_in_first_seen_order() -> None:
    acc = StreamingAccumulator()
    acc.add(_tool(ServerToolEvent("ws_1", "web_search", ServerToolStatus.STARTED, arguments={"query": "rivers"})))
    acc.add(_tool(ServerToolEvent("ci_1", "code_execution", ServerToolStatus.STARTED)))
    acc.add(_tool(ServerToolEvent("ws_1", "web_search", ServerToolStatus.COMPLETED, output=[{"url": "u"}])))
    acc.add(StreamedChunk(ChunkType.TEXT, "answer"))
    acc.add(_tool(ServerToolEvent("ci_1", "code_execution", ServerToolStatus.FAILED, output="boom")))
    completion = acc.completion()
    assert [(t.id, t.status) for t in completion.server_tools] == [
        ("ws_1", ServerToolStatus.COMPLETED),
        ("ci_1", ServerToolStatus.FAILED),
    ]
    # Arguments from the start survive an update that carries only the output.
    assert completion.server_tools[0].arguments == {"query": "rivers"}
    assert completion.server_tools[0].output == [{"url": "u"}]
    assert completion.text == "answer"
    assert completion.tool_calls == []


def test_citations_keep_vendor_order_and_each_url_once() -> None:
    acc = StreamingAccumulator()
    for url in ("https://a.example", "https://b.example", "https://a.example"):
        acc.add(StreamedChunk(ChunkType.CITATION, citation=Citation(url=url, title=url[-9:])))
    acc.add(StreamedChunk(ChunkType.CITATION, citation=Citation(cited_text="no url", source_id="doc-1")))
    urls = [c.url for c in acc.completion().citations]
    assert urls == ["https://a.example", "https://b.example", None]


def test_time_to_first_token_counts_content_not_start_or_usage() -> None:
    ticks = iter([0.0, 1.0, 5.0, 6.0, 9.0])
    acc = StreamingAccumulator(clock=lambda: next(ticks))  # started_at = 0.0
    acc.add(StreamedChunk(ChunkType.START, id="r1"))  # 1.0: first chunk
    acc.add(StreamedChunk(ChunkType.TEXT, "hi"))  # 5.0: first token
    acc.add(StreamedChunk(ChunkType.TEXT, " there"))  # no clock read once both are known
    stats = acc.completion().stats  # 6.0
    assert stats.time_to_first_chunk_ms == 1000.0
    assert stats.time_to_first_token_ms == 5000.0


def test_chunk_repr_and_str_show_the_new_fields() -> None:
    chunk = StreamedChunk(ChunkType.CITATION, citation=Citation(url="https://a.example"))
    assert "https://a.example" in repr(chunk)
    assert str(chunk) == ""
