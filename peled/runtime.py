"""Process resources of compiled code: keep a long run clear of Linux's memory-map limit.

Every compiled sweep holds ~2,400 memory regions of the process (/proc/self/maps; measured
in docs/numerics.md, "Compiled-code memory maps"), and JAX keeps every compiled function
for the life of the process. Linux caps a process at ``vm.max_map_count`` regions (65,530
by default); a process that compiles ~25 distinct sweep shapes or settings crosses it, and
XLA then aborts the interpreter inside its next compilation. The drivers that compile
many shapes in one process (``peled validate``, ``peled sweep``, ``peled.simulate`` in a
user's loop) call :func:`release_compiled_code_if_near_limit` before each compilation
unit: when the process holds more than ``fraction`` of the limit, JAX's caches are
cleared (later calls recompile, 10-30 s each on 2 cores), which is far cheaper than the
abort. Elsewhere than Linux nothing is read and nothing is cleared.
"""

from __future__ import annotations

import gc
from pathlib import Path

import jax

MAPS = Path("/proc/self/maps")
MAX_MAP_COUNT = Path("/proc/sys/vm/max_map_count")


def memory_map_usage() -> tuple[int, int] | None:
    """(memory regions the process holds, the kernel's per-process limit), or None where
    /proc does not say (not Linux, or unreadable)."""
    try:
        with MAPS.open("rb") as fh:
            used = sum(1 for _ in fh)
        limit = int(MAX_MAP_COUNT.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return used, limit


def release_compiled_code_if_near_limit(fraction: float = 0.5) -> bool:
    """Clear JAX's compilation caches when the process holds more than ``fraction`` [-] of
    its memory-map limit. Returns whether it cleared them."""
    usage = memory_map_usage()
    if usage is None or usage[0] <= fraction * usage[1]:
        return False
    jax.clear_caches()
    gc.collect()
    return True
