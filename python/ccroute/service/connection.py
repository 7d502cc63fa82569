"""The service's NATS connections: opened to reconnect for ever, closed without waiting
on a server that does not answer.

The service, the recorder, the HTTP gateway, the status board and ``ccroute.client`` all
open and close their connections here, so a stop behaves the same in each.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

import nats
from nats.aio.client import Client as NATS

from ccroute.service.credentials import credential_options

__all__ = ["RECONNECT_WAIT", "close_promptly", "connect"]

RECONNECT_WAIT = 0.25
"""Seconds between reconnect attempts: short, so a restarted server is found quickly."""


async def connect(
    servers: list[str],
    *,
    creds: str | None = None,
    tls_ca: str | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    name: str = "ccroute",
    inbox_prefix: str | None = None,
    **callbacks: Any,
) -> NATS:
    """A NATS connection that reconnects for ever and buffers while it does.

    ``creds``: a NATS ``.creds`` file (user JWT) or a ccroute credentials file (an NKEY
    seed, see ``ccroute creds``); ``inbox_prefix``: where replies to this connection go
    (the router keeps its own deliveries and replies under a private prefix).
    """
    opts: dict[str, Any] = {
        "servers": servers,
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": RECONNECT_WAIT,
        "connect_timeout": 3,
        "pending_size": 64 * 1024 * 1024,
        "allow_reconnect": True,
        **callbacks,
    }
    if creds:
        opts.update(credential_options(creds))
    if inbox_prefix:
        opts["inbox_prefix"] = inbox_prefix
    if tls_ca or tls_cert:
        ctx = ssl.create_default_context(cafile=tls_ca)
        if tls_cert:
            ctx.load_cert_chain(tls_cert, tls_key)
        opts["tls"] = ctx
    return await nats.connect(**opts)


async def close_promptly(nc: NATS, drain_seconds: float) -> None:
    """Drain ``nc`` for at most ``drain_seconds``, then close it.

    A stop must not wait for a server that does not answer (paused, overloaded, its
    network cut): nats-py's ``drain`` ends with a flush that waits out its own 10 s
    time-out even when the drain is cancelled. So a server that does not answer a ping
    within the time is not drained at all, and a drain that outlasts it is left behind.
    """
    try:
        await asyncio.wait_for(nc.flush(), drain_seconds)
    except Exception:
        with contextlib.suppress(Exception):
            await nc.close()
        return
    drain = asyncio.ensure_future(nc.drain())
    # Its outcome is of no interest once the connection is closed.
    drain.add_done_callback(lambda t: t.cancelled() or t.exception())
    await asyncio.wait({drain}, timeout=drain_seconds)
    with contextlib.suppress(Exception):
        await nc.close()
