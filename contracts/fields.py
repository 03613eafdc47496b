"""Reading the generated models: an optional field a client left out holds `pydantic.MISSING`."""

from __future__ import annotations

from typing import TypeVar

from pydantic import MISSING

T = TypeVar("T")


def given(value: T | MISSING | None) -> T | None:
    """The field's value, or None when it was left out (or sent as null, OpenAI's "use the default")."""
    return None if value is MISSING else value
