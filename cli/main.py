"""`llorch`: the command line of OrchQueue. Every command takes `--json`, `--url` (ORCH_URL, default
http://127.0.0.1:8080) and `--api-key` (ORCH_API_KEY); errors go to stderr with the code, the message
and what to do, and the exit code tells the error class apart (see `cli.exit_codes`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, TextIO

from orchestrator_core.errors import OrchError
from tools.openapi_client import Client, OrchestratordUnreachable, envelope_of

from . import commands, submit, up
from .exit_codes import UNREACHABLE_HINT, ExitCode, exit_code_for, hint_for
from .output import Output

DESCRIPTION = "OrchQueue from the command line: submit and stream tasks, operate pools, run the local stack."
Command = Callable[[Client, argparse.Namespace, Output], ExitCode]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors get exit code 2 through one path."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def _add_common(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a flag given before the command from being reset by the command's own default.
    common = parser
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine output")
    common.add_argument("--url", default=argparse.SUPPRESS, help="orchestratord URL (env ORCH_URL)")
    common.add_argument("--api-key", default=argparse.SUPPRESS, help="API key (env ORCH_API_KEY)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="llorch", description=DESCRIPTION)
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, run: Command | None, help_text: str) -> argparse.ArgumentParser:
        child: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        _add_common(child)
        child.set_defaults(run=run)
        return child

    submit.add_arguments(command("submit", submit.submit, "submit a task and stream its text"))
    command("status", commands.status, "show a task's state and replay identity").add_argument("task_id")
    command("cancel", commands.cancel, "cancel a task (idempotent)").add_argument("task_id")
    session = command("session", commands.session, "show or delete a session")
    session.add_argument("session_action", choices=("get", "delete"))
    session.add_argument("session_id")
    command("capabilities", commands.capabilities, "show engines and request limits")
    command("nodes", commands.nodes, "list the registered pool_managerd nodes")
    _pool_parsers(command("pools", commands.pools, "list pools, or show health, drain or reload one"))
    up.add_arguments(command("up", None, "start the local stack and serve until Ctrl-C"))
    return parser


def _pool_parsers(pools: argparse.ArgumentParser) -> None:
    actions = pools.add_subparsers(dest="pool_action", parser_class=_Parser)
    health = actions.add_parser("health", help="a pool's replicas and readiness")
    drain = actions.add_parser("drain", help="stop new work on a pool and let running work finish")
    reload = actions.add_parser("reload", help="switch a pool to another model, keeping it serving")
    for action in (health, drain, reload):
        _add_common(action)
        action.add_argument("pool_id")
    drain.add_argument("--deadline-ms", type=int, help="how long running work may continue")
    reload.add_argument("model_ref", help="local model path or pkg:<distribution>[/<file>]")


def run(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """Runs one command line and returns its exit code."""
    try:
        args = build_parser().parse_args(list(argv))
    except _UsageError as exc:
        err.write(f"{exc}\nrun `llorch --help` (or `llorch COMMAND --help`) for usage\n")
        return ExitCode.USAGE
    except SystemExit as exc:  # --help prints and exits 0
        return int(exc.code or 0)
    output = Output(out, err, json=getattr(args, "json", False))
    url, api_key = getattr(args, "url", None), getattr(args, "api_key", None)
    try:
        if args.command == "up":
            return up.up(args, output)
        with Client(url, api_key) as client:
            return int(args.run(client, args, output))
    except OrchError as error:
        return report_error(error, output)
    except OrchestratordUnreachable as error:
        return _report(output, "UNREACHABLE", str(error), UNREACHABLE_HINT, ExitCode.UNREACHABLE, None)
    except KeyboardInterrupt:
        output.note("interrupted")
        return ExitCode.INTERRUPTED


def report_error(error: OrchError, output: Output) -> int:
    """Prints a typed error as the user needs it and returns its exit code."""
    envelope = envelope_of(error)
    hint = hint_for(error.code)
    if error.retry_after_ms is not None and error.retriable:
        hint += f" (the server suggests waiting {error.retry_after_ms} ms)"
    correlation = envelope.correlation_id if envelope is not None else None
    return _report(output, error.code, error.message, hint, exit_code_for(error.code), correlation)


def _report(
    output: Output, code: str, message: str, hint: str, exit_code: ExitCode, correlation: str | None
) -> int:
    if output.json:
        detail = {"code": code, "message": message, "hint": hint, "exit_code": int(exit_code)}
        if correlation is not None:
            detail["correlation_id"] = correlation
        output.json_line({"error": detail}, output.err)
    else:
        output.note(f"llorch: {code}: {message}\n  what to do: {hint}")
        if correlation is not None:
            output.note(f"  correlation id: {correlation}")
    return int(exit_code)


def main(argv: Sequence[str] | None = None) -> int:
    """The `llorch` console script."""
    return run(sys.argv[1:] if argv is None else argv, sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
