"""Process resources of compiled code: keep a long run clear of Linux's memory-map limit.

Every compiled sweep holds ~2,400 memory regions of the process (/proc/self/maps; measured
in docs/numerics/performance.md, "Compiled-code memory maps"), and JAX keeps every
compiled function for the life of the process. Linux caps a process at
``vm.max_map_count`` regions (65,530 by default); a process that compiles ~25 distinct
sweep shapes or settings crosses it, and XLA then aborts the interpreter inside its next
compilation. The drivers that compile many shapes in one process (``peled validate``,
``peled sweep``, ``peled.simulate`` in a user's loop) call
:func:`release_compiled_code_if_near_limit` before each compilation unit: when the process
holds more than ``fraction`` of the limit, JAX's caches are cleared (later calls
recompile, 10-30 s each on 2 cores), which is far cheaper than the abort. Elsewhere than
Linux nothing is read and nothing is cleared.

The CLI also keeps compiled code across processes: :func:`enable_compilation_cache`
points JAX's persistent compilation cache at a user cache directory.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from pathlib import Path

# jax is imported inside the functions that use it: importing this module (the CLI does,
# before it knows whether a command only prints its --help) does not load JAX

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
    import jax

    from peled.programs import active_store

    store = active_store()
    if store is not None:
        # the store's loaded programs hold compiled code as well
        store.forget()
    jax.clear_caches()
    gc.collect()
    return True


def compilation_cache_dir(env: Mapping[str, str]) -> Path | None:
    """Where the CLI keeps JAX's persistent compilation cache, given the environment
    ``env``; None when it should not set one.

    None when ``PELED_NO_COMPILATION_CACHE`` is set to anything but "" or "0", or when
    ``JAX_COMPILATION_CACHE_DIR`` is set (JAX then uses that itself); else
    ``$PELED_CACHE_DIR/jax``, ``$XDG_CACHE_HOME/peled/jax`` or ``~/.cache/peled/jax``.
    """
    if env.get("PELED_NO_COMPILATION_CACHE", "") not in ("", "0"):
        return None
    if env.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    if env.get("PELED_CACHE_DIR"):
        return Path(env["PELED_CACHE_DIR"]) / "jax"
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "peled" / "jax"


def enable_compilation_cache() -> Path | None:
    """Point JAX's persistent compilation cache at :func:`compilation_cache_dir` unless a
    cache directory is already configured in this process. Returns the directory in use
    (None: no cache).

    Compiling a sweep takes 20-35 s on 2 cores and a batched ``peled sweep`` solver
    minutes; with the cache a later process loads the executable instead. Programs with
    a host callback are never cached by JAX (docs/numerics/performance.md,
    "Compilation cache"). Beside the cache, in ``programs/``, the exported programs of
    the chunked sweep are stored (:mod:`peled.programs`), so that a later process skips
    tracing and lowering them too."""
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    target = compilation_cache_dir(os.environ)
    if target is None:
        return None
    # no size bound: JAX's LRU eviction needs the extra `filelock` package, and a
    # compiled sweep is ~2 MB (the green default: 1.9 MB); the README says how to clear
    # the directory
    jax.config.update("jax_compilation_cache_dir", str(target))
    # every program, however small: a run compiles ~100 small ones (the observables and
    # metrics outside the sweep), ~30 ms each; JAX's default keeps only those that took
    # at least 1 s
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    # beside it, the exported programs of the chunked sweep (peled.programs): a cached
    # run then skips tracing and lowering as well
    from peled.programs import use_store

    use_store(target.parent / "programs")
    return target
