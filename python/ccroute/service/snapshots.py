"""Engine snapshots with the input sequence they cover, in the domain's object store.

A snapshot is one MessagePack blob (:class:`Snapshot`): the engine's own snapshot bytes,
the projections' fold state, the input stream sequence both cover, and a digest of the
configuration they were taken under. It is stored as the object ``engine`` of bucket
``ccroute_<domain>_snapshots``; a new one replaces the old only once completely written
(the object store writes the chunks first, then the metadata that points at them).

Recovery loads it, restores the engine with :meth:`ccroute.engine.Engine.restore` and
replays the input stream from ``seq + 1``. Without a usable snapshot it replays the log
from its first message: slower, same result.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ObjectMeta, ObjectMetaOptions
from nats.js.errors import NotFoundError, ObjectNotFoundError

from ccroute.config import Config, encode_config
from ccroute.service.subjects import Names
from ccroute.service.transport import PullConsumer

__all__ = ["Snapshot", "SnapshotStore", "config_digest"]

log = logging.getLogger("ccroute.service.snapshots")

OBJECT_NAME = "engine"
CHUNK_SIZE = 128 * 1024
"""Object chunks, the object store's default size: each holds the broker and the writer's
connection for less time than the 512 KiB chunks used before, so offers interleave with
an upload (docs/service.md "Soak"); a snapshot is read back in one pull consumer, so
the count of chunks costs recovery little."""


class Snapshot(msgspec.Struct, kw_only=True):
    """What a snapshot holds."""

    v: int = 1
    domain: str
    seq: int
    """The last input stream sequence applied."""
    created_ms: int
    config_sha256: str
    engine: bytes
    projections: bytes = b""


_enc = msgspec.msgpack.Encoder()
_dec = msgspec.msgpack.Decoder(Snapshot)

_LARGE_FIELDS = b"\xa6engine\xc4\x00\xabprojections\xc4\x00"
"""How the envelope ends when its two large fields are empty (the last two of the struct)."""


def _bin_header(n: int) -> bytes:
    """MessagePack's header of a byte string of ``n`` bytes (bin 8, 16 or 32)."""
    if n < 1 << 8:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 1 << 16:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def encoded_parts(snap: Snapshot) -> list[bytes]:
    """``msgspec.msgpack.encode(snap)`` as parts whose concatenation is those bytes, the
    engine's and the projections' bytes among them as they are.

    A busy engine's state is tens of megabytes: encoding the envelope whole copies them
    on the event loop's thread, holding up routing for tens of milliseconds.
    """
    small = _enc.encode(msgspec.structs.replace(snap, engine=b"", projections=b""))
    if not small.endswith(_LARGE_FIELDS):  # the struct's field order changed
        raise AssertionError("Snapshot's last fields must be engine, then projections")
    return [
        small[: -len(_LARGE_FIELDS)],
        b"\xa6engine" + _bin_header(len(snap.engine)),
        snap.engine,
        b"\xabprojections" + _bin_header(len(snap.projections)),
        snap.projections,
    ]


class SnapshotAbandoned(Exception):
    """The upload stopped because its writer can no longer prove it holds the lease: a
    newer writer's snapshot must not be replaced by an older one."""


class _PartsReader(io.BufferedIOBase):
    """Reads parts one after the other, copying only what each read asks for, and
    resting ``rest`` seconds before every read but the first (until :meth:`hurry`).

    The object store reads each chunk on a worker thread, so a rest here spaces the
    chunks out without holding up the event loop: an upload of tens of megabytes in one
    go kept the broker and the service's connection busy, and offers waited behind it.
    """

    def __init__(
        self,
        parts: list[bytes],
        rest: float = 0.0,
        may_write: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__()
        self._parts = [memoryview(p) for p in parts if p]
        self._at = 0
        self._rest = rest
        self._started = False
        self._may_write = may_write
        """Asked before every read, the last (empty) one too: once it says no, the read
        raises :class:`SnapshotAbandoned`, the object store purges the chunks it sent and
        never writes the object's metadata, so the stored snapshot stays as it was."""

    def readable(self) -> bool:
        return True

    def hurry(self) -> None:
        """No more rests (a stop waits for this upload)."""
        self._rest = 0.0

    def readinto(self, buffer: Any) -> int:
        if self._started and self._rest > 0 and self._parts:
            time.sleep(self._rest)
        if self._may_write is not None and not self._may_write():
            raise SnapshotAbandoned("the lease is not proven held")
        self._started = True
        out = memoryview(buffer).cast("B")
        n = 0
        while n < len(out) and self._parts:
            part = self._parts[0]
            k = min(len(out) - n, len(part) - self._at)
            out[n : n + k] = part[self._at : self._at + k]
            n += k
            self._at += k
            if self._at == len(part):
                self._parts.pop(0)
                self._at = 0
        return n


def config_digest(config: Config) -> str:
    return hashlib.sha256(encode_config(config)).hexdigest()


class SnapshotStore:
    """Save and load the newest snapshot of one domain."""

    def __init__(self, nc: NATS, names: Names, chunk_rest: float = 0.0) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self.names = names
        self.chunk_rest = chunk_rest
        """Seconds between two chunks of an upload (see :class:`_PartsReader`)."""
        self._uploading: _PartsReader | None = None

    def hurry(self) -> None:
        """From now on uploads send their chunks without rests, the one in progress too
        (a stop is waiting for it)."""
        self.chunk_rest = 0.0
        if self._uploading is not None:
            self._uploading.hurry()

    async def save(self, snap: Snapshot, may_write: Callable[[], bool] | None = None) -> int:
        """Store ``snap`` (replacing the previous one); returns its size in bytes.

        ``may_write`` (the writer's lease) is asked before every chunk and before the
        object is committed; once it says no, the upload is undone and
        :class:`SnapshotAbandoned` raised.
        """
        parts = encoded_parts(snap)
        size = sum(len(p) for p in parts)
        t0 = time.perf_counter()
        store = await self._js.object_store(self.names.snapshot_bucket)
        meta = ObjectMeta(
            name=OBJECT_NAME,
            description=f"input seq {snap.seq}",
            options=ObjectMetaOptions(max_chunk_size=CHUNK_SIZE),
        )
        # A reader, not bytes: nats-py then reads each chunk on a worker thread.
        self._uploading = _PartsReader(parts, self.chunk_rest, may_write)
        try:
            await store.put(OBJECT_NAME, self._uploading, meta=meta)
        finally:
            self._uploading = None
        log.info(
            "snapshot_saved seq=%d bytes=%d seconds=%.3f",
            snap.seq,
            size,
            time.perf_counter() - t0,
        )
        return size

    async def _fetch(self) -> bytes | None:
        """The object's bytes, read with one pull consumer on its chunk subject.

        nats-py's ``ObjectStore.get`` takes each chunk through its message machinery and
        is several times slower for a snapshot of tens of megabytes; recovery time counts.
        """
        store = await self._js.object_store(self.names.snapshot_bucket)
        info = await store.get_info(OBJECT_NAME)
        if info.deleted or not info.nuid:
            return None
        stream = f"OBJ_{self.names.snapshot_bucket}"
        ci = await self._js.add_consumer(
            stream,
            ConsumerConfig(
                filter_subject=f"$O.{self.names.snapshot_bucket}.C.{info.nuid}",
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=30.0,
                mem_storage=True,
            ),
        )
        assert ci.name is not None
        pc = PullConsumer(self._nc, stream, ci.name, batch=64)
        await pc.start()
        chunks: list[bytes] = []
        try:
            while len(chunks) < (info.chunks or 0):
                batch = await pc.next_batch(1 << 30, 10.0)
                if not batch:
                    raise TimeoutError("snapshot chunks stopped coming")
                chunks.extend(data for _, _, data in batch)
        finally:
            await pc.stop()
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(stream, ci.name)
        data = b"".join(chunks)
        if info.digest:
            want = info.digest.split("=", 1)[1] if "=" in info.digest else info.digest
            got = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()
            if got.rstrip("=") != want.rstrip("="):
                raise ValueError("snapshot digest mismatch")
        return data

    async def load(self) -> Snapshot | None:
        """The newest snapshot, or None if there is none (or it cannot be read)."""
        for attempt in range(3):
            try:
                data = await self._fetch()
            except (ObjectNotFoundError, NotFoundError):
                return None
            except Exception as exc:
                # A replacement may purge the chunks under a reader's feet: read again.
                log.warning("snapshot_read_failed attempt=%d error=%r", attempt + 1, exc)
                await asyncio.sleep(0.2)
                continue
            if data is None:
                return None
            try:
                snap = _dec.decode(data)
            except msgspec.DecodeError as exc:
                log.error("snapshot_unreadable error=%r", exc)
                return None
            if snap.domain != self.names.domain:
                log.error("snapshot_wrong_domain have=%s want=%s", snap.domain, self.names.domain)
                return None
            return snap
        return None
