"""How the Haiku challenge is put to a model, and with which sampling, per bundled model (ORCH-9020).

Both bundled models are tiny, so the request shows worked examples of the task before asking it
(few-shot prompting). The examples use their own phrases and codes, never the challenge's; the model
still has to write the poem and copy the challenge's phrase and code itself. Nothing constrains the
generation (no grammar, no logit bias) and the output is checked exactly as generated.

- SmolLM2-135M-Instruct is a chat model: the examples are earlier user/assistant turns, sent as
  `messages` so the engine applies the model's own ChatML template.
- gemma-3-270m is a base model: the examples are a plain-text completion prompt, ended by `###`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from test_harness.haiku.protocol import Challenge

PromptStyle = Literal["chat", "completion"]
COMPLETION_END = "###"


@dataclass(frozen=True)
class Example:
    """One worked example: a phrase, a code and a poem that starts with the phrase."""

    phrase: str
    code: str
    poem: tuple[str, str, str]


EXAMPLES = (
    Example(
        phrase="seven",
        code="Q7xv2LmP",
        poem=("Seven quiet birds", "rest upon the morning wire", "the sun warms the field"),
    ),
    Example(
        phrase="thirty-four",
        code="h3TzK9wa",
        poem=("Thirty-four white clouds", "drift above the sleeping town", "wind hums a soft song"),
    ),
    Example(
        phrase="fifty",
        code="r8GkD2qN",
        poem=("Fifty falling leaves", "cover the old garden path", "autumn says goodbye"),
    ),
)


@dataclass(frozen=True)
class HaikuConfig:
    """A model, the way the challenge is asked, and the sampling used."""

    name: str
    model: str
    style: PromptStyle
    temperature: float
    top_p: float
    top_k: int = 0
    max_tokens: int = 64


def instruction(phrase: str, code: str) -> str:
    """The user instruction of the chat style."""
    return (
        f'Write a haiku of 3 lines. Start the first line with the words "{phrase}". '
        f"Then write the code {code} on its own line at the end. Output only the poem."
    )


def chat_messages(challenge: Challenge) -> list[dict[str, str]]:
    """The examples as earlier turns, then the challenge (for the model's own chat template)."""
    messages: list[dict[str, str]] = []
    for example in EXAMPLES:
        messages.append({"role": "user", "content": instruction(example.phrase, example.code)})
        messages.append({"role": "assistant", "content": "\n".join((*example.poem, example.code))})
    messages.append({"role": "user", "content": instruction(challenge.minute_words, challenge.nonce)})
    return messages


def completion_prompt(challenge: Challenge) -> str:
    """Plain-text examples for a base model, ending where the challenge's poem should begin."""
    header = (
        "Each haiku below has 3 lines. Its first line starts with the given phrase, "
        "and the given code follows on its own line after the poem.\n\n"
    )
    blocks = [
        _completion_block(e.phrase, e.code) + "\n".join((*e.poem, e.code)) + "\n###\n" for e in EXAMPLES
    ]
    return header + "".join(blocks) + _completion_block(challenge.minute_words, challenge.nonce)


def _completion_block(phrase: str, code: str) -> str:
    return f"Phrase: {phrase}\nCode: {code}\nHaiku:\n"


SMOLLM2_CHAT = HaikuConfig(
    name="smollm2-chat-fewshot-t0.3", model="smollm2", style="chat", temperature=0.3, top_p=0.9
)
GEMMA3_COMPLETION = HaikuConfig(
    name="gemma3-270m-completion-fewshot-t0.3",
    model="gemma3-270m",
    style="completion",
    temperature=0.3,
    top_p=0.9,
)
CONFIGS = {config.name: config for config in (SMOLLM2_CHAT, GEMMA3_COMPLETION)}
GATE_CONFIG = SMOLLM2_CHAT
