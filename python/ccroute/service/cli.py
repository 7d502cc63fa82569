"""``ccroute serve`` and ``ccroute project``: the command-line ends of the service."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from ccroute.config import load_config
from ccroute.service.assets import ensure_assets
from ccroute.service.service import Service, ServiceSettings, connect
from ccroute.service.subjects import Names

__all__ = ["cli_project", "cli_serve", "setup_logging"]

log = logging.getLogger("ccroute.service")

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
    config = load_config(args.config)
    settings = ServiceSettings.from_args(args, table=config.service)
    service = Service(config, settings)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "starting domain=%s config=%s nats=%s",
            settings.domain,
            args.config,
            ",".join(settings.servers) if settings.servers else "embedded",
        )
        return await service.run(stop)

    return asyncio.run(main())


async def _project(args: argparse.Namespace) -> int:
    from ccroute.service.runner import Router, RouterSettings

    names = Names(args.domain)
    nc = await connect(list(args.nats) if args.nats else ["nats://127.0.0.1:4222"])
    try:
        js = nc.jetstream()
        await ensure_assets(js, names)
        if args.rebuild:
            config = load_config(args.config)
            router = Router(nc, names, config, RouterSettings(batch=2000, pull_batch=2000))
            t0 = time.perf_counter()
            n = await router.rebuild()
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
        kv = await js.key_value(names.kv_bucket)
        try:
            keys = await kv.keys()
        except Exception:  # no keys yet
            keys = []
        for key in sorted(keys):
            if key.startswith("_") or key == Names.LEASE_KEY:
                continue
            entry = await kv.get(key)
            value = json.loads(entry.value) if entry.value else None
            print(json.dumps({"key": key, "value": value}, sort_keys=True))
        return 0
    finally:
        await nc.drain()


def cli_project(args: argparse.Namespace) -> int:
    """Print the projections from the KV bucket, or ``--rebuild`` them from the log."""
    setup_logging(level=os.environ.get("CCROUTE_LOG_LEVEL", "WARNING"))
    return asyncio.run(_project(args))
