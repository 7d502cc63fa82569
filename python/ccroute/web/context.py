"""What every request handler of one gateway shares: the bus, the checks, the tokens."""

from __future__ import annotations

from dataclasses import dataclass

from ccroute.config import Config
from ccroute.service.metrics import Counter, Gauge, Histogram, Registry
from ccroute.service.subjects import Names
from ccroute.web.board import BoardMaker
from ccroute.web.checks import InputChecker
from ccroute.web.hub import Hub
from ccroute.web.tokens import TokenKeeper

__all__ = ["GatewayContext", "GatewayMetrics"]

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    """The gateway's own Prometheus metrics (``GET /metrics``)."""

    def __init__(self, domain: str, hub: Hub) -> None:
        r = self.registry = Registry({"domain": domain})
        self.requests: Counter = r.counter(
            "ccroute_web_requests_total", "HTTP requests answered, by status class.", "status"
        )
        self.latency: Histogram = r.histogram(
            "ccroute_web_request_seconds", "Time to answer one HTTP request.", _LATENCY
        )
        self.refused: Counter = r.counter(
            "ccroute_web_refusals_total", "Requests refused (4xx), by problem code.", "code"
        )
        self.desktop_streams: Gauge = r.gauge(
            "ccroute_web_desktop_connections",
            "Open agent desktop streams.",
            lambda: hub.connections,
        )
        self.board_streams: Gauge = r.gauge(
            "ccroute_web_board_connections", "Open wallboard streams."
        )
        self.offer_delivery: Histogram = r.histogram(
            "ccroute_web_offer_delivery_seconds",
            "An offer from its arrival on the gateway's NATS connection to its desktop frame.",
            (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.inputs: Counter = r.counter(
            "ccroute_web_inputs_total", "Inputs stored in the log through the gateway."
        )


@dataclass
class GatewayContext:
    config: Config
    names: Names
    hub: Hub
    checker: InputChecker
    boards: BoardMaker
    tokens: TokenKeeper
    metrics: GatewayMetrics
    max_body_bytes: int

    @classmethod
    def build(
        cls, config: Config, names: Names, hub: Hub, tokens: TokenKeeper, max_body_bytes: int
    ) -> GatewayContext:
        return cls(
            config=config,
            names=names,
            hub=hub,
            checker=InputChecker(config, hub.known_agent),
            boards=BoardMaker(config, hub),
            tokens=tokens,
            metrics=GatewayMetrics(names.domain, hub),
            max_body_bytes=max_body_bytes,
        )
