"""The C allocator's settings for a long-running service process (glibc only).

glibc raises its ``mmap`` threshold each time it frees a large block that came from
``mmap``, up to 32 MB: after the first snapshot or large batch, every buffer up to that
size comes from the heap instead, and a heap shrinks only from its top, so memory freed
in the middle stays with the process. Measured with 100,000 contacts waiting, that held
the service about 14 MB above its live data (benchmarks/service_memory.py). A fixed
threshold keeps large buffers in ``mmap`` (returned whole when freed); ``trim`` after a
snapshot gives the heap's free pages back.

Elsewhere (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

__all__ = ["trim", "tune"]

log = logging.getLogger("ccroute.service.allocator")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 512 * 1024
"""Above asyncio's socket reads: each read allocates a 256 KiB ``bytes`` and shrinks it to
what came. At glibc's starting value (128 KiB) every read was an ``mmap``, an ``mremap``
and an ``munmap`` with its page faults, thousands a second under load: 4.5 % of the
writer's loop in a profile of the soak (``py-spy``). From the heap the same buffer is
reused, and blocks this size are still few enough for ``trim`` to return."""
_TRIM_THRESHOLD = 1024 * 1024


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def tune() -> bool:
    """Fix the mmap and trim thresholds (turns glibc's dynamic threshold off)."""
    if _LIBC is None:
        return False
    ok = bool(_LIBC.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        _LIBC.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
    log.debug("malloc_tuned ok=%s", ok)
    return ok


def trim() -> None:
    """Return the heap's free pages to the system (ctypes releases the GIL meanwhile)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
