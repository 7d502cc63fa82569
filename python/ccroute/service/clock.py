"""The clock: ``clock_tick`` inputs published into the log, so timers fire from the log.

The engine reads no wall clock; offer time-outs, wrap-up limits and cool-downs fire when
an input's ``ts`` passes them. The writer publishes a tick every ``interval_ms`` on
``ccroute.<domain>.in._clock``, aligned to multiples of the interval, with the id
``tick-<ms>`` (also its ``Nats-Msg-Id``): ticks from two instances at the same boundary are
the same message, dropped by the input stream's duplicate window (and by the engine's id
de-duplication after it). A replay sees the same ticks in the same places, so the timers
fire exactly as they did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable

from nats.aio.client import Client as NATS

from ccroute.service.storage import StoreHealth, store_full_reason
from ccroute.service.subjects import Names

__all__ = ["run_clock", "tick_payload"]

log = logging.getLogger("ccroute.service.clock")


def tick_payload(ts_ms: int) -> tuple[str, bytes]:
    """(id, JSON) of the tick at ``ts_ms``."""
    tick_id = f"tick-{ts_ms}"
    return tick_id, b'{"type":"clock_tick","id":"%s","ts":%d}' % (tick_id.encode(), ts_ms)


async def run_clock(
    nc: NATS,
    names: Names,
    interval_ms: int,
    stop: asyncio.Event,
    active: Callable[[], bool] = lambda: True,
    health: StoreHealth | None = None,
) -> None:
    """Publish a tick at every interval boundary while ``active()``, until ``stop``.

    Ticks are also the service's probe of the input stream: ``health`` learns from their
    answers whether it takes inputs (a full stream refuses producers too).
    """
    if interval_ms <= 0:
        return
    subject = names.clock_subject
    while not stop.is_set():
        now_ms = time.time() * 1000
        boundary = (int(now_ms) // interval_ms + 1) * interval_ms
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, (boundary - now_ms) / 1000))
        if stop.is_set():
            return
        if not active():
            continue
        tick_id, payload = tick_payload(boundary)
        try:
            msg = await nc.request(subject, payload, timeout=2.0, headers={"Nats-Msg-Id": tick_id})
        except Exception as exc:  # server away: the next tick covers the time passed
            log.debug("tick_failed ts=%d error=%r", boundary, exc)
            if health is not None and isinstance(exc, TimeoutError) and nc.is_connected:
                health.unanswered(names.input_stream)
            continue
        if health is None:
            continue
        try:
            error = json.loads(msg.data).get("error")
        except ValueError:
            continue
        reason = store_full_reason(error)
        if reason is not None:
            health.refused(names.input_stream, reason)
        elif error is None:
            health.stored(names.input_stream)
