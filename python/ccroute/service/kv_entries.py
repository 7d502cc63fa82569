"""Every live entry of the KV bucket, read in one pass, with no race at its start.

nats-py's ``KeyValue.keys()`` starts an ordered consumer and decides that the bucket is
empty when the consumer's info says nothing is pending and the subscription has received
nothing yet. When the server has already sent every entry but the client has not read
them, both are true of a full bucket as well, and ``keys()`` raises ``NoKeysError``: in CI,
``ccroute project``'s test found no keys right after a rebuild had stored them, and
``ccroute status`` could print an empty board the same way. Here the end of the entries
is the delivered message whose own metadata says nothing is pending after it, and the
bucket counts as empty only when the consumer's info says nothing was delivered either.

The read uses the same ordered consumer as ``keys()`` (the same permissions), and takes
the values with the keys: one pass instead of a ``get`` per key.
"""

from __future__ import annotations

import asyncio
from typing import Any

from nats.js.api import DeliverPolicy

__all__ = ["read_entries"]

#: Headers of a delete or purge: the key has no value now.
_OPERATION = "KV-Operation"
_MARKER = "Nats-Marker-Reason"


async def read_entries(
    js: Any, bucket: str, keys: str = ">", *, timeout: float = 10.0
) -> dict[str, bytes]:
    """``key -> value`` of every live entry of ``bucket`` whose key matches ``keys`` (a
    subject pattern: ``"queue.>"``, ``">"``). Deleted and purged keys are left out."""
    prefix = f"$KV.{bucket}."
    out: dict[str, bytes] = {}
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def on_entry(msg: Any) -> None:
        key = msg.subject[len(prefix) :]
        headers = msg.headers or {}
        if _OPERATION in headers or _MARKER in headers:
            out.pop(key, None)
        else:
            out[key] = msg.data
        if msg.metadata.num_pending == 0 and not done.done():
            done.set_result(None)

    sub = await js.subscribe(
        prefix + keys,
        stream=f"KV_{bucket}",
        cb=on_entry,
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        inactive_threshold=60.0,
    )
    try:
        info = await sub.consumer_info()
        if info.num_pending == 0 and not (info.delivered and info.delivered.consumer_seq):
            return {}
        await asyncio.wait_for(done, timeout)
    finally:
        await sub.unsubscribe()
    return out
