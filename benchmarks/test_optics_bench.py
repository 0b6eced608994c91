"""Speed of the thin-film optics (pytest-benchmark; `make bench`). Never asserted."""

import jax
import numpy as np

from peled.device import default_device_path, load_device
from peled.optics.dipole import mode_budget
from peled.optics.stack import dipole_stack

jax.config.update("jax_enable_x64", True)


def test_mode_budget_full_spectrum(benchmark):
    """One full spectrum of the default device: 31 wavelengths x 64 dipole positions,
    all three dipole terms, bottom emission (warm: compiled before timing)."""
    dev = load_device(default_device_path())
    stack = dipole_stack(dev, np.linspace(470.0, 560.0, 31), 2)
    z = np.linspace(0.5, 29.5, 64)
    run = jax.jit(mode_budget, static_argnames="emission_side")
    jax.block_until_ready(run(stack, z, emission_side="bottom"))
    benchmark(lambda: jax.block_until_ready(run(stack, z, emission_side="bottom")))
