"""The ASGI application: routes, static pages, documents, health and metrics.

=============================  =============================================================
path                           what
=============================  =============================================================
``/v1/...``                    the API (see ``docs/http.md``; bearer tokens)
``/desktop/``                  the agent desktop page
``/wallboard/``                the supervisor wallboard page
``/openapi.json``              the OpenAPI document of the API
``/asyncapi.json``             the AsyncAPI document of the domain's NATS subjects
``/healthz``                   200 while NATS is connected and the projections mirrored
``/metrics``                   the gateway's own Prometheus metrics
=============================  =============================================================
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, Router, get
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ccroute import limits
from ccroute.web.asyncapi import asyncapi_document
from ccroute.web.auth import context_of, token_guard
from ccroute.web.context import GatewayContext
from ccroute.web.limits import check_body
from ccroute.web.models import Health
from ccroute.web.problems import problem_handlers
from ccroute.web.routes_agents import AGENT_HANDLERS
from ccroute.web.routes_inputs import submit_input
from ccroute.web.routes_supervisor import SUPERVISOR_HANDLERS
from ccroute.web.streams import STREAM_HANDLERS

__all__ = ["MAX_BODY_BYTES", "create_app"]

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = limits.MAX_INPUT_BYTES
"""The largest request body accepted: the input limit (an input is a few hundred bytes)."""


@get("/healthz", include_in_schema=False)
async def healthz(request: Request[Any, Any, Any]) -> Response[bytes]:
    ctx = context_of(request)
    nats_ok = bool(ctx.hub.nc.is_connected)
    mirrored = ctx.hub.ready.is_set()
    h = Health(ok=nats_ok and mirrored, nats=nats_ok, projections=mirrored, domain=ctx.names.domain)
    return Response(
        msgspec.json.encode(h), status_code=200 if h.ok else 503, media_type=MediaType.JSON
    )


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[str]:
    return Response(
        context_of(request).metrics.registry.render(),
        media_type="text/plain; version=0.0.4",
    )


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> Response[bytes]:
    doc = request.app.openapi_schema.to_schema()
    return Response(msgspec.json.encode(doc), media_type=MediaType.JSON)


@get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json(request: Request[Any, Any, Any]) -> Response[bytes]:
    doc = asyncapi_document(context_of(request).names)
    return Response(msgspec.json.encode(doc), media_type=MediaType.JSON)


@get("/", include_in_schema=False)
async def index() -> Redirect:
    return Redirect("/desktop/")


class _Measured:
    """Counts every HTTP request and its latency (streams: until the headers are sent)."""

    def __init__(self, app: ASGIApp, ctx: GatewayContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if str(scope["type"]) != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        m = self.ctx.metrics

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                m.requests.inc(1, f"{status // 100}xx")
                m.latency.observe(time.perf_counter() - t0)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _static(path: str, folder: str) -> Any:
    return create_static_files_router(
        path=path,
        directories=[STATIC / folder],
        html_mode=True,
        include_in_schema=False,
        name=folder,
        cache_control=None,
    )


def create_app(ctx: GatewayContext) -> ASGIApp:
    """The gateway's ASGI application for one context."""

    app = Litestar(
        route_handlers=[
            Router(
                "/",
                route_handlers=[
                    submit_input,
                    *AGENT_HANDLERS,
                    *SUPERVISOR_HANDLERS,
                    *STREAM_HANDLERS,
                ],
                guards=[token_guard],
                before_request=check_body,
                security=[{"bearer": []}],
            ),
            healthz,
            metrics,
            openapi_json,
            asyncapi_json,
            index,
            _static("/desktop", "desktop"),
            _static("/wallboard", "wallboard"),
            _static("/common", "common"),
        ],
        exception_handlers=problem_handlers,
        request_max_body_size=ctx.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="ccroute HTTP gateway",
            version="1",
            description=(
                "Contact sources, agent desktops and supervisors over HTTP. Errors are RFC 9457"
                " problem documents. Streams are Server-Sent Events. See docs/http.md."
            ),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="ccroute token issue"
                    )
                }
            ),
            path="/schema",
            render_plugins=[],
        ),
        cors_config=CORSConfig(allow_origins=[], allow_headers=["authorization"]),
        debug=False,
        logging_config=None,
    )
    app.state.ctx = ctx
    return _Measured(app, ctx)
