"""A generation request as the emulated engine sees it, whatever wire it came in on."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from mock_engine.engine import MockEnd, MockEngine, MockToken, count_prompt_tokens


@dataclass(frozen=True, slots=True)
class MockJob:
    """Prompt text, limits and sampling seed of one request."""

    text: str
    max_tokens: int
    seed: int
    stop: tuple[str, ...]

    @property
    def prompt_tokens(self) -> int:
        """Prompt length in mock tokens."""
        return count_prompt_tokens(self.text)

    def run(self, engine: MockEngine) -> AsyncGenerator[list[MockToken] | MockEnd, None]:
        """The engine's batches for this job."""
        return engine.generate(self.text, self.prompt_tokens, self.max_tokens, self.seed, self.stop)


def chat_text(messages: object) -> str:
    """The templated text of chat messages, or ValueError when they are malformed."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("Expected 'messages' to be a non-empty array")
    turns = []
    for message in messages:
        if not isinstance(message, dict):
            raise ValueError("each message must be an object")
        content = message.get("content")
        # An assistant turn that only called tools has null content, as OpenAI's wire allows.
        if content is None and message.get("role") == "assistant" and message.get("tool_calls"):
            content = ""
        if not isinstance(content, str):
            raise ValueError("each message needs a string 'content'")
        turns.append(f"<{message.get('role', 'user')}> {content}")
    return "\n".join(turns)
