"""Prometheus metrics in the text exposition format, and a tiny HTTP server for them.

No client library: counters, gauges and histograms are a few lines each, and the server
is ``asyncio.start_server`` answering ``GET /metrics`` and ``GET /healthz``.

==========================================  =========  ===========================================
metric                                      type       meaning
==========================================  =========  ===========================================
``ccroute_events_in_total``                 counter    inputs taken from the input stream
``ccroute_decisions_out_total``             counter    decisions published
``ccroute_dead_letters_total{reason}``      counter    inputs sent to the dead-letter stream
``ccroute_redeliveries_total``              counter    deliveries already applied (skipped)
``ccroute_apply_seconds``                   histogram  one engine call (a batch of inputs)
``ccroute_batch_size``                      histogram  inputs per engine call
``ccroute_event_latency_seconds``           histogram  stored in the input stream -> decisions
                                                       stored (first input of each batch)
``ccroute_consumer_lag``                    gauge      inputs in the stream not yet applied
``ccroute_applied_sequence``                gauge      input stream sequence applied last
``ccroute_snapshot_age_seconds``            gauge      since the newest stored snapshot
``ccroute_snapshot_sequence``               gauge      input sequence the newest snapshot covers
``ccroute_snapshot_pause_seconds``          histogram  the writer's loop held by one snapshot
                                                       (the rest is encoded on a worker thread)
``ccroute_projection_flush_entries``        histogram  projection entries written per flush
``ccroute_leader``                          gauge      1 while this process is the writer
``ccroute_publish_retries_total``           counter    batches confirmed message by message
``ccroute_store_full``                      gauge      1 while a stream refuses writes for want of
                                                       room (or the store stopped answering)
``ccroute_log_trimmed``                     gauge      1 when inputs the state needs are gone from
                                                       the log (the writer does not route then)
``ccroute_input_gaps_total``                counter    deliveries out of order: consumer re-created
``ccroute_writer_fenced_total``             counter    times the server refused this writer's
                                                       decisions (another writer wrote)
``ccroute_memory_releases_total``           counter    times the writer, idle, gave the memory its
                                                       allocators kept back to the system
==========================================  =========  ===========================================
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import time
from collections.abc import Callable

__all__ = ["Counter", "Gauge", "Histogram", "MetricsServer", "Registry", "ServiceMetrics"]

log = logging.getLogger("ccroute.service.metrics")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_: str, const: dict[str, str]) -> None:
        self.name = name
        self.help = help_
        self.const = const

    def lines(self) -> list[str]:
        raise NotImplementedError

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}", *self.lines()]


class Counter(_Metric):
    """A monotonically rising count, optionally by one label."""

    kind = "counter"

    def __init__(self, name: str, help_: str, const: dict[str, str], label: str = "") -> None:
        super().__init__(name, help_, const)
        self.label = label
        self.values: dict[str, float] = {} if label else {"": 0.0}

    def inc(self, n: float = 1.0, value: str = "") -> None:
        self.values[value] = self.values.get(value, 0.0) + n

    def get(self, value: str = "") -> float:
        return self.values.get(value, 0.0)

    def lines(self) -> list[str]:
        out = []
        for v, n in sorted(self.values.items()):
            lab = dict(self.const)
            if self.label:
                lab[self.label] = v
            out.append(f"{self.name}{_labels(lab)} {n:g}")
        return out


class Gauge(_Metric):
    """A value that goes up and down (or is computed when scraped)."""

    kind = "gauge"

    def __init__(
        self, name: str, help_: str, const: dict[str, str], fn: Callable[[], float] | None = None
    ) -> None:
        super().__init__(name, help_, const)
        self.value = 0.0
        self.fn = fn

    def set(self, v: float) -> None:
        self.value = v

    def get(self) -> float:
        return self.fn() if self.fn is not None else self.value

    def lines(self) -> list[str]:
        return [f"{self.name}{_labels(self.const)} {self.get():g}"]


class Histogram(_Metric):
    """Cumulative buckets, sum and count, as Prometheus wants them."""

    kind = "histogram"

    def __init__(
        self, name: str, help_: str, const: dict[str, str], buckets: tuple[float, ...]
    ) -> None:
        super().__init__(name, help_, const)
        self.bounds = tuple(sorted(buckets))
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, v)] += 1
        self.sum += v
        self.count += 1

    def lines(self) -> list[str]:
        out = []
        acc = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            acc += n
            lab = _labels({**self.const, "le": f"{bound:g}"})
            out.append(f"{self.name}_bucket{lab} {acc}")
        acc += self.counts[-1]
        out.append(f"{self.name}_bucket{_labels({**self.const, 'le': '+Inf'})} {acc}")
        out.append(f"{self.name}_sum{_labels(self.const)} {self.sum:g}")
        out.append(f"{self.name}_count{_labels(self.const)} {self.count}")
        return out


class Registry:
    """The metrics of one process, rendered in registration order."""

    def __init__(self, const: dict[str, str] | None = None) -> None:
        self.const = dict(const or {})
        self._metrics: list[_Metric] = []

    def counter(self, name: str, help_: str, label: str = "") -> Counter:
        m = Counter(name, help_, self.const, label)
        self._metrics.append(m)
        return m

    def gauge(self, name: str, help_: str, fn: Callable[[], float] | None = None) -> Gauge:
        m = Gauge(name, help_, self.const, fn)
        self._metrics.append(m)
        return m

    def histogram(self, name: str, help_: str, buckets: tuple[float, ...]) -> Histogram:
        m = Histogram(name, help_, self.const, buckets)
        self._metrics.append(m)
        return m

    def render(self) -> str:
        lines: list[str] = []
        for m in self._metrics:
            lines.extend(m.render())
        return "\n".join(lines) + "\n"


_LATENCY = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_APPLY = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
_SIZES = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)


class ServiceMetrics:
    """Everything ``ccroute serve`` counts, in one place."""

    def __init__(self, domain: str) -> None:
        r = self.registry = Registry({"domain": domain})
        self.events_in = r.counter("ccroute_events_in_total", "Inputs taken from the input stream.")
        self.decisions_out = r.counter("ccroute_decisions_out_total", "Decisions published.")
        self.dead_letters = r.counter(
            "ccroute_dead_letters_total", "Inputs sent to the dead-letter stream.", label="reason"
        )
        self.redeliveries = r.counter(
            "ccroute_redeliveries_total", "Deliveries of inputs already applied (skipped)."
        )
        self.apply_seconds = r.histogram(
            "ccroute_apply_seconds", "Engine time per batch of inputs.", _APPLY
        )
        self.batch_size = r.histogram("ccroute_batch_size", "Inputs per engine call.", _SIZES)
        self.event_latency = r.histogram(
            "ccroute_event_latency_seconds",
            "From an input stored in the stream to its decisions stored (batch's first input).",
            _LATENCY,
        )
        self.lag = r.gauge("ccroute_consumer_lag", "Inputs in the stream not yet applied.")
        self.applied_seq = r.gauge(
            "ccroute_applied_sequence", "Input stream sequence applied last."
        )
        self.snapshot_time = 0.0
        self.snapshot_age = r.gauge(
            "ccroute_snapshot_age_seconds",
            "Seconds since the newest stored snapshot (-1: none yet).",
            fn=lambda: time.time() - self.snapshot_time if self.snapshot_time else -1.0,
        )
        self.snapshot_seq = r.gauge(
            "ccroute_snapshot_sequence", "Input sequence covered by the newest snapshot."
        )
        self.snapshot_pause = r.histogram(
            "ccroute_snapshot_pause_seconds",
            "Time the writer's loop was held to take one snapshot (encoding is off the loop).",
            _LATENCY,
        )
        self.projection_flush_entries = r.histogram(
            "ccroute_projection_flush_entries", "Projection entries written per flush.", _SIZES
        )
        self.leader = r.gauge("ccroute_leader", "1 while this process is the domain's writer.")
        self.publish_retries = r.counter(
            "ccroute_publish_retries_total", "Batches confirmed message by message."
        )
        self.memory_releases = r.counter(
            "ccroute_memory_releases_total",
            "Times the idle writer gave the memory its allocators kept back to the system.",
        )
        self.store_full = r.gauge(
            "ccroute_store_full", "1 while a stream refuses writes for want of room."
        )
        self.log_trimmed = r.gauge(
            "ccroute_log_trimmed",
            "1 when inputs the state needs are gone from the log (no routing then).",
        )
        self.input_gaps = r.counter(
            "ccroute_input_gaps_total",
            "Deliveries that did not follow their predecessor (the consumer was re-created).",
        )
        self.fenced = r.counter(
            "ccroute_writer_fenced_total",
            "Times this writer's decisions were refused because another writer had written.",
        )


Health = Callable[[], tuple[bool, dict[str, object]]]


class MetricsServer:
    """``GET /metrics`` (Prometheus) and ``GET /healthz`` (JSON; 200 healthy, 503 not)."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        health: Health,
        host: str = "127.0.0.1",
        port: int = 0,
        extra: Callable[[], bytes] | None = None,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.extra = extra
        """More samples after the transport metrics (the business metrics)."""
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sock = self._server.sockets[0]
        self.port = int(sock.getsockname()[1])
        log.info("metrics_listening url=http://%s:%d/metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            parts = head.split(b"\r\n", 1)[0].split()
            path = parts[1].decode() if len(parts) > 1 else "/"
            path = path.split("?", 1)[0]
            if path == "/metrics":
                status, ctype = 200, "text/plain; version=0.0.4; charset=utf-8"
                body = self.metrics.registry.render().encode()
                if self.extra is not None:
                    body += self.extra()
            elif path in ("/healthz", "/health"):
                ok, info = self.health()
                status, ctype = (200 if ok else 503), "application/json"
                body = json.dumps(info, sort_keys=True).encode()
            else:
                status, ctype, body = 404, "text/plain", b"not found\n"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
