"""A contact source or desktop using ``ccroute.client`` hears when the engine refuses
one of its inputs, with the engine's reason, instead of waiting out a bare timeout."""

from __future__ import annotations

import pytest
from nats.aio.client import Client as NATS
from tests.service.conftest import RunningService

from ccroute.client import Client, InputRejectedError


async def test_an_arrival_in_a_queue_that_does_not_exist_fails_the_wait_for_an_offer(
    nc: NATS, svc: RunningService
) -> None:
    cc = Client(nc, "test")
    offers = await cc.subscribe_offers("a0")
    await cc.login("a0")
    arrival = await cc.arrive("t0", "c1", queue="support", channel="chat")
    with pytest.raises(InputRejectedError) as raised:
        await offers.next(timeout=5)
    rejection = raised.value.rejection
    assert rejection.cause == arrival.id and rejection.event_type == "contact_arrived"
    assert "support" in str(raised.value) and arrival.id in str(raised.value)
    assert cc.rejection(arrival.id) == rejection

    # The client is still usable: the right queue gives the offer.
    await cc.arrive("t0", "c2", queue="t0-live", channel="chat")
    offer = await offers.next(timeout=5)
    assert (offer.contact, offer.agent) == ("c2", "a0")
    assert await svc.stop() == 0


async def test_the_login_of_an_unknown_agent_is_reported_to_its_desktop(
    nc: NATS, svc: RunningService
) -> None:
    cc = Client(nc, "test")
    offers = await cc.subscribe_offers("nobody")
    login = await cc.login("nobody")
    with pytest.raises(InputRejectedError) as raised:
        await offers.next(timeout=5)
    assert raised.value.rejection.cause == login.id
    assert raised.value.rejection.event_type == "agent_logged_in"


async def test_rejections_of_other_clients_inputs_are_not_this_clients_business(
    nc: NATS, svc: RunningService
) -> None:
    desk, other = Client(nc, "test"), Client(nc, "test")
    offers = await desk.subscribe_offers("a0")
    await desk.login("a0")
    bad = await other.arrive("t0", "c1", queue="support", channel="chat")
    await desk.arrive("t0", "c2", queue="t0-live", channel="chat")
    offer = await offers.next(timeout=5)
    assert offer.contact == "c2"
    assert desk.rejection(bad.id) is None
