"""Implicit gradients of steady states, design parameters and objectives.

Finite-difference tolerance: central differences with step h = 1e-5 of each unit-box
variable (1e-5 of the parameter's range, in log10 for decade-spanning quantities).
Truncation error is O(h^2) ~ 1e-10 relative; round-off is (solution noise)/h: Newton
stops when the update is below 1e-7 V_t, but quadratic convergence leaves the final
iterate at ~1e-12 relative, i.e. ~1e-7 relative in the quotient. sqrt(eps) ~ 1.5e-8 is
too small a step for a quantity that is itself only accurate to ~1e-12, so we take
h = 1e-5 and require |AD - FD| / |FD| < 1e-4 (the issue's bound) for every parameter.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import peled
from peled.core.newton import solve_sweep
from peled.design import apply_parameters, resolve_parameter, updated_device_mapping
from peled.errors import PeledInputError
from peled.objectives import figures_from_states, parse_objective
from peled.optimize import DesignProblem, parse_bounds
from peled.photometry import spectrum_metrics
from peled.simulate import radiative_weight_inputs

MESH = peled.MeshSpec(nodes_per_layer=16)
VOLTS = np.linspace(0.0, 4.0, 17)

# one parameter of each of 10 types, on the red example (ITO / PEDOT:PSS / poly-TPD /
# CsPbI3 NCs / TPBi / LiF-Al): bounds bracket the database values
VARY = {
    "poly-TPD.thickness_nm": (10.0, 60.0),
    "TPBi.electron_affinity_eV": (2.5, 3.0),
    "poly-TPD.ionization_energy_eV": (4.9, 5.6),
    "anode.work_function_eV": (4.4, 5.2),
    "poly-TPD.hole_mobility_cm2_Vs": (1e-4, 1e-2),
    "TPBi.electron_mobility_cm2_Vs": (1e-6, 1e-4),
    "CsPbI3-NC.srh_lifetime_s": (1e-9, 1e-6),
    "CsPbI3-NC.radiative_coefficient_cm3_s": (1e-11, 1e-9),
    "CsPbI3-NC.auger_coefficient_cm6_s": (1e-30, 1e-27),
    "device.outcoupling": (0.05, 0.3),
    "PEDOT:PSS.acceptor_density_cm3": (1e18, 1e20),
}


@pytest.fixture(scope="module")
def red():
    """The red example with interface exciton quenching switched on at the HTL side
    (5 nm quenching length, poly-TPD quenching efficiency 0.5), so that thickness
    gradients also carry the position dependence of the photon yield."""
    import yaml

    with open("examples/red-cspbi3.yaml") as fh:
        data = yaml.safe_load(fh)
    data["layers"][1]["overrides"] = {"exciton_quenching_efficiency": 0.5}
    data["layers"][2]["overrides"] = {"exciton_quenching_length_nm": 5.0}
    return peled.device_from_mapping(data, "red example with quenching")


@pytest.fixture(scope="module")
def problem(red):
    objs = [parse_objective("luminance_at_voltage:voltage_V=3.5")]
    return DesignProblem(red, VARY, objs, VOLTS, mesh=MESH)


def test_gradients_match_central_differences(problem):
    x0 = problem.initial_values()
    s0 = problem.to_unit(x0)
    ev = problem.evaluate(x0)
    assert ev["all_converged"]
    g = ev["gradient_unit"]
    h = 1e-5
    worst = {}
    for i, p in enumerate(problem.params):
        e = np.zeros_like(s0)
        e[i] = h
        fp = problem.evaluate(problem.from_unit(s0 + e))["log_objective"]
        fm = problem.evaluate(problem.from_unit(s0 - e))["log_objective"]
        fd = (fp - fm) / (2 * h)
        assert fd != 0.0, p.name
        worst[p.name] = abs(g[i] - fd) / abs(fd)
    print({k: f"{v:.1e}" for k, v in worst.items()})
    assert max(worst.values()) < 1e-4, worst


@pytest.fixture(scope="module")
def solved(red):
    """One forward sweep of the red example; gradient checks below reuse its states."""
    with jax.enable_x64(True):
        arrays = red.to_arrays(MESH)
        states = solve_sweep(arrays, jnp.asarray(VOLTS))
    assert bool(np.all(states.converged))
    m = red.layers[red.emitter_indices[0]].material
    k = spectrum_metrics(m.emission_peak_nm, m.emission_fwhm_nm).lumens_per_photon_per_s
    return arrays, states, radiative_weight_inputs(red), k


def _weighted_log_current(red, solved):
    arrays, states, plqy, k = solved
    params = [resolve_parameter(n, red) for n in ("poly-TPD.thickness_nm", "TPBi.thickness_nm")]

    def f(theta, w, converged):
        a, eta = apply_parameters(arrays, 0.1, params, [theta[0], theta[1]])
        fig = figures_from_states(a, jnp.asarray(VOLTS), states.u, converged, plqy, eta, k)
        return jnp.sum(w * jnp.log(fig.current_density_mA_cm2[1:]))

    return jax.jit(jax.value_and_grad(f)), jnp.asarray([30.0, 40.0])


def test_gradient_of_sum_over_biases_is_sum_of_per_bias_gradients(red, solved):
    vg, theta = _weighted_log_current(red, solved)
    conv = solved[1].converged
    n = VOLTS.size - 1
    _, g_sum = vg(theta, jnp.ones(n), conv)
    per_bias = [vg(theta, jnp.zeros(n).at[i].set(1.0), conv)[1] for i in range(n)]
    total = np.sum(np.asarray(per_bias), axis=0)
    np.testing.assert_allclose(np.asarray(g_sum), total, rtol=1e-12)
    assert np.all(np.isfinite(total)) and np.all(np.abs(total) > 1.0)


def test_non_converged_bias_poisons_value_and_gradient(red, solved):
    vg, theta = _weighted_log_current(red, solved)
    conv = solved[1].converged.at[5].set(False)
    val, g = vg(theta, jnp.ones(VOLTS.size - 1), conv)
    assert np.isnan(float(val))
    assert np.all(np.isnan(np.asarray(g)))


def test_design_parameter_errors(red):
    with pytest.raises(PeledInputError, match="unknown layer quantity 'thicknes_nm'"):
        resolve_parameter("TPBi.thicknes_nm", red)
    with pytest.raises(PeledInputError, match="no layer 'Alq3'.*layers: 0:PEDOT:PSS"):
        resolve_parameter("Alq3.thickness_nm", red)
    with pytest.raises(PeledInputError, match="layer index 7 out of range 0..3"):
        resolve_parameter("7.thickness_nm", red)
    with pytest.raises(PeledInputError, match="a contact has"):
        resolve_parameter("anode.thickness_nm", red)
    with pytest.raises(PeledInputError, match="NAME=LOW:HIGH"):
        parse_bounds("TPBi.thickness_nm=10")
    with pytest.raises(PeledInputError, match="unknown objective 'eqe'"):
        parse_objective("eqe")
    with pytest.raises(PeledInputError, match="needs \\['luminance_cd_m2'\\]"):
        parse_objective("eqe_at_luminance")
    with pytest.raises(PeledInputError, match="outside the allowed"):
        DesignProblem(red, {"TPBi.thickness_nm": (0.0, 50.0)}, [parse_objective("eqe_max")], VOLTS)
    with pytest.raises(PeledInputError, match="need LOW < HIGH"):
        DesignProblem(red, {"TPBi.thickness_nm": (50.0, 10.0)}, [parse_objective("eqe_max")], VOLTS)


def test_optimized_mapping_reloads_with_the_values(red):
    import yaml

    with open("examples/red-cspbi3.yaml") as fh:
        base = yaml.safe_load(fh)
    names = [
        "TPBi.thickness_nm",
        "poly-TPD.ionization_energy_eV",
        "TPBi.electron_affinity_eV",
        "CsPbI3-NC.srh_lifetime_s",
        "cathode.work_function_eV",
        "device.outcoupling",
    ]
    params = [resolve_parameter(n, red) for n in names]
    vals = [55.0, 5.35, 2.9, 3e-8, 3.1, 0.2]
    dev = peled.device_from_mapping(updated_device_mapping(base, red, params, vals))
    assert dev.layers[3].thickness_nm == 55.0
    assert dev.layers[1].material.ionization_energy_eV == pytest.approx(5.35)
    assert (
        dev.layers[1].material.electron_affinity_eV == red.layers[1].material.electron_affinity_eV
    )
    assert dev.layers[3].material.electron_affinity_eV == pytest.approx(2.9)
    assert dev.layers[3].material.ionization_energy_eV == pytest.approx(
        red.layers[3].material.ionization_energy_eV
    )
    assert dev.layers[2].material.srh_lifetime_electron_s == 3e-8
    assert dev.cathode.work_function_eV == 3.1
    assert dev.outcoupling == 0.2
