"""Keys never leak: the probe of issue 21, kept so that it cannot regress.

A loopback server echoes what it received (every header, the credential alone, a ``Basic``
credential decoded, the request target) into a 401 body and into an in-band error event. Each
provider (the fast path too) talks to it with a vendor-shaped key, an unprefixed proxy key and a
key in ``base_url`` userinfo; then the key, in every form it travels in, is looked for in
everything that formats text: the error's ``str``/``repr``/``.body`` and its formatted traceback
chain (raised and as ``completion.error``), log records at DEBUG with ``logger.exception``,
``repr(client)``, the CLI's stdout/stderr/``--json`` and log database, and a cassette recorded of
the exchange with ``llmstream.testing``. Every search must come back empty.
"""

from __future__ import annotations

import base64
import gc
import json
import logging
import os
import sqlite3
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest

import llmstream
from llmstream._secrets import client_secrets, known_secrets, redact
from llmstream.testing import assert_no_secrets, vcr_config
from tests.loopback import (
    LoopbackServer,
    RecordedRequest,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    gemini_stream,
    gemini_text_responses,
    json_error_body,
    openai_stream,
    openai_text_chunks,
    responses_stream,
    responses_text_events,
    sse_frame,
)

# Fake keys, written split (see conftest.py): vendor-shaped, and a proxy key with no vendor prefix.
VENDOR_KEYS = {
    "openai": "sk" "-proj-" + "FAKE" * 8,
    "openai-responses": "sk" "-proj-" + "FAKE" * 8,
    "anthropic": "sk" "-ant-api03-" + "FAKE" * 10,
    "gemini": "AI" "za" + "FAKE" * 8 + "xyz",
    "openrouter": "sk" "-or-v1-" + "fake0" * 8,
}
PROXY_KEY = "local-proxy-" "secret-998877"
URL_KEY = "url-userinfo-" "secret-112233"
SPARE_KEY = "spare-api-" "key-fake-5566"  # the api_key given next to a userinfo base_url

PROVIDERS = [
    ("openai", {}),
    ("openai", {"sdk_models": False}),
    ("openai-responses", {}),
    ("anthropic", {}),
    ("gemini", {}),
    ("gemini", {"sdk_models": False}),
    ("openrouter", {}),
]
PROVIDER_IDS = ["openai", "openai-fast", "openai-responses", "anthropic", "gemini", "gemini-fast", "openrouter"]
VARIANTS = ["vendor-key", "proxy-key", "userinfo"]
VENDOR = {"openai": "openai", "openai-responses": "openai", "openrouter": "openai", "anthropic": "anthropic",
          "gemini": "gemini"}
PROVIDERS.append(("anthropic", {"sdk_models": False}))  # llmstream decodes the body (the SDK sends the request)
PROVIDER_IDS.append("anthropic-fast")


@attrs.frozen
class Case:
    provider: str
    sdk: dict[str, Any]
    variant: str
    failure: str  # "http401" or "in-band"

    def secrets(self) -> list[str]:
        if self.variant == "vendor-key":
            return [VENDOR_KEYS[self.provider]]
        if self.variant == "proxy-key":
            return [PROXY_KEY]
        return [URL_KEY, SPARE_KEY]

    def client_args(self, server: LoopbackServer) -> dict[str, Any]:
        root = server.url
        key = self.secrets()[0]
        if self.variant == "userinfo":
            root, key = root.replace("http://", f"http://user:{URL_KEY}@"), SPARE_KEY
        suffix = "/v1" if self.provider in ("openai", "openai-responses", "openrouter") else ""
        return {"api_key": key, "base_url": root + suffix}

    def client(self, server: LoopbackServer) -> llmstream.BaseClient:
        return llmstream.client(f"{self.provider}:m-1", max_retries=0, **self.client_args(server), **self.sdk)


def forms(secret: str) -> set[str]:
    """Every form a secret travels in: itself, percent-encoded, as the base64 of ``user:secret``."""
    return {secret, quote(secret, safe=""), base64.b64encode(f"user:{secret}".encode()).decode()}


def leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return sorted(form for secret in secrets for form in forms(secret) if form in data)


def echo(request: RecordedRequest) -> str:
    """What a proxy that echoes the request puts in its error text: every form the key came in."""
    credential = next(
        (request.headers[name] for name in ("authorization", "x-api-key", "x-goog-api-key") if name in request.headers),
        "",
    )
    got = credential.split()[-1] if credential else ""
    decoded = ""
    if credential.lower().startswith("basic "):
        decoded = base64.b64decode(got).decode()
    report = {"headers": request.headers, "url": request.target, "got": got, "decoded": decoded}
    return "request rejected, you sent " + json.dumps(report) + " and the key " + got


def responder(case: Case) -> Any:
    def answer(request: RecordedRequest) -> Scripted:
        message = echo(request)
        vendor = VENDOR[case.provider]
        if case.failure == "http401":
            return Scripted.json(json_error_body(vendor, 401, message), 401)
        return Scripted(chunks=in_band(case.provider, message))

    return answer


def in_band(provider: str, message: str) -> list[bytes]:
    """A 200 stream that starts answering, then carries an error event (with the echo)."""
    if provider in ("openai", "openrouter"):
        first = openai_text_chunks(["Hel"], usage=None)[:2]
        return [*openai_stream(first, done=False), sse_frame({"error": {"message": message, "code": "boom"}})]
    if provider == "openai-responses":
        events = responses_text_events(["Hel"])[:4]
        error = {"type": "error", "code": "server_error", "message": message, "param": None}
        return responses_stream([*events, error])
    if provider == "anthropic":
        events = anthropic_text_events(["Hel"])[:4]
        return anthropic_stream([*events, ("error", {"type": "error", "error": {"type": "api_error",
                                                                                  "message": message}})])
    first = gemini_text_responses(["Hel", "lo"])[:1]
    return [*gemini_stream(first), *gemini_stream([{"error": {"code": 500, "message": message,
                                                               "status": "INTERNAL"}}])]


CASES = [
    pytest.param(Case(provider, sdk, variant, failure), id=f"{pid}-{variant}-{failure}")
    for (provider, sdk), pid in zip(PROVIDERS, PROVIDER_IDS, strict=True)
    for variant in VARIANTS
    for failure in ("http401", "in-band")
]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loop:
        yield loop


def error_texts(error: BaseException) -> dict[str, str]:
    return {
        "str": str(error),
        "repr": repr(error),
        "body": str(getattr(error, "body", "")),
        "traceback": "".join(traceback.format_exception(type(error), error, error.__traceback__)),
        "chain reprs": " ".join(repr(vars(e)) for e in chain(error)),
    }


def chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        pending += [exc.__cause__, exc.__context__]


@pytest.mark.parametrize("case", CASES)
async def test_no_text_shows_the_key(
    case: Case, server: LoopbackServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.responder = responder(case)
    secrets = case.secrets()
    client = case.client(server)
    with caplog.at_level(logging.DEBUG):
        if mode == "sync":
            with pytest.raises(llmstream.LLMStreamError) as raised:
                client.stream_complete("hi")
            completion = client.stream_complete("hi", raise_on_error=False)
        else:
            with pytest.raises(llmstream.LLMStreamError) as raised:
                await client.astream_complete("hi")
            completion = await client.astream_complete("hi", raise_on_error=False)
            await client.aclose()
        logging.getLogger("app").exception("the stream failed", exc_info=raised.value)
        logging.getLogger("app").error("and again: %r / %s", completion.error, completion)
    # The echo really carried the key: otherwise there is nothing to find.
    assert any(leaks(request.headers.get(name, "") + echo(request), secrets)
               for request in server.requests for name in ("authorization", "x-api-key", "x-goog-api-key"))
    error = raised.value
    expected = llmstream.AuthenticationError if case.failure == "http401" else llmstream.InBandError
    assert isinstance(error, expected) and isinstance(completion.error, expected)
    assert "request rejected, you sent" in str(error)  # the echo is kept, only the key is gone
    texts = {f"raised {name}": text for name, text in error_texts(error).items()}
    texts |= {f"completion.error {name}": text for name, text in error_texts(completion.error).items()}
    texts |= {"completion": repr(completion), "logs": caplog.text, "repr(client)": repr(client)}
    found = {name: leaks(text, secrets) for name, text in texts.items() if leaks(text, secrets)}
    assert not found


def test_the_vendor_exception_stays_reachable_and_clean(server: LoopbackServer) -> None:
    """The chained vendor exception keeps its type, status and request; its request headers, URL and
    response body are redacted copies."""
    openai = pytest.importorskip("openai")
    case = Case("openai", {}, "userinfo", "http401")
    server.responder = responder(case)
    with pytest.raises(llmstream.AuthenticationError) as raised:
        case.client(server).stream_complete("hi")
    vendor = raised.value.__cause__
    assert isinstance(vendor, openai.AuthenticationError) and vendor.status_code == 401
    assert vendor.request.url.path == "/v1/chat/completions" and vendor.request.method == "POST"
    assert vendor.request.headers["authorization"] == "[REDACTED]"
    assert vendor.request.url.username == "user" and URL_KEY not in str(vendor.request.url)
    assert "request rejected" in vendor.response.text and not leaks(vendor.response.text, case.secrets())
    assert vendor.response.json()["error"]["message"].startswith("request rejected")
    assert json.loads(vendor.request.content)["model"] == "m-1"  # the request body is kept
    context = vendor.__context__  # httpx2's HTTPStatusError, hidden by `from None` but still linked
    assert context is not None and not leaks(str(context) + repr(vars(context)), case.secrets())


# -- the CLI ------------------------------------------------------------------------------------------

CLI_CASES = [
    pytest.param(Case(provider, {}, variant, failure), id=f"{provider}-{variant}-{failure}")
    for provider in ("openai", "anthropic", "gemini", "openrouter")
    for variant in VARIANTS
    for failure in ("http401", "in-band")
]


@pytest.mark.parametrize("case", CLI_CASES)
def test_the_cli_shows_no_key(case: Case, server: LoopbackServer, tmp_path: Path) -> None:
    server.responder = responder(case)
    secrets = case.secrets()
    args = case.client_args(server)
    database = tmp_path / "logs.db"
    env = {name: value for name, value in os.environ.items() if not name.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(LLMSTREAM_LOGS_DB=str(database), NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    env.pop("LLMSTREAM_MODEL", None)
    outputs: list[str] = []
    for extra in (["--json"], []):
        result = subprocess.run(
            [sys.executable, "-m", "llmstream", "hi", "-m", f"{case.provider}:m-1", "--retries", "0",
             "--base-url", args["base_url"], "--key", args["api_key"], *extra],
            env=env, input="", capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "request rejected" in result.stdout + result.stderr  # the error text itself is shown
        outputs += [result.stdout, result.stderr]
    rows = sqlite3.connect(database).execute("SELECT error FROM responses").fetchall()
    assert len(rows) == 2 and all("request rejected" in row[0] for row in rows)
    found = [leaks(text, secrets) for text in [*outputs, database.read_bytes().decode("utf-8", "replace")]]
    assert not any(found), found


# -- cassettes ----------------------------------------------------------------------------------------

CASSETTE_CASES = [
    pytest.param(Case(provider, sdk, variant, failure), id=f"{pid}-{variant}-{failure}")
    for (provider, sdk), pid in zip(PROVIDERS, PROVIDER_IDS, strict=True)
    for variant in ("proxy-key", "userinfo")
    for failure in ("http401", "in-band")
]


@pytest.mark.parametrize("case", CASSETTE_CASES)
def test_a_recorded_cassette_holds_no_key(case: Case, server: LoopbackServer, tmp_path: Path) -> None:
    vcr = pytest.importorskip("vcr")
    server.responder = responder(case)
    path = tmp_path / "exchange.yaml"
    client = case.client(server)
    with vcr.use_cassette(str(path), **vcr_config(record_mode="once")):
        completion = client.stream_complete("hi", raise_on_error=False)
    assert completion.error is not None
    text = path.read_text(encoding="utf-8")
    assert "request rejected" in text and "127.0.0.1" in text  # the exchange was recorded
    assert not leaks(text, case.secrets())
    assert_no_secrets(path, secrets=case.secrets())


LEAKED = {
    "given": f"body: '{{\"got\": \"{PROXY_KEY}\"}}'",
    "given, base64 of user:key": "body: " + base64.b64encode(f"user:{PROXY_KEY}".encode()).decode(),
    "userinfo": "uri: http://user:hunter2hunter2@127.0.0.1/v1",
    "token userinfo": "uri: https://ghp0123456789@example.com/v1",
    "bearer": "body: 'Authorization: Bearer abc.def-0123'",
    "x-api-key": '"x-api-key": "unprefixed-0123"',
    "x-goog-api-key": "headers:\n  x-goog-api-key:\n  - anything-at-all\n",
    "basic": 'authorization: "Basic dXNlcjpwYXNzd29yZDE="',
}


def test_assert_no_secrets_passes_redacted_cassettes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.yaml"
    clean.write_text("uri: http://user:%5BREDACTED%5D@127.0.0.1/v1\nbody: 'Bearer [REDACTED], x-api-key: [REDACTED]'\n")
    assert_no_secrets(clean, secrets=[PROXY_KEY])


@pytest.mark.parametrize("text", list(LEAKED.values()), ids=list(LEAKED))
def test_assert_no_secrets_catches_any_shape(tmp_path: Path, text: str) -> None:
    path = tmp_path / "leak.yaml"
    path.write_text(text)
    with pytest.raises(AssertionError, match=r"leak\.yaml: "):
        assert_no_secrets(path, secrets=[PROXY_KEY])


# -- the pieces ----------------------------------------------------------------------------------------


def test_client_secrets_cover_every_form() -> None:
    decoded = URL_KEY + "/x"
    secrets = client_secrets(PROXY_KEY, f"https://user:{quote(decoded, safe='')}@host/v1?key=query-secret-77&a=b")
    expected = {PROXY_KEY, decoded, quote(decoded, safe=""), "query-secret-77",
                base64.b64encode(f"user:{decoded}".encode()).decode()}
    assert expected <= set(secrets)
    assert "user" not in secrets and "b" not in secrets  # the user name and other parameters are no secrets
    assert [len(s) for s in secrets] == sorted((len(s) for s in secrets), reverse=True)  # longest replaced first
    token = client_secrets(None, f"https://{URL_KEY}@host")
    assert URL_KEY in token and base64.b64encode(f"{URL_KEY}:".encode()).decode() in token
    assert client_secrets("test", "http://127.0.0.1/v1") == ()  # too short to be a secret: nothing garbled


@pytest.mark.parametrize("provider", ["openai", "openai-responses", "anthropic", "gemini", "openrouter", "mock"])
def test_repr_of_a_client_masks_userinfo_and_query(provider: str) -> None:
    base = f"http://user:{URL_KEY}@proxy.example:8080/v1?key={PROXY_KEY}&region=eu"
    client = llmstream.client(f"{provider}:m-1", api_key=SPARE_KEY, base_url=base)
    text = repr(client)
    assert not leaks(text, [URL_KEY, PROXY_KEY, SPARE_KEY]), text
    if provider != "mock":
        assert "user:[REDACTED]@proxy.example:8080" in text and "region=eu" in text


def test_redaction_keeps_the_text_around_and_is_idempotent() -> None:
    text = (f'{{"authorization": "Basic {base64.b64encode(b"u:pw-0123456789").decode()}", "x-api-key": "{PROXY_KEY}"}}'
            f" at https://user:{URL_KEY}@host/v1?key=abcdef123&alt=sse, Bearer tok.en-0123456789")
    once = redact(text)
    assert once == redact(once) and not leaks(once, [PROXY_KEY, URL_KEY])
    assert "abcdef123" not in once and "tok.en-0123456789" not in once and "pw-0123456789" not in once
    assert once.count("[REDACTED]") == 5 and "https://user:[REDACTED]@host/v1?key=[REDACTED]&alt=sse" in once


def test_the_registry_forgets_a_client_that_is_gone() -> None:
    key = "registry-only-" "fake-key-4242"
    client = llmstream.client("openai:m-1", api_key=key)
    assert key in known_secrets()
    del client
    gc.collect()
    assert key not in known_secrets()


def test_vendor_log_records_are_redacted_with_their_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    client = llmstream.client("anthropic:m-1", api_key=PROXY_KEY)
    try:
        raise RuntimeError(f"boom with {PROXY_KEY}")
    except RuntimeError:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("anthropic._base_client").debug("Request %s", {"x-api-key": PROXY_KEY}, exc_info=True)
            logging.getLogger("httpx2").info("HTTP Request: POST %s", f"http://user:{PROXY_KEY}@h/v1")
    assert "boom with" in caplog.text and "HTTP Request: POST http://user:" in caplog.text
    assert not leaks(caplog.text, [PROXY_KEY]) and client.model == "m-1"
