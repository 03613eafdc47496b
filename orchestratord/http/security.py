"""Authentication and roles (ORCH-5001..5004).

API keys and node tokens are configured as SHA-256 hex digests; the presented Bearer token is hashed and
compared with every configured digest in constant time, so neither a match nor its position leaks through
timing. The tenant comes from the matching key. `admin` includes `client`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar, cast

from starlette.requests import Request
from starlette.types import Scope

from contracts.config_schema.common import sha256_hex
from orchestrator_core.errors import Forbidden, OrchError, Unauthorized


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


def bearer_token(scope: Scope) -> str | None:
    """The Bearer token of a request's headers; None without an Authorization header, Unauthorized for
    another scheme or an empty token. Without Authorization, an `X-Api-Key` header is the token, as the
    Anthropic clients send their key (ORCH-1095)."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    api_key: str | None = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Authorization must be 'Bearer <token>'")
            return token.strip()
        if name == b"x-api-key":
            api_key = value.decode("latin-1").strip()
            if not api_key:
                raise Unauthorized("X-Api-Key must not be empty")
    return api_key


def _match(digests: Iterable[tuple[bytes, object]], token: str) -> object | None:
    presented = sha256_hex(token).encode()
    found: object | None = None
    for digest, value in digests:
        # Every entry is compared, without early exit, to keep the timing independent of the match.
        if hmac.compare_digest(presented, digest):
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
        self._keys = [(key.sha256.lower().encode(), key) for key in api_keys]
        self._node_tokens = [(digest.lower().encode(), digest) for digest in node_token_digests]
        self.open_paths = frozenset(open_paths)

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def principal(self, scope: Scope) -> Principal:
        """The caller of a request; raises Unauthorized when keys are configured and none matches, and
        Forbidden for a node token, which is valid credentials of the wrong kind (ORCH-5003)."""
        token = bearer_token(scope)
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

    def node(self, scope: Scope) -> str:
        """The request's node token if it is a configured one (it also authenticates calls to the node);
        anything else, an API key included, is Unauthorized (ORCH-5003)."""
        token = bearer_token(scope)
        if token is None:
            raise Unauthorized("missing Authorization: Bearer <node token>")
        if _match(self._node_tokens, token) is None:
            raise Unauthorized("unknown node token; node registration and heartbeats need a node token")
        return token

    def require(self, role: Role) -> RoleGuard:
        """A FastAPI dependency admitting callers with `role` (401 without credentials, 403 without role)."""
        return RoleGuard(self, role)

    def open_or(self, role: Role) -> OpenOrRoleGuard:
        """A dependency for /metrics, /healthz, /readyz: open when configured so, otherwise `role`."""
        return OpenOrRoleGuard(RoleGuard(self, role), self.open_paths)

    def require_node(self) -> NodeGuard:
        """A dependency for pool_managerd registration and heartbeats: a configured node token (ORCH-5003).

        Only node tokens are credentials here, so an API key is as unknown as a forged token: 401.
        """
        return NodeGuard(self)

    def require_node_or(self, role: Role) -> NodeOrRoleGuard:
        """A dependency for routes a node may call with its token and an operator with a `role` key, such
        as deleting a node (ORCH-1112): the node token, or None for the key."""
        return NodeOrRoleGuard(NodeGuard(self), RoleGuard(self, role))


_DECIDED = "orch.guard"
T = TypeVar("T")


class Guard(Generic[T]):
    """What a route demands of its caller, decided from the request's headers alone.

    A guard is both the route's FastAPI dependency and what `EdgeMiddleware` checks before it reads the
    body, so authentication and role come before the body size (ORCH-1008). The decision is kept in the
    scope, so the dependency returns it instead of checking the credentials a second time.
    """

    __slots__ = ()

    def check(self, scope: Scope) -> T:
        """What the dependency yields (the caller, or None where none applies); raises Unauthorized or
        Forbidden."""
        raise NotImplementedError

    def decide(self, scope: Scope) -> T:
        """`check`, once per request and guard."""
        decided = scope.get(_DECIDED)
        if decided is not None and decided[0] is self:
            return cast(T, decided[1])
        outcome = self.check(scope)
        scope[_DECIDED] = (self, outcome)
        return outcome

    async def __call__(self, request: Request) -> T:
        return self.decide(request.scope)


class RoleGuard(Guard[Principal]):
    """Callers with `role`; an admin passes every role."""

    __slots__ = ("_auth", "role")

    def __init__(self, auth: Authenticator, role: Role) -> None:
        self._auth = auth
        self.role = role

    def check(self, scope: Scope) -> Principal:
        principal = self._auth.principal(scope)
        if not principal.may(self.role):
            raise Forbidden(f"this operation needs the {self.role.value} role")
        return principal


class OpenOrRoleGuard(Guard[Principal | None]):
    """Anyone on the configured open paths (None), elsewhere callers with the guarded role."""

    __slots__ = ("_guarded", "_open_paths")

    def __init__(self, guarded: RoleGuard, open_paths: frozenset[str]) -> None:
        self._guarded = guarded
        self._open_paths = open_paths

    def check(self, scope: Scope) -> Principal | None:
        if scope.get("path") in self._open_paths:
            return None
        return self._guarded.check(scope)


class NodeGuard(Guard[str]):
    """Callers presenting a configured node token; yields the token."""

    __slots__ = ("_auth",)

    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    def check(self, scope: Scope) -> str:
        return self._auth.node(scope)


class NodeOrRoleGuard(Guard[str | None]):
    """A configured node token (yielded), else a caller with the role (None); a caller with neither gets
    the role's refusal (401 without valid credentials, 403 without the role)."""

    __slots__ = ("_node", "_role")

    def __init__(self, node: NodeGuard, role: RoleGuard) -> None:
        self._node = node
        self._role = role

    def check(self, scope: Scope) -> str | None:
        try:
            return self._node.check(scope)
        except OrchError:
            self._role.check(scope)
            return None
