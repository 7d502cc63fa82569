"""The pages in a real browser (Debian's chromium driven by Playwright) against a real
``ccroute serve`` + gateway: an agent works a contact on the desktop while the wallboard,
in a second page, follows the queue and the agent; a tenant's token cannot see another
tenant's board."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .stack import Stack

CHROMIUM = Path(os.environ.get("CCROUTE_CHROMIUM", "/usr/bin/chromium"))

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"no chromium at {CHROMIUM}: `make browsers` installs Debian's (needs root and apt)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield b
        finally:
            b.close()


def _arrive(stack: Stack, contact: str, *, queue: str = "lumo-voice", language: str = "fi") -> None:
    with stack.client(stack.token("integration", tenant="lumo")) as c:
        r = c.post(
            "/v1/tenants/lumo/inputs",
            json={
                "type": "contact_arrived",
                "id": f"web-{contact}",
                "ts": int(time.time() * 1000),
                "tenant": "lumo",
                "contact": contact,
                "queue": queue,
                "channel": "chat",
                "language": language,
                "tags": ["billing"],
            },
        )
        assert r.status_code == 200, r.text


def test_an_agent_works_a_contact_while_the_wallboard_follows(stack: Stack, browser: Any) -> None:
    expect = sync_api.expect
    desk = browser.new_page(viewport={"width": 1280, "height": 800})
    board = browser.new_page(viewport={"width": 1920, "height": 1080})
    sup = stack.token("tenant_supervisor", tenant="lumo")
    board.goto(f"{stack.url}/wallboard/?lang=en#token={sup}")
    waiting = board.locator('[data-waiting="lumo-voice"]')
    expect(waiting).to_have_text("0", timeout=10_000)
    aino_row = board.locator('tr[data-agent="aino"]')
    expect(aino_row).to_contain_text("Offline")

    # Sign in on the desktop (in English), with the keyboard only.
    desk.goto(f"{stack.url}/desktop/?lang=en")
    desk.locator("#agent-id").fill("aino")
    desk.locator("#token").fill(stack.token("agent", agent="aino"))
    desk.keyboard.press("Enter")
    expect(desk.locator("#state-pill")).to_have_text("Available", timeout=10_000)
    expect(desk.locator("#agent-name")).to_have_text("Aino Virtanen")
    expect(aino_row).to_contain_text("Available")

    # A pause with its reason; the wallboard sees it.
    desk.locator("#presence").select_option("paused:lunch")
    expect(desk.locator("#state-pill")).to_have_text("Paused")
    expect(desk.locator("#state-reason")).to_have_text("Lunch")
    expect(aino_row).to_contain_text("Paused")
    expect(aino_row).to_contain_text("Lunch")

    # A contact arrives while she is paused: it waits, the wallboard counts it.
    _arrive(stack, "c-browser-1")
    expect(waiting).to_have_text("1")
    expect(desk.locator("#offer")).to_be_hidden()

    # Back to available: the offer appears, with its countdown and the contact's details.
    desk.locator("#presence").select_option("available")
    offer = desk.locator("#offer")
    expect(offer).to_be_visible()
    expect(desk.locator("#offer-tenant")).to_have_text("Lumo Energia")
    expect(desk.locator("#offer-queue")).to_have_text("lumo-voice")
    expect(desk.locator("#offer-facts")).to_contain_text("FI")
    expect(desk.locator("#offer-facts")).to_contain_text("longest_idle")
    expect(desk.locator("#offer-seconds")).to_have_text(re.compile(r"^(2\d|30) s$"))
    expect(waiting).to_have_text("0")
    expect(aino_row).to_contain_text("Busy")

    # Accept with the keyboard; the contact is in hand, under its channel.
    desk.locator("body").press("a")
    item = desk.locator('article.item[aria-label="c-browser-1"]')
    expect(item).to_be_visible()
    expect(item).to_contain_text("In progress")
    expect(item).to_contain_text("Lumo Energia")
    expect(item).to_contain_text("lumo-voice")
    expect(offer).to_be_hidden()

    # Complete with a wrap-up code and tags (the queue has no wrap-up time: it closes).
    item.get_by_role("button", name="Complete").click()
    desk.locator("#wrap-code").fill("solved")
    desk.locator("#wrap-tags").fill("billing, moving")
    desk.locator("#complete-save").click()
    expect(item).to_be_hidden()
    expect(desk.locator("#work-empty")).to_be_visible()
    expect(aino_row).to_contain_text("Available")

    with stack.client(sup) as c:
        today = c.get("/v1/tenants/lumo/today").json()
    assert today["answered"] >= 1 and today["completed"] >= 1

    desk.locator("#signout").click()
    expect(aino_row).to_contain_text("Offline")
    desk.close()
    board.close()


def test_a_tenant_token_cannot_see_another_tenant_on_the_wallboard(
    stack: Stack, browser: Any
) -> None:
    expect = sync_api.expect
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    lumo = stack.token("tenant_supervisor", tenant="lumo")
    page.goto(f"{stack.url}/wallboard/?lang=en&tenant=kide#token={lumo}")
    expect(page.locator("#signin-error")).to_contain_text("may not read tenant 'kide'")
    assert page.locator('[data-tenant="kide"]').count() == 0
    # Without asking, the board shows its own tenant and nothing else.
    page.goto(f"{stack.url}/wallboard/?lang=en#token={lumo}")
    expect(page.locator('[data-tenant="lumo"]')).to_be_visible()
    assert page.locator('[data-tenant="kide"]').count() == 0
    # The provider sees both.
    provider = stack.token("provider_supervisor")
    page.goto(f"{stack.url}/wallboard/?lang=fi#token={provider}")
    expect(page.locator('[data-tenant="kide"]')).to_be_visible()
    expect(page.locator("#scope")).to_have_text("Kaikki asiakkaat")
    page.close()


@pytest.mark.parametrize(
    ("lang", "label"), [("fi", "Kirjaudu"), ("sv", "Logga in"), ("en", "Sign in")]
)
def test_labels_in_finnish_swedish_and_english(
    stack: Stack, browser: Any, lang: str, label: str
) -> None:
    page = browser.new_page()
    page.goto(f"{stack.url}/desktop/?lang={lang}")
    sync_api.expect(page.locator("#signin h1")).to_have_text(label)
    assert page.evaluate("document.documentElement.lang") == lang
    page.close()


def test_the_browser_language_is_the_default(stack: Stack, browser: Any) -> None:
    context = browser.new_context(locale="sv-FI")
    page = context.new_page()
    page.goto(f"{stack.url}/wallboard/")
    sync_api.expect(page.locator("#signin h1")).to_have_text("Logga in")
    context.close()
