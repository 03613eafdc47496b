"""Where the CLI writes: readable tables by default, one JSON document (or one object per line for
streams) with `--json`, and errors on stderr with the code, the message and what to do (ORCH-9107,
ORCH-9108)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import orjson
from pydantic import BaseModel

Row = Sequence[object]
EMPTY = "-"


@dataclass(frozen=True)
class Output:
    """The two streams and the chosen format."""

    out: TextIO
    err: TextIO
    json: bool = False

    def document(self, value: BaseModel | Mapping[str, Any]) -> None:
        """One JSON document on stdout."""
        self.json_line(value, self.out)

    def json_line(self, value: BaseModel | Mapping[str, Any], stream: TextIO | None = None) -> None:
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        (stream or self.out).write(orjson.dumps(data).decode() + "\n")
        (stream or self.out).flush()

    def text(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        """A human message on stderr (never part of machine output)."""
        self.err.write(text + "\n")
        self.err.flush()

    @property
    def err_is_terminal(self) -> bool:
        return _is_terminal(self.err)

    @property
    def out_is_terminal(self) -> bool:
        return _is_terminal(self.out)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def cell(value: object) -> str:
    """A table cell: None as '-', booleans as yes/no."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value) or EMPTY
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Row]) -> str:
    """A left-aligned text table with a header row; an empty table says so."""
    if not rows:
        return "(none)"
    cells = [[cell(value) for value in row] for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line([h.upper() for h in headers]), *(line(row) for row in cells)])


def fields(rows: Sequence[tuple[str, object]]) -> str:
    """Name/value lines, names aligned."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {cell(value)}".rstrip() for name, value in rows)
