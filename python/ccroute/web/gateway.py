"""One gateway process (or task): a NATS connection, the hub, and uvicorn serving the app.

``ccroute web`` runs it alone; ``ccroute serve --http-port`` runs it beside the service
in the same event loop. Either way it stops when its ``stop`` event is set: the server
stops accepting, open streams are closed, then the NATS connection is drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from dataclasses import dataclass

import uvicorn
from nats.aio.client import Client as NATS

from ccroute.config import Config
from ccroute.service.connection import close_promptly, connect
from ccroute.service.subjects import Names
from ccroute.web.app import MAX_BODY_BYTES, create_app
from ccroute.web.context import GatewayContext
from ccroute.web.hub import Hub
from ccroute.web.tokens import TokenKeeper

__all__ = ["Gateway", "GatewaySettings"]

log = logging.getLogger("ccroute.web")


@dataclass
class GatewaySettings:
    servers: list[str]
    domain: str = "default"
    creds: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "ccroute-data"
    """Where the token secret and the revocation list are (``ccroute token``)."""
    max_body_bytes: int = MAX_BODY_BYTES
    own_process: bool = False
    """The gateway is the whole process (``ccroute web``): it may tune the collector."""


class _Server(uvicorn.Server):
    # The process that runs us owns the signals (ccroute serve stops the service first).
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


class Gateway:
    """The HTTP gateway of one routing domain."""

    def __init__(self, config: Config, settings: GatewaySettings) -> None:
        self.config = config
        self.settings = settings
        self.names = Names(settings.domain)
        self.port = settings.port
        self.started = asyncio.Event()
        self.nc: NATS | None = None
        self.hub: Hub | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port}"

    async def run(self, stop: asyncio.Event, nc: NATS | None = None) -> int:
        """Serve until ``stop`` is set (uses ``nc`` if given, else connects itself)."""
        s = self.settings
        own = nc is None
        if nc is None:

            async def error(exc: Exception) -> None:
                # nats-py prints a traceback by default; a reconnect is routine here.
                log.debug("nats_error error=%r", exc)

            async def disconnected() -> None:
                log.warning("nats_disconnected (reconnecting)")

            nc = await connect(
                s.servers,
                creds=s.creds,
                tls_ca=s.tls_ca,
                tls_cert=s.tls_cert,
                tls_key=s.tls_key,
                name=f"ccroute-web-{s.domain}",
                error_cb=error,
                disconnected_cb=disconnected,
            )
        self.nc = nc
        hub = self.hub = Hub(nc, self.names, self.config)
        server: _Server | None = None
        try:
            await hub.start()
            tokens = TokenKeeper.for_data_dir(s.data_dir)
            ctx = GatewayContext.build(self.config, self.names, hub, tokens, s.max_body_bytes)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((s.host, s.port))
            sock.listen(2048)
            self.port = sock.getsockname()[1]
            cfg = uvicorn.Config(
                create_app(ctx),
                # httptools (C) parses and frames; h11 would cost a stream frame ~3x more.
                http="httptools",
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=2,
                backlog=2048,
            )
            server = _Server(cfg)
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if serving.done():
                serving.result()
            log.info("web_listening url=%s domain=%s", self.url, s.domain)
            print(f"ccroute: web gateway listening on {self.url}", flush=True)
            if s.own_process:
                # Everything made so far lives as long as the process; a thousand open
                # streams make the collector's full passes long (tens of ms, every offer
                # behind one waits): keep the old out of them and run them less often.
                gc.collect()
                gc.freeze()
                gc.set_threshold(50_000, 20, 50)
            self.started.set()
            await asyncio.wait(
                [asyncio.ensure_future(stop.wait()), serving], return_when="FIRST_COMPLETED"
            )
            # Open streams never end by themselves: end them, then stop the server.
            hub.close_streams()
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, 5)
            return 0
        finally:
            await hub.stop()
            if own:
                # The server may be gone already (an embedded one stops with the service).
                await close_promptly(nc, 2.0)
            log.info("web_stopped")
