"""``llmstream --schema`` / ``--schema-multi``: the concise syntax, schema files and inline JSON go out as
``response_format``; stdout gets the validated object once, as JSON; anything else is a clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from llmstream import ConfigurationError, cli
from llmstream._output import check, parse_schema_dsl
from tests.cli_helpers import (  # noqa: F401  (cli_home: an autouse fixture)
    against,
    cli_home,
    inproc,
    make_env,
    messages,
    responses,
    run,
    sent,
    text_stream,
)
from tests.loopback import LoopbackServer, Scripted

DOG = ['{"name": "Re', 'x", "age"', ": 3, ", '"bio": "A good dog."}']


def schema_sent(server: LoopbackServer, index: int = -1) -> dict[str, Any]:
    fmt = sent(server, index)["response_format"]
    assert fmt["type"] == "json_schema"
    spec: dict[str, Any] = fmt["json_schema"]
    return spec


# -- the concise syntax (simonw/llm's schema_dsl, same cases) ---------------------------------------


@pytest.mark.parametrize(
    ("text", "properties"),
    [
        ("name", {"name": {"type": "string"}}),
        ("name str, age int, bio: a short bio",
         {"name": {"type": "string"}, "age": {"type": "integer"},
          "bio": {"type": "string", "description": "a short bio"}}),
        ("name: full name, age int: years old",
         {"name": {"type": "string", "description": "full name"},
          "age": {"type": "integer", "description": "years old"}}),
        ("\n        name\n        bio\n        age int\n        ",
         {"name": {"type": "string"}, "bio": {"type": "string"}, "age": {"type": "integer"}}),
        ("name: the person's name\nage int: their age in years, must be positive\nbio: a short bio, no more than three",
         {"name": {"type": "string", "description": "the person's name"},
          "age": {"type": "integer", "description": "their age in years, must be positive"},
          "bio": {"type": "string", "description": "a short bio, no more than three"}}),
        ("  name  ,  age   int  :  person's age  ",
         {"name": {"type": "string"}, "age": {"type": "integer", "description": "person's age"}}),
        ("ok bool, score float, label string, count integer",
         {"ok": {"type": "boolean"}, "score": {"type": "number"}, "label": {"type": "string"},
          "count": {"type": "integer"}}),
    ],
)
def test_the_concise_syntax_reads_like_simonw_llm(text: str, properties: dict[str, Any]) -> None:
    schema = parse_schema_dsl(text)
    assert schema == {
        "type": "object", "properties": properties, "required": list(properties), "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":just a description", "missing a name before ':'"),
        ("name, :description", "missing a name before ':'"),
        ("name text", "unknown type 'text'"),
        ("full name str", "expected 'name [type][: description]'"),
        ("name, name int", "given twice"),
        (" , \n ", "no fields"),
    ],
)
def test_the_concise_syntax_refuses_what_it_cannot_read(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        parse_schema_dsl(text)


def test_multi_wraps_the_object_in_an_items_list() -> None:
    multi = parse_schema_dsl("name, age int: The age", multi=True)
    assert multi["required"] == ["items"]
    item = multi["properties"]["items"]
    assert item["type"] == "array"
    assert item["items"]["properties"]["age"] == {"type": "integer", "description": "The age"}
    assert check({"items": [{"name": "a", "age": 2}]}, multi) == []
    assert check({"items": [{"name": "a"}]}, multi) != []


# -- the command --------------------------------------------------------------------------------------


def test_schema_dsl_sends_a_strict_json_schema_and_prints_the_object(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream(*DOG)))
    result = run(against(loopback, "--schema", "name str, age int, bio: a short bio", "Invent a dog"),
                 make_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "Rex", "age": 3, "bio": "A good dog."}
    assert result.stdout.count("\n") == 5  # one pretty-printed document, nothing streamed before it
    assert result.stderr == ""
    spec = schema_sent(loopback)
    assert spec["strict"] is True
    assert spec["schema"]["required"] == ["name", "age", "bio"]
    assert spec["schema"]["properties"]["bio"] == {"type": "string", "description": "a short bio"}
    (row,) = responses(tmp_path)
    assert row["partial"] == 0 and json.loads(row["text"])["name"] == "Rex"


def test_schema_multi_from_a_json_file(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "dog.json"
    path.write_text(json.dumps({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}))
    loopback.enqueue(Scripted(chunks=text_stream('{"items": [{"name": "Rex"}, ', '{"name": "Fido"}]}')))
    assert cli.main(inproc(loopback, monkeypatch, "--schema-multi", str(path), "Two dogs")) == 0
    assert json.loads(capsys.readouterr().out) == {"items": [{"name": "Rex"}, {"name": "Fido"}]}
    schema = schema_sent(loopback)["schema"]
    assert schema["required"] == ["items"]
    assert schema["properties"]["items"]["items"]["properties"] == {"name": {"type": "string"}}


def test_inline_json_schema_and_json_output_carries_the_object(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    inline = json.dumps({"type": "object", "title": "Dog", "properties": {"age": {"type": "integer"}}})
    loopback.enqueue(Scripted(chunks=text_stream('{"age"', ": 3}")))
    assert cli.main(inproc(loopback, monkeypatch, "--json", "--schema", inline, "A dog")) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["type"] for line in lines if line["type"] == "text"] == ["text", "text"]
    assert lines[-1]["type"] == "completion" and lines[-1]["output"] == {"age": 3}
    spec = schema_sent(loopback)
    assert spec["name"] == "Dog" and "strict" not in spec  # an open object: not strict-able, sent as given


def test_truncated_object_is_an_error_with_nothing_on_stdout(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream(*DOG[:2], finish_reason="length")))
    result = run(against(loopback, "--schema", "name, age int", "Invent a dog"), make_env(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("llmstream: error: OutputValidationError:") and "cut off (finish reason length)" in line
    assert "Traceback" not in result.stderr
    (row,) = responses(tmp_path)
    assert row["partial"] == 1 and row["text"] == "".join(DOG[:2])


def test_a_refusal_prints_no_object_and_fails(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.loopback import openai_stream
    from tests.test_structured_output import refusal_chunks

    loopback.enqueue(Scripted(chunks=openai_stream(refusal_chunks())))
    assert cli.main(inproc(loopback, monkeypatch, "--schema", "name", "Weather?")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the model refused: I can't help with that." in captured.err


def test_continue_sends_the_history_with_the_new_schema(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback.enqueue(Scripted(chunks=text_stream(*DOG)), Scripted(chunks=text_stream('{"name": "Fido"}')))
    assert cli.main(inproc(loopback, monkeypatch, "--schema", "name, age int, bio", "Invent a dog")) == 0
    capsys.readouterr()
    assert cli.main(inproc(loopback, monkeypatch, "-c", "--schema", "name", "Another one")) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "Fido"}
    history = messages(loopback)
    assert history[0] == {"role": "user", "content": "Invent a dog"}
    assert json.loads(history[1]["content"])["name"] == "Rex"
    assert history[2] == {"role": "user", "content": "Another one"}
    assert list(schema_sent(loopback)["schema"]["properties"]) == ["name"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--schema", "name strr"], "--schema: unknown type 'strr'"),
        (["--schema", "missing.json"], "--schema missing.json: no such file"),
        (["--schema", "{not json"], "--schema: not valid JSON"),
        (["--schema", '{"type": "string"}'], "must describe an object or an array"),
        (["--schema-multi", "  "], "--schema-multi needs a schema"),
    ],
)
def test_bad_schemas_are_usage_errors_before_any_request(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    args: list[str], message: str,
) -> None:
    assert cli.main(inproc(loopback, monkeypatch, *args, "Hi")) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert loopback.requests == []


def test_schema_and_schema_multi_together_is_a_usage_error(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(inproc(loopback, monkeypatch, "--schema", "a", "--schema-multi", "b", "Hi"))
    assert caught.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert loopback.requests == []
