"""`-a/--attach`: files, URLs and stdin sent as content parts; `-c` sends them again."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from tests.cli_helpers import against, make_env, run, text_stream
from tests.loopback import LoopbackServer, Scripted

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def sent(loopback: LoopbackServer, index: int = -1) -> Any:
    return json.loads(loopback.requests[index].body)


def test_attach_a_file_sends_it_as_an_image_part_and_c_sends_it_again(loopback: LoopbackServer, tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    loopback.enqueue(Scripted(chunks=text_stream("A cat.")), Scripted(chunks=text_stream("Still a cat.")))
    env = make_env(tmp_path)
    first = run(against(loopback, "-a", str(image), "describe it"), env)
    assert first.returncode == 0, first.stderr
    content = sent(loopback)["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "describe it"}
    assert content[1]["type"] == "image_url"
    assert content[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    again = run(against(loopback, "-c", "and now?"), env)
    assert again.returncode == 0, again.stderr
    history = sent(loopback)["messages"]
    assert history[0]["content"][1]["type"] == "image_url"  # the saved reference was read again


def test_attach_from_stdin_is_not_joined_to_the_prompt(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("ok")))
    import subprocess

    from tests.cli_helpers import TIMEOUT

    result = subprocess.run(against(loopback, "-a", "-", "what is this"), env=make_env(tmp_path), input=PNG,
                            capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    content = sent(loopback)["messages"][-1]["content"]
    assert content[0] == {"type": "text", "text": "what is this"}
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_a_missing_attachment_is_a_usage_error_before_any_request(loopback: LoopbackServer, tmp_path: Path) -> None:
    result = run(against(loopback, "-a", str(tmp_path / "nope.png"), "describe it"), make_env(tmp_path))
    assert result.returncode == 2 and "nope.png" in result.stderr
    assert loopback.requests == []
