"""A snapshot taken while the engine goes on: the writer takes the state in a moment and
encodes it on a worker thread while it keeps routing (issue 13, snapshots that stalled
the service for seconds). The bytes must be the state of the moment it was taken, and a
restore from them must decide exactly as the engine that never stopped."""

from __future__ import annotations

import json
import threading

import msgspec
import pytest

from ccroute import _core
from ccroute.config import config_from_dict
from ccroute.engine import Engine


def _workload(n: int, **routing: int) -> tuple[Engine, list[bytes]]:
    """The core's seeded benchmark workload: an engine and its inputs, one by one."""
    cfg_json, inputs = _core.generate_workload(60, n, 11)
    cfg = json.loads(cfg_json)
    cfg.setdefault("routing", {}).update(routing)
    engine = Engine(config_from_dict(cfg, source="<workload>"))
    return engine, [msgspec.msgpack.encode(e) for e in msgspec.msgpack.decode(inputs)]


@pytest.mark.parametrize(
    "memory",
    [{}, {"dedupe_max_ids": 5_000, "closed_contact_max": 700}],
    ids=["default memories", "memories at their budget"],
)
def test_a_snapshot_job_encodes_the_moment_it_was_taken_while_routing_goes_on(
    memory: dict[str, int],
) -> None:
    engine, payloads = _workload(30_000, **memory)
    engine.apply_raw_many(payloads[:20_000], format="msgpack")
    at_the_moment = engine.snapshot()
    job = engine.snapshot_job()

    # Routing goes on while another thread encodes: ids are remembered, contacts close,
    # the memories' blocks being written are copied, not changed under the encoder.
    encoded: list[bytes] = []
    worker = threading.Thread(target=lambda: encoded.append(job.encode()))
    worker.start()
    rest = engine.apply_raw_many(payloads[20_000:], format="msgpack")
    worker.join()

    assert encoded == [at_the_moment]
    restored = Engine.restore(engine.config, encoded[0])
    assert restored.apply_raw_many(payloads[20_000:], format="msgpack") == rest
    assert restored.snapshot() == engine.snapshot()


def test_a_snapshot_job_is_encoded_once() -> None:
    engine, payloads = _workload(1_000)
    engine.apply_raw_many(payloads, format="msgpack")
    job = engine.snapshot_job()
    job.encode()
    try:
        job.encode()
    except _core.CoreError as exc:
        assert "encoded already" in str(exc)
    else:
        raise AssertionError("a second encode must be refused")


def test_a_paced_snapshot_job_gives_the_same_bytes_and_a_stop_can_hurry_it() -> None:
    """The writer's encoder rests between slices so that routing keeps the cores; a stop
    that waits for it tells it to hurry, and it finishes without another rest."""
    engine, payloads = _workload(20_000)
    engine.apply_raw_many(payloads, format="msgpack")
    at_the_moment = engine.snapshot()
    assert engine.snapshot_job(busy_ms=0.5, rest_ms=1.0).encode() == at_the_moment

    # Rests of an hour: only hurry() lets this encoding finish.
    job = engine.snapshot_job(busy_ms=0.0, rest_ms=3_600_000.0)
    encoded: list[bytes] = []
    worker = threading.Thread(target=lambda: encoded.append(job.encode()), daemon=True)
    worker.start()
    worker.join(0.2)
    assert worker.is_alive(), "it rests"
    job.hurry()
    worker.join(30)
    assert encoded == [at_the_moment]


def test_a_snapshot_in_a_buffer_is_the_same_bytes_read_only_and_outlives_its_job() -> None:
    """The service reads a snapshot through the buffer protocol instead of a copy into
    ``bytes`` (tens of megabytes every 20 s): the same bytes, not writable, and valid
    while any view of them lives, with the job and the engine gone on or dropped."""
    engine, payloads = _workload(20_000)
    engine.apply_raw_many(payloads[:15_000], format="msgpack")
    at_the_moment = engine.snapshot()
    job = engine.snapshot_job(busy_ms=0.5, rest_ms=1.0)
    buffer = job.encode_buffer()
    del job
    engine.apply_raw_many(payloads[15_000:], format="msgpack")
    view = memoryview(buffer)
    del buffer
    assert len(view) == len(at_the_moment) and view.readonly
    assert view.tobytes() == at_the_moment
    assert bytes(view[100:200]) == at_the_moment[100:200]
    with pytest.raises(TypeError):
        view[0] = 0
    assert Engine.restore(engine.config, view.tobytes()).snapshot() == at_the_moment
    with pytest.raises(_core.CoreError, match="encoded already"):
        job = engine.snapshot_job()
        job.encode_buffer()
        job.encode()


def test_the_next_snapshot_is_written_into_the_last_ones_buffer_until_a_release() -> None:
    """A service snapshots every 20 s: each snapshot is written into the block the last one
    left, so it touches the same pages instead of taking tens of megabytes more that the
    allocator may place elsewhere (the soak's service kept two such steps an hour). An
    idle service's release gives the block back."""
    engine, payloads = _workload(20_000)
    engine.apply_raw_many(payloads[:18_000], format="msgpack")
    _core.release_memory()
    assert _core.snapshot_spare_bytes() == 0, "nothing kept after a release"
    first = engine.snapshot_job().encode_buffer()
    first_bytes = bytes(first)
    assert _core.snapshot_spare_bytes() == 0, "in use, not kept"
    del first
    kept = _core.snapshot_spare_bytes()
    assert kept >= len(first_bytes)

    engine.apply_raw_many(payloads[18_000:], format="msgpack")
    at_the_moment = engine.snapshot()
    second = engine.snapshot_job().encode_buffer()
    assert _core.snapshot_spare_bytes() == 0, "taken by the second snapshot"
    assert bytes(second) == at_the_moment != first_bytes
    del second
    assert _core.snapshot_spare_bytes() == kept, "the same block, back again"

    _core.release_memory()
    assert _core.snapshot_spare_bytes() == 0


def test_a_snapshot_job_refuses_a_negative_pace() -> None:
    engine, _ = _workload(10)
    with pytest.raises(ValueError, match="not a duration"):
        engine.snapshot_job(busy_ms=1.0, rest_ms=-1.0)
