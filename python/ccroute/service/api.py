"""The JSON request/reply surface on NATS, for systems written in any language.

Every instance of the service (writer or standby) answers, in the queue group
``ccroute-api``, on ``ccroute.<domain>.api.<operation>``. Replies are JSON objects:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {"code": ..., "message": ...}}``.

==================================================  =============================================
request subject                                     what it does
==================================================  =============================================
``api.submit.<tenant>`` (data: one input, JSON)     validates the input, checks its tenant is
                                                    ``<tenant>``, publishes it on its subject with
                                                    ``Nats-Msg-Id`` = its ``id``; result:
                                                    ``{"seq", "duplicate", "subject"}``
``api.submit._agents.<agent>`` (data: an input     the same for an agent desktop's inputs (log-in,
the agent makes)                                    states, accepting...): its ``agent`` must be
                                                    ``<agent>``; published on the agent's subject;
                                                    never ``agent_profile_changed`` (forbidden)
``api.agent.<agent>``                               the agent's projection (``agent.<agent>``)
``api.queue.<tenant>.<queue>``                      the queue's projection
``api.tenant.<tenant>`` / ``...tenant.<t>.<date>``  the tenant's figures today / on a date
``api.decisions.<tenant>`` (data: ``{"start_seq":   the tenant's decisions from the decision
N, "max": M}``, both optional)                      stream in order, from sequence N, at most M
                                                    (256): ``{"decisions": [{"seq", "subject",
                                                    "decision"}], "next_seq"}`` (durable reading
                                                    for accounts without JetStream)
``api.status``                                      the answering instance's role and position
==================================================  =============================================

Because the tenant is a subject token, the broker confines a tenant's systems to the
operations about their own tenant: a tenant's account imports only
``api.submit.<tenant>``, ``api.queue.<tenant>.*``, ``api.tenant.<tenant>[.*]`` and
``api.decisions.<tenant>`` (see :mod:`ccroute.service.accounts`); an agent desktop's user
may call only ``api.agent.<agent>`` and ``api.submit._agents.<agent>``.
Publishing straight to ``ccroute.<domain>.in.<tenant>.<type>`` as a request is the other
way in: JetStream itself replies with ``{"stream", "seq", "duplicate"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccroute.events import decode_input
from ccroute.limits import MAX_MESSAGE_BYTES, bounded
from ccroute.service.subjects import AGENT_PROFILE_TYPE, AGENTS_TOKEN, Names, decode_token

__all__ = ["ApiResponder"]

log = logging.getLogger("ccroute.service.api")

QUEUE_GROUP = "ccroute-api"
MAX_DECISIONS = 256
"""At most this many decisions per ``api.decisions`` reply."""


def _ok(result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result}, sort_keys=True).encode()


def _err(code: str, message: str) -> bytes:
    return json.dumps({"ok": False, "error": {"code": code, "message": message}}).encode()


class ApiResponder:
    """Answers ``ccroute.<domain>.api.>`` requests."""

    def __init__(
        self,
        nc: NATS,
        names: Names,
        status: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._nc = nc
        self.names = names
        self.status = status or (lambda: {})
        self._sub: Any = None
        self.walled = False
        """Under the tenant wall (set by the service): a submission is stored where the
        submitter's own publish would land, its tenant's (or the desktops') entry stream,
        so its duplicate window and sequence are that tenant's, not the log's."""

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(
            f"{self.names.api_prefix}>", queue=QUEUE_GROUP, cb=self._on_request
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _kv_get(self, key: str) -> Any:
        bucket = self.names.kv_bucket
        msg = await self._nc.request(
            f"$JS.API.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{key}", b"", timeout=2.0
        )
        hdrs = msg.headers or {}
        if hdrs.get("Status") or hdrs.get("KV-Operation") in ("DEL", "PURGE") or not msg.data:
            return None
        return json.loads(msg.data)

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            reply = await self._answer(msg)
        except Exception as exc:
            log.warning("api_error subject=%s error=%r", msg.subject, exc)
            reply = _err("internal", str(exc))
        await self._nc.publish(msg.reply, reply)

    async def _answer(self, msg: Msg) -> bytes:
        op = msg.subject[len(self.names.api_prefix) :].split(".")
        if op[0] == "submit" and len(op) == 2 and op[1] != AGENTS_TOKEN:
            return await self._submit(op[1], msg.data)
        if op[0] == "submit" and len(op) == 3 and op[1] == AGENTS_TOKEN:
            return await self._submit_agent(decode_token(op[2]), msg.data)
        if op == ["submit", AGENTS_TOKEN]:
            return _err(
                "moved",
                "agent inputs are submitted on api.submit._agents.<agent> since subjects v2",
            )
        if op[0] == "decisions" and len(op) == 2:
            return await self._decisions(decode_token(op[1]), msg.data)
        if op[0] == "agent" and len(op) == 2:
            return await self._read(Names.agent_key(decode_token(op[1])))
        if op[0] == "queue" and len(op) == 3:
            return await self._read(Names.queue_key(decode_token(op[1]), decode_token(op[2])))
        if op[0] == "tenant" and len(op) == 2:
            return await self._read(Names.tenant_key(decode_token(op[1])))
        if op[0] == "tenant" and len(op) == 3:
            return await self._read(Names.tenant_day_key(decode_token(op[1]), op[2]))
        if op == ["status"]:
            return _ok(self.status())
        return _err("unknown_operation", f"no operation {'.'.join(op)!r}; see docs/service.md")

    async def _read(self, key: str) -> bytes:
        value = await self._kv_get(key)
        if value is None:
            return _err("not_found", f"no projection {key!r} (yet)")
        return _ok(value)

    async def _decisions(self, tenant: str, data: bytes) -> bytes:
        try:
            req = json.loads(data) if data.strip() else {}
            start = max(1, int(req.get("start_seq", 1)))
            limit = min(MAX_DECISIONS, max(1, int(req.get("max", MAX_DECISIONS))))
        except (ValueError, TypeError, AttributeError) as exc:
            return _err("malformed", f"expected {{'start_seq': N, 'max': M}}: {exc}")
        filt = self.names.tenant_decisions(tenant)
        api = f"$JS.API.DIRECT.GET.{self.names.decision_stream}"
        out: list[dict[str, Any]] = []
        seq = start
        while len(out) < limit:
            body = json.dumps({"seq": seq, "next_by_subj": filt}).encode()
            msg = await self._nc.request(api, body, timeout=2.0)
            hdrs = msg.headers or {}
            if hdrs.get("Status") or "Nats-Sequence" not in hdrs:
                break  # 404: nothing more (yet)
            got = int(hdrs["Nats-Sequence"])
            out.append(
                {
                    "seq": got,
                    "subject": hdrs.get("Nats-Subject", ""),
                    "decision": json.loads(msg.data),
                }
            )
            seq = got + 1
        return _ok({"decisions": out, "next_seq": seq})

    async def _submit_agent(self, agent: str, data: bytes) -> bytes:
        try:
            event = decode_input(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            return _err("malformed", str(exc))
        if getattr(event, "agent", None) != agent:
            return _err(
                "agent_mismatch",
                f"an agent desktop submits only inputs of its own agent ({agent!r})",
            )
        type_ = str(type(event).__struct_config__.tag)
        if type_ == AGENT_PROFILE_TYPE:
            return _err(
                "forbidden",
                "an agent desktop does not change its own profile (tenants, skills, "
                "capacities): the provider's tools do",
            )
        return await self._store(self.names.agent_input_subject(type_, agent), data, event.id)

    async def _submit(self, token: str, data: bytes) -> bytes:
        try:
            event = decode_input(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
            # The schema's message may quote a value: an over-long one is not echoed whole.
            return _err("malformed", bounded(str(exc), MAX_MESSAGE_BYTES))
        type_ = type(event).__struct_config__.tag
        tenant = getattr(event, "tenant", None)
        if type_ == "clock_tick":
            return _err("forbidden", "clock ticks come from the service's own clock")
        if tenant is None:
            return _err(
                "tenant_mismatch",
                f"an input without a tenant belongs on api.submit.{AGENTS_TOKEN}.<agent>",
            )
        if decode_token(token) != tenant:
            return _err(
                "tenant_mismatch",
                f"this input belongs on api.submit.{tenant}, not api.submit.{token}",
            )
        subject = self.names.input_subject(str(type_), tenant)
        return await self._store(subject, data, event.id)

    async def _store(self, subject: str, data: bytes, msg_id: str) -> bytes:
        headers = {"Nats-Msg-Id": msg_id}
        try:
            target = self.names.entry_of(subject) if self.walled else subject
            ack_msg = await self._nc.request(target, data, timeout=5.0, headers=headers)
        except nats.errors.NoRespondersError:
            # A tenant without an account has no entry stream: into the log itself (the
            # engine dead-letters it as it would any input of an unknown tenant).
            ack_msg = await self._nc.request(subject, data, timeout=5.0, headers=headers)
        ack = json.loads(ack_msg.data)
        if "error" in ack:
            return _err("not_stored", str(ack["error"]))
        return _ok(
            {"seq": ack.get("seq"), "duplicate": bool(ack.get("duplicate")), "subject": subject}
        )
