"""Type stub of the native module built from router_py/ (the thin PyO3 binding)."""

class CoreError(Exception):
    """A configuration or snapshot the Rust core cannot use."""

class SnapshotJob:
    """A snapshot taken by ``Core.snapshot_job``, encoded once, from any thread."""

    def encode(self) -> bytes:
        """The bytes ``Core.snapshot()`` would have returned when the job was taken."""
    def encode_buffer(self) -> SnapshotBuffer:
        """The same bytes, not copied into a ``bytes``: read them with ``memoryview``.
        Written into the last such buffer once it is gone, when it has room."""
    def hurry(self) -> None:
        """No more rests: the encoding runs at full speed from now on (any thread)."""

class SnapshotBuffer:
    """A snapshot's bytes held by the engine's allocator, read-only through the buffer
    protocol (``memoryview(buffer)``, ``bytes(buffer)``)."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

class Core:
    """The routing engine state machine. Inputs and decisions cross as MessagePack/JSON."""

    def __init__(self, config: bytes) -> None:
        """Build from a validated configuration encoded as MessagePack."""
    @staticmethod
    def restore(config: bytes, snapshot: bytes) -> Core:
        """Rebuild the engine from a configuration and a snapshot taken by ``snapshot()``."""
    def snapshot(self) -> bytes:
        """The whole engine state as bytes (versioned, canonical)."""
    def snapshot_job(self, busy_ms: float = 0.0, rest_ms: float = 0.0) -> SnapshotJob:
        """The state to snapshot, taken now; ``encode()`` writes it, GIL released,
        resting ``rest_ms`` after every ``busy_ms`` of work (0: never) until ``hurry()``."""
    def apply_msgpack(self, event: bytes) -> bytes:
        """Apply one MessagePack-encoded input; returns a MessagePack array of decisions."""
    def apply_json(self, event: bytes) -> bytes:
        """Apply one JSON-encoded input; returns a JSON array of decisions."""
    def apply_batch_msgpack(self, events: bytes) -> bytes:
        """Apply a MessagePack array of inputs; returns one array of decisions per input.
        A batch that is not an array of whole values is one malformed input."""
    def apply_payloads(self, payloads: list[bytes], json: bool) -> list[bytes]:
        """Apply encoded inputs one by one; one encoded decision array per payload."""
    def apply_jsonl(self, data: bytes) -> bytes:
        """Apply JSON lines of inputs; returns JSON lines of decisions (the replay contract)."""
    @property
    def clock_ms(self) -> int: ...
    def stats(self) -> dict[str, int]:
        """Counters: inputs, decisions, rejected, late_events, waiting, offered, agents..."""

def generate_workload(agents: int, events: int, seed: int) -> tuple[str, bytes]:
    """A seeded benchmark workload (router_core::workload): the configuration as JSON and
    the inputs as one MessagePack array. 20 tenants, 200 queues, 50 skills, 5 channels."""

def holidays(calendar: str, year: int) -> list[tuple[int, int, int, str]]:
    """The public holidays of ``calendar`` (``FI``, ``SE`` or ``none``) in ``year`` (1-9999),
    in date order, as (year, month, day, English name): router_core's calendar.

    Raises ValueError for another calendar or year."""

class InputLimits:
    """Limits to hold encoded inputs to with a flat scan (no recursion)."""

    def __init__(
        self, max_bytes: int, max_depth: int, max_string_bytes: int, max_items: int
    ) -> None: ...
    def check_json(self, data: bytes) -> tuple[str | None, str] | None:
        """``None`` when within the limits, else ``(limit name or None, message)``."""
    def check_msgpack(self, data: bytes) -> tuple[str | None, str] | None:
        """As :meth:`check_json`; the name is ``None`` when the bytes are not one whole
        MessagePack value (truncated, bytes after it)."""

def core_limits() -> dict[str, int]:
    """The core's own limits by their documented names (router_core/src/limits.rs)."""

def release_memory() -> None:
    """Return memory the engine's allocator holds unused to the system, the buffer kept
    for the next snapshot with it (GIL released)."""

def snapshot_spare_bytes() -> int:
    """Bytes kept for the next snapshot's encoding: the last ``SnapshotBuffer``'s block
    once it is gone, until :func:`release_memory` (0 when none is kept)."""

def keep_freed_memory(keep: bool) -> None:
    """``True``: memory the engine frees stays with its allocator for reuse until
    :func:`release_memory`; ``False`` (the default): it goes back to the system by itself
    about a second after it is freed. Process-wide."""
