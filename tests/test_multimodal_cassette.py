"""A real recorded image request, rebuilt through llmstream's parts.

``openrouter/llm-openrouter__test_llm_openrouter__test_image_prompt__at603cd08__1.yaml`` in the shared
corpus is simonw/llm-openrouter sending a PNG as an OpenAI ``image_url`` data URL through the openai
SDK to OpenRouter. The same conversation, built with ``Conversation().user(text, Image.from_path())``
(the PNG written to a file first), must produce the recorded request body: exactly, through
``OpenAIClient`` (the recording's own client stack), and the same ``messages`` through
``OpenRouterClient``. The recorded response is served back by the loopback server and must give the
recorded answer.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmstream import BaseClient, Conversation, Image, OpenAIClient, OpenRouterClient
from tests.conftest import SHARED_CASSETTES
from tests.helpers import complete
from tests.loopback import LoopbackServer, Scripted

RECORDING = (
    SHARED_CASSETTES / "openrouter" / "llm-openrouter__test_llm_openrouter__test_image_prompt__at603cd08__1.yaml"
)
if not RECORDING.is_file():
    pytest.skip(f"the shared cassette corpus is not at {SHARED_CASSETTES}", allow_module_level=True)


def _recording() -> tuple[dict[str, Any], Scripted, str]:
    interaction = yaml.safe_load(RECORDING.read_text(encoding="utf-8"))["interactions"][0]
    request_body = json.loads(interaction["request"]["body"])
    response = interaction["response"]
    body = response["body"]["string"]
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    headers = {name: ", ".join(values) for name, values in response["headers"].items()
               if name.lower() not in ("content-length", "transfer-encoding", "content-encoding", "connection")}
    answer = "".join(
        choice["delta"].get("content") or ""
        for line in raw.decode("utf-8").splitlines()
        if line.startswith("data: {")
        for choice in json.loads(line[6:])["choices"]
    )
    return request_body, Scripted(status=response["status"]["code"], headers=headers, chunks=[raw]), answer


RECORDED, SERVED, ANSWER = _recording()


def conversation_from_parts(tmp_path: Path) -> Conversation:
    """The recorded prompt and image, as a user would build them: text and a PNG file."""
    text, image = RECORDED["messages"][0]["content"]
    prefix, _, encoded = image["image_url"]["url"].partition(",")
    assert prefix == "data:image/png;base64"
    path = tmp_path / "image.png"
    path.write_bytes(base64.b64decode(encoded))
    return Conversation().user(text["text"], Image.from_path(path))


def stream(client: BaseClient, server: LoopbackServer, tmp_path: Path, mode: str) -> Any:
    server.enqueue(SERVED)
    completion = complete(client, conversation_from_parts(tmp_path), mode)
    assert completion.text == ANSWER and ANSWER.strip()
    (request,) = server.requests
    assert request.path == "/api/v1/chat/completions"
    return request.json


def test_recorded_body_is_reproduced_through_the_openai_client(
    loopback: LoopbackServer, mode: str, tmp_path: Path
) -> None:
    client = OpenAIClient(RECORDED["model"], api_key="replay-key", base_url=loopback.url + "/api/v1", max_retries=0)
    assert stream(client, loopback, tmp_path, mode) == RECORDED


def test_recorded_messages_are_reproduced_through_the_openrouter_client(
    loopback: LoopbackServer, mode: str, tmp_path: Path
) -> None:
    client = OpenRouterClient(RECORDED["model"], api_key="replay-key", base_url=loopback.url + "/api/v1",
                              max_retries=0)
    body = stream(client, loopback, tmp_path, mode)
    assert body["messages"] == RECORDED["messages"]
    assert {key: body[key] for key in ("model", "stream", "stream_options")} == {
        key: RECORDED[key] for key in ("model", "stream", "stream_options")
    }
