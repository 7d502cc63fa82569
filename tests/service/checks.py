"""Helpers of the fault tests: steady load, waiting for the writer, and the log checks."""

from __future__ import annotations

import asyncio
import collections
import json
import time
from typing import Any

from nats.aio.client import Client as NATS

from ccroute.config import Config
from ccroute.engine import Engine
from ccroute.service.loadgen import Step
from ccroute.service.subjects import Names
from ccroute.service.transport import StreamWriter
from ccroute.service.whole_stream import read_whole_stream


async def publish_steady(
    nc: NATS, names: Names, steps: list[Step], rate: float, progress: list[int] | None = None
) -> None:
    """Publish the steps at ``rate`` per second, confirmed, retrying through outages."""
    writer = StreamWriter(nc, names.input_stream)
    await writer.sync_last_seq()
    tick = 0.01
    per_tick = max(1, int(rate * tick))
    t0 = time.monotonic()
    for i in range(0, len(steps), per_tick):
        for s in steps[i : i + per_tick]:
            writer.add(s.subject, s.payload, s.id)
        await writer.commit()
        if progress is not None:
            progress[0] = i + per_tick
        delay = t0 + (i // per_tick + 1) * tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


async def api_status(nc: NATS, names: Names, timeout: float = 1.0) -> dict[str, Any] | None:
    try:
        msg = await nc.request(names.api_subject("status"), b"", timeout=timeout)
    except Exception:
        return None
    reply = json.loads(msg.data)
    result: dict[str, Any] | None = reply.get("result")
    return result


async def wait_writer(
    nc: NATS, names: Names, timeout: float = 20.0, min_seq: int = 0
) -> dict[str, Any]:
    """Wait until some instance is the ready writer and has applied ``min_seq``."""
    deadline = time.monotonic() + timeout
    st: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        st = await api_status(nc, names)
        if (
            st
            and st.get("role") == "writer"
            and st.get("ready")
            and st.get("applied_seq", 0) >= min_seq
        ):
            return st
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no ready writer at seq {min_seq}; last status {st}")


async def check_log(
    nc: NATS, names: Names, config: Config, *, in_order: bool = True
) -> dict[str, int]:
    """The decision stream equals a clean replay of the input log, once each; no contact
    lost (every accepted arrival was decided on), none assigned twice."""
    inputs = await read_whole_stream(nc, names.input_stream, names.input_wildcard, next_timeout=5)
    decisions = await read_whole_stream(
        nc, names.decision_stream, names.decision_wildcard, next_timeout=5
    )
    engine = Engine(config)
    outs = engine.apply_raw_many([m.data for m in inputs])
    expected: list[tuple[str, bytes]] = []
    for m, out in zip(inputs, outs, strict=True):
        for n, d in enumerate(json.loads(out)):
            expected.append(
                (f"{names.domain}:{m.seq}:{n}", json.dumps(d, separators=(",", ":")).encode())
            )
    got = [
        (m.msg_id, json.dumps(json.loads(m.data), separators=(",", ":")).encode())
        for m in decisions
    ]
    ids = [i for i, _ in got]
    dup = [i for i, c in collections.Counter(ids).items() if c > 1]
    assert not dup, f"decisions published twice: {dup[:5]}"
    assert len(got) == len(expected), (
        f"{len(got)} decisions stored, clean replay makes {len(expected)}"
    )
    if not in_order:  # refilled holes come after what follows them
        missing = sorted(set(expected) - set(got))
        extra = sorted(set(got) - set(expected))
        assert not missing and not extra, f"missing {missing[:3]}, not expected {extra[:3]}"
    else:
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert g == e, f"decision {i} differs: {g} != {e}"
    arrivals = {
        (d["tenant"], d["contact"])
        for m in inputs
        if (d := json.loads(m.data)).get("type") == "contact_arrived"
    }
    decided: set[tuple[str, str]] = set()
    assigned: collections.Counter[tuple[str, str]] = collections.Counter()
    for _, data in got:
        d = json.loads(data)
        if d["type"] in ("offer_made", "contact_queued"):
            decided.add((d["tenant"], d["contact"]))
        if d["type"] == "contact_assigned":
            assigned[(d["tenant"], d["contact"])] += 1
        assert d["type"] != "input_rejected", f"rejected input: {d}"
    assert arrivals <= decided, f"contacts never routed: {sorted(arrivals - decided)[:5]}"
    assert max(assigned.values(), default=0) <= 1
    return {"inputs": len(inputs), "decisions": len(got), "assigned": len(assigned)}
