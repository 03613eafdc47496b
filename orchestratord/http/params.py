"""Path and query values validated the way FastAPI validates declared parameters, for routes served without
its dependency solving (explicit_route.py): the same rules, and refusals worded alike, one 400
INVALID_PARAMS naming every bad value (`path.id: Input should be a valid UUID, ...`)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from http_edge.errors import describe_validation_errors
from orchestrator_core.errors import InvalidParams

V = TypeVar("V")
UUIDS = TypeAdapter(uuid.UUID)
FLAGS = TypeAdapter(bool)


class Params:
    """Validates a request's values one by one; `check()` then refuses every bad one together."""

    __slots__ = ("_errors",)

    def __init__(self) -> None:
        self._errors: list[Any] = []

    def valid(self, adapter: TypeAdapter[V], value: object, where: str, name: str) -> V | None:
        """`value` as `adapter`'s type; None when it is not, noted as the problem of `where`.`name`."""
        try:
            return adapter.validate_python(value)
        except ValidationError as exc:
            self._errors.extend({**error, "loc": (where, name, *error["loc"])} for error in exc.errors())
            return None

    def check(self) -> None:
        if self._errors:
            raise InvalidParams(describe_validation_errors(self._errors))
