"""Issue 20, points 2, 3 and 5: stdin with a prompt, bare model names and aliases, ``models``,
the key store (``keys``). The CLI runs as a subprocess with its own log and config directory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import llmstream
from llmstream import ConfigurationError
from llmstream._models import provider_for, resolve_model
from tests.cli_helpers import (  # noqa: F401  (cli_home: an autouse fixture)
    KEY,
    against,
    cli_home,
    command,
    make_env,
    messages,
    run,
    text_stream,
)
from tests.loopback import LoopbackServer, Scripted

# -- 2: stdin and the prompt ---------------------------------------------------------------------


def test_piped_stdin_is_joined_with_the_prompt_stdin_first(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("Fix the typo")))
    diff = "diff --git a/x b/x\n-teh\n+the\n"
    result = run(against(loopback, "write a commit message"), make_env(tmp_path), stdin=diff)
    assert result.returncode == 0, result.stderr
    assert messages(loopback)[-1] == {"role": "user", "content": diff.rstrip("\n") + "\n\nwrite a commit message"}


def test_help_says_how_stdin_and_the_prompt_combine(tmp_path: Path) -> None:
    helped = run(command("--help"), make_env(tmp_path))
    assert helped.returncode == 0
    assert "stdin first" in helped.stdout and "git diff | llmstream" in helped.stdout


# -- 3: bare model names, aliases, models ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("gpt-4o", "openai"), ("gpt-4.1-mini", "openai"), ("chatgpt-4o-latest", "openai"), ("o1", "openai"),
        ("o3-mini", "openai"), ("o4-mini", "openai"), ("claude-sonnet-4-6", "anthropic"),
        ("gemini-2.5-flash", "gemini"), ("models/gemini-2.5-pro", "gemini"),
        ("anthropic/claude-sonnet-4.5", "openrouter"), ("meta-llama/llama-3.1-8b-instruct:free", "openrouter"),
        ("llama3", None), ("mistral-large", None),
    ],
)
def test_bare_model_names_resolve_to_their_provider(name: str, provider: str | None) -> None:
    assert provider_for(name) == provider


def test_the_factory_takes_bare_names_and_keeps_prefixed_specs() -> None:
    assert resolve_model("openai:Qwen/Qwen2.5-7B", {"openai"}) == "openai:Qwen/Qwen2.5-7B"
    assert type(llmstream.client("gpt-4o-mini", api_key="k")).__name__ == "OpenAIClient"
    assert llmstream.client("claude-haiku-4-5", api_key="k").provider == "anthropic"
    router = llmstream.client("meta-llama/llama-3.1-8b-instruct:free", api_key="k")
    assert (router.provider, router.model) == ("openrouter", "meta-llama/llama-3.1-8b-instruct:free")
    with pytest.raises(ConfigurationError, match="expected 'provider:model'"):
        llmstream.client("llama3")


def test_a_bare_name_on_the_command_line(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.enqueue(Scripted(chunks=text_stream("ok")))
    argv = command("-m", "gpt-4o", "--base-url", loopback.url + "/v1", "--retries", "0", "Hi")
    result = run(argv, make_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert loopback.requests[-1].json["model"] == "gpt-4o"


def test_aliases_set_list_use_and_remove(loopback: LoopbackServer, tmp_path: Path) -> None:
    env = make_env(tmp_path)
    assert run(command("aliases", "set", "fast", "gpt-4.1-nano"), env).returncode == 0
    assert run(command("aliases", "list"), env).stdout == "fast\tgpt-4.1-nano\n"
    loopback.enqueue(Scripted(chunks=text_stream("ok")))
    result = run(command("-m", "fast", "--base-url", loopback.url + "/v1", "Hi"), env)
    assert result.returncode == 0, result.stderr
    assert loopback.requests[-1].json["model"] == "gpt-4.1-nano"
    assert run(command("aliases", "remove", "fast"), env).returncode == 0
    assert run(command("aliases", "list"), env).stdout == ""
    refused = run(command("aliases", "set", "openai:x", "gpt-4o"), env)
    assert refused.returncode == 2 and "plain word" in refused.stderr


def test_models_lists_providers_aliases_default_and_which_keys_are_present(tmp_path: Path) -> None:
    env = make_env(tmp_path, LLMSTREAM_MODEL="claude-sonnet-4-6", GEMINI_API_KEY=None)
    assert run(command("aliases", "set", "fast", "gemini-2.5-flash"), env).returncode == 0
    stored = "sk-or-" "stored-test-key-0123456789"
    assert run(command("keys", "set", "openrouter"), env, stdin=stored + "\n").returncode == 0
    listed = run(command("models"), env)
    assert listed.returncode == 0, listed.stderr
    text = listed.stdout
    assert "claude-sonnet-4-6" in text and "$LLMSTREAM_MODEL" in text
    assert "fast" in text and "gemini-2.5-flash" in text
    assert "key present ($OPENAI_API_KEY)" in text and "key present (key store)" in text
    assert "no key: set ANTHROPIC_API_KEY" in text
    assert KEY not in text and stored not in text and stored not in listed.stderr
    data = json.loads(run(command("models", "--json"), env).stdout)
    rows = {row["provider"]: row for row in data["providers"]}
    assert rows["openai"]["key_present"] and rows["openrouter"]["key_source"] == "key store"
    assert not rows["gemini"]["key_present"] and not rows["mock"]["needs_key"]
    assert data["aliases"] == {"fast": "gemini-2.5-flash"}
    assert KEY not in json.dumps(data)


@pytest.mark.parametrize("word", ["models", "chat", "keys", "logs", "aliases", "demo"])
def test_command_words_are_never_sent_as_a_prompt(loopback: LoopbackServer, tmp_path: Path, word: str) -> None:
    result = run(against(loopback, word), make_env(tmp_path))
    assert result.returncode == 2, result.stdout
    assert "is a command" in result.stderr
    assert loopback.requests == []


# -- 5: the key store ------------------------------------------------------------------------------


def test_keys_set_stores_0600_and_the_cli_and_the_client_read_it_after_the_variable(
    loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, OPENAI_API_KEY=None)
    stored = "sk-" "stored-test-key-0123456789abcdef"
    saved = run(command("keys", "set", "openai"), env, stdin=stored + "\n")
    assert saved.returncode == 0, saved.stderr
    assert stored not in saved.stdout + saved.stderr
    path = tmp_path / "config" / "llmstream" / "keys.json"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = run(command("keys", "list"), env)
    assert listed.stdout == "openai\n"  # names only

    loopback.enqueue(Scripted(chunks=text_stream("ok")), Scripted(chunks=text_stream("ok")))
    assert run(against(loopback, "Hi"), env).returncode == 0
    assert loopback.requests[-1].headers["authorization"] == f"Bearer {stored}"
    assert run(against(loopback, "Hi"), make_env(tmp_path)).returncode == 0  # the variable wins
    assert loopback.requests[-1].headers["authorization"] == f"Bearer {KEY}"

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert llmstream.client("openai:gpt-4o-mini")._api_key == stored
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert llmstream.client("openai:gpt-4o-mini")._api_key == KEY


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_store_others_can_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(tmp_path, OPENAI_API_KEY=None)
    assert run(command("keys", "set", "openai", "--value", "sk-" "readable-test-key-0123456789"), env).returncode == 0
    path = tmp_path / "config" / "llmstream" / "keys.json"
    path.chmod(0o644)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    with pytest.raises(ConfigurationError, match="readable by other users"):
        llmstream.client("openai:gpt-4o-mini")
    result = run(command("-m", "openai:gpt-4o-mini", "Hi"), env)
    assert result.returncode == 2 and "chmod 600" in result.stderr
    assert "readable-test-key" not in result.stderr


def test_keys_remove_and_unknown_providers(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    assert run(command("keys", "set", "google", "--value", "AI" "za-test-0123456789"), env).returncode == 0
    assert run(command("keys", "list"), env).stdout == "gemini\n"
    assert run(command("keys", "remove", "gemini"), env).returncode == 0
    assert run(command("keys", "list"), env).stdout == ""
    unknown = run(command("keys", "set", "nope", "--value", "x"), env)
    assert unknown.returncode == 2 and "unknown provider" in unknown.stderr


def test_council_and_serve_are_commands_of_the_cli(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    council = run(command("council", "-m", "mock:a", "-m", "mock:b", "--synthesizer", "mock:judge", "hi there"), env)
    assert council.returncode == 0, council.stderr
    assert "hi there" in council.stdout
    helped = run(command("serve", "--help"), env)
    assert helped.returncode == 0 and "llmstream serve" in helped.stdout
