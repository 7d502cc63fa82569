"""The engine configuration: tenants, queues, agents and routing settings, from TOML.

Validation happens here, once, so that every error names the file, the key and what is
wrong (``ccroute.toml: queues[2].strategy: Expected one of ...``). The Rust core receives
the validated configuration as MessagePack and trusts its shape.
"""

from __future__ import annotations

import datetime
import difflib
import re
import tomllib
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from ccroute.events import Channel, Id, Proficiency
from ccroute.limits import DEFAULT_MAX_AGENTS

Strategy = Literal["longest_idle", "best_proficiency", "most_spare_capacity", "round_robin"]
STRATEGIES: tuple[Strategy, ...] = (
    "longest_idle",
    "best_proficiency",
    "most_spare_capacity",
    "round_robin",
)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names file, key and fix."""


class Routing(Struct, forbid_unknown_fields=True, kw_only=True):
    """Engine-wide routing settings."""

    strategy: Strategy = "longest_idle"
    """Agent selection when a queue does not choose its own."""
    offer_timeout_seconds: Annotated[int, Meta(ge=1, le=3600)] = 20
    max_missed_offers: Annotated[int, Meta(ge=1, le=100)] = 2
    """Offers in a row an agent lets time out before the engine sets them not-responding."""
    aging_seconds_per_point: Annotated[int, Meta(ge=0, le=86400)] = 60
    """A waiting contact gains one priority point per this many seconds (0: no aging)."""
    decline_cooldown_seconds: Annotated[int, Meta(ge=0, le=86400)] = 30
    """An agent who declined or missed a contact is not offered it again for this long."""
    dedupe_window_hours: Annotated[int, Meta(ge=1, le=24 * 90)] = 24
    """Input ids are remembered this long (by event time) to drop duplicates."""
    closed_contact_retention_hours: Annotated[int, Meta(ge=1, le=24 * 366)] = 168
    """Closed contacts are remembered this long, so late surveys still find them."""
    dedupe_max_ids: Annotated[int, Meta(ge=1, le=10_000_000)] = 1_000_000
    """At most this many input ids are remembered (the oldest is forgotten first): the
    de-duplication memory's byte budget, whatever the input rate (docs/service.md)."""
    closed_contact_max: Annotated[int, Meta(ge=1, le=10_000_000)] = 1_000_000
    """At most this many closed contacts are remembered (the oldest is forgotten first)."""
    fair_share_window_seconds: Annotated[int, Meta(ge=1, le=7 * 86400)] = 3600
    """The window in which tenants' ``fair_share_percent`` of offers is measured."""
    max_clock_jump_days: Annotated[int, Meta(ge=1, le=3660)] = 31
    """An input more than this far ahead of the engine's clock is rejected (``clock_jump``):
    a producer's wrong clock must not fire a year of timers."""
    max_agents: Annotated[int, Meta(ge=1, le=10_000_000)] = DEFAULT_MAX_AGENTS
    """Most agents the engine holds, configured ones included: ``agent_profile_changed``
    for a new agent past it is rejected (``too_many_agents``), so a producer cannot grow
    the state (and the snapshot) without bound."""


class ServiceLevel(Struct, forbid_unknown_fields=True):
    threshold_seconds: Annotated[int, Meta(ge=0)] = 20
    target_percent: Annotated[float, Meta(ge=0, le=100)] = 80.0


Calendar = Literal["FI", "SE", "none"]


class TenantReport(Struct, forbid_unknown_fields=True, kw_only=True):
    """What the client's monthly report (``ccroute report``) shows; the engine ignores it."""

    language: Literal["fi", "sv", "en"] = "en"
    """Language of the report's labels (``ccroute report --lang`` overrides)."""
    agents: bool = False
    """Show the table of agents (names, handle times, ratings). Off unless asked for:
    agent names in a client's document are personal data the provider may not share."""
    agent_rows: Annotated[int, Meta(ge=2, le=200)] = 10
    """With ``agents``: how many agents the table shows, half from the top and half from
    the bottom by contacts handled; every agent is in the CSV beside the report."""
    tags: dict[str, str] = {}
    """Display names of tags (topics): ``{ billing = "Laskutus" }``."""


class Tenant(Struct, forbid_unknown_fields=True, kw_only=True):
    """A client company: its data is visible to nobody else."""

    id: Id
    name: str = ""
    timezone: str = "Europe/Helsinki"
    """IANA time zone the tenant's service hours are written in."""
    holidays: Calendar = "none"
    """Public holidays its queues close on, unless a queue's ``hours.calendar`` says else."""
    languages: list[str] = []
    fair_share_percent: Annotated[int, Meta(ge=0, le=100)] = 0
    """Share of recent offers guaranteed to this tenant on agents it shares with others
    (docs/routing.md, 4b); 0: no guarantee."""
    report: TenantReport = msgspec.field(default_factory=TenantReport)
    """The monthly report's language, agent table and tag names."""


TimeRange = Annotated[
    str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")
]
"""``"HH:MM-HH:MM"`` in the tenant's local time; the end may be ``24:00``."""
Date = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Action = Literal["close", "callback", "ticket", "partner"]


class Holiday(Struct, forbid_unknown_fields=True, kw_only=True):
    """A dated holiday; with ``hours`` the queue opens for those ranges that day."""

    date: Date
    name: str = ""
    hours: list[TimeRange] = []


class Hours(Struct, forbid_unknown_fields=True, kw_only=True):
    """A queue's service hours in its tenant's time zone (docs/routing.md, 4b)."""

    mon: list[TimeRange] = []
    tue: list[TimeRange] = []
    wed: list[TimeRange] = []
    thu: list[TimeRange] = []
    fri: list[TimeRange] = []
    sat: list[TimeRange] = []
    sun: list[TimeRange] = []
    calendar: Calendar | None = None
    """Public holidays (closed all day); default: the tenant's ``holidays``."""
    holidays: list[Holiday] = []
    """Extra holidays, or special hours on a calendar holiday (same date wins)."""
    closed: list[Date] = []
    """Dates closed all day (exceptions to the weekly schedule)."""
    outside: Literal["close", "callback", "ticket", "partner", "keep"] = "close"
    """What happens to a contact that arrives while the queue is closed."""
    at_closing: Literal["serve", "keep", "close", "callback", "ticket", "partner"] = "serve"
    """What happens to contacts still waiting when the queue closes."""


class Borrow(Struct, forbid_unknown_fields=True, kw_only=True):
    """Agents of ``team`` may take this queue's contacts while ``while_queue`` keeps its
    recent service level at ``service_level_at_least`` or better."""

    team: str
    while_queue: Id
    service_level_at_least: Annotated[float, Meta(ge=0, le=100)]


class Step(Struct, forbid_unknown_fields=True, kw_only=True):
    """A routing step: from ``after_seconds`` of waiting, the contact's requirements relax.

    Steps are cumulative: a field left out keeps the previous step's value.
    """

    after_seconds: Annotated[int, Meta(ge=1, le=7 * 86400)]
    skills: dict[str, Proficiency] | None = None
    """Replaces the queue's required skills (the contact's own needs still apply)."""
    language: bool | None = None
    """False: any agent will do, whatever the contact's language."""
    partner: bool | None = None
    """True: the outsourcing partner's agents become eligible (queues with overflow)."""


class PriorityRule(Struct, forbid_unknown_fields=True, kw_only=True):
    """Priority points added at arrival when an attribute or a tag matches."""

    attribute: str | None = None
    equals: str | None = None
    """With ``attribute``: the value that matches (left out: any value)."""
    tag: str | None = None
    add: Annotated[int, Meta(ge=-1000, le=1000)]


PartnerMode = Literal["always", "overflow"]


class Queue(Struct, forbid_unknown_fields=True, kw_only=True):
    """Where a tenant's contacts wait for an agent."""

    id: Id
    tenant: Id
    channels: Annotated[list[Channel], Meta(min_length=1)]
    skills: dict[str, Proficiency] = {}
    """Required skills (name -> lowest proficiency) added to every contact's own."""
    priority: Annotated[int, Meta(ge=-1000, le=1000)] = 0
    """Added to each contact's priority: the queue's weight against other queues."""
    strategy: Strategy | None = None
    offer_timeout_seconds: Annotated[int, Meta(ge=1, le=3600)] | None = None
    wrap_up_seconds: Annotated[int, Meta(ge=0, le=86400)] = 0
    """Longest wrap-up before the engine ends it (0: no wrap-up, capacity frees at once)."""
    interruptible: bool = False
    """Deferred work (e-mail, web form, social) of this queue may be set aside for live work."""
    service_level: ServiceLevel = msgspec.field(default_factory=ServiceLevel)
    steps: list[Step] = []
    """Requirements that relax as the contact waits (docs/routing.md, section 4a)."""
    partner: PartnerMode = "always"
    """``always``: partner agents are eligible like the provider's own; ``overflow``: only
    through a step with ``partner = true`` or the steady share."""
    partner_share_percent: Annotated[int, Meta(ge=0, le=100)] = 0
    """This share of arrivals goes to the partner first, even in calm times."""
    priority_rules: list[PriorityRule] = []
    overflow_when_waiting_over: Annotated[int, Meta(ge=0)] | None = None
    """An arrival that finds more than this many contacts waiting in the queue may go to
    the partner at once (queues with ``partner = "overflow"``)."""
    continuity_seconds: Annotated[int, Meta(ge=0, le=86400)] = 0
    """A returning customer's contact is kept this long for the agent who last helped them
    (``customer`` on ``contact_arrived``); 0: off."""
    hours: Hours | None = None
    """Service hours; none: always open (an emergency can still close it)."""
    announcement: str | None = None
    """Announcement id played to contacts a policy closes (outside hours, queue full)."""
    ticket_queue: Id | None = None
    """Where the ``ticket`` action sends a contact, as an e-mail task."""
    max_waiting: Annotated[int, Meta(ge=0)] | None = None
    """An arrival that finds this many in line takes the ``when_full`` action."""
    max_wait_seconds: Annotated[int, Meta(ge=1, le=7 * 86400)] | None = None
    """A contact still waiting this long takes the ``when_full`` action."""
    when_full: Action = "close"
    overflow_when_expected_wait_over: Annotated[int, Meta(ge=0)] | None = None
    """Arrivals whose expected wait is over this many seconds may go to the partner."""
    overflow_when_service_level_under: bool = False
    """Arrivals go to the partner while the last 30 minutes' service level is under
    ``service_level.target_percent``."""
    callback_attempts: Annotated[int, Meta(ge=1, le=20)] = 3
    """Dials of a callback before it is given up (``contact_closed`` callback_unreached)."""
    callback_retry_seconds: Annotated[int, Meta(ge=0, le=7 * 86400)] = 600
    teams: list[str] = []
    """Only agents of these teams take the queue's contacts (empty: any team)."""
    borrow: list[Borrow] = []


class Agent(Struct, forbid_unknown_fields=True, kw_only=True):
    """A person who handles contacts. Starts offline until logged in."""

    id: Id
    name: str = ""
    skills: dict[str, Proficiency] = {}
    languages: list[str] = []
    tenants: list[str] = msgspec.field(default_factory=lambda: ["*"])
    """Tenants this agent may serve; ``*`` for all."""
    capacity: dict[Channel, Annotated[int, Meta(ge=0, le=100)]] = {}
    team: str = ""
    """The agent's team; reports group by it."""
    partner: str | None = None
    """The outsourcing partner this agent works for, if not the provider's own staff."""


class Service(Struct, forbid_unknown_fields=True, kw_only=True):
    """Settings of ``ccroute serve`` (docs/service.md). A ``CCROUTE_*`` environment
    variable or a command-line flag overrides the value given here."""

    metrics_port: Annotated[int, Meta(ge=1, le=65535)] | None = None
    tick_ms: Annotated[int, Meta(ge=0, le=3_600_000)] = 1000
    """Clock tick interval; 0: no ticks (timers fire only on other inputs)."""
    lease_ttl_seconds: Annotated[int, Meta(ge=1, le=3600)] = 3
    batch: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    pull_batch: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    snapshot_every_events: Annotated[int, Meta(ge=1)] = 100_000
    snapshot_every_seconds: Annotated[float, Meta(gt=0)] = 60.0
    projection_flush_seconds: Annotated[float, Meta(gt=0)] = 0.25
    projections: bool = True
    replicas: Annotated[int, Meta(ge=1, le=5)] = 1
    input_duplicate_window_seconds: Annotated[float, Meta(gt=0)] = 60.0
    decision_duplicate_window_seconds: Annotated[float, Meta(gt=0)] = 10.0
    """Fencing, not this window, keeps a decision from being stored twice (docs/service.md,
    "Event sourcing"); the window is a backstop, and each id in it costs nats-server heap
    that its collector marks on every cycle."""
    input_max_age_seconds: Annotated[float, Meta(ge=0)] = 7 * 86400.0
    """Inputs are kept a week (0: for ever). Recovery needs only the log after the newest
    snapshot; a week is for audits and replays (docs/service.md, "Sizing")."""
    input_tenant_max_bytes: Annotated[int, Meta(ge=1024)] = 1 << 30
    """Under the tenant wall: the byte limit of each tenant's (and the agent desktops')
    entry stream; a full one refuses that tenant's next inputs, no one else's."""
    input_entry_max_age_seconds: Annotated[float, Meta(ge=1)] = 86400.0
    """Under the tenant wall: how long the entry streams keep inputs the log has copied
    (at most ``input_max_age_seconds``); the longest the log may be unable to copy."""
    decision_max_age_seconds: Annotated[float, Meta(ge=0)] = 3 * 86400.0
    """Decisions are kept three days (0: for ever): a consumer down over a weekend can
    still catch up; they are the larger stream (about 380 bytes per input)."""


class Config(Struct, forbid_unknown_fields=True, kw_only=True):
    """A whole engine configuration."""

    routing: Routing = msgspec.field(default_factory=Routing)
    service: Service = msgspec.field(default_factory=Service)
    tenants: list[Tenant] = []
    queues: list[Queue] = []
    agents: list[Agent] = []

    def queue(self, queue_id: str) -> Queue:
        for q in self.queues:
            if q.id == queue_id:
                return q
        raise KeyError(queue_id)


def _check_references(cfg: Config, source: str) -> None:
    def fail(key: str, msg: str) -> None:
        raise ConfigError(f"{source}: {key}: {msg}")

    if len(cfg.agents) > cfg.routing.max_agents:
        fail(
            "routing.max_agents",
            f"{len(cfg.agents)} agents are configured; the engine holds at most "
            f"{cfg.routing.max_agents}",
        )
    tenant_ids: set[str] = set()
    for i, t in enumerate(cfg.tenants):
        if t.id in tenant_ids:
            fail(f"tenants[{i}].id", f"tenant {t.id!r} is defined twice")
        tenant_ids.add(t.id)
    queue_ids: set[str] = set()
    for i, q in enumerate(cfg.queues):
        if q.id in queue_ids:
            fail(f"queues[{i}].id", f"queue {q.id!r} is defined twice")
        queue_ids.add(q.id)
        if q.tenant not in tenant_ids:
            fail(
                f"queues[{i}].tenant",
                f"unknown tenant {q.tenant!r}; add a [[tenants]] entry with id = {q.tenant!r}",
            )
        if len(set(q.channels)) != len(q.channels):
            fail(f"queues[{i}].channels", "a channel is listed twice")
        for j in range(1, len(q.steps)):
            if q.steps[j].after_seconds <= q.steps[j - 1].after_seconds:
                fail(
                    f"queues[{i}].steps[{j}].after_seconds",
                    "steps must come in order of increasing after_seconds",
                )
        if q.partner_share_percent and q.partner != "overflow":
            fail(
                f"queues[{i}].partner_share_percent",
                'a steady share needs partner = "overflow" (with "always" the partner '
                "already takes any contact)",
            )
        if q.partner_share_percent and not q.steps:
            fail(
                f"queues[{i}].partner_share_percent",
                "a steady share needs at least one step: from the first step the share's "
                "contacts are open to the provider's own agents too",
            )
        if q.overflow_when_waiting_over is not None and q.partner != "overflow":
            fail(
                f"queues[{i}].overflow_when_waiting_over",
                'overflow needs partner = "overflow" (with "always" the partner already '
                "takes any contact)",
            )
        _check_policies(cfg, i, q, fail)
        for j, r in enumerate(q.priority_rules):
            if (r.attribute is None) == (r.tag is None):
                fail(f"queues[{i}].priority_rules[{j}]", "give exactly one of attribute or tag")
            if r.equals is not None and r.attribute is None:
                fail(f"queues[{i}].priority_rules[{j}].equals", "equals goes with attribute")
    for i, t in enumerate(cfg.tenants):
        try:
            zoneinfo.ZoneInfo(t.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            fail(
                f"tenants[{i}].timezone",
                f"unknown time zone {t.timezone!r}; use an IANA name such as 'Europe/Helsinki'",
            )
    agent_ids: set[str] = set()
    for i, a in enumerate(cfg.agents):
        if a.id in agent_ids:
            fail(f"agents[{i}].id", f"agent {a.id!r} is defined twice")
        agent_ids.add(a.id)
        for name in a.tenants:
            if name != "*" and name not in tenant_ids:
                fail(f"agents[{i}].tenants", f"unknown tenant {name!r}")


def _minutes(r: str) -> tuple[int, int]:
    start, end = r.split("-")
    return int(start[:2]) * 60 + int(start[3:]), int(end[:2]) * 60 + int(end[3:])


def _check_ranges(key: str, ranges: list[str], fail: Callable[[str, str], None]) -> None:
    spans = sorted(_minutes(r) for r in ranges)
    for j, (a, b) in enumerate(spans):
        if a >= b:
            fail(
                key,
                f"range {ranges[j]!r} ends before it starts; "
                "split a night shift at 24:00 into two days",
            )
        if j and a < spans[j - 1][1]:
            fail(key, "ranges overlap; merge them")


def _check_date(key: str, text: str, fail: Callable[[str, str], None]) -> None:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        fail(key, f"{text!r} is not a date (YYYY-MM-DD)")


def _check_policies(cfg: Config, i: int, q: Queue, fail: Callable[[str, str], None]) -> None:
    """Service hours, caps, callbacks, overflow triggers and borrowing of queue ``i``."""
    key = f"queues[{i}]"
    queues = {x.id: x for x in cfg.queues}
    actions: list[tuple[str, str]] = []
    if q.hours is not None:
        h = q.hours
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
            _check_ranges(f"{key}.hours.{day}", getattr(h, day), fail)
        seen: set[str] = set()
        for j, hol in enumerate(h.holidays):
            _check_date(f"{key}.hours.holidays[{j}].date", hol.date, fail)
            if hol.date in seen:
                fail(f"{key}.hours.holidays[{j}].date", f"{hol.date} is listed twice")
            seen.add(hol.date)
            _check_ranges(f"{key}.hours.holidays[{j}].hours", hol.hours, fail)
        for j, d in enumerate(h.closed):
            _check_date(f"{key}.hours.closed[{j}]", d, fail)
        actions += [("hours.outside", h.outside), ("hours.at_closing", h.at_closing)]
    if q.max_waiting is not None or q.max_wait_seconds is not None:
        actions.append(("when_full", q.when_full))
    for where, action in actions:
        if action == "callback" and "callback" not in q.channels:
            fail(f"{key}.{where}", 'the callback action needs "callback" in the queue\'s channels')
        if action == "partner" and q.partner != "overflow":
            fail(f"{key}.{where}", 'the partner action needs partner = "overflow"')
        if action == "ticket" and q.ticket_queue is None:
            fail(
                f"{key}.{where}",
                "the ticket action needs ticket_queue = <an e-mail queue of the same tenant>",
            )
    if q.ticket_queue is not None:
        target = queues.get(q.ticket_queue)
        if target is None:
            fail(f"{key}.ticket_queue", f"unknown queue {q.ticket_queue!r}")
        elif target.tenant != q.tenant:
            fail(f"{key}.ticket_queue", f"queue {q.ticket_queue!r} belongs to another tenant")
        elif "email" not in target.channels:
            fail(f"{key}.ticket_queue", f'queue {q.ticket_queue!r} must take "email"')
        elif target.id == q.id:
            fail(f"{key}.ticket_queue", "a queue cannot make tickets into itself")
    for name in ("overflow_when_expected_wait_over", "overflow_when_service_level_under"):
        if getattr(q, name) not in (None, False) and q.partner != "overflow":
            fail(
                f"{key}.{name}",
                'overflow needs partner = "overflow" '
                '(with "always" the partner already takes any contact)',
            )
    for j, b in enumerate(q.borrow):
        target = queues.get(b.while_queue)
        if target is None:
            fail(f"{key}.borrow[{j}].while_queue", f"unknown queue {b.while_queue!r}")
        if not q.teams:
            fail(
                f"{key}.borrow[{j}]",
                "borrowing needs the queue's own teams = [...] "
                "(without teams every team is eligible already)",
            )


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML configuration file."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return config_from_dict(raw, source=str(p))


def config_from_dict(raw: dict[str, object], *, source: str = "<config>") -> Config:
    """Validate a configuration given as plain data (as parsed from TOML)."""
    try:
        cfg = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        text = str(exc)
        # msgspec says "... - at `$.queues[2].strategy`": put the key first, as people read it.
        where = ""
        if " - at `$." in text:
            text, _, where = text.rpartition(" - at `$.")
            where = where.rstrip("`")
        unknown = UNKNOWN_FIELD.fullmatch(text)
        if unknown:
            field = unknown.group(1)
            text = unknown_key_message(Config, where, field)
            where = f"{where}.{field}" if where else field
        raise ConfigError(f"{source}: {_named(raw, where or '(top level)')}: {text}") from None
    try:
        _check_references(cfg, source)
    except ConfigError as exc:
        # "src: queues[2].tenant: msg" -> "src: queue 'kide-chat' (queues[2].tenant): msg"
        head = f"{source}: "
        key, sep, msg = str(exc).removeprefix(head).partition(": ")
        raise ConfigError(f"{head}{_named(raw, key)}{sep}{msg}") from None
    return cfg


UNKNOWN_FIELD = re.compile(r"Object contains unknown field `([^`]*)`")
"""msgspec's message for a key a table does not have."""


def unknown_key_message(root: type[Struct], path: str, key: str) -> str:
    """ "unknown key 'wrapup_seconds'; did you mean 'wrap_up_seconds'?" for a key of the
    table at ``path`` (``queues[0]``) of the ``root`` structure."""
    return f"unknown key {key!r}" + _did_you_mean(key, _struct_at(root, path))


_ENTRY = re.compile(r"^(tenants|queues|agents)\[(\d+)\]")
_SINGULAR = {"tenants": "tenant", "queues": "queue", "agents": "agent"}


def _named(raw: dict[str, object], key: str) -> str:
    """``queues[0].wrap_up_seconds`` as ``queue 'lumo-voice' (queues[0].wrap_up_seconds)``:
    people know their queues by id, and the path still finds the line."""
    m = _ENTRY.match(key)
    if m is None:
        return key
    entries = raw.get(m.group(1))
    n = int(m.group(2))
    if isinstance(entries, list) and n < len(entries) and isinstance(entries[n], dict):
        ident = entries[n].get("id")
        if isinstance(ident, str):
            return f"{_SINGULAR[m.group(1)]} {ident!r} ({key})"
    return key


def _struct_at(root: type[Struct], path: str) -> tuple[str, ...]:
    """The field names of the table at ``path`` (``queues[0].hours``) of ``root``."""
    info: msgspec.inspect.Type = msgspec.inspect.type_info(root)
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        info = _unwrap(info)
        if part.startswith("["):
            if isinstance(info, msgspec.inspect.ListType):
                info = info.item_type
            continue
        if isinstance(info, msgspec.inspect.DictType):
            info = info.value_type
        elif isinstance(info, msgspec.inspect.StructType):
            info = next((f.type for f in info.fields if f.encode_name == part), info)
    info = _unwrap(info)
    if isinstance(info, msgspec.inspect.StructType):
        return tuple(f.encode_name for f in info.fields)
    return ()


def _unwrap(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """The table inside an optional (``hours: Hours | None``)."""
    if isinstance(info, msgspec.inspect.UnionType):
        for t in info.types:
            if isinstance(t, msgspec.inspect.StructType):
                return t
    return info


def _did_you_mean(word: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; the keys here are {', '.join(sorted(known))}" if known else ""


def encode_config(cfg: Config) -> bytes:
    """The MessagePack form the Rust core reads."""
    return msgspec.msgpack.encode(cfg)
