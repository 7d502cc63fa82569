"""The AsyncAPI 3.0 document of a domain's NATS subjects (``GET /asyncapi.json``).

The OpenAPI document describes the HTTP gateway; this one the bus underneath it, for
systems that talk NATS directly: where inputs go, where decisions come out, the
request/reply API. Payload schemas are those of ``ccroute schema``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ccroute.events import DECISION_TYPES, INPUT_TYPES, SCHEMA_REVISION
from ccroute.service.subjects import Names

__all__ = ["asyncapi_document"]


def _tag(t: type[msgspec.Struct]) -> str:
    return str(t.__struct_config__.tag)


def asyncapi_document(names: Names) -> dict[str, Any]:
    """The document for one routing domain."""
    _, components = msgspec.json.schema_components(
        [*INPUT_TYPES, *DECISION_TYPES], ref_template="#/components/schemas/{name}"
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    p = names.prefix
    for t in INPUT_TYPES:
        tag = _tag(t)
        messages[tag] = {"name": tag, "payload": {"$ref": f"#/components/schemas/{t.__name__}"}}
        if tag == "clock_tick":
            address = f"{p}.in._clock"
        elif "tenant" in t.__struct_fields__:
            address = f"{p}.in.{{tenant}}.{tag}"
        else:
            address = f"{p}.in._agents.{tag}"
        channels[f"in_{tag}"] = {
            "address": address,
            "description": (
                "Input stream (the log). Publish with header Nats-Msg-Id = the input's id;"
                " as a request, JetStream answers {stream, seq, duplicate}."
            ),
            "messages": {tag: {"$ref": f"#/components/messages/{tag}"}},
            **(
                {"parameters": {"tenant": {"description": "tenant id token"}}}
                if "{tenant}" in address
                else {}
            ),
        }
        operations[f"publish_{tag}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/in_{tag}"},
        }
    for t in DECISION_TYPES:
        tag = _tag(t)
        messages[tag] = {"name": tag, "payload": {"$ref": f"#/components/schemas/{t.__name__}"}}
        channels[f"out_{tag}"] = {
            "address": f"{p}.out.{{tenant}}.{tag}.{{agent}}",
            "description": (
                "Decision stream. tenant is _agents for decisions without a tenant;"
                " agent is _ when none is concerned."
            ),
            "parameters": {
                "tenant": {"description": "tenant id token, or _agents"},
                "agent": {"description": "agent id token, or _"},
            },
            "messages": {tag: {"$ref": f"#/components/messages/{tag}"}},
        }
        operations[f"receive_{tag}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/out_{tag}"},
        }
    for op, desc in (
        ("submit.{tenant}", "validate and store one input of the tenant (request/reply)"),
        ("agent.{agent}", "the agent's projection"),
        ("queue.{tenant}.{queue}", "the queue's projection"),
        ("tenant.{tenant}", "the tenant's figures today"),
        ("status", "the answering instance's role and position"),
    ):
        key = "api_" + op.split(".")[0]
        params = {
            n: {"description": f"{n} id token"}
            for n in ("tenant", "agent", "queue")
            if "{" + n + "}" in op
        }
        channels[key] = {
            "address": f"{p}.api.{op}",
            "description": f"Request/reply (queue group ccroute-api): {desc}.",
            **({"parameters": params} if params else {}),
        }
        operations[f"request_{key}"] = {"action": "send", "channel": {"$ref": f"#/channels/{key}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"ccroute routing domain {names.domain!r} on NATS",
            "version": SCHEMA_REVISION,
            "description": "Subjects of one routing domain; see docs/service.md.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }
