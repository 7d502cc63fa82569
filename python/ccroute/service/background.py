"""Snapshot work on threads at the lowest CPU priority.

A snapshot's engine bytes are encoded, and its upload deflated, beside the writer's
event loop (tens of megabytes every 20 s at 5,000 inputs/s). On a machine of two cores
that thread took a core from the loop, or from the broker the loop waits on, and the
slowest offers fell in those moments (a quarter of the slowest 1 % in the 2 % of the
time spent encoding). Each thread is at nice 19 and in Linux's ``SCHED_IDLE`` policy:
the kernel runs it only where nothing else wants the core, and any other thread that
wakes up on that core (the loop's, the broker's) takes it at once. At nice 19 alone the
kernel's fair scheduler (EEVDF since Linux 6.6) may let the background thread finish its
slice first, and the arrivals that fell in an encoding or an upload were still several
times more frequent among the slowest 1 % than in the whole run (docs/service.md).

Linux only (there, a nice value and a policy belong to one thread); elsewhere the
threads run at the process's priority.
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

__all__ = ["LOWEST_NICE", "in_background", "run_in_background", "thread_nice", "thread_policy"]

log = logging.getLogger("ccroute.service.background")

T = TypeVar("T")

LOWEST_NICE = 19


def thread_nice() -> int | None:
    """The calling thread's nice value (``None`` where threads have none of their own)."""
    if sys.platform != "linux":
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def thread_policy() -> int | None:
    """The calling thread's scheduling policy (``os.SCHED_*``; ``None`` off Linux)."""
    if sys.platform != "linux":
        return None
    return os.sched_getscheduler(threading.get_native_id())


def _lower_this_thread() -> None:
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    try:
        # Raising one's own nice value, or moving to SCHED_IDLE, needs no privilege
        # (going back would). Both: the nice value still orders these threads among
        # themselves, and it holds where a sandbox refuses the policy.
        os.setpriority(os.PRIO_PROCESS, tid, LOWEST_NICE)
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:  # a sandbox that forbids it: the work still gets done
        log.warning("background_priority_unchanged error=%r", exc)


_executor = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="ccroute-background", initializer=_lower_this_thread
)
"""One thread, made with the first job and kept. A pool of several started a new thread
whenever a job came before the last one's thread had counted itself idle, which a thread
at the lowest priority on a busy machine may not do for a long while (the upload's
reading thread submits the next piece of deflating as soon as the last is done): under
load the soak's service gained threads it then kept, each with memory of its own. The
jobs (a snapshot's encoding, its upload's deflating) follow one another anyway; several
writers in one process (tests) queue on it."""


async def in_background(fn: Callable[[], T]) -> T:
    """``fn()`` on a background thread, awaited from the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_executor, fn)


def run_in_background(fn: Callable[[], T]) -> T:
    """``fn()`` on a background thread, waited for by the calling (worker) thread."""
    return _executor.submit(fn).result()
