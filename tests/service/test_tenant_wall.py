"""The tenant wall, tried against a real nats-server loading the generated accounts.

Three tenants, each with its systems' and its supervisors' credentials, two agent
desktops, the provider's supervisors. For every ordered pair of tenants (A, B), A tries
every way in to B's data (subscriptions, wildcards, inboxes, JetStream consumers, the KV
bucket, the snapshots, the API) and every way to write as B; each refusal is counted and
printed. The positive cases (A sees all of its own) run in the same test, so it cannot
pass by refusing everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccroute.client import Client, now_ms
from ccroute.config import Config
from ccroute.events import ContactQueued, OfferMade
from ccroute.service.accounts import ServerAuth
from ccroute.service.embedded import EmbeddedNats
from ccroute.service.loadgen import make_config
from ccroute.service.service import (
    ROUTER_INBOX_PREFIX,
    Service,
    ServiceSettings,
    credential_options,
)
from ccroute.service.subjects import Names

from .conftest import fast_settings, run_service

TENANTS = ("t0", "t1", "t2")
AGENTS = ("a0", "a1")
DOMAIN = "test"


@dataclass
class Wall:
    server: EmbeddedNats
    auth: ServerAuth
    creds: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    async def connect(self, who: str, **kw: Any) -> NATS:
        opts = credential_options(str(self.creds[who]))
        opts.update(kw)
        return await nats.connect(self.url, allow_reconnect=False, **opts)

    async def client(self, who: str) -> Client:
        return await Client.connect(
            self.url, domain=DOMAIN, creds=str(self.creds[who]), allow_reconnect=False
        )

    async def issue(self, role: str, name: str, **kw: str) -> Path:
        """A new credential's file, once the running server has loaded it (accounts
        written, the server reloaded and given a moment)."""
        _, path = self.auth.store.issue(role, name=name, **kw)
        self.auth.write()
        self.server.reload()
        await asyncio.sleep(0.3)
        return path


@pytest.fixture
def wall(tmp_path: Path) -> Iterator[Wall]:
    auth = ServerAuth(tmp_path / "data", Names(DOMAIN))
    w = Wall(server=None, auth=auth)  # type: ignore[arg-type]
    w.creds["router"] = auth.store.ensure("router", "router-test")
    w.creds["admin"] = auth.store.ensure("admin", "admin-test")
    for t in TENANTS:
        _, w.creds[t] = auth.store.issue("tenant", tenant=t, name=f"crm-{t}")
        _, w.creds[f"sup-{t}"] = auth.store.issue("supervisor", tenant=t, name=f"sup-{t}")
    for a in AGENTS:
        _, w.creds[a] = auth.store.issue("agent", agent=a, name=f"desk-{a}")
    _, w.creds["provider"] = auth.store.issue("provider", name="provider-floor")
    conf = auth.write(TENANTS)
    w.server = EmbeddedNats(tmp_path / "nats", config_file=conf).start()
    try:
        yield w
    finally:
        w.server.stop()


def wall_config() -> Config:
    # Four agents: a0 and a1 have desktops, a2 and a3 are logged in by the admin, so every
    # tenant's arrivals are offered at once.
    return make_config(tenants=len(TENANTS), agents=4)


@contextlib.asynccontextmanager
async def serving_on_its_own_server(settings: ServiceSettings) -> AsyncIterator[Service]:
    """The service starting its own embedded server in ``settings.data_dir`` (no server
    given), until it is the writer or has ended (15 s at the most); stopped at the end."""
    stop = asyncio.Event()
    service = Service(wall_config(), settings)
    task = asyncio.create_task(service.run(stop))
    try:
        for _ in range(300):
            if service.role == "writer" or task.done():
                break
            await asyncio.sleep(0.05)
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def routing(wall: Wall) -> AsyncIterator[None]:
    settings = fast_settings(wall.url, domain=DOMAIN, creds=str(wall.creds["router"]))
    async with run_service(wall_config(), settings) as svc:
        await svc.wait_ready()
        yield


class Tally:
    """Counts the refusals (and the positive cases) by way in, and prints them."""

    def __init__(self) -> None:
        self.refused: dict[str, int] = {}
        self.allowed: dict[str, int] = {}

    def refuse(self, way: str, ok: bool, detail: str = "") -> None:
        assert ok, f"NOT refused: {way} {detail}"
        self.refused[way] = self.refused.get(way, 0) + 1

    def allow(self, way: str, ok: bool, detail: str = "") -> None:
        assert ok, f"own data not reachable: {way} {detail}"
        self.allowed[way] = self.allowed.get(way, 0) + 1

    def print(self, title: str) -> None:
        print(
            f"\n{title}: {sum(self.refused.values())} refusals, "
            f"{sum(self.allowed.values())} positive cases"
        )
        for way, n in sorted(self.refused.items()):
            print(f"  refused {n:4d}  {way}")
        for way, n in sorted(self.allowed.items()):
            print(f"  allowed {n:4d}  {way}")


async def refused_request(nc: NATS, subject: str, data: bytes = b"") -> bool:
    """No one answers (no import), or the answer is an error (JetStream not enabled)."""
    try:
        msg = await nc.request(subject, data, timeout=1.0)
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
        return True
    try:
        body = json.loads(msg.data)
    except ValueError:
        return False
    return isinstance(body, dict) and ("error" in body or body.get("ok") is False)


class Catch:
    """Every message a connection receives on a subscription."""

    def __init__(self) -> None:
        self.msgs: list[Msg] = []

    async def on_msg(self, msg: Msg) -> None:
        self.msgs.append(msg)

    def subjects(self) -> list[str]:
        return [m.subject for m in self.msgs]

    def payloads(self) -> bytes:
        return b"\n".join(m.data for m in self.msgs)


def arrival(tenant: str, contact: str, n: int, customer: str | None = None) -> bytes:
    return json.dumps(
        {
            "type": "contact_arrived",
            "id": f"arr-{tenant}-{contact}-{n}",
            "ts": now_ms(),
            "tenant": tenant,
            "contact": contact,
            "queue": f"{tenant}-live",
            "channel": "chat",
            "customer": customer or f"secret-customer-of-{tenant}",
        }
    ).encode()


async def test_every_tenant_is_walled_off_from_every_other(wall: Wall) -> None:
    names = Names(DOMAIN)
    tally = Tally()
    async with routing(wall):
        conns = {t: await wall.connect(t) for t in TENANTS}
        desks = {a: await wall.client(a) for a in AGENTS}
        for desk in desks.values():
            await desk.login(desk_agent(desk, desks))
        operator = Client(await wall.connect("admin"), DOMAIN, owns_connection=True)
        for a in ("a2", "a3"):
            await operator.login(a)
        await operator.close()
        # Every tenant listens everywhere it can: its own subjects, everything, inboxes.
        catches: dict[tuple[str, str], Catch] = {}
        for t, nc in conns.items():
            for way, subject in (
                ("wildcard >", ">"),
                ("wildcard ccroute.>", "ccroute.>"),
                ("inbox _INBOX.>", "_INBOX.>"),
                ("router inbox", f"{ROUTER_INBOX_PREFIX}.>"),
                ("JetStream acks/deliveries $JS.>", "$JS.>"),
                ("KV/object store subjects", "$KV.>"),
            ):
                catches[(t, way)] = c = Catch()
                await nc.subscribe(subject, cb=c.on_msg)
            for b in TENANTS:
                catches[(t, f"decisions of {b}")] = c = Catch()
                await nc.subscribe(names.tenant_decisions(b), cb=c.on_msg)
                catches[(t, f"dead letters of {b}")] = c = Catch()
                await nc.subscribe(names.tenant_deadletters(b), cb=c.on_msg)
            await nc.flush()

        # Traffic: each tenant's contact source publishes arrivals and one malformed input.
        for t, nc in conns.items():
            for n in range(2):
                ack = json.loads(
                    (
                        await nc.request(
                            names.input_subject("contact_arrived", t),
                            arrival(t, f"c{n}", n),
                            timeout=5,
                        )
                    ).data
                )
                tally.allow("publish own input (JetStream ack)", ack.get("seq", 0) > 0, str(ack))
            await nc.request(names.input_subject("contact_arrived", t), b"{junk", timeout=5)
            # An input naming another tenant, on this tenant's own subject: a dead letter
            # filed under this tenant (the subject's), never under the one it names.
            other = TENANTS[(TENANTS.index(t) + 1) % len(TENANTS)]
            await nc.request(
                names.input_subject("contact_arrived", t),
                arrival(other, "x", 7, customer=f"forged-by-{t}"),
                timeout=5,
            )
        # Wait until every tenant has seen its own offers and dead letter.
        admin = await wall.connect("admin")
        js = admin.jetstream()
        for _ in range(100):
            own = [catches[(t, f"decisions of {t}")].msgs for t in TENANTS]
            dead = [catches[(t, f"dead letters of {t}")].msgs for t in TENANTS]
            if all(len(o) >= 2 for o in own) and all(len(d) >= 2 for d in dead):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # anything that could leak has had time to arrive

        # Every subscription is checked before any probe below publishes anything.
        for a in TENANTS:
            for b in TENANTS:
                if b == a:
                    continue
                leaked = b"secret-customer-of-" + b.encode()
                for way in (
                    "wildcard >",
                    "wildcard ccroute.>",
                    "inbox _INBOX.>",
                    "router inbox",
                    "JetStream acks/deliveries $JS.>",
                    "KV/object store subjects",
                ):
                    c = catches[(a, way)]
                    tally.refuse(
                        f"subscribe {way}",
                        leaked not in c.payloads() and not any(f".{b}." in s for s in c.subjects()),
                        f"{a} saw {c.subjects()}",
                    )
                tally.refuse(
                    "subscribe to B's decisions",
                    not catches[(a, f"decisions of {b}")].msgs,
                )
                tally.refuse(
                    "subscribe to B's dead letters",
                    not catches[(a, f"dead letters of {b}")].msgs,
                )
        for nc in conns.values():
            await nc.close()  # its catch-all subscriptions would swallow the probes' requests
        probes: dict[str, NATS] = {}
        for a in TENANTS:
            nc = probes[a] = await wall.connect(a)
            # Positive: A sees all of its own.
            tally.allow("own decisions", len(catches[(a, f"decisions of {a}")].msgs) >= 2)
            own_dead = catches[(a, f"dead letters of {a}")].subjects()
            tally.allow(
                "own dead letters, filed under own tenant",
                sorted(own_dead)
                == [
                    f"{names.prefix}.dlq.{a}.malformed",
                    f"{names.prefix}.dlq.{a}.subject_mismatch",
                ],
                str(own_dead),
            )
            everything = catches[(a, "wildcard >")].subjects()
            tally.allow(
                "wildcard > shows own decisions",
                any(s.startswith(f"{names.out_prefix}{a}.") for s in everything),
            )
            view = json.loads(
                (await nc.request(names.api_subject(f"tenant.{a}"), b"", timeout=5)).data
            )
            tally.allow("API about own tenant", view["ok"], str(view))
            page = json.loads(
                (await nc.request(names.api_subject(f"decisions.{a}"), b"{}", timeout=5)).data
            )
            tally.allow(
                "API decisions of own tenant",
                page["ok"]
                and len(page["result"]["decisions"]) >= 2
                and all(d["decision"]["tenant"] == a for d in page["result"]["decisions"]),
            )
            q = await nc.request(names.api_subject(f"queue.{a}.{a}-live"), b"", timeout=5)
            tally.allow("API about own queue", json.loads(q.data)["ok"])
            for b in TENANTS:
                if b == a:
                    continue
                filt = names.tenant_decisions(b)
                for stream in (names.decision_stream, names.input_stream):
                    tally.refuse(
                        "create consumer without filter",
                        await refused_request(nc, f"$JS.API.CONSUMER.CREATE.{stream}", b"{}"),
                    )
                    body = json.dumps(
                        {"stream_name": stream, "config": {"name": "x", "filter_subject": filt}}
                    ).encode()
                    tally.refuse(
                        "create consumer with B's filter",
                        await refused_request(
                            nc, f"$JS.API.CONSUMER.CREATE.{stream}.x.{filt}", body
                        ),
                    )
                    tally.refuse(
                        "pull from the router's consumer",
                        await refused_request(
                            nc,
                            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{names.input_consumer}",
                            b'{"batch":1}',
                        ),
                    )
                kv = names.kv_bucket
                tally.refuse(
                    "read B's KV key",
                    await refused_request(
                        nc, f"$JS.API.DIRECT.GET.KV_{kv}.$KV.{kv}.{Names.tenant_key(b)}"
                    ),
                )
                tally.refuse(
                    "write the router's KV",
                    await refused_request(nc, f"$KV.{kv}.{Names.tenant_key(b)}", b"{}"),
                )
                snap = names.snapshot_bucket
                tally.refuse(
                    "read the snapshot object",
                    await refused_request(
                        nc, f"$JS.API.STREAM.MSG.GET.OBJ_{snap}", b'{"last_by_subj":"$O.>"}'
                    ),
                )
                tally.refuse(
                    "write the snapshot object store",
                    await refused_request(nc, f"$O.{snap}.C.forged", b"x"),
                )
                for op in (f"tenant.{b}", f"queue.{b}.{b}-live", f"decisions.{b}", "status"):
                    tally.refuse(
                        "request/reply about B", await refused_request(nc, names.api_subject(op))
                    )
                tally.refuse(
                    "submit as B through the API",
                    await refused_request(
                        nc, names.api_subject(f"submit.{b}"), arrival(b, "forged", 9)
                    ),
                )
                tally.refuse(
                    "publish as B",
                    await refused_request(
                        nc, names.input_subject("contact_arrived", b), arrival(b, "forged", 9)
                    ),
                )
                tally.refuse(
                    "publish as an agent",
                    await refused_request(
                        nc,
                        names.agent_input_subject("agent_logged_out", "a0"),
                        b'{"type":"agent_logged_out","id":"f","ts":1,"agent":"a0"}',
                    ),
                )
                tally.refuse(
                    "publish a clock tick",
                    await refused_request(
                        nc,
                        names.clock_subject,
                        json.dumps(
                            {"type": "clock_tick", "id": "f", "ts": now_ms() + 29 * 86_400_000}
                        ).encode(),
                    ),
                )
                tally.refuse(
                    "JetStream account info",
                    await refused_request(nc, "$JS.API.INFO"),
                )

        # Nothing forged reached the log: every input there is one its owner published.
        info = await js.stream_info(names.input_stream, subjects_filter=">")
        subjects = info.state.subjects or {}
        tally.allow("input log holds only own inputs", names.clock_subject not in subjects)
        for t in TENANTS:
            assert subjects.get(names.input_subject("contact_arrived", t)) == 4
        await admin.close()
        for nc in probes.values():
            await nc.close()
        for desk in desks.values():
            await desk.close()
    pairs = len(TENANTS) * (len(TENANTS) - 1)
    tally.print(f"tenant wall, {len(TENANTS)} tenants, {pairs} ordered pairs")
    # 8 subscriptions, 6 consumer attempts, 4 KV/object store, 5 API, 4 writes per pair.
    assert sum(tally.refused.values()) == pairs * 27


def desk_agent(desk: Client, desks: dict[str, Client]) -> str:
    return next(a for a, d in desks.items() if d is desk)


async def test_an_agent_desktop_sees_and_acts_for_its_own_agent_only(wall: Wall) -> None:
    names = Names(DOMAIN)
    tally = Tally()
    errors: dict[str, list[str]] = {a: [] for a in AGENTS}
    async with routing(wall):
        ncs = {}
        for a in AGENTS:

            async def on_error(exc: Exception, a: str = a) -> None:
                errors[a].append(str(exc))

            ncs[a] = await wall.connect(a, error_cb=on_error)
        desks = {a: Client(ncs[a], DOMAIN) for a in AGENTS}
        for d in desks.values():
            d.acts_as_agent = True
        offers = {a: await desks[a].subscribe_offers(a) for a in AGENTS}
        for a in AGENTS:
            await desks[a].login(a)
        contact_source = await wall.client("t0")
        await contact_source.arrive("t0", "k1", queue="t0-live", channel="voice")
        await contact_source.arrive("t0", "k2", queue="t0-live", channel="voice")
        got = {a: await offers[a].next(timeout=5) for a in AGENTS}
        for a in AGENTS:
            tally.allow("own offers", isinstance(got[a], OfferMade) and got[a].agent == a)
            view = await desks[a].agent_view(a)
            tally.allow("own agent view", view is not None)
        for x in AGENTS:
            for y in AGENTS:
                if x == y:
                    continue
                nc = ncs[x]
                for subject in (
                    names.agent_decisions(y),
                    names.agent_offers(y),
                    ">",
                    names.tenant_decisions("t0"),
                    f"_INBOX.{y}.>",
                    f"{names.out_prefix}*.*.*",
                    "_INBOX.>",
                    f"{ROUTER_INBOX_PREFIX}.>",
                    "$JS.>",
                ):
                    before = len(errors[x])
                    sub = await nc.subscribe(subject)
                    await nc.flush()
                    await asyncio.sleep(0.05)
                    tally.refuse(
                        f"agent subscribes to {subject.replace(y, 'Y')}",
                        any("permissions violation" in e for e in errors[x][before:]),
                    )
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                for subject, body in (
                    (
                        names.agent_input_subject("agent_logged_out", y),
                        json.dumps(
                            {"type": "agent_logged_out", "id": f"o-{x}", "ts": 2, "agent": y}
                        ).encode(),
                    ),
                    (names.api_subject(f"agent.{y}"), b""),
                    (names.api_subject(f"submit._agents.{y}"), b"{}"),
                    (names.input_subject("offer_accepted", "t0"), b"{}"),
                ):
                    before = len(errors[x])
                    await nc.publish(subject, body)
                    await nc.flush()
                    await asyncio.sleep(0.05)
                    tally.refuse(
                        f"agent publishes to {subject.replace(y, 'Y')}",
                        any("permissions violation" in e for e in errors[x][before:]),
                    )
                # On its own subject, an input for another agent is a dead letter.
                forged = json.dumps(
                    {"type": "agent_logged_out", "id": f"f-{x}", "ts": now_ms(), "agent": y}
                ).encode()
                await nc.request(names.agent_input_subject("agent_logged_out", x), forged)
        admin = await wall.connect("admin")
        forged_dlq = f"{names.prefix}.dlq._agents.subject_mismatch"
        dead: dict[str, int] = {}
        for _ in range(100):
            info = await admin.jetstream().stream_info(names.deadletter_stream, subjects_filter=">")
            dead = info.state.subjects or {}
            if dead.get(forged_dlq):
                break
            await asyncio.sleep(0.05)
        tally.refuse(
            "forged agent inputs dead-lettered",
            dead.get(forged_dlq) == len(AGENTS) * (len(AGENTS) - 1),
            str(dead),
        )
        for y in AGENTS:
            view = await desks[y].agent_view(y)
            tally.refuse(
                "act for another agent on own subject",
                view is not None and view["state"] != "offline",
                str(view),
            )
        # The offered desktops accept: their own action, on their own subject, works.
        for a in AGENTS:
            await desks[a].accept(got[a])
        for _ in range(100):
            views = [await desks[a].agent_view(a) for a in AGENTS]
            if all(v and v["load"].get("voice") == 1 for v in views):
                break
            await asyncio.sleep(0.05)
        for a in AGENTS:
            view = await desks[a].agent_view(a)
            tally.allow(
                "own accept applied", view is not None and view["load"].get("voice") == 1, str(view)
            )
        await admin.close()
        await contact_source.close()
        for nc in ncs.values():
            await nc.close()
    tally.print(f"agent wall, {len(AGENTS)} agents")


async def test_the_documented_flows_work_with_least_privilege(wall: Wall) -> None:
    """Contact source, agent desktop and supervisors, each with its own credential."""
    async with routing(wall):
        source = await wall.client("t1")
        desk = await wall.client("a0")
        supervisor = await wall.client("sup-t1")
        provider = await wall.client("provider")
        feed = await supervisor.follow("t1")
        offers = await desk.subscribe_offers("a0")
        await desk.login("a0")
        await source.arrive("t1", "chat-1", queue="t1-live", channel="chat", customer="c-9")
        offer = await offers.next(timeout=5)
        assert offer.tenant == "t1" and offer.contact == "chat-1"
        await desk.accept(offer)
        await desk.complete(offer.tenant, offer.contact, offer.agent)
        live = await feed.next(timeout=5)
        assert isinstance(live, OfferMade) and live.tenant == "t1"
        # The supervisor reads the tenant's decisions durably, in order, from the start.
        seq, first = await supervisor.tenant_decisions("t1").next(timeout=5)
        assert seq >= 1 and first == live
        view = None
        for _ in range(100):
            view = await supervisor.tenant_view("t1")
            if view and view.get("completed"):
                break
            await asyncio.sleep(0.05)
        assert view is not None and view["offered"] == 1 and view["completed"] == 1
        # The provider's supervisors read every tenant, and publish nothing.
        assert await provider.queue_view("t1", "t1-live") is not None
        assert (await provider.status())["role"] == "writer"
        with pytest.raises(nats.errors.NoRespondersError):
            await provider.arrive("t0", "x", queue="t0-live", channel="chat")
        # A tenant's supervisor reads, but does not write.
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await supervisor.nc.request(
                Names(DOMAIN).input_subject("contact_arrived", "t1"), b"{}", timeout=0.5
            )
        for c in (source, desk, supervisor, provider):
            await c.close()


async def test_revoked_credentials_are_dropped_at_once(wall: Wall) -> None:
    path = await wall.issue("tenant", tenant="t2", name="old-crm")
    closed = asyncio.Event()

    async def on_closed() -> None:
        closed.set()

    nc = await nats.connect(
        wall.url, allow_reconnect=False, closed_cb=on_closed, **credential_options(str(path))
    )
    assert nc.is_connected
    seed = credential_options(str(path))["nkeys_seed_str"]
    wall.auth.store.revoke("old-crm")
    wall.auth.write()
    assert wall.auth.reload()  # through the pid file, as `ccroute creds revoke` does
    await asyncio.wait_for(closed.wait(), 10)
    assert not path.exists()  # the store's copy of the secret is gone
    # The same seed no longer gets in, nor does an anonymous client.
    record = wall.auth.store.get("old-crm")
    assert record is not None and record.revoked_at is not None
    for opts in ({"nkeys_seed_str": seed}, {}):
        with pytest.raises(Exception, match=r"[Aa]uthoriz"):
            await nats.connect(
                wall.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2, **opts
            )
    # The other credentials keep working.
    ok = await wall.connect("t2")
    await ok.close()


def test_secrets_are_written_for_their_owner_only(tmp_path: Path) -> None:
    auth = ServerAuth(tmp_path / "data", Names(DOMAIN))
    cred, path = auth.store.issue("agent", agent="Åsa Öberg", name="desk-asa")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    registry = auth.store.registry_path.read_text()
    seed = next(line for line in text.splitlines() if line.startswith("SU"))
    assert seed not in registry and cred.public_key in registry
    assert "inbox_prefix: _INBOX.=C3=85sa=20=C3=96berg" in text
    with pytest.raises(ValueError):
        auth.store.issue("tenant", name="no-tenant")
    assert os.environ.get("CCROUTE_NO_SUCH") is None


async def test_insecure_dev_is_open_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ServiceSettings(
        domain=DOMAIN, data_dir=str(tmp_path / "data"), insecure_dev=True, tick_ms=0
    )
    async with serving_on_its_own_server(settings) as service:
        assert service.embedded is not None and service.embedded.config_file is None
        anyone = await nats.connect(service.embedded.url, allow_reconnect=False)
        await anyone.close()
        assert not (tmp_path / "data" / "auth").exists()  # no credentials were made
    assert "WARNING: --insecure-dev" in capsys.readouterr().err


async def test_a_gateway_acts_for_every_tenant_and_agent_but_never_ticks(wall: Wall) -> None:
    path = await wall.issue("gateway", name="web-1")
    names = Names(DOMAIN)
    async with routing(wall):
        gateway = await Client.connect(wall.url, domain=DOMAIN, creds=str(path))
        offers = await gateway.subscribe_offers("a1")
        gateway.acts_as_agent = True  # acting for a desktop: the agent's own subject
        await gateway.login("a1")
        for t in TENANTS:
            await gateway.arrive(t, f"web-{t}", queue=f"{t}-live", channel="chat")
        offer = await offers.next(timeout=5)
        await gateway.accept(offer)
        # Each tenant's inputs reach the log through its own entry stream: t2's arrival
        # may be routed after t0's offer, so wait for t2's queue to be written.
        view = None
        for _ in range(100):
            view = await gateway.queue_view("t2", "t2-live")
            if view is not None:
                break
            await asyncio.sleep(0.05)
        assert view is not None
        tick = json.dumps({"type": "clock_tick", "id": "g", "ts": now_ms()}).encode()
        assert await refused_request(gateway.nc, names.clock_subject, tick)
        assert await refused_request(gateway.nc, "$JS.API.INFO")
        await gateway.close()


def test_creds_config_is_loadable_by_a_server_of_ones_own(tmp_path: Path) -> None:
    import subprocess
    import sys

    from .conftest import REPO

    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    data = str(tmp_path / "data")
    for args in (
        ["issue", "router", "--name", "router-prod"],
        ["issue", "tenant", "--tenant", "acme", "--name", "acme-web"],
        ["config", "--out", str(tmp_path / "ccroute-accounts.conf")],
    ):
        no_reload = ["--no-reload"] if args[0] != "config" else []
        subprocess.run(
            [sys.executable, "-m", "ccroute", "creds", *args, "--data-dir", data, *no_reload],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    text = (tmp_path / "ccroute-accounts.conf").read_text()
    assert '"CCROUTE_DEFAULT_T_acme"' in text and "system_account" not in text
    # No seed in anything `creds` prints (issue, list, revoke, config) nor in the registry.
    printed = ""
    for args in (["list"], ["config"], ["revoke", "acme-web", "--no-reload"]):
        done = subprocess.run(
            [sys.executable, "-m", "ccroute", "creds", *args, "--data-dir", data],
            env=env, check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        printed += done.stdout + done.stderr
    registry = (tmp_path / "data" / "auth" / "credentials.json").read_text()
    seed = credential_options(str(tmp_path / "data" / "auth" / "creds" / "router-prod.creds"))
    assert "router-prod" in printed and "acme-web" in printed
    for where in (printed, registry, text):
        assert seed["nkeys_seed_str"] not in where
    # The operator's own configuration includes ccroute's accounts (a server that has an
    # accounts block already merges them by hand, docs/security.md).
    own = tmp_path / "own.conf"
    own.write_text('server_name: "mine"\ninclude "ccroute-accounts.conf"\n')
    server = EmbeddedNats(tmp_path / "nats", config_file=own).start()
    try:
        assert "Server is ready" in server.log_path.read_text()
    finally:
        server.stop()


def one_tenant_desk_config() -> Config:
    """Desk ``a0`` serves tenant ``t0`` only (the others serve every tenant)."""
    config = wall_config()
    agents = [
        msgspec.structs.replace(a, tenants=["t0"]) if a.id == "a0" else a for a in config.agents
    ]
    return msgspec.structs.replace(config, agents=agents)


async def test_an_agent_desktop_cannot_widen_its_own_profile(wall: Wall) -> None:
    """Which tenants an agent serves is the provider's to say: a compromised desktop that
    names every tenant in an ``agent_profile_changed`` of its own would be offered (and
    shown the customers of) tenants it does not work for."""
    names = Names(DOMAIN)
    tally = Tally()
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    settings = fast_settings(wall.url, domain=DOMAIN, creds=str(wall.creds["router"]))
    async with run_service(one_tenant_desk_config(), settings) as svc:
        await svc.wait_ready()
        nc = await wall.connect("a0", error_cb=on_error)
        desk = Client(nc, DOMAIN)
        desk.acts_as_agent = True
        desk.agent = "a0"
        offers = await desk.subscribe_offers("a0")
        await desk.login("a0")
        widen = {
            "type": "agent_profile_changed",
            "ts": now_ms(),
            "agent": "a0",
            "tenants": list(TENANTS),
            "capacity": {"chat": 5},
        }
        # On its own agent subject, which it may publish to for everything else.
        await nc.publish(
            names.agent_input_subject("agent_profile_changed", "a0"),
            json.dumps({**widen, "id": "widen-1"}).encode(),
        )
        await nc.flush()
        await asyncio.sleep(0.1)
        tally.refuse(
            "agent publishes its own profile change",
            any("permissions violation" in e for e in errors),
            str(errors),
        )
        # Through the API the service submits for it (with the router's rights).
        reply = json.loads(
            (
                await nc.request(
                    names.api_subject("submit._agents.a0"),
                    json.dumps({**widen, "id": "widen-2"}).encode(),
                    timeout=5,
                )
            ).data
        )
        tally.refuse(
            "agent submits its own profile change through the API",
            reply.get("ok") is False and reply["error"]["code"] == "forbidden",
            str(reply),
        )
        # A contact of t1 (which a0 does not serve) then one of t0: a0 is offered t0's.
        source = await wall.client("t1")
        await source.arrive("t1", "not-for-a0", queue="t1-live", channel="chat")
        await source.close()
        source = await wall.client("t0")
        await source.arrive("t0", "for-a0", queue="t0-live", channel="chat")
        await source.close()
        offer = await offers.next(timeout=5)
        tally.refuse(
            "agent offered a tenant it does not serve",
            isinstance(offer, OfferMade) and offer.tenant == "t0",
            str(offer),
        )
        # The provider's own tools still change profiles (the admin's credential).
        admin = Client(await wall.connect("admin"), DOMAIN, owns_connection=True)
        seq = await admin.publish_raw(
            names.agent_input_subject("agent_profile_changed", "a1"),
            json.dumps({**widen, "id": "by-admin", "agent": "a1"}).encode(),
            "by-admin",
        )
        tally.allow("the admin changes a profile", seq > 0)
        await admin.close()
        await nc.close()
    tally.print("agent profile wall")


async def test_the_data_directory_is_for_its_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The embedded server's store, the snapshots and the contact records in the data
    directory hold every tenant: another local user must not read them off the disk,
    whatever the umask. A directory that exists already, open to others, is named."""
    data = tmp_path / "data"
    settings = ServiceSettings(domain=DOMAIN, data_dir=str(data), tick_ms=0)
    async with serving_on_its_own_server(settings) as service:
        assert service.role == "writer"
    for d in (data, data / "auth", data / "auth" / "creds"):
        assert stat.S_IMODE(d.stat().st_mode) & 0o077 == 0, f"{d} open to others"
    out = capsys.readouterr()
    assert "open to other users" not in out.err
    # The router's and the admin's seeds are in their files, never in the output or logs.
    seeds = [
        credential_options(str(p))["nkeys_seed_str"] for p in (data / "auth" / "creds").iterdir()
    ]
    server_log = (data / "nats" / "nats-server.log").read_text()
    assert len(seeds) == 2 and "admin credentials in" in out.out
    for seed in seeds:
        assert seed not in out.out + out.err + caplog.text + server_log
    # Someone made it world-readable: the next start says so (and changes nothing of theirs).
    data.chmod(0o755)
    async with serving_on_its_own_server(settings):
        pass
    assert "open to other users" in capsys.readouterr().err


async def test_desktops_supervisors_provider_and_gateway_reach_no_router_internals(
    wall: Wall,
) -> None:
    """Every credential that is not the router's, tried on the router's own doors:
    JetStream (streams, consumers, KV, snapshots), clock ticks, the legacy agent subject,
    the router's inbox and the system account's monitoring."""
    wall.creds["gateway"] = await wall.issue("gateway", name="web-probe")
    names = Names(DOMAIN)
    kv, snap = names.kv_bucket, names.snapshot_bucket
    router_account = f"CCROUTE_{DOMAIN.upper()}_ROUTER"
    tally = Tally()
    who_all = ("a0", "sup-t0", "provider", "gateway")
    async with routing(wall):
        ncs = {who: await wall.connect(who) for who in who_all}
        snoops: dict[str, list[Catch]] = {}
        for who in ("provider", "gateway", "sup-t0"):
            snoops[who] = []
            for subject in (f"{ROUTER_INBOX_PREFIX}.>", "$JS.>", "$KV.>", "$O.>"):
                c = Catch()
                await ncs[who].subscribe(subject, cb=c.on_msg)
                snoops[who].append(c)
            await ncs[who].flush()
        # Traffic the router answers and delivers: an arrival and an API read.
        source = await wall.client("t0")
        await source.arrive("t0", "probe-1", queue="t0-live", channel="chat")
        await source.tenant_view("t0")  # an API read: the router reads KV on its inbox
        await source.close()
        await asyncio.sleep(0.3)
        for who, catches in snoops.items():
            for c in catches:
                tally.refuse("snoop the router's inbox, $JS, $KV, $O", not c.msgs, who)
        tick = json.dumps({"type": "clock_tick", "id": "t", "ts": now_ms() + 86_400_000})
        legacy = json.dumps({"type": "agent_logged_out", "id": "l", "ts": now_ms(), "agent": "a1"})
        legacy_subject = f"{names.in_prefix}_agents.agent_logged_out"
        for who in who_all:
            nc = ncs[who]
            for way, subject, body in (
                ("JetStream account info", "$JS.API.INFO", ""),
                ("list the streams", "$JS.API.STREAM.NAMES", ""),
                ("create a consumer", f"$JS.API.CONSUMER.CREATE.{names.input_stream}", "{}"),
                ("read a KV key", f"$JS.API.DIRECT.GET.KV_{kv}.$KV.{kv}.tenant.t1.today", ""),
                ("write the lease", f"$KV.{kv}.{Names.LEASE_KEY}", "{}"),
                (
                    "read the snapshots",
                    f"$JS.API.STREAM.MSG.GET.OBJ_{snap}",
                    '{"last_by_subj":"$O.>"}',
                ),
                ("publish a clock tick", names.clock_subject, tick),
                ("publish on the legacy agent subject", legacy_subject, legacy),
            ):
                tally.refuse(way, await refused_request(nc, subject, body.encode()), who)
            if who in ("provider", "gateway"):  # desktops and supervisors may not even ask
                reply = await nc.request("$SYS.REQ.ACCOUNT.PING.CONNZ", b"", timeout=2)
                tally.refuse(
                    "system account's connection list names the router or a tenant",
                    router_account.encode() not in reply.data
                    and b"ccroute-serve" not in reply.data
                    and b"_T_t1" not in reply.data,
                    who,
                )
        # Positive: each still does its own job.
        desk = Client(ncs["a0"], DOMAIN)
        tally.allow("desktop reads its agent", await desk.agent_view("a0") is not None)
        sup = Client(ncs["sup-t0"], DOMAIN)
        tally.allow("supervisor reads its tenant", await sup.tenant_view("t0") is not None)
        tally.allow(
            "provider reads the status",
            (await Client(ncs["provider"], DOMAIN).status())["role"] == "writer",
        )
        gw = Client(ncs["gateway"], DOMAIN)
        tally.allow(
            "gateway publishes an input",
            (await gw.arrive("t1", "gw-1", queue="t1-live", channel="chat")).tenant == "t1",
        )
        for nc in ncs.values():
            await nc.close()
    tally.print("router internals, 4 other credentials")
    assert sum(tally.refused.values()) == 3 * 4 + 4 * 8 + 2


async def test_reserved_tokens_as_tenant_ids_get_no_reserved_subjects(tmp_path: Path) -> None:
    """Tenants configured as ``_agents``, ``_clock``, ``_unknown`` (or ``=5Fagents``, what
    an escaped ``_agents`` looks like) get accounts of their own escaped token: none of
    them reaches agent inputs, ticks, or the dead letters of agents or of no tenant."""
    reserved = ("_agents", "_clock", "_unknown", "=5Fagents")
    names = Names(DOMAIN)
    auth = ServerAuth(tmp_path / "data", names)
    admin_path = auth.store.ensure("admin", "admin-test")
    paths = {
        t: auth.store.issue("tenant", tenant=t, name=f"t{i}")[1] for i, t in enumerate(reserved)
    }
    conf = auth.write(reserved)
    server = EmbeddedNats(tmp_path / "nats", config_file=conf).start()
    tally = Tally()
    try:
        admin = await nats.connect(server.url, **credential_options(str(admin_path)))
        arrived = Catch()
        await admin.subscribe(names.input_wildcard, cb=arrived.on_msg)
        # A tenant's in.<t>.> lands on entry.<t>.> in the router's account (its import
        # maps it there, into its entry stream): both are the way to the router.
        await admin.subscribe(f"{names.entry_prefix}>", cb=arrived.on_msg)
        await admin.flush()
        tenants = {}
        catches = {}
        for t, path in paths.items():
            tenants[t] = await nats.connect(server.url, **credential_options(str(path)))
            catches[t] = Catch()
            await tenants[t].subscribe(">", cb=catches[t].on_msg)
            await tenants[t].flush()
        # The router's account publishes what these ids could be mistaken for.
        p = names.prefix
        for subject in (
            f"{p}.dlq._agents.malformed",
            f"{p}.dlq._unknown.malformed",
            f"{p}.dlq._clock.malformed",
            f"{p}.out._agents.agent_state_set.a0",
            f"{p}.out._agents.input_rejected._",
        ):
            await admin.publish(subject, b"service-internal")
        for t in reserved:  # and each one's own decision
            await admin.publish(names.decision_subject("contact_queued", t, None), t.encode())
        await admin.flush()
        for t, nc in tenants.items():
            for subject in (
                names.clock_subject,
                names.agent_input_subject("agent_logged_in", "a0"),
                f"{names.in_prefix}_agents.agent_logged_in",
                f"{names.in_prefix}{t}.contact_arrived",  # the raw id as a token
            ):
                await nc.publish(subject, b"forged-by-" + t.encode())
            await nc.publish(names.input_subject("contact_arrived", t), b"own-of-" + t.encode())
            await nc.flush()
        # Wait for what must arrive (each tenant's own decision, its own input at the
        # router) on a loaded machine, then a moment more for anything that could leak.
        for _ in range(100):
            own_in = {names.entry_of(names.input_subject("contact_arrived", t)) for t in reserved}
            if own_in <= {m.subject for m in arrived.msgs} and all(
                any(m.subject.startswith(names.out_prefix) for m in catches[t].msgs)
                for t in reserved
            ):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        decisions_or_dead = (names.out_prefix, f"{names.prefix}.dlq.")
        for t in reserved:
            c = catches[t]
            tally.refuse(
                "reserved-looking tenant sees service-internal subjects",
                b"service-internal" not in c.payloads(),
                f"{t}: {c.subjects()}",
            )
            tally.refuse(
                "reserved-looking tenant sees another's decisions",
                [m.data for m in c.msgs if m.subject.startswith(decisions_or_dead)] == [t.encode()],
                f"{t}: {c.subjects()}",
            )
        got = {m.subject: m.data for m in arrived.msgs}
        for t in reserved:
            own = names.entry_of(names.input_subject("contact_arrived", t))
            tally.allow("own input reaches the router", got.get(own) == b"own-of-" + t.encode())
            tally.refuse(
                "reserved-looking tenant publishes a tick, agent or raw-token input",
                not any(d == b"forged-by-" + t.encode() for d in got.values()),
                str(got),
            )
        for nc in [admin, *tenants.values()]:
            await nc.close()
    finally:
        server.stop()
    tally.print("reserved tokens as tenant ids")
    assert sum(tally.refused.values()) == 3 * len(reserved)


async def test_a_tenant_cannot_purge_expire_or_schedule_the_input_log(wall: Wall) -> None:
    """Headers JetStream acts on, sent by a tenant on its own input subject: a roll-up
    would purge every tenant's log, a per-message TTL expire it, a schedule replay it."""
    names = Names(DOMAIN)
    tally = Tally()
    async with routing(wall):
        nc = await wall.connect("t0")
        subject = names.input_subject("contact_arrived", "t0")
        for n, (way, headers) in enumerate(
            (
                ("roll the log up (purge)", {"Nats-Rollup": "all"}),
                ("roll its subject up", {"Nats-Rollup": "sub"}),
                ("expire its input (TTL)", {"Nats-TTL": "1s"}),
                ("schedule inputs", {"Nats-Schedule": "@every 1s"}),
            )
        ):
            ack = json.loads(
                (
                    await nc.request(subject, arrival("t0", f"h{n}", n), headers=headers, timeout=5)
                ).data
            )
            tally.refuse(way, "error" in ack, str(ack))
        ack = json.loads((await nc.request(subject, arrival("t0", "plain", 9), timeout=5)).data)
        tally.allow("a plain input is stored", ack.get("seq", 0) > 0, str(ack))
        admin = await wall.connect("admin")
        # The acknowledgement is of t0's own entry stream: its count, not the log's.
        info = await admin.jetstream().stream_info(ack["stream"])
        tally.allow("nothing purged or expired", info.state.messages == ack["seq"], str(info.state))
        await admin.close()
        await nc.close()
    tally.print("JetStream headers from a tenant")


async def test_a_tenant_cannot_stop_the_router_for_every_tenant(wall: Wall) -> None:
    """An input nested deeper than any decoder recurses, on the tenant's own subject: a
    dead letter of that tenant, and every tenant's next input is routed as before (it must
    not become a poison message that stops the one router all tenants share)."""
    names = Names(DOMAIN)
    depth = 20_000
    deep_first = (
        b'{"junk":' + b"[" * depth + b"]" * depth + b',"type":"contact_arrived","id":"deep-1"}'
    )
    deep_agent = b'{"type":"agent_logged_in","id":"deep-2","ts":1,"agent":' + b"[" * depth
    deep_agent += b"]" * depth + b"}"
    async with routing(wall):
        attacker = await wall.connect("t0")
        dead = Catch()
        await attacker.subscribe(names.tenant_deadletters("t0"), cb=dead.on_msg)
        follow = await wall.client("sup-t1")
        feed = await follow.follow("t1")
        for payload in (deep_first, deep_agent):
            await attacker.request(names.input_subject("contact_arrived", "t0"), payload, timeout=5)
        reply = await attacker.request(names.api_subject("submit.t0"), deep_first, timeout=5)
        assert json.loads(reply.data)["error"]["code"] == "malformed"
        other = await wall.client("t1")
        await other.arrive("t1", "after-the-attack", queue="t1-live", channel="chat")
        decision = await feed.next(timeout=10)
        assert decision.tenant == "t1" and decision.contact == "after-the-attack"
        for _ in range(100):
            if len(dead.msgs) >= 2:
                break
            await asyncio.sleep(0.05)
        assert [m.headers["Ccroute-Reason"] for m in dead.msgs if m.headers] == ["malformed"] * 2
        for c in (follow, other):
            await c.close()
        await attacker.close()


SHARED_LOG_PROBES: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    # Naming t1's message id: were it t1's stream too, "duplicate" would say t1 sent it
    # (and t0's input would be dropped, so t0 sending it first would drop t1's).
    "message id already used": ({"Nats-Msg-Id": "crm-ticket-4711"}, {"seq": 1}),
    # A conditional publish on t1's subject: were it t1's stream too, the error would tell
    # t1's last sequence there; in t0's own stream there is none.
    "last sequence of B's subject": (
        {
            "Nats-Expected-Last-Subject-Sequence": "1",
            "Nats-Expected-Last-Subject-Sequence-Subject": Names(DOMAIN).input_subject(
                "contact_arrived", "t1"
            ),
        },
        {
            "seq": 0,
            "error": {"code": 400, "err_code": 10071, "description": "wrong last sequence: 0"},
        },
    ),
    # A conditional publish on the stream's last message id: the error tells t0's own
    # (none yet), not t1's last ticket number.
    "last message id of the log": (
        {"Nats-Expected-Last-Msg-Id": "guess"},
        {"seq": 0, "error": {"code": 400, "err_code": 10070, "description": "wrong last msg ID: "}},
    ),
}


@pytest.mark.parametrize("probe", sorted(SHARED_LOG_PROBES))
async def test_a_tenant_learns_nothing_from_the_shared_input_log(wall: Wall, probe: str) -> None:
    """t1's CRM names its inputs after its own tickets; t0 probes the log with headers
    JetStream acts on, published on t0's own subject. Each tenant's inputs land in an entry
    stream of its own that the log sources, so the answer is about t0's stream alone:
    exactly what it would be had t1 published nothing."""
    names = Names(DOMAIN)
    headers, expected = SHARED_LOG_PROBES[probe]
    async with routing(wall):
        attacker = await wall.connect("t0")
        victim = await wall.connect("t1")
        for n in range(3):
            await victim.request(
                names.input_subject("contact_arrived", "t1"),
                arrival("t1", f"k{n}", n),
                headers={"Nats-Msg-Id": "crm-ticket-4711" if n == 2 else f"crm-ticket-{n}"},
                timeout=5,
            )
        reply = await attacker.request(
            names.input_subject("contact_arrived", "t0"),
            arrival("t0", "probe", 1),
            headers=headers,
            timeout=5,
        )
        ack = json.loads(reply.data)
        await attacker.close()
        await victim.close()
        assert ack == {"stream": names.tenant_entry_stream("t0"), **expected}, f"t0 got {ack}"


async def test_two_tenants_using_the_same_message_id_are_both_routed(wall: Wall) -> None:
    """Two CRMs number their tickets alike: the same ``Nats-Msg-Id`` from t0 and t1 is
    neither a duplicate for either nor lost in the log (it keeps every sourced input), and
    the router decides on both contacts. A repeat within t1's own window is still t1's duplicate."""
    names = Names(DOMAIN)
    async with routing(wall):
        feeds = {}
        for t in ("t0", "t1"):
            follow = await wall.client(f"sup-{t}")
            feeds[t] = (follow, await follow.follow(t))
        acks = {}
        for t in ("t0", "t1"):
            nc = await wall.connect(t)
            reply = await nc.request(
                names.input_subject("contact_arrived", t),
                arrival(t, "same-ticket", 1),
                headers={"Nats-Msg-Id": "ticket-1001"},
                timeout=5,
            )
            acks[t] = json.loads(reply.data)
            if t == "t1":
                again = await nc.request(
                    names.input_subject("contact_arrived", t),
                    arrival(t, "same-ticket", 1),
                    headers={"Nats-Msg-Id": "ticket-1001"},
                    timeout=5,
                )
                assert json.loads(again.data).get("duplicate") is True
            await nc.close()
        for t, ack in acks.items():
            assert ack == {"stream": names.tenant_entry_stream(t), "seq": 1}, ack
        for t, (follow, feed) in feeds.items():
            # No agent is logged in: the router's decision is to queue the contact.
            decision = await feed.next(timeout=10)
            assert isinstance(decision, ContactQueued), decision
            assert (decision.tenant, decision.contact) == (t, "same-ticket")
            await follow.close()
        admin = await wall.connect("admin")
        info = await admin.jetstream().stream_info(names.input_stream, subjects_filter=">")
        subjects = info.state.subjects or {}
        for t in ("t0", "t1"):
            assert subjects.get(names.input_subject("contact_arrived", t)) == 1, subjects
        await admin.close()
