"""Bearer tokens of the HTTP gateway: who may do what, for which tenant or agent.

A token is ``ccr1.<claims>.<signature>``: the claims are JSON (base64url), the signature
is HMAC-SHA256 of ``ccr1.<claims>`` under a secret kept in the data directory (written
0600, 32 random bytes from :mod:`secrets`). The gateway needs only the secret to check a
token, so any number of gateways can run behind a load balancer.

==========================  ===================================================================
role                        may
==========================  ===================================================================
``agent``                   act as its own agent (presence, offers, work), follow its own offers
``tenant_supervisor``       read and follow one tenant's queues, agents and figures
``provider_supervisor``     the same for every tenant, and agents' presence
``integration``             submit one tenant's inputs (contact sources: telephony, chat, CRM)
==========================  ===================================================================

The role names are those of the broker's credentials (``ccroute creds``), so one word
means one thing in both walls. A revoked token's id is listed in ``web-revoked`` in the
data directory; gateways re-read it when it changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Literal

import msgspec

__all__ = [
    "ROLES",
    "Claims",
    "Role",
    "TokenError",
    "TokenKeeper",
    "issue_token",
    "load_or_create_secret",
]

Role = Literal["agent", "tenant_supervisor", "provider_supervisor", "integration"]
ROLES: tuple[Role, ...] = ("agent", "tenant_supervisor", "provider_supervisor", "integration")

PREFIX = "ccr1"
SECRET_FILE = "web-token-secret"
REVOKED_FILE = "web-revoked"


class TokenError(ValueError):
    """A token that is malformed, forged, expired or revoked."""


class Claims(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a token grants."""

    jti: str
    """The token's id (what ``ccroute token revoke`` names)."""
    role: Role
    tenant: str | None = None
    """The tenant of a tenant supervisor or an integration."""
    agent: str | None = None
    """The agent of an agent token."""
    exp: int = 0
    """Expiry, Unix seconds (0: never)."""

    def sees_tenant(self, tenant: str) -> bool:
        """May read (supervise) this tenant."""
        if self.role == "provider_supervisor":
            return True
        return self.role == "tenant_supervisor" and self.tenant == tenant


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_secret(data_dir: str | Path) -> bytes:
    """The signing secret of ``data_dir``, created (0600) on first use."""
    path = Path(data_dir) / SECRET_FILE
    if path.exists():
        raw = path.read_bytes().strip()
        if len(raw) < 32:
            raise TokenError(f"{path}: the secret is shorter than 32 bytes")
        return raw
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = secrets.token_hex(32).encode()
    # O_EXCL: two processes starting together must not both write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_secret(data_dir)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return raw


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def issue_token(
    secret: bytes,
    role: Role,
    *,
    tenant: str | None = None,
    agent: str | None = None,
    ttl_seconds: int = 0,
) -> tuple[str, Claims]:
    """A signed token and its claims; checks that the role has what it needs."""
    if role not in ROLES:
        raise TokenError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if role in ("tenant_supervisor", "integration") and not tenant:
        raise TokenError(f"a {role} token needs --tenant")
    if role == "agent" and not agent:
        raise TokenError("an agent token needs --agent")
    if role == "provider_supervisor" and tenant:
        raise TokenError("a provider supervisor sees every tenant: give no --tenant")
    claims = Claims(
        jti=secrets.token_hex(8),
        role=role,
        tenant=tenant if role != "agent" else None,
        agent=agent if role == "agent" else None,
        exp=int(time.time()) + ttl_seconds if ttl_seconds > 0 else 0,
    )
    body = f"{PREFIX}.{_b64(msgspec.json.encode(claims))}"
    return f"{body}.{_sign(secret, body)}", claims


_claims_decoder = msgspec.json.Decoder(Claims)


class TokenKeeper:
    """Checks tokens for a gateway: signature, expiry, and the revocation list."""

    def __init__(self, secret: bytes, revoked_file: Path | None = None) -> None:
        self._secret = secret
        self._revoked_file = revoked_file
        self._revoked: frozenset[str] = frozenset()
        self._revoked_mtime: float | None = None
        self._checked_at = 0.0

    @classmethod
    def for_data_dir(cls, data_dir: str | Path) -> TokenKeeper:
        return cls(load_or_create_secret(data_dir), Path(data_dir) / REVOKED_FILE)

    def _refresh(self) -> None:
        # At most one stat a second: the list changes by hand, rarely.
        now = time.monotonic()
        if self._revoked_file is None or now - self._checked_at < 1.0:
            return
        self._checked_at = now
        try:
            mtime = self._revoked_file.stat().st_mtime
        except FileNotFoundError:
            self._revoked, self._revoked_mtime = frozenset(), None
            return
        if mtime != self._revoked_mtime:
            lines = self._revoked_file.read_text().split()
            self._revoked, self._revoked_mtime = frozenset(lines), mtime

    def check(self, token: str) -> Claims:
        """The claims of a valid token; raises :class:`TokenError` saying why not."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise TokenError("not a ccroute token")
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(_sign(self._secret, body), parts[2]):
            raise TokenError("bad signature")
        try:
            claims = _claims_decoder.decode(_unb64(parts[1]))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            raise TokenError("unreadable claims") from exc
        if claims.exp and claims.exp < time.time():
            raise TokenError("expired")
        self._refresh()
        if claims.jti in self._revoked:
            raise TokenError("revoked")
        return claims


def revoke(data_dir: str | Path, token_or_id: str) -> str:
    """Add a token (or its id) to the data directory's revocation list; the id."""
    jti = token_or_id
    parts = token_or_id.split(".")
    if len(parts) == 3 and parts[0] == PREFIX:
        jti = _claims_decoder.decode(_unb64(parts[1])).jti
    path = Path(data_dir) / REVOKED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(jti + "\n")
    return jti
