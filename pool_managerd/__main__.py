"""`python -m pool_managerd --config pool.yaml`: the supervisor, registration and the API in one event loop.

SIGTERM and SIGINT stop the API, deregister from orchestratord, and terminate every engine process group
(SIGKILL after the grace period) before the process exits (ORCH-6009).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from contracts.config_schema.pool_managerd import PoolManagerdConfig
from contracts.log_line import configure_json_logging
from orchestrator_core.errors import OrchError
from pool_managerd.api import create_app
from pool_managerd.backoff import Backoff
from pool_managerd.config import engine_environment, load_settings, node_spec
from pool_managerd.registration import NodeIdentity, RegistrationClient
from pool_managerd.supervisor import Supervisor, build_context
from worker_adapters.factory import create_adapter

log = logging.getLogger("pool_managerd")
EXIT_CONFIG = 2
DEVICE_POLL_S = 5.0  # ORCH-6004


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides how to shut down."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pool_managerd", description="per-host engine supervisor")
    parser.add_argument("--config", type=Path, default=None, help="YAML or JSON config (or POOLMGR_CONFIG)")
    args = parser.parse_args(argv)
    try:
        config = load_settings(args.config)
    except OrchError as exc:
        sys.stderr.write(f"pool_managerd: {exc.message}\n")
        return EXIT_CONFIG
    configure_json_logging(level=getattr(logging, config.logging.level.upper()))
    # One line per engine probe would drown the supervisor's own messages.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(serve(config, args.config.parent.resolve() if args.config else None))


async def serve(config: PoolManagerdConfig, config_dir: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or until the API server stops on its own (exit 1)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    node = node_spec(config, config_dir)
    supervisor = Supervisor(node, build_context(node, engine_environment(), create_adapter))
    log.info("devices: %s", supervisor.inventory.describe())
    async with httpx.AsyncClient(base_url=config.orchestratord_url, timeout=5.0, trust_env=False) as http:
        try:
            await supervisor.start()
        except OrchError as exc:
            # Like a configuration error: the reason on stderr for whoever started it, and in the log.
            sys.stderr.write(f"pool_managerd: cannot start pools: {exc.message}\n")
            log.error("cannot start pools: %s", exc.message)
            return EXIT_CONFIG
        try:
            return await _run(config, supervisor, http, stop)
        finally:
            await supervisor.stop()
            log.info("all engine processes stopped")


async def _run(
    config: PoolManagerdConfig, supervisor: Supervisor, http: httpx.AsyncClient, stop: asyncio.Event
) -> int:
    node = supervisor.node
    registration = RegistrationClient(
        NodeIdentity(
            node_id=node.host_id,
            api_url=f"http://{config.bind.host}:{config.bind.port}",
            node_token=config.node_token.get_secret_value(),
            heartbeat_interval_s=node.heartbeat_interval_ms / 1000,
        ),
        http,
        pools=supervisor.status,
        inventory=lambda: supervisor.inventory,
        load=supervisor.busy_slots,
        retry=Backoff(*node.registration_backoff_ms, full_jitter=True),
    )
    opened = {name for name, is_open in config.open_endpoints.model_dump().items() if is_open}
    app = create_app(supervisor, config.node_token.get_secret_value(), lambda: registration.state, opened)
    server = _Server(
        uvicorn.Config(
            app,
            host=config.bind.host,
            port=config.bind.port,
            lifespan="off",
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=5,
        )
    )
    # The API, registration and the device poll run in one TaskGroup: none outlives `_run`. A job that
    # fails ends the node (exit 1, engines stopped) rather than leaving it serving but unregistered.
    failed = False
    try:
        async with asyncio.TaskGroup() as group:
            api = group.create_task(_serve(server), name="api")
            stopping = group.create_task(stop.wait(), name="stop")
            jobs = [
                stopping,
                group.create_task(registration.run(), name="registration"),
                group.create_task(_refresh_devices(supervisor, DEVICE_POLL_S), name="devices"),
            ]
            await asyncio.wait({api, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for job in jobs:
                job.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(registration.deregister(), timeout=2.0)
            server.should_exit = True
    except* Exception as errors:
        server.should_exit = failed = True
        log.error("a node job failed; stopping", exc_info=errors.exceptions[0])
    return 0 if stop.is_set() and not failed else 1


async def _serve(server: uvicorn.Server) -> None:
    """The API server until it stops; one that fails to bind or crashes has stopped too (exit 1)."""
    with contextlib.suppress(SystemExit, Exception):
        await server.serve()


async def _refresh_devices(supervisor: Supervisor, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        await supervisor.refresh_devices()


if __name__ == "__main__":
    sys.exit(main())
