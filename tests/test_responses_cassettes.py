"""The shared Responses-API recordings: what ``test_shared_cassettes`` does not compare.

Server tools (web search, MCP), citations (``url_citation``) and the output items a completion keeps
for the next turn, each against the openai SDK's own final response on the same bytes
(``tests.oracles.responses.py``), sync, async and through ``sdk_models=False``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SHARED_CASSETTES

if not SHARED_CASSETTES.is_dir():
    pytest.skip(f"the shared cassette corpus is not at {SHARED_CASSETTES}", allow_module_level=True)

from llmstream import ChunkType, Completion
from tests.helpers import collect
from tests.loopback import LoopbackServer
from tests.oracles import corpus, llmstream_client, served, shared_ssl_context
from tests.oracles.responses import responses_sources

RESPONSES = [rec for rec in corpus(SHARED_CASSETTES) if rec.wire == "openai-responses" and rec.status == 200]
WITH_SOURCES = [rec for rec in RESPONSES if responses_sources(rec)[0] or responses_sources(rec)[1]]


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with shared_ssl_context(), LoopbackServer() as running:
        yield running


@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk", "own-decoding"])
@pytest.mark.parametrize("rec", RESPONSES, ids=[rec.id for rec in RESPONSES])
def test_server_tools_citations_and_kept_items(rec: object, server: LoopbackServer, mode: str,
                                               sdk_models: bool) -> None:
    tools, citations, items = responses_sources(rec)  # type: ignore[arg-type]
    server.default = served(rec)  # type: ignore[arg-type]
    chunks, completion = collect(llmstream_client(rec, server, sdk_models=sdk_models), "replay", mode)
    assert isinstance(completion, Completion) and completion.error is None
    assert completion.server_tools == tools
    assert completion.citations == citations
    assert completion.provider_output is not None and completion.provider_output.wire == "openai-responses"
    assert list(completion.provider_output.items) == items
    assert completion.provider_output.id == completion.id
    # Server tools never become client tool calls; every citation arrived as a chunk of its own.
    assert {call.id for call in completion.tool_calls}.isdisjoint({tool.id for tool in tools})
    streamed = [chunk.citation for chunk in chunks if chunk.type is ChunkType.CITATION]
    assert [c for c in citations if c in streamed] == citations


def test_the_corpus_has_server_tools_and_citations() -> None:
    """The recordings above do exercise the mapping: web search with citations, and MCP."""
    names = {tool.name for rec in WITH_SOURCES for tool in responses_sources(rec)[0]}
    assert names == {"web_search", "mcp_list_tools", "mcp:deepwiki.ask_question"}
    assert sum(len(responses_sources(rec)[1]) for rec in WITH_SOURCES) == 9


@pytest.mark.parametrize("rec", WITH_SOURCES, ids=[rec.id for rec in WITH_SOURCES])
def test_citation_offsets_point_into_the_answer(rec: object, server: LoopbackServer) -> None:
    """``start``/``end`` are character offsets into the text: the cited span holds the link's markdown."""
    server.default = served(rec)  # type: ignore[arg-type]
    _, completion = collect(llmstream_client(rec, server), "replay", "sync")
    for citation in completion.citations:
        assert citation.start is not None and citation.end is not None and citation.url is not None
        span = completion.text[citation.start:citation.end]
        assert span.startswith("([") and citation.url in span, (span, citation.url)
