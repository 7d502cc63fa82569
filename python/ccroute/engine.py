"""The embedded engine: a Python face on the Rust routing core.

Inputs and decisions are the msgspec structs of :mod:`ccroute.events`. Crossing into Rust
they travel as MessagePack, so the batch paths cost one boundary crossing per batch, not
per event. The core is deterministic: the same inputs in the same order give the same
decisions, byte for byte, on every run and after :meth:`Engine.snapshot` / :meth:`restore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import msgspec

from ccroute import _core
from ccroute.config import Config, encode_config, load_config
from ccroute.events import Decision, Input

_mp = msgspec.msgpack.Encoder()
_decisions = msgspec.msgpack.Decoder(list[Decision])
_decision_batches = msgspec.msgpack.Decoder(list[list[Decision]])
_json_decisions = msgspec.json.Decoder(list[Decision])


class Engine:
    """The routing engine built from a configuration.

    >>> engine = Engine.from_toml("examples/nordic_bpo/ccroute.toml")  # doctest: +SKIP
    >>> engine.apply(ContactArrived(...))  # doctest: +SKIP
    [ContactQueued(...)]
    """

    __slots__ = ("_config", "_config_bytes", "_core")

    def __init__(self, config: Config, *, _core_obj: _core.Core | None = None) -> None:
        self._config = config
        self._config_bytes = encode_config(config)
        self._core = _core_obj if _core_obj is not None else _core.Core(self._config_bytes)

    @classmethod
    def from_toml(cls, path: str | Path) -> Engine:
        """Build from a TOML configuration file (errors name the file and key)."""
        return cls(load_config(path))

    @property
    def config(self) -> Config:
        return self._config

    @property
    def clock_ms(self) -> int:
        """The engine's clock: the latest event time applied."""
        return self._core.clock_ms

    def apply(self, event: Input) -> list[Decision]:
        """Apply one input and return the decisions it led to, in order."""
        return _decisions.decode(self._core.apply_msgpack(_mp.encode(event)))

    def apply_batch(self, events: Sequence[Input] | Iterable[Input]) -> list[Decision]:
        """Apply many inputs in one crossing; the decisions of all of them, in order."""
        batches = _decision_batches.decode(self._core.apply_batch_msgpack(_mp.encode(list(events))))
        return [d for batch in batches for d in batch]

    def apply_batch_grouped(self, events: Sequence[Input]) -> list[list[Decision]]:
        """As :meth:`apply_batch`, but one list of decisions per input."""
        return _decision_batches.decode(self._core.apply_batch_msgpack(_mp.encode(list(events))))

    def apply_raw(
        self, payload: bytes, *, format: Literal["json", "msgpack"] = "json"
    ) -> list[Decision]:
        """Apply one encoded input as it came off the wire.

        A payload that does not decode or validate is answered with ``input_rejected``
        (code ``malformed``), never an exception.
        """
        if format == "json":
            return _json_decisions.decode(self._core.apply_json(payload))
        return _decisions.decode(self._core.apply_msgpack(payload))

    def apply_raw_many(
        self, payloads: list[bytes], *, format: Literal["json", "msgpack"] = "json"
    ) -> list[bytes]:
        """Apply encoded inputs in one crossing; returns the encoded decision array of each.

        The streaming service's hot path: bytes from the bus in, bytes to the bus out.
        """
        return self._core.apply_payloads(payloads, format == "json")

    def apply_encoded_batch(self, events: bytes) -> bytes:
        """The fastest path: a MessagePack array of inputs in, an array of decision arrays out."""
        return self._core.apply_batch_msgpack(events)

    def replay_jsonl(self, data: bytes) -> bytes:
        """Apply JSON lines of inputs; JSON lines of decisions out (``ccroute replay``)."""
        return self._core.apply_jsonl(data)

    def snapshot(self) -> bytes:
        """The whole state as bytes; :meth:`restore` with the same config continues it."""
        return self._core.snapshot()

    def snapshot_job(self, busy_ms: float = 0.0, rest_ms: float = 0.0) -> _core.SnapshotJob:
        """The state to snapshot, taken now and cheaply (the large memories are shared,
        copy on write); its ``encode()`` gives the bytes :meth:`snapshot` would give now,
        with the GIL released, so a service encodes it on a worker thread while it goes
        on routing. With ``rest_ms`` the encoding rests that long after every ``busy_ms``
        of work, leaving the cores to routing, until the job's ``hurry()``."""
        return self._core.snapshot_job(busy_ms, rest_ms)

    @classmethod
    def restore(cls, config: Config, snapshot: bytes) -> Engine:
        """An engine that continues exactly where the snapshot was taken."""
        return cls(config, _core_obj=_core.Core.restore(encode_config(config), snapshot))

    def stats(self) -> dict[str, int]:
        """Counters: inputs, decisions, rejected, late_events, offers (made), ... and gauges:
        waiting, offers_open (contacts with an offer out now), agents.

        Contact-centre figures (offered = answered + abandoned, service level, ASA) are not
        engine counters: :mod:`ccroute.metrics` defines them.
        """
        stats = self._core.stats()
        # "offered" here was the number of contacts ringing an agent now, not the contacts
        # offered of every report: named for what it is.
        stats["offers_open"] = stats.pop("offered")
        return stats
