"""orchestratord's part of the shared edge (`http_edge.EdgeMiddleware`): the guard of the route a request
will reach, answered from the headers before the body is read (ORCH-1008), and the request counter
`orchd_http_requests_total` by route and status."""

from __future__ import annotations

from starlette.types import Scope

from orchestrator_core.errors import OrchError

from ..services.metrics import DaemonMetrics
from .request_metrics import route_label
from .route_guards import RouteGuards


class DaemonEdge:
    """The hooks orchestratord gives the edge middleware."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self._metrics = metrics
        self._guards = RouteGuards()

    def guard(self, scope: Scope) -> OrchError | None:
        """401/403 from the guard of the route the request will reach; counted under that route."""
        guarded = self._guards.route(scope)
        if guarded is None:
            return None
        route, guards = guarded
        try:
            for guard in guards:
                guard.decide(scope)
        except OrchError as error:
            scope["route"] = route.original_route
            return error
        return None

    def answered(self, scope: Scope, status: int) -> None:
        self._metrics.http_request(route_label(scope), status)
