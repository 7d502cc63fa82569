"""The scenario file: a contact centre to simulate, in TOML.

A scenario names an engine configuration (tenants, queues, routing) and adds what the
engine does not know: who works when (agent groups with shifts and breaks), how many
customers come (traffic per queue, by weekday and time of day, or from a forecast file),
how long contacts take, how patient customers are and how they rate the service.

Validation happens here, once: every error names the file and the key
(``scenario.toml: traffic[2].profile: unknown profile 'ofice'; defined: office, evening``),
as :mod:`ccroute.config` does for engine configurations. The schema is documented field
by field in ``docs/simulation.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from ccroute.config import (
    UNKNOWN_FIELD,
    Config,
    ConfigError,
    config_from_dict,
    unknown_key_message,
)
from ccroute.events import Channel, Id, Proficiency

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKDAYS: tuple[Weekday, ...] = WEEKDAYS[:5]

Percent = Annotated[float, Meta(ge=0, le=100)]
Share = Annotated[float, Meta(ge=0, le=1)]
Weight = Annotated[float, Meta(ge=0)]
ClockTime = Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
"""A local wall-clock time ``HH:MM``."""

_AT = re.compile(r"^(.*?) - at `(key` in `)?\$\.?(.*)`$", re.DOTALL)
ENGINE_TABLES = frozenset({"routing", "tenants", "queues", "agents", "service"})
"""Top-level tables of an engine configuration (a scenario has ``[scenario]``)."""
_NAMED_ENTRY = re.compile(r"^(\w+ '[^']*' \()(.*)$", re.DOTALL)
_RANGE = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*(([01]\d|2[0-3]):([0-5]\d)|24:00)\s*$")


class ScenarioError(ConfigError):
    """A scenario that cannot be simulated; the message names file, key and fix."""


# --------------------------------------------------------------------------- schema


class Distribution(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A random duration in seconds (handle time, wrap-up, patience, answer delay).

    ``lognormal`` and ``gamma`` take ``mean_seconds`` and ``cv`` (standard deviation ÷
    mean); ``exponential`` takes ``mean_seconds``; ``uniform`` draws between
    ``min_seconds`` and ``max_seconds``; ``fixed`` is always ``mean_seconds``. Every
    draw is clamped to ``[min_seconds, max_seconds]``. ``never`` is for patience only:
    customers who never give up.
    """

    distribution: Literal["lognormal", "gamma", "exponential", "uniform", "fixed", "never"] = (
        "lognormal"
    )
    mean_seconds: Annotated[float, Meta(ge=0)] | None = None
    cv: Annotated[float, Meta(gt=0, le=10)] = 0.6
    min_seconds: Annotated[float, Meta(ge=0)] = 0.0
    max_seconds: Annotated[float, Meta(gt=0)] | None = None

    @property
    def mean(self) -> float:
        """The mean before clamping (uniform: the midpoint)."""
        if self.distribution == "uniform":
            return (self.min_seconds + (self.max_seconds or self.min_seconds)) / 2.0
        return float(self.mean_seconds or 0.0)


def _fixed(seconds: float) -> Distribution:
    return Distribution(distribution="fixed", mean_seconds=seconds)


class Survey(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Who answers the survey after a completed contact, and how they rate it."""

    share: Share = 0.0
    """Share of completed contacts whose customer answers (0-1)."""
    csat_weights: Annotated[list[Weight], Meta(min_length=5, max_length=5)] = msgspec.field(
        default_factory=lambda: [4.0, 4.0, 10.0, 30.0, 52.0]
    )
    """Relative weights of CSAT 1, 2, 3, 4, 5 for a customer who did not wait."""
    nps_weights: Annotated[list[Weight], Meta(min_length=11, max_length=11)] | None = None
    """Relative weights of NPS 0..10 (left out: no NPS question)."""
    ces_weights: Annotated[list[Weight], Meta(min_length=7, max_length=7)] | None = None
    """Relative weights of CES 1..7 (left out: no CES question)."""
    solved_percent: Percent = 80.0
    """How many answer "yes" to "was your issue solved?"."""
    wait_penalty_seconds: Annotated[float, Meta(ge=0)] = 0.0
    """Waiting lowers ratings: a customer who waited this long gives one point less for
    sure, shorter waits in proportion (0: waiting does not matter)."""
    delay: Distribution = msgspec.field(
        default_factory=lambda: Distribution(
            distribution="exponential", mean_seconds=240.0, min_seconds=10.0, max_seconds=7200.0
        )
    )
    """From the close of the contact to the survey answer."""


class Behaviour(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How contacts of a channel behave; every field falls back to a channel default."""

    handle_time: Distribution | None = None
    """Talk or writing time of an average agent (speed 1.0)."""
    wrap_up: Distribution | None = None
    """After-contact work; the queue's ``wrap_up_seconds`` caps it (0: no wrap-up)."""
    patience: Distribution | None = None
    """How long a customer waits before giving up (deferred channels by default, and
    ``{ distribution = "never" }``: never)."""
    answer_delay: Distribution | None = None
    """From the offer to the agent's accept (ringing, opening the item)."""
    survey: Survey | None = None


class Traffic(Behaviour, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A stream of contacts into one queue on one channel."""

    queue: Id
    channel: Channel | None = None
    """Left out: the queue's first channel."""
    per_day: dict[Weekday, Weight] | Weight = {}
    """Contacts offered per day, by weekday (a missing weekday: none); one number: the
    same every day of the week."""
    profile: str | None = None
    """Intraday shape (a ``[profiles.NAME]``); left out: even over the open hours."""
    day_of_month: dict[str, Weight] = {}
    """Volume factor by day of month (``"1" = 1.4``: invoices went out)."""
    forecast: str | None = None
    """The client's forecast CSV (``interval_start,offered``, local dated times, as
    ``ccroute staffing --forecast`` reads) instead of ``per_day``/``profile``; a path
    relative to the scenario file."""
    hours: str | None = None
    """Service hours (a ``[hours.NAME]``): contacts arrive only while open. Left out:
    always open (e-mail arrives day and night)."""
    noise: Annotated[float, Meta(ge=0, le=2)] = 0.08
    """Day-to-day variation of the volume around the forecast (coefficient of variation)."""
    priority: Annotated[int, Meta(ge=-1000, le=1000)] = 0
    languages: dict[str, Weight] = {}
    """Language mix of the customers (``fi = 85, sv = 15``); left out: no language."""
    topics: dict[str, Weight] = {}
    """Topic mix; the agent tags each contact with its topic at completion."""
    pages: dict[str, Weight] = {}
    """Web page a chat or form starts from."""
    skills: dict[str, Proficiency] = {}
    """Skills every contact of this stream needs, on top of the queue's."""
    resolved_percent: Percent = 85.0
    """Share the agent marks resolved at completion."""
    callback_percent: Percent = 0.0
    """Share of customers who, giving up, leave a callback request."""
    callback_queue: Id | None = None
    """Queue that takes the callback requests (must serve channel ``callback``)."""
    callback_request_percent: Percent = 0.0
    """Share of customers who, after ``callback_request_after`` in line, ask to be called
    back instead of holding on (``callback_requested``: the contact keeps its place). Only
    where the queue takes channel ``callback``."""
    callback_request_after: Distribution = msgspec.field(
        default_factory=lambda: Distribution(
            distribution="exponential", mean_seconds=60.0, min_seconds=10.0
        )
    )
    """How long such a customer waits in line before asking (if still waiting then)."""
    callback_answer_percent: Percent = 80.0
    """Share of dials of this stream's callbacks the customer answers (else no answer)."""
    callback_dial: Distribution = msgspec.field(
        default_factory=lambda: Distribution(
            distribution="uniform", min_seconds=8.0, max_seconds=30.0
        )
    )
    """From the agent's accept of a callback to the result of the dial (ringing)."""


class Hours(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Service hours by weekday (``"08:00-16:00"``, or several ranges comma-separated).

    A weekday left out is closed; so are the ``closed`` dates (public holidays).
    """

    mon: str | None = None
    tue: str | None = None
    wed: str | None = None
    thu: str | None = None
    fri: str | None = None
    sat: str | None = None
    sun: str | None = None
    closed: list[dt.date] = []


class Profile(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """An intraday shape: relative volume per hour (24 weights) or per 15 minutes (96)."""

    weights: list[Weight]
    weekdays: dict[Weekday, list[Weight]] = {}
    """Other shapes for some weekdays (Saturday peaks later)."""


class Break(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A pause within a shift, marked in the system with its reason."""

    after_minutes: Annotated[int, Meta(ge=0, le=24 * 60)]
    """From the start of the shift; 0 means the agent logs in paused (a briefing)."""
    minutes: Annotated[int, Meta(ge=1, le=24 * 60)]
    reason: Annotated[str, Meta(min_length=1)] = "break"
    days: list[Weekday] = []
    """Only on these weekdays (left out: every working day)."""


class Shift(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A working day: start (local time), length, weekdays and breaks."""

    start: ClockTime
    hours: Annotated[float, Meta(gt=0, le=24)]
    days: list[Weekday] = msgspec.field(default_factory=lambda: list(WORKDAYS))
    breaks: list[Break] = []
    closed: list[dt.date] = []
    """Dates this shift is not worked (public holidays)."""


class AgentGroup(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``count`` agents alike: ids ``<group>-01`` .. ``<group>-NN``.

    The routing profile (skills .. partner) is that of the engine configuration's agent
    ``like``, if given, with the fields written here replacing its own.
    """

    group: Id
    count: Annotated[int, Meta(ge=1, le=10_000)] = 1
    like: Id | None = None
    name: str | None = None
    skills: dict[str, Proficiency] | None = None
    languages: list[str] | None = None
    tenants: list[str] | None = None
    capacity: dict[Channel, Annotated[int, Meta(ge=0, le=100)]] | None = None
    team: str | None = None
    partner: str | None = None
    shifts: list[str] = []
    """Shift names; agent *i* of the group works ``shifts[i % len(shifts)]``."""
    always_on: bool = False
    """The agents log in when the period starts and never leave (no shifts, no breaks):
    a queue that never loses its staff, as queueing theory assumes."""
    stagger_minutes: Annotated[int, Meta(ge=0, le=12 * 60)] = 0
    """Spread the group's start times over this many minutes (in 15-minute steps)."""
    absence_percent: Percent = 0.0
    """Chance an agent is away (ill, on leave) on a working day."""
    login_jitter_seconds: Annotated[int, Meta(ge=0, le=3600)] = 120
    """Agents log in, take and end breaks up to this much early or late."""
    speed: Annotated[float, Meta(gt=0, le=10)] = 1.0
    """Handle-time factor of the group (1.2: 20 % slower, e.g. new hires)."""
    speed_spread: Annotated[float, Meta(ge=0, le=2)] = 0.1
    """Variation of the factor between agents (coefficient of variation)."""
    reject_percent: Percent = 0.5
    """Offers the agent declines."""
    miss_percent: Percent = 0.3
    """Offers the agent lets ring out (the engine's offer time-out)."""
    recovery: Distribution = msgspec.field(
        default_factory=lambda: Distribution(
            distribution="uniform", min_seconds=20.0, max_seconds=120.0
        )
    )
    """After missing offers in a row (``not_responding``), time until back available."""
    main_channel: Channel | None = None
    """The one channel this group keeps in ``--compare-silos`` (left out: the first live
    channel of its capacity, else the first)."""


class StaffingSettings(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How the forecast table turns the expected volume into agents needed."""

    chat_concurrency: Annotated[float, Meta(ge=1, le=20)] = 2.0
    """Chats an agent handles at once, on average."""
    max_occupancy: Annotated[float, Meta(gt=0, le=1)] = 0.85
    """Deferred work (e-mail, forms): agents = workload ÷ this."""
    shrinkage: Annotated[float, Meta(ge=0, lt=1)] = 0.0
    """Share of paid time lost to breaks, training, absence; agents ÷ (1 - shrinkage)."""
    erlang: Literal["C", "A"] = "C"
    """Erlang C (no abandonment) or Erlang A (with the traffic's mean patience)."""


class ScenarioInfo(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The ``[scenario]`` table: what, when and how random."""

    name: str
    description: str = ""
    start: dt.date
    days: Annotated[int, Meta(ge=1, le=366)] = 28
    timezone: str = "Europe/Helsinki"
    """Local time of shifts, hours and profiles (the provider's time zone)."""
    seed: int = 1
    engine: str | None = None
    """The engine configuration file (TOML), relative to this file; or leave it out and
    write the configuration inline as ``[engine.routing]``, ``[[engine.queues]]`` ...
    tables."""
    tick_seconds: Annotated[int, Meta(ge=0, le=3600)] = 60
    """A clock tick this often, as the live service sends (0: only when a timer is due)."""
    model: Literal["realistic", "textbook"] = "realistic"
    """``textbook`` turns every behaviour queueing theory leaves out off (see
    :func:`textbook`): exponential handle times and patience, no wrap-up, no ring, no
    declines or missed offers, agents alike and always on, no day-to-day noise, UTC."""
    exact: bool = False
    """Use every draw as drawn (effects at least 1 ms after their cause) instead of at
    least 2 s after it; slower. ``model = "textbook"`` implies it."""


class Scenario(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A whole scenario file."""

    scenario: ScenarioInfo
    engine: dict[str, object] | None = None
    """The engine configuration inline: ``[engine.routing]``, ``[[engine.tenants]]``,
    ``[[engine.queues]]`` ... (or ``scenario.engine`` names a file)."""
    channels: dict[Channel, Behaviour] = {}
    """Behaviour defaults per channel (streams may override)."""
    hours: dict[str, Hours] = {}
    profiles: dict[str, Profile] = {}
    shifts: dict[str, Shift] = {}
    agents: list[AgentGroup] = []
    traffic: list[Traffic] = []
    staffing: StaffingSettings = msgspec.field(default_factory=StaffingSettings)


# --------------------------------------------------------------------- defaults

#: What contacts of each channel do when the scenario says nothing.
CHANNEL_DEFAULTS: dict[str, Behaviour] = {
    "voice": Behaviour(
        handle_time=Distribution(mean_seconds=300.0, cv=0.7, min_seconds=20.0),
        wrap_up=Distribution(mean_seconds=40.0, cv=0.6, min_seconds=3.0),
        patience=Distribution(distribution="exponential", mean_seconds=150.0, min_seconds=2.0),
        answer_delay=Distribution(distribution="uniform", min_seconds=2.0, max_seconds=6.0),
        survey=Survey(),
    ),
    "callback": Behaviour(
        handle_time=Distribution(mean_seconds=240.0, cv=0.7, min_seconds=20.0),
        wrap_up=Distribution(mean_seconds=40.0, cv=0.6, min_seconds=3.0),
        answer_delay=Distribution(distribution="uniform", min_seconds=3.0, max_seconds=10.0),
        survey=Survey(),
    ),
    "chat": Behaviour(
        handle_time=Distribution(mean_seconds=480.0, cv=0.8, min_seconds=30.0),
        wrap_up=Distribution(mean_seconds=20.0, cv=0.6, min_seconds=2.0),
        patience=Distribution(distribution="exponential", mean_seconds=120.0, min_seconds=2.0),
        answer_delay=Distribution(distribution="uniform", min_seconds=2.0, max_seconds=5.0),
        survey=Survey(),
    ),
    "email": Behaviour(
        handle_time=Distribution(mean_seconds=360.0, cv=0.8, min_seconds=30.0),
        wrap_up=Distribution(mean_seconds=30.0, cv=0.6, min_seconds=2.0),
        answer_delay=Distribution(distribution="uniform", min_seconds=2.0, max_seconds=10.0),
        survey=Survey(),
    ),
    "web_form": Behaviour(
        handle_time=Distribution(mean_seconds=240.0, cv=0.8, min_seconds=20.0),
        wrap_up=Distribution(mean_seconds=30.0, cv=0.6, min_seconds=2.0),
        answer_delay=Distribution(distribution="uniform", min_seconds=2.0, max_seconds=10.0),
        survey=Survey(),
    ),
    "social": Behaviour(
        handle_time=Distribution(mean_seconds=180.0, cv=0.8, min_seconds=15.0),
        wrap_up=Distribution(mean_seconds=20.0, cv=0.6, min_seconds=2.0),
        answer_delay=Distribution(distribution="uniform", min_seconds=2.0, max_seconds=10.0),
        survey=Survey(),
    ),
}


@dataclass(frozen=True, slots=True)
class Effective:
    """A traffic stream's behaviour after the stream -> channel -> default fallback."""

    handle_time: Distribution
    wrap_up: Distribution
    patience: Distribution | None
    answer_delay: Distribution
    survey: Survey


def effective_behaviour(scn: Scenario, stream: Traffic, channel: str) -> Effective:
    """Resolve a stream's behaviour field by field: stream, ``[channels.X]``, default."""
    chan = scn.channels.get(channel, Behaviour())  # type: ignore[call-overload]
    base = CHANNEL_DEFAULTS[channel]

    def pick(name: str) -> object:
        for layer in (stream, chan, base):
            value = getattr(layer, name)
            if value is not None:
                return value
        return None

    handle = pick("handle_time")
    wrap = pick("wrap_up")
    answer = pick("answer_delay")
    survey = pick("survey")
    patience = pick("patience")
    assert isinstance(handle, Distribution) and isinstance(wrap, Distribution)
    assert isinstance(answer, Distribution) and isinstance(survey, Survey)
    assert patience is None or isinstance(patience, Distribution)
    if patience is not None and patience.distribution == "never":
        patience = None
    return Effective(handle, wrap, patience, answer, survey)


def _exponential(d: Distribution | None) -> Distribution | None:
    """The exponential distribution of ``d``'s mean, unclamped (None, never: as given)."""
    if d is None or d.distribution == "never":
        return d
    return Distribution(distribution="exponential", mean_seconds=d.mean)


_NONE = Distribution(distribution="fixed", mean_seconds=0.0)


def textbook(scn: Scenario, engine: Config) -> Scenario:
    """``model = "textbook"``: the scenario with every behaviour that queueing theory
    (Erlang C, Erlang A) leaves out turned off, so the simulator can be checked against
    the formulas and a provider can see what the formulas assume.

    Handle times and patience become exponential with the means the scenario gives (no
    clamping); wrap-up and the ring before an accept become zero; agents never decline
    or miss an offer, work at the group's speed with no spread, are never absent, and
    are always on (no shifts, so no shift change empties the line); volumes have no
    day-to-day noise; local time is UTC (no daylight-saving days of 23 or 25 hours).
    Intraday profiles, service hours and callbacks stay as written: they are the
    scenario's traffic, not behaviour.
    """
    queues = {q.id: q for q in engine.queues}
    traffic: list[Traffic] = []
    for t in scn.traffic:
        q = queues.get(t.queue)
        channel = t.channel or (q.channels[0] if q is not None else "voice")
        eff = effective_behaviour(scn, t, channel)
        traffic.append(
            msgspec.structs.replace(
                t,
                handle_time=_exponential(eff.handle_time),
                wrap_up=_NONE,
                patience=_exponential(eff.patience) or Distribution(distribution="never"),
                answer_delay=_NONE,
                noise=0.0,
            )
        )
    agents = [
        msgspec.structs.replace(
            g,
            always_on=True,
            speed_spread=0.0,
            reject_percent=0.0,
            miss_percent=0.0,
            absence_percent=0.0,
            login_jitter_seconds=0,
        )
        for g in scn.agents
    ]
    info = msgspec.structs.replace(scn.scenario, timezone="UTC", exact=True)
    return msgspec.structs.replace(scn, scenario=info, traffic=traffic, agents=agents)


# --------------------------------------------------------------------- loading


@dataclass(slots=True)
class ForecastRow:
    """One interval of a forecast file: local start and contacts offered."""

    start: dt.datetime
    offered: float


@dataclass(slots=True)
class LoadedScenario:
    """A validated scenario with its engine configuration and forecast files read."""

    scenario: Scenario
    engine: Config
    """The engine configuration as written (its agents serve as ``like`` templates)."""
    source: str
    """Where it came from, for messages."""
    forecasts: dict[int, list[ForecastRow]] = field(default_factory=dict)
    """Forecast file rows by traffic stream index."""
    zone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))

    @property
    def info(self) -> ScenarioInfo:
        return self.scenario.scenario

    def stream_channel(self, i: int) -> str:
        """The channel of traffic stream ``i`` (its own, else its queue's first)."""
        t = self.scenario.traffic[i]
        return t.channel or self.engine.queue(t.queue).channels[0]


def load_scenario(path: str | Path | Traversable) -> LoadedScenario:
    """Read and validate a scenario file; referenced files are relative to it."""
    p = path if not isinstance(path, str) else Path(path)
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise ScenarioError(f"{name}: file not found") from None
    return scenario_from_text(text, source=name, base=_parent(p))


def _parent(p: Path | Traversable) -> Path | Traversable:
    if isinstance(p, Path):
        return p.parent
    # A Traversable has no parent. Package data is installed as plain files (wheels are
    # unpacked, not imported from a zip), so its string form is a real path.
    return Path(str(p)).parent


def scenario_from_text(
    text: str, *, source: str = "<scenario>", base: Path | Traversable | None = None
) -> LoadedScenario:
    """Validate a scenario given as TOML text; ``base`` resolves referenced files."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    return scenario_from_dict(raw, source=source, base=base)


def _fail(source: str, key: str, msg: str) -> ScenarioError:
    return ScenarioError(f"{source}: {key}: {msg}")


def _validation_error(source: str, prefix: str, exc: msgspec.ValidationError) -> ScenarioError:
    """msgspec's "msg - at `$.a.b`" as "source: prefix.a.b: msg", the key people read."""
    text = str(exc)
    m = _AT.match(text)
    if m is None:
        return ScenarioError(f"{source}: {prefix or '(top level)'}: {text}")
    msg, as_key, path = m.group(1), m.group(2), m.group(3)
    if as_key:
        msg += " (a key)"
    unknown = UNKNOWN_FIELD.fullmatch(msg)
    if unknown:
        table = _NAMED_TABLES.get(prefix.partition(".")[0]) if prefix else None
        msg = unknown_key_message(table or Scenario, path, unknown.group(1))
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
    key = ".".join(p for p in (prefix, path) if p).replace(".[", "[")
    return _fail(source, key or "(top level)", msg)


# Tables of named entries: msgspec shows a bad entry's key as "[...]", so these are
# checked entry by entry first, to name it ("shifts.late.breaks[0].minutes").
_NAMED_TABLES: dict[str, type[Struct]] = {
    "hours": Hours,
    "profiles": Profile,
    "shifts": Shift,
    "channels": Behaviour,
}


def scenario_from_dict(
    raw: dict[str, object], *, source: str = "<scenario>", base: Path | Traversable | None = None
) -> LoadedScenario:
    """Validate a scenario given as plain data (as parsed from TOML)."""
    if "scenario" not in raw and ENGINE_TABLES & raw.keys():
        raise ScenarioError(
            f"{source}: this is a routing engine configuration, not a scenario file; a "
            "scenario has a [scenario] table and names its engine configuration with "
            "scenario.engine (see examples/nordic_bpo/scenario.toml and docs/simulation.md)"
        )
    for section, typ in _NAMED_TABLES.items():
        entries = raw.get(section)
        if isinstance(entries, dict):
            for name, entry in entries.items():
                try:
                    msgspec.convert(entry, typ)
                except msgspec.ValidationError as exc:
                    raise _validation_error(source, f"{section}.{name}", exc) from None
    try:
        scn = msgspec.convert(raw, Scenario)
    except msgspec.ValidationError as exc:
        raise _validation_error(source, "", exc) from None
    engine = _load_engine(scn, source, base)
    if scn.scenario.model == "textbook":
        scn = textbook(scn, engine)
    loaded = LoadedScenario(scenario=scn, engine=engine, source=source)
    try:
        loaded.zone = zoneinfo.ZoneInfo(scn.scenario.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _fail(
            source, "scenario.timezone", f"unknown time zone {scn.scenario.timezone!r}"
        ) from None
    _check(loaded)
    for i, t in enumerate(scn.traffic):
        if t.forecast is not None:
            loaded.forecasts[i] = _read_forecast(
                t.forecast, base, source, f"traffic[{i}].forecast", loaded.zone
            )
    return loaded


def _load_engine(scn: Scenario, source: str, base: Path | Traversable | None) -> Config:
    ref = scn.scenario.engine
    if ref is not None and scn.engine is not None:
        raise _fail(source, "engine", "give [engine] tables or scenario.engine, not both")
    if ref is None and scn.engine is None:
        raise _fail(
            source,
            "scenario.engine",
            "name the engine configuration file, or write [engine] tables in this file",
        )
    if ref is not None:
        target = (base or Path(".")).joinpath(ref)
        try:
            text = target.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            raise _fail(
                source, "scenario.engine", f"engine configuration {ref!r} not found"
            ) from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{target}: not valid TOML: {exc}") from None
        return config_from_dict(raw, source=str(target))
    inner = f"{source} [engine]"
    try:
        return config_from_dict(scn.engine or {}, source=inner)
    except ConfigError as exc:
        msg = str(exc)
        # Say "scenario.toml: engine.queues[1].tenant", the key as written in this file.
        if msg.startswith(inner + ": "):
            rest = msg[len(inner) + 2 :]
            named = _NAMED_ENTRY.match(rest)  # "queue 'x' (queues[1].tenant): ..."
            rest = f"{named.group(1)}engine.{named.group(2)}" if named else f"engine.{rest}"
            msg = f"{source}: {rest}"
        raise ScenarioError(msg) from None


def parse_ranges(text: str) -> list[tuple[int, int]]:
    """``"08:00-12:00, 13:00-16:00"`` -> minute ranges ``[(480, 720), (780, 960)]``."""
    out: list[tuple[int, int]] = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if m is None:
            raise ValueError(f"{part.strip()!r} is not a range like '08:00-16:00'")
        lo = int(m.group(1)) * 60 + int(m.group(2))
        hi = 1440 if m.group(3) == "24:00" else int(m.group(4)) * 60 + int(m.group(5))
        if hi <= lo:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        out.append((lo, hi))
    return sorted(out)


def _check(ld: LoadedScenario) -> None:
    """Cross-references and value rules msgspec cannot express."""
    scn, cfg, src = ld.scenario, ld.engine, ld.source

    def fail(key: str, msg: str) -> ScenarioError:
        return _fail(src, key, msg)

    def names(d: Mapping[str, object]) -> str:
        return ", ".join(sorted(d)) or "none"

    def check_dist(key: str, d: Distribution | None, *, never: bool = False) -> None:
        if d is None:
            return
        if d.distribution == "never":
            if not never:
                raise fail(f"{key}.distribution", "'never' is only for patience")
            return
        if d.distribution == "uniform":
            if d.max_seconds is None:
                raise fail(f"{key}.max_seconds", "a uniform distribution needs max_seconds")
        elif d.mean_seconds is None:
            raise fail(f"{key}.mean_seconds", f"a {d.distribution} distribution needs it")
        if d.max_seconds is not None and d.max_seconds < d.min_seconds:
            raise fail(f"{key}.max_seconds", "is below min_seconds")

    def check_behaviour(key: str, b: Behaviour) -> None:
        for fname in ("handle_time", "wrap_up", "patience", "answer_delay"):
            check_dist(f"{key}.{fname}", getattr(b, fname), never=fname == "patience")
        if b.survey is not None:
            check_dist(f"{key}.survey.delay", b.survey.delay)
            for wname in ("csat_weights", "nps_weights", "ces_weights"):
                w = getattr(b.survey, wname)
                if w is not None and sum(w) <= 0:
                    raise fail(f"{key}.survey.{wname}", "needs at least one positive weight")

    for ch, beh in scn.channels.items():
        check_behaviour(f"channels.{ch}", beh)
    for name, h in scn.hours.items():
        for day in WEEKDAYS:
            text = getattr(h, day)
            if text is not None:
                try:
                    parse_ranges(text)
                except ValueError as exc:
                    raise fail(f"hours.{name}.{day}", str(exc)) from None
    for name, p in scn.profiles.items():
        for key, w in [("weights", p.weights)] + [
            (f"weekdays.{d}", v) for d, v in p.weekdays.items()
        ]:
            if len(w) not in (24, 96):
                raise fail(
                    f"profiles.{name}.{key}", f"needs 24 (hourly) or 96 weights, not {len(w)}"
                )
    for name, s in scn.shifts.items():
        length = int(s.hours * 60)
        for j, b in enumerate(s.breaks):
            if b.after_minutes + b.minutes > length:
                raise fail(f"shifts.{name}.breaks[{j}]", "ends after the shift")

    queues = {q.id: q for q in cfg.queues}
    tenants = {t.id for t in cfg.tenants}
    for i, t in enumerate(scn.traffic):
        key = f"traffic[{i}]"
        q = queues.get(t.queue)
        if q is None:
            raise fail(f"{key}.queue", f"unknown queue {t.queue!r}; defined: {names(queues)}")
        if t.channel is not None and t.channel not in q.channels:
            raise fail(f"{key}.channel", f"queue {q.id!r} does not serve {t.channel!r}")
        if t.forecast is None and not t.per_day and t.per_day != 0:
            raise fail(key, "give per_day volumes or a forecast file")
        if t.forecast is not None and t.per_day:
            raise fail(f"{key}.forecast", "give either per_day volumes or a forecast, not both")
        if t.profile is not None and t.profile not in scn.profiles:
            raise fail(
                f"{key}.profile", f"unknown profile {t.profile!r}; defined: {names(scn.profiles)}"
            )
        if t.hours is not None and t.hours not in scn.hours:
            raise fail(f"{key}.hours", f"unknown hours {t.hours!r}; defined: {names(scn.hours)}")
        for d in t.day_of_month:
            if not d.isdigit() or not 1 <= int(d) <= 31:
                raise fail(f"{key}.day_of_month", f"{d!r} is not a day of the month 1-31")
        for mix in ("languages", "topics", "pages"):
            weights: dict[str, float] = getattr(t, mix)
            if weights and sum(weights.values()) <= 0:
                raise fail(f"{key}.{mix}", "needs at least one positive weight")
        if t.callback_percent > 0:
            if t.callback_queue is None:
                raise fail(f"{key}.callback_queue", "callback_percent > 0 needs a callback queue")
            cq = queues.get(t.callback_queue)
            if cq is None:
                raise fail(f"{key}.callback_queue", f"unknown queue {t.callback_queue!r}")
            if "callback" not in cq.channels:
                raise fail(f"{key}.callback_queue", f"queue {cq.id!r} does not serve 'callback'")
            if cq.tenant != q.tenant:
                raise fail(f"{key}.callback_queue", f"queue {cq.id!r} is another tenant's")
        if t.callback_request_percent > 0 and "callback" not in q.channels:
            raise fail(
                f"{key}.callback_request_percent",
                f"queue {q.id!r} does not serve 'callback'; add it to the queue's channels",
            )
        check_dist(f"{key}.callback_request_after", t.callback_request_after)
        check_dist(f"{key}.callback_dial", t.callback_dial)
        check_behaviour(key, t)

    templates = {a.id for a in cfg.agents}
    groups: set[str] = set()
    for i, g in enumerate(scn.agents):
        key = f"agents[{i}]"
        if g.group in groups:
            raise fail(f"{key}.group", f"group {g.group!r} is defined twice")
        groups.add(g.group)
        if g.like is not None and g.like not in templates:
            raise fail(
                f"{key}.like",
                f"no agent {g.like!r} in the engine configuration; defined: "
                + (", ".join(sorted(templates)) or "none"),
            )
        if not g.shifts and not g.always_on:
            raise fail(f"{key}.shifts", "name the group's shifts, or set always_on = true")
        for shift_name in g.shifts:
            if shift_name not in scn.shifts:
                raise fail(
                    f"{key}.shifts",
                    f"unknown shift {shift_name!r}; defined: {names(scn.shifts)}",
                )
        for t_id in g.tenants or []:
            if t_id != "*" and t_id not in tenants:
                raise fail(f"{key}.tenants", f"unknown tenant {t_id!r}")
        if g.reject_percent + g.miss_percent > 100:
            raise fail(f"{key}.miss_percent", "reject_percent + miss_percent exceed 100")
        check_dist(f"{key}.recovery", g.recovery)
    # Generated ids must not collide across groups (group "a" with 100 agents and "a-1").
    seen: dict[str, str] = {}
    for i, g in enumerate(scn.agents):
        for n in range(1, g.count + 1):
            aid = agent_id(g, n)
            if aid in seen:
                raise fail(
                    f"agents[{i}].group", f"agent id {aid!r} also made by group {seen[aid]!r}"
                )
            seen[aid] = g.group


def agent_id(group: AgentGroup, n: int) -> str:
    """The id of the ``n``-th agent (1-based) of a group: ``energy-fi-07``."""
    width = max(2, len(str(group.count)))
    return f"{group.group}-{n:0{width}d}"


def _read_forecast(
    ref: str, base: Path | Traversable | None, source: str, key: str, zone: zoneinfo.ZoneInfo
) -> list[ForecastRow]:
    """A client's forecast file, in the format ``ccroute staffing --forecast`` reads."""
    from ccroute.staffing import ForecastError, read_forecast

    target = Path(str((base or Path(".")).joinpath(ref)))
    try:
        raw = read_forecast(target)
    except ForecastError as exc:
        raise _fail(source, key, str(exc)) from None
    rows: list[ForecastRow] = []
    for r in raw:
        try:
            start = dt.datetime.fromisoformat(r.interval_start)
        except ValueError:
            raise _fail(
                source,
                key,
                f"{ref}: line {r.line}: a scenario needs dates, not {r.interval_start!r}",
            ) from None
        if start.tzinfo is not None:
            start = start.astimezone(zone)
        rows.append(ForecastRow(start.replace(tzinfo=None), r.offered))
    return rows
