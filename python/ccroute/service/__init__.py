"""``ccroute serve``: the routing engine as an event-sourced microservice on NATS JetStream.

One module per job:

- :mod:`~ccroute.service.embedded` starts a local ``nats-server -js`` (also used by tests);
- :mod:`~ccroute.service.subjects` names subjects, streams, buckets and keys;
- :mod:`~ccroute.service.assets` creates or checks the JetStream streams, KV and object store;
- :mod:`~ccroute.service.transport` is the fast lane on nats-py (raw pull deliveries in,
  pipelined and confirmed publishes out);
- :mod:`~ccroute.service.runner` is the consume -> apply -> publish loop;
- :mod:`~ccroute.service.snapshots` stores and loads engine snapshots;
- :mod:`~ccroute.service.lease` keeps one writer per routing domain;
- :mod:`~ccroute.service.projections` folds decisions and inputs into read models in KV;
- :mod:`~ccroute.service.deadletter` routes undecodable input aside;
- :mod:`~ccroute.service.clock` publishes the ticks that drive timers from the log;
- :mod:`~ccroute.service.metrics` serves Prometheus ``/metrics`` and ``/healthz``;
- :mod:`~ccroute.service.api` answers the JSON request/reply surface;
- :mod:`~ccroute.service.service` runs one process: connect, stand by or write, stop;
- :mod:`~ccroute.service.cli` implements ``ccroute serve`` and ``ccroute project``;
- :mod:`~ccroute.service.loadgen` makes realistic steady load for tests and benchmarks.

The asyncio client for contact sources and agent desktops is :mod:`ccroute.client`.

See ``docs/service.md``.
"""
