"""Builds an engine adapter from (engine, base_url, options); the one place its clients are made.

Each replica gets two clients. Token streams use the engine stream client, with a short connect timeout
so an unreachable engine fails fast (the first-token and idle timeouts are the stream driver's) and a
connection kept per slot. Probes (health, props, metrics) use a small httpx client of their own with the
short probe timeout, so they never wait behind streams for a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import httpx

from orchestrator_core.errors import InvalidParams
from worker_adapters.engine_client import EngineStreamClient
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


def build_stream_client(base_url: str, engine: str, options: AdapterOptions) -> EngineStreamClient:
    """The stream client of one replica: a short connect timeout, a connection kept per slot."""
    return EngineStreamClient(
        base_url,
        engine,
        connect_timeout_s=options.connect_timeout_s,
        max_idle=options.kept_connections(),
        headers=_headers(options),
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
    streams = build_stream_client(base_url, engine, settings)
    return make(HttpEngine(streams, build_probe_client(base_url, settings, transport), settings))
