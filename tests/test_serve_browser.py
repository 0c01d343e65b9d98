"""A real browser on the bundled chat page: headless Chromium (Debian's ``chromium``, driven by
``playwright`` with ``executable_path``; no browser download) sends a prompt, sees the answer grow
in steps, presses Stop mid-stream, and the upstream loopback server sees its connection closed."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

import llmstream
from tests.loopback import LoopbackServer, Scripted, openai_stream, openai_text_chunks
from tests.serve_helpers import running

pytest.importorskip("starlette", reason="llmstream[serve] (starlette) is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
from llmstream.serve import create_app  # noqa: E402

CHROMIUM = os.environ.get("LLMSTREAM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("no chromium executable (apt-get install chromium; .ci/run does)", allow_module_level=True)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PIECES = ["Otters ", "are ", "semi-aquatic ", "mammals ", "that ", "never ", "arrive"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


RECORD = """() => {
  window.__snapshots = [];
  const log = document.getElementById("log");
  new MutationObserver(() => {
    const nodes = log.querySelectorAll(".assistant .text");
    const text = Array.from(nodes).map((n) => n.textContent).join("");
    if (window.__snapshots[window.__snapshots.length - 1] !== text) window.__snapshots.push(text);
  }).observe(log, { subtree: true, childList: true, characterData: true });
}"""


def test_page_streams_then_stop_closes_the_upstream(browser: Any) -> None:
    frames = openai_stream(openai_text_chunks(PIECES))
    with LoopbackServer() as upstream:
        # role + five pieces at a readable pace, then the upstream holds until the client leaves
        upstream.enqueue(Scripted(chunks=frames, delay_between=0.15, gate_after=6))
        key = "sk" "-test-browser-0123456789"

        def factory(spec: str) -> llmstream.BaseClient:
            return llmstream.client(spec, api_key=key, base_url=upstream.url + "/v1", max_retries=0)

        with running(create_app("openai:gpt-4o-mini", client_factory=factory)) as url:
            page = browser.new_page()
            page.goto(url + "/")
            page.evaluate(RECORD)
            page.fill("#prompt", "tell me about otters")
            page.click("#send")
            page.wait_for_function("() => (window.__snapshots.at(-1) || '').includes('that ')", timeout=15_000)
            assert upstream.wait_gated(1, timeout=10)
            assert page.is_visible("#stop")
            page.click("#stop")
            assert upstream.wait_idle(timeout=5), "Stop did not close the upstream connection"
            page.wait_for_selector(".assistant .meta", timeout=5_000)
            snapshots = page.evaluate("window.__snapshots")
            stopped = page.inner_text(".assistant .meta")
            assert page.is_visible("#send")
            page.close()
    assert snapshots[-1] == "Otters are semi-aquatic mammals that "
    grew = [s for s in snapshots if s]
    assert len(grew) >= 3 and all(b.startswith(a) for a, b in itertools.pairwise(grew)), grew
    assert "never" not in snapshots[-1]
    assert stopped == "stopped"
    assert key not in "".join(snapshots)


def test_page_shows_reasoning_tools_sources_and_errors(browser: Any) -> None:
    from llmstream import ChunkType, Citation, StreamedChunk, ToolCall
    from llmstream.providers.mock import script_for_text

    script = [StreamedChunk(ChunkType.START, id="r", model="mock"),
              StreamedChunk(ChunkType.REASONING, "pondering otters"),
              StreamedChunk(ChunkType.TEXT, "See the source."),
              StreamedChunk(ChunkType.CITATION, citation=Citation(url="https://otters.example/", title="Otter facts")),
              *script_for_text("", tool_calls=[ToolCall("c1", "photo", '{"n": 1}')])[1:]]
    clients = {"mock:x": llmstream.MockClient(chunks=script),
               "mock:failing": llmstream.MockClient(text="half way there", fail_at=3, max_retries=0)}
    with running(create_app("mock:x", client_factory=clients.__getitem__)) as url:
        page = browser.new_page()
        page.goto(url + "/")
        page.fill("#prompt", "show me")
        page.click("#send")
        page.wait_for_selector(".assistant .meta", timeout=10_000)
        assert page.text_content(".assistant details.reasoning .reasoning-text") == "pondering otters"
        assert page.get_attribute(".assistant details.reasoning", "open") is None  # collapsed once done
        assert page.inner_text(".assistant .sources a") == "Otter facts"
        assert "photo" in page.inner_text(".assistant .tool") and '{"n":1}' in page.inner_text(".assistant .tool")
        page.fill("#model", "mock:failing")
        page.fill("#prompt", "again")
        page.click("#send")
        page.wait_for_selector(".assistant >> nth=1 >> .error", timeout=10_000)
        second = page.locator(".assistant").nth(1)
        assert second.locator(".text").inner_text() == "half way "
        assert "connection dropped" in second.locator(".error").inner_text()
        page.close()
