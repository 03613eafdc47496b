"""`python -m orchestratord [--config FILE] [--workers N]`: serve the daemon with uvicorn, in one process
or, with `--workers N` and the shared mode, in N processes on one port (`workers.py`).

Refuses to listen on a non-loopback address without API keys (ORCH-5005). The uvicorn access log and
httpx's per-request lines are on only at `logging.level: debug`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from contracts.config_schema.orchestratord import OrchestratordConfig
from contracts.config_schema.settings import OrchestratordSettings
from contracts.log_line import configure_json_logging
from orchestrator_core.errors import OrchError

from .app import create_app
from .http.sse_response import OpenStreams
from .services.shutdown import ShutdownCoordinator
from .wiring import build_services
from .workers import Supervisor, reuse_port_socket

logger = logging.getLogger("orchestratord")


@dataclass(frozen=True, slots=True)
class Drain:
    """What a shared-mode instance does before it shuts down, and for how long at most."""

    coordinator: ShutdownCoordinator
    grace_s: float


class _Server(uvicorn.Server):
    """uvicorn that ends with status 0 after a SIGTERM/SIGINT shutdown instead of re-raising the signal, and
    ends the open SSE streams as its shutdown begins; in the shared mode it drains first (`drain`)."""

    def __init__(self, config: uvicorn.Config, streams: OpenStreams, drain: Drain | None = None) -> None:
        super().__init__(config)
        self._streams = streams
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._drain is not None:
            await self._drain_first(self._drain, sockets or [])
        # uvicorn waits for open responses (up to its graceful timeout) before the app's lifespan shutdown
        # runs, and a stream lasts as long as its task: its client sees the stream end, as before.
        self._streams.close()
        await super().shutdown(sockets)

    async def _drain_first(self, drain: Drain, sockets: list[socket.socket]) -> None:
        """A rolling restart loses nothing (ORCH-4118): new connections go to the other instances at once
        (idle kept-alive ones are closed, and a busy one after its response), the runs here finish and the
        open streams here end with their tasks, all within the grace; what is left is then ended as on any
        shutdown."""
        started = asyncio.get_running_loop().time()
        for server in self.servers:
            server.close()
        for sock in sockets:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await drain.coordinator.drain()
        elapsed = asyncio.get_running_loop().time() - started
        await self._streams.wait_empty(drain.grace_s - elapsed)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def check_exposure(config: OrchestratordConfig) -> None:
    """Raises OrchError when the daemon would serve a non-loopback address without API keys."""
    if not config.bind.is_loopback and not config.api_keys:
        raise OrchError(
            f"refusing to listen on {config.bind.host}: a non-loopback address needs api_keys "
            "(configure at least one, or bind 127.0.0.1)"
        )


def check_workers(config: OrchestratordConfig, workers: int) -> None:
    """Raises OrchError when `--workers` asks for processes that could not share their state."""
    if workers < 1:
        raise OrchError(f"--workers: {workers} is not a number of processes (1 or more)")
    if workers > 1 and config.state.backend != "redis":
        raise OrchError(
            f"--workers {workers} needs the shared mode (state.backend: redis): each worker is a process, "
            "and the embedded state lives in one"
        )


def as_worker(config: OrchestratordConfig, index: int) -> OrchestratordConfig:
    """Worker `index`'s configuration: its instance id names the worker."""
    state = config.state
    base = state.instance_id or socket.gethostname()
    return config.model_copy(update={"state": state.model_copy(update={"instance_id": f"{base}-w{index}"})})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orchestratord", description="OrchQueue v1 daemon")
    parser.add_argument("--config", type=Path, default=None, help="orchestratord YAML/JSON config file")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes serving the port (SO_REUSEPORT); more than 1 needs state.backend: redis",
    )
    parser.add_argument("--worker-index", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        settings = (
            OrchestratordSettings() if args.config is None else OrchestratordSettings(config=args.config)
        )
        config = settings.resolve()
        check_exposure(config)
        check_workers(config, args.workers)
    except OrchError as error:
        sys.stderr.write(f"orchestratord: {error.message}\n")
        return 2
    level = getattr(logging, config.logging.level.upper())
    configure_json_logging(level=level)
    if args.workers > 1:
        child_argv = [] if args.config is None else ["--config", str(args.config)]
        return Supervisor(child_argv, args.workers).run()
    sockets: list[socket.socket] | None = None
    if args.worker_index is not None:
        config = as_worker(config, args.worker_index)
        sockets = [reuse_port_socket(config.bind.host, config.bind.port)]
    verbose = level <= logging.DEBUG
    if not verbose:
        # One line per engine request would dominate the log under load; failures are logged as events.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    streams = OpenStreams()
    services = build_services(config)
    shared = config.state.backend == "redis"
    drain = Drain(services.shutdown, config.shutdown_grace_ms / 1000) if shared else None
    server = _Server(
        uvicorn.Config(
            create_app(config, services=services, streams=streams),
            host=config.bind.host,
            port=config.bind.port,
            workers=1,
            log_config=None,
            # The task events already log every admission; a per-request access line only at `debug`.
            access_log=verbose,
            timeout_graceful_shutdown=max(1, config.shutdown_grace_ms // 1000 + 1),
        ),
        streams,
        drain,
    )
    # What exists now (modules, routes, schemas, config) lives as long as the daemon: freezing it keeps a
    # full collection under load to per-request objects instead of a 20-50 ms walk over everything.
    gc.collect()
    gc.freeze()
    server.run(sockets=sockets)
    if not server.started:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
