"""What the fenced writer costs, against what it replaced.

1. Chaining a batch's decisions on the previous one's id: the decision stream written
   through :class:`FencedWriter` (each message expects the stream's last sequence and,
   but the first of a batch, the previous message's id), against the same writer with
   the sequence alone (the framing before the chain, rebuilt here as the reference).
   Figures: decisions stored per second and the nats-server's CPU time per decision
   (user + system, from /proc); batches of 500 as the runner makes them while catching
   up. See docs/service.md (Fencing).
2. Confirming a live batch: the answer to the batch's last publish taken raw from the
   protocol parser (:class:`ccroute.service.transport.Replies`), against nats-py's
   ``request`` for that publish (the service's way before, rebuilt here as the reference:
   a header dictionary and a ``Msg`` per answer, a subscription task's queue hop).
   Batches of 13 decisions, as the soak's writer makes them at 5,000 inputs/s (about 400
   batches a second). Figures: the writer process's CPU time per batch
   (``time.process_time``) and batches per second. See docs/service.md (Performance).

Each figure is the best of two alternating runs (other work on the machine moves single
runs).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import msgspec
import nats
from nats.js.api import StreamConfig

from ccroute.service.embedded import EmbeddedNats
from ccroute.service.fencing import FencedWriter, Item, _headers, _previous, fenced_frame
from ccroute.service.transport import PubAck
from conftest import record

N = int(os.environ.get("CCROUTE_FENCING_COST_DECISIONS", "50000"))
BATCH = 500
LIVE_BATCHES = int(os.environ.get("CCROUTE_FENCING_COST_LIVE_BATCHES", "20000"))
LIVE_BATCH = 13
PAYLOAD = (
    b'{"type":"offer_made","id":"bench:%d:0","ts":1700000000000,"tenant":"t0",'
    b'"contact":"c-000123","agent":"a-0042","queue":"support","channel":"chat",'
    b'"input_seq":%d,"timeout_ms":20000}'
)


_puback = msgspec.json.Decoder(PubAck)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SequenceOnlyWriter(FencedWriter):
    """The reference of 1: every message expects a sequence, none the previous one's id."""

    async def _send(self, items: list[Item], base: int) -> PubAck:
        *body, (s, i, p) = items
        await self._nc._send_command(
            b"".join(fenced_frame(bs, bi, bp, base + n) for n, (bs, bi, bp) in enumerate(body))
        )
        headers = {"Nats-Msg-Id": i.decode(), "Nats-Expected-Last-Sequence": str(base + len(body))}
        msg = await self._nc.request(s.decode(), bytes(p), timeout=self.timeout, headers=headers)
        return _puback.decode(msg.data)


class RequestWriter(FencedWriter):
    """The reference of 2: the same chained frames, the last one sent with ``nc.request``."""

    async def _send(self, items: list[Item], base: int) -> PubAck:
        *body, (s, i, p) = items
        await self._nc._send_command(
            b"".join(
                fenced_frame(bs, bi, bp, base + n, _previous(items, n))
                for n, (bs, bi, bp) in enumerate(body)
            )
        )
        headers = _headers(i, base + len(body), _previous(items, len(body)))
        msg = await self._nc.request(s.decode(), bytes(p), timeout=self.timeout, headers=headers)
        return _puback.decode(msg.data)


async def _write(
    server: EmbeddedNats, stream: str, writer_type: type[FencedWriter], n: int, batch: int
) -> dict[str, float]:
    assert server.pid is not None
    nc = await nats.connect(server.url, pending_size=64 * 1024 * 1024)
    try:
        await nc.jetstream().add_stream(
            StreamConfig(name=stream, subjects=[f"{stream}.>"], allow_direct=True)
        )
        writer = writer_type(nc, stream, timeout=30)
        await writer.sync_last_seq()
        subject = f"{stream}.t0.offer_made.a-0042".encode()
        cpu0, t0 = _cpu_seconds(server.pid), time.perf_counter()
        own0 = time.process_time()
        for first in range(0, n, batch):
            for seq in range(first, min(n, first + batch)):
                writer.add(subject, b"bench:%d:0" % seq, PAYLOAD % (seq, seq))
            await writer.commit()
        own = time.process_time() - own0
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds(server.pid) - cpu0
        assert writer.last_seq == n and writer.slow_commits == 0
    finally:
        await nc.close()
    return {
        "decisions_per_s": n / seconds,
        "server_cpu_us_per_decision": cpu / n * 1e6,
        "writer_cpu_us_per_batch": own / -(-n // batch) * 1e6,
    }


def test_cost_of_chaining_decisions_on_the_previous_id(benchmark: Any, tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()

    async def run() -> dict[str, Any]:
        chained, sequence_only = [], []
        for i in range(2):
            sequence_only.append(await _write(server, f"SEQ{i}", SequenceOnlyWriter, N, BATCH))
            chained.append(await _write(server, f"CHAIN{i}", FencedWriter, N, BATCH))
        best_seq = min(sequence_only, key=lambda r: r["server_cpu_us_per_decision"])
        best_chain = min(chained, key=lambda r: r["server_cpu_us_per_decision"])
        return {
            "sequence_only_us": round(best_seq["server_cpu_us_per_decision"], 2),
            "chained_us": round(best_chain["server_cpu_us_per_decision"], 2),
            "sequence_only_decisions_per_s": round(
                max(r["decisions_per_s"] for r in sequence_only)
            ),
            "chained_decisions_per_s": round(max(r["decisions_per_s"] for r in chained)),
        }

    try:
        result = benchmark.pedantic(lambda: asyncio.run(run()), rounds=1, iterations=1)
    finally:
        server.stop()
    benchmark.extra_info.update(result)
    record("fencing: server CPU per decision", **result)
    assert result["chained_decisions_per_s"] > 0 and result["sequence_only_decisions_per_s"] > 0


def test_cost_of_confirming_a_live_batch_raw_or_by_request(benchmark: Any, tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats").start()
    n = LIVE_BATCHES * LIVE_BATCH

    async def run() -> dict[str, Any]:
        raw, request = [], []
        for i in range(2):
            request.append(await _write(server, f"REQ{i}", RequestWriter, n, LIVE_BATCH))
            raw.append(await _write(server, f"RAW{i}", FencedWriter, n, LIVE_BATCH))
        return {
            "request_writer_cpu_us_per_batch": round(
                min(r["writer_cpu_us_per_batch"] for r in request), 1
            ),
            "raw_writer_cpu_us_per_batch": round(min(r["writer_cpu_us_per_batch"] for r in raw), 1),
            "request_batches_per_s": round(max(r["decisions_per_s"] for r in request) / LIVE_BATCH),
            "raw_batches_per_s": round(max(r["decisions_per_s"] for r in raw) / LIVE_BATCH),
        }

    try:
        result = benchmark.pedantic(lambda: asyncio.run(run()), rounds=1, iterations=1)
    finally:
        server.stop()
    benchmark.extra_info.update(result)
    record("fencing: writer CPU to store and confirm a live batch of 13", **result)
    assert result["raw_batches_per_s"] > 0 and result["request_batches_per_s"] > 0
