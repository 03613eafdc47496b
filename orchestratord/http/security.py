"""Authentication and roles (ORCH-5001..5004).

API keys and node tokens are configured as SHA-256 hex digests; the presented Bearer token is hashed and
compared with every configured digest in constant time, so neither a match nor its position leaks through
timing. The tenant comes from the matching key. `admin` includes `client`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request

from orchestrator_core.errors import Forbidden, Unauthorized


class Role(StrEnum):
    """What a caller may do: `client` uses the data plane, `admin` also the control plane."""

    CLIENT = "client"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One configured key: the SHA-256 digest (hex) of the secret, its tenant and role."""

    sha256: str
    tenant: str
    role: Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request."""

    tenant: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role is Role.ADMIN or self.role is role

    @property
    def visible_tenant(self) -> str | None:
        """The tenant whose tasks the caller may see; None for the admin role, which sees every task."""
        return None if self.role is Role.ADMIN else self.tenant


ANONYMOUS_TENANT = "anonymous"


def sha256_hex(secret: str) -> str:
    """The digest form in which secrets are configured."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return token.strip()


def _match(digests: Iterable[tuple[str, object]], token: str) -> object | None:
    presented = sha256_hex(token).encode()
    found: object | None = None
    for digest, value in digests:
        # Every entry is compared, without early exit, to keep the timing independent of the match.
        if hmac.compare_digest(presented, digest.lower().encode()):
            found = value
    return found


class Authenticator:
    """Turns a request's Bearer token into a Principal; without keys configured every caller is admin.

    Running without keys is only allowed on a loopback address; `__main__` refuses otherwise (ORCH-5005).
    """

    def __init__(
        self,
        api_keys: Iterable[ApiKey],
        node_token_digests: Iterable[str] = (),
        *,
        open_paths: Iterable[str] = ("/metrics", "/healthz", "/readyz"),
    ) -> None:
        self._keys = [(key.sha256, key) for key in api_keys]
        self._node_tokens = [(digest, digest) for digest in node_token_digests]
        self.open_paths = frozenset(open_paths)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def principal(self, request: Request) -> Principal:
        """The caller of `request`; raises Unauthorized when keys are configured and none matches, and
        Forbidden for a node token, which is valid credentials of the wrong kind (ORCH-5003)."""
        token = _bearer(request)
        if not self._keys:
            return Principal(ANONYMOUS_TENANT, Role.ADMIN)
        if token is None:
            raise Unauthorized("missing Authorization: Bearer <api key>")
        key = _match(self._keys, token)
        if isinstance(key, ApiKey):
            return Principal(key.tenant, key.role)
        if _match(self._node_tokens, token) is not None:
            raise Forbidden("a node token grants only node registration and heartbeats; use an API key")
        raise Unauthorized("unknown API key")

    def require(self, role: Role) -> Callable[[Request], Awaitable[Principal]]:
        """A FastAPI dependency admitting callers with `role` (401 without credentials, 403 without role)."""

        async def dependency(request: Request) -> Principal:
            principal = self.principal(request)
            if not principal.may(role):
                raise Forbidden(f"this operation needs the {role.value} role")
            return principal

        return dependency

    def open_or(self, role: Role) -> Callable[[Request], Awaitable[Principal | None]]:
        """A dependency for /metrics, /healthz, /readyz: open when configured so, otherwise `role`."""
        guarded = self.require(role)

        async def dependency(request: Request) -> Principal | None:
            if request.url.path in self.open_paths:
                return None
            return await guarded(request)

        return dependency

    def require_node(self) -> Callable[[Request], Awaitable[None]]:
        """A dependency for pool_managerd registration and heartbeats: a configured node token (ORCH-5003).

        Only node tokens are credentials here, so an API key is as unknown as a forged token: 401.
        """

        async def dependency(request: Request) -> None:
            token = _bearer(request)
            if token is None:
                raise Unauthorized("missing Authorization: Bearer <node token>")
            if _match(self._node_tokens, token) is None:
                raise Unauthorized("unknown node token; node registration and heartbeats need a node token")

        return dependency
