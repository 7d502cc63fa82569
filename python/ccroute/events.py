"""The event schema: every input to the engine and every decision it makes.

Each event is a msgspec Struct in a tagged union (tag field ``type``), encodable as
JSON and MessagePack. Every event carries a unique ``id`` (inputs: the producer's id,
used for idempotency; decisions: the engine's sequence ``d<N>``), an event time ``ts``
in UTC milliseconds and, where it applies, the ``tenant``.

The schema is versioned by :data:`SCHEMA_VERSION`; an input may carry ``v`` and the
engine rejects versions it does not speak. The Rust core (``router_core/src/events.rs``)
mirrors these structs field for field; ``tests/test_schema_parity.py`` holds them together.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from ccroute.limits import check_input

SCHEMA_VERSION = 1
#: Additive changes (new decision types, new optional fields) raise the revision; inputs
#: keep ``v = SCHEMA_VERSION``. See the changelog in docs/events.md.
SCHEMA_REVISION = "1.5"

Channel = Literal["voice", "chat", "email", "web_form", "social", "callback"]
CHANNELS: tuple[Channel, ...] = ("voice", "chat", "email", "web_form", "social", "callback")
#: Channels where a customer waits on the line: they take precedence over deferred work.
LIVE_CHANNELS: frozenset[str] = frozenset({"voice", "chat", "callback"})
#: Phone work occupies the agent completely (a call blocks every other item).
PHONE_CHANNELS: frozenset[str] = frozenset({"voice", "callback"})

#: The last millisecond of the year 9999: a bound both the schema and the core enforce.
MAX_TS = 253_402_300_799_999
Ms = Annotated[int, Meta(ge=0, le=MAX_TS, description="UTC milliseconds since the Unix epoch")]
Version = Annotated[int, Meta(ge=0, le=65535)]
Id = Annotated[str, Meta(min_length=1, max_length=200)]
Proficiency = Annotated[int, Meta(ge=1, le=10)]
Priority = Annotated[int, Meta(ge=-1000, le=1000)]


class SkillRequirement(Struct, frozen=True, forbid_unknown_fields=True):
    """A skill the contact needs, with the lowest proficiency (1-10) that will do."""

    skill: Id
    min: Proficiency = 1


# --------------------------------------------------------------------------- inputs


class _Input(Struct, frozen=True, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    id: Id
    ts: Ms
    v: Version = SCHEMA_VERSION


class ContactArrived(_Input, tag="contact_arrived", frozen=True):
    """A customer request entered a queue on one channel."""

    tenant: Id
    contact: Id
    queue: Id
    channel: Channel
    priority: Priority = 0
    language: str | None = None
    skills: list[SkillRequirement] = []
    customer: str | None = None
    page: str | None = None
    attributes: dict[str, str] = {}
    tags: list[str] = []


class ContactAbandoned(_Input, tag="contact_abandoned", frozen=True):
    """The customer gave up (hung up, closed the chat) before an agent accepted."""

    tenant: Id
    contact: Id


class ContactUpdated(_Input, tag="contact_updated", frozen=True):
    """New priority and/or tags for a contact; a queued contact moves in line."""

    tenant: Id
    contact: Id
    priority: Priority | None = None
    tags: list[str] | None = None


class OfferAccepted(_Input, tag="offer_accepted", frozen=True):
    """The agent took the contact that was offered to them."""

    tenant: Id
    contact: Id
    agent: Id


class OfferRejected(_Input, tag="offer_rejected", frozen=True):
    """The agent declined the offer; the contact goes to the next best agent."""

    tenant: Id
    contact: Id
    agent: Id
    reason: str | None = None


class ContactCompleted(_Input, tag="contact_completed", frozen=True):
    """The agent finished talking/writing; wrap-up starts."""

    tenant: Id
    contact: Id
    agent: Id
    wrap_up_code: str | None = None
    tags: list[str] = []
    resolved: bool | None = None


class ContactTransferred(_Input, tag="contact_transferred", frozen=True):
    """The agent passes the contact on: to another queue of the tenant, to a named agent,
    or to the client's own team (a hand-off, which closes it here). Give exactly one."""

    tenant: Id
    contact: Id
    agent: Id
    """The agent who has the contact now."""
    to_queue: Id | None = None
    to_agent: Id | None = None
    handoff: Id | None = None
    """The client's hand-off point, e.g. ``sales-team``."""


class WrapUpFinished(_Input, tag="wrap_up_finished", frozen=True):
    """The agent finished after-contact work; the capacity is free again."""

    tenant: Id
    contact: Id
    agent: Id


AgentStateName = Literal["available", "paused", "offline"]


class AgentLoggedIn(_Input, tag="agent_logged_in", frozen=True):
    """The agent started a session, available or in a pause (with a reason)."""

    agent: Id
    state: Literal["available", "paused"] = "available"
    reason: str | None = None


class AgentLoggedOut(_Input, tag="agent_logged_out", frozen=True):
    """The agent ended the session (refused while contacts are in progress)."""

    agent: Id


class AgentStateChanged(_Input, tag="agent_state_changed", frozen=True):
    """The agent marked a new state: available, a pause with a reason, or offline."""

    agent: Id
    state: AgentStateName
    reason: str | None = None


class AgentProfileChanged(_Input, tag="agent_profile_changed", frozen=True):
    """New skills, languages, tenants or channel capacities for an agent.

    Fields left out keep their value; an unknown agent is created (offline).
    """

    agent: Id
    skills: dict[str, Proficiency] | None = None
    languages: list[str] | None = None
    tenants: list[str] | None = None
    capacity: dict[Channel, Annotated[int, Meta(ge=0, le=100)]] | None = None


class SurveyAnswered(_Input, tag="survey_answered", frozen=True):
    """The customer's rating after a contact: CSAT 1-5, NPS 0-10, CES 1-7."""

    tenant: Id
    contact: Id
    csat: Annotated[int, Meta(ge=1, le=5)] | None = None
    nps: Annotated[int, Meta(ge=0, le=10)] | None = None
    ces: Annotated[int, Meta(ge=1, le=7)] | None = None
    solved: bool | None = None


class CallbackRequested(_Input, tag="callback_requested", frozen=True):
    """A waiting customer asks to be called back: the contact keeps its place in line and
    becomes a callback (channel ``callback``), offered as outbound work when it reaches the
    head while its queue is open. Since revision 1.3."""

    tenant: Id
    contact: Id


CallbackOutcome = Literal["reached", "no_answer", "busy"]


class CallbackResult(_Input, tag="callback_result", frozen=True):
    """The agent who accepted a callback dialled: reached, or retried later per the
    queue's ``callback_attempts`` and ``callback_retry_seconds``. Since revision 1.3."""

    tenant: Id
    contact: Id
    agent: Id
    outcome: CallbackOutcome


EmergencyMode = Literal["close", "reroute", "off"]


class QueueEmergency(_Input, tag="queue_emergency", frozen=True):
    """A supervisor's emergency override, evaluated before the schedule: ``close`` shuts
    the queue at once, ``reroute`` sends its contacts to ``to_queue``, ``off`` ends the
    emergency. Since revision 1.3."""

    tenant: Id
    queue: Id
    mode: EmergencyMode
    to_queue: Id | None = None
    announcement: str | None = None
    """Played to contacts the closed queue turns away (overrides the queue's own)."""


class ClockTick(_Input, tag="clock_tick", frozen=True):
    """Time passes: timers (offer time-outs, wrap-up limits) due by ``ts`` fire."""


Input = (
    ContactArrived
    | ContactAbandoned
    | ContactUpdated
    | OfferAccepted
    | OfferRejected
    | ContactCompleted
    | ContactTransferred
    | WrapUpFinished
    | AgentLoggedIn
    | AgentLoggedOut
    | AgentStateChanged
    | AgentProfileChanged
    | SurveyAnswered
    | CallbackRequested
    | CallbackResult
    | QueueEmergency
    | ClockTick
)
INPUT_TYPES: tuple[type[Struct], ...] = Input.__args__  # type: ignore[attr-defined]

# ------------------------------------------------------------------------ decisions


class _Decision(Struct, frozen=True, tag_field="type", kw_only=True):
    id: str
    ts: Ms
    cause: str
    """The ``id`` of the input that led to this decision."""


class Candidate(Struct, frozen=True):
    """An agent the strategy weighed, with its score (higher is better)."""

    agent: str
    score: int


class OfferReason(Struct, frozen=True):
    """Why this agent: the strategy, the winner's score and who else was weighed."""

    strategy: str
    score: int
    considered: int
    runners_up: list[Candidate] = []


class OfferMade(_Decision, tag="offer_made", frozen=True):
    """The engine reserved the agent's capacity and offers them the contact."""

    tenant: str
    contact: str
    queue: str
    channel: Channel
    agent: str
    offer: str
    attempt: int
    expires_at: int
    reason: OfferReason


class OfferExpired(_Decision, tag="offer_expired", frozen=True):
    """The agent did not answer the offer in time; the contact goes on."""

    tenant: str
    contact: str
    agent: str
    offer: str
    missed_in_row: int


class OfferRevoked(_Decision, tag="offer_revoked", frozen=True):
    """The offer was withdrawn (customer gone, agent paused or logged out)."""

    tenant: str
    contact: str
    agent: str
    offer: str
    reason: Literal[
        "abandoned",
        "agent_paused",
        "agent_offline",
        "agent_not_responding",
        "callback_requested",
        "queue_closed",
    ]


class Nearest(Struct, frozen=True):
    """Why a contact waits with nobody logged in able to serve it.

    ``agent`` is the logged-in agent who misses the fewest of the contact's needs (ties:
    the first in agent order), None when nobody is logged in; ``missing`` lists what that
    agent lacks as ``kind:value`` (``tenant:kauppa``, ``channel:chat``, ``pool:own``,
    ``pool:partner``, ``team``, ``language:sv``, ``skill:billing>=5``), at most eight.
    Since revision 1.4.
    """

    agent: str | None = None
    missing: list[str] = []


class ContactQueued(_Decision, tag="contact_queued", frozen=True):
    """The contact waits: no eligible agent is free now."""

    tenant: str
    contact: str
    queue: str
    channel: Channel
    priority: int
    waiting: int
    """How many contacts wait in this queue, this one included."""
    requeued: bool = False
    nearest: Nearest | UnsetType = UNSET
    """Present only when no logged-in agent meets the contact's needs (revision 1.4);
    otherwise UNSET, and left out of the encoding as the core leaves it out."""


class ContactAssigned(_Decision, tag="contact_assigned", frozen=True):
    """The agent accepted: the contact is theirs."""

    tenant: str
    contact: str
    queue: str
    channel: Channel
    agent: str
    wait_ms: int
    """From arrival to acceptance."""


class WrapUpStarted(_Decision, tag="wrap_up_started", frozen=True):
    """Talk/writing ended; after-contact work holds the agent's capacity."""

    tenant: str
    contact: str
    agent: str
    ends_by: int | None = None


class WrapUpEnded(_Decision, tag="wrap_up_ended", frozen=True):
    """After-contact work ended (by the agent or by the queue's wrap-up limit)."""

    tenant: str
    contact: str
    agent: str
    by: Literal["agent", "timeout", "none"]


class ContactClosed(_Decision, tag="contact_closed", frozen=True):
    """The contact reached its final state."""

    tenant: str
    contact: str
    queue: str
    channel: Channel
    outcome: Literal["completed", "abandoned", "handed_off", "closed", "callback_unreached"]
    agent: str | None = None
    reason: PolicyReason | None = None
    """Why a policy closed it (outcome ``closed``); since revision 1.3."""
    announcement: str | None = None
    """The announcement played to the customer (outcome ``closed``); since 1.3."""


AgentStateValue = Literal["available", "paused", "offline", "not_responding"]


class AgentStateSet(_Decision, tag="agent_state_set", frozen=True):
    """The agent's presence changed, by the agent's own event or by the engine."""

    agent: str
    state: AgentStateValue
    reason: str | None = None
    by: Literal["agent", "engine"] = "agent"


class WorkInterrupted(_Decision, tag="work_interrupted", frozen=True):
    """A deferred item (e-mail, web form) is set aside for a live contact."""

    tenant: str
    contact: str
    agent: str
    by_contact: str


class ContactHandedOver(_Decision, tag="contact_handed_over", frozen=True):
    """A transfer was made: the contact left ``from_agent`` for a queue, a named agent, or
    the client's own team. Its arrival time, tags and history stay with it."""

    tenant: str
    contact: str
    from_agent: str
    queue: str
    """The queue the contact is in now (the new one after a queue transfer)."""
    to_agent: str | None = None
    handoff: str | None = None


#: Why a policy acted on a contact: reported apart in ``contact_closed.reason``,
#: ``contact_moved.reason``, ``callback_scheduled.reason`` and
#: ``contact_step_reached.reason``.
PolicyReason = Literal["outside_hours", "at_closing", "emergency", "queue_full", "max_wait"]
StepReason = Literal[
    "step",
    "long_line",
    "expected_wait",
    "service_level",
    "outside_hours",
    "at_closing",
    "emergency",
    "queue_full",
    "max_wait",
]


class ContactStepReached(_Decision, tag="contact_step_reached", frozen=True):
    """The contact waited long enough for its queue's next routing step: requirements
    relax, and with ``partner`` the outsourcing partner's agents may take it (overflow)."""

    tenant: str
    contact: str
    queue: str
    step: int
    """1 for the queue's first step, and so on."""
    partner: bool
    reason: StepReason = "step"
    """What opened it: a step timer, or an overflow trigger or policy action (1.3)."""


class WorkResumed(_Decision, tag="work_resumed", frozen=True):
    """The interrupted item is back in the agent's hands."""

    tenant: str
    contact: str
    agent: str


class QueueStatus(_Decision, tag="queue_status", frozen=True):
    """The queue opened, closed or was rerouted (schedule, holiday, closed date or an
    emergency). Since revision 1.3."""

    tenant: str
    queue: str
    open: bool
    reason: Literal["schedule", "holiday", "closed_date", "emergency", "no_schedule"]
    to_queue: str | None = None
    """Set while an emergency reroutes the queue's contacts there."""


class ContactMoved(_Decision, tag="contact_moved", frozen=True):
    """A policy moved the contact to another queue of its tenant: an emergency reroute,
    or a ticket (an e-mail task) made of it. Arrival time and history stay. Since 1.3."""

    tenant: str
    contact: str
    from_queue: str
    queue: str
    channel: Channel
    reason: PolicyReason


class CallbackScheduled(_Decision, tag="callback_scheduled", frozen=True):
    """The contact is a callback waiting in line: asked for (``requested``), made by a
    policy, or a retry after a failed dial. Since revision 1.3."""

    tenant: str
    contact: str
    queue: str
    reason: Literal[
        "requested",
        "outside_hours",
        "at_closing",
        "emergency",
        "queue_full",
        "max_wait",
        "no_answer",
        "busy",
    ]
    attempt: int
    """Dials made so far (0 until the first)."""
    not_before: int
    """Not offered before this time (UTC ms)."""


class CallbackAttempted(_Decision, tag="callback_attempted", frozen=True):
    """An agent dialled a callback: callbacks made and reached are counted from these.
    Since revision 1.3."""

    tenant: str
    contact: str
    agent: str
    attempt: int
    outcome: CallbackOutcome


RejectCode = Literal[
    "malformed",
    "unsupported_version",
    "duplicate_event",
    "unknown_tenant",
    "unknown_queue",
    "tenant_mismatch",
    "channel_not_served",
    "unknown_contact",
    "contact_exists",
    "unknown_agent",
    "wrong_agent",
    "invalid_state",
    "agent_has_work",
    "invalid_target",
    "agent_unavailable",
    "clock_jump",
    "too_many_agents",
]


class InputRejected(_Decision, tag="input_rejected", frozen=True):
    """The input was not applied; ``code`` says which rule and ``message`` how."""

    event_type: str | None
    code: RejectCode
    message: str
    tenant: str | None = None
    limit: str | UnsetType = UNSET
    """The documented limit the input went over (``max_depth``, ``max_input_bytes``,
    ``max_string_bytes``, ``max_items``, ``max_agents``), left out when none was; since
    revision 1.5."""


Decision = (
    OfferMade
    | OfferExpired
    | OfferRevoked
    | ContactQueued
    | ContactAssigned
    | WrapUpStarted
    | WrapUpEnded
    | ContactClosed
    | AgentStateSet
    | WorkInterrupted
    | WorkResumed
    | ContactStepReached
    | ContactHandedOver
    | QueueStatus
    | ContactMoved
    | CallbackScheduled
    | CallbackAttempted
    | InputRejected
)
DECISION_TYPES: tuple[type[Struct], ...] = Decision.__args__  # type: ignore[attr-defined]

Event = Input | Decision

# ------------------------------------------------------------------------- codecs

_input_json = msgspec.json.Decoder(Input)
_input_mp = msgspec.msgpack.Decoder(Input)
_decision_json = msgspec.json.Decoder(Decision)
_decision_mp = msgspec.msgpack.Decoder(Decision)
_decisions_mp = msgspec.msgpack.Decoder(list[Decision])
_json = msgspec.json.Encoder()
_mp = msgspec.msgpack.Encoder()


def decode_input(data: bytes, *, format: Literal["json", "msgpack"] = "json") -> Input:
    """Decode and validate one input; raises ``msgspec.ValidationError`` with the path.

    The bytes are held to :mod:`ccroute.limits` first, before any recursive decoding: over
    a limit raises :class:`ccroute.limits.InputLimitExceeded` (a ``msgspec.DecodeError``).
    """
    check_input(data, format)
    return _input_json.decode(data) if format == "json" else _input_mp.decode(data)


def decode_decision(data: bytes, *, format: Literal["json", "msgpack"] = "json") -> Decision:
    return _decision_json.decode(data) if format == "json" else _decision_mp.decode(data)


def decode_decisions_msgpack(data: bytes) -> list[Decision]:
    return _decisions_mp.decode(data)


def encode_json(event: Struct) -> bytes:
    return _json.encode(event)


def encode_msgpack(event: Struct | list[Input]) -> bytes:
    return _mp.encode(event)


def json_schema() -> dict[str, object]:
    """The JSON Schema of inputs and decisions (``ccroute schema``)."""
    (inp, dec), components = msgspec.json.schema_components([Input, Decision])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ccroute events",
        "version": SCHEMA_VERSION,
        "revision": SCHEMA_REVISION,
        "input": inp,
        "decision": dec,
        "$defs": components,
    }
