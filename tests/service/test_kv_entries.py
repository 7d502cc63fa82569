"""Reading the projections' KV bucket whole (``ccroute status``, ``ccroute project``).

nats-py's ``keys()`` can take a full bucket for an empty one when the server has sent the
entries before the client reads them (a CI run of ``ccroute project``'s test got
``NoKeysError`` right after a rebuild). ``read_entries`` ends on the entry that says
nothing is pending after it, so every read of a full bucket is whole.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS

from ccroute.service.kv_entries import read_entries
from ccroute.service.status_board import read_board
from ccroute.service.subjects import Names


async def test_a_supervisors_board_read_right_after_the_writes_has_every_queue(nc: NATS) -> None:
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="board")
    for i in range(300):
        await kv.put(f"queue.q{i}", b'{"waiting": %d}' % i)
    await kv.put("tenant.t0.today", b'{"offered": 5}')
    # Read at once, again and again: each read must see all 300 queues, never fewer.
    for _ in range(25):
        queues = await read_entries(js, "board", "queue.>")
        assert len(queues) == 300
        assert queues["queue.q7"] == b'{"waiting": 7}'
    assert await read_entries(js, "board", "tenant.>") == {"tenant.t0.today": b'{"offered": 5}'}


async def test_deleted_and_purged_keys_are_not_entries(nc: NATS) -> None:
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="gone")
    await kv.put("agent.a1", b"1")
    await kv.put("agent.a2", b"2")
    await kv.put("agent.a3", b"3")
    await kv.delete("agent.a1")
    await kv.purge("agent.a2")
    await kv.put("agent.a3", b"3 again")
    assert await read_entries(js, "gone") == {"agent.a3": b"3 again"}


async def test_an_empty_bucket_reads_as_no_entries(nc: NATS) -> None:
    js = nc.jetstream()
    await js.create_key_value(bucket="empty")
    assert await read_entries(js, "empty") == {}
    kv = await js.key_value("empty")
    await kv.put("queue.q1", b"x")
    assert await read_entries(js, "empty", "agent.>") == {}


async def test_the_status_board_shows_todays_tenant_figures_and_every_queue(nc: NATS) -> None:
    """``ccroute status`` reads today's entry of each tenant (not the past days' kept
    beside it, nor the agents') and every queue's entry."""
    names = Names("board")
    kv = await nc.jetstream().create_key_value(bucket=names.kv_bucket)
    await kv.put("tenant.acme.today", b'{"tenant": "acme", "offered": 7}')
    await kv.put("tenant.acme.day.2026-12-04", b'{"tenant": "acme", "offered": 90}')
    await kv.put("tenant.globex.today", b'{"tenant": "globex", "offered": 2}')
    await kv.put("queue.acme.sales", b'{"tenant": "acme", "queue": "sales"}')
    await kv.put("agent.a1", b'{"agent": "a1"}')
    tenants, queues = await read_board(nc, names)
    assert tenants == [{"tenant": "acme", "offered": 7}, {"tenant": "globex", "offered": 2}]
    assert queues == [{"tenant": "acme", "queue": "sales"}]
