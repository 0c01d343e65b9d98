"""LiteLLM contender, run by ``bench/.venv-litellm/bin/python`` (LiteLLM pins its own SDK versions).

``python bench/litellm_runner.py URL COUNT [WARMUP_COUNT]`` serves the :mod:`protocol`: each ``run`` is LiteLLM's
``completion(stream=True)`` on the bench's OpenAI stream, every chunk collected, then
``stream_chunk_builder`` to get the final response, i.e. what LiteLLM users do to get both the live
chunks and the completion. The warm-up uses a shorter stream (LiteLLM is slow). Imports only the
stdlib, LiteLLM and :mod:`protocol`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the cost map at import
os.environ.setdefault("LITELLM_TELEMETRY", "False")

from protocol import serve

_MESSAGES = [{"role": "user", "content": "Write a long essay about rivers, then call the tools."}]


def make(url: str, count: int) -> Any:
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    api_base = f"{url}/openai/{count}/v1"

    def run() -> list[int]:
        response = litellm.completion(
            model="openai/gpt-4o-mini",
            api_base=api_base,
            api_key="sk" "-bench-not-a-real-key",
            messages=_MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            max_retries=0,
        )
        chunks = list(response)
        final = litellm.stream_chunk_builder(chunks, messages=_MESSAGES)
        message = final.choices[0].message
        return [len(chunks), len(message.content or ""), len(message.tool_calls or ())]

    return run


if __name__ == "__main__":
    url, count = sys.argv[1], int(sys.argv[2])
    warm = int(sys.argv[3]) if len(sys.argv) > 3 else count
    serve(make(url, count), warmup=make(url, warm) if warm != count else None)
