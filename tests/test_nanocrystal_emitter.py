"""Nanocrystal-film statistics (peled.model.statistics.nanocrystal) and the excitonic
emitter's per-crystal Auger (peled.model.emitter.excitonic)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import constants, integrate

from peled.model.emitter.excitonic import (
    auger_survival,
    half_quenching_occupancy,
    langevin_coefficient_m3_s,
    volume_scaled_lifetime_s,
)
from peled.model.statistics.fermi_dirac import fermi_dirac_half_log
from peled.model.statistics.nanocrystal import (
    LEVELS,
    MAX_QUANTUM_NUMBER,
    charging_energy_eV,
    confinement_unit_eV,
    ground_level_states_m3,
    nanocrystal_log_occupancy,
    nanocrystal_pair_log_occupancy,
)

VT = constants.k * 300.0 / constants.e


def _assert_central_differences(f, args, grads=None):
    """Each derivative of the scalar ``f`` at ``args`` (``grads``, default jax.grad) against
    the central difference of step 1e-5 max(1, |arg|): rtol 1e-6, atol 1e-9."""
    if grads is None:
        grads = jax.grad(f, argnums=tuple(range(len(args))))(*args)
    for k in range(len(args)):
        h = 1e-5 * max(1.0, abs(args[k]))
        up, dn = list(args), list(args)
        up[k] += h
        dn[k] -= h
        fd = (float(f(*up)) - float(f(*dn))) / (2 * h)
        np.testing.assert_allclose(float(grads[k]), fd, rtol=1e-6, atol=1e-9)


def test_levels_of_a_cube():
    """The first levels of a particle in a cube: q = 3 (1), 6 (3), 9 (3), 11 (3), 12 (1),
    14 (6); MAX^3 orbitals of i, j, k <= MAX in all."""
    assert LEVELS[:6] == ((3, 1), (6, 3), (9, 3), (11, 3), (12, 1), (14, 6))
    assert sum(g for _, g in LEVELS) == MAX_QUANTUM_NUMBER**3
    # e1 for a 10 nm cube at m* = 0.25: 15.0 meV
    np.testing.assert_allclose(float(confinement_unit_eV(10e-9, 0.25)), 0.015042, rtol=1e-4)
    np.testing.assert_allclose(ground_level_states_m3(10e-9, 0.5), 1e24, rtol=1e-12)


def test_strong_confinement_fills_two_carriers_per_crystal_first():
    """e1 >> kT (a 4 nm cube, m* = 0.15: e1/kT ~ 6): with the Fermi level up to a few kT
    above the ground level, each crystal holds up to 2 carriers (n/N_c -> 1) and the
    next level (3 e1 higher) stays nearly empty; without dispersion the ground level is
    exactly the single-level Fermi function."""
    e1 = float(confinement_unit_eV(4e-9, 0.15)) / VT
    assert e1 > 5.0
    eta = jnp.linspace(-20.0, 5.0, 26)
    occ = np.exp(np.asarray(nanocrystal_log_occupancy(eta, e1, 0.0)))
    single = 1.0 / (1.0 + np.exp(-np.asarray(eta)))
    np.testing.assert_allclose(occ, single, rtol=4 * 3 * np.exp(5.0 - 3 * e1))
    assert occ[-1] < 1.0 + 3 * np.exp(5.0 - 3 * e1) * 3


def test_weak_confinement_approaches_the_film_band():
    """Without dispersion the film holds exactly the sum of the cube's Fermi-occupied
    levels (checked against the direct sum over i, j, k <= MAX); at low filling that sum,
    relative to the parabolic band of the film's effective DOS N_eff F_1/2(eta') (eta'
    from the bulk edge, 3 e1 below the ground level), follows the Euler-Maclaurin limit
    [(sqrt(pi/a)/2 - 1/2) / (sqrt(pi/a)/2)]^3, a = e1/kT, and rises toward 1 as the crystal
    grows: confinement removes the states within ~e1 of the bulk edge."""
    mass, phi = 0.25, 0.5
    ratios = []
    for edge in (5e-9, 10e-9, 15e-9):
        a = float(confinement_unit_eV(edge, mass)) / VT
        n_c = ground_level_states_m3(edge, phi)
        n_eff = (
            2.0
            * phi
            * (mass * constants.m_e * constants.k * 300.0 / (2 * np.pi * constants.hbar**2)) ** 1.5
        )
        for eta in (-6.0, 0.0, 2.0):
            got = np.exp(float(nanocrystal_log_occupancy(eta, a, 0.0)))
            direct = sum(
                1.0 / (1.0 + np.exp((i * i + j * j + k * k - 3) * a - eta))
                for i in range(1, MAX_QUANTUM_NUMBER + 1)
                for j in range(1, MAX_QUANTUM_NUMBER + 1)
                for k in range(1, MAX_QUANTUM_NUMBER + 1)
            )
            np.testing.assert_allclose(got, direct, rtol=1e-10)
        eta = -8.0
        n_levels = n_c * np.exp(float(nanocrystal_log_occupancy(eta, a, 0.0)))
        n_band = n_eff * np.exp(float(fermi_dirac_half_log(eta + 3 * a)))
        ratios.append(n_levels / n_band)
        if edge == 10e-9:  # levels beyond i = MAX negligible (e^{-16 a} ~ 1e-4)
            half = 0.5 * np.sqrt(np.pi / a)
            np.testing.assert_allclose(ratios[-1], ((half - 0.5) / half) ** 3, rtol=0.03)
    assert ratios[0] < ratios[1] < ratios[2] < 1.0


def test_size_dispersion_broadens_each_level_like_gauss_fermi():
    """The levels broadened by sigma = 2 (sigma_L/L) 3 e1: compared with quadrature of the
    Gaussian-broadened Fermi function (strongly confined, so only the ground level
    counts), and the low-density limit sum_q g_q exp(eta - (q-3) e1 + s^2/2)."""
    e1, disp = 8.0, 0.1
    s = 2 * disp * 3 * e1
    for eta in (-30.0, -5.0, 0.0, 3.0):
        ref, _ = integrate.quad(
            lambda x, eta=eta: (
                np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi) / (1 + np.exp(s * x - eta))
            ),
            -12,
            12,
            points=[eta / s],
            limit=200,
            epsabs=0,
            epsrel=1e-12,
        )
        got = np.exp(float(nanocrystal_log_occupancy(eta, e1, disp)))
        np.testing.assert_allclose(
            got, ref, rtol=1e-6, atol=1e-12 * ref + 3 * np.exp(eta - 3 * e1 + 4.5 * s * s)
        )
    low = np.exp(float(nanocrystal_log_occupancy(-60.0, e1, disp)))
    boltzmann = sum(g * np.exp(-60.0 - (q - 3) * e1 + s * s / 2) for q, g in LEVELS)
    np.testing.assert_allclose(low, boltzmann, rtol=1e-6)


def test_nanocrystal_occupancy_gradients_match_finite_differences():
    f = lambda eta, e1, d: nanocrystal_log_occupancy(eta, e1, d)  # noqa: E731
    for args in ((-4.0, 0.6, 0.1), (1.0, 2.0, 0.05), (-30.0, 0.3, 0.1)):
        _assert_central_differences(f, args)


# ~70 s; the fast suite keeps the net-charge solve, whose limit without holes is this
@pytest.mark.slow
def test_charging_solves_the_self_consistent_occupancy():
    """With charging u = U/kT the occupancy solves x = S(eta - 2u e^x) (S the uncharged
    log occupancy) to round-off over eta in [-80, 60], u in [0, 6], weak and strong
    confinement, with and without dispersion; u = 0 gives S itself."""
    eta = jnp.linspace(-80.0, 60.0, 701)
    for e1 in (0.58, 2.3, 8.0):
        for disp in (0.0, 0.1, 0.3):
            free = nanocrystal_log_occupancy(eta, e1, disp)
            np.testing.assert_array_equal(
                np.asarray(nanocrystal_log_occupancy(eta, e1, disp, 0.0)), np.asarray(free)
            )
            for u in (0.1, 0.7, 2.0, 6.0):
                x = nanocrystal_log_occupancy(eta, e1, disp, u)
                back = nanocrystal_log_occupancy(eta - 2.0 * u * jnp.exp(x), e1, disp)
                np.testing.assert_allclose(np.asarray(x), np.asarray(back), rtol=0, atol=1e-12)


def test_charged_occupancy_converges_in_few_steps(monkeypatch):
    """The safeguarded Newton's step count: 8 steps reach round-off over a device's range
    (eta in [-60, 15], 10 nm cubes, u = 0.7), where a dilute entry's Newton step lands on
    the bracket's end and must be taken, not bisected; 20 steps reach it at the tested
    extremes (eta in [-80, 60], sharp ladders, u up to 15)."""
    import peled.model.statistics.nanocrystal as nc

    def worst(eta, e1, disp, u, steps):
        monkeypatch.setattr(nc, "CHARGING_MAX_STEPS", steps)
        x = jax.jit(lambda *a: nc.nanocrystal_log_occupancy(*a))(eta, e1, disp, u)
        back = nc.nanocrystal_log_occupancy(eta - 2.0 * u * jnp.exp(x), e1, disp)
        return float(jnp.max(jnp.abs(x - back)))

    assert worst(jnp.linspace(-60.0, 15.0, 300), 0.58, 0.1, 0.7, 8) < 1e-12
    eta = jnp.linspace(-80.0, 60.0, 701)
    for e1, disp, u in ((8.0, 0.0, 6.0), (2.3, 0.0, 15.0), (0.58, 0.1, 15.0), (8.0, 0.02, 2.0)):
        assert worst(eta, e1, disp, u, 20) < 1e-12


def test_charging_of_a_two_state_crystal_matches_its_inverse():
    """Strong confinement, no dispersion: only the ground level (2 states) counts, and the
    occupancy per state o = e^x obeys o = 1/(1 + exp(-(eta - 2u o))), which inverts in
    closed form, eta = 2u o + ln(o/(1 - o)). Every crystal then holds f = 2 o carriers;
    charging lowers the occupancy at every eta, the more the larger u."""
    e1 = 30.0
    o = np.linspace(0.01, 0.99, 99)
    for u in (0.5, 1.0, 3.0):
        eta = 2 * u * o + np.log(o / (1 - o))
        got = np.exp(np.asarray(nanocrystal_log_occupancy(jnp.asarray(eta), e1, 0.0, u)))
        np.testing.assert_allclose(got, o, rtol=1e-10)
    eta = jnp.linspace(-10.0, 20.0, 31)
    prev = np.exp(np.asarray(nanocrystal_log_occupancy(eta, 0.58, 0.1)))
    for u in (0.3, 1.0, 3.0):
        cur = np.exp(np.asarray(nanocrystal_log_occupancy(eta, 0.58, 0.1, u)))
        assert np.all(cur <= prev) and np.all(cur[eta > 0] < prev[eta > 0])
        prev = cur


@pytest.mark.slow  # ~30 s; the fast suite keeps the net-charge gradients, which include u
def test_charged_occupancy_gradients_match_finite_differences():
    """Implicit derivatives of the charged occupancy (eta, e1, dispersion, u) against
    central differences."""
    for args in ((3.0, 0.6, 0.1, 0.7), (-2.0, 2.0, 0.05, 2.0), (25.0, 0.58, 0.1, 1.5)):
        _assert_central_differences(nanocrystal_log_occupancy, args)


#: compiled once for the net-charge tests (each eager call would trace the solve again)
_PAIR = jax.jit(nanocrystal_pair_log_occupancy)
_SINGLE = jax.jit(nanocrystal_log_occupancy)


def test_net_charge_solves_both_ladders_together():
    """With electrons and holes the crystals' charging counts their net charge: the
    electron ladder sees eta_n - s and the hole ladder eta_p + s, s = u (f_n - f_p), to
    round-off over eta_n, eta_p in [-60, 20] (weak and strong confinement, u 0.7 and 3);
    without holes it is the like-charge solve; swapping the carriers flips s; equal
    filling is neutral (s = 0)."""
    from peled.model.statistics.nanocrystal import free_log_occupancy

    eta_n = jnp.linspace(-60.0, 20.0, 41)[:, None]
    eta_p = jnp.linspace(-60.0, 20.0, 41)[None, :]
    for e1_n, e1_p, disp in ((0.58, 0.6, 0.1), (8.0, 2.0, 0.0), (2.3, 2.3, 0.05)):
        for u in (0.7, 3.0):
            x_n, x_p = _PAIR(eta_n, eta_p, e1_n, e1_p, disp, u)
            s = u * (2.0 * jnp.exp(x_n) - 2.0 * jnp.exp(x_p))
            shape = s.shape
            back_n, back_p = (
                free_log_occupancy(
                    jnp.broadcast_to(y, shape), jnp.full(shape, e1), jnp.full(shape, disp)
                )
                for y, e1 in ((eta_n - s, e1_n), (eta_p + s, e1_p))
            )
            np.testing.assert_allclose(np.asarray(x_n), np.asarray(back_n), rtol=0, atol=1e-12)
            np.testing.assert_allclose(np.asarray(x_p), np.asarray(back_p), rtol=0, atol=1e-12)
            # no holes: the like-charge occupancy
            alone = _SINGLE(eta_n[:, 0], e1_n, disp, u)
            x_alone, _ = _PAIR(eta_n[:, 0], -400.0, e1_n, e1_p, disp, u)
            np.testing.assert_allclose(np.asarray(x_alone), np.asarray(alone), atol=1e-12)
    eta = jnp.linspace(-30.0, 15.0, 46)
    a_n, a_p = _PAIR(eta, eta[::-1], 1.0, 1.0, 0.1, 1.5)
    b_n, b_p = _PAIR(eta[::-1], eta, 1.0, 1.0, 0.1, 1.5)
    np.testing.assert_allclose(np.asarray(a_n), np.asarray(b_p), atol=1e-12)
    np.testing.assert_allclose(np.asarray(a_p), np.asarray(b_n), atol=1e-12)
    n, p = _PAIR(eta, eta, 1.0, 1.0, 0.1, 1.5)
    free = _SINGLE(eta, 1.0, 0.1, 0.0)
    np.testing.assert_allclose(np.asarray(n), np.asarray(free), atol=1e-12)
    np.testing.assert_allclose(np.asarray(p), np.asarray(free), atol=1e-12)


def test_electrons_held_by_the_crystals_draw_holes_in():
    """Two-state crystals (strong confinement, no dispersion): o_n = 1/(1 + exp(-(eta_n -
    2u (o_n - o_p)))) and o_p = 1/(1 + exp(-(eta_p + 2u (o_n - o_p)))) invert in closed
    form; at a fixed hole quasi-Fermi level the hole occupancy rises with the electrons
    the crystals hold, by exp(2u o_n) in the dilute-hole limit (10 nm CsPbBr3: U = 18 meV,
    so 30 electrons per crystal lower a hole's level by 0.54 eV)."""
    e1, u = 30.0, 1.2
    o_n, o_p = np.meshgrid(np.linspace(0.02, 0.98, 25), np.linspace(0.02, 0.98, 25))
    s = 2 * u * (o_n - o_p)
    eta_n = s + np.log(o_n / (1 - o_n))
    eta_p = -s + np.log(o_p / (1 - o_p))
    x_n, x_p = _PAIR(
        jnp.asarray(eta_n), jnp.asarray(eta_p), e1, e1, 0.0, u
    )
    np.testing.assert_allclose(np.exp(np.asarray(x_n)), o_n, rtol=1e-10)
    np.testing.assert_allclose(np.exp(np.asarray(x_p)), o_p, rtol=1e-10)
    eta_n = jnp.linspace(-20.0, 10.0, 61)
    _, x_p = _PAIR(eta_n, -40.0, e1, e1, 0.0, u)
    o_n = np.exp(np.asarray(_SINGLE(eta_n, e1, 0.0, u)))
    assert np.all(np.diff(np.asarray(x_p)) > 0.0)
    np.testing.assert_allclose(np.asarray(x_p), -40.0 + 2.0 * u * o_n, atol=1e-12)


def test_net_charge_gradients_match_finite_differences():
    """Implicit derivatives of both occupancies in (eta_n, eta_p, e1_n, e1_p, dispersion, u)
    against central differences."""
    points = ((3.0, -5.0, 0.6, 0.65, 0.1, 0.7), (-2.0, 1.0, 2.0, 1.0, 0.05, 2.0),
              (12.0, 8.0, 0.58, 0.6, 0.1, 1.5))
    for out in (0, 1):
        g = jax.jit(lambda *a, out=out: nanocrystal_pair_log_occupancy(*a)[out])
        dg = jax.jit(jax.grad(g, argnums=tuple(range(6))))
        for args in points:
            _assert_central_differences(g, args, dg(*args))


def test_charging_energy_of_a_cube_lies_between_its_spheres():
    """U = e^2/C of a cube of edge L lies between those of its circumscribed (radius
    sqrt(3) L/2) and inscribed (L/2) spheres, e^2/(4 pi eps0 eps_r r), and scales as
    1/(eps_r L); 10 nm in eps_r 12: 18 meV (0.7 kT at 300 K)."""
    for edge, eps in ((10e-9, 12.0), (5e-9, 4.0), (15e-9, 20.0)):
        u = float(charging_energy_eV(edge, eps))
        sphere = lambda r, eps=eps: constants.e / (4 * np.pi * constants.epsilon_0 * eps * r)  # noqa: E731
        assert sphere(np.sqrt(3) * edge / 2) < u < sphere(edge / 2)
    np.testing.assert_allclose(
        float(charging_energy_eV(20e-9, 24.0)), float(charging_energy_eV(10e-9, 12.0)) / 4
    )
    np.testing.assert_allclose(float(charging_energy_eV(10e-9, 12.0)), 0.01816, rtol=1e-3)


def test_auger_survival_limits_and_half_point():
    """S -> 1 at low occupancy (IQE = PLQY x charge balance); S = 1/2 at f_c = tau_T/tau_X
    (no excitons) and at f_X = tau_XX/tau_X (no carriers); no Auger lifetime: S = 1."""
    tau_x, tau_t, tau_xx = 1.2e-9, 0.5e-9, 0.126e-9
    assert float(auger_survival(1e-9, 0.0, tau_x, tau_t, tau_xx)) > 1 - 1e-8
    f_half = float(half_quenching_occupancy(tau_x, tau_t))
    np.testing.assert_allclose(f_half, tau_t / tau_x)
    np.testing.assert_allclose(float(auger_survival(f_half, 0.0, tau_x, tau_t, tau_xx)), 0.5)
    np.testing.assert_allclose(
        float(auger_survival(0.0, tau_xx / tau_x, tau_x, tau_t, tau_xx)), 0.5
    )
    assert float(auger_survival(3.0, 2.0, tau_x, jnp.inf, jnp.inf)) == 1.0
    # volume scaling: a crystal of twice the edge has 8x the Auger lifetime
    np.testing.assert_allclose(float(volume_scaled_lifetime_s(126e-12, 20e-9, 10e-9)), 8 * 126e-12)
    # Langevin: q (mu_n + mu_p) / (eps0 eps_r), 2.71e-11 cm^3/s for the green film
    np.testing.assert_allclose(
        float(langevin_coefficient_m3_s(1e-8, 5e-9, 10.0)) * 1e6, 2.714e-11, rtol=1e-3
    )
