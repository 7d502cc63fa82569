"""Tallies: the sums of facts a period and dimension collect, and the rules that add to them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

# --------------------------------------------------------------------------- tallies


@dataclass(slots=True)
class ContactTally:
    """Sums of contact facts; tallies add up (intervals to days, queues to tenants)."""

    arrived: int = 0
    callbacks_requested: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    answered_within_t: int = 0
    abandoned_within_t: int = 0
    wait_answered_ms: int = 0
    wait_abandoned_ms: int = 0
    max_wait_ms: int = 0
    target_bp_sum: int = 0
    """Sum over offered contacts of their queue's SL target in basis points (integer, so
    that sums do not depend on the order of addition)."""
    callbacks_made: int = 0
    callbacks_reached: int = 0
    callbacks_unreached: int = 0
    callbacks_first_dialled: int = 0
    callback_wait_ms: int = 0
    """From becoming a callback to the first dial's acceptance, summed over first dials."""
    ticketed: int = 0
    partner_answered: int = 0
    handled: int = 0
    talk_ms: int = 0
    wrap_ms: int = 0
    resolved_yes: int = 0
    resolved_known: int = 0
    closed: int = 0
    offers: int = 0
    offers_rejected: int = 0
    offers_expired: int = 0
    csat_n: int = 0
    csat_sum: int = 0
    nps_n: int = 0
    nps_promoters: int = 0
    nps_detractors: int = 0
    ces_n: int = 0
    ces_sum: int = 0
    solved_n: int = 0
    solved_yes: int = 0
    tags: Counter[str] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    wrap_up_codes: Counter[str] = field(default_factory=Counter)
    callback_reasons: Counter[str] = field(default_factory=Counter)
    """Callbacks requested by why: ``requested`` by the customer, or the policy."""
    policy_closed: Counter[str] = field(default_factory=Counter)
    """Contacts a policy closed (outcome ``closed``), by reason."""
    policy_moved: Counter[str] = field(default_factory=Counter)
    """Contacts a policy moved to another queue (``contact_moved``), by reason."""
    overflows: Counter[str] = field(default_factory=Counter)
    """Contacts opened to the partner, by what opened them (a step, a trigger, a policy)."""

    def add(self, other: ContactTally) -> None:
        """Add another tally into this one."""
        # A tally of one interval and group holds mostly zeros: adding only what is there
        # keeps a month's report quick.
        for name in _TALLY_SUMS:
            v = getattr(other, name)
            if v:
                setattr(self, name, getattr(self, name) + v)
        if other.max_wait_ms > self.max_wait_ms:
            self.max_wait_ms = other.max_wait_ms
        for name in _TALLY_COUNTERS:
            c = getattr(other, name)
            if c:
                getattr(self, name).update(c)


_TALLY_COUNTERS = (
    "tags",
    "pages",
    "wrap_up_codes",
    "callback_reasons",
    "policy_closed",
    "policy_moved",
    "overflows",
)
_TALLY_SUMS = tuple(
    f.name for f in fields(ContactTally) if f.name not in ("max_wait_ms", *_TALLY_COUNTERS)
)


@dataclass(slots=True)
class AgentTally:
    """Time sums of agent presence, in milliseconds."""

    logged_in_ms: int = 0
    available_ms: int = 0
    not_responding_ms: int = 0
    busy_ms: int = 0
    """Holding at least one accepted contact (talk, interrupted or wrap-up)."""
    ready_ms: int = 0
    """Available or busy: logged-in time less pauses taken while holding no contact."""
    paused_ms: dict[str, int] = field(default_factory=dict)
    """Pause time by reason (``""``: no reason given)."""

    def add(self, other: AgentTally) -> None:
        self.logged_in_ms += other.logged_in_ms
        self.available_ms += other.available_ms
        self.not_responding_ms += other.not_responding_ms
        self.busy_ms += other.busy_ms
        self.ready_ms += other.ready_ms
        for reason, ms in other.paused_ms.items():
            self.paused_ms[reason] = self.paused_ms.get(reason, 0) + ms


def add_answer(
    t: ContactTally, wait_ms: int, threshold_ms: int, target_bp: int, *, partner: bool = False
) -> None:
    """Count one answer (a contact offered and answered after ``wait_ms``).

    The one definition of what an answer adds, used by the report's cube and by the
    service's live projections alike. A callback is no answer here (its wait is the time
    to call back, reported apart).
    """
    t.answered += 1
    t.wait_answered_ms += wait_ms
    if wait_ms > t.max_wait_ms:
        t.max_wait_ms = wait_ms
    t.answered_within_t += wait_ms <= threshold_ms
    t.target_bp_sum += target_bp
    t.partner_answered += partner


def add_abandon(
    t: ContactTally, wait_ms: int, threshold_ms: int, target_bp: int, short_ms: int
) -> None:
    """Count one abandon (a contact offered, the customer gone after ``wait_ms``)."""
    t.abandoned += 1
    t.wait_abandoned_ms += wait_ms
    if wait_ms > t.max_wait_ms:
        t.max_wait_ms = wait_ms
    t.short_abandoned += wait_ms < short_ms
    t.abandoned_within_t += wait_ms <= threshold_ms
    t.target_bp_sum += target_bp


def offered(t: ContactTally) -> int:
    """Contacts offered: answered + abandoned (ACD reporting; a contact still waiting is
    counted when its wait ends)."""
    return t.answered + t.abandoned
