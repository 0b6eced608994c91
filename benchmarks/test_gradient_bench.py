"""Cost of implicit gradients relative to the forward solve (pytest-benchmark, `make bench`).

Green example (default mesh, 64 nodes per layer), five design parameters (HTL and ETL
thickness, HTL ionization energy, HTL hole mobility, emitter SRH lifetime):

* one bias (4 V, reached by continuation from 0 V): forward solve vs value-and-gradient
  of EQE there;
* the full sweep (0-8 V, 0.1 V steps): forward sweep vs value-and-gradient of EQE_max.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import peled
from peled.core.newton import solve_sweep
from peled.objectives import parse_objective
from peled.optimize import DesignProblem

jax.config.update("jax_enable_x64", True)

VARY = {
    "TFB.thickness_nm": (10.0, 60.0),
    "TPBi.thickness_nm": (10.0, 80.0),
    "TFB.ionization_energy_eV": (5.1, 5.7),
    "TFB.hole_mobility_cm2_Vs": (1e-5, 1e-2),
    "CsPbBr3-NC.srh_lifetime_s": (1e-10, 1e-7),
}
CASES = {
    "one_bias": (np.array([4.0]), "eqe_at_voltage:voltage_V=4"),
    "sweep": (np.round(np.arange(0.0, 8.0001, 0.1), 10), "eqe_max"),
}


@pytest.fixture(scope="module")
def green():
    return peled.load_device(peled.device.default_device_path())


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward(benchmark, green, case):
    volts, _ = CASES[case]
    arr = green.to_arrays()
    v = jnp.asarray(volts)
    solve_sweep(arr, v).u.block_until_ready()
    benchmark(lambda: solve_sweep(arr, v).u.block_until_ready())


@pytest.mark.parametrize("case", sorted(CASES))
def test_value_and_gradient(benchmark, green, case):
    volts, obj = CASES[case]
    prob = DesignProblem(green, VARY, [parse_objective(obj)], volts)
    x = prob.initial_values()
    ev = prob.evaluate(x)
    assert ev["all_converged"] and np.all(np.isfinite(ev["gradient_unit"]))
    benchmark(lambda: prob.evaluate(x))
