"""An asyncio client of ``ccroute serve`` for contact sources and agent desktops.

>>> async with await Client.connect(  # doctest: +SKIP
...     "nats://127.0.0.1:4222", creds="agent-a1.creds"
... ) as cc:
...     offers = await cc.subscribe_offers("a1")
...     await cc.login("a1")
...     await cc.arrive("acme", "c1", queue="support", channel="chat")
...     offer = await offers.next(timeout=2)
...     await cc.accept(offer)
...     await cc.complete(offer.tenant, offer.contact, offer.agent)

``creds`` is a credentials file from ``ccroute creds issue`` (an agent desktop's, a
tenant's systems', a supervisor's...): the broker lets the connection do what its kind
allows and nothing else (see docs/security.md).

Inputs are published to the domain's input stream on their subject
(``ccroute.<domain>.in.<tenant>.<type>``; an agent desktop's own inputs on
``ccroute.<domain>.in._agents.<agent>.<type>``) with ``Nats-Msg-Id`` = the input's ``id``,
so a retried publish is stored once (and the engine drops a later duplicate too). Under
the tenant wall a tenant's (a desktop's) publish lands in its own entry stream, which the
log sources: the sequences returned are that stream's, not the log's (docs/security.md,
"The way in"). Helper methods fill in ``id`` (a random one) and ``ts`` (now) when not
given.

Offers and other decisions arrive on ``ccroute.<domain>.out.<tenant>.<type>.<agent>``;
:meth:`Client.subscribe_offers` follows one agent's offers live,
:meth:`Client.tenant_decisions` reads one tenant's decisions in order from a sequence
through the API (any credential of the tenant), :meth:`Client.decisions` reads the
decision stream with JetStream (router and admin credentials only: no one else's
account has JetStream). Projections are read through the request/reply API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Literal

import msgspec
import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from ccroute.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStateChanged,
    Channel,
    ContactAbandoned,
    ContactArrived,
    ContactCompleted,
    Decision,
    Input,
    InputRejected,
    OfferAccepted,
    OfferMade,
    OfferRejected,
    SkillRequirement,
    WrapUpFinished,
    decode_decision,
    encode_json,
)
from ccroute.service.connection import close_promptly
from ccroute.service.credentials import credential_options, load_credential_file
from ccroute.service.storage import store_full_reason
from ccroute.service.subjects import Names, encode_token

__all__ = [
    "Client",
    "ClientError",
    "DecisionFeed",
    "DecisionPages",
    "DecisionSubscription",
    "InputRejectedError",
    "OfferSubscription",
    "PublishTimeout",
    "Rejected",
    "StoreFull",
]


class ClientError(RuntimeError):
    """JetStream refused a publish, or an API request failed."""


class InputRejectedError(ClientError):
    """The engine rejected an input this client published (an ``input_rejected``
    decision): an unknown queue, tenant or agent, a contact not in line, ...

    ``rejection`` is the decision; its ``cause`` is the input's ``id``.
    """

    def __init__(self, rejection: InputRejected) -> None:
        self.rejection = rejection
        what = rejection.event_type or "input"
        super().__init__(
            f"{what} {rejection.cause} rejected by the engine: "
            f"{rejection.code}: {rejection.message}"
        )


_REMEMBERED_INPUTS = 10_000
"""How many of its recent input ids a client keeps to recognise their rejections."""


class Rejected(ClientError):
    """JetStream refused the input; ``code`` and ``reason`` are the server's."""

    def __init__(self, subject: str, code: int | None, reason: str) -> None:
        super().__init__(f"publish to {subject} refused: {reason} (err_code {code})")
        self.subject = subject
        self.code = code
        self.reason = reason


class StoreFull(Rejected):
    """The input stream has no room (its byte limit, the server's storage, the disk).

    Nothing was stored: publish the input again later (with the same id, so a copy
    that did get through is not stored twice). The routing service keeps running and
    resumes taking inputs when space returns.
    """


class PublishTimeout(ClientError, TimeoutError):
    """No acknowledgement in time, and the service does not report a full store."""


def _refusal(subject: str, error: dict[str, Any]) -> Rejected:
    reason = store_full_reason(error)
    code = error.get("err_code")
    if reason is not None:
        return StoreFull(subject, code, str(error.get("description", reason)))
    return Rejected(subject, code, str(error.get("description", error)))


def new_id(prefix: str = "ev") -> str:
    """A fresh input id (random, 26 characters)."""
    return f"{prefix}-{uuid.uuid4().hex[:22]}"


def now_ms() -> int:
    return int(time.time() * 1000)


class OfferSubscription:
    """The offers made to one agent, as they are published (core NATS, live only).

    While waiting, a rejection of an input its client published (say the agent's login,
    or an arrival in a queue that does not exist) raises :class:`InputRejectedError`
    instead of a bare timeout: the offer is not coming.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[OfferMade | InputRejected] = asyncio.Queue()
        self._sub: Any = None
        self._client: Client | None = None

    async def _on_msg(self, msg: Msg) -> None:
        d = decode_decision(msg.data)
        if isinstance(d, OfferMade):
            self._queue.put_nowait(d)

    async def next(self, timeout: float | None = None) -> OfferMade:
        """The next offer; raises ``TimeoutError`` after ``timeout`` seconds, or
        :class:`InputRejectedError` when one of the client's inputs is rejected."""
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if isinstance(item, InputRejected):
            raise InputRejectedError(item)
        return item

    def __aiter__(self) -> AsyncIterator[OfferMade]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[OfferMade]:
        while True:
            yield await self.next()

    async def close(self) -> None:
        if self._client is not None:
            self._client._offer_subs.discard(self)
            self._client = None
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None


class DecisionSubscription:
    """Decisions read from the decision stream in order (an ordered JetStream consumer)."""

    def __init__(self, sub: Any) -> None:
        self._sub = sub

    async def next(self, timeout: float | None = 5.0) -> tuple[int, Decision]:
        """(decision stream sequence, decision); raises ``TimeoutError``."""
        msg = await self._sub.next_msg(timeout=timeout)
        return msg.metadata.sequence.stream, decode_decision(msg.data)

    def __aiter__(self) -> AsyncIterator[tuple[int, Decision]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[tuple[int, Decision]]:
        while True:
            try:
                yield await self.next(timeout=None)
            except nats.errors.TimeoutError:
                continue

    async def close(self) -> None:
        await self._sub.unsubscribe()


class DecisionFeed:
    """A tenant's decisions as they are published (see :meth:`Client.follow`)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Decision] = asyncio.Queue()
        self._sub: Any = None

    async def _on_msg(self, msg: Msg) -> None:
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            self._queue.put_nowait(decode_decision(msg.data))

    async def next(self, timeout: float | None = None) -> Decision:
        """The next decision; raises ``TimeoutError`` after ``timeout`` seconds."""
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None


class DecisionPages:
    """A tenant's decisions in order, read page by page through the API."""

    def __init__(self, client: Client, tenant: str, start_seq: int, poll: float) -> None:
        self._client = client
        self._op = f"decisions.{encode_token(tenant)}"
        self.next_seq = max(1, start_seq)
        self._poll = poll
        self._buf: list[tuple[int, Decision]] = []

    async def next(self, timeout: float | None = 5.0) -> tuple[int, Decision]:
        """(decision stream sequence, decision); raises ``TimeoutError``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._buf:
            page = await self._client.request(
                self._op, json.dumps({"start_seq": self.next_seq}).encode()
            )
            for item in page["decisions"]:
                decision = decode_decision(json.dumps(item["decision"]).encode())
                self._buf.append((int(item["seq"]), decision))
            self.next_seq = int(page["next_seq"])
            if self._buf:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"no decision of {self._op} from {self.next_seq}")
            await asyncio.sleep(self._poll)
        return self._buf.pop(0)


class Client:
    """Publish inputs, follow offers and decisions, read projections, for one domain."""

    def __init__(self, nc: NATS, domain: str = "default", *, owns_connection: bool = False) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.names = Names(domain)
        self._owns = owns_connection
        self._sent: dict[str, None] = {}  # recent input ids, oldest first
        self._rejections: dict[str, InputRejected] = {}
        self._rejection_sub: Any = None
        self._offer_subs: set[OfferSubscription] = set()
        self.acts_as_agent = False
        """Publish inputs that name an agent on the agent's own subject (an agent
        desktop's credential may publish nowhere else)."""
        self.agent: str | None = None
        """The agent of an agent desktop's credential: it may see that agent's
        decisions only, so the client follows only that agent's rejections."""

    @classmethod
    async def connect(
        cls,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        domain: str = "default",
        creds: str | None = None,
        **options: Any,
    ) -> Client:
        """Connect to NATS (options as for ``nats.connect``) and return a client.

        ``creds``: a credentials file (``ccroute creds issue``); an agent desktop's makes
        the client publish every input on the agent's own subject.
        """
        urls = [servers] if isinstance(servers, str) else list(servers)
        agent: str | None = None
        if creds is not None:
            options = {**credential_options(creds), **options}
            with contextlib.suppress(ValueError):
                cred = load_credential_file(creds)
                agent = cred.agent if cred.kind == "agent" else None
        nc = await nats.connect(servers=urls, **options)
        client = cls(nc, domain, owns_connection=True)
        client.acts_as_agent = agent is not None
        client.agent = agent
        return client

    async def close(self, drain_seconds: float = 5.0) -> None:
        """Close the connection if this client opened it.

        What is still buffered reaches the server first (a drain), for at most
        ``drain_seconds``. A server that does not answer a ping within that time (paused,
        overloaded, cut off) is not waited for: the connection is closed at once.
        """
        if self._owns:
            await close_promptly(self.nc, drain_seconds)

    # ------------------------------------------------------------- rejections

    async def _watch_rejections(self) -> None:
        """Follow ``input_rejected`` decisions (core NATS, live) before the first publish,
        so a rejection of this client's input is never missed. A client allowed to see only
        some tenants' decisions sees their rejections (and the agents' ones if allowed)."""
        if self._rejection_sub is None:
            last = encode_token(self.agent) if self.agent is not None else ">"
            self._rejection_sub = await self.nc.subscribe(
                f"{self.names.out_prefix}*.input_rejected.{last}", cb=self._on_rejection
            )
            await self.nc.flush()

    async def _on_rejection(self, msg: Msg) -> None:
        try:
            d = decode_decision(msg.data)
        except msgspec.DecodeError:
            return
        if not isinstance(d, InputRejected) or d.cause not in self._sent:
            return
        self._rejections[d.cause] = d
        if len(self._rejections) > _REMEMBERED_INPUTS:
            del self._rejections[next(iter(self._rejections))]
        for sub in self._offer_subs:
            sub._queue.put_nowait(d)

    def _remember(self, input_id: str) -> None:
        self._sent[input_id] = None
        if len(self._sent) > _REMEMBERED_INPUTS:
            del self._sent[next(iter(self._sent))]

    def rejection(self, input_id: str) -> InputRejected | None:
        """The engine's rejection of an input this client published, if one has been
        seen (the recent ones are kept)."""
        return self._rejections.get(input_id)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ publish

    async def publish(self, event: Input, *, timeout: float = 5.0) -> int:
        """Publish one input on its subject; its input stream sequence.

        A second publish of the same ``id`` within the stream's duplicate window returns
        the first one's sequence and stores nothing.
        """
        await self._watch_rejections()
        self._remember(event.id)
        return await self.publish_raw(
            self.subject_of(event), encode_json(event), event.id, timeout=timeout
        )

    def subject_of(self, event: Input) -> str:
        """The subject ``event`` is published on by this client.

        An input that names an agent but no tenant (log-in, states) goes on the agent's
        own subject; one that names both (accepting, completing...) too if this client
        is an agent desktop, else on the tenant's subject (a tenant's own systems).
        """
        type_ = str(type(event).__struct_config__.tag)
        tenant = getattr(event, "tenant", None)
        agent = getattr(event, "agent", None)
        if isinstance(agent, str) and (tenant is None or self.acts_as_agent):
            return self.names.agent_input_subject(type_, agent)
        return self.names.input_subject(type_, tenant)

    async def publish_raw(
        self, subject: str, payload: bytes, msg_id: str | None = None, *, timeout: float = 5.0
    ) -> int:
        """Publish bytes on a subject of the input stream (for tests and bridges)."""
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        try:
            msg = await self.nc.request(subject, payload, timeout=timeout, headers=headers)
        except nats.errors.TimeoutError as exc:
            raise await self._timed_out(subject, timeout) from exc
        ack = json.loads(msg.data)
        if "error" in ack:
            raise _refusal(subject, ack["error"])
        return int(ack["seq"])

    async def _timed_out(self, subject: str, timeout: float) -> ClientError:
        """Why a publish got no answer: a full disk makes JetStream go quiet, and the
        service, which watches its own writes, says so in its status."""
        try:
            st = await self.request("status", timeout=1.0)
        except Exception:
            st = None
        full = (st or {}).get("store_full") if isinstance(st, dict) else None
        if full:
            stream, info = next(iter(full.items()))
            return StoreFull(subject, None, f"{stream}: {info.get('reason', 'full')}")
        return PublishTimeout(
            f"publish to {subject}: no acknowledgement within {timeout}s "
            f"({'the service reports no full store' if st else 'the service did not answer'})"
        )

    async def publish_many(self, events: Sequence[Input], *, timeout: float = 10.0) -> list[int]:
        """Publish inputs pipelined, in order, and wait until all are stored; their input
        stream sequences (a duplicate's is its first copy's)."""
        futures = []
        await self._watch_rejections()
        for ev in events:
            self._remember(ev.id)
            futures.append(
                await self.js.publish_async(
                    self.subject_of(ev), encode_json(ev), headers={"Nats-Msg-Id": ev.id}
                )
            )
        try:
            acks = await asyncio.wait_for(asyncio.gather(*futures), timeout)
        except nats.js.errors.APIError as exc:
            raise _refusal(
                "the input stream", {"err_code": exc.err_code, "description": exc.description}
            ) from exc
        except TimeoutError as exc:
            raise await self._timed_out("the input stream", timeout) from exc
        return [int(a.seq) for a in acks]

    # ------------------------------------------------------- contact sources

    async def arrive(
        self,
        tenant: str,
        contact: str,
        *,
        queue: str,
        channel: Channel,
        priority: int = 0,
        language: str | None = None,
        skills: dict[str, int] | None = None,
        tags: Sequence[str] = (),
        page: str | None = None,
        customer: str | None = None,
        id: str | None = None,
        ts: int | None = None,
    ) -> ContactArrived:
        """A contact arrived in a queue; returns the input as published."""
        ev = ContactArrived(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            tenant=tenant,
            contact=contact,
            queue=queue,
            channel=channel,
            priority=priority,
            language=language,
            skills=[SkillRequirement(k, v) for k, v in (skills or {}).items()],
            tags=list(tags),
            page=page,
            customer=customer,
        )
        await self.publish(ev)
        return ev

    async def abandon(
        self, tenant: str, contact: str, *, id: str | None = None, ts: int | None = None
    ) -> ContactAbandoned:
        """The customer gave up before an agent accepted."""
        ev = ContactAbandoned(
            id=id or new_id(), ts=ts if ts is not None else now_ms(), tenant=tenant, contact=contact
        )
        await self.publish(ev)
        return ev

    # -------------------------------------------------------- agent desktops

    async def login(
        self,
        agent: str,
        state: Literal["available", "paused"] = "available",
        reason: str | None = None,
        *,
        id: str | None = None,
        ts: int | None = None,
    ) -> AgentLoggedIn:
        ev = AgentLoggedIn(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            agent=agent,
            state=state,
            reason=reason,
        )
        await self.publish(ev)
        return ev

    async def logout(
        self, agent: str, *, id: str | None = None, ts: int | None = None
    ) -> AgentLoggedOut:
        ev = AgentLoggedOut(id=id or new_id(), ts=ts if ts is not None else now_ms(), agent=agent)
        await self.publish(ev)
        return ev

    async def set_state(
        self,
        agent: str,
        state: Literal["available", "paused", "offline"],
        reason: str | None = None,
        *,
        id: str | None = None,
        ts: int | None = None,
    ) -> AgentStateChanged:
        """Available, a pause with its reason, or offline."""
        ev = AgentStateChanged(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            agent=agent,
            state=state,
            reason=reason,
        )
        await self.publish(ev)
        return ev

    async def accept(
        self, offer: OfferMade, *, id: str | None = None, ts: int | None = None
    ) -> OfferAccepted:
        """Take the offered contact."""
        ev = OfferAccepted(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            tenant=offer.tenant,
            contact=offer.contact,
            agent=offer.agent,
        )
        await self.publish(ev)
        return ev

    async def reject(
        self,
        offer: OfferMade,
        reason: str | None = None,
        *,
        id: str | None = None,
        ts: int | None = None,
    ) -> OfferRejected:
        """Decline the offer; the contact goes to the next best agent."""
        ev = OfferRejected(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            tenant=offer.tenant,
            contact=offer.contact,
            agent=offer.agent,
            reason=reason,
        )
        await self.publish(ev)
        return ev

    async def complete(
        self,
        tenant: str,
        contact: str,
        agent: str,
        *,
        wrap_up_code: str | None = None,
        tags: Sequence[str] = (),
        resolved: bool | None = None,
        id: str | None = None,
        ts: int | None = None,
    ) -> ContactCompleted:
        """Talk/writing ended (wrap-up starts if the queue has one)."""
        ev = ContactCompleted(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            tenant=tenant,
            contact=contact,
            agent=agent,
            wrap_up_code=wrap_up_code,
            tags=list(tags),
            resolved=resolved,
        )
        await self.publish(ev)
        return ev

    async def finish_wrap_up(
        self, tenant: str, contact: str, agent: str, *, id: str | None = None, ts: int | None = None
    ) -> WrapUpFinished:
        ev = WrapUpFinished(
            id=id or new_id(),
            ts=ts if ts is not None else now_ms(),
            tenant=tenant,
            contact=contact,
            agent=agent,
        )
        await self.publish(ev)
        return ev

    # ------------------------------------------------------------ following

    async def subscribe_offers(self, agent: str) -> OfferSubscription:
        """Offers made to ``agent`` from now on (any tenant)."""
        sub = OfferSubscription()
        sub._client = self
        self._offer_subs.add(sub)
        sub._sub = await self.nc.subscribe(self.names.agent_offers(agent), cb=sub._on_msg)
        await self.nc.flush()
        return sub

    async def decisions(
        self,
        tenant: str | None = None,
        *,
        start_seq: int | None = None,
        subject: str | None = None,
    ) -> DecisionSubscription:
        """Decisions from the decision stream, in order: new ones, or from ``start_seq``.

        ``tenant`` narrows to one tenant's subjects; ``subject`` to any filter.
        """
        filt = subject or (
            self.names.tenant_decisions(tenant) if tenant else self.names.decision_wildcard
        )
        cfg = (
            ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq)
            if start_seq
            else ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        )
        sub = await self.js.subscribe(
            filt, stream=self.names.decision_stream, ordered_consumer=True, config=cfg
        )
        return DecisionSubscription(sub)

    async def follow(self, tenant: str) -> DecisionFeed:
        """One tenant's decisions as they are published (core NATS, live only)."""
        feed = DecisionFeed()
        feed._sub = await self.nc.subscribe(self.names.tenant_decisions(tenant), cb=feed._on_msg)
        await self.nc.flush()
        return feed

    def tenant_decisions(
        self, tenant: str, *, start_seq: int = 1, poll: float = 0.1
    ) -> DecisionPages:
        """One tenant's decisions in stream order from ``start_seq``, through the API
        (``api.decisions.<tenant>``): durable reading without JetStream rights."""
        return DecisionPages(self, tenant, start_seq, poll)

    # -------------------------------------------------------------- reading

    async def _view(self, operation: str) -> dict[str, Any] | None:
        try:
            value: dict[str, Any] = await self.request(operation)
        except ClientError as exc:
            if str(exc).startswith("not_found:"):
                return None
            raise
        return value

    async def agent_view(self, agent: str) -> dict[str, Any] | None:
        """The agent's projection: state, reason, since, load and capacity per channel."""
        return await self._view(f"agent.{encode_token(agent)}")

    async def queue_view(self, tenant: str, queue: str) -> dict[str, Any] | None:
        """The queue's projection: waiting, oldest wait, agents available."""
        return await self._view(f"queue.{encode_token(tenant)}.{encode_token(queue)}")

    async def tenant_view(self, tenant: str, date: str | None = None) -> dict[str, Any] | None:
        """The tenant's figures for today (its time zone), or for ``date`` (YYYY-MM-DD)."""
        op = f"tenant.{encode_token(tenant)}" + (f".{date}" if date else "")
        return await self._view(op)

    async def request(self, operation: str, payload: bytes = b"", timeout: float = 5.0) -> Any:
        """Call the JSON request/reply API (``operation`` as in docs/service.md)."""
        msg = await self.nc.request(self.names.api_subject(operation), payload, timeout=timeout)
        reply = json.loads(msg.data)
        if not reply.get("ok"):
            err = reply.get("error", {})
            raise ClientError(f"{err.get('code')}: {err.get('message')}")
        return reply.get("result")

    async def status(self) -> dict[str, Any]:
        """The answering service instance's role and position."""
        result: dict[str, Any] = await self.request("status")
        return result


def decode_offer(data: bytes) -> OfferMade | None:
    """An ``offer_made`` from a decision message's data, else None."""
    try:
        d = decode_decision(data)
    except msgspec.DecodeError:
        return None
    return d if isinstance(d, OfferMade) else None
