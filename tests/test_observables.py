"""Recombination zone, charge balance, interface exciton quenching and the PLQY relation.

One mirror-symmetric, barrier-free p-i-n LED (3 layers, 24 nodes per layer, 17 biases:
the shapes of tests/test_simulate.py, so the compiled sweep is shared) is solved three
times: balanced, with a 100x lower HTL hole mobility, and without free-carrier losses.
Quenching variants reuse the balanced states (quenching does not enter the transport
equations, only the photon yield), so they cost no extra solve.
"""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from devices import inline_material
from scipy import constants, special

import peled
from peled.core.observables import (
    charge_balance,
    emitter_injection_currents,
    node_radiative_weight,
    zone_metrics,
)
from peled.core.params import MeshSpec, layer_boundaries_m, node_positions_m
from peled.simulate import result_from_states

MESH = MeshSpec(24)
VOLTS = np.linspace(0.0, 4.0, 17)
PLQY = 0.8


def _mat(name, role, ea, eg, mu_e, mu_h, **kw):
    return inline_material(name, role, ea, eg, mu_e, mu_h, **kw)


def symmetric_led(htl_mu_h=1e-3, tau_s=1e-7, auger=5e-28, htl_quench=None, etl_quench=None):
    """Mirror-symmetric LED: HTL valence band and ETL conduction band flush with the
    emitter's, equal mobilities and DOS, contacts 0.1 eV inside the outer bands."""
    em = _mat(
        "sym-emitter",
        "emitter",
        3.39,
        2.41,
        1e-3,
        1e-3,
        relative_permittivity=10.0,
        radiative_coefficient_cm3_s=1.5e-10,
        srh_lifetime_electron_s=tau_s,
        srh_lifetime_hole_s=tau_s,
        auger_coefficient_electron_cm6_s=auger,
        auger_coefficient_hole_cm6_s=auger,
        refractive_index=1.9,
        emission_peak_nm=515,
        emission_fwhm_nm=18,
        photoluminescence_quantum_yield=PLQY,
        exciton_quenching_length_nm=5.0,
    )
    htl = _mat("sym-htl", "hole_transport", 2.40, 3.40, 1e-7, htl_mu_h)
    etl = _mat("sym-etl", "electron_transport", 3.39, 3.40, 1e-3, 1e-7)
    if htl_quench is not None:
        htl["exciton_quenching_efficiency"] = htl_quench
        htl["sources"]["exciton_quenching_efficiency"] = "test value"
    if etl_quench is not None:
        etl["exciton_quenching_efficiency"] = etl_quench
        etl["sources"]["exciton_quenching_efficiency"] = "test value"
    midgap = 3.39 + 0.5 * 2.41
    return peled.device_from_mapping(
        {
            "name": "symmetric LED",
            "anode": {"work_function_eV": 5.8 - 0.1},
            "cathode": {"work_function_eV": 2 * midgap - 5.7},
            "layers": [
                {"material": htl, "thickness_nm": 30},
                {"material": em, "thickness_nm": 20},
                {"material": etl, "thickness_nm": 30},
            ],
        },
        "symmetric_led",
    )


def _solve(dev):
    """Solve once; return (result, arrays, states) so variants can reuse the states."""
    from peled.core.newton import SolverSettings, solve_sweep

    arrays = dev.to_arrays(MESH)
    states = solve_sweep(arrays, jnp.asarray(VOLTS), SolverSettings())
    return result_from_states(dev, arrays, VOLTS, states), arrays, states


@pytest.fixture(scope="module")
def balanced():
    return _solve(symmetric_led())


@pytest.fixture(scope="module")
def hole_poor():
    return _solve(symmetric_led(htl_mu_h=1e-5))[0]


def _emitting(res):
    return res.converged & (res.current_density_mA_cm2 > 1e-2)


def test_balanced_symmetric_centroid_at_emitter_centre(balanced):
    res = balanced[0]
    assert res.converged.all()
    ks = np.nonzero(_emitting(res))[0]
    assert ks.size >= 3
    for k in ks:
        z = res.zone_summary(int(k))
        assert z["emitter_centre_nm"] == pytest.approx(40.0)
        assert abs(z["centroid_nm"] - 40.0) < 1e-3, z
        # mirror symmetry: equal shares near both interfaces, balance factor 1
        a = z["fraction_within_5nm_of_1_anode_side"]
        b = z["fraction_within_5nm_of_1_cathode_side"]
        assert a == pytest.approx(b, rel=1e-4, abs=1e-9)
        assert res.charge_balance_factor[k] == pytest.approx(1.0, rel=1e-4)
        assert res.electron_hole_current_ratio[k] == pytest.approx(1.0, rel=1e-4)


def test_low_htl_hole_mobility_moves_zone_to_htl_side(balanced, hole_poor):
    res0, res1 = balanced[0], hole_poor
    assert res1.converged.all()
    k = int(np.nonzero(_emitting(res0) & _emitting(res1))[0][-1])
    c0 = res0.zone_summary(k)["centroid_nm"]
    c1 = res1.zone_summary(k)["centroid_nm"]
    assert c1 < c0 - 1.0, (c0, c1)  # toward the HTL (anode side, smaller x)
    # Both transport layers block the other carrier (1 eV steps), so every carrier that
    # enters the emitter recombines in it, and current continuity makes the electron and
    # hole currents entering it equal up to the leakage over those steps, however slow the
    # HTL: the imbalance shows in where the zone sits, not in the injection ratio. (This
    # test does not assert ratio > 1 and balance < 1: both would hold only by a 1e-10
    # round-off margin, which a change in the order of the block solves' arithmetic
    # flips to 1 - 4e-11.)
    assert res1.electron_hole_current_ratio[k] == pytest.approx(1.0, rel=1e-6)
    assert res1.charge_balance_factor[k] == pytest.approx(1.0, rel=1e-6)
    z1 = res1.zone_summary(k)
    assert z1["fraction_within_5nm_of_1_anode_side"] > z1["fraction_within_5nm_of_1_cathode_side"]


def test_injection_currents_conserve_total_current(balanced):
    """J = J_n + J_p on every edge: J_e,in + J_h,leak = J_h,in + J_e,leak = J."""
    res, arrays, states = balanced
    from peled.core.observables import sweep_observables

    obs = sweep_observables(states.u, arrays, jnp.asarray(res.radiative_weight))
    inj = emitter_injection_currents(
        obs.electron_current_A_m2, obs.hole_current_A_m2, arrays.node_layer, 1
    )
    j = np.asarray(obs.current_density_A_m2)
    ok = j > 1.0
    np.testing.assert_allclose(
        np.asarray(inj.electron_in_A_m2 + inj.hole_leak_A_m2)[ok], j[ok], rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(inj.hole_in_A_m2 + inj.electron_leak_A_m2)[ok], j[ok], rtol=1e-6
    )
    ratio, factor = charge_balance(jnp.asarray([2.0, 1.0, -1.0]), jnp.asarray([1.0, 4.0, 1.0]))
    np.testing.assert_allclose(np.asarray(ratio[:2]), [2.0, 0.25])
    np.testing.assert_allclose(np.asarray(factor[:2]), [0.5, 0.25])
    assert np.isnan(ratio[2]) and np.isnan(factor[2])


def test_plqy_is_photon_yield_without_free_carrier_losses():
    """With SRH and Auger off, every injected pair forms an exciton: photons per
    recombined pair equal the film PLQY (the low-excitation PL experiment); with them
    on, the yield is PLQY x R_rad / (R_rad + R_SRH + R_Auger) < PLQY."""
    lossless = _solve(symmetric_led(tau_s=1e3, auger=0.0))[0]
    ok = _emitting(lossless)
    phi = lossless.outcoupled_photon_flux_m2_s[ok] / lossless.outcoupling
    pairs = lossless.recombination_current_mA_cm2[ok] * 10.0 / constants.e
    np.testing.assert_allclose(phi / pairs, PLQY, rtol=1e-6)
    np.testing.assert_allclose(
        lossless.eqe_percent[ok] / 100, lossless.outcoupling * PLQY, rtol=1e-3
    )


def test_quenching_weight_matches_analytic_law(balanced):
    _, arrays, _ = balanced
    lq, s_l, s_r = 5e-9, 0.6, 0.3
    w = node_radiative_weight(
        arrays,
        jnp.asarray([0.0, PLQY, 0.0]),
        jnp.asarray([0.0, lq, 0.0]),
        jnp.asarray([0.0, s_l, 0.0]),  # anode-side neighbour of layer 1
        jnp.asarray([0.0, s_r, 0.0]),  # cathode-side neighbour of layer 1
    )
    x = np.asarray(node_positions_m(arrays))
    b = np.asarray(layer_boundaries_m(arrays))
    inside = np.asarray(arrays.node_layer) == 1
    expect = PLQY * (1 - s_l * np.exp(-(x - b[1]) / lq)) * (1 - s_r * np.exp(-(b[2] - x) / lq))
    np.testing.assert_allclose(np.asarray(w)[inside], expect[inside], rtol=1e-12)
    assert np.all(np.asarray(w)[~inside] == 0.0)


def test_quenching_neighbour_lowers_eqe_and_barrier_removes_it(balanced):
    """A quenching HTL (s = 1) next to the emitter loses excitons formed within ~L_q of
    it; a non-quenching neighbour (s = 0, e.g. a wide-gap interlayer) loses none.
    Bookkeeping: photons = sum w * PLQY * q(x) * R_rad, w the recombination width: the
    finite-volume cell width (faces at the layer boundaries), as the residual uses it."""
    res0, arrays, states = balanced
    dev_q = symmetric_led(htl_quench=1.0)
    res_q = result_from_states(dev_q, arrays, VOLTS, states)
    dev_none = symmetric_led(htl_quench=0.0, etl_quench=0.0)
    res_n = result_from_states(dev_none, arrays, VOLTS, states)
    ok = _emitting(res0)
    np.testing.assert_allclose(res_n.eqe_percent[ok], res0.eqe_percent[ok], rtol=1e-12)
    ratio = res_q.eqe_percent[ok] / res0.eqe_percent[ok]
    assert np.all(ratio < 0.95) and np.all(ratio > 0.3)
    # photon bookkeeping against the rate profile and the analytic weight
    x_nm = res0.position_nm
    lay = res0.node_layer
    mid = 0.5 * (x_nm[1:] + x_nm[:-1])
    face = np.where(lay[1:] != lay[:-1], np.where(lay[1:] == 1, 30.0, 50.0), mid)
    dx = np.diff(np.concatenate([x_nm[:1], face, x_nm[-1:]])) * 1e-7  # cm
    inside = res0.node_layer == 1
    x_in = res0.position_nm[inside]
    q_x = -np.expm1(-(x_in - 30.0) / 5.0)
    for k in np.nonzero(ok)[0]:
        w = res_q.profiles["recombination_width_nm"][k] * 1e-7  # cm
        np.testing.assert_allclose(w, dx, rtol=1e-12)
        r = res_q.profiles["radiative_rate_cm3_s"][k][inside]
        phi_cm2 = np.sum(w[inside] * PLQY * q_x * r)
        expect = phi_cm2 * 1e4 * res_q.outcoupling
        assert res_q.outcoupled_photon_flux_m2_s[k] == pytest.approx(expect, rel=1e-9)
    # quenching only from the HTL side (x = 30 nm): PLQY (1 - exp(-d / 5 nm))
    np.testing.assert_allclose(res_q.radiative_weight[inside], PLQY * q_x, rtol=1e-12)
    assert res_q.radiative_weight[inside][0] < 0.5 * PLQY


def test_zone_metrics_of_a_gaussian():
    """Centroid, FWHM and the 5 nm fractions of a Gaussian profile in a 40 nm layer
    against their closed forms (sigma = 6 nm, centre 18 nm from the anode side)."""
    x = np.linspace(0.0, 40.0, 4001)
    mu, sig = 18.0, 6.0
    rate = np.exp(-0.5 * ((x - mu) / sig) ** 2)
    z = zone_metrics(
        jnp.asarray(x), jnp.asarray([0.0, 40.0]), jnp.zeros(x.size, jnp.int32), rate, 0, 5.0
    )
    cdf = special.ndtr
    mass = cdf((40 - mu) / sig) - cdf(-mu / sig)
    mean = mu + sig * (
        math.exp(-0.5 * (mu / sig) ** 2) - math.exp(-0.5 * ((40 - mu) / sig) ** 2)
    ) / (math.sqrt(2 * math.pi) * mass)
    assert float(z.centroid) == pytest.approx(mean, abs=1e-4)
    assert float(z.fwhm) == pytest.approx(2 * math.sqrt(2 * math.log(2)) * sig, abs=1e-3)
    f_a = (cdf((5 - mu) / sig) - cdf(-mu / sig)) / mass
    f_b = (cdf((40 - mu) / sig) - cdf((35 - mu) / sig)) / mass
    assert float(z.fraction_near_anode_side) == pytest.approx(f_a, abs=2e-4)
    assert float(z.fraction_near_cathode_side) == pytest.approx(f_b, abs=2e-4)


def test_quenching_keys_validated():
    em = _mat("q", "hole_transport", 2.4, 3.4, 1e-7, 1e-3, exciton_quenching_efficiency=1.5)
    with pytest.raises(peled.PeledInputError, match="exciton_quenching_efficiency"):
        peled.device_from_mapping(
            {
                "name": "x",
                "anode": {"work_function_eV": 5.0},
                "cathode": {"work_function_eV": 3.0},
                "layers": [{"material": em, "thickness_nm": 10}],
            },
            "bad_quench",
        )


def test_balanced_zone_is_resolved_by_the_mesh(balanced):
    """The symmetric LED's zone spans the emitter centre: no bias is flagged as a sheet
    thinner than the mesh (peled.metrics.unresolved_zone_voltages)."""
    from peled.metrics import unresolved_zone_voltages

    res = balanced[0]
    assert np.any(_emitting(res))
    assert unresolved_zone_voltages(res) == []
