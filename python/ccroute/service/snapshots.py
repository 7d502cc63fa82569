"""Engine snapshots with the input sequence they cover, in the domain's object store.

A snapshot is one MessagePack blob (:class:`Snapshot`): the engine's own snapshot bytes,
the projections' fold state, the input stream sequence both cover, and a digest of the
configuration they were taken under. It is stored as the object ``engine`` of bucket
``ccroute_<domain>_snapshots``; a new one replaces the old only once completely written
(the object store writes the chunks first, then the metadata that points at them).

The object holds the envelope deflated (zlib, level 1): a busy engine's state is about
45 MB of MessagePack that deflates about 4.6 times, and every byte uploaded is work for
the broker and the writer's connection while they route (docs/service.md "Soak"). An
object that starts with a MessagePack map instead is an envelope as stored before
2026-12-06, and is read as it is.

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
import zlib
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, ObjectMeta, ObjectMetaOptions
from nats.js.errors import NotFoundError, ObjectNotFoundError

from ccroute.config import Config, encode_config
from ccroute.service.background import run_in_background
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


DEFLATE_LEVEL = 1
"""zlib's fastest level: 4.6 times smaller for a soak's 43 MB state in 0.24 s of a worker
thread's CPU (GIL released); higher levels gain little on this data at several times
the CPU."""
DEFLATE_PIECE = 256 * 1024
"""Raw bytes deflated at a time while a chunk is filled."""
MAX_SNAPSHOT_BYTES = 1 << 32
"""The largest envelope a stored object may inflate to (a bound on what reading a damaged
or foreign object can allocate); a 1,000,000-agent engine's state is about 250 MB."""
_ZLIB_HEADER = 0x78
"""The first byte of a zlib stream with a 32 KiB window; an envelope starts with a
MessagePack map (0x80-0x8f), so the two never meet."""


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


def encoded_parts(snap: Snapshot, engine: memoryview | None = None) -> list[bytes | memoryview]:
    """``msgspec.msgpack.encode(snap)`` as parts whose concatenation is those bytes, the
    engine's and the projections' bytes among them as they are; ``engine``, if given,
    stands for ``snap.engine`` (the engine's bytes in a buffer, not copied to ``bytes``).

    A busy engine's state is tens of megabytes: encoding the envelope whole copies them
    on the event loop's thread, holding up routing for tens of milliseconds.
    """
    body: bytes | memoryview = snap.engine if engine is None else engine
    small = _enc.encode(msgspec.structs.replace(snap, engine=b"", projections=b""))
    if not small.endswith(_LARGE_FIELDS):  # the struct's field order changed
        raise AssertionError("Snapshot's last fields must be engine, then projections")
    return [
        small[: -len(_LARGE_FIELDS)],
        b"\xa6engine" + _bin_header(len(body)),
        body,
        b"\xabprojections" + _bin_header(len(snap.projections)),
        snap.projections,
    ]


class SnapshotAbandoned(Exception):
    """The upload stopped because its writer can no longer prove it holds the lease: a
    newer writer's snapshot must not be replaced by an older one."""


class _PartsReader(io.BufferedIOBase):
    """Reads parts one after the other, deflated (``deflate=True``) or as they are,
    copying only what each read asks for, and resting ``rest`` seconds before every read
    but the first (until :meth:`hurry`).

    The object store reads each chunk on a worker thread, so a rest here spaces the
    chunks out without holding up the event loop: an upload of tens of megabytes in one
    go kept the broker and the service's connection busy, and offers waited behind it.
    Deflating happens in the same reads, on a thread at the lowest CPU priority
    (:mod:`ccroute.service.background`), with the GIL released.
    """

    def __init__(
        self,
        parts: list[bytes | memoryview],
        rest: float = 0.0,
        may_write: Callable[[], bool] | None = None,
        *,
        deflate: bool = False,
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
        self._deflater = zlib.compressobj(DEFLATE_LEVEL) if deflate else None
        self._deflated = bytearray()
        """Deflated bytes not yet read."""

    def readable(self) -> bool:
        return True

    def hurry(self) -> None:
        """No more rests (a stop waits for this upload)."""
        self._rest = 0.0

    def _more(self) -> bool:
        return bool(self._parts or self._deflated or self._deflater is not None)

    def _raw(self, limit: int) -> memoryview | None:
        """Up to ``limit`` bytes of the parts, not copied; None once all are read."""
        if not self._parts:
            return None
        part = self._parts[0]
        piece = part[self._at : self._at + limit]
        self._at += len(piece)
        if self._at == len(part):
            self._parts.pop(0)
            self._at = 0
        return piece

    def readinto(self, buffer: Any) -> int:
        if self._started and self._rest > 0 and self._more():
            time.sleep(self._rest)
        if self._may_write is not None and not self._may_write():
            raise SnapshotAbandoned("the lease is not proven held")
        self._started = True
        out = memoryview(buffer).cast("B")
        if self._deflater is None and not self._deflated:
            n = 0
            while n < len(out) and (piece := self._raw(len(out) - n)) is not None:
                out[n : n + len(piece)] = piece
                n += len(piece)
            return n
        if self._deflater is not None and len(self._deflated) < len(out):
            # The reading thread waits while one at the lowest priority deflates.
            run_in_background(lambda: self._deflate(len(out)))
        n = min(len(out), len(self._deflated))
        out[:n] = self._deflated[:n]
        del self._deflated[:n]
        return n

    def _deflate(self, want: int) -> None:
        """Deflate parts until ``want`` deflated bytes are ready or all are read."""
        while self._deflater is not None and len(self._deflated) < want:
            piece = self._raw(DEFLATE_PIECE)
            if piece is None:
                self._deflated += self._deflater.flush()
                self._deflater = None
            else:
                self._deflated += self._deflater.compress(piece)


def stored_envelope(data: bytes) -> bytes:
    """The envelope's MessagePack bytes of a stored object: inflated, or as it is if it was
    stored before snapshots were deflated. Raises ValueError for a stream that is cut
    short or would inflate past :data:`MAX_SNAPSHOT_BYTES`."""
    if not data or data[0] != _ZLIB_HEADER:
        return data
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_SNAPSHOT_BYTES + 1)
    except zlib.error as exc:
        raise ValueError(f"snapshot does not inflate: {exc}") from None
    if len(out) > MAX_SNAPSHOT_BYTES or inflater.unconsumed_tail:
        raise ValueError(f"snapshot inflates past {MAX_SNAPSHOT_BYTES} bytes")
    if not inflater.eof:
        raise ValueError("snapshot's deflated stream is cut short")
    return out


def _decode_stored(data: bytes) -> Snapshot:
    return _dec.decode(stored_envelope(data))


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

    async def save(
        self,
        snap: Snapshot,
        may_write: Callable[[], bool] | None = None,
        engine: memoryview | None = None,
    ) -> int:
        """Store ``snap`` (replacing the previous one); returns its size in bytes.

        ``may_write`` (the writer's lease) is asked before every chunk and before the
        object is committed; once it says no, the upload is undone and
        :class:`SnapshotAbandoned` raised. ``engine``: the engine's bytes, if not in
        ``snap`` (see :func:`encoded_parts`).
        """
        parts = encoded_parts(snap, engine)
        size = sum(len(p) for p in parts)
        t0 = time.perf_counter()
        store = await self._js.object_store(self.names.snapshot_bucket)
        meta = ObjectMeta(
            name=OBJECT_NAME,
            description=f"input seq {snap.seq}",
            options=ObjectMetaOptions(max_chunk_size=CHUNK_SIZE),
        )
        # A reader, not bytes: nats-py then reads (and so deflates) each chunk on a
        # worker thread.
        self._uploading = _PartsReader(parts, self.chunk_rest, may_write, deflate=True)
        try:
            info = await store.put(OBJECT_NAME, self._uploading, meta=meta)
        finally:
            self._uploading = None
        log.info(
            "snapshot_saved seq=%d bytes=%d stored_bytes=%d seconds=%.3f",
            snap.seq,
            size,
            info.size or 0,
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
                # Inflating tens of megabytes takes a tenth of a second: off the loop,
                # which a standby taking over still needs for its lease.
                snap = await asyncio.to_thread(_decode_stored, data)
            except (msgspec.DecodeError, ValueError) as exc:
                log.error("snapshot_unreadable error=%r", exc)
                return None
            if snap.domain != self.names.domain:
                log.error("snapshot_wrong_domain have=%s want=%s", snap.domain, self.names.domain)
                return None
            return snap
        return None
