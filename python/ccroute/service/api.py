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
``api.submit._agents`` (data: an agent input)       the same for inputs without a tenant
``api.agent.<agent>``                               the agent's projection (``agent.<agent>``)
``api.queue.<tenant>.<queue>``                      the queue's projection
``api.tenant.<tenant>`` / ``...tenant.<t>.<date>``  the tenant's figures today / on a date
``api.status``                                      the answering instance's role and position
==================================================  =============================================

Because the tenant is a subject token, NATS permissions can confine a tenant's client to
``ccroute.<domain>.api.submit.<tenant>``, ``...api.queue.<tenant>.>`` and so on.
Publishing straight to ``ccroute.<domain>.in.<tenant>.<type>`` as a request is the other
way in: JetStream itself replies with ``{"stream", "seq", "duplicate"}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccroute.events import decode_input
from ccroute.service.subjects import AGENTS_TOKEN, Names, decode_token

__all__ = ["ApiResponder"]

log = logging.getLogger("ccroute.service.api")

QUEUE_GROUP = "ccroute-api"


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
        if op[0] == "submit" and len(op) == 2:
            return await self._submit(op[1], msg.data)
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

    async def _submit(self, token: str, data: bytes) -> bytes:
        try:
            event = decode_input(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return _err("malformed", str(exc))
        type_ = type(event).__struct_config__.tag
        tenant = getattr(event, "tenant", None)
        expected = AGENTS_TOKEN if tenant is None else None
        if type_ == "clock_tick":
            return _err("forbidden", "clock ticks come from the service's own clock")
        if (expected is not None and token != expected) or (
            tenant is not None and decode_token(token) != tenant
        ):
            return _err(
                "tenant_mismatch",
                f"this input belongs on api.submit.{expected or tenant}, not api.submit.{token}",
            )
        subject = self.names.input_subject(str(type_), tenant)
        ack_msg = await self._nc.request(
            subject, data, timeout=5.0, headers={"Nats-Msg-Id": event.id}
        )
        ack = json.loads(ack_msg.data)
        if "error" in ack:
            return _err("not_stored", str(ack["error"]))
        return _ok(
            {"seq": ack.get("seq"), "duplicate": bool(ack.get("duplicate")), "subject": subject}
        )
