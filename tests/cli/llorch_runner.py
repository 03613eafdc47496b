"""Runs `llorch` in-process with captured stdout and stderr, and normalises transcripts for snapshots
(ids, ports and timings change between runs; the text of the mock engine does not)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from cli.main import run

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PORT = re.compile(r"127\.0\.0\.1:\d+")
_JSON_PORT = re.compile(r'"port":\d+')
_JSON_MS = re.compile(r'("[a-z_]+_ms(?:_ago|_remaining)?"):(\d+)')
_TABLE_MS = re.compile(r"(?m)^(\w[\w ]*? ms(?: remaining| ago| left)?)( +)\d+$")
_RATE = re.compile(r"\d+\.\d tok/s")


def normalise(text: str) -> str:
    """Replaces what changes between runs (ids, ports, timings) with placeholders."""
    text = _UUID.sub("<uuid>", text)
    text = _PORT.sub("127.0.0.1:<port>", text)
    text = _JSON_PORT.sub('"port":"<port>"', text)
    text = _JSON_MS.sub(r"\1:<ms>", text)
    text = _TABLE_MS.sub(r"\1\2<ms>", text)
    return _RATE.sub("<rate> tok/s", text)


@dataclass(frozen=True)
class Transcript:
    """One command line with its exit code and both streams, as raw text."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str

    def normalised(self) -> str:
        shown = " ".join(a for a in self.argv if not a.startswith("http://"))
        return normalise(
            f"$ llorch {shown}\n[exit {self.exit_code}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


Runner = Callable[..., Transcript]


def run_llorch(*argv: str, url: str | None = None, err_tty: bool = False) -> Transcript:
    out = io.StringIO()
    err = FakeTerminal() if err_tty else io.StringIO()
    full = (*argv, "--url", url) if url else argv
    code = run(full, out, err)
    return Transcript(tuple(full), code, out.getvalue(), err.getvalue())
