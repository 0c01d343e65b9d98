"""The error tree and key redaction."""

from __future__ import annotations

import logging

import pytest

import llmstream
from llmstream import (
    AuthenticationError,
    BadRequestError,
    InBandError,
    LLMStreamError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from llmstream._errors import redact
from llmstream._retry import backoff_delay, is_retryable, parse_retry_after
from llmstream._settings import Settings
from llmstream._status import error_for_status


@pytest.mark.parametrize(
    "secret",
    [
        "sk" "-proj-abcdefghijklmnop0123456789",
        "sk" "-ant-api03-abcdefghijklmnop0123456789",
        "sk" "-or-v1-abcdefghijklmnop0123456789",
        "AI" "zaSyA-abcdefghijklmnop0123456789",
    ],
)
def test_key_shapes_are_redacted(secret: str) -> None:
    text = redact(f'{{"error": "invalid key {secret} given"}}')
    assert secret not in text and "[REDACTED]" in text


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abcdef0123456789",
        "x-api-key: abcdef0123456789",
        "x-goog-api-key=abcdef0123456789",
        "https://host/v1/models?key=abcdef0123456789&alt=sse",
    ],
)
def test_header_and_query_forms_are_redacted(text: str) -> None:
    assert "abcdef0123456789" not in redact(text)


def test_errors_redact_message_and_body_and_log_records(caplog: pytest.LogCaptureFixture) -> None:
    key = "sk" "-proj-abcdefghijklmnop0123456789"
    error = ProviderError(f"bad key {key}", provider="openai", status_code=401, body={"error": {"message": key}})
    assert key not in str(error) and key not in repr(error) and key not in str(error.body)
    with caplog.at_level(logging.ERROR):
        logging.getLogger("app").error("stream failed: %s", error)
    assert key not in caplog.text


@pytest.mark.parametrize(
    ("status", "cls"),
    [(401, AuthenticationError), (403, AuthenticationError), (400, BadRequestError), (404, BadRequestError),
     (422, BadRequestError), (429, RateLimitError), (500, ServerError), (529, ServerError), (402, ProviderError)],
)
def test_status_table(status: int, cls: type) -> None:
    assert type(error_for_status(status, "m", provider="p")) is cls


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    headers = {"retry-after-ms": "1500"}
    error = error_for_status(429, "m", provider="p", headers=headers)
    assert isinstance(error, RateLimitError) and error.retry_after == 1.5


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    settings = Settings(retry_after_cap=30.0)
    assert backoff_delay(0, RateLimitError("m", retry_after=3.0), settings) == 3.0
    assert backoff_delay(0, RateLimitError("m", retry_after=300.0), settings) == 30.0
    delays = [backoff_delay(n, ServerError("m"), Settings(retry_backoff=1.0, retry_backoff_max=8.0)) for n in range(6)]
    assert all(0.5 * min(8.0, 2**n) <= d <= min(8.0, 2**n) for n, d in enumerate(delays))


def test_what_is_retried() -> None:
    assert is_retryable(ServerError("m")) and is_retryable(RateLimitError("m")) and is_retryable(InBandError("m"))
    assert is_retryable(ProviderError("m", status_code=408)) and is_retryable(ProviderError("m", status_code=409))
    assert not is_retryable(AuthenticationError("m")) and not is_retryable(BadRequestError("m"))
    assert not is_retryable(llmstream.CallbackError("m")) and not is_retryable(llmstream.MalformedStreamError("m"))


def test_every_error_is_an_llmstream_error() -> None:
    for name in llmstream.__all__:
        value = getattr(llmstream, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, LLMStreamError)
