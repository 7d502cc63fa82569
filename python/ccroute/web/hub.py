"""The gateway's side of the bus: publish inputs, mirror the projections, follow agents.

One :class:`Hub` per gateway process, holding one NATS connection:

- **publish**: an input on its subject with ``Nats-Msg-Id`` = its id, as a request, so
  JetStream's acknowledgement says whether the stream already had it (a duplicate);
- **the projection mirror**: a KV watch of the domain's bucket (last value of every key,
  then each change as the writer flushes it) kept in memory, so a wallboard read costs no
  round trip; every change wakes the boards of the tenants it concerns. A ``gateway``
  credential of the tenant wall has no JetStream: then the mirror is read through the
  request/reply API (``api.agent.*``, ``api.queue.*.*``, ``api.tenant.*``) every second;
- **agent followers**: one NATS subscription per followed agent
  (``ccroute.<domain>.out.*.*.<agent>``: the server does the filtering), shared by every
  desktop connection of that agent, each connection with its own queue;
- **contact details**: the contacts that arrived recently (``in.*.contact_arrived``,
  seen as they are published), so an offer shown on a desktop carries the language,
  the arrival time and the tags the decision itself does not repeat.

Everything here is rebuilt from the bus when the process starts: the gateway keeps no state
of its own (any number can run behind a load balancer).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import time
from collections import OrderedDict
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.errors import BucketNotFoundError, NotFoundError

from ccroute.config import Config
from ccroute.events import ContactArrived, Input, encode_json
from ccroute.service.subjects import Names, decode_token, encode_token

__all__ = ["AgentFeed", "ContactDetails", "Hub", "PublishOutcome"]

log = logging.getLogger("ccroute.web.hub")

DETAILS_KEPT = 100_000
"""Recent arrivals remembered for offer details (about 200 bytes each)."""
WATCH_ATTEMPTS = 3
"""Failed KV watches (other than a missing bucket) before reading through the API."""
POLL_SECONDS = 1.0
POLL_CONCURRENCY = 64
FEED_BUFFER = 1000
"""Events a slow desktop connection may fall behind before it is cut off."""


class PublishOutcome(msgspec.Struct, frozen=True):
    """JetStream's acknowledgement of one input."""

    seq: int
    duplicate: bool
    subject: str


class PublishRefused(RuntimeError):
    """JetStream did not store the input (the reason is its error)."""


class ContactDetails(msgspec.Struct, frozen=True):
    """What a desktop shows about a contact beyond the offer itself."""

    arrived_at: int
    language: str | None = None
    priority: int = 0
    customer: str | None = None
    tags: list[str] = []
    page: str | None = None


class AgentFeed:
    """One desktop connection's view of an agent: raw decision payloads, in order."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.queue: asyncio.Queue[tuple[str, bytes, float]] = asyncio.Queue(FEED_BUFFER)
        self.overflowed = False
        self.status_pending = False
        """A status refresh is queued already: one is enough, however many changes."""

    def push(self, kind: str, data: bytes) -> None:
        if kind == "status":
            if self.status_pending:
                return
            self.status_pending = True
        try:
            self.queue.put_nowait((kind, data, time.perf_counter()))
        except asyncio.QueueFull:
            # A connection that stopped reading must not hold the others back: it is
            # closed (the page reconnects and reads the state afresh).
            self.overflowed = True


_PRESENCE = ("state", "reason", "since", "capacity")


def _presence_changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> bool:
    """Whether an agent entry's presence (not just its load) differs."""
    if old is None or new is None:
        return True
    return any(old.get(f) != new.get(f) for f in _PRESENCE)


class Hub:
    """The NATS connection of one gateway and what it follows."""

    def __init__(self, nc: NATS, names: Names, config: Config) -> None:
        self.nc = nc
        self.names = names
        self.config = config
        self.mirror: dict[str, dict[str, Any]] = {}
        """KV key -> decoded projection entry."""
        self.ready = asyncio.Event()
        self.closing = False
        """Set when the gateway stops: streams end by themselves, before the server cuts them."""
        self._agent_tenants: dict[str, list[str]] = {a.id: list(a.tenants) for a in config.agents}
        self._feeds: dict[str, set[AgentFeed]] = {}
        self._agent_subs: dict[str, Any] = {}
        self._board_events: dict[str, asyncio.Event] = {}
        self._details: OrderedDict[tuple[str, str], ContactDetails] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[Any] = []
        self._arrival_decoder = msgspec.json.Decoder(ContactArrived)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Follow arrivals and the projections; returns once the mirror holds every key."""
        self._subs.append(
            await self.nc.subscribe(f"{self.names.in_prefix}*.contact_arrived", cb=self._on_arrival)
        )
        self._tasks.append(asyncio.create_task(self._watch_projections()))
        await asyncio.wait_for(self.ready.wait(), 30)

    def close_streams(self) -> None:
        """Tell every open stream to end (the gateway is stopping)."""
        self.closing = True
        for feeds in self._feeds.values():
            for feed in feeds:
                with contextlib.suppress(asyncio.QueueFull):
                    feed.queue.put_nowait(("close", b"", 0.0))
        for ev in self._board_events.values():
            ev.set()
        self._board_events.clear()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for sub in [*self._subs, *self._agent_subs.values()]:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        self._agent_subs.clear()

    async def _watch_projections(self) -> None:
        failures = 0
        while True:
            try:
                kv = await self.nc.jetstream().key_value(self.names.kv_bucket)
                watcher = await kv.watchall()
                while True:
                    entry = await watcher.updates(timeout=None)  # type: ignore[no-untyped-call]
                    if entry is None:
                        self.ready.set()
                        continue
                    self._apply(entry.key, entry.value, entry.operation)
                    # A flush writes hundreds of keys at once and a queue that has items
                    # never yields: let offers waiting behind the burst go out between.
                    await asyncio.sleep(0)
            except asyncio.CancelledError:
                raise
            except (BucketNotFoundError, NotFoundError) as exc:
                # The gateway started before the service made its bucket: wait for it.
                log.warning("projection_watch_waiting error=%r (retrying)", exc)
                await asyncio.sleep(1.0)
            except Exception as exc:
                failures += 1
                if failures >= WATCH_ATTEMPTS:
                    # A gateway credential has no JetStream (the tenant wall keeps the
                    # bucket in the router's account): read the projections through the
                    # request/reply API instead, which that credential may call.
                    log.warning(
                        "projection_watch_unavailable error=%r: reading the projections "
                        "through the API every %.1f s",
                        exc,
                        POLL_SECONDS,
                    )
                    await self._poll_projections()
                    return
                log.warning("projection_watch_failed error=%r (retrying)", exc)
                await asyncio.sleep(1.0)

    def _poll_targets(self, with_days: bool) -> list[tuple[str, str]]:
        """(KV key, API operation) of every projection a board or desktop shows."""
        out: list[tuple[str, str]] = []
        for t in self.config.tenants:
            tt = encode_token(t.id)
            out.append((Names.tenant_key(t.id), f"tenant.{tt}"))
            if with_days:
                today = _dt.date.today()
                for day in range(1, today.day + 1):
                    date = today.replace(day=day).isoformat()
                    out.append((Names.tenant_day_key(t.id, date), f"tenant.{tt}.{date}"))
        for q in self.config.queues:
            key = Names.queue_key(q.tenant, q.id)
            out.append((key, f"queue.{encode_token(q.tenant)}.{encode_token(q.id)}"))
        for a in self.config.agents:
            out.append((Names.agent_key(a.id), f"agent.{encode_token(a.id)}"))
        return out

    async def _poll_one(self, key: str, operation: str) -> None:
        try:
            msg = await self.nc.request(self.names.api_subject(operation), b"", timeout=2.0)
            doc = json.loads(msg.data)
        except Exception as exc:
            log.debug("projection_poll_failed op=%s error=%r", operation, exc)
            return
        if doc.get("ok") and isinstance(doc.get("result"), dict):
            self._apply_value(key, doc["result"])

    async def _poll_projections(self) -> None:
        rounds = 0
        while True:
            # The month's past days change rarely: read them once a minute.
            targets = self._poll_targets(with_days=rounds % 60 == 0)
            for i in range(0, len(targets), POLL_CONCURRENCY):
                await asyncio.gather(
                    *(self._poll_one(k, op) for k, op in targets[i : i + POLL_CONCURRENCY])
                )
            self.ready.set()
            rounds += 1
            await asyncio.sleep(POLL_SECONDS)

    def _apply(self, key: str, value: bytes | None, op: str | None) -> None:
        if op in ("DEL", "PURGE") or not value:
            self._apply_value(key, None)
            return
        try:
            decoded = json.loads(value)
        except ValueError:
            return
        self._apply_value(key, decoded if isinstance(decoded, dict) else None)

    def _apply_value(self, key: str, new: dict[str, Any] | None) -> None:
        if key.startswith("_") or key == Names.LEASE_KEY:
            return
        old = self.mirror.get(key)
        if new is None:
            self.mirror.pop(key, None)
        else:
            self.mirror[key] = new
        if old != new:
            self._wake_for(key, _presence_changed(old, new))

    def _wake_for(self, key: str, presence_changed: bool = True) -> None:
        parts = key.split(".")
        tenants: list[str] = []
        if parts[0] in ("queue", "tenant") and len(parts) >= 2:
            tenants = [decode_token(parts[1])]
        elif parts[0] == "agent" and len(parts) == 2:
            agent = decode_token(parts[1])
            # The desktop's presence comes from this entry: tell its streams. Load alone
            # changes with every offer; the desktop counts that from its own decisions.
            if presence_changed:
                for feed in self._feeds.get(agent, ()):
                    feed.push("status", b"")
            served = self._agent_tenants.get(agent, ["*"])
            tenants = list(self._board_events) if "*" in served else served
        for t in [*tenants, "*"]:
            ev = self._board_events.pop(t, None)
            if ev is not None:
                ev.set()

    async def board_changed(self, tenants: list[str], timeout: float) -> bool:
        """Wait until a projection of one of ``tenants`` changes (True) or ``timeout``."""
        events = [self._board_events.setdefault(t, asyncio.Event()) for t in tenants]
        waits = [asyncio.ensure_future(ev.wait()) for ev in events]
        try:
            done, _ = await asyncio.wait(waits, timeout=timeout, return_when="FIRST_COMPLETED")
            return bool(done)
        finally:
            for w in waits:
                w.cancel()

    # ------------------------------------------------------------------ reading

    def agent_view(self, agent: str) -> dict[str, Any] | None:
        return self.mirror.get(Names.agent_key(agent))

    def queue_view(self, tenant: str, queue: str) -> dict[str, Any] | None:
        return self.mirror.get(Names.queue_key(tenant, queue))

    def tenant_today(self, tenant: str) -> dict[str, Any] | None:
        return self.mirror.get(Names.tenant_key(tenant))

    def tenant_day(self, tenant: str, date: str) -> dict[str, Any] | None:
        return self.mirror.get(Names.tenant_day_key(tenant, date))

    def known_agent(self, agent: str) -> bool:
        """In the configuration, or created since by a profile change (it has an entry)."""
        return agent in self._agent_tenants or Names.agent_key(agent) in self.mirror

    def details(self, tenant: str, contact: str) -> ContactDetails | None:
        return self._details.get((tenant, contact))

    # ------------------------------------------------------------------ publishing

    async def publish(self, event: Input, *, timeout: float = 5.0) -> PublishOutcome:
        """Store one input in the log; JetStream says whether it was a duplicate."""
        tag = str(type(event).__struct_config__.tag)
        tenant = getattr(event, "tenant", None)
        agent = getattr(event, "agent", None)
        # An agent's own input (log-in, states) goes on the agent's subject; anything about
        # a tenant's contact on the tenant's (the broker lets the gateway publish both).
        if tenant is None and isinstance(agent, str):
            subject = self.names.agent_input_subject(tag, agent)
        else:
            subject = self.names.input_subject(tag, tenant)
        msg = await self.nc.request(
            subject, encode_json(event), timeout=timeout, headers={"Nats-Msg-Id": event.id}
        )
        ack = json.loads(msg.data)
        if "error" in ack:
            raise PublishRefused(str(ack["error"].get("description", ack["error"])))
        if isinstance(event, ContactArrived):
            self._remember(event)
        return PublishOutcome(int(ack["seq"]), bool(ack.get("duplicate")), subject)

    # ------------------------------------------------------------------ arrivals

    def _remember(self, ev: ContactArrived) -> None:
        key = (ev.tenant, ev.contact)
        if key in self._details:
            return
        self._details[key] = ContactDetails(
            arrived_at=ev.ts,
            language=ev.language,
            priority=ev.priority,
            customer=ev.customer,
            tags=list(ev.tags),
            page=ev.page,
        )
        if len(self._details) > DETAILS_KEPT:
            self._details.popitem(last=False)

    async def _on_arrival(self, msg: Msg) -> None:
        try:
            self._remember(self._arrival_decoder.decode(msg.data))
        except (msgspec.DecodeError, msgspec.ValidationError):
            return  # the service dead-letters it; nothing to show

    # ------------------------------------------------------------------ agent feeds

    async def follow_agent(self, agent: str) -> AgentFeed:
        """A feed of everything decided about ``agent`` from now on."""
        feed = AgentFeed(agent)
        feeds = self._feeds.setdefault(agent, set())
        feeds.add(feed)
        if agent not in self._agent_subs:

            async def on_msg(msg: Msg) -> None:
                for f in list(self._feeds.get(agent, ())):
                    f.push("decision", msg.data)

            self._agent_subs[agent] = await self.nc.subscribe(
                self.names.agent_decisions(agent), cb=on_msg
            )
        return feed

    async def unfollow_agent(self, feed: AgentFeed) -> None:
        feeds = self._feeds.get(feed.agent)
        if feeds is None:
            return
        feeds.discard(feed)
        if not feeds:
            del self._feeds[feed.agent]
            sub = self._agent_subs.pop(feed.agent, None)
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    @property
    def connections(self) -> int:
        """Open desktop feeds."""
        return sum(len(f) for f in self._feeds.values())
