"""Structured output, sans-IO: schemas, validation, lenient partials, the concise schema syntax."""

from __future__ import annotations

import dataclasses
import json

import pydantic
import pytest
from typing_extensions import TypedDict

from llmstream import ConfigurationError, OutputValidationError
from llmstream._output import check, output_spec, parse_schema_dsl, strict_schema


class Weather(pydantic.BaseModel):
    city: str
    temperature: float
    conditions: list[str]


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Person(TypedDict):
    name: str
    age: int


SCHEMA = {
    "type": "object",
    "title": "Reading",
    "properties": {"value": {"type": "number"}, "unit": {"type": "string", "enum": ["C", "F"]}},
    "required": ["value", "unit"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("output_type", "text", "expected"),
    [
        (Weather, '{"city": "Paris", "temperature": 18.5, "conditions": ["sun"]}',
         Weather(city="Paris", temperature=18.5, conditions=["sun"])),
        (Point, '{"x": 1, "y": 2}', Point(1, 2)),
        (Person, '{"name": "Ada", "age": 36}', {"name": "Ada", "age": 36}),
        (SCHEMA, '{"value": 3, "unit": "C"}', {"value": 3, "unit": "C"}),
    ],
)
def test_every_kind_of_output_type_validates_its_json(output_type: object, text: str, expected: object) -> None:
    spec = output_spec(output_type)
    assert spec.schema["type"] == "object"
    assert spec.validate(text) == expected


@pytest.mark.parametrize(
    ("output_type", "text", "needle"),
    [
        (Weather, '{"city": "Paris", "temperature": "warm", "conditions": []}', "temperature"),
        (Weather, '{"city": "Paris", "temp', "not valid JSON"),
        (SCHEMA, '{"value": 3, "unit": "K"}', "not one of"),
        (SCHEMA, '{"value": 3}', "unit: required"),
    ],
)
def test_invalid_or_truncated_output_is_an_output_validation_error(output_type: object, text: str, needle: str) -> None:
    with pytest.raises(OutputValidationError) as caught:
        output_spec(output_type).validate(text)
    assert needle in str(caught.value)
    assert caught.value.raw == text
    assert caught.value.errors


def test_partial_objects_grow_and_never_raise() -> None:
    spec = output_spec(Weather)
    text = json.dumps({"city": "Paris", "temperature": 18.5, "conditions": ["sun", "wind"]})
    seen: list[dict[str, object]] = []
    for end in range(len(text) + 1):
        partial = spec.partial(text[:end])
        if partial is not None:
            seen.append(dict(partial.__dict__) if isinstance(partial, Weather) else partial)
    assert seen[-1] == {"city": "Paris", "temperature": 18.5, "conditions": ["sun", "wind"]}
    sizes = [len(fields) for fields in seen]
    assert sizes == sorted(sizes)  # fields only ever appear, never vanish
    assert all(fields.get("temperature") in (None, 18.5) for fields in seen)  # no half-read number
    assert output_spec(SCHEMA).partial("{\"value\": 3, \"un") == {"value": 3}
    assert output_spec(SCHEMA).partial('{"unit": "Fee') == {"unit": "Fee"}  # letters in a string stay
    assert output_spec(SCHEMA).partial('{"unit": "a\\"b", "value": 1') == {"unit": 'a"b'}


def test_strictness_follows_the_schema() -> None:
    assert output_spec(SCHEMA).strict
    loose = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
    assert not output_spec(loose).strict
    assert strict_schema(loose)["additionalProperties"] is False


def test_bad_output_types_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        output_spec(int)
    with pytest.raises(ConfigurationError):
        output_spec({"type": "string"})


def test_the_concise_schema_syntax() -> None:
    schema = parse_schema_dsl("name str, age int, bio: a short bio")
    assert schema["properties"] == {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "bio": {"type": "string", "description": "a short bio"},
    }
    assert schema["required"] == ["name", "age", "bio"]
    multi = parse_schema_dsl("name\nscore float: out of ten", multi=True)
    score = multi["properties"]["items"]["items"]["properties"]["score"]
    assert score == {"type": "number", "description": "out of ten"}
    assert check({"items": [{"name": "a", "score": 1.5}]}, multi) == []
    with pytest.raises(ConfigurationError, match="unknown type"):
        parse_schema_dsl("name text")
