"""The route label of orchd_http_requests_total (route template, or `_unmatched`); `EdgeMiddleware` counts."""

from __future__ import annotations

from starlette.types import Scope

UNMATCHED = "_unmatched"


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return f"{scope.get('method', 'GET')} {path}"
