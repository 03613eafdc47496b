"""The mock engine as an HTTP server speaking one engine's wire format (ORCH-7014).

`serve_mock` runs it inside the caller's event loop on 127.0.0.1 and yields the base URL and the
engine, so tests can set faults and observe what the server saw. vLLM, TGI and Triton refuse
connections while their model loads: for those wires the port is reserved at once but only starts
listening after `loading_s`. Routes under /admin set faults and read stats at run time.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_engine.engine import InjectedReset, MockEngine
from mock_engine.faults import Faults, MockConfig
from mock_engine.http_common import BadBody, json_response, read_object
from mock_engine.llamacpp_wire import llamacpp_routes
from mock_engine.tgi_wire import tgi_routes
from mock_engine.triton_wire import triton_routes
from mock_engine.vllm_wire import vllm_routes

Wire: TypeAlias = Literal["llamacpp", "vllm", "tgi", "triton"]
WIRES: tuple[Wire, ...] = ("llamacpp", "vllm", "tgi", "triton")
REFUSES_WHILE_LOADING: frozenset[str] = frozenset({"vllm", "tgi", "triton"})
DEFAULT_TRITON_MODEL = "ensemble"


def admin_routes(engine: MockEngine) -> list[Route]:
    """GET/POST /admin/faults (POST merges; `loading_s` starts a loading period), GET /admin/stats, GET
    /admin/requests (the last bodies of the generation routes)."""

    async def get_faults(request: Request) -> Response:
        return json_response(engine.faults.model_dump())

    async def set_faults(request: Request) -> Response:
        try:
            changes = await read_object(request)
            loading_s = changes.pop("loading_s", None)
            engine.faults = Faults.model_validate(engine.faults.model_dump() | changes)
            if loading_s is not None:
                engine.start_loading(float(loading_s))
        except (BadBody, ValidationError, TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(engine.faults.model_dump())

    async def reset_faults(request: Request) -> Response:
        engine.faults = Faults()
        engine.start_loading(0)
        return json_response(engine.faults.model_dump())

    async def stats(request: Request) -> Response:
        s = engine.stats
        return json_response(
            {
                "running": s.running,
                "queued": s.queued,
                "started": s.started,
                "finished": s.finished,
                "ended_early": s.ended_early,
                "prompt_tokens_total": s.prompt_tokens_total,
                "generated_tokens_total": s.generated_tokens_total,
                "loading_remaining_s": engine.loading_remaining_s,
            }
        )

    async def requests(request: Request) -> Response:
        return json_response(list(engine.requests))

    return [
        Route("/admin/requests", requests, methods=["GET"]),
        Route("/admin/faults", get_faults, methods=["GET"]),
        Route("/admin/faults", set_faults, methods=["POST"]),
        Route("/admin/faults/reset", reset_faults, methods=["POST"]),
        Route("/admin/stats", stats, methods=["GET"]),
    ]


def build_app(wire: Wire, engine: MockEngine, triton_model: str = DEFAULT_TRITON_MODEL) -> Starlette:
    """The ASGI app of one wire emulation plus the admin routes."""
    routes: dict[str, Callable[[], list[Route]]] = {
        "llamacpp": lambda: llamacpp_routes(engine),
        "vllm": lambda: vllm_routes(engine),
        "tgi": lambda: tgi_routes(engine),
        "triton": lambda: triton_routes(engine, triton_model),
    }
    if wire not in routes:
        raise ValueError(f"unknown wire {wire!r}; expected one of {', '.join(WIRES)}")
    return Starlette(routes=[*routes[wire](), *admin_routes(engine)])


class _QuietInjectedResets(logging.Filter):
    """Drops uvicorn's traceback for a connection reset the mock injected on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedReset))


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves the host process's signal handlers alone."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Signals belong to the embedding process."""
        yield


def reserve_socket(host: str, port: int) -> socket.socket:
    """A bound, not yet listening socket: connections are refused until the server starts on it.

    The protocol is named (IPPROTO_TCP, not 0) because asyncio turns Nagle off (TCP_NODELAY) only on
    accepted sockets whose `proto` says TCP; with Nagle on, the small last chunk of a stream waits for the
    client's delayed ACK (~40 ms).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def make_server(app: Starlette, log_level: str = "warning") -> EmbeddedServer:
    """The uvicorn server for a mock app; open streams get 1 s to finish at shutdown."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietInjectedResets) for f in logger.filters):
        logger.addFilter(_QuietInjectedResets())
    config = uvicorn.Config(
        app, log_level=log_level, lifespan="off", timeout_graceful_shutdown=1, access_log=False, ws="none"
    )
    return EmbeddedServer(config)


@dataclass(frozen=True, slots=True)
class MockServer:
    """A running mock HTTP server."""

    wire: Wire
    base_url: str
    engine: MockEngine


async def _serve(server: EmbeddedServer, sock: socket.socket, delay_s: float) -> None:
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    await server.serve(sockets=[sock])


@asynccontextmanager
async def serve_mock(
    wire: Wire,
    config: MockConfig | None = None,
    faults: Faults | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    triton_model: str = DEFAULT_TRITON_MODEL,
    **server_options: Any,
) -> AsyncIterator[MockServer]:
    """Run a mock engine server in this event loop; yields once it listens (or, loading, once bound)."""
    engine = MockEngine(config, faults)
    server = make_server(build_app(wire, engine, triton_model), **server_options)
    sock = reserve_socket(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    late = engine.config.loading_s if wire in REFUSES_WHILE_LOADING else 0.0
    task = asyncio.create_task(_serve(server, sock, late))
    try:
        if late == 0:
            await _wait_started(server, task)
        yield MockServer(wire, f"http://{bound_host}:{bound_port}", engine)
    finally:
        await _stop(server, task)
        sock.close()


async def _stop(server: EmbeddedServer, task: asyncio.Task[None]) -> None:
    """Ask uvicorn to exit (open streams get its graceful timeout); cancel a server not started yet."""
    server.should_exit = True
    if not server.started:
        task.cancel()
    _, pending = await asyncio.wait({task}, timeout=5)
    for straggler in pending:
        straggler.cancel()


async def _wait_started(server: EmbeddedServer, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("mock server stopped before it started")
            await asyncio.sleep(0.005)
