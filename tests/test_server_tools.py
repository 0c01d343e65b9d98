"""Server-side tools and citations on the shared recordings, compared with the vendor's own final
message (Anthropic ``MessageStream.get_final_message()``; Gemini's parts and grounding metadata of its
chunks; OpenRouter's ``delta.annotations``), and the round trip of a web-search answer."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import SHARED_CASSETTES

if not SHARED_CASSETTES.is_dir():
    pytest.skip(f"the shared cassette corpus is not at {SHARED_CASSETTES}", allow_module_level=True)

from llmstream import ChunkType, Citation, Completion, Conversation, ServerToolEvent, ServerToolStatus
from llmstream.providers._server_tools import GeminiServerTools, sent_back
from tests.helpers import collect
from tests.loopback import LoopbackServer
from tests.oracles import Recording, corpus, llmstream_client, served, shared_ssl_context
from tests.oracles.corpus import mock_transport, sse_events

COMPLETED, FAILED = ServerToolStatus.COMPLETED, ServerToolStatus.FAILED
RECORDINGS = {rec.id: rec for rec in corpus(SHARED_CASSETTES)}
WITH_SERVER_TOOLS = {
    "anthropic/mirascope__test_web_search_tool_stream__anthropic_claude_sonnet_4_0__1",
    "anthropic/pydantic-ai__test_anthropic__test_anthropic_code_execution_tool_stream",
    "anthropic/pydantic-ai__test_anthropic__test_anthropic_mcp_servers_stream",
    "gemini/pydantic-ai__test_code_execution__test_code_execution_stream",
    "gemini/mirascope__test_web_search_tool_stream__google_gemini_2_5_flash__0",
    "gemini/mirascope__test_web_search_tool_stream__google_gemini_2_5_flash__1",
    "gemini/pydantic-ai__test_google__test_google_model_web_search_tool_stream__0",
    "openrouter/pydantic-ai__test_openrouter__test_openrouter_web_search_annotations_stream",
}
CASES = sorted(WITH_SERVER_TOOLS & set(RECORDINGS))


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with shared_ssl_context(), LoopbackServer() as running:
        yield running


def replayed(rec: Recording, server: LoopbackServer, mode: str, **options: Any) -> tuple[list[Any], Completion]:
    server.default = served(rec)
    return collect(llmstream_client(rec, server, **options), "replay", mode)


# -- the vendors' own view ----------------------------------------------------------------------------


def _anthropic(rec: Recording) -> tuple[list[ServerToolEvent], list[Citation]]:
    import anthropic
    import httpx2

    sdk = anthropic.Anthropic(api_key="oracle", base_url="http://oracle.invalid", max_retries=0,
                              http_client=httpx2.Client(transport=mock_transport(rec)))
    messages = sdk.beta.messages if "beta=true" in rec.uri else sdk.messages
    with messages.stream(model=rec.model, max_tokens=1024, messages=[{"role": "user", "content": "x"}]) as stream:
        blocks = [block.model_dump(mode="json", exclude_none=True) for block in stream.get_final_message().content]
    tools: dict[str, ServerToolEvent] = {}
    citations, urls = [], set()
    for block in blocks:
        kind = block["type"]
        if kind in ("server_tool_use", "mcp_tool_use"):
            name = block["name"] if kind == "server_tool_use" else f"mcp:{block['server_name']}.{block['name']}"
            tools[block["id"]] = ServerToolEvent(block["id"], name, ServerToolStatus.IN_PROGRESS, block["input"])
        elif kind.endswith("_tool_result"):
            use, content = tools[block["tool_use_id"]], block.get("content")
            failed = block.get("is_error") or (isinstance(content, dict) and content["type"].endswith("_error"))
            tools[use.id] = ServerToolEvent(use.id, use.name, FAILED if failed else COMPLETED, use.arguments, content)
        for cited in block.get("citations") or ():
            if cited.get("url") in urls:
                continue
            urls.add(cited.get("url"))
            index = cited.get("document_index")
            title = cited.get("title") or cited.get("document_title")
            citations.append(Citation(url=cited.get("url"), title=title, cited_text=cited.get("cited_text"),
                                      source_id=None if index is None else str(index)))
    return list(tools.values()), citations


def _gemini(rec: Recording) -> tuple[list[ServerToolEvent], list[Citation]]:
    """From the chunks' JSON: code parts (a result closes the code before it), the last non-empty
    grounding metadata (web queries, chunks, the first support of each chunk; byte offsets → chars)."""
    tools: list[ServerToolEvent] = []
    text, grounding = "", None
    for _, data in sse_events(rec.body):
        for candidate in json.loads(data).get("candidates", [])[:1]:
            for part in (candidate.get("content") or {}).get("parts", []):
                if "text" in part and not part.get("thought"):
                    text += part["text"]
                if "executableCode" in part:
                    code = part["executableCode"]
                    arguments = {"language": code.get("language"), "code": code.get("code", "")}
                    call_id = code.get("id") or f"code_execution_{len(tools)}"
                    tools.append(ServerToolEvent(call_id, "code_execution", arguments=arguments))
                if "codeExecutionResult" in part:
                    result, last = part["codeExecutionResult"], tools[-1]
                    ok = result.get("outcome") == "OUTCOME_OK"
                    output = {"outcome": result.get("outcome"), "output": result.get("output", "")}
                    tools[-1] = ServerToolEvent(last.id, last.name, COMPLETED if ok else FAILED, last.arguments, output)
            metadata = candidate.get("groundingMetadata") or {}
            if grounding is None and (metadata.get("groundingChunks") or metadata.get("webSearchQueries")):
                grounding = (metadata, text.encode())
    citations = []
    if grounding is not None:
        metadata, encoded = grounding
        sources = [(i, chunk["web"]) for i, chunk in enumerate(metadata.get("groundingChunks", [])) if "web" in chunk]
        if metadata.get("webSearchQueries"):
            output = [{"url": web.get("uri"), "title": web.get("title")} for _, web in sources]
            tools.append(ServerToolEvent("google_search", "web_search", COMPLETED,
                                         {"queries": metadata["webSearchQueries"]}, output))
        first: dict[int, Any] = {}
        for support in metadata.get("groundingSupports", []):
            for index in support.get("groundingChunkIndices", []):
                first.setdefault(index, support["segment"])
        for position, web in sources:
            segment = first.get(position)
            chars = (lambda n: len(encoded[:n].decode("utf-8", "ignore")))  # noqa: E731
            citations.append(Citation(
                url=web.get("uri"), title=web.get("title"), source_id=str(position),
                cited_text=None if segment is None else segment.get("text"),
                start=None if segment is None else chars(segment.get("startIndex", 0)),
                end=None if segment is None or "endIndex" not in segment else chars(segment["endIndex"]),
            ))
    return tools, citations


def _openrouter(rec: Recording) -> tuple[list[ServerToolEvent], list[Citation]]:
    citations, urls = [], set()
    for _, data in sse_events(rec.body):
        if data.strip() == "[DONE]" or not data.startswith("{"):
            continue
        for choice in json.loads(data).get("choices", []):
            for annotation in (choice.get("delta") or {}).get("annotations") or ():
                cited = annotation["url_citation"]
                if cited["url"] not in urls:
                    urls.add(cited["url"])
                    citations.append(Citation(url=cited["url"], title=cited.get("title"),
                                              cited_text=cited.get("content"),
                                              start=cited.get("start_index"), end=cited.get("end_index")))
    return [], citations


ORACLES = {"anthropic": _anthropic, "gemini": _gemini, "openrouter": _openrouter}


@pytest.mark.parametrize("rec_id", CASES)
def test_server_tools_and_citations_equal_the_vendors_own(rec_id: str, server: LoopbackServer, mode: str) -> None:
    rec = RECORDINGS[rec_id]
    tools, citations = ORACLES[rec.wire](rec)
    assert tools or citations  # the recording really holds some
    chunks, completion = replayed(rec, server, mode)
    assert completion.server_tools == tools
    assert completion.citations == citations
    assert completion.tool_calls == []  # server tools never become client calls
    kinds = {chunk.type for chunk in chunks}
    assert (ChunkType.SERVER_TOOL in kinds) == bool(tools) and (ChunkType.CITATION in kinds) == bool(citations)
    for tool in completion.server_tools:  # where the call sits in the text, and what goes back
        assert tool.text_offset is not None and 0 <= tool.text_offset <= len(completion.text)
        if rec.wire == "anthropic":
            assert tool.raw[0]["id"] == tool.id and tool.raw[-1]["tool_use_id"] == tool.id
    rebuilt = "".join(piece for piece in sent_back(completion.text, completion.server_tools) if isinstance(piece, str))
    assert rebuilt == completion.text


WEB_SEARCH = "anthropic/mirascope__test_web_search_tool_stream__anthropic_claude_sonnet_4_0__1"


@pytest.mark.skipif(WEB_SEARCH not in RECORDINGS, reason="recording missing")
def test_the_next_turn_after_a_web_search_sends_the_blocks_back_in_order(server: LoopbackServer) -> None:
    import anthropic
    import httpx2

    rec = RECORDINGS[WEB_SEARCH]
    _, completion = replayed(rec, server, "sync")
    sdk = anthropic.Anthropic(api_key="oracle", base_url="http://oracle.invalid", max_retries=0,
                              http_client=httpx2.Client(transport=mock_transport(rec)))
    with sdk.messages.stream(model=rec.model, max_tokens=1024, messages=[{"role": "user", "content": "x"}]) as stream:
        final = [block.model_dump(mode="json", exclude_none=True) for block in stream.get_final_message().content]
    conversation = Conversation().user("What is the weather?").append(completion).user("And tomorrow?")
    server.default = served(rec)
    before = len(server.requests)
    llmstream_client(rec, server).stream_complete(conversation)
    sent = server.requests[before].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    blocks = sent[1]["content"]
    # The vendor's blocks in the vendor's order; text blocks are merged between server blocks and
    # sent without their citations (optional on input).
    expected: list[dict[str, Any]] = []
    for block in final:
        if block["type"] == "text":
            if expected and expected[-1]["type"] == "text":
                expected[-1] = {"type": "text", "text": expected[-1]["text"] + block["text"]}
            else:
                expected.append({"type": "text", "text": block["text"]})
        else:
            expected.append(block)
    assert blocks == expected
    assert any(block["type"] == "web_search_tool_result" for block in blocks)
    results = next(block for block in blocks if block["type"] == "web_search_tool_result")["content"]
    assert all(result.get("encrypted_content") for result in results)


CODE_EXECUTION = "gemini/pydantic-ai__test_code_execution__test_code_execution_stream"


@pytest.mark.skipif(CODE_EXECUTION not in RECORDINGS, reason="recording missing")
@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk-models", "own-decoding"])
def test_gemini_code_parts_go_back_as_they_came(server: LoopbackServer, sdk_models: bool) -> None:
    """Also from the fast path, whose server-tool events keep the wire's part dicts."""
    rec = RECORDINGS[CODE_EXECUTION]
    _, completion = replayed(rec, server, "sync", sdk_models=sdk_models)
    vendor = [part for _, data in sse_events(rec.body)
              for candidate in json.loads(data).get("candidates", [])[:1]
              for part in (candidate.get("content") or {}).get("parts", [])]
    code_parts = [part for part in vendor if "executableCode" in part or "codeExecutionResult" in part]
    assert code_parts
    conversation = Conversation().user("Compute it").append(completion).user("Thanks")
    server.default = served(rec)
    before = len(server.requests)
    llmstream_client(rec, server).stream_complete(conversation)
    model_turn = server.requests[before].json["contents"][1]
    assert model_turn["role"] == "model"
    sent = model_turn["parts"]
    assert [_signed(part) for part in sent if "executableCode" in part or "codeExecutionResult" in part] == [
        _signed(part) for part in code_parts]
    assert any("thoughtSignature" in part for part in code_parts)  # the signatures went back on their parts
    assert "".join(part.get("text", "") for part in sent) == completion.text
    first_code = next(i for i, part in enumerate(sent) if "executableCode" in part)
    before_code = "".join(part.get("text", "") for part in sent[:first_code])
    assert before_code == completion.text[: completion.server_tools[0].text_offset]


def _signed(part: dict[str, Any]) -> dict[str, Any]:
    """A part with its thought signature as bytes (the SDK sends standard base64 for Gemini's URL-safe)."""
    signature = part.get("thoughtSignature")
    if signature is None:
        return part
    return {**part, "thoughtSignature": base64.urlsafe_b64decode(signature.replace("+", "-").replace("/", "_"))}


def test_the_cli_shows_server_tools_like_tool_calls_and_the_sources_after_the_answer(server: LoopbackServer) -> None:
    import io

    from llmstream.cli.render import JsonRenderer, TextRenderer

    rec = RECORDINGS[WEB_SEARCH]
    chunks, completion = replayed(rec, server, "sync")
    out, err = io.StringIO(), io.StringIO()
    renderer = TextRenderer(out, err)
    for chunk in chunks:
        renderer.chunk(chunk)
    renderer.finish(completion)
    lines = err.getvalue().splitlines()
    searches = len(completion.server_tools)
    assert lines[:searches] == [f"⌕ web_search({json.dumps(t.arguments['query'])})" for t in completion.server_tools]
    assert lines[searches] == "Sources:" and len(lines) == searches + 1 + len(completion.citations)
    first = completion.citations[0]
    assert lines[searches + 1] == f"  [1] {first.title}  {first.url}"
    assert out.getvalue() == completion.text + "\n"  # the answer itself is unchanged

    ndjson = io.StringIO()
    renderer_json = JsonRenderer(ndjson)
    for chunk in chunks:
        renderer_json.chunk(chunk)
    renderer_json.finish(completion)
    events = [json.loads(line) for line in ndjson.getvalue().splitlines()]
    assert next(e["citation"]["url"] for e in events if e["type"] == "citation") == first.url
    tool_events = [e["server_tool"] for e in events if e["type"] == "server_tool"]
    assert tool_events[0] == {"id": completion.server_tools[0].id, "name": "web_search", "status": "started"}
    assert "raw" not in json.dumps(tool_events)  # the vendor blocks (encrypted results) stay out
    final = events[-1]
    assert [c["url"] for c in final["citations"]] == [c.url for c in completion.citations]
    assert final["server_tools"][0]["status"] == "completed"


def test_gemini_grounding_offsets_are_characters_and_indices_count_every_chunk() -> None:
    text = ["Zürich: 5 °C. ", "Bern: 4 °C."]
    metadata = {
        "webSearchQueries": ["weather zürich", "weather bern"],
        "groundingChunks": [{"maps": {"uri": "maps://x"}}, {"web": {"uri": "https://a.example", "title": "A"}},
                            {"retrievedContext": {"uri": "gs://b", "title": "B"}}],
        "groundingSupports": [
            {"segment": {"startIndex": 0, "endIndex": len(text[0].encode()) - 1, "text": text[0].strip()},
             "groundingChunkIndices": [1]},
            {"segment": {"startIndex": len(text[0].encode()), "endIndex": len("".join(text).encode()),
                         "text": text[1]}, "groundingChunkIndices": [2, 1]},
        ],
    }
    tools = GeminiServerTools()
    chunks = tools.grounding(metadata, text, raw=None)
    assert tools.grounding(metadata, text, raw=None) == []  # once per response
    search = chunks[0].server_tool
    assert search is not None and search.arguments == {"queries": ["weather zürich", "weather bern"]}
    assert search.output == [{"url": "https://a.example", "title": "A"}, {"url": "gs://b", "title": "B"}]
    citations = [chunk.citation for chunk in chunks[1:]]
    assert citations == [
        Citation(url="https://a.example", title="A", cited_text="Zürich: 5 °C.", start=0, end=13, source_id="1"),
        Citation(url="gs://b", title="B", cited_text="Bern: 4 °C.", start=14, end=25, source_id="2"),
    ]
    answer = "".join(text)
    assert answer[citations[1].start:citations[1].end] == "Bern: 4 °C."
