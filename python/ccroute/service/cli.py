"""``ccroute serve`` and ``ccroute project``: the command-line ends of the service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from ccroute import event_loop
from ccroute.config import load_config
from ccroute.service import allocator
from ccroute.service.accounts import ServerAuth
from ccroute.service.assets import add_tenant_entries, ensure_assets
from ccroute.service.service import (
    Service,
    ServiceSettings,
    SettingsError,
    connect,
    env_float,
)
from ccroute.service.subjects import Names

__all__ = ["cli_creds", "cli_project", "cli_serve", "setup_logging"]

log = logging.getLogger("ccroute.service")

STOP_GRACE_SECONDS = 1.5
"""How long ``ccroute serve`` may take to stop cleanly after SIGTERM/SIGINT before it
cancels what it is doing (``CCROUTE_STOP_GRACE_SECONDS`` overrides)."""
_CANCEL_SECONDS = 0.3
"""How long a cancelled service may take to unwind before the process exits anyway."""

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class _LogfmtFormatter(logging.Formatter):
    """``ts=... level=... logger=... msg key=value ...`` (messages are key=value already)."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = (
            f"ts={ts}.{int(record.msecs):03d}Z level={record.levelname.lower()} "
            f"logger={record.name} {record.getMessage()}"
        )
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _RESERVED and k not in doc:
                doc[k] = v
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Structured logs on stderr: logfmt (default) or JSON (``CCROUTE_LOG_FORMAT=json``)."""
    level = level or os.environ.get("CCROUTE_LOG_LEVEL", "INFO")
    fmt = fmt or os.environ.get("CCROUTE_LOG_FORMAT", "logfmt")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _LogfmtFormatter())
    root = logging.getLogger("ccroute")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def cli_serve(args: argparse.Namespace) -> int:
    """Run the routing service until SIGTERM/SIGINT; 0 after a clean stop."""
    setup_logging()
    allocator.tune()
    config = load_config(args.config)
    try:
        settings = ServiceSettings.from_args(args, table=config.service)
        service = Service(config, settings)
        grace = env_float(os.environ, "CCROUTE_STOP_GRACE_SECONDS", STOP_GRACE_SECONDS)
    except SettingsError as exc:
        print(f"ccroute serve: {exc}", file=sys.stderr)
        return 2

    async def main() -> int:
        stop = asyncio.Event()
        forced = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(signame: str) -> None:
            if stop.is_set():
                log.warning("signal=%s again: stopping now", signame)
                forced.set()
            else:
                log.info("signal=%s: stopping (at most %.1f s)", signame, grace)
                stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal, sig.name)
        log.info(
            "starting domain=%s config=%s nats=%s",
            settings.domain,
            args.config,
            ",".join(settings.servers) if settings.servers else "embedded",
        )
        # ``--http-port``: the HTTP gateway beside the service, stopped with it.
        web: asyncio.Future[None] | None = None
        if getattr(args, "http_port", None) is not None:
            from ccroute.web.cli import gateway_beside_service

            web = asyncio.ensure_future(
                gateway_beside_service(service, stop, args.http_port, args.http_host)
            )
        try:
            run = asyncio.ensure_future(service.run(stop))
            await asyncio.wait(
                {run, asyncio.ensure_future(stop.wait())}, return_when="FIRST_COMPLETED"
            )
            if not run.done():
                # A clean stop finishes the batch in hand, flushes, snapshots and gives the
                # lease up; whatever state it is stuck in, it gets ``grace`` seconds (the log
                # stays the truth, a standby takes over when the lease expires).
                waiter = asyncio.ensure_future(forced.wait())
                await asyncio.wait({run, waiter}, timeout=grace, return_when="FIRST_COMPLETED")
                waiter.cancel()
                if not run.done():
                    log.warning("stop_forced after=%.1fs role=%s", grace, service.role)
                    run.cancel()
                    await asyncio.wait({run}, timeout=_CANCEL_SECONDS)
                    if not run.done():
                        # Clean-up is waiting on a server that is gone (a lease renewal, a
                        # drain): leave now. Nothing is lost: the inputs are in the log and a
                        # decision published twice is stored once (its Nats-Msg-Id).
                        log.warning("stop_exit role=%s (clean-up still waiting)", service.role)
                        logging.shutdown()
                        os._exit(1)
                    return 1
            return run.result()
        finally:
            if web is not None:
                stop.set()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(web, 5)

    return event_loop.run(main())


async def _project(args: argparse.Namespace) -> int:
    from ccroute.service.kv_entries import read_entries
    from ccroute.service.runner import LogTrimmedError, Router, RouterSettings

    names = Names(args.domain)
    creds = getattr(args, "creds", None)
    nc = await connect(list(args.nats) if args.nats else ["nats://127.0.0.1:4222"], creds=creds)
    try:
        js = nc.jetstream()
        await ensure_assets(js, names, adjust=False)
        if args.rebuild:
            config = load_config(args.config)
            router = Router(nc, names, config, RouterSettings(batch=2000, pull_batch=2000))
            t0 = time.perf_counter()
            try:
                n = await router.rebuild()
            except LogTrimmedError as exc:
                print(json.dumps({"rebuilt": False, "error": str(exc)}))
                return 1
            print(
                json.dumps(
                    {
                        "rebuilt": True,
                        "inputs": n,
                        "entries": router.rebuilt_entries,
                        "seconds": round(time.perf_counter() - t0, 3),
                    }
                )
            )
            return 0
        entries = await read_entries(js, names.kv_bucket)
        for key, data in sorted(entries.items()):
            if key.startswith("_") or key == Names.LEASE_KEY:
                continue
            value = json.loads(data) if data else None
            print(json.dumps({"key": key, "value": value}, sort_keys=True))
        return 0
    finally:
        await nc.drain()


def cli_project(args: argparse.Namespace) -> int:
    """Print the projections from the KV bucket, or ``--rebuild`` them from the log."""
    setup_logging(level=os.environ.get("CCROUTE_LOG_LEVEL", "WARNING"))
    return asyncio.run(_project(args))


def _add_tenant_entry(auth: ServerAuth, names: Names, tenant: str) -> None:
    """A tenant new to the accounts gets its entry stream (and the log's source) before
    the server lets it publish: as the admin, on the embedded server of this data
    directory when it runs (else ``ccroute serve`` creates it at its next start)."""
    url = auth.server_url()
    admin = auth.store.secret_path(f"admin-{names.domain}")
    if url is None or not admin.exists():
        return

    async def add() -> bool:
        import nats

        from ccroute.service.service import credential_options

        opts = credential_options(str(admin))
        nc = await nats.connect(url, allow_reconnect=False, connect_timeout=5, **opts)
        try:
            return await add_tenant_entries(nc.jetstream(), names, tuple(auth.known_tenants()))
        finally:
            await nc.close()

    try:
        added = asyncio.run(add())
    except Exception as exc:  # the server is the operator's to fix; the credential stands
        print(f"ccroute: could not create {tenant!r}'s entry stream: {exc!r}", file=sys.stderr)
        return
    if added:
        print(
            f"ccroute: entry stream {names.tenant_entry_stream(tenant)} created "
            "(sourced by the log)",
            file=sys.stderr,
        )


def cli_creds(args: argparse.Namespace) -> int:
    """``ccroute creds issue|list|revoke|config``: the credentials of a data directory.

    Secrets go to files (0600) and are never printed; what is printed is the name, kind,
    scope and public key. ``issue`` and ``revoke`` rewrite the accounts configuration and
    signal the embedded server of that data directory to reload it (if it runs).
    """
    from ccroute.service.accounts import accounts_config

    names = Names(args.domain)
    auth = ServerAuth(args.data_dir, names)
    store = auth.store
    action = args.creds_command
    if action == "list":
        for c in store.all():
            if c.domain != names.domain:
                continue
            row = {
                "name": c.name,
                "kind": c.kind,
                "tenant": c.tenant,
                "agent": c.agent,
                "public_key": c.public_key,
                "issued_at": c.issued_at,
                "revoked_at": c.revoked_at,
            }
            print(json.dumps(row))
        return 0
    if action == "config":
        tenants = list(auth.tenants())
        if args.config:
            tenants += [t.id for t in load_config(args.config).tenants]
        text = accounts_config(names, tenants, store.active(), system_account=None)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text)
            print(f"ccroute: accounts of domain {names.domain!r} written to {args.out}")
        else:
            sys.stdout.write(text)
        return 0
    known = set(auth.known_tenants())
    try:
        if action == "issue":
            cred, path = store.issue(
                args.kind, name=args.name, tenant=args.tenant, agent=args.agent, out=args.out
            )
            print(
                json.dumps(
                    {
                        "issued": cred.name,
                        "kind": cred.kind,
                        "tenant": cred.tenant,
                        "agent": cred.agent,
                        "public_key": cred.public_key,
                        "file": str(path),
                    }
                )
            )
        else:
            cred = store.revoke(args.name)
            print(json.dumps({"revoked": cred.name, "kind": cred.kind, "at": cred.revoked_at}))
    except (ValueError, KeyError) as exc:
        print(f"ccroute: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    auth.write()
    if not args.no_reload:
        if action == "issue" and cred.tenant is not None and cred.tenant not in known:
            _add_tenant_entry(auth, names, cred.tenant)
        reloaded = auth.reload()
        print(
            "ccroute: server reloaded"
            if reloaded
            else "ccroute: no running embedded server here; the change applies at its next start "
            f"(or load {auth.accounts_path} into your NATS server and reload it)",
            file=sys.stderr,
        )
    return 0
