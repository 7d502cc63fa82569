"""The tenant wall in NATS terms: one account per tenant, the router's account exporting
to each only its own subjects.

NATS accounts are separate subject spaces: a client sees only its own account's
messages, whatever it subscribes to (``>`` included), and another account's subjects
reach it only through an *import* the exporting account allowed by name. So:

- ``CCROUTE_<D>_ROUTER`` holds JetStream (streams, KV bucket, object store) and the
  router and admin users; nothing else has JetStream at all.
- Each tenant ``T`` has its own account ``CCROUTE_<D>_T_<t>`` importing exactly:
  the service ``in.<t>.>`` (publish its inputs; JetStream's acknowledgement comes back;
  the import maps it to ``entry.<t>.>`` in the router's account, the tenant's entry stream
  that the log sources: see :mod:`ccroute.service.assets`),
  the streams ``out.<t>.>`` (its decisions) and ``dlq.<t>.>`` (its dead letters), and the
  API services about ``<t>``. Its ``_INBOX`` traffic stays in its own account.
- ``..._AGENTS`` holds agent desktops; it imports every decision and the agent inputs,
  and each agent's user may subscribe only to ``out.*.*.<agent>`` and its own
  ``_INBOX.<agent>.>`` and publish only to ``in._agents.<agent>.*`` (per-user permissions:
  thousands of desktops, one account).
- ``..._PROVIDER`` (the provider's supervisors) imports every decision, dead letter and
  the read-only API; ``..._GATEWAY`` (``ccroute web``) that plus every tenant's and agent's
  inputs and submissions, never ticks.

:func:`accounts_config` renders that as nats-server configuration (static NKEY users: no
operator or JWT tooling needed); ``ccroute serve`` writes it for its embedded server,
``ccroute creds config`` for an existing cluster to include.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterable, Sequence
from pathlib import Path

from ccroute.service.credentials import Credential, CredentialStore
from ccroute.service.subjects import AGENT_PROFILE_TYPE, AGENTS_TOKEN, Names, encode_token

__all__ = [
    "AccountNames",
    "ServerAuth",
    "account_entries",
    "accounts_config",
    "server_config",
]


class AccountNames:
    """The account names of one routing domain."""

    def __init__(self, names: Names) -> None:
        up = names.domain.upper().replace("-", "_")
        self.prefix = f"CCROUTE_{up}"
        self.router = f"{self.prefix}_ROUTER"
        self.agents = f"{self.prefix}_AGENTS"
        self.provider = f"{self.prefix}_PROVIDER"
        self.gateway = f"{self.prefix}_GATEWAY"

    def tenant(self, tenant: str) -> str:
        return f"{self.prefix}_T_{encode_token(tenant)}"

    def of(self, cred: Credential) -> str:
        """The account a credential's user lives in."""
        if cred.kind in ("router", "admin"):
            return self.router
        if cred.kind in ("tenant", "supervisor"):
            assert cred.tenant is not None
            return self.tenant(cred.tenant)
        if cred.kind == "agent":
            return self.agents
        if cred.kind == "provider":
            return self.provider
        return self.gateway


def _q(text: str) -> str:
    """A quoted string of the configuration language (JSON quoting is valid there)."""
    return json.dumps(text)


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def _tenant_api(names: Names, t: str) -> list[str]:
    """The API subjects about tenant token ``t`` a tenant may reach (reads and submit)."""
    a = names.api_prefix
    return [f"{a}tenant.{t}", f"{a}tenant.{t}.*", f"{a}queue.{t}.*", f"{a}decisions.{t}"]


def _read_api(names: Names) -> list[str]:
    a = names.api_prefix
    return [
        f"{a}agent.*",
        f"{a}queue.*.*",
        f"{a}tenant.*",
        f"{a}tenant.*.*",
        f"{a}decisions.*",
        f"{a}status",
    ]


def _permissions(names: Names, cred: Credential) -> str | None:
    """A user's permissions inside its account (None: all its account offers)."""
    if cred.kind == "agent":
        assert cred.agent is not None
        a = encode_token(cred.agent)
        pub = [
            f"{names.in_prefix}{AGENTS_TOKEN}.{a}.*",
            f"{names.api_prefix}agent.{a}",
            f"{names.api_prefix}submit.{AGENTS_TOKEN}.{a}",
        ]
        # Which tenants, skills and capacities an agent has is the provider's to say: a
        # desktop naming every tenant in a profile change of its own would be offered
        # (and shown the customers of) tenants it does not serve.
        deny = [f"{names.in_prefix}{AGENTS_TOKEN}.{a}.{AGENT_PROFILE_TYPE}"]
        sub = [f"{names.out_prefix}*.*.{a}", f"_INBOX.{a}.>"]
        return (
            f"{{ publish: {{ allow: {_list(pub)}, deny: {_list(deny)} }}, "
            f"subscribe: {{ allow: {_list(sub)} }} }}"
        )
    if cred.kind == "supervisor":
        assert cred.tenant is not None
        pub = _tenant_api(names, encode_token(cred.tenant))
        return f'{{ publish: {{ allow: {_list(pub)} }}, subscribe: {{ allow: [">"] }} }}'
    return None


def _users(names: Names, creds: Sequence[Credential]) -> str:
    rows = []
    for c in creds:
        perms = _permissions(names, c)
        extra = f", permissions: {perms}" if perms else ""
        rows.append(f"      {{ nkey: {c.public_key}{extra} }}  # {c.name} ({c.kind})")
    return "[\n" + "\n".join(rows) + "\n    ]" if rows else "[]"


def account_entries(
    names: Names, tenants: Iterable[str], credentials: Sequence[Credential]
) -> list[str]:
    """The lines of one domain's accounts inside an ``accounts { ... }`` block."""
    acc = AccountNames(names)
    active = [c for c in credentials if c.active and c.domain == names.domain]
    tenant_set = sorted(set(tenants) | {c.tenant for c in active if c.tenant is not None})
    i, o, a = names.in_prefix, names.out_prefix, names.api_prefix
    dlq = f"{names.prefix}.dlq."
    broad = [acc.provider, acc.gateway]

    exports: dict[str, tuple[str, list[str]]] = {}  # subject -> (kind, accounts)
    # (kind, exported subject, local subject when the import maps it elsewhere)
    imports: dict[str, list[tuple[str, str, str | None]]] = {
        acc.agents: [],
        acc.provider: [],
        acc.gateway: [],
    }

    def share(kind: str, subject: str, accounts: list[str], to: str | None = None) -> None:
        # One export per subject, listing every account allowed to import it.
        _, have = exports.setdefault(subject, (kind, []))
        for account in accounts:
            if account not in have:
                have.append(account)
                imports.setdefault(account, []).append((kind, subject, to))

    def share_inputs(wildcard: str, accounts: list[str]) -> None:
        # Published as in.<...> in the account, landing on entry.<...> in the router's:
        # in the entry stream of that tenant (or of the desktops), never in the log itself,
        # so JetStream's publish checks answer about that stream alone (service.assets).
        share("service", names.entry_of(wildcard), accounts, to=wildcard)

    for tenant in tenant_set:
        t = encode_token(tenant)
        account = acc.tenant(tenant)
        share_inputs(f"{i}{t}.>", [account, acc.gateway])
        share("stream", f"{o}{t}.>", [account])
        share("stream", f"{dlq}{t}.>", [account])
        share("service", f"{a}submit.{t}", [account])
        for subject in _tenant_api(names, t):
            share("service", subject, [account])
    share("stream", f"{o}>", [acc.agents, *broad])
    share("stream", f"{dlq}>", broad)
    share_inputs(f"{i}{AGENTS_TOKEN}.*.*", [acc.agents, acc.gateway])
    share("service", f"{a}agent.*", [acc.agents, *broad])
    share("service", f"{a}submit.{AGENTS_TOKEN}.*", [acc.agents, acc.gateway])
    share("service", f"{a}submit.*", [acc.gateway])
    for subject in _read_api(names):
        share("service", subject, broad)

    by_account: dict[str, list[Credential]] = {}
    for c in active:
        by_account.setdefault(acc.of(c), []).append(c)

    out: list[str] = []
    out.append(f"  {_q(acc.router)} {{")
    out.append("    jetstream: enabled")
    out.append(f"    users: {_users(names, by_account.get(acc.router, []))}")
    out.append("    exports: [")
    for subject, (kind, accounts) in exports.items():
        out.append(f"      {{ {kind}: {_q(subject)}, accounts: {_list(accounts)} }}")
    out.append("    ]")
    out.append("  }")
    for account, imps in sorted(imports.items()):
        out.append(f"  {_q(account)} {{")
        out.append(f"    users: {_users(names, by_account.get(account, []))}")
        out.append("    imports: [")
        for kind, subject, to in imps:
            mapped = f", to: {_q(to)}" if to else ""
            out.append(
                f"      {{ {kind}: {{ account: {_q(acc.router)}, subject: {_q(subject)} }}"
                f"{mapped} }}"
            )
        out.append("    ]")
        out.append("  }")
    return out


def accounts_config(
    names: Names,
    tenants: Iterable[str],
    credentials: Sequence[Credential],
    *,
    system_account: str | None = "CCROUTE_SYS",
    more: Sequence[tuple[Names, Iterable[str], Sequence[Credential]]] = (),
) -> str:
    """The ``accounts { ... }`` block (and the system account) for ``names``' domain.

    ``tenants``: every tenant that gets an account (the configured ones and any a
    credential names); ``credentials``: the active ones (revoked ones are left out, so
    a reload closes their connections). ``more``: further domains on the same server.
    """
    head = f"# ccroute domain {names.domain!r}: generated by ccroute; do not edit by hand."
    out = [head, "", "accounts {"]
    if system_account:
        out.append(f"  {_q(system_account)} {{ users: [] }}")
    for n, t, c in [(names, tenants, credentials), *more]:
        out += account_entries(n, t, c)
    out.append("}")
    if system_account:
        out.append(f"system_account: {_q(system_account)}")
    return "\n".join(out) + "\n"


def server_config(accounts_file: Path, pid_file: Path, server_name: str) -> str:
    """The embedded server's own configuration: its name, the accounts and a pid file
    (the port, store and log come as command-line flags)."""
    return (
        "# ccroute embedded nats-server: generated by ccroute serve; do not edit by hand.\n"
        f"server_name: {_q(server_name)}\n"
        f"pid_file: {_q(str(pid_file.resolve()))}\n"
        f"include {_q(accounts_file.name)}\n"
    )


class ServerAuth:
    """The authentication files of one data directory and the server that loads them.

    ``<data dir>/auth/``: ``credentials.json`` (the registry), ``creds/`` (secrets, 0600),
    ``tenants.json`` (the tenants ``ccroute serve`` last configured), ``accounts.conf``
    and ``nats-server.conf`` (what the embedded server loads), ``nats-server.pid``.
    """

    def __init__(self, data_dir: str | Path, names: Names) -> None:
        self.names = names
        self.store = CredentialStore(data_dir, names.domain)
        self.dir = self.store.dir
        self.accounts_path = self.dir / "accounts.conf"
        self.server_path = self.dir / "nats-server.conf"
        self.pid_path = self.dir / "nats-server.pid"
        self.tenants_path = self.dir / "tenants.json"

    def tenants(self) -> list[str]:
        try:
            return list(json.loads(self.tenants_path.read_text()))
        except FileNotFoundError:
            return []

    def write(self, tenants: Iterable[str] | None = None) -> Path:
        """Write the accounts and server configuration; the server configuration's path.

        ``tenants`` (the engine configuration's) is remembered for later rewrites by
        ``ccroute creds``; None keeps the remembered ones.
        """
        self.store.make_dirs()
        if tenants is not None:
            self.tenants_path.write_text(json.dumps(sorted(set(tenants))) + "\n")
        text = accounts_config(self.names, self.tenants(), self.store.active())
        _replace(self.accounts_path, text)
        name = f"ccroute-{self.names.domain}"
        _replace(self.server_path, server_config(self.accounts_path, self.pid_path, name))
        return self.server_path

    def server_url(self) -> str | None:
        """The running embedded server's URL (from its pid file and command line), if any."""
        try:
            pid = int(self.pid_path.read_text().strip())
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if not argv or b"nats-server" not in argv[0]:
            return None
        flags = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith(b"-")}
        port = flags.get(b"-p") or flags.get(b"--port")
        host = flags.get(b"-a") or flags.get(b"--addr") or b"127.0.0.1"
        if not port:
            return None
        return f"nats://{host.decode()}:{port.decode()}"

    def known_tenants(self) -> list[str]:
        """Every tenant with an account: the configured ones and those credentials name."""
        named = {c.tenant for c in self.store.active() if c.tenant is not None}
        return sorted(set(self.tenants()) | named)

    def reload(self) -> bool:
        """Tell a running server to reload its configuration (SIGHUP); False if none runs.

        A reload that drops a user closes that user's connections at once.
        """
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            cmdline = b"nats-server"  # no /proc: trust the pid file
        if b"nats-server" not in cmdline:
            return False  # a stale pid file: that process is something else now
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            return False
        return True


def _replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
