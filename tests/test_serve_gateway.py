"""The gateway through real clients nobody here wrote: the official ``openai`` SDK against
``llmstream serve``'s app under uvicorn, fed by the loopback fakes of each upstream provider."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

import llmstream
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    error_response,
    gemini_stream,
    gemini_text_responses,
    openai_stream,
    openai_text_chunks,
)
from tests.serve_helpers import running

openai = pytest.importorskip("openai")
pytest.importorskip("starlette", reason="llmstream[serve] (starlette) is not installed")
from llmstream.serve import create_app  # noqa: E402

KEYS = {"openai": "sk" "-test-gateway-0123456789", "anthropic": "sk" "-ant-test-gateway-0123456789",
        "gemini": "AI" "zaSyTEST-gateway-0123456789"}
CALLS = [{"id": "call_a", "name": "weather", "arguments": {"city": "Oslo"}},
         {"id": "call_b", "name": "time", "arguments": {"zone": "CET"}}]


def factory_for(upstream: LoopbackServer) -> Callable[[str], llmstream.BaseClient]:
    def factory(spec: str) -> llmstream.BaseClient:
        provider = spec.partition(":")[0]
        if provider == "mock":
            return llmstream.client(spec, delay=0.001)
        base = upstream.url + "/v1" if provider == "openai" else upstream.url
        return llmstream.client(spec, api_key=KEYS[provider], base_url=base, max_retries=0, retry_backoff=0.0)
    return factory


@pytest.fixture
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def gateway(upstream: LoopbackServer) -> Iterator[str]:
    app = create_app("openai:gpt-4o-mini", client_factory=factory_for(upstream), heartbeat=1.0, body_limit=64_000)
    with running(app) as url:
        yield url


def sdk(url: str, **kwargs: Any) -> Any:
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, **kwargs)


def script(provider: str, pieces: list[str], *, tools: bool = True, **kw: Any) -> Scripted:
    if provider == "openai":
        calls = [{"id": c["id"], "name": c["name"], "arguments_pieces": [json.dumps(c["arguments"])[:5],
                                                                          json.dumps(c["arguments"])[5:]]}
                 for c in CALLS] if tools else None
        return Scripted(chunks=openai_stream(openai_text_chunks(pieces, tool_calls=calls)), **kw)
    if provider == "anthropic":
        uses = [{"id": c["id"], "name": c["name"], "input": c["arguments"]} for c in CALLS] if tools else None
        return Scripted(chunks=anthropic_stream(anthropic_text_events(pieces, tool_uses=uses)), **kw)
    fcalls = [{"name": c["name"], "args": c["arguments"]} for c in CALLS] if tools else None
    return Scripted(chunks=gemini_stream(gemini_text_responses(pieces, function_calls=fcalls)), **kw)


MODELS = {"openai": "openai:gpt-4o-mini", "anthropic": "anthropic:claude-x", "gemini": "gemini:gemini-2.5-flash"}


@pytest.mark.parametrize("provider", sorted(MODELS))
def test_openai_sdk_streams_text_parallel_tools_and_usage(provider: str, upstream: LoopbackServer,
                                                          gateway: str) -> None:
    upstream.enqueue(script(provider, ["Checking ", "both."]))
    stream = sdk(gateway).chat.completions.create(
        model=MODELS[provider], messages=[{"role": "user", "content": "weather and time?"}], stream=True,
        stream_options={"include_usage": True},
        tools=[{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
               for n in ("weather", "time")],
    )
    text, calls, usage, reasons = [], {}, None, []
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text.append(choice.delta.content or "")
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
            for call in choice.delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                if call.id:
                    entry["id"], entry["name"] = call.id, call.function.name
                entry["arguments"] += call.function.arguments or ""
    assert "".join(text) == "Checking both."
    assert [calls[i]["name"] for i in sorted(calls)] == ["weather", "time"]
    assert [json.loads(calls[i]["arguments"]) for i in sorted(calls)] == [c["arguments"] for c in CALLS]
    assert reasons == ["tool_calls"]
    assert usage is not None and usage.prompt_tokens > 0 and usage.total_tokens >= usage.completion_tokens > 0
    assert KEYS[provider] not in json.dumps(dict(stream.response.headers))


def test_openai_sdk_stream_helper_and_non_streamed_create(upstream: LoopbackServer, gateway: str) -> None:
    client = sdk(gateway)
    upstream.enqueue(script("openai", ["Hel", "lo"], tools=False))
    with client.chat.completions.stream(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]) as s:
        deltas = [event.delta for event in s if event.type == "content.delta" and event.delta]
        final = s.get_final_completion()
    assert deltas == ["Hel", "lo"]
    assert final.choices[0].message.content == "Hello"
    upstream.enqueue(script("anthropic", ["Whole ", "answer"]))
    done = client.chat.completions.create(model="anthropic:claude-x", messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "Whole answer"
    assert [c.function.name for c in done.choices[0].message.tool_calls] == ["weather", "time"]
    assert done.choices[0].finish_reason == "tool_calls" and done.usage.prompt_tokens == 10


def test_models_unknown_model_oversized_body_and_bad_field(upstream: LoopbackServer, gateway: str) -> None:
    client = sdk(gateway)
    assert [m.id for m in client.models.list()] == ["openai:gpt-4o-mini"]
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="nope:x", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.APIStatusError) as big:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x" * 70_000}])
    assert big.value.status_code == 413
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gemini:gemini-2.5-flash", messages=[{"role": "user", "content": "x"}],
                                       seed=3)
    assert "'seed'" in str(bad.value) and bad.value.body["param"] == "seed"
    assert not upstream.requests


def test_unknown_fields_pass_to_the_provider_as_extra_body(upstream: LoopbackServer, gateway: str) -> None:
    upstream.enqueue(script("openai", ["ok"], tools=False))
    out = sdk(gateway).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                               seed=3, top_p=0.5, tool_choice="auto")
    assert out.choices[0].message.content == "ok"
    sent = upstream.requests[-1].json
    assert sent["seed"] == 3 and sent["top_p"] == 0.5 and sent["tool_choice"] == "auto"


def test_upstream_refusal_is_a_real_http_error(upstream: LoopbackServer, gateway: str) -> None:
    upstream.enqueue(error_response("openai", 401, "bad key upstream"))
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(gateway).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                             stream=True)
    assert caught.value.status_code == 401
    assert KEYS["openai"] not in str(caught.value.body)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_upstream_error_mid_stream_reaches_the_sdk_after_the_partial(provider: str, upstream: LoopbackServer,
                                                                     gateway: str) -> None:
    # openai: role, par, tial | anthropic: message_start, ping, block start, par, tial
    upstream.enqueue(script(provider, ["par", "tial", "never"], tools=False,
                            drop_after=3 if provider == "openai" else 5))
    seen = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in sdk(gateway).chat.completions.create(
            model=MODELS[provider], messages=[{"role": "user", "content": "x"}], stream=True
        ):
            seen.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(seen) == "partial"
    assert "interrupted" in str(caught.value).lower() or "closed" in str(caught.value).lower()


def raw_post(url: str, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json"})
    return conn.getresponse()


def test_heartbeat_comments_during_a_3s_upstream_silence(upstream: LoopbackServer, gateway: str) -> None:
    frames = openai_stream(openai_text_chunks(["after ", "silence"]))
    upstream.enqueue(Scripted(chunks=[frames[0], b"".join(frames[1:])], delay_between=3.0))
    response = raw_post(gateway, "/v1/chat/completions",
                        {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert response.status == 200 and response.getheader("content-type", "").startswith("text/event-stream")
    body = response.read().decode()
    assert body.count(": keep-alive\n\n") >= 2
    head, _, tail = body.partition(": keep-alive")
    assert '"role":"assistant"' in head and "silence" in tail and tail.rstrip().endswith("data: [DONE]")


def test_client_disconnect_closes_the_upstream(upstream: LoopbackServer, gateway: str) -> None:
    upstream.enqueue(script("openai", ["a", "b", "c", "d"], tools=False, gate_after=3))
    stream = sdk(gateway).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}],
                                                  stream=True)
    got = [c.choices[0].delta.content for c in (next(stream), next(stream))]
    assert got == ["", "a"]
    assert upstream.wait_gated(1, timeout=5) and upstream.open_connections >= 1
    stream.close()
    assert upstream.wait_idle(timeout=2.0), "the upstream connection stayed open after the client left"


def test_200_concurrent_gateway_streams_finish_without_error(gateway: str) -> None:
    async def main() -> list[str]:
        client = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="unused", max_retries=0, timeout=60)

        async def one(n: int) -> str:
            stream = await client.chat.completions.create(
                model="mock:echo", stream=True, messages=[{"role": "user", "content": f"request {n} says hi"}])
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        try:
            return await asyncio.gather(*(one(n) for n in range(200)))
        finally:
            await client.close()

    texts = asyncio.run(main())
    assert texts == [f"request {n} says hi" for n in range(200)]


def test_auth_token_is_required_when_set(upstream: LoopbackServer) -> None:
    app = create_app("mock:echo", auth_token="t0ken", client_factory=factory_for(upstream))
    with running(app) as url:
        with pytest.raises(openai.AuthenticationError):
            sdk(url).models.list()
        client = openai.OpenAI(base_url=url + "/v1", api_key="t0ken", max_retries=0)
        out = client.chat.completions.create(model="mock:echo", messages=[{"role": "user", "content": "hi you"}])
        assert out.choices[0].message.content == "hi you"
        page = http.client.HTTPConnection("127.0.0.1", urlsplit(url).port, timeout=10)
        page.request("GET", "/")
        html = page.getresponse().read().decode()
        assert '"auth": true' in html and "t0ken" not in html


def test_page_is_one_offline_file(gateway: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(gateway).port, timeout=10)
    conn.request("GET", "/")
    response = conn.getresponse()
    html = response.read().decode()
    assert response.status == 200 and "<script>" in html and "api/chat" in html
    assert "http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html  # no CDN


def test_import_llmstream_loads_no_server_framework() -> None:
    import subprocess
    import sys

    code = ("import sys, llmstream, llmstream.serve\n"
            "print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"



@pytest.mark.parametrize("form", ["ndjson", "sse"])
def test_events_endpoint_speaks_the_cli_json_events(form: str, upstream: LoopbackServer, gateway: str) -> None:
    upstream.enqueue(script("openai", ["par", "tial", "never"], tools=False, drop_after=3))
    path = "/api/events?format=ndjson" if form == "ndjson" else "/api/events"
    response = raw_post(gateway, path, {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
    text = response.read().decode()
    if form == "ndjson":
        assert response.getheader("content-type") == "application/x-ndjson"
        objects = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        objects = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [o["text"] for o in objects if o["type"] == "text"] == ["par", "tial"]
    assert objects[-2]["type"] == "error" and objects[-1]["type"] == "completion"
    assert objects[-1]["text"] == "partial" and objects[-1]["error"]["type"] == "StreamInterruptedError"
