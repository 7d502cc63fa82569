"""A JetStream cluster of three ``nats-server`` processes on loopback, for tests and chaos.

Each node is an :class:`~ccroute.service.embedded.EmbeddedNats` with its own store and a
``cluster {}`` block routing to the other two; the service connects to all three URLs
and its streams are created with ``replicas = 3``. Nodes can be killed (SIGKILL),
stopped (SIGTERM) and started again on the same ports and stores, so the harness can
take down a node, the stream leader, one after another, under load.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import TracebackType

from ccroute.service.embedded import EmbeddedNats, free_port

__all__ = ["LoopbackCluster"]


class LoopbackCluster:
    """Three clustered JetStream servers bound to 127.0.0.1."""

    def __init__(self, root: str | Path, *, size: int = 3, name: str = "ccroute") -> None:
        self.root = Path(root)
        self.name = name
        client_ports = [free_port() for _ in range(size)]
        route_ports = [free_port() for _ in range(size)]
        routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in route_ports)
        self.nodes = [
            EmbeddedNats(
                self.root / f"n{i}",
                port=client_ports[i],
                name=f"{name}-n{i}",
                extra_conf=(
                    f"cluster {{\n  name: {json.dumps(name)}\n"
                    f"  listen: 127.0.0.1:{route_ports[i]}\n  routes: [{routes}]\n}}\n"
                ),
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node_named(self, server_name: str) -> EmbeddedNats:
        for n in self.nodes:
            if n.name == server_name:
                return n
        raise KeyError(server_name)

    def start(self, timeout: float = 30.0) -> LoopbackCluster:
        """Start every node and wait until JetStream has a meta leader."""
        for n in self.nodes:
            if not n.running:
                n.start(timeout)
        self.wait_formed(timeout)
        return self

    def wait_formed(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = []
            for n in self.nodes:
                try:
                    texts.append(n.log_path.read_text(errors="replace"))
                except FileNotFoundError:
                    texts.append("")
            if any("JetStream cluster new metadata leader" in t for t in texts) or any(
                "Self is new JetStream cluster metadata leader" in t for t in texts
            ):
                return
            time.sleep(0.1)
        raise TimeoutError("the JetStream cluster did not elect a meta leader")

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()

    def __enter__(self) -> LoopbackCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
