"""Arrival -> offer, timed with the offer's receipt stamped in a process of its own.

The load generators (``soak.py``, ``e2e_harness.py``) make and publish inputs on one
asyncio loop. Stamping an offer's receipt on that same loop charges the service for the
generator's own busy moments: an offer that arrives while the generator builds its next
250 inputs (3.5 ms of Python) or samples the service's status waits for the generator,
not for the router. Here the receipt is stamped by a small subscriber process that does
nothing else; the generator stamps each arrival as it publishes it, and the two stamps
are compared on ``time.perf_counter`` (``CLOCK_MONOTONIC`` on Linux: one clock for every
process on the machine).

``python benchmarks/offer_timer.py --url nats://... --subject 'ccroute.x.out.*.offer_made.>'``
is the subscriber: it prints ``<cause id> <receipt stamp>`` lines, in batches, to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

CAUSE = b'"cause":"'


def cause_of(data: bytes) -> bytes | None:
    """The ``cause`` (the input id) of an ``offer_made`` decision, without decoding it."""
    i = data.find(CAUSE)
    if i < 0:
        return None
    j = data.find(b'"', i + len(CAUSE))
    return data[i + len(CAUSE) : j]


class OfferTimer:
    """Pairs each timed arrival's publish stamp with its offer's receipt stamp."""

    def __init__(
        self, url: str, subject: str, creds: Path | None = None, keep_pairs: bool = False
    ) -> None:
        self.url = url
        self.subject = subject
        self.creds = creds
        self.sent_at: dict[str, float] = {}
        self.latencies_ms: list[float] = []
        self.pairs: list[tuple[str, float, float]] | None = [] if keep_pairs else None
        """With ``keep_pairs``: (input id, published, offer received) of every timed
        arrival, for a breakdown (``latency_breakdown.py``)."""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> OfferTimer:
        args = [sys.executable, __file__, "--url", self.url, "--subject", self.subject]
        if self.creds is not None:
            args += ["--creds", str(self.creds)]
        self._proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": _paths()}
        )
        assert self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), 30)
        if line != b"ready\n":
            raise RuntimeError(f"the offer timer did not start: {line!r}")
        self._reader = asyncio.get_running_loop().create_task(self._read(self._proc.stdout))
        return self

    def sent(self, input_id: str, stamp: float) -> None:
        """An arrival published at ``stamp`` (``time.perf_counter()``)."""
        self.sent_at[input_id] = stamp

    def take(self) -> list[float]:
        """The latencies (ms) paired since the last call."""
        got, self.latencies_ms = self.latencies_ms, []
        return got

    def forget_older_than(self, stamp: float) -> int:
        """Drop arrivals published before ``stamp`` with no offer yet; how many."""
        stale = [k for k, v in self.sent_at.items() if v < stamp]
        for k in stale:
            del self.sent_at[k]
        return len(stale)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            cause, _, stamp = line.rstrip(b"\n").rpartition(b" ")
            input_id = cause.decode()
            t = self.sent_at.pop(input_id, None)
            if t is not None:
                received = float(stamp)
                self.latencies_ms.append((received - t) * 1000)
                if self.pairs is not None:
                    self.pairs.append((input_id, t, received))

    async def settle(self, seconds: float = 0.3) -> None:
        """Give offers in flight time to be received and read."""
        await asyncio.sleep(seconds)

    async def stop(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._proc.wait(), 10)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


def _paths() -> str:
    repo = Path(__file__).resolve().parents[1]
    return os.pathsep.join([str(repo / "python"), os.environ.get("PYTHONPATH", "")])


async def _subscribe(url: str, subject: str, creds: str | None) -> None:
    import nats

    opts: dict[str, Any] = {}
    if creds:
        from ccroute.service.service import credential_options

        opts = credential_options(creds)
    nc = await nats.connect(url, pending_size=64 * 1024 * 1024, **opts)
    out = sys.stdout.buffer
    batch: list[bytes] = []
    perf = time.perf_counter

    async def on_offer(msg: Any) -> None:
        now = perf()
        cause = cause_of(msg.data)
        if cause is not None:
            batch.append(b"%s %.9f\n" % (cause, now))

    await nc.subscribe(subject, cb=on_offer)
    await nc.flush()
    out.write(b"ready\n")
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    parent = os.getppid()
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)
        if batch:
            out.write(b"".join(batch))
            out.flush()
            batch.clear()
        if os.getppid() != parent:  # the generator is gone: stop by ourselves
            break
    await nc.drain()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--creds")
    a = p.parse_args()
    asyncio.run(_subscribe(a.url, a.subject, a.creds))


if __name__ == "__main__":
    main()
