"""Shared plumbing of the HTTP adapters: the clients, JSON/text probes and three-valued health memory."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from orchestrator_core.errors import Internal, OrchError
from worker_adapters.engine_client import EngineStreamClient
from worker_adapters.errors import body_message, error_from_response, transport_errors
from worker_adapters.http_stream import StreamDriver
from worker_adapters.options import AdapterOptions
from worker_adapters.types import Health

_JSON = {"content-type": "application/json"}


class HttpEngine:
    """One engine endpoint: token streams through the StreamDriver on the engine stream client, probes and
    scrapes on an httpx client with the short probe timeout, so they never wait behind streams."""

    def __init__(
        self,
        streams: EngineStreamClient,
        probe_client: httpx.AsyncClient,
        options: AdapterOptions,
    ) -> None:
        self.probe_client = probe_client
        self.engine = streams.engine
        self.options = options
        self.driver = StreamDriver(streams, options)
        self._probe_timeout = httpx.Timeout(options.probe_timeout_s)
        self._answer_timeout = httpx.Timeout(options.first_token_timeout_s, connect=options.connect_timeout_s)
        self._seen_ready = False

    async def get(self, url: str) -> httpx.Response:
        """GET with the probe timeout; transport failures become typed errors, any status is returned."""
        with transport_errors(self.engine):
            return await self.probe_client.get(url, timeout=self._probe_timeout)

    async def get_json(self, url: str) -> Any:
        """GET a 2xx JSON document, or raise the typed error for the answer."""
        return self._json(url, await self.get(url))

    async def post_json(self, url: str, body: object) -> Any:
        """POST a JSON body and read a 2xx JSON answer within the first-token timeout (an answer that is
        computed whole, as embeddings are), or raise the typed error for the answer."""
        with transport_errors(self.engine):
            response = await self.probe_client.post(
                url, content=orjson.dumps(body), headers=_JSON, timeout=self._answer_timeout
            )
        return self._json(url, response)

    def _json(self, url: str, response: httpx.Response) -> Any:
        """A 2xx JSON answer's document, or the typed error for the answer."""
        if response.status_code >= 300:
            raise error_from_response(response, response.content, self.engine)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise Internal(f"{self.engine} {url} is not JSON", engine=self.engine) from exc

    async def get_text(self, url: str) -> str:
        """GET a 2xx text document, or raise the typed error for the answer."""
        response = await self.get(url)
        if response.status_code >= 300:
            raise error_from_response(response, response.content, self.engine)
        return response.text

    async def metrics_text(self) -> str:
        """The Prometheus exposition text (a separate metrics URL when configured, as for Triton)."""
        return await self.get_text(self.options.metrics_url or "/metrics")

    async def probe(self, url: str) -> httpx.Response | None:
        """GET for a health probe; None when the engine cannot be reached."""
        try:
            return await self.get(url)
        except OrchError:  # refused, timed out or dropped: the caller decides starting vs dead
            return None

    def ready(self) -> Health:
        """Record and return a ready state."""
        self._seen_ready = True
        return Health(live=True, ready=True, state="ready")

    def starting(self, reason: str) -> Health:
        """A live engine that is still loading."""
        return Health(live=True, ready=False, state="starting", reason=reason)

    def dead(self, reason: str) -> Health:
        """An engine that failed or stopped."""
        return Health(live=False, ready=False, state="dead", reason=reason)

    def unreachable(self) -> Health:
        """No answer: still starting if it was never ready, dead if it was (the process went away)."""
        if self._seen_ready:
            return self.dead(f"{self.engine} stopped answering")
        return Health(live=False, ready=False, state="starting", reason=f"{self.engine} not listening yet")

    async def health_at(self, path: str, *, loading_status: int | None = None) -> Health:
        """Probe `path`: 200 is ready, `loading_status` (if the engine has one) is starting, any other status
        is dead, and no answer is `unreachable()`."""
        response = await self.probe(path)
        if response is None:
            return self.unreachable()
        if response.status_code == 200:
            return self.ready()
        if response.status_code == loading_status:
            return self.starting(body_message(response.content))
        return self.dead(f"{path} answered {response.status_code}: {body_message(response.content)}")

    async def aclose(self) -> None:
        """Close both clients and every connection, including those still reading a body's end."""
        await self.driver.client.aclose()
        await self.probe_client.aclose()
