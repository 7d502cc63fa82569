"""``ccroute web`` (the gateway alone), ``ccroute token`` and the ``serve --http-port`` hook."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from ccroute import event_loop
from ccroute.config import load_config
from ccroute.web.gateway import Gateway, GatewaySettings
from ccroute.web.tokens import ROLES, TokenError, issue_token, load_or_create_secret, revoke

__all__ = ["add_parsers", "cli_token", "cli_web", "gateway_beside_service"]

log = logging.getLogger("ccroute.web")


def cli_web(args: argparse.Namespace) -> int:
    """Run the HTTP gateway until SIGTERM/SIGINT."""
    from ccroute.service.cli import setup_logging

    setup_logging()
    config = load_config(args.config)
    settings = GatewaySettings(
        servers=list(args.nats),
        domain=args.domain,
        creds=args.creds,
        tls_ca=args.tls_ca,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        own_process=True,
    )

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        gateway = Gateway(config, settings)
        run = asyncio.ensure_future(gateway.run(stop))
        await asyncio.wait({run, asyncio.ensure_future(stop.wait())}, return_when="FIRST_COMPLETED")
        if not run.done() and not gateway.started.is_set():
            # Stopped while still reaching NATS (it retries for ever): nothing to finish.
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            return 0
        return await run

    return event_loop.run(main())


async def gateway_beside_service(service: Any, stop: asyncio.Event, port: int, host: str) -> None:
    """``ccroute serve --http-port``: a gateway in the service's process, with a NATS
    connection of its own (the router's connection carries nothing but the router's)."""
    while not service.nats_url or service.nc is None or not service.nc.is_connected:
        if stop.is_set():
            return
        await asyncio.sleep(0.05)
    s = service.settings
    # The embedded server is secure by default: the gateway then uses the admin
    # credentials the service set it up with (the projection mirror reads the KV bucket).
    admin = getattr(service, "admin_creds", None)
    settings = GatewaySettings(
        servers=s.servers or [service.nats_url],
        domain=s.domain,
        creds=s.creds or (str(admin) if admin else None),
        tls_ca=s.tls_ca,
        tls_cert=s.tls_cert,
        tls_key=s.tls_key,
        host=host,
        port=port,
        data_dir=s.data_dir,
    )
    try:
        await Gateway(service.config, settings).run(stop)
    except Exception:
        log.exception("web_failed (the service goes on without its gateway)")


def cli_token(args: argparse.Namespace) -> int:
    """``ccroute token issue|revoke``."""
    try:
        if args.token_command == "issue":
            token, claims = issue_token(
                load_or_create_secret(args.data_dir),
                args.role,
                tenant=args.tenant,
                agent=args.agent,
                ttl_seconds=int(args.ttl_hours * 3600),
            )
            if args.json:
                print(
                    json.dumps(
                        {
                            "token": token,
                            "id": claims.jti,
                            "role": claims.role,
                            "tenant": claims.tenant,
                            "agent": claims.agent,
                            "expires": claims.exp or None,
                        }
                    )
                )
            else:
                print(token)
            return 0
        jti = revoke(args.data_dir, args.token)
        print(f"revoked {jti}")
        return 0
    except TokenError as exc:
        print(f"ccroute token: {exc}", file=sys.stderr)
        return 2


def add_parsers(sub: Any) -> None:
    """Register ``web`` and ``token`` on the ``ccroute`` command line."""
    s = sub.add_parser("web", help="the HTTP gateway: API, agent desktop, wallboard")
    s.add_argument("--config", "-c", required=True, help="the service's configuration (TOML)")
    s.add_argument("--nats", action="append", required=True, help="server URL (repeatable)")
    s.add_argument("--creds", default=None, help="NATS credentials file")
    s.add_argument("--tls-ca", default=None)
    s.add_argument("--tls-cert", default=None)
    s.add_argument("--tls-key", default=None)
    s.add_argument("--domain", default="default", help="routing domain")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--data-dir", default="ccroute-data", help="where the token secret is")
    s.set_defaults(func=cli_web)

    s = sub.add_parser("token", help="issue or revoke HTTP gateway tokens")
    tsub = s.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    t = tsub.add_parser("issue", help="print a new signed token")
    t.add_argument("--role", required=True, choices=ROLES)
    t.add_argument("--tenant", default=None, help="tenant of a supervisor or integration")
    t.add_argument("--agent", default=None, help="agent of an agent token")
    t.add_argument("--ttl-hours", type=float, default=0.0, help="expiry (0: none)")
    t.add_argument("--json", action="store_true", help="print the token with its claims")
    t.add_argument("--data-dir", default="ccroute-data", help="where the secret is kept")
    t.set_defaults(func=cli_token)
    t = tsub.add_parser("revoke", help="revoke a token (or its id) from now on")
    t.add_argument("token", help="the token, or its id")
    t.add_argument("--data-dir", default="ccroute-data")
    t.set_defaults(func=cli_token)
