"""The event loop the long-running commands run on: uvloop where it is installed.

uvloop's loop, transports and futures are written in C: for the writer, which wakes up
thousands of times a second to read deliveries, store decisions and acknowledge, Python's
own loop was about a fifth of its CPU (selectors, ``_run_once``, the socket transport).
Without uvloop (Windows) the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop when it can be imported."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
