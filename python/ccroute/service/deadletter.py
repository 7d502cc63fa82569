"""The dead-letter stream: inputs that cannot be applied, kept byte for byte with why.

An input goes there when it does not decode or validate, has no or an unknown ``type``, or
is over a limit of :mod:`ccroute.limits` (``malformed``), speaks another
schema version (``unsupported_version``), is stamped too far ahead of the engine's clock
(``clock_jump``: a producer's wrong clock) or arrived on a subject that does not match its
own type and tenant (``subject_mismatch``: a tenant's publisher may write only under its
own tenant token). It stays in the input stream (the log is never edited) and replay
makes the same verdict, so the service's state never depends on it.

Each dead letter is published on ``ccroute.<domain>.dlq.<tenant>.<reason>``: the tenant
token of the subject the input came on (only the subject is vouched for by the broker,
so a tenant's systems can be given their own dead letters and no one else's; ``_agents``
for agent inputs, ``_unknown`` when there was none)
with the original bytes as its data and these headers:

=======================  ==========================================================
``Ccroute-Reason``       the reason code above
``Ccroute-Error``        what exactly is wrong (one line, at most 500 characters)
``Ccroute-Subject``      the subject the input was published on
``Ccroute-Input-Seq``    its sequence in the input stream
``Ccroute-Limit``        the limit it went over (``max_depth``, ``max_input_bytes``,
                         ``max_string_bytes``, ``max_items``), when that is why it is
                         ``malformed`` (docs/events.md, "Limits")
``Nats-Msg-Id``          ``<domain>:dlq:<input seq>`` (replays dedupe)
=======================  ==========================================================
"""

from __future__ import annotations

import asyncio
import logging

from nats.aio.client import Client as NATS

from ccroute.service.metrics import ServiceMetrics
from ccroute.service.subjects import Names

__all__ = ["REASONS", "DeadLetters"]

log = logging.getLogger("ccroute.service.deadletter")

REASONS = ("malformed", "unsupported_version", "clock_jump", "subject_mismatch")


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


class DeadLetters:
    """Collects dead letters of a batch; :meth:`commit` stores them (acknowledged)."""

    def __init__(self, nc: NATS, names: Names, metrics: ServiceMetrics | None = None) -> None:
        self._nc = nc
        self.names = names
        self.metrics = metrics
        self._pending: list[tuple[int, str, dict[str, str], bytes]] = []

    def add(
        self,
        reason: str,
        error: str,
        subject: str,
        seq: int,
        data: bytes,
        *,
        publish: bool,
        tenant_token: str | None = None,
        limit: str | None = None,
    ) -> None:
        """Count a dead letter; queue it for publishing unless it was published before.

        ``tenant_token``: the tenant token of the subject the input came on (``_agents``
        for an agent input), None if there was none.
        """
        if self.metrics is not None:
            self.metrics.dead_letters.inc(1, reason)
        error = _one_line(error)
        log.warning(
            "dead_letter reason=%s seq=%d subject=%s limit=%s error=%r",
            reason,
            seq,
            subject,
            limit,
            error,
        )
        if not publish:
            return
        headers = {
            "Nats-Msg-Id": self.names.deadletter_msg_id(seq),
            "Ccroute-Reason": reason,
            "Ccroute-Error": error,
            "Ccroute-Subject": subject,
            "Ccroute-Input-Seq": str(seq),
        }
        if limit is not None:
            headers["Ccroute-Limit"] = limit
        subject_out = self.names.deadletter_subject(reason, tenant_token)
        self._pending.append((seq, subject_out, headers, data))

    def __len__(self) -> int:
        return len(self._pending)

    async def commit(self) -> None:
        """Publish what :meth:`add` queued, in input order, each acknowledged (they are rare)."""
        self._pending.sort(key=lambda p: p[0])
        while self._pending:
            _, subject, headers, data = self._pending[0]
            try:
                await self._nc.request(subject, data, timeout=5.0, headers=headers)
            except Exception as exc:
                log.warning("dead_letter_retry error=%r", exc)
                await asyncio.sleep(0.2)
                continue
            self._pending.pop(0)
