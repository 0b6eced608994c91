"""Result codes: every bias says how it was accepted (peled.core.newton.RESULT_CODES) in
SweepStates, SimulationResult, jv.csv and summary.json, and implicit gradients are NaN
where a bias was not accepted by the strict test. (A sweep converged strictly everywhere
is checked in test_simulate.py, on its own sweep.) One compiled sweep."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from test_core_solver import continuity_violations
from test_simulate import small_led

from peled.core.newton import (
    ACCEPT_DILUTE,
    ACCEPT_FLOOR,
    ACCEPT_STRICT,
    ACCEPTANCE_CODES,
    RESULT_CODES,
    RESULT_FAILED,
    RESULT_STRICT,
    ROUTE_BACKWARD_FILL,
    ROUTE_CODES,
    ROUTE_STRIDE,
    SolverSettings,
    result_acceptance,
    result_code_names,
    result_route,
    solve_sweep,
    strictly_converged,
)
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec
from peled.errors import PeledInputError
from peled.io import write_jv, write_summary
from peled.objectives import figures_from_states
from peled.simulate import radiative_weight_inputs, result_from_states

MESH = MeshSpec(24)
# biases with a 2 V jump, solved with continuation cut to one sub-step of at most 8 Newton
# iterations and an unreachable residual_rtol: no point can pass the strict test, the
# forward pass fails after equilibrium, the revisiting rounds recover 0.25-1 V, and
# 3.0-3.5 V stay failed
VOLTS_CUT = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 3.0, 3.25, 3.5])
CUT = SolverSettings(residual_rtol=1e-30, max_substeps=1, max_iterations=8)


def _files(res, tmp_path):
    write_jv(res, tmp_path / "jv.csv")
    write_summary(res, tmp_path / "summary.json")
    jv = pd.read_csv(tmp_path / "jv.csv")
    return jv, json.loads((tmp_path / "summary.json").read_text())


@pytest.fixture(scope="module")
def led_cut():
    dev = small_led()
    arrays = dev.to_arrays(MESH)
    states = solve_sweep(arrays, jnp.asarray(VOLTS_CUT), CUT)
    return dev, arrays, states, result_from_states(dev, arrays, VOLTS_CUT, states)


def test_result_code_table():
    """8 route + acceptance, -1 failed; forward-pass codes are named by their rule."""
    assert RESULT_CODES[RESULT_STRICT] == "strict" and RESULT_STRICT == 0
    assert RESULT_CODES[RESULT_FAILED] == "failed"
    assert RESULT_CODES[ACCEPT_FLOOR] == "floor"
    assert RESULT_CODES[ROUTE_STRIDE * ROUTE_BACKWARD_FILL] == "backward_fill/strict"
    assert len(set(RESULT_CODES.values())) == len(RESULT_CODES)
    assert len(RESULT_CODES) == 1 + len(ROUTE_CODES) * (len(ACCEPTANCE_CODES) - 1)
    codes = np.array([-1, 0, 1, 2, 32, 8 * 3 + ACCEPT_DILUTE])
    np.testing.assert_array_equal(
        result_code_names(codes),
        ["failed", "strict", "floor", "physically_resolved", "backward_fill/strict"]
        + ["alternate_dilute/dilute"],
    )
    np.testing.assert_array_equal(result_acceptance(codes), [-1, 0, 1, 2, 0, 4])
    np.testing.assert_array_equal(result_route(codes), [-1, 0, 0, 0, 4, 3])
    strict = [False, True, False, False, True, False]
    np.testing.assert_array_equal(strictly_converged(codes), strict)
    np.testing.assert_array_equal(np.asarray(strictly_converged(jnp.asarray(codes))), strict)


def test_failed_biases_report_failed_and_nan(led_cut, tmp_path):
    """Where the cut sweep fails, the result is "failed" and every observable NaN; the
    converged biases carry finite ones and no "strict" code (residual_rtol = 1e-30 cannot
    be met: they were accepted by a floor rule or on a revisiting pass)."""
    _, _, states, res = led_cut
    failed = ~res.converged
    np.testing.assert_array_equal(np.asarray(states.result_code) == RESULT_FAILED, failed)
    assert failed[VOLTS_CUT >= 3.0].all() and res.converged[0]
    assert np.all(res.result[failed] == "failed")
    for obs in (
        res.current_density_mA_cm2,
        res.luminance_cd_m2,
        res.eqe_percent,
        res.radiative_current_mA_cm2,
        res.profiles["electron_density_cm3"],
    ):
        assert np.all(np.isnan(obs[failed]))
    assert np.all(np.isfinite(res.current_density_mA_cm2[~failed]))
    assert not np.any(np.isin(res.result, ["strict"]))
    jv, summ = _files(res, tmp_path)
    assert list(jv["result"]) == list(res.result)
    assert jv["current_density_mA_cm2"][failed].isna().all()
    assert summ["result_counts"]["failed"] == int(failed.sum())
    assert sum(summ["result_counts"].values()) == VOLTS_CUT.size
    assert summ["result_counts"] == res.result_counts()


def test_relaxed_acceptance_is_reported(led_cut):
    """The converged biases of the cut sweep were accepted by the floor rule (equilibrium
    at 0 V) or on the revisiting rounds: never by the strict test, and a route other than
    the forward pass is recorded where that pass failed. Their states are
    current-continuous."""
    _, arrays, states, res = led_cut
    code = np.asarray(states.result_code)
    ok = res.converged
    acc, route = result_acceptance(code[ok]), result_route(code[ok])
    assert np.all(acc != ACCEPT_STRICT) and not res.strictly_converged.any()
    assert set(res.result[ok]) <= set(RESULT_CODES.values()) - {"strict", "failed"}
    assert res.result[0] == "floor"
    assert np.any(route > 0), list(res.result)
    ob = sweep_observables(states.u, arrays, jnp.zeros(arrays.n_layers))
    assert continuity_violations(arrays, states, ob) == []


def test_relaxed_points_agree_with_a_strict_solve_from_another_route(led_cut):
    """Property of every non-strict acceptance: each bias of the cut sweep accepted by a
    relaxed rule or on a revisiting route holds the state a strictly converged solve
    reaches from another route (the default settings: full continuation from 0 V, the
    strict residual test): J within 1e-9 relative where |J| is above its round-off floor
    and within that floor below it, the electrostatic potential within 1e-9 kT, and each
    carrier's density within 1e-9 relative wherever it is above 1e-20 of its largest
    value in the device (a quasi-Fermi level is not determined where its carrier is
    absent: there the two solves differ by up to ~0.5 kT, in densities 20 decades below
    the rest)."""
    _, arrays, states, res = led_cut
    strict = solve_sweep(arrays, jnp.asarray(VOLTS_CUT), SolverSettings())
    ref = result_from_states(led_cut[0], arrays, VOLTS_CUT, strict)
    relaxed = res.converged & ~res.strictly_converged
    assert relaxed.sum() >= 4  # 0 V (floor rule) and the biases the revisiting rounds took
    assert np.all(ref.strictly_converged[relaxed])
    j, j_ref = res.current_density_mA_cm2[relaxed], ref.current_density_mA_cm2[relaxed]
    floor = np.maximum(res.current_floor_mA_cm2, ref.current_floor_mA_cm2)[relaxed]
    err = np.abs(j - j_ref)
    ok = (err <= 1e-9 * np.abs(j_ref)) | (err <= floor)
    assert ok.all(), list(zip(VOLTS_CUT[relaxed], j, j_ref, floor, strict=True))
    dpsi = np.abs(np.asarray(states.u)[relaxed, :, 0] - np.asarray(strict.u)[relaxed, :, 0])
    assert dpsi.max() < 1e-9, dpsi.max()
    for key in ("electron_density_cm3", "hole_density_cm3"):
        a, b = res.profiles[key][relaxed], ref.profiles[key][relaxed]
        present = b > 1e-20 * b.max(axis=1, keepdims=True)
        rel = np.abs(a - b)[present] / b[present]
        assert rel.max() < 1e-9, (key, rel.max())


def test_implicit_gradient_is_nan_where_not_strict(led_cut):
    """d J_k / d V_k through the implicit steady state on the cut sweep: NaN at every
    bias (all of them converged by relaxed rules or failed); with allow_nonstrict=True
    finite wherever converged, with allow_nonstrict=("floor",) only where the floor rule
    accepted. Given a strict code, on any route, a converged bias gets its gradient back
    (the same number), and the other biases keep theirs; the values never change."""
    dev, arrays, states, res = led_cut
    weights = radiative_weight_inputs(dev)

    def total_current(v, code, allow):
        fig = figures_from_states(
            arrays,
            v,
            states.u,
            states.converged,
            weights,
            0.1,
            1.0,
            result_code=code,
            allow_nonstrict=allow,
        )
        return jnp.sum(jnp.where(fig.converged, fig.current_density_mA_cm2, 0.0))

    vg = jax.jit(jax.value_and_grad(total_current), static_argnums=2)
    v = jnp.asarray(VOLTS_CUT)
    ok = res.converged
    code = states.result_code
    val, g = vg(v, code, False)
    assert np.all(np.isnan(np.asarray(g)))
    val_any, g_any = vg(v, code, True)
    g_any = np.asarray(g_any)
    assert float(val) == float(val_any) and np.isfinite(float(val))
    assert np.all(np.isfinite(g_any[ok])) and np.all(np.isnan(g_any[~ok]))
    # allowed by rule name: the floor rule accepted 0 V (equilibrium), nothing else
    assert res.result[0] == "floor" and not np.any(res.result[1:] == "floor")
    g_floor = np.asarray(vg(v, code, ("floor",))[1])
    assert g_floor[0] == g_any[0] and np.all(np.isnan(g_floor[1:]))
    with pytest.raises(PeledInputError, match="unknown acceptance rule"):
        vg(v, code, ("flor",))
    k = int(np.flatnonzero(ok)[-1])
    assert abs(g_any[k]) > 0
    for strict_code in (RESULT_STRICT, ROUTE_STRIDE * ROUTE_BACKWARD_FILL + ACCEPT_STRICT):
        val_k, g_k = vg(v, code.at[k].set(strict_code), False)
        g_k = np.asarray(g_k)
        assert float(val_k) == float(val)
        assert g_k[k] == g_any[k]
        assert np.all(np.isnan(np.delete(g_k, k)))
