"""The msgspec schema (python/ccroute/events.py) and the Rust decoder accept the same inputs.

Producers validate with the published schema (``ccroute schema``); the engine decodes
with its own Rust structs. If the two drifted apart, a producer could send an input the
schema calls valid and see it rejected as ``malformed`` in production, or the other way
round. These tests generate valid inputs from the msgspec structs and require the core to
decode every one, in JSON and MessagePack; they violate each constraint once and require
both sides to refuse; and they check that every decision the core writes is a valid
msgspec ``Decision`` that re-encodes to the same object.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import Engine
from ccroute.config import config_from_dict
from ccroute.events import (
    CHANNELS,
    DECISION_TYPES,
    INPUT_TYPES,
    MAX_TS,
    SCHEMA_VERSION,
    AgentLoggedIn,
    AgentLoggedOut,
    AgentProfileChanged,
    AgentStateChanged,
    CallbackRequested,
    CallbackResult,
    ClockTick,
    ContactAbandoned,
    ContactArrived,
    ContactCompleted,
    ContactTransferred,
    ContactUpdated,
    Decision,
    InputRejected,
    OfferAccepted,
    OfferRejected,
    QueueEmergency,
    SkillRequirement,
    SurveyAnswered,
    WrapUpFinished,
    decode_input,
    json_schema,
)

CONFIG = config_from_dict(
    {
        "tenants": [{"id": "energia"}, {"id": "kauppa"}],
        "queues": [
            {
                "id": "energia.service",
                "tenant": "energia",
                "channels": ["voice", "email", "callback"],
                "wrap_up_seconds": 30,
                "interruptible": True,
            },
            {"id": "energia.backup", "tenant": "energia", "channels": ["voice", "callback"]},
            {"id": "kauppa.chat", "tenant": "kauppa", "channels": ["chat"]},
            {
                "id": "kauppa.email",
                "tenant": "kauppa",
                "channels": ["email"],
                "steps": [{"after_seconds": 60, "language": False}],
            },
        ],
        "agents": [
            {"id": "aino", "languages": ["fi"], "capacity": {"voice": 1, "email": 1, "chat": 2}},
            {"id": "bo", "tenants": ["energia"], "capacity": {"voice": 1, "callback": 1}},
        ],
        "routing": {"offer_timeout_seconds": 20, "max_missed_offers": 2},
    }
)

FORMATS = ("json", "msgpack")


def encode(payload: Any, fmt: str) -> bytes:
    return msgspec.json.encode(payload) if fmt == "json" else msgspec.msgpack.encode(payload)


def is_malformed(ds: list[Decision]) -> bool:
    return any(isinstance(d, InputRejected) and d.code == "malformed" for d in ds)


# ------------------------------------------------------------------------------ strategies

# Ids: short ones, and ones at the 200-character limit, from all of Unicode (the core
# counts characters, not bytes, as msgspec does).
ids = st.text(min_size=1, max_size=12) | st.text(min_size=195, max_size=200)
texts = st.text(max_size=20)
opt_texts = st.none() | texts
tag_lists = st.lists(texts, max_size=3)
priorities = st.integers(-1000, 1000)
proficiencies = st.integers(1, 10)
channels = st.sampled_from(CHANNELS)
opt_bools = st.none() | st.booleans()

FIELDS: dict[type[Any], dict[str, st.SearchStrategy[Any]]] = {
    ContactArrived: {
        # Mostly the configured names, so many inputs get past decoding into the rules.
        "tenant": st.sampled_from(["energia", "kauppa"]) | ids,
        "contact": ids,
        "queue": st.sampled_from(["energia.service", "kauppa.chat"]) | ids,
        "channel": channels,
        "priority": priorities,
        "language": opt_texts,
        "skills": st.lists(st.builds(SkillRequirement, skill=ids, min=proficiencies), max_size=3),
        "customer": opt_texts,
        "page": opt_texts,
        "attributes": st.dictionaries(texts, texts, max_size=3),
        "tags": tag_lists,
    },
    ContactAbandoned: {"tenant": ids, "contact": ids},
    ContactUpdated: {
        "tenant": ids,
        "contact": ids,
        "priority": st.none() | priorities,
        "tags": st.none() | tag_lists,
    },
    OfferAccepted: {"tenant": ids, "contact": ids, "agent": ids},
    OfferRejected: {"tenant": ids, "contact": ids, "agent": ids, "reason": opt_texts},
    ContactCompleted: {
        "tenant": ids,
        "contact": ids,
        "agent": ids,
        "wrap_up_code": opt_texts,
        "tags": tag_lists,
        "resolved": opt_bools,
    },
    WrapUpFinished: {"tenant": ids, "contact": ids, "agent": ids},
    ContactTransferred: {
        "tenant": ids,
        "contact": ids,
        "agent": ids,
        "to_queue": st.none() | ids,
        "to_agent": st.none() | ids,
        "handoff": st.none() | ids,
    },
    AgentLoggedIn: {
        "agent": st.sampled_from(["aino", "bo"]) | ids,
        "state": st.sampled_from(["available", "paused"]),
        "reason": opt_texts,
    },
    AgentLoggedOut: {"agent": ids},
    AgentStateChanged: {
        "agent": ids,
        "state": st.sampled_from(["available", "paused", "offline"]),
        "reason": opt_texts,
    },
    AgentProfileChanged: {
        "agent": ids,
        "skills": st.none() | st.dictionaries(texts, proficiencies, max_size=3),
        "languages": st.none() | tag_lists,
        "tenants": st.none() | st.lists(st.sampled_from(["*", "energia", "kauppa"]) | texts),
        "capacity": st.none() | st.dictionaries(channels, st.integers(0, 100)),
    },
    SurveyAnswered: {
        "tenant": ids,
        "contact": ids,
        "csat": st.none() | st.integers(1, 5),
        "nps": st.none() | st.integers(0, 10),
        "ces": st.none() | st.integers(1, 7),
        "solved": opt_bools,
    },
    CallbackRequested: {"tenant": ids, "contact": ids},
    CallbackResult: {
        "tenant": ids,
        "contact": ids,
        "agent": ids,
        "outcome": st.sampled_from(["reached", "no_answer", "busy"]),
    },
    QueueEmergency: {
        "tenant": st.sampled_from(["energia", "kauppa"]) | ids,
        "queue": st.sampled_from(["energia.service", "kauppa.chat", "kauppa.email"]) | ids,
        "mode": st.sampled_from(["close", "reroute", "off"]),
        "to_queue": st.none() | st.sampled_from(["kauppa.chat", "kauppa.email"]) | ids,
        "announcement": opt_texts,
    },
    ClockTick: {},
}

ENVELOPE = {"id", "ts", "v"}


def test_strategies_cover_every_input_and_field() -> None:
    # A field added to events.py without a strategy here would go untested: fail instead.
    assert set(FIELDS) == set(INPUT_TYPES)
    for cls, fields in FIELDS.items():
        names = {f.name for f in msgspec.structs.fields(cls)} - ENVELOPE
        assert names == set(fields), cls.__name__


def input_of(cls: type[Any], ts: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.builds(cls, id=ids, ts=ts, **FIELDS[cls])


# For decoding, ts over the whole range both sides represent (the core's clock is an i64).
inputs = st.one_of([input_of(cls, st.integers(0, MAX_TS)) for cls in INPUT_TYPES])
# For running the engine, times within a few hours, so timers meet inputs.
DAY_START = 1_767_225_600_000
timed_inputs = st.one_of(
    [input_of(cls, st.integers(DAY_START, DAY_START + 4 * 3_600_000)) for cls in INPUT_TYPES]
)


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid input as a producer might write it: optional fields left out, keys in any order."""
    event = draw(inputs)
    data: dict[str, Any] = msgspec.to_builtins(event)
    optional = sorted(f.encode_name for f in msgspec.structs.fields(type(event)) if not f.required)
    for key in draw(st.sets(st.sampled_from(optional))) if optional else ():
        del data[key]
    keys = list(data)
    if draw(st.booleans()):
        # Anything but `type` first takes the core's buffered path: cover it too.
        keys = draw(st.permutations(keys))
    return {k: data[k] for k in keys}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads())
def test_the_core_decodes_every_input_the_schema_accepts(payload: dict[str, Any]) -> None:
    for fmt in FORMATS:
        raw = encode(payload, fmt)
        decode_input(raw, format=fmt)  # type: ignore[arg-type]  # valid by construction
        ds = Engine(CONFIG).apply_raw(raw, format=fmt)  # type: ignore[arg-type]
        # The rules may still refuse it (unknown agent ...), but never as undecodable.
        assert not is_malformed(ds), (fmt, payload, ds)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(timed_inputs, min_size=1, max_size=20))
def test_struct_path_and_wire_path_agree(events: list[Any]) -> None:
    # Engine.apply (msgspec structs -> MessagePack) and apply_raw (JSON from the wire)
    # must be the same engine: same decisions for the same inputs.
    by_struct, by_wire = Engine(CONFIG), Engine(CONFIG)
    for e in events:
        assert by_struct.apply(e) == by_wire.apply_raw(msgspec.json.encode(e))


# -------------------------------------------------------------------------- invalid inputs


def arrival(**override: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "contact_arrived",
        "id": "x1",
        "ts": 1000,
        "tenant": "energia",
        "contact": "c-1",
        "queue": "energia.service",
        "channel": "voice",
    }
    base.update(override)
    return base


def without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


PROFILE = {"type": "agent_profile_changed", "id": "x1", "ts": 1000, "agent": "aino"}
SURVEY = {"type": "survey_answered", "id": "x1", "ts": 1000, "tenant": "energia", "contact": "c"}
UPDATE = {"type": "contact_updated", "id": "x1", "ts": 1000, "tenant": "energia", "contact": "c"}
TICK = {"type": "clock_tick", "id": "x1", "ts": 1000}

INVALID: dict[str, dict[str, Any]] = {
    "priority 1001": arrival(priority=1001),
    "priority -1001": arrival(priority=-1001),
    "updated priority 1001": {**UPDATE, "priority": 1001},
    "skill min 0": arrival(skills=[{"skill": "billing", "min": 0}]),
    "skill min 11": arrival(skills=[{"skill": "billing", "min": 11}]),
    "empty skill name": arrival(skills=[{"skill": "", "min": 3}]),
    "unknown field in a skill": arrival(skills=[{"skill": "billing", "level": 3}]),
    "empty id": arrival(id=""),
    "id of 201 characters": arrival(id="x" * 201),
    "empty tenant": arrival(tenant=""),
    "contact of 201 characters": arrival(contact="ä" * 201),
    "profile skill 0": {**PROFILE, "skills": {"billing": 0}},
    "profile skill 11": {**PROFILE, "skills": {"billing": 11}},
    "capacity 101": {**PROFILE, "capacity": {"chat": 101}},
    "capacity -1": {**PROFILE, "capacity": {"chat": -1}},
    "capacity of an unknown channel": {**PROFILE, "capacity": {"fax": 1}},
    "csat 6": {**SURVEY, "csat": 6},
    "csat 0": {**SURVEY, "csat": 0},
    "nps 11": {**SURVEY, "nps": 11},
    "nps -1": {**SURVEY, "nps": -1},
    "ces 0": {**SURVEY, "ces": 0},
    "ces 8": {**SURVEY, "ces": 8},
    "negative ts": {**TICK, "ts": -1},
    "unknown channel": arrival(channel="fax"),
    "unknown field": {**TICK, "tick_rate": 1},
    "missing required field": without(arrival(), "queue"),
    "missing id": without(TICK, "id"),
    "missing ts": without(TICK, "ts"),
    "missing type": without(TICK, "type"),
    "unknown type": {**TICK, "type": "contact_teleported"},
    "ts as a string": {**TICK, "ts": "1000"},
    "ts as a float": {**TICK, "ts": 1000.5},
    "priority as a bool": arrival(priority=True),
    "tags as a string": arrival(tags="vip"),
    "tags null": arrival(tags=None),
    "attribute value not a string": arrival(attributes={"ani": 358}),
    "solved as a string": {**SURVEY, "solved": "yes"},
    "login state offline": {**TICK, "type": "agent_logged_in", "agent": "aino", "state": "offline"},
    "state busy": {**TICK, "type": "agent_state_changed", "agent": "aino", "state": "busy"},
    "not an object": [1, 2, 3],  # type: ignore[dict-item]
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(INVALID))
def test_both_sides_refuse_each_violated_constraint(case: str, fmt: str) -> None:
    raw = encode(INVALID[case], fmt)
    with pytest.raises(msgspec.ValidationError):
        decode_input(raw, format=fmt)  # type: ignore[arg-type]
    engine = Engine(CONFIG)
    ds = engine.apply_raw(raw, format=fmt)  # type: ignore[arg-type]
    assert len(ds) == 1 and is_malformed(ds), ds
    # A refused input is not half-applied: the engine stays at its start.
    assert engine.clock_ms == 0
    assert engine.stats()["open_contacts"] == 0


def _deep(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels - 2):
        value = [value]
    return value


# Bytes both sides must refuse before reading any field (ccroute.limits; docs/events.md).
BROKEN_BYTES: dict[str, tuple[bytes, str]] = {
    "MessagePack followed by junk": (msgspec.msgpack.encode(TICK) + b"\xc3junk", "msgpack"),
    "MessagePack followed by a second input": (msgspec.msgpack.encode(TICK) * 2, "msgpack"),
    "truncated MessagePack": (msgspec.msgpack.encode(TICK)[:-1], "msgpack"),
    "JSON followed by junk": (msgspec.json.encode(TICK) + b"junk", "json"),
    "JSON nested past max_depth": (msgspec.json.encode({**TICK, "x": _deep(9)}), "json"),
    "MessagePack nested past max_depth": (
        msgspec.msgpack.encode({**TICK, "x": _deep(9)}),
        "msgpack",
    ),
    "a string past max_string_bytes": (msgspec.json.encode({**TICK, "x": "s" * 4097}), "json"),
    "a list past max_items": (msgspec.msgpack.encode({**TICK, "x": [0] * 1001}), "msgpack"),
    "an input past max_input_bytes": (
        msgspec.json.encode({**TICK, "x": ["s" * 4000] * 17}),
        "json",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_BYTES))
def test_both_sides_refuse_the_same_broken_bytes(case: str) -> None:
    raw, fmt = BROKEN_BYTES[case]
    with pytest.raises(msgspec.DecodeError):
        decode_input(raw, format=fmt)  # type: ignore[arg-type]
    engine = Engine(CONFIG)
    ds = engine.apply_raw(raw, format=fmt)  # type: ignore[arg-type]
    assert len(ds) == 1 and is_malformed(ds), ds
    assert engine.clock_ms == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("ts", 2**63), ("v", 2**63), ("ts", 253_402_300_800_000), ("v", 65_536), ("v", -1)],
)
def test_both_sides_agree_on_integers_at_the_bounds(field: str, value: int) -> None:
    # Times end with the year 9999 and versions are small: both sides draw the same line.
    payload = {**TICK, field: value}
    try:
        decode_input(msgspec.json.encode(payload))
        schema_accepts = True
    except msgspec.ValidationError:
        schema_accepts = False
    core_accepts = not is_malformed(Engine(CONFIG).apply_raw(msgspec.json.encode(payload)))
    assert schema_accepts == core_accepts


def test_schema_names_the_version_and_both_unions() -> None:
    schema = json_schema()
    assert schema["version"] == SCHEMA_VERSION == 1
    inputs_union = schema["input"]["discriminator"]["mapping"]  # type: ignore[index]
    decisions_union = schema["decision"]["discriminator"]["mapping"]  # type: ignore[index]
    assert set(inputs_union) == {c.__struct_config__.tag for c in INPUT_TYPES}
    assert set(decisions_union) == {c.__struct_config__.tag for c in DECISION_TYPES}


# ------------------------------------------------------------------------------ decisions

T0 = 1_767_261_600_000


def _e(kind: str, n: int, s: float, **fields: Any) -> bytes:
    return msgspec.json.encode({"type": kind, "id": f"e{n}", "ts": T0 + int(s * 1000), **fields})


E = {"tenant": "energia"}
K = {"tenant": "kauppa"}

# A short day that makes every kind of decision at least once.
VARIED_DAY = [
    _e("agent_logged_in", 1, 0, agent="aino"),
    _e("contact_arrived", 2, 1, **E, contact="m1", queue="energia.service", channel="email"),
    _e("offer_accepted", 3, 2, **E, contact="m1", agent="aino"),
    _e("contact_arrived", 4, 3, **E, contact="v1", queue="energia.service", channel="voice"),
    _e("offer_accepted", 5, 4, **E, contact="v1", agent="aino"),  # interrupts m1
    _e("contact_arrived", 6, 5, **E, contact="v2", queue="energia.service", channel="voice"),
    _e("contact_completed", 7, 30, **E, contact="v1", agent="aino", resolved=True),
    _e("wrap_up_finished", 8, 40, **E, contact="v1", agent="aino"),  # resumes m1, offers v2
    _e("offer_rejected", 9, 41, **E, contact="v2", agent="aino"),
    _e("agent_logged_in", 10, 42, agent="bo"),
    _e("clock_tick", 11, 100),  # bo misses v2
    _e("contact_abandoned", 12, 101, **E, contact="v2"),
    _e("contact_arrived", 13, 102, **K, contact="c1", queue="kauppa.chat", channel="chat"),
    _e("agent_state_changed", 14, 103, agent="aino", state="paused", reason="lunch"),
    _e("agent_state_changed", 15, 104, agent="aino", state="available"),
    _e("contact_arrived", 16, 105, **K, contact="c2", queue="kauppa.chat", channel="chat"),
    _e("clock_tick", 17, 200),  # aino misses both chats: not responding
    _e("survey_answered", 18, 201, **E, contact="v1", csat=4, nps=8),
    _e("offer_accepted", 19, 202, **E, contact="nobody", agent="aino"),  # rejected
    _e(
        "contact_arrived",
        20,
        203,
        **K,
        contact="m9",
        queue="kauppa.email",
        channel="email",
        language="de",
    ),
    _e("clock_tick", 21, 300),  # nobody speaks German: the step drops the language
    _e("agent_state_changed", 22, 301, agent="bo", state="available"),
    _e("contact_arrived", 23, 302, **E, contact="v9", queue="energia.service", channel="voice"),
    _e("offer_accepted", 24, 303, **E, contact="v9", agent="bo"),
    _e("contact_transferred", 25, 304, **E, contact="v9", agent="bo", handoff="sales"),
    _e("contact_arrived", 26, 305, **E, contact="v10", queue="energia.service", channel="voice"),
    _e("callback_requested", 27, 306, **E, contact="v10"),  # revoked from bo, offered back
    _e("offer_accepted", 28, 307, **E, contact="v10", agent="bo"),
    _e("callback_result", 29, 308, **E, contact="v10", agent="bo", outcome="no_answer"),
    _e(
        "queue_emergency",
        30,
        309,
        **E,
        queue="energia.service",
        mode="reroute",
        to_queue="energia.backup",
    ),  # the parked callback moves
    b"not json",
]


def test_varied_day_makes_every_kind_of_decision() -> None:
    made = set()
    for out in Engine(CONFIG).apply_raw_many(VARIED_DAY, format="json"):
        made |= {d["type"] for d in json.loads(out)}
    assert made == {c.__struct_config__.tag for c in DECISION_TYPES}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_decision_round_trips_through_msgspec(fmt: str) -> None:
    typed = msgspec.json.Decoder(list[Decision]) if fmt == "json" else None
    payloads_ = VARIED_DAY if fmt == "json" else [_to_msgpack(p) for p in VARIED_DAY]
    for out in Engine(CONFIG).apply_raw_many(payloads_, format=fmt):  # type: ignore[arg-type]
        if fmt == "json":
            assert typed is not None
            decisions = typed.decode(out)
            again = msgspec.json.encode(decisions)
            # msgspec writes a decision's `id`, `ts`, `cause` after its own fields, the core
            # before them: the same object, in another key order. Compare objects.
            assert json.loads(again) == json.loads(out)
        else:
            decisions = msgspec.msgpack.decode(out, type=list[Decision])
            again = msgspec.msgpack.encode(decisions)
            assert msgspec.msgpack.decode(again) == msgspec.msgpack.decode(out)


def _to_msgpack(payload: bytes) -> bytes:
    try:
        return msgspec.msgpack.encode(json.loads(payload))
    except json.JSONDecodeError:
        return b"\xc1"  # the malformed line stays malformed in MessagePack
