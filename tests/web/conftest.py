"""The gateway tests' stack (see ``stack.py``) with its small two-tenant configuration.
Module-scoped: starting it costs about two seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .stack import Stack, start_stack, stop_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nats, s = start_stack(tmp_path_factory.mktemp("web"))
    try:
        yield s
    finally:
        stop_stack(nats, s)
