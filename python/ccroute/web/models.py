"""Request and response bodies of the HTTP API (msgspec structs: OpenAPI comes from them).

Agent actions take only what the agent decides; the gateway adds ``id`` (unless given,
for a client that retries: the same ``id`` is stored once) and ``ts`` (now), and builds
the input of the event schema (``docs/events.md``) from them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from ccroute.events import CallbackOutcome, Channel, Id

__all__ = [
    "AcceptBody",
    "AgentStatus",
    "Board",
    "CallbackResultBody",
    "CompleteBody",
    "DaySL",
    "LoginBody",
    "QueueBoard",
    "RejectBody",
    "StateBody",
    "Stored",
    "TransferBody",
]

Reason = Annotated[str, Meta(max_length=100)]
Tag = Annotated[str, Meta(min_length=1, max_length=100)]


class _Body(Struct, forbid_unknown_fields=True, kw_only=True):
    id: Id | None = None
    """Your id for this action (retry with the same id: stored once). Default: a new one."""


class LoginBody(_Body):
    state: Literal["available", "paused"] = "available"
    reason: Reason | None = None


class LogoutBody(_Body):
    pass


class StateBody(_Body):
    state: Literal["available", "paused", "offline"]
    reason: Reason | None = None
    """The pause reason code (lunch, training, ...)."""


class _ContactBody(_Body):
    tenant: Id
    contact: Id


class AcceptBody(_ContactBody):
    pass


class RejectBody(_ContactBody):
    reason: Reason | None = None


class CompleteBody(_ContactBody):
    wrap_up_code: Reason | None = None
    tags: Annotated[list[Tag], Meta(max_length=50)] = []
    resolved: bool | None = None


class WrapUpDoneBody(_ContactBody):
    pass


class TransferBody(_ContactBody):
    to_queue: Id | None = None
    to_agent: Id | None = None
    handoff: Id | None = None


class CallbackResultBody(_ContactBody):
    outcome: CallbackOutcome


class Stored(Struct):
    """An input stored in the log (or recognised as already there)."""

    id: str
    seq: int
    """Its input stream sequence."""
    duplicate: bool
    """True when the stream already had an input with this id: nothing new was stored."""
    subject: str


class AgentStatus(Struct):
    """An agent's presence and work, from the ``agent.<id>`` projection."""

    agent: str
    name: str
    state: str
    reason: str | None
    since: int
    """Since when (UTC ms) the agent is in this state."""
    time_in_state_ms: int
    load: dict[str, int]
    """Items held per channel."""
    capacity: dict[str, int]
    offers: int
    tenants: list[str]


class QueueBoard(Struct):
    """One queue on the wallboard."""

    tenant: str
    queue: str
    channels: list[Channel]
    waiting: int
    oldest_arrived_at: int | None
    oldest_wait_ms: int
    agents_available: int
    open: bool
    sl_target_percent: float
    sl_threshold_seconds: int
    sl_today_percent: float | None
    """The queue's service level today: answered within its threshold / offered (None:
    nothing offered yet today)."""
    below_target: bool


class DaySL(Struct):
    date: str
    offered: int
    service_level_percent: float | None
    answered_percent: float | None


class TenantBoard(Struct):
    tenant: str
    name: str
    queues: list[QueueBoard]
    agents: list[AgentStatus]
    agents_by_state: dict[str, int]
    today: dict[str, Any] | None
    """The tenant's figures today (``tenant.<t>.today``, see docs/service.md)."""
    sl_target_percent: float


class Board(Struct):
    """What a wallboard shows: every tenant the token may see."""

    as_of: int
    """The engine clock of the newest projection (UTC ms)."""
    now: int
    """The gateway's clock when the board was made (UTC ms), for waits shown live."""
    tenants: list[TenantBoard]


class Health(Struct):
    ok: bool
    nats: bool
    projections: bool
    domain: str
