"""Credentials of the bus: who may connect, as what, for which tenant or agent.

A credential is an Ed25519 *NKEY* made with the ``nkeys`` package: the holder keeps the
seed (a file written 0600, never logged), the server knows only the public key and the
account and permissions that go with it (see :mod:`ccroute.service.accounts`). Kinds,
named as the web gateway names its roles:

==============  ========================================================================
``tenant``      a tenant's systems (contact sources, its own integrations): its inputs,
                decisions, dead letters and API, nothing of any other tenant
``supervisor``  a tenant's supervisors: the tenant's decisions, dead letters and views,
                read only
``agent``       one agent desktop: that agent's decisions (offers) and its own inputs only
``provider``    the provider's supervisors: every tenant, read only (no JetStream)
``gateway``     a gateway process acting for many tenants and agents (``ccroute web``):
                every tenant's and agent's inputs and reads, no ticks, no JetStream
``router``      ``ccroute serve`` itself: the domain's streams, KV bucket, object store
``admin``       operators: everything the router can do (``ccroute project``, backups)
==============  ========================================================================

The registry (``<data dir>/auth/credentials.json``) lists every credential ever issued
with its public key; revoking marks it so the next server configuration leaves it out
(and the server, reloaded, closes its connections).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import nkeys

__all__ = [
    "KINDS",
    "Credential",
    "CredentialFile",
    "CredentialStore",
    "credential_options",
    "load_credential_file",
    "private_directory",
]

KINDS = ("tenant", "supervisor", "agent", "provider", "gateway", "router", "admin")
"""Every kind of credential (see the module doc)."""

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SEED_BEGIN = "-----BEGIN USER NKEY SEED-----"
_SEED_END = "------END USER NKEY SEED------"


class Credential(msgspec.Struct, kw_only=True):
    """One issued credential as the registry keeps it (no secret in it)."""

    name: str
    kind: str
    public_key: str
    domain: str
    tenant: str | None = None
    agent: str | None = None
    issued_at: str = ""
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def inbox_prefix(self) -> str | None:
        """The reply-inbox prefix this credential's connections must use, if confined.

        Agent desktops share one account, so each may subscribe only to its own inboxes.
        """
        if self.kind == "agent" and self.agent is not None:
            from ccroute.service.subjects import encode_token

            return f"_INBOX.{encode_token(self.agent)}"
        return None


_registry_enc = msgspec.json.Encoder()
_registry_dec = msgspec.json.Decoder(list[Credential])


@dataclass(frozen=True)
class CredentialFile:
    """What a credentials file says: the seed and how to connect with it."""

    seed: str
    name: str = ""
    kind: str = ""
    inbox_prefix: str | None = None
    agent: str | None = None
    """The agent of an agent desktop's credential."""


def load_credential_file(path: str | os.PathLike[str]) -> CredentialFile:
    """Read a credentials file written by ``ccroute creds issue`` (or a bare seed file)."""
    text = Path(path).read_text()
    meta: dict[str, str] = {}
    seed = ""
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        if line == _SEED_BEGIN:
            seed = next(lines, "").strip()
        elif line.startswith("SU") and not seed:
            seed = line  # a bare seed file, as other NATS tools write them
        elif ":" in line and not line.startswith(("#", "-")):
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    if not seed.startswith("SU"):
        raise ValueError(f"{path}: no user NKEY seed in this credentials file")
    return CredentialFile(
        seed=seed,
        name=meta.get("name", ""),
        kind=meta.get("kind", ""),
        inbox_prefix=meta.get("inbox_prefix") or None,
        agent=meta.get("agent") or None,
    )


def credential_options(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``nats.connect`` options for a credentials file: a NATS ``.creds`` (user JWT) file
    as it is, a ccroute one (NKEY seed) as ``nkeys_seed_str`` plus its inbox prefix."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if b"BEGIN NATS USER JWT" in head:
        return {"user_credentials": str(path)}
    cred = load_credential_file(path)
    opts: dict[str, Any] = {"nkeys_seed_str": cred.seed}
    if cred.inbox_prefix:
        opts["inbox_prefix"] = cred.inbox_prefix
    return opts


def private_directory(path: Path) -> bool:
    """Create ``path`` for its owner only (0700, whatever the umask); True if it existed
    already and is open to other users (left as it is: it may be theirs to share).

    The data directory holds the embedded server's store, the snapshots and the contact
    records: every tenant's data, readable off the disk by anyone the directory lets in.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)
    path.chmod(0o700)  # mkdir's mode passes through the umask
    return False


def _write_secret(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only (0600) before a byte is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.parent.chmod(0o700)
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class CredentialStore:
    """The credentials of one data directory: the registry and the secret files."""

    def __init__(self, data_dir: str | os.PathLike[str], domain: str = "default") -> None:
        self.dir = Path(data_dir) / "auth"
        self.domain = domain
        self.registry_path = self.dir / "credentials.json"
        self.secrets_dir = self.dir / "creds"

    # ------------------------------------------------------------------ registry

    def all(self) -> list[Credential]:
        """Every credential issued, revoked ones included, oldest first."""
        try:
            return list(_registry_dec.decode(self.registry_path.read_bytes()))
        except FileNotFoundError:
            return []

    def active(self) -> list[Credential]:
        """The credentials of this domain the server must accept."""
        return [c for c in self.all() if c.active and c.domain == self.domain]

    def get(self, name: str) -> Credential | None:
        return next((c for c in self.all() if c.name == name), None)

    def make_dirs(self) -> None:
        """The data directory and its ``auth`` directory, for their owner only if new."""
        private_directory(self.dir.parent)
        if not private_directory(self.dir):
            return
        self.dir.chmod(0o700)  # ours alone: tightened even if it was made open

    def _save(self, creds: list[Credential]) -> None:
        self.make_dirs()
        tmp = self.registry_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.format(_registry_enc.encode(creds), indent=2) + b"\n")
        os.replace(tmp, self.registry_path)

    def secret_path(self, name: str) -> Path:
        return self.secrets_dir / f"{name}.creds"

    # -------------------------------------------------------------- operations

    def issue(
        self,
        kind: str,
        *,
        name: str | None = None,
        tenant: str | None = None,
        agent: str | None = None,
        out: str | os.PathLike[str] | None = None,
    ) -> tuple[Credential, Path]:
        """A new credential: registered, its secret written 0600 to ``out`` (default:
        ``<data dir>/auth/creds/<name>.creds``). Returns it and where the secret is."""
        if kind not in KINDS:
            raise ValueError(f"unknown credential kind {kind!r}; one of {', '.join(KINDS)}")
        if kind in ("tenant", "supervisor") and not tenant:
            raise ValueError(f"a {kind} credential needs --tenant")
        if kind == "agent" and not agent:
            raise ValueError("an agent credential needs --agent")
        if kind not in ("tenant", "supervisor"):
            tenant = None
        if kind != "agent":
            agent = None
        existing = self.all()
        if name is None:
            scope = tenant or agent or ""
            slug = re.sub(r"[^A-Za-z0-9_-]", "-", scope)[:32]
            name = "-".join(p for p in (kind, slug, secrets.token_hex(3)) if p)
        if not _NAME_RE.match(name):
            raise ValueError(f"credential name {name!r}: 1-64 letters, digits, '.', '_', '-'")
        if any(c.name == name for c in existing):
            raise ValueError(f"a credential named {name!r} exists (revoked ones keep names)")
        seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
        public = nkeys.from_seed(bytearray(seed)).public_key.decode()
        cred = Credential(
            name=name,
            kind=kind,
            public_key=public,
            domain=self.domain,
            tenant=tenant,
            agent=agent,
            issued_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        path = Path(out) if out is not None else self.secret_path(name)
        self.make_dirs()
        lines = [
            "# ccroute credential for NATS: keep this file secret (mode 0600).",
            f"name: {name}",
            f"kind: {kind}",
            f"domain: {self.domain}",
        ]
        if tenant is not None:
            lines.append(f"tenant: {tenant}")
        if agent is not None:
            lines.append(f"agent: {agent}")
        if cred.inbox_prefix:
            lines.append(f"inbox_prefix: {cred.inbox_prefix}")
        lines += [f"public_key: {public}", "", _SEED_BEGIN, seed.decode(), _SEED_END, ""]
        _write_secret(path, "\n".join(lines))
        self._save([*existing, cred])
        return cred, path

    def revoke(self, name: str) -> Credential:
        """Mark a credential revoked and delete its secret file if the store holds it."""
        creds = self.all()
        for i, c in enumerate(creds):
            if c.name == name:
                if c.revoked_at is None:
                    creds[i] = msgspec.structs.replace(
                        c, revoked_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                    )
                    self._save(creds)
                with contextlib.suppress(FileNotFoundError):
                    self.secret_path(name).unlink()
                return creds[i]
        raise KeyError(f"no credential named {name!r}")

    def ensure(self, kind: str, name: str) -> Path:
        """The secret file of the active credential ``name`` of ``kind``, issued if
        missing (the router's and the admin's own credentials at ``ccroute serve``)."""
        cred = self.get(name)
        path = self.secret_path(name)
        if cred is not None and cred.active and cred.domain == self.domain and path.exists():
            return path
        if cred is not None:
            # Lost secret or another domain: retire the old name, issue a fresh key.
            if cred.active:
                self.revoke(name)
            creds = [c for c in self.all() if c.name != name]
            self._save(creds)
        _, path = self.issue(kind, name=name)
        return path
