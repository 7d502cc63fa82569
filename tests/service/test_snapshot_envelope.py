"""The snapshot's envelope is uploaded in parts, the engine's bytes among them as they are
(copying tens of megabytes on the event loop's thread held up routing): the stored object
must be byte for byte the envelope the reader decodes, for every size of either part."""

from __future__ import annotations

import os

import msgspec
import pytest

from ccroute.service.snapshots import Snapshot, _PartsReader, encoded_parts

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

    # Read back in the object store's chunks (and an odd size that splits every part).
    for chunk in (512 * 1024, 1_000):
        reader, buf, got = _PartsReader(parts), bytearray(chunk), bytearray()
        while n := reader.readinto(buf):
            got += buf[:n]
        assert bytes(got) == whole
    assert msgspec.msgpack.decode(whole, type=Snapshot) == snap


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
