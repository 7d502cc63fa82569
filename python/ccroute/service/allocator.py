"""The allocators' settings for a long-running service process.

glibc raises its ``mmap`` threshold each time it frees a large block that came from
``mmap``, up to 32 MB: after the first snapshot or large batch, every buffer up to that
size comes from the heap instead, and a heap shrinks only from its top, so memory freed
in the middle stays with the process. Measured with 100,000 contacts waiting, that held
the service about 14 MB above its live data (benchmarks/service_memory.py). A fixed
threshold keeps large buffers in ``mmap`` (returned whole when freed).

Both allocators (glibc's for Python, mimalloc for the engine) are told to keep what is
freed while the service is busy: on a virtual machine each page handed back and used
again costs a page fault of 8-16 us (measured on the development VM, a Firecracker guest),
and a snapshot every 20 s frees and uses again tens of megabytes. The writer calls
:func:`release` once it is idle, so an idle service shrinks as before.

Elsewhere (musl, macOS) the glibc settings are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

from ccroute import _core

__all__ = ["release", "trim", "tune"]

log = logging.getLogger("ccroute.service.allocator")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 512 * 1024
"""Above asyncio's socket reads: each read allocates a 256 KiB ``bytes`` and shrinks it to
what came. At glibc's starting value (128 KiB) every read was an ``mmap``, an ``mremap``
and an ``munmap`` with its page faults, thousands a second under load: 4.5 % of the
writer's loop in a profile of the soak (``py-spy``). From the heap the same buffer is
reused, and blocks this size are still few enough for ``trim`` to return."""
_TRIM_THRESHOLD = 64 * 1024 * 1024
"""Free memory at the heap's top that glibc keeps rather than shrinking the heap (its
default is 128 KiB): :func:`release` trims the rest once idle."""


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def tune() -> bool:
    """Keep freed memory for reuse until :func:`release`; fix glibc's mmap and trim
    thresholds (turns its dynamic threshold off). False where glibc is not there."""
    _core.keep_freed_memory(True)
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


def release() -> None:
    """Give both allocators' unused memory back to the system now: the engine's (this
    thread's heap and every page freed anywhere, GIL released) and glibc's heap."""
    _core.release_memory()
    trim()
