"""The HTTP gateway: REST + Server-Sent Events over the service's NATS subjects and
projections, the agent desktop and the supervisor wallboard (``docs/http.md``).

============================  ==============================================================
module                        job
============================  ==============================================================
:mod:`.tokens`                bearer tokens: roles, HMAC signing, revocation
:mod:`.auth`                  who may do what (roles x tenants x agents)
:mod:`.hub`                   the NATS side: publish, projection mirror, agent feeds
:mod:`.checks`                inputs checked against the configuration before the log
:mod:`.board`                 supervisor views (queues, agents, figures, the month)
:mod:`.models`                request and response bodies
:mod:`.problems`              RFC 9457 problem documents for every refusal
:mod:`.limits`                request bodies' nesting checked before any decoding
:mod:`.routes_inputs`         contact sources' endpoint
:mod:`.routes_agents`         agent desktop endpoints
:mod:`.routes_supervisor`     supervisor endpoints
:mod:`.streams`               live streams (SSE)
:mod:`.asyncapi`              the AsyncAPI document of the NATS subjects
:mod:`.app`                   the ASGI application
:mod:`.gateway`               the process: NATS + uvicorn
:mod:`.cli`                   ``ccroute web``, ``ccroute token``, ``serve --http-port``
============================  ==============================================================
"""
