"""What this disk's flushes allow: JetStream's store rate with ``sync_interval: always``.

One stream, 200-byte messages, on an embedded nats-server in a temporary directory:
published one at a time (each acknowledged before the next), pipelined (the
acknowledgement of the last only), and in atomic batches (``Nats-Batch-Id``, nats-server
2.12+, a stream with ``allow_atomic``), with sync always and without. Every message
stored with sync always is one flush unless the server stores it in a batch, so these
rates bound what ``ccroute serve`` sustains (docs/service.md, "What one input costs in
flushes"). ``python benchmarks/flush_probe.py [--n 20000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import nats

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

from ccroute.service.embedded import EmbeddedNats  # noqa: E402

PAYLOAD = b"x" * 200
ATOMIC_BATCH = 500


async def probe(url: str, n: int) -> dict[str, float]:
    nc = await nats.connect(url)
    try:
        for name, atomic in (("SEQ", False), ("PIPE", False), ("ATOM", True)):
            cfg = {"name": name, "subjects": [f"{name.lower()}.>"], "allow_atomic": atomic}
            await nc.request(f"$JS.API.STREAM.CREATE.{name}", json.dumps(cfg).encode())
        js = nc.jetstream()
        out: dict[str, float] = {}
        m = min(n, 2000)
        t = time.perf_counter()
        for _ in range(m):
            await js.publish("seq.a", PAYLOAD)
        out["one_at_a_time"] = m / (time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(n - 1):
            await nc.publish("pipe.a", PAYLOAD)
        await nc.request("pipe.a", PAYLOAD, timeout=120)
        out["pipelined"] = n / (time.perf_counter() - t)
        t = time.perf_counter()
        for b in range(n // ATOMIC_BATCH):
            for i in range(1, ATOMIC_BATCH + 1):
                headers = {"Nats-Batch-Id": f"b{b}", "Nats-Batch-Sequence": str(i)}
                if i < ATOMIC_BATCH:
                    await nc.publish("atom.a", PAYLOAD, headers=headers)
                else:
                    headers["Nats-Batch-Commit"] = "1"
                    ack = await nc.request("atom.a", PAYLOAD, headers=headers, timeout=120)
                    if b"error" in ack.data:
                        raise RuntimeError(ack.data.decode())
        out[f"atomic_batches_of_{ATOMIC_BATCH}"] = (n // ATOMIC_BATCH * ATOMIC_BATCH) / (
            time.perf_counter() - t
        )
        return out
    finally:
        await nc.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    args = p.parse_args()
    for sync in (True, False):
        server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="ccroute-flush-")), sync_always=sync)
        server.start()
        try:
            rates = asyncio.run(probe(server.url, args.n))
        finally:
            server.stop()
        label = "sync always" if sync else "sync interval (2 min)"
        print(label + ": " + ", ".join(f"{k} {v:,.0f}/s" for k, v in rates.items()))


if __name__ == "__main__":
    main()
