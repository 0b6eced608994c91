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

# 11 parameters of 10 kinds (electron and hole mobility counted as one kind), on the red
# example (ITO / PEDOT:PSS / poly-TPD / CsPbI3 NCs / TPBi / LiF-Al) under the classic
# physics; bounds bracket the database values
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
    # the classic physics, whose continuum emitter the parameters above include; the
    # disorder-aware terms' gradients: tests/test_gradients_disorder.py
    data["physics"] = "classic"
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


def test_block_jacobian_is_exact_on_the_red_states(solved):
    """At the red example's converged states (2 and 3.5 V), the block-tridiagonal
    Jacobian from 3-colour JVPs equals jax.jacfwd of the residual to 1e-10 of each row's
    largest entry. The implicit gradient solves with its transpose, so any residual term
    that couples nodes two apart would show here first: the colours would alias it onto
    a neighbour's entry and the gradients above would be off (docs/numerics/linear-algebra.md)."""
    from peled.core.newton import _fun_and_jacobian
    from peled.core.residual import residual

    arrays, states, _, _ = solved
    for k in (8, 14):
        u, v = states.u[k], jnp.asarray(VOLTS[k])
        _, _, jac = _fun_and_jacobian(u, arrays, v)
        dense = jax.jacfwd(lambda w, u=u, v=v: residual(w.reshape(u.shape), arrays, v).ravel())(
            u.ravel()
        )
        dense = np.asarray(dense)
        scale = np.max(np.abs(dense), axis=1, keepdims=True)
        err = np.abs(np.asarray(jac.dense()) - dense) / scale
        assert err.max() < 1e-10, (VOLTS[k], err.max())


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
    assert dev.cathode.name == red.cathode.name  # material kept, work function overridden
    assert dev.outcoupling == 0.2


def _figures(j, lum, eqe, v=None):
    from peled.objectives import SweepFigures

    j, lum, eqe = (jnp.asarray(x, jnp.float64) for x in (j, lum, eqe))
    v = jnp.arange(j.size, dtype=jnp.float64) if v is None else jnp.asarray(v, jnp.float64)
    conv = jnp.ones(j.size, bool)
    return SweepFigures(v, j, lum, eqe, conv, jnp.all(conv))


def test_first_crossing_interpolates_and_flags_unreached_targets():
    from peled.objectives import first_crossing_value

    xs = jnp.asarray([1.0, 10.0, 100.0, 1000.0])
    ys = jnp.asarray([2.0, 4.0, 8.0, 3.0])
    # log interpolation half-way between 10 and 100 (sqrt(10 * 100) = 31.62)
    val, ok = first_crossing_value(xs, ys, 10**1.5, log_x=True)
    assert bool(ok) and float(val) == pytest.approx(6.0, rel=1e-12)
    # beyond the largest x: continued as y(x_max) * x_max / target, not reached
    val, ok = first_crossing_value(xs, ys, 1e4, log_x=True)
    assert not bool(ok) and float(val) == pytest.approx(3.0 * 0.1, rel=1e-12)
    # below the first x: the sweep starts past the target, so it is not "reached"
    val, ok = first_crossing_value(xs, ys, 0.5, log_x=True)
    assert not bool(ok) and float(val) == 2.0
    val, ok = first_crossing_value(xs, ys, 1.0, log_x=True)
    assert bool(ok) and float(val) == 2.0
    # linear in x, off-grid; and its gradient with respect to the ys is the hat weights
    val, ok = first_crossing_value(jnp.asarray([0.0, 1.0, 2.0]), ys[:3], 1.25, log_x=False)
    assert bool(ok) and float(val) == pytest.approx(4.0 + 0.25 * 4.0)
    g = jax.grad(lambda y: first_crossing_value(jnp.asarray([0.0, 1.0, 2.0]), y, 1.25, False)[0])(
        ys[:3]
    )
    np.testing.assert_allclose(np.asarray(g), [0.0, 0.75, 0.25], rtol=1e-12)


def test_objectives_on_a_known_sweep():
    from peled.objectives import combined_log_objective, objective_value

    # J rises by decades, EQE peaks at the 3rd bias then rolls off
    j = [0.01, 0.1, 1.0, 10.0, 100.0]
    lum = [0.1, 1.0, 20.0, 100.0, 300.0]
    eqe = [1.0, 3.0, 6.0, 4.0, 1.5]
    fig = _figures(j, lum, eqe)
    val, ok = objective_value(parse_objective("eqe_max"), fig)
    assert float(val) == 6.0 and bool(ok)
    # L = 10 cd/m2: between 1 and 20 at fraction log(10)/log(20) in log L
    t = np.log10(10.0) / np.log10(20.0)
    val, ok = objective_value(parse_objective("eqe_at_luminance:luminance_cd_m2=10"), fig)
    assert bool(ok) and float(val) == pytest.approx(3.0 + t * 3.0, rel=1e-12)
    val, ok = objective_value(parse_objective("rolloff:current_density_mA_cm2=100"), fig)
    assert bool(ok) and float(val) == pytest.approx(1.5 / 6.0)
    val, ok = objective_value(parse_objective("rolloff:current_density_mA_cm2=1000"), fig)
    assert not bool(ok) and float(val) == pytest.approx(1.5 * 0.1 / 6.0)
    val, ok = objective_value(parse_objective("eqe_at_voltage:voltage_V=2.5"), fig)
    assert bool(ok) and float(val) == pytest.approx(5.0)
    val, ok = objective_value(parse_objective("luminance_at_voltage:voltage_V=1.5"), fig)
    assert bool(ok) and float(val) == pytest.approx(np.sqrt(20.0), rel=1e-12)
    total, parts = combined_log_objective(
        [parse_objective("eqe_max*2"), parse_objective("rolloff:current_density_mA_cm2=100")],
        fig,
    )
    assert float(total) == pytest.approx(2 * np.log(6.0) + np.log(0.25), rel=1e-12)
    assert set(parts) == {"eqe_max", "rolloff(current_density_mA_cm2=100)"}
    # a failed bias anywhere makes the combined objective NaN
    bad = fig._replace(all_converged=jnp.asarray(False))
    assert np.isnan(float(combined_log_objective([parse_objective("eqe_max")], bad)[0]))


def test_eqe_max_objective_reads_trusted_biases_only():
    """An EQE peak at an untrusted bias (J below its round-off floor, or not strictly
    accepted) is not the eqe_max objective, nor the roll-off's reference: the trusted
    maximum is (docs/decisions/0017); with no trusted bias the max over every bias is
    returned, flagged not reached."""
    from peled.objectives import objective_value

    j = [1e-15, 0.1, 1.0, 10.0, 100.0]
    eqe = [40.0, 3.0, 6.0, 4.0, 1.5]  # the 40 % sits where J is round-off
    fig = _figures(j, [0.1, 1.0, 20.0, 100.0, 300.0], eqe)
    trusted = jnp.asarray([False, True, True, True, True])
    fig = fig._replace(trusted=trusted)
    val, ok = objective_value(parse_objective("eqe_max"), fig)
    assert float(val) == 6.0 and bool(ok)
    val, ok = objective_value(parse_objective("rolloff:current_density_mA_cm2=100"), fig)
    assert bool(ok) and float(val) == pytest.approx(1.5 / 6.0)
    # the gradient of the trusted max goes to the trusted peak only
    g = jax.grad(
        lambda e: objective_value(parse_objective("eqe_max"), fig._replace(eqe_percent=e))[0]
    )(jnp.asarray(eqe))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.0, 1.0, 0.0, 0.0])
    none = fig._replace(trusted=jnp.zeros(5, bool))
    val, ok = objective_value(parse_objective("eqe_max"), none)
    assert float(val) == 40.0 and not bool(ok)


def test_figures_mark_round_off_and_relaxed_biases_untrusted(solved):
    """figures_from_states: trusted = converged, |J| above the floor of
    peled.core.observables and strictly accepted; a bias given a non-strict result code
    is not trusted whatever its current."""
    from peled.core.newton import RESULT_STRICT
    from peled.core.observables import bias_observables

    arr, st, inputs, k = solved
    volts = jnp.asarray(VOLTS)
    codes = jnp.where(jnp.arange(VOLTS.size) == VOLTS.size - 1, 1, RESULT_STRICT)
    with jax.enable_x64(True):
        fig = figures_from_states(arr, volts, st.u, st.converged, inputs, 0.2, k, result_code=codes)
        obs = jax.vmap(bias_observables, in_axes=(0, None, None))(
            st.u, arr, jnp.zeros(arr.n_layers)
        )
    above = np.abs(np.asarray(obs.current_density_A_m2)) > np.asarray(obs.current_floor_A_m2)
    want = np.asarray(st.converged) & above
    want[-1] = False
    np.testing.assert_array_equal(np.asarray(fig.trusted), want)
    assert want.any() and not want.all()


def test_parameter_set_errors(red):
    from peled.design import check_parameters

    ps = [resolve_parameter(n, red) for n in ("1.thickness_nm", "poly-TPD.thickness_nm")]
    with pytest.raises(PeledInputError, match="name the same quantity"):
        check_parameters(ps, red)
    with pytest.raises(PeledInputError, match="band gap of -0.40 eV"):
        DesignProblem(
            red,
            {"TPBi.electron_affinity_eV": (2.5, 3.0), "TPBi.ionization_energy_eV": (2.6, 6.0)},
            [parse_objective("eqe_max")],
            VOLTS,
        )
    with pytest.raises(PeledInputError, match="weight must be finite"):
        parse_objective("eqe_max*inf")
