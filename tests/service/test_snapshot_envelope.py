"""The snapshot's envelope is uploaded in parts, the engine's bytes among them as they are
(copying tens of megabytes on the event loop's thread held up routing): the stored object
must be byte for byte the envelope the reader decodes, for every size of either part."""

from __future__ import annotations

import os

import msgspec
import pytest

from ccroute.service import snapshots
from ccroute.service.snapshots import Snapshot, _PartsReader, encoded_parts, stored_envelope

SIZES = [0, 1, 255, 256, 65_535, 65_536, 1 << 20]


@pytest.mark.parametrize("engine_bytes", SIZES)
@pytest.mark.parametrize("projection_bytes", [0, 300, 70_000])
def test_the_envelope_in_parts_is_the_envelope(engine_bytes: int, projection_bytes: int) -> None:
    snap = Snapshot(
        domain="energia-fi",
        seq=123_456_789,
        created_ms=1_796_478_257_626,
        config_sha256="ab" * 32,
        engine=os.urandom(engine_bytes),
        projections=os.urandom(projection_bytes),
    )
    whole = msgspec.msgpack.encode(snap)
    parts = encoded_parts(snap)
    assert b"".join(parts) == whole
    assert parts[2] is snap.engine, "the engine's bytes are not copied"
    # The service's form: the engine's bytes in a buffer beside an envelope without them.
    view = memoryview(bytearray(snap.engine))
    beside = encoded_parts(msgspec.structs.replace(snap, engine=b""), view)
    assert beside[2] is view and b"".join(beside) == whole

    # Read back in the object store's chunks (and an odd size that splits every part).
    for chunk in (512 * 1024, 1_000):
        reader, buf, got = _PartsReader(parts), bytearray(chunk), bytearray()
        while n := reader.readinto(buf):
            got += buf[:n]
        assert bytes(got) == whole
    assert msgspec.msgpack.decode(whole, type=Snapshot) == snap

    # Stored deflated, in the same chunks: the object inflates to the same envelope.
    for chunk in (128 * 1024, 1_000):
        reader, buf, got = _PartsReader(parts, deflate=True), bytearray(chunk), bytearray()
        while n := reader.readinto(buf):
            got += buf[:n]
        assert got[:1] == b"\x78", "a zlib stream"
        assert stored_envelope(bytes(got)) == whole


def test_a_deflated_snapshot_is_a_fraction_of_the_state_and_an_old_one_still_reads() -> None:
    """A busy engine's state repeats its ids, tags and times: deflated, the upload that
    the broker and the connection share with routing shrinks several times. A snapshot
    stored before they were deflated is read as it is."""
    rows = b"".join(
        b"\x93\xcf" + (1_796_478_257_626 + i * 3).to_bytes(8, "big") + b"\xa5t-kid\xa9ev-%07d" % i
        for i in range(100_000)
    )
    snap = Snapshot(domain="energia-fi", seq=7, created_ms=1, config_sha256="ab" * 32, engine=rows)
    reader, buf, stored = _PartsReader(encoded_parts(snap), deflate=True), bytearray(131_072), b""
    while n := reader.readinto(buf):
        stored += bytes(buf[:n])
    whole = msgspec.msgpack.encode(snap)
    assert len(stored) * 4 < len(whole)
    assert stored_envelope(stored) == whole
    assert stored_envelope(whole) is whole, "an envelope stored as it is"


def test_a_damaged_or_oversized_deflated_snapshot_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reading the store never allocates past the bound, and a stream cut short is not
    taken for a snapshot (recovery then replays the log instead)."""
    import zlib

    whole = msgspec.msgpack.encode(
        Snapshot(domain="d", seq=1, created_ms=1, config_sha256="", engine=bytes(1 << 20))
    )
    deflated = zlib.compress(whole, 1)
    with pytest.raises(ValueError, match="cut short"):
        stored_envelope(deflated[:-10])
    with pytest.raises(ValueError, match="does not inflate"):
        stored_envelope(deflated[:2] + b"\xff" * 64)
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOT_BYTES", len(whole) - 1)
    with pytest.raises(ValueError, match="inflates past"):
        stored_envelope(deflated)
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOT_BYTES", len(whole))
    assert stored_envelope(deflated) == whole


def test_an_upload_rests_between_chunks_until_a_stop_hurries_it() -> None:
    """The chunks of a snapshot are spaced out (routing shares the broker and the
    connection with them); a stop that waits for the upload lifts the rests."""
    import time

    parts = [b"x" * 10_000]
    reader, buf = _PartsReader(parts, rest=0.05), bytearray(2_500)
    t0 = time.perf_counter()
    assert reader.readinto(buf) == 2_500  # the first chunk goes at once
    assert time.perf_counter() - t0 < 0.05
    assert reader.readinto(buf) == 2_500
    assert reader.readinto(buf) == 2_500
    assert time.perf_counter() - t0 >= 0.1, "two rests of 50 ms"
    assert reader.readinto(buf) == 2_500
    assert reader.readinto(buf) == 0, "all read"

    # Rests of an hour: only hurry() lets the next chunks go.
    reader = _PartsReader(parts, rest=3_600.0)
    assert reader.readinto(buf) == 2_500
    reader.hurry()
    for _ in range(3):
        assert reader.readinto(buf) == 2_500

    # Deflating, the same: one rest per chunk after the first, none before the end.
    reader = _PartsReader([os.urandom(10_000)], rest=0.05, deflate=True)
    t0 = time.perf_counter()
    assert reader.readinto(buf) == 2_500
    assert time.perf_counter() - t0 < 0.05
    reads = 1
    while reader.readinto(buf):
        reads += 1
    assert reads >= 4, "random bytes do not deflate"
    assert time.perf_counter() - t0 >= 0.05 * (reads - 1)
