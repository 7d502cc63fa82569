"""The rows the contact-record fold keeps: one per contact, one per agent presence
interval, one per time an agent held a contact. All times are UTC milliseconds."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from ccroute.events import AgentStateValue, Channel

Outcome = Literal["completed", "abandoned", "handed_off", "closed", "callback_unreached", "open"]

# gc=False: every record stays in memory for as long as the recorder runs, and the cyclic
# collector would walk them all again and again. A row holds only strings, numbers and
# lists/dicts of those (and of dials), so it can never be part of a reference cycle.


class CallbackDial(Struct, kw_only=True, gc=False):
    """One dial of a callback: who, from acceptance to the result, and the result."""

    agent: str
    accepted_ms: int
    ms: int
    """When the agent reported the result (``callback_attempted``)."""
    outcome: str


class ContactRecord(Struct, kw_only=True, gc=False):
    """Everything known about one contact, from arrival to close (and a late survey).

    Timestamps are UTC milliseconds; ``None`` means "has not happened".
    """

    tenant: str
    contact: str
    queue: str
    channel: Channel
    arrived_ms: int
    language: str | None = None
    priority: int = 0
    """The latest priority (arrival, or the last ``contact_updated``)."""
    customer: str | None = None
    page: str | None = None
    """The web page a chat (or form) started from."""
    attributes: dict[str, str] = {}
    tags: list[str] = []
    """Arrival tags (replaced by ``contact_updated``) plus the agent's tags at completion."""
    first_offer_ms: int | None = None
    answered_ms: int | None = None
    """The first acceptance of an offer (``contact_assigned``): the answer. A transfer's
    next acceptance and a callback's later dials leave it, so the answer, once counted,
    stays where it was (the live figures count it then too)."""
    accepted_ms: int | None = None
    """The latest acceptance: where the current agent's work (talk) starts."""
    completed_ms: int | None = None
    """Talk/writing ended (``contact_completed``)."""
    wrap_end_ms: int | None = None
    closed_ms: int | None = None
    abandoned_ms: int | None = None
    wait_ms: int | None = None
    """Arrival to answer, or arrival to abandon."""
    talk_ms: int | None = None
    wrap_ms: int | None = None
    handle_ms: int | None = None
    """Talk plus wrap-up."""
    agent: str | None = None
    agent_team: str | None = None
    agent_partner: str | None = None
    """The outsourcing partner of the answering agent; set means "handled by the partner"."""
    wrap_up_code: str | None = None
    resolved: bool | None = None
    """The agent's own "resolved" flag at completion."""
    offers: int = 0
    offers_rejected: int = 0
    offers_expired: int = 0
    offers_revoked: int = 0
    interruptions: int = 0
    step: int = 0
    """The last routing step the contact reached (0: the queue's own requirements)."""
    overflow_ms: int | None = None
    """When a routing step opened the contact to the outsourcing partner (overflow)."""
    overflow_reason: str | None = None
    """What opened it (``contact_step_reached.reason``: ``step``, ``long_line``, ...)."""
    callback_requested_ms: int | None = None
    """When the contact became a callback (``callback_scheduled`` attempt 0), or its
    arrival if it arrived on channel ``callback``."""
    callback_reason: str | None = None
    """Why it became a callback: ``requested`` or the policy (``outside_hours``, ...)."""
    callback_dials: list[CallbackDial] = []
    """Each dial (``callback_attempted``), in order."""
    moved_ms: int | None = None
    """When a policy first moved it to another queue (``contact_moved``)."""
    moved_from: str | None = None
    """The queue the first move took it from (its queue then)."""
    move_reason: str | None = None
    moves: int = 0
    ticket: bool = False
    """The first move made an e-mail task of it (the ``ticket`` action)."""
    closed_reason: str | None = None
    """Why a policy closed it (outcome ``closed``): ``outside_hours``, ``queue_full``, ..."""
    announcement: str | None = None
    """The announcement played when a policy closed it."""
    transfers: int = 0
    """Times an agent passed the contact on (to a queue, an agent or the client's team)."""
    handoff: str | None = None
    """The client's hand-off point the contact was handed to, if any."""
    survey_ms: int | None = None
    csat: int | None = None
    nps: int | None = None
    ces: int | None = None
    solved: bool | None = None
    """The customer's answer to "was your issue solved?"."""
    outcome: Outcome = "open"

    @property
    def handled_by_partner(self) -> bool:
        """Answered by an agent of the overflow partner."""
        return self.agent_partner is not None

    @property
    def is_callback(self) -> bool:
        """A callback: arrived on channel ``callback``, or became one while waiting."""
        return self.callback_requested_ms is not None or self.channel == "callback"


class AgentActivity(Struct, kw_only=True, gc=False):
    """One interval of an agent's presence; ``end_ms`` is ``None`` while it lasts."""

    agent: str
    state: AgentStateValue
    reason: str | None
    start_ms: int
    end_ms: int | None = None
    by: Literal["agent", "engine"] = "agent"
    team: str = ""
    partner: str | None = None


class AgentWork(Struct, kw_only=True, gc=False):
    """One contact held by an agent: from acceptance to close (talk, then wrap-up)."""

    agent: str
    tenant: str
    contact: str
    queue: str
    channel: Channel
    start_ms: int
    talk_end_ms: int | None
    end_ms: int | None
    team: str = ""
    partner: str | None = None
