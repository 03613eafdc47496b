"""Builds an engine adapter from (engine, base_url, options); the one place an httpx client is made.

Each replica gets two clients. Probes (health, props, metrics) use a small client of their own with the
short probe timeout, so they never wait behind streams for a connection. Streams use a client sized from
the replica's slots, with a short connect timeout so an unreachable engine fails fast and a long read
timeout because the idle timeout between tokens is enforced by the stream driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import httpx

from orchestrator_core.errors import InvalidParams
from worker_adapters.http_base import HttpEngine
from worker_adapters.llamacpp_http import LlamaCppHttpAdapter
from worker_adapters.options import PROBE_CONNECTIONS, AdapterOptions
from worker_adapters.protocol import EngineAdapter
from worker_adapters.tgi_http import TgiHttpAdapter
from worker_adapters.triton_http import TritonHttpAdapter
from worker_adapters.vllm_http import VllmHttpAdapter

HttpEngineName: TypeAlias = Literal["llamacpp", "vllm", "tgi", "triton"]
_ADAPTERS: dict[str, Callable[[HttpEngine], EngineAdapter]] = {
    "llamacpp": LlamaCppHttpAdapter,
    "vllm": VllmHttpAdapter,
    "tgi": TgiHttpAdapter,
    "triton": TritonHttpAdapter,
}
HTTP_ENGINES: tuple[str, ...] = tuple(_ADAPTERS)


def _headers(options: AdapterOptions) -> dict[str, str]:
    return {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}


def build_client(
    base_url: str, options: AdapterOptions, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The stream client of one replica: one connection per slot plus headroom, long read timeout."""
    connections = options.stream_connections()
    return httpx.AsyncClient(
        base_url=base_url,
        headers=_headers(options),
        timeout=httpx.Timeout(
            connect=options.connect_timeout_s,
            read=options.read_timeout_s,
            write=options.read_timeout_s,
            pool=options.connect_timeout_s,
        ),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        transport=transport,
        trust_env=False,
    )


def build_probe_client(
    base_url: str, options: AdapterOptions, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The probe client of one replica: a few connections, every timeout the probe timeout."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers=_headers(options),
        timeout=httpx.Timeout(options.probe_timeout_s),
        limits=httpx.Limits(max_connections=PROBE_CONNECTIONS, max_keepalive_connections=PROBE_CONNECTIONS),
        transport=transport,
        trust_env=False,
    )


def create_adapter(
    engine: str,
    base_url: str,
    options: AdapterOptions | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> EngineAdapter:
    """The adapter for `engine` at `base_url`; raises InvalidParams for an unknown engine or URL."""
    make = _ADAPTERS.get(engine)
    if make is None:
        raise InvalidParams(f"engine: unknown engine {engine!r}; expected one of {', '.join(HTTP_ENGINES)}")
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidParams(f"base_url: {base_url!r} is not an http(s) URL")
    settings = options or AdapterOptions()
    client = build_client(base_url, settings, transport)
    probe_client = build_probe_client(base_url, settings, transport)
    return make(HttpEngine(client, engine, settings, probe_client))
