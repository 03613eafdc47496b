"""OpenAI-compatible requests turned into the daemon's TaskSpec (ORCH-1060, ORCH-1061, ORCH-1063).

The facade builds the same TaskSpec as `POST /v1/tasks`, so validation limits, quotas, sessions, the queue,
fairness and placement apply unchanged. The priority class, the session and the determinism mode come from
headers; a request is best_effort unless it asks for strict (ORCH-3506).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from contracts.api_types.data import ChatCompletionRequest, CompletionRequest, ContentPart, OpenAIChatMessage
from contracts.fields import given
from orchestrator_core.errors import InvalidParams
from orchestrator_core.vocabulary import Determinism, PriorityName
from worker_adapters.types import ChatMessage, ToolCall

from ..services.task_spec import TaskSpec, new_task_id
from .json_text import format_text, json_text, tool_fields

T = TypeVar("T")
PRIORITY_HEADER = "X-Orch-Priority"
SESSION_HEADER = "X-Orch-Session-Id"
DETERMINISM_HEADER = "X-Orch-Determinism"
_PRIORITIES: dict[str, PriorityName] = {"interactive": "interactive", "batch": "batch"}
_MODES: dict[str, Determinism] = {"strict": "strict", "best_effort": "best_effort"}
_ROLES: dict[str, Literal["system", "user", "assistant", "tool"]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}


@dataclass(frozen=True, slots=True)
class FacadeContext:
    """What a facade request carries besides its body: tenant, headers and the configured default."""

    tenant: str
    priority: PriorityName
    session_id: str | None
    default_max_tokens: int
    determinism: Determinism = "best_effort"

    def task(self, **fields: Any) -> TaskSpec:
        """A new task of this request's tenant, session, priority and determinism, with `fields`."""
        return TaskSpec(
            task_id=new_task_id(),
            tenant=self.tenant,
            session_id=self.session_id,
            priority=self.priority,
            determinism=self.determinism,
            **fields,
        )


def _content(index: int, content: object) -> str:
    """A message's text: a string, or its text parts joined in order (ORCH-1068)."""
    if content is None or isinstance(content, str):
        return content or ""
    assert isinstance(content, list)  # the schema allows a string, null or a list of parts
    texts: list[str] = []
    for number, part in enumerate(content):
        assert isinstance(part, ContentPart)
        if part.type != "text":
            raise InvalidParams(
                f"messages.{index}.content.{number}: {part.type} parts need a replica that declares "
                "vision or audio input, and none does; send text parts"
            )
        texts.append(given(part.text) or "")
    return "".join(texts)


def _message(index: int, message: OpenAIChatMessage) -> ChatMessage:
    """One chat turn; `developer` counts as `system`, tool calls and results are kept (ORCH-1069)."""
    content = given(message.content)
    calls = tuple(
        ToolCall(call.id, call.function.name, call.function.arguments)
        for call in given(message.tool_calls) or ()
    )
    if content is None and not (message.role == "assistant" and calls):
        raise InvalidParams(f"messages.{index}.content: required, unless an assistant message has tool_calls")
    if calls and message.role != "assistant":
        raise InvalidParams(f"messages.{index}.tool_calls: only assistant messages carry tool calls")
    call_id = given(message.tool_call_id)
    if message.role == "tool" and call_id is None:
        raise InvalidParams(f"messages.{index}.tool_call_id: required for a tool message")
    return ChatMessage(_ROLES[message.role], _content(index, content), calls, call_id)


def _header_choice(header: str, value: str | None, choices: dict[str, T], default: T) -> T:
    """One of `choices` (case-insensitive); absent means `default`, anything else is 400 naming the header."""
    if value is None:
        return default
    chosen = choices.get(value.strip().lower())
    if chosen is None:
        raise InvalidParams(f"{header}: must be {' or '.join(choices)}")
    return chosen


def parse_priority(value: str | None) -> PriorityName:
    return _header_choice(PRIORITY_HEADER, value, _PRIORITIES, "interactive")


def parse_determinism(value: str | None) -> Determinism:
    """The task's mode from `X-Orch-Determinism`; absent means best_effort (ORCH-3506)."""
    return _header_choice(DETERMINISM_HEADER, value, _MODES, "best_effort")


def parse_session_id(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise InvalidParams(f"{SESSION_HEADER}: must be a UUID") from None


def _stop(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def completion_spec(body: CompletionRequest, context: FacadeContext) -> TaskSpec:
    """The `completion` task of a /v1/completions request; max_tokens defaults to the configured value."""
    max_tokens = given(body.max_tokens)
    return context.task(
        model_ref=body.model,
        max_tokens=max_tokens or context.default_max_tokens,
        prompt=body.prompt,
        workload="completion",
        seed=given(body.seed),
        temperature=given(body.temperature),
        top_p=given(body.top_p),
        top_k=given(body.top_k),
        stop=_stop(given(body.stop)),
        presence_penalty=given(body.presence_penalty),
        frequency_penalty=given(body.frequency_penalty),
        logit_bias=json_text(given(body.logit_bias) or None),
    )


def chat_spec(body: ChatCompletionRequest, context: FacadeContext) -> TaskSpec:
    """The `chat` task of a /v1/chat/completions request; `developer` messages count as `system`."""
    max_tokens = given(body.max_completion_tokens) or given(body.max_tokens)
    messages = tuple(_message(index, m) for index, m in enumerate(body.messages))
    return context.task(
        model_ref=body.model,
        max_tokens=max_tokens or context.default_max_tokens,
        messages=messages,
        workload="chat",
        seed=given(body.seed),
        temperature=given(body.temperature),
        top_p=given(body.top_p),
        top_k=given(body.top_k),
        stop=_stop(given(body.stop)),
        presence_penalty=given(body.presence_penalty),
        frequency_penalty=given(body.frequency_penalty),
        logit_bias=json_text(given(body.logit_bias) or None),
        response_format=format_text(given(body.response_format)),
        **tool_fields(given(body.tools), given(body.tool_choice), given(body.parallel_tool_calls)),
    )


def include_usage(body: CompletionRequest | ChatCompletionRequest) -> bool:
    options = given(body.stream_options)
    return options is not None and given(options.include_usage) is True
