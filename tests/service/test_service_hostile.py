"""Hostile inputs against a real nats-server: a poison pill must not stop the router.

A 2 KB JSON input nested a thousand levels deep once crashed ``ccroute serve`` with a
``RecursionError`` in the subject check; the input stays in the log, so every restart died
on it too. Now the nesting is measured by a flat byte scan before anything recursive runs,
the input is dead-lettered (``malformed``, ``Ccroute-Limit: max_depth``) and routing goes
on, live and on a restart that meets the input again in the log.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccroute.client import Client
from ccroute.config import Config
from ccroute.events import AgentStateSet
from ccroute.limits import MAX_DEPTH
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.subjects import Names

from .conftest import fast_settings, run_service
from .test_service_flow import read_decisions


def poison_pill(input_id: str) -> bytes:
    """A contact input whose unknown field holds 1,000 nested lists: about 2 KB."""
    head = b'{"type":"contact_arrived","id":"%s","ts":1,"tenant":"t0","x":' % input_id.encode()
    return head + b"[" * 1000 + b"]" * 1000 + b"}"


async def dead_letters(nc: NATS, names: Names, n: int) -> list[Msg]:
    js = nc.jetstream()
    sub = await js.subscribe(
        names.deadletter_wildcard, stream=names.deadletter_stream, ordered_consumer=True
    )
    try:
        return [await sub.next_msg(timeout=5) for _ in range(n)]
    finally:
        await sub.unsubscribe()


async def test_a_deeply_nested_input_is_dead_lettered_and_routing_goes_on(
    nats_server: EmbeddedNats, nc: NATS, config: Config
) -> None:
    pill = poison_pill("p1")
    assert 2000 <= len(pill) <= 2100
    async with run_service(config, fast_settings(nats_server.url)) as svc:
        await svc.wait_ready()
        cc = Client(nc, "test")
        await cc.publish_raw(cc.names.input_subject("contact_arrived", "t0"), pill, "p1")
        # No type, and an unknown one: malformed (they were once called subject_mismatch).
        agents = cc.names.input_subject("agent_logged_in", None)
        await cc.publish_raw(agents, b'{"id":"n1","ts":1,"agent":"a1"}', "n1")
        await cc.publish_raw(agents, b'{"type":"agent_teleported","id":"n2","ts":1}', "n2")
        await cc.login("a1")
        decisions = await read_decisions(cc, lambda ds: len(ds) >= 1)
        assert isinstance(decisions[0], AgentStateSet) and decisions[0].agent == "a1"
        pill_letter, no_type, unknown_type = await dead_letters(nc, cc.names, 3)
        assert pill_letter.headers["Ccroute-Reason"] == "malformed"
        assert pill_letter.headers["Ccroute-Limit"] == "max_depth"
        assert f"deeper than {MAX_DEPTH}" in pill_letter.headers["Ccroute-Error"]
        assert pill_letter.data == pill
        assert no_type.headers["Ccroute-Reason"] == "malformed"
        assert "`type`" in no_type.headers["Ccroute-Error"]
        assert unknown_type.headers["Ccroute-Reason"] == "malformed"
        assert "agent_teleported" in unknown_type.headers["Ccroute-Error"]
        assert "Ccroute-Limit" not in unknown_type.headers
        assert svc.service.metrics.dead_letters.get("malformed") == 3
        assert svc.service.metrics.dead_letters.get("subject_mismatch") == 0
        assert not svc.task.done()


async def test_a_restart_that_meets_the_poison_pill_in_the_log_routes_on(
    nats_server: EmbeddedNats, nc: NATS, config: Config
) -> None:
    settings = fast_settings(nats_server.url)
    # A first run creates the streams and leaves a snapshot from before the pill.
    async with run_service(config, settings) as svc:
        await svc.wait_ready()
    cc = Client(nc, "test")
    await cc.publish_raw(cc.names.input_subject("contact_arrived", "t0"), poison_pill("p2"), "p2")
    # JSON and MessagePack markers alike: a deep map of maps on the agents' subject.
    deep_maps = b'{"type":"agent_logged_in","id":"p3","ts":1,"agent":"a0","x":'
    deep_maps += b'{"k":' * 1000 + b"1" + b"}" * 1000 + b"}"
    await cc.publish_raw(cc.names.input_subject("agent_logged_in", None), deep_maps, "p3")
    await cc.login("a2")
    for _ in range(2):  # the restart, and the one after it (the verdict is in the log)
        async with run_service(config, settings) as svc:
            await svc.wait_ready()
            decisions = await read_decisions(cc, lambda ds: len(ds) >= 1)
            assert isinstance(decisions[0], AgentStateSet) and decisions[0].agent == "a2"
            await cc.login("a3")
            more = await read_decisions(cc, lambda ds: len(ds) >= 2)
            assert {d.agent for d in more if isinstance(d, AgentStateSet)} >= {"a2", "a3"}
            await cc.logout("a3")
    letters = await dead_letters(nc, cc.names, 2)
    assert [m.headers["Ccroute-Limit"] for m in letters] == ["max_depth", "max_depth"]
    assert [m.headers["Ccroute-Input-Seq"] for m in letters] == ["1", "2"]
