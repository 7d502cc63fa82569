"""Who is asking: the bearer token of a request, and the rules of each role.

Every ``/v1`` endpoint takes ``Authorization: Bearer <token>``; a missing, forged, expired
or revoked token is a 401, a valid token asking for what its role or tenant does not cover
a 403 (the problem document says which). The rules:

- an **agent** acts on and follows its own agent only;
- a **tenant supervisor** reads its own tenant (queues, agents serving it, figures,
  board stream);
- a **provider supervisor** reads every tenant, and may act on any agent's presence
  (log out an agent who left without doing so) and submit any tenant's inputs;
- an **integration** submits its own tenant's inputs.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from ccroute.web.context import GatewayContext
from ccroute.web.problems import ProblemError
from ccroute.web.tokens import Claims, TokenError

__all__ = [
    "claims_of",
    "context_of",
    "may_act_as_agent",
    "may_read_tenant",
    "may_submit",
    "token_guard",
    "visible_tenants",
]


def context_of(request: Request[Any, Any, Any]) -> GatewayContext:
    ctx: GatewayContext = request.app.state.ctx
    return ctx


def claims_of(request: Request[Any, Any, Any]) -> Claims:
    """The request's token claims (checked by :func:`token_guard`), or a 401."""
    claims = request.scope.get("state", {}).get("ccroute_claims")
    if isinstance(claims, Claims):
        return claims
    return _check(request)


def token_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Runs before the body is read: a request without a valid token learns nothing more."""
    connection.scope.setdefault("state", {})["ccroute_claims"] = _check(connection)


def _check(request: ASGIConnection[Any, Any, Any, Any]) -> Claims:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemError(401, "unauthorized", "send Authorization: Bearer <token>")
    try:
        ctx: GatewayContext = request.app.state.ctx
        return ctx.tokens.check(token.strip())
    except TokenError as exc:
        raise ProblemError(401, "unauthorized", f"token refused: {exc}") from None


def may_act_as_agent(claims: Claims, agent: str) -> None:
    if claims.role == "agent" and claims.agent == agent:
        return
    if claims.role == "provider_supervisor":
        return
    raise ProblemError(
        403, "forbidden", f"a {claims.role} token may not act as agent {agent!r}", "path.agent"
    )


def may_read_tenant(claims: Claims, tenant: str) -> None:
    if claims.sees_tenant(tenant):
        return
    raise ProblemError(
        403, "forbidden", f"a {claims.role} token may not read tenant {tenant!r}", "path.tenant"
    )


def may_submit(claims: Claims, tenant: str) -> None:
    if claims.role == "provider_supervisor" or (
        claims.role == "integration" and claims.tenant == tenant
    ):
        return
    raise ProblemError(
        403,
        "forbidden",
        f"a {claims.role} token may not submit inputs of tenant {tenant!r}",
        "path.tenant",
    )


def visible_tenants(claims: Claims, ctx: GatewayContext, asked: list[str] | None) -> list[str]:
    """The tenants a board shows: those asked for (each checked), else all it may see."""
    all_ids = [t.id for t in ctx.config.tenants]
    if asked:
        for t in asked:
            if t not in ctx.checker.tenants:
                raise ProblemError(404, "unknown_tenant", f"no tenant {t!r}", "query.tenant")
            may_read_tenant(claims, t)
        return asked
    if claims.role == "provider_supervisor":
        return all_ids
    if claims.role == "tenant_supervisor" and claims.tenant:
        return [claims.tenant]
    raise ProblemError(403, "forbidden", f"a {claims.role} token sees no board")
