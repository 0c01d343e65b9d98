"""`-m vertex:… --project --location` from the command line (no request: a bad setup fails first)."""

from __future__ import annotations

import argparse

from llmstream.cli.args import prompt_parser
from llmstream.cli.turn import History, client_options


def test_project_and_location_become_client_options_and_are_kept_for_c() -> None:
    argv = ["-m", "vertex:gemini-2.5-flash", "--project", "p1", "--location", "europe-west4", "hi"]
    args = prompt_parser().parse_args(argv)
    options = client_options(args, History())
    assert options == {"project": "p1", "location": "europe-west4"}
    later = prompt_parser().parse_args(["-c", "again"])
    assert client_options(later, History(client_options=options)) == options


def test_without_them_nothing_is_passed() -> None:
    args: argparse.Namespace = prompt_parser().parse_args(["-m", "vertex:gemini-2.5-flash", "hi"])
    assert client_options(args, History()) == {}
