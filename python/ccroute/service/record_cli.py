"""``ccroute record``: the recorder as its own process (standalone, or started by serve).

``ccroute serve`` starts one as a child process (``--records``, on by default) so that
folding records and writing DuckDB never take the router's core or its interpreter lock;
the child exits when its parent does (it watches its standard input, a pipe from the
parent, for the end of file).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ccroute.config import load_config
from ccroute.record_store import RecordStore, StoreMismatch
from ccroute.service.recorder import LogRecorder, RecorderSettings
from ccroute.service.subjects import Names

__all__ = ["cli_record", "default_records_path", "start_recorder_process"]

log = logging.getLogger("ccroute.service.recorder")


def default_records_path(data_dir: str | Path) -> Path:
    """Where the records of a service with this data directory go by default."""
    return Path(data_dir) / "contacts.duckdb"


async def _wait_for_streams(recorder: LogRecorder, stop: asyncio.Event) -> bool:
    """Start once the domain's streams exist (the service creates them)."""
    warned = False
    while not stop.is_set():
        try:
            await recorder.start()
            return True
        except StoreMismatch:
            raise
        except Exception as exc:
            if not warned:
                log.warning(
                    "recorder_waiting_for_streams domain=%s error=%r", recorder.names.domain, exc
                )
                warned = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    return False


def cli_record(args: argparse.Namespace) -> int:
    """Follow a domain's log into the contact-record database until SIGTERM/SIGINT."""
    from ccroute.service.cli import setup_logging
    from ccroute.service.connection import close_promptly, connect

    setup_logging()
    config = load_config(args.config)
    names = Names(args.domain)
    path = Path(args.records) if args.records else default_records_path(args.data_dir)
    settings = RecorderSettings(flush_seconds=args.flush_seconds, own_process=True)

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if args.parent_pipe:
            # The parent holds the other end of standard input: its end (even by kill -9)
            # is our end of file.
            def watch() -> None:
                # The raw descriptor, not sys.stdin: a thread blocked in the buffered
                # reader would hold its lock when the interpreter shuts down.
                with contextlib.suppress(OSError):
                    while os.read(0, 4096):
                        pass
                with contextlib.suppress(RuntimeError):  # the loop may be closed already
                    loop.call_soon_threadsafe(stop.set)

            threading.Thread(target=watch, daemon=True).start()
        connecting = asyncio.ensure_future(
            connect(
                args.nats,
                creds=args.creds,
                tls_ca=args.tls_ca,
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
                name=f"ccroute-record-{args.domain}",
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not connecting.done():  # stopped (its parent gone) before it got in
            connecting.cancel()
            with contextlib.suppress(BaseException):
                await connecting
            return 0
        nc = connecting.result()
        store = RecordStore(path, config, domain=args.domain)
        recorder = LogRecorder(nc, names, config, store, settings)
        try:
            if not await _wait_for_streams(recorder, stop):
                return 0
            await recorder.run(stop)
        except StoreMismatch as exc:
            print(f"ccroute record: {exc}", file=sys.stderr)
            return 2
        finally:
            log.info("recorder_stopped %s", json.dumps(recorder.status(), sort_keys=True))
            # The server may be gone with the service: drain briefly, then close.
            await close_promptly(nc, 1.0)
        return 0

    return asyncio.run(main())


def start_recorder_process(
    config_path: str,
    url: str,
    domain: str,
    records: Path,
    *,
    creds: str | None = None,
    tls: tuple[str | None, str | None, str | None] = (None, None, None),
) -> subprocess.Popen[bytes]:
    """``ccroute record`` as a child of this process, ending when this process ends
    (``tls``: CA, certificate and key files, as the service connects)."""
    cmd = [
        sys.executable,
        "-m",
        "ccroute",
        "record",
        "--config",
        config_path,
        "--nats",
        url,
        "--domain",
        domain,
        "--records",
        str(records),
        "--parent-pipe",
    ]
    if creds:
        cmd += ["--creds", creds]
    for flag, path in zip(("--tls-ca", "--tls-cert", "--tls-key"), tls, strict=True):
        if path:
            cmd += [flag, path]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, env=dict(os.environ))
