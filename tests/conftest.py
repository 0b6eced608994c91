"""Strict test settings: float64 on, rank promotion raises, warnings are errors."""

import gc

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def green_device():
    from peled.device import default_device_path, load_device

    return load_device(default_device_path())


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drop JAX's compiled executables after every test module.

    Each compiled sweep maps ~2,400 memory regions of machine code (measured), and Linux
    caps a process at vm.max_map_count = 65,530 by default: the full suite in one process
    crossed it and XLA aborted while compiling (twice in test_sweep.py, session 5).
    ``jax.clear_caches()`` releases them (back to ~1,300 after two sweeps); modules that
    need a function again recompile it (docs/numerics.md, "Compiled-code memory maps").
    """
    yield
    jax.clear_caches()
    gc.collect()
