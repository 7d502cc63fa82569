"""Screenshots of the agent desktop and the wallboard for docs/ (``make screenshots``).

Starts a real stack (nats-server + ``ccroute serve --http-port 0``, as the browser tests
do), writes a few days of history for the month's service-level strip and a busy moment
now, then photographs both pages in Debian's chromium.

Usage: ``python tools/web_screenshots.py OUT_DIR``
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from ccroute.client import Client  # noqa: E402
from ccroute.events import OfferAccepted  # noqa: E402
from web.stack import TENANTS, Stack, start_stack, stop_stack  # noqa: E402

CONFIG = (
    TENANTS
    + """
[[queues]]
id = "lumo-voice"
tenant = "lumo"
channels = ["voice", "chat"]
service_level = { threshold_seconds = 20, target_percent = 80 }

[[queues]]
id = "lumo-email"
tenant = "lumo"
channels = ["email"]
service_level = { threshold_seconds = 14400, target_percent = 90 }

[[queues]]
id = "kide-chat"
tenant = "kide"
channels = ["chat"]
service_level = { threshold_seconds = 30, target_percent = 85 }

[[queues]]
id = "kide-returns"
tenant = "kide"
channels = ["email", "web_form"]
service_level = { threshold_seconds = 28800, target_percent = 90 }
"""
)

AGENTS = [
    ("aino", "Aino Virtanen", ["lumo"], {"voice": 1, "chat": 2, "email": 3}, ["fi", "sv", "en"]),
    ("eino", "Eino Mäkelä", ["lumo"], {"voice": 1, "email": 3}, ["fi"]),
    ("helmi", "Helmi Korhonen", ["lumo"], {"voice": 1, "chat": 2}, ["fi", "en"]),
    ("bjorn", "Björn Lindqvist", ["kide"], {"chat": 3, "email": 2}, ["sv", "en", "fi"]),
    ("saga", "Saga Nyström", ["kide"], {"chat": 3, "web_form": 2}, ["sv", "fi"]),
    ("lauri", "Lauri Heikkinen", ["kide", "lumo"], {"chat": 2, "email": 3}, ["fi", "en"]),
]


def _config() -> str:
    out = [CONFIG]
    for aid, name, tenants, cap, langs in AGENTS:
        caps = ", ".join(f"{k} = {v}" for k, v in cap.items())
        out.append(
            f'[[agents]]\nid = "{aid}"\nname = "{name}"\ntenants = {tenants!r}\n'
            f"languages = {langs!r}\ncapacity = {{ {caps} }}\n".replace("'", '"')
        )
    return "\n".join(out)


async def _history(stack: Stack) -> None:
    """The month so far: each day a few dozen contacts, answered faster or slower."""
    rnd = random.Random(3)
    now = datetime.now(UTC)
    first = now.replace(day=1, hour=6, minute=0, second=0, microsecond=0)
    async with await Client.connect(stack.nats_url, domain="web") as cc:
        day = first
        n = 0
        slow_days = {2, 5, 11}
        clock = int(day.timestamp() * 1000)
        for aid in ("aino", "bjorn"):
            await cc.login(aid, ts=clock)
        while day.date() < now.date():
            base = int(day.timestamp() * 1000)
            for i in range(24):
                for tenant, queue, agent in (
                    ("lumo", "lumo-voice", "aino"),
                    ("kide", "kide-chat", "bjorn"),
                ):
                    n += 1
                    t0 = base + i * 600_000 + (0 if tenant == "lumo" else 120_000)
                    slow = day.day in slow_days and tenant == "lumo"
                    wait = rnd.choice([9, 16, 22, 25, 27, 28] if slow else [3, 6, 8, 12, 15, 24])
                    c = f"h{n}"
                    await cc.arrive(tenant, c, queue=queue, channel="chat", ts=t0)
                    await cc.publish(
                        OfferAccepted(
                            id=f"acc-{c}",
                            ts=t0 + wait * 1000,
                            tenant=tenant,
                            contact=c,
                            agent=agent,
                        )
                    )
                    await cc.complete(tenant, c, agent, wrap_up_code="solved", ts=t0 + 240_000)
            day += timedelta(days=1)
        late = int(time.time() * 1000) - 3_600_000
        for aid in ("aino", "bjorn"):
            await cc.logout(aid, ts=late)


async def _present(stack: Stack) -> None:
    now = int(time.time() * 1000)
    async with await Client.connect(stack.nats_url, domain="web") as cc:
        await cc.login("eino", "paused", "lunch", ts=now - 1_500_000)
        await cc.login("helmi", "paused", "meeting", ts=now - 2_400_000)
        await cc.login("saga", ts=now - 3_000_000)
        await cc.login("lauri", "paused", "training", ts=now - 600_000)
        await cc.login("bjorn", ts=now - 5_000_000)
        # Kide's agents take what is offered to them (six chats fill them: two wait).
        offers = [await cc.subscribe_offers(a) for a in ("bjorn", "saga")]
        for i in range(8):
            ts = now - 90_000 + i * 6_000
            await cc.arrive(
                "kide", f"now-{i}", queue="kide-chat", channel="chat", language="sv", ts=ts
            )
            for sub in offers:
                try:
                    offer = await sub.next(timeout=0.3)
                except TimeoutError:
                    continue
                await cc.accept(offer, ts=ts + (4_000 if i % 3 else 1_000))
        await cc.arrive(
            "kide",
            "now-form",
            queue="kide-returns",
            channel="web_form",
            language="fi",
            ts=now - 30_000,
        )


async def _queue_up(stack: Stack) -> None:
    now = int(time.time() * 1000)
    async with await Client.connect(stack.nats_url, domain="web") as cc:
        for i in range(3):
            await cc.arrive(
                "lumo",
                f"wait-{i}",
                queue="lumo-voice",
                channel="chat",
                language="fi",
                ts=now - 40_000 + i * 9_000,
            )
        await cc.arrive(
            "lumo", "wait-v", queue="lumo-voice", channel="voice", language="fi", ts=now - 65_000
        )
        await cc.arrive(
            "kide", "wait-k", queue="kide-chat", channel="chat", language="sv", ts=now - 20_000
        )


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="ccroute-shots-"))
    nats, stack = start_stack(tmp, _config(), tick_ms=0)
    try:
        asyncio.run(_history(stack))
        asyncio.run(_present(stack))
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            desk = b.new_page(viewport={"width": 1280, "height": 800})
            desk.goto(f"{stack.url}/desktop/?lang=fi")
            desk.locator("#agent-id").fill("aino")
            desk.locator("#token").fill(stack.token("agent", agent="aino"))
            desk.keyboard.press("Enter")
            expect(desk.locator("#state-pill")).to_have_text("Vapaa", timeout=10_000)
            with stack.client(stack.token("integration", tenant="lumo")) as c:
                for contact, lang, tags in (
                    ("c-20417", "fi", ["laskutus"]),
                    ("c-20418", "sv", ["muutto", "sopimus"]),
                ):
                    c.post(
                        "/v1/tenants/lumo/inputs",
                        json={
                            "type": "contact_arrived",
                            "id": f"shot-{contact}",
                            "ts": int(time.time() * 1000) - 12_000,
                            "tenant": "lumo",
                            "contact": contact,
                            "queue": "lumo-voice",
                            "channel": "chat",
                            "language": lang,
                            "customer": "asiakas-88121" if lang == "fi" else "kund-4410",
                            "tags": tags,
                        },
                    )
                    expect(desk.locator("#offer")).to_be_visible()
                    if contact == "c-20417":
                        desk.locator("body").press("a")
                        expect(desk.locator("#offer")).to_be_hidden()
            # Playwright's sync API keeps an event loop in this thread: use another one.
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, _queue_up(stack)).result()
            time.sleep(1.0)
            desk.screenshot(path=str(out / "desktop.png"))
            board = b.new_page(viewport={"width": 1920, "height": 1080})
            board.goto(f"{stack.url}/wallboard/?lang=en#token={stack.token('provider_supervisor')}")
            expect(board.locator('[data-tenant="kide"]')).to_be_visible()
            time.sleep(2.5)
            board.screenshot(path=str(out / "wallboard.png"))
            b.close()
        print(f"wrote {out / 'desktop.png'} and {out / 'wallboard.png'}")
    finally:
        stop_stack(nats, stack)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
