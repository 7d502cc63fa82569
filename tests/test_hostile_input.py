"""Hostile bytes against the embedded engine and the schema: never a crash, always a reason.

Each defect of issue 13 has its test here: a MessagePack batch nested 100,000 deep once
killed Python with SIGSEGV (a recursive length walk in the core), so the crash tests run
in a subprocess where a crash is a failed test, not a dead test runner. Inputs over the
documented limits (``ccroute.limits``, docs/events.md "Limits") are ``malformed`` with the
limit's name; an over-long id is echoed cut; agents stop at ``routing.max_agents``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import msgspec
import pytest
from msgspec import UNSET

from ccroute import Engine, _core
from ccroute.config import ConfigError, config_from_dict
from ccroute.events import (
    AgentProfileChanged,
    ClockTick,
    InputRejected,
    decode_input,
    encode_msgpack,
)
from ccroute.limits import (
    DEFAULT_MAX_AGENTS,
    MAX_DEPTH,
    MAX_ECHO_BYTES,
    MAX_INPUT_BYTES,
    MAX_ITEMS,
    MAX_MESSAGE_BYTES,
    MAX_STRING_BYTES,
    InputLimitExceeded,
    bounded,
    check_input,
)

CONFIG_DICT = {
    "tenants": [{"id": "energia"}],
    "queues": [{"id": "energia.service", "tenant": "energia", "channels": ["voice"]}],
    "agents": [{"id": "aino", "capacity": {"voice": 1}}],
}
CONFIG = config_from_dict(CONFIG_DICT)
TS = 1_767_261_600_000


def only_rejection(decisions: list[object]) -> InputRejected:
    assert len(decisions) == 1, decisions
    [r] = decisions
    assert isinstance(r, InputRejected), r
    assert r.code == "malformed"
    return r


def deep_json(levels: int) -> bytes:
    """A clock tick whose unknown field nests `levels` lists (the map is one more level)."""
    return b'{"type":"clock_tick","id":"t1","ts":5,"x":' + b"[" * levels + b"]" * levels + b"}"


def run_isolated(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter: a segfault is a return code, not a dead runner."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


# ------------------------------------------------------------------- the crashes


def test_a_batch_nested_100000_deep_is_rejected_not_a_segfault() -> None:
    done = run_isolated(
        """
        import msgspec
        from ccroute import Engine
        from ccroute.config import config_from_dict
        engine = Engine(config_from_dict({"tenants": [{"id": "t"}]}))
        # The issue's payload (100,001 bytes), and one nested 60,000 deep within the size.
        for batch in (b"\\x91" * 100000 + b"\\x90", b"\\x91" * 60000 + b"\\x90"):
            [[rejection]] = msgspec.msgpack.decode(engine.apply_encoded_batch(batch))
            print(rejection["code"], rejection["limit"])
        """
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["malformed", "max_input_bytes", "malformed", "max_depth"]


def test_every_byte_entry_point_survives_100000_levels() -> None:
    done = run_isolated(
        """
        import msgspec
        from ccroute import Engine, _core
        from ccroute.config import config_from_dict, encode_config
        from ccroute.events import decode_input
        cfg = config_from_dict({"tenants": [{"id": "t"}]})
        engine = Engine(cfg)
        n = 100_000
        mp_list, mp_map = b"\\x91" * n + b"\\x90", b"\\x81\\xa1k" * n + b"\\x80"
        js_list, js_map = b"[" * n + b"]" * n, b'{"k":' * n + b"1" + b"}" * n
        seen = []
        for payload in (mp_list, mp_map):
            seen.append(engine.apply_raw(payload, format="msgpack")[0].limit)
            out = engine.apply_raw_many([payload], format="msgpack")[0]
            seen.append(msgspec.msgpack.decode(out)[0]["limit"])
            try:
                decode_input(payload, format="msgpack")
            except msgspec.DecodeError as exc:
                seen.append(exc.limit)
            try:
                Engine.restore(cfg, payload)
            except _core.CoreError:
                seen.append("restore refused")
            try:
                _core.Core(payload)
            except _core.CoreError:
                seen.append("config refused")
        for payload in (js_list, js_map):
            seen.append(engine.apply_raw(payload)[0].limit)
            seen.append(msgspec.json.decode(engine.apply_raw_many([payload])[0])[0]["limit"])
            seen.append(msgspec.json.decode(engine.replay_jsonl(payload + b"\\n"))["limit"])
            try:
                decode_input(payload)
            except msgspec.DecodeError as exc:
                seen.append(exc.limit)
        print(" ".join(seen))
        """
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert (
        done.stdout.split()
        == (["max_input_bytes"] * 3 + ["restore", "refused", "config", "refused"]) * 2
        + ["max_input_bytes"] * 8
    )


def test_deep_but_small_inputs_name_max_depth_everywhere() -> None:
    engine = Engine(CONFIG)
    payload = deep_json(1000)
    assert len(payload) < 2100
    assert only_rejection(engine.apply_raw(payload)).limit == "max_depth"
    mp = b"\x84\xa4type\xaaclock_tick\xa2id\xa2t1\xa2ts\x05\xa1x" + b"\x91" * 1000 + b"\x90"
    assert only_rejection(engine.apply_raw(mp, format="msgpack")).limit == "max_depth"
    for data, fmt in ((payload, "json"), (mp, "msgpack")):
        with pytest.raises(InputLimitExceeded) as caught:
            decode_input(data, format=fmt)  # type: ignore[arg-type]
        assert caught.value.limit == "max_depth"
        assert f"deeper than {MAX_DEPTH} levels" in str(caught.value)
    # The engine is unharmed: the next input is applied as usual.
    assert engine.apply(ClockTick(id="t2", ts=TS)) == []
    assert engine.stats()["rejected"] == 2


# ---------------------------------------------------------------------- the limits


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_each_limit_holds_at_its_bound_and_is_named_past_it(fmt: str) -> None:
    def encode(value: dict[str, object]) -> bytes:
        return msgspec.json.encode(value) if fmt == "json" else msgspec.msgpack.encode(value)

    def nest(levels: int) -> object:
        value: object = []
        for _ in range(levels - 2):  # the input map is a level, the innermost list one more
            value = [value]
        return value

    base = {"type": "clock_tick", "id": "t1", "ts": 5}
    cases = {
        "max_depth": (nest(MAX_DEPTH), nest(MAX_DEPTH + 1)),
        "max_string_bytes": ("s" * (MAX_STRING_BYTES - 8), "s" * (MAX_STRING_BYTES + 1)),
        "max_items": (list(range(MAX_ITEMS)), list(range(MAX_ITEMS + 1))),
    }
    for limit, (within, past) in cases.items():
        ok, bad = encode({**base, "x": within}), encode({**base, "x": past})
        check_input(ok, fmt)  # type: ignore[arg-type]
        with pytest.raises(InputLimitExceeded) as caught:
            check_input(bad, fmt)  # type: ignore[arg-type]
        assert caught.value.limit == limit
        # Within the limits the input is judged on its fields (`x` is unknown), past
        # them it is not read at all: both sides agree on which.
        engine = Engine(CONFIG)
        assert only_rejection(engine.apply_raw(ok, format=fmt)).limit is UNSET  # type: ignore[arg-type]
        assert only_rejection(engine.apply_raw(bad, format=fmt)).limit == limit  # type: ignore[arg-type]
    huge = encode({**base, "x": ["s" * 4000] * 17})
    assert len(huge) > MAX_INPUT_BYTES
    assert only_rejection(Engine(CONFIG).apply_raw(huge, format=fmt)).limit == "max_input_bytes"  # type: ignore[arg-type]


def test_the_python_and_core_limits_are_the_same_numbers() -> None:
    assert _core.core_limits() == {
        "max_input_bytes": MAX_INPUT_BYTES,
        "max_depth": MAX_DEPTH,
        "max_string_bytes": MAX_STRING_BYTES,
        "max_items": MAX_ITEMS,
        "max_echo_bytes": MAX_ECHO_BYTES,
        "max_message_bytes": MAX_MESSAGE_BYTES,
        "default_max_agents": DEFAULT_MAX_AGENTS,
    }


# ------------------------------------------------------------ bounded echoes


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_an_over_long_id_is_echoed_cut(fmt: str) -> None:
    long_id = "x" * 4000  # over the 200 characters of an id, within max_string_bytes
    tick = {"type": "clock_tick", "id": long_id, "ts": 5}
    payload = msgspec.json.encode(tick) if fmt == "json" else msgspec.msgpack.encode(tick)
    r = only_rejection(Engine(CONFIG).apply_raw(payload, format=fmt))  # type: ignore[arg-type]
    assert r.cause == "x" * MAX_ECHO_BYTES + "…(4000 bytes)"
    assert len(r.message.encode()) <= MAX_MESSAGE_BYTES + 32


def test_a_ten_megabyte_id_yields_a_small_rejection() -> None:
    payload = msgspec.json.encode({"type": "clock_tick", "id": "x" * 10_000_000, "ts": 5})
    engine = Engine(CONFIG)
    [out] = engine.apply_raw_many([payload])
    assert len(out) < 1000
    assert only_rejection(engine.apply_raw(payload)).limit == "max_input_bytes"


def test_a_valid_id_is_never_cut() -> None:
    long_valid = "ä" * 200  # 200 characters, 400 bytes
    bad = msgspec.json.encode({"type": "clock_tick", "id": long_valid, "ts": "soon"})
    assert only_rejection(Engine(CONFIG).apply_raw(bad)).cause == long_valid


def test_bounded_cuts_at_a_character_and_says_how_long() -> None:
    assert bounded("ok") == "ok"
    assert bounded("ä" * 100, 5) == "ää…(200 bytes)"


# -------------------------------------------------------- structure, batches


def test_msgpack_with_junk_after_the_input_is_refused_by_both_sides() -> None:
    payload = encode_msgpack(ClockTick(id="t1", ts=TS)) + b"\xc3junk"
    r = only_rejection(Engine(CONFIG).apply_raw(payload, format="msgpack"))
    assert "5 bytes after the input" in r.message
    assert r.cause == "t1" and r.event_type == "clock_tick" and r.limit is UNSET
    with pytest.raises(msgspec.DecodeError):
        decode_input(payload, format="msgpack")


@pytest.mark.parametrize(
    "batch",
    [
        b"",
        b"\xc0",
        b"\x92\xc0",
        b"\xdd\xff\xff\xff\xff",
        b"\xdd\x81\xbc\x06\x00",
        b"\x91\xc1",
        b"\x90junk",
    ],
    ids=["empty", "not-an-array", "truncated", "claims-4g", "claims-2g", "bad-marker", "trailing"],
)
def test_a_broken_batch_is_one_malformed_input(batch: bytes) -> None:
    engine = Engine(CONFIG)
    [[r]] = msgspec.msgpack.decode(engine.apply_encoded_batch(batch))
    assert (r["type"], r["code"]) == ("input_rejected", "malformed")
    assert r["message"].startswith("the batch is not a MessagePack array of inputs")
    assert engine.stats()["inputs"] == 1


# ------------------------------------------------------------------ max_agents


def test_agents_stop_at_max_agents_with_a_specific_rejection() -> None:
    engine = Engine(config_from_dict({**CONFIG_DICT, "routing": {"max_agents": 3}}))
    made = [
        engine.apply(AgentProfileChanged(id=f"p{i}", ts=TS + i, agent=name))
        for i, name in enumerate(["bo", "cai", "dan"])
    ]
    assert made[0] == [] and made[1] == []
    [r] = made[2]
    assert isinstance(r, InputRejected)
    assert (r.code, r.limit, r.event_type) == (
        "too_many_agents",
        "max_agents",
        "agent_profile_changed",
    )
    assert "routing.max_agents = 3" in r.message
    assert engine.stats()["agents"] == 3
    # Agents that exist keep changing their profiles.
    assert engine.apply(AgentProfileChanged(id="p9", ts=TS + 9, agent="bo", languages=["fi"])) == []


def test_a_configuration_with_more_agents_than_max_agents_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"routing\.max_agents"):
        config_from_dict({**CONFIG_DICT, "routing": {"max_agents": 0}})
    agents = [{"id": f"a{i}"} for i in range(3)]
    with pytest.raises(ConfigError, match=r"routing\.max_agents"):
        config_from_dict({**CONFIG_DICT, "agents": agents, "routing": {"max_agents": 2}})


def test_the_default_max_agents_is_generous() -> None:
    assert CONFIG.routing.max_agents == DEFAULT_MAX_AGENTS == 100_000
    engine = Engine(CONFIG)
    assert engine.apply(AgentProfileChanged(id="p1", ts=TS, agent="new")) == []
    assert engine.stats()["agents"] == 2
