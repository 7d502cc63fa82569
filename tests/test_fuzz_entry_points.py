"""Property tests of every entry point that takes bytes: hostile payloads never crash and
are always refused for a specific reason, the same on the schema side and in the core.

Hostile means: nested deep (at and past ``MAX_DEPTH``, up to thousands of levels), huge or
over-long fields, wide lists, truncated, followed by junk, fields of the wrong type, an
unknown or missing tag, random bytes. The entry points: ``Engine.apply_raw``,
``apply_raw_many``, ``apply_encoded_batch``, ``replay_jsonl`` (and ``ccroute replay`` on a
hostile file), ``Engine.restore``, ``ccroute.events.decode_input`` and the service's head
check. The Rust side has its own fuzz runner (router_core/tests/hostile, ``make fuzz``).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from ccroute import Engine, _core
from ccroute.config import config_from_dict
from ccroute.events import INPUT_TYPES, Decision, InputRejected, decode_input
from ccroute.limits import MAX_DEPTH, MAX_INPUT_BYTES, MAX_ITEMS, MAX_STRING_BYTES
from ccroute.service.runner import _decode_head

CONFIG_DICT: dict[str, Any] = {
    "tenants": [{"id": "energia"}],
    "queues": [{"id": "energia.service", "tenant": "energia", "channels": ["voice", "email"]}],
    "agents": [{"id": "aino", "capacity": {"voice": 1, "email": 2}}],
}
CONFIG = config_from_dict(CONFIG_DICT)
TS = 1_767_261_600_000

VALID: list[dict[str, Any]] = [
    {"type": "agent_logged_in", "id": "i1", "ts": TS, "agent": "aino"},
    {
        "type": "contact_arrived",
        "id": "i2",
        "ts": TS + 1,
        "tenant": "energia",
        "contact": "c1",
        "queue": "energia.service",
        "channel": "voice",
        "skills": [{"skill": "billing", "min": 2}],
        "attributes": {"segment": "gold"},
        "tags": ["vip"],
    },
    {
        "type": "offer_accepted",
        "id": "i3",
        "ts": TS + 2,
        "tenant": "energia",
        "contact": "c1",
        "agent": "aino",
    },
    {
        "type": "agent_profile_changed",
        "id": "i4",
        "ts": TS + 3,
        "agent": "bo",
        "skills": {"billing": 3},
    },
    {
        "type": "survey_answered",
        "id": "i5",
        "ts": TS + 4,
        "tenant": "energia",
        "contact": "c1",
        "csat": 4,
    },
    {"type": "clock_tick", "id": "i6", "ts": TS + 5},
]

FORMATS = ("json", "msgpack")
INPUT_TAGS = {t.__struct_config__.tag for t in INPUT_TYPES}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(value: Any, fmt: str) -> bytes:
    return msgspec.json.encode(value) if fmt == "json" else msgspec.msgpack.encode(value)


def nested(levels: int, fmt: str, as_map: bool) -> bytes:
    """`levels` lists or maps, one inside the other, built flat."""
    if fmt == "json" and as_map:
        return b'{"k":' * levels + b"1" + b"}" * levels
    if fmt == "json":
        return b"[" * levels + b"]" * levels
    return (b"\x81\xa1k" if as_map else b"\x91") * levels + b"\x01"


@st.composite
def hostile(draw: st.DrawFn, fmt: str) -> bytes:
    base = dict(draw(st.sampled_from(VALID)))
    kind = draw(
        st.sampled_from(["deep", "huge", "wide", "truncated", "trailing", "wrong", "tag", "random"])
    )
    if kind == "deep":
        levels = draw(st.sampled_from([MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1_000, 30_000]))
        inner = nested(levels, fmt, draw(st.booleans()))
        if draw(st.booleans()):
            return inner
        base["x"] = 0
        raw = encode(base, fmt)
        return raw[:-2] + inner + b"}" if fmt == "json" else raw[:-1] + inner
    if kind == "huge":
        n = draw(st.sampled_from([201, MAX_STRING_BYTES + 1, MAX_INPUT_BYTES + 1, 1 << 20]))
        base[draw(st.sampled_from(["id", "agent", "tenant", "reason", "zz"]))] = "x" * n
        return encode(base, fmt)
    if kind == "wide":
        n = draw(st.sampled_from([MAX_ITEMS, MAX_ITEMS + 1]))
        base["tags"] = [str(i) for i in range(n)]
        return encode(base, fmt)
    raw = encode(base, fmt)
    if kind == "truncated":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "trailing":
        return raw + draw(st.binary(min_size=1, max_size=16))
    if kind == "wrong":
        key = draw(st.sampled_from(sorted(base)))
        base[key] = draw(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(-(2**63), 2**64 - 1),
                st.floats(allow_nan=False),
                st.text(max_size=20),
                st.lists(st.integers(-(2**63), 2**64 - 1), max_size=3),
                st.dictionaries(st.text(max_size=3), st.integers(-(2**63), 2**63), max_size=3),
            )
        )
        return encode(base, fmt)
    if kind == "tag":
        tag = base.pop("type")
        choice = draw(st.sampled_from(["unknown", "missing", "last", "number"]))
        if choice == "unknown":
            base["type"] = "contact_teleported"
        elif choice == "last":
            base["type"] = tag
        elif choice == "number":
            base["type"] = 7
        return encode(base, fmt)
    return draw(st.binary(max_size=128))


def check_answer(decisions: list[Any]) -> None:
    """A hostile payload is applied (it may be valid) or gets one specific rejection."""
    rejections = [d for d in decisions if isinstance(d, InputRejected)]
    if rejections:
        assert len(decisions) == 1, decisions
        r = rejections[0]
        assert r.code and r.message and len(r.message.encode()) < 1024
        assert len(r.cause.encode()) < 1024


@pytest.mark.parametrize("fmt", FORMATS)
@SETTINGS
@given(data=st.data())
def test_apply_raw_refuses_what_the_schema_refuses(fmt: str, data: st.DataObject) -> None:
    payload = data.draw(hostile(fmt))
    decisions = Engine(CONFIG).apply_raw(payload, format=fmt)  # type: ignore[arg-type]
    check_answer(decisions)
    try:
        decode_input(payload, format=fmt)  # type: ignore[arg-type]
    except msgspec.DecodeError as exc:
        [r] = decisions
        assert isinstance(r, InputRejected) and r.code == "malformed", (payload[:80], exc)
        assert (None if r.limit is UNSET else r.limit) == getattr(exc, "limit", None), (r, exc)
    else:
        assert not any(isinstance(d, InputRejected) and d.code == "malformed" for d in decisions)


@SETTINGS
@given(payloads=st.lists(hostile("json"), min_size=1, max_size=8))
def test_apply_raw_many_and_replay_answer_every_payload(payloads: list[bytes]) -> None:
    outs = Engine(CONFIG).apply_raw_many(payloads)
    assert len(outs) == len(payloads)
    for out in outs:
        check_answer(msgspec.json.decode(out, type=list[Decision]))
    lines = [p.replace(b"\n", b" ").replace(b"\r", b" ") for p in payloads]
    replayed = Engine(CONFIG).replay_jsonl(b"\n".join(lines) + b"\n")
    for line in replayed.splitlines():
        assert json.loads(line)["type"]


@SETTINGS
@given(payloads=st.lists(hostile("msgpack"), min_size=1, max_size=8))
def test_apply_encoded_batch_answers_every_payload_or_refuses_the_batch(
    payloads: list[bytes],
) -> None:
    batch = bytes([0x90 | len(payloads)]) + b"".join(payloads)
    out = msgspec.msgpack.decode(Engine(CONFIG).apply_encoded_batch(batch))
    assert len(out) in (1, len(payloads))
    for answer in out:
        for d in answer:
            if d["type"] == "input_rejected":
                assert d["code"] and d["message"]


@SETTINGS
@given(data=st.data())
def test_the_service_head_check_raises_only_decode_errors(data: st.DataObject) -> None:
    payload = data.draw(hostile("json"))
    try:
        head = _decode_head(payload)
    except msgspec.DecodeError:
        return
    assert head.type in INPUT_TAGS


@SETTINGS
@given(cut=st.integers(0, 10_000), junk=st.binary(max_size=8), levels=st.integers(1, 60_000))
def test_restore_refuses_damaged_snapshots(cut: int, junk: bytes, levels: int) -> None:
    engine = Engine(CONFIG)
    engine.apply_raw_many([msgspec.json.encode(v) for v in VALID])
    snap = engine.snapshot()
    damaged = [snap[: cut % len(snap)] + junk, b"\x91" * levels + b"\x90", snap + b"\x00" + junk]
    for b in damaged:
        try:
            Engine.restore(CONFIG, b)
        except _core.CoreError as exc:
            assert str(exc).startswith("snapshot: ")


def test_ccroute_replay_survives_a_hostile_file(tmp_path: Path) -> None:
    rng = random.Random(13)
    lines: list[bytes] = []
    for i in range(300):
        v = dict(VALID[i % len(VALID)], id=f"h{i}")
        raw = msgspec.json.encode(v)
        lines.append(
            rng.choice(
                [
                    raw,
                    raw[: rng.randrange(len(raw))],
                    raw + b"}junk",
                    b"[" * 100_000,
                    b'{"type":"clock_tick","id":"d","ts":1,"x":' + b"[" * 5000 + b"]" * 5000 + b"}",
                    msgspec.json.encode(dict(v, id="x" * 1_000_000)),
                    bytes(rng.randrange(256) for _ in range(40)).replace(b"\n", b" "),
                ]
            )
        )
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (tmp_path / "ccroute.toml").write_text(
        '[[tenants]]\nid = "energia"\n\n[[queues]]\nid = "energia.service"\ntenant = "energia"\n'
        'channels = ["voice", "email"]\n\n[[agents]]\nid = "aino"\ncapacity = { voice = 1 }\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "ccroute", "replay", "--config", "ccroute.toml", "events.jsonl"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    decisions = [json.loads(line) for line in done.stdout.splitlines()]
    rejected = [d for d in decisions if d["type"] == "input_rejected"]
    assert rejected and all(d["code"] and d["message"] for d in rejected)
    assert {d.get("limit") for d in rejected} >= {"max_depth", "max_input_bytes", None}
    assert max(len(json.dumps(d)) for d in decisions) < 2000
