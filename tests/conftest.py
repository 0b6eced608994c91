"""Strict test settings: float64 on, rank promotion raises, warnings are errors."""

import jax
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(scope="session")
def green_device():
    from peled.device import default_device_path, load_device

    return load_device(default_device_path())
