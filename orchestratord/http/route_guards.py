"""Which guard (security.py) protects the route a request will reach, known before the body is read.

Routes declare their guard as a FastAPI dependency; this module finds it in each route's dependency tree
(FastAPI's route contexts, which include router-level dependencies) and matches a request to its route
the way the router will (the first route that matches path and method), so `EdgeMiddleware` can answer
401/403 before the body size (ORCH-1008). Requests that match no route, or only by path (405), carry no
guard: nothing is authenticated for them.
"""

from __future__ import annotations

from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import Match
from starlette.types import Scope

from .security import Guard

Guards = tuple[Guard[Any], ...]
GuardedRoute = tuple[RouteContext, Guards]


def declared_guards(dependant: Dependant | None) -> Guards:
    """The guards among a route's dependencies, outermost first."""
    if dependant is None:
        return ()
    found: list[Guard[Any]] = []
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Guard):
            found.append(dependency.call)
        found.extend(declared_guards(dependency))
    return tuple(found)


class RouteGuards:
    """The guards of the app's routes; the route list is read at first use, when every router is in."""

    def __init__(self) -> None:
        self._routes: list[GuardedRoute] | None = None
        # Routes without path parameters are looked up by (method, path): the admission hot path.
        self._static: dict[tuple[str, str], GuardedRoute] = {}

    def route(self, scope: Scope) -> GuardedRoute | None:
        """The route `scope` will be served by, with its guards; None when no route matches fully."""
        key = (scope["method"], scope["path"])
        known = self._static.get(key)
        if known is not None:
            return known
        for guarded in self._all(scope):
            match, _ = guarded[0].matches(scope)
            if match is Match.FULL:
                if not guarded[0].param_convertors:
                    self._static[key] = guarded
                return guarded
        return None

    def _all(self, scope: Scope) -> list[GuardedRoute]:
        if self._routes is None:
            contexts = iter_route_contexts(scope["app"].router.routes)
            self._routes = [(route, declared_guards(getattr(route, "dependant", None))) for route in contexts]
        return self._routes
