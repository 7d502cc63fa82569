"""What held the writer's loop, logged once a minute (``loop_minute``).

While a batch is applied nothing else runs on the loop, so the longest piece of CPU work
bounds what the service itself adds to an input's wait; on a busy machine wall-clock waits
grow beyond it, CPU time not. Beside it the line names what could explain a slow piece:
the cyclic collector's passes (each stops the interpreter), the page faults the loop's
thread took (on a virtual machine each first touch of a page costs 8-16 us, so a heap
that grows shows up here), and how many threads the process has (each thread's
allocations keep memory of their own).
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import threading
import time

__all__ = ["LoopWatch", "process_threads", "thread_faults"]

log = logging.getLogger("ccroute.service.runner")
"""The writer's logger: ``loop_minute`` lines have always been the runner's."""

_RUSAGE_THREAD = getattr(resource, "RUSAGE_THREAD", None)


def thread_faults() -> int:
    """Page faults (minor and major) of the calling thread so far; 0 where the system
    does not count them per thread (Linux does)."""
    if _RUSAGE_THREAD is None:
        return 0
    usage = resource.getrusage(_RUSAGE_THREAD)
    return usage.ru_minflt + usage.ru_majflt


def process_threads() -> int:
    """The process's threads, native ones (the engine's allocator's, nats-server's
    readers') included where ``/proc`` shows them."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class CollectorPasses:
    """The cyclic garbage collector's passes in this process, seen through
    ``gc.callbacks`` (the only way to see them): how many, how many full, and the longest,
    since the last :meth:`take`. A pass stops the whole interpreter, the writer's loop
    with it, and its length grows with the objects the process keeps."""

    def __init__(self) -> None:
        self._began = 0.0
        self.passes = 0
        self.full = 0
        self.longest = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.passes += 1
        self.full += info.get("generation") == 2
        self.longest = max(self.longest, time.perf_counter() - self._began)

    def take(self) -> tuple[int, int, float]:
        seen = self.passes, self.full, self.longest
        self.passes, self.full, self.longest = 0, 0, 0.0
        return seen

    @classmethod
    def watching(cls) -> CollectorPasses:
        """The process's one watcher, registered on first use."""
        for cb in gc.callbacks:
            if isinstance(cb, cls):
                return cb
        watcher = cls()
        gc.callbacks.append(watcher)
        return watcher


class LoopWatch:
    """The longest CPU work the writer's loop did in one piece in a minute: applying a
    batch (any, and one of at most ``live_batch`` inputs: ``live_process_cpu_max_ms``),
    encoding a chunk of projection entries. Of the longest live batch it keeps how many
    inputs it held, the page faults taken while it ran and when it ran (Unix time), so a
    slow minute can be laid beside the rest of the machine's record."""

    def __init__(self) -> None:
        self.collector = CollectorPasses.watching()
        self._reset()

    def _reset(self) -> None:
        self.collector.take()
        self.passes = 0
        self.process_max = 0.0
        self.live_max = 0.0
        self.live_inputs = 0
        self.live_faults = 0
        self.live_at = 0.0
        self.flush_max = 0.0
        self.flushes = 0
        self.faults_at = thread_faults()
        self.logged_at = time.monotonic()

    def process(self, cpu: float, live: bool, inputs: int = 0, faults: int = 0) -> None:
        """One batch applied: ``cpu`` seconds of the loop's thread, ``faults`` page faults
        it took meanwhile."""
        self.passes += 1
        self.process_max = max(self.process_max, cpu)
        if live and cpu > self.live_max:
            self.live_max = cpu
            self.live_inputs = inputs
            self.live_faults = faults
            self.live_at = time.time()

    def flush(self, cpu: float) -> None:
        self.flushes += 1
        self.flush_max = max(self.flush_max, cpu)

    def maybe_log(self, now: float) -> None:
        if now - self.logged_at < 60.0:
            return
        gc_passes, gc_full, gc_longest = self.collector.take()
        log.info(
            "loop_minute passes=%d process_cpu_max_ms=%.1f flushes=%d flush_cpu_max_ms=%.1f "
            "live_process_cpu_max_ms=%.1f gc_passes=%d gc_full=%d gc_max_ms=%.1f "
            "live_slowest_inputs=%d live_slowest_faults=%d live_slowest_at=%.3f "
            "faults=%d threads=%d",
            self.passes,
            self.process_max * 1000,
            self.flushes,
            self.flush_max * 1000,
            self.live_max * 1000,
            gc_passes,
            gc_full,
            gc_longest * 1000,
            self.live_inputs,
            self.live_faults,
            self.live_at,
            thread_faults() - self.faults_at,
            process_threads(),
        )
        self._reset()
