"""Builds an engine adapter from (engine, base_url, options); the one place an httpx client is made.

Probes use the short probe timeout per request; streams use the client's timeouts: a short connect
timeout so an unreachable engine fails fast, and a long read timeout because the idle timeout between
tokens is enforced by the stream driver.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias

import httpx

from orchestrator_core.errors import InvalidParams
from worker_adapters.http_base import HttpEngine
from worker_adapters.llamacpp_http import LlamaCppHttpAdapter
from worker_adapters.options import AdapterOptions
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


def build_client(
    base_url: str, options: AdapterOptions, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The HTTP client of one replica, with explicit timeouts and connection limits."""
    headers = {"Authorization": f"Bearer {options.api_key}"} if options.api_key else {}
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(
            connect=options.connect_timeout_s,
            read=options.read_timeout_s,
            write=options.read_timeout_s,
            pool=options.connect_timeout_s,
        ),
        limits=httpx.Limits(
            max_connections=options.max_connections,
            max_keepalive_connections=options.max_connections,
        ),
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
    return make(HttpEngine(client, engine, settings))
