"""Where the SDK talks to and with which key: explicit arguments first, then `ORCH_URL` / `ORCH_API_KEY`
through `ClientSettings` (the project's one reader of the environment)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from contracts.config_schema.settings import ClientSettings
from orchestrator_core.errors import InvalidParams

USER_AGENT = "llorch-sdk/1.0"


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved base URL and the headers every request carries."""

    base_url: str
    api_key: str | None

    @property
    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers


def resolve_target(url: str | None = None, api_key: str | None = None) -> Target:
    """The target from the arguments, falling back to the environment for what is None."""
    if url is None or api_key is None:
        settings = ClientSettings()
        url = url if url is not None else settings.url
        if api_key is None and settings.api_key is not None:
            api_key = settings.api_key.get_secret_value()
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidParams(f"url: {url!r} is not a URL ({exc})") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidParams(f"url: {url!r} must be an http:// or https:// URL, e.g. http://127.0.0.1:8080")
    return Target(base_url=str(url).rstrip("/"), api_key=api_key or None)
