"""Snapshot work on threads at the lowest CPU priority.

A snapshot's engine bytes are encoded, and its upload deflated, beside the writer's
event loop (tens of megabytes every 20 s at 5,000 inputs/s). On a machine of two cores
that thread took a core from the loop, or from the broker the loop waits on, and the
slowest offers fell in those moments (a quarter of the slowest 1 % in the 2 % of the
time spent encoding). At nice 19 the kernel runs it only where nothing else at normal
priority wants the core, and a loop thread that wakes up takes the core back at once.

Linux only (there, a nice value belongs to one thread); elsewhere the threads run at
the process's priority.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["LOWEST_NICE", "in_background", "run_in_background", "thread_nice"]

log = logging.getLogger("ccroute.service.background")

T = TypeVar("T")

LOWEST_NICE = 19


def thread_nice() -> int | None:
    """The calling thread's nice value (``None`` where threads have none of their own)."""
    if sys.platform != "linux":
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _lower_this_thread() -> None:
    if sys.platform != "linux":
        return
    try:
        # Raising one's own nice value needs no privilege (lowering it back would).
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_NICE)
    except OSError as exc:  # a sandbox that forbids it: the work still gets done
        log.warning("background_priority_unchanged error=%r", exc)


_executor = ThreadPoolExecutor(
    max_workers=4, thread_name_prefix="ccroute-background", initializer=_lower_this_thread
)
"""Threads are made as work comes and kept; several writers in one process (tests) each
get one."""


async def in_background(fn: Callable[[], T]) -> T:
    """``fn()`` on a background thread, awaited from the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_executor, fn)


def run_in_background(fn: Callable[[], T]) -> T:
    """``fn()`` on a background thread, waited for by the calling (worker) thread."""
    return _executor.submit(fn).result()
