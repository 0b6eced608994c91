"""Strict test settings: float64 on, rank promotion raises, warnings are errors; and a
persistent compilation cache for the run."""

import gc
import os
import shutil
import tempfile

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")

# JAX's persistent compilation cache: the caches are cleared after every module (below),
# and many modules compile the same sweep again (the green default, the p-i-n); with the
# cache a recompile loads the executable (~6 s of tracing instead of ~30 s of XLA
# compilation, docs/numerics/performance.md "Compilation cache"). A fresh directory per run keeps
# the suite hermetic; set JAX_COMPILATION_CACHE_DIR to keep one across runs.
# Under pytest-xdist the controller imports this file before it starts the workers, so
# exporting the directory here gives the two workers one shared cache (a sweep compiled
# by one is loaded by the other); only the process that made the directory removes it.
_OWN_CACHE = None
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    _OWN_CACHE = tempfile.mkdtemp(prefix="peled-test-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def green_device():
    from peled.device import default_device_path, load_device

    return load_device(default_device_path())


@pytest.fixture(scope="session")
def green_classic_device():
    """The default stack under the classic physics (every layer as its material file
    states it): the Boltzmann pile-up sheet that the log-linear grading and the
    zone-resolution flag are tested on."""
    from peled.device import default_device_path, load_device

    return load_device(default_device_path(), physics="classic")


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drop JAX's compiled executables after every test module.

    Each compiled sweep maps ~2,400 memory regions of machine code (measured), and Linux
    caps a process at vm.max_map_count = 65,530 by default: the full suite in one process
    crossed it and XLA aborted while compiling (in test_sweep.py).
    ``jax.clear_caches()`` releases them (back to ~1,300 after two sweeps); modules that
    need a function again recompile it (docs/numerics/performance.md, "Compiled-code
    memory maps").
    """
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture(autouse=True)
def _release_compiled_code_near_the_limit():
    """Within a module too: after any test, clear JAX's caches when the process holds more
    than half of its memory-map limit (the library's own guard, peled/runtime.py, which
    only ``peled.simulate`` and the CLI call). test_core_solver.py alone (a score of
    distinct solver settings and meshes, each jitted directly) can cross the limit, and
    XLA then segfaults while compiling (exit 139)."""
    yield
    from peled.runtime import release_compiled_code_if_near_limit

    release_compiled_code_if_near_limit()
