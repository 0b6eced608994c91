"""Physics checks of the drift-diffusion core (physics.md sec. 7)."""

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from devices import database_stack, electron_only, layer, mirror, pin
from scipy import constants

from peled.core.newton import _fun_and_jacobian, solve_sweep
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec
from peled.core.residual import residual
from peled.model.fluxes.scharfetter_gummel import bernoulli
from peled.solve.linalg import BlockTridiagonal, solve_block_tridiagonal, solve_small

# The regression states in tests/data are stored on a 64-node-per-layer mesh with sine
# clustering 0.9 (the default is 0.99); the tests that start from them pin it.
STORED_STATE_MESH = MeshSpec(64, clustering=0.9)


def test_bernoulli_accurate_and_finite():
    x = jnp.array([-800.0, -50.0, -1.0, -1e-4, 0.0, 1e-4, 1e-3, 1.0, 50.0, 800.0])
    b = np.asarray(bernoulli(x))
    ref = np.array(
        [
            800.0,
            50.0 / (1 - np.exp(-50.0)),
            1 / (1 - np.exp(-1.0)),
            -1e-4 / np.expm1(-1e-4),
            1.0,
            1e-4 / np.expm1(1e-4),
            1e-3 / np.expm1(1e-3),
            1 / np.expm1(1.0),
            50 * np.exp(-50) / (1 - np.exp(-50)),
            0.0,
        ]
    )
    assert np.all(np.isfinite(b))
    np.testing.assert_allclose(b[:-1], ref[:-1], rtol=1e-13)
    assert b[-1] < 1e-300
    g = jax.vmap(jax.grad(bernoulli))(x)
    assert np.all(np.isfinite(np.asarray(g)))


def test_block_solver_matches_dense():
    """Sizes cover odd and even counts at every cyclic-reduction level (128, a power of
    two as the meshes use, pads one identity row at every level; 7 = 2^3 - 1 pads none;
    100 mixes both). Each size compiles twice, so the list is kept short."""
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 100, 128):
        a = rng.normal(size=(n, 3, 3))
        c = rng.normal(size=(n, 3, 3))
        b = rng.normal(size=(n, 3, 3)) + 8 * np.eye(3)
        a[0] = 0
        c[-1] = 0
        m = BlockTridiagonal(jnp.array(a), jnp.array(b), jnp.array(c))
        x = rng.normal(size=(n, 3))
        xs = solve_block_tridiagonal(m, m.matvec(jnp.array(x)))
        np.testing.assert_allclose(np.asarray(xs), x, atol=1e-12)
        xt = np.linalg.solve(np.asarray(m.dense()).T, x.ravel())
        np.testing.assert_allclose(
            np.asarray(solve_block_tridiagonal(m.transpose(), jnp.array(x))).ravel(), xt, atol=1e-11
        )


def test_small_block_solve_pivots_like_lapack():
    """The elementwise 3x3 / 6x6 elimination that replaced jnp.linalg.solve agrees with
    LAPACK on random, badly scaled and pivot-requiring blocks, batched over two axes."""
    rng = np.random.default_rng(7)
    for k in (3, 6):
        mat = rng.normal(size=(4, 50, k, k))
        mat[0, :10, 0, 0] = 0.0  # a zero leading entry: wrong without a row swap
        mat[1] *= np.logspace(-12, 12, k)[:, None]  # rows 24 decades apart
        rhs = rng.normal(size=(4, 50, k, 2))
        x = np.asarray(jax.jit(solve_small)(jnp.array(mat), jnp.array(rhs)))
        ref = np.linalg.solve(mat, rhs)
        scale = np.abs(ref).max(axis=(-2, -1), keepdims=True)
        assert np.max(np.abs(x - ref) / scale) < 1e-9
    # the classic case that elimination without pivoting gets badly wrong
    mat = jnp.array([[1e-20, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    x = np.asarray(solve_small(mat, jnp.array([[1.0], [2.0], [4.0]])))[:, 0]
    np.testing.assert_allclose(x, [1.0, 1.0, 2.0], rtol=1e-14)


# ~120 s; the fast suite keeps the Jacobian against autodiff with Gauss-Fermi,
# Fermi-Dirac, EGDM and Poole-Frenkel layers
@pytest.mark.slow
def test_jacobian_equals_autodiff():
    arr = pin(nodes=8)
    st = solve_sweep(arr, jnp.array([0.0, 0.6]))
    u = st.u[1]
    _, _, jac = _fun_and_jacobian(u, arr, jnp.asarray(0.6))
    # jitted: eager jacfwd dispatches every op of the residual (~3x slower)
    dense = jax.jit(jax.jacfwd(lambda v, a: residual(v.reshape(u.shape), a, 0.6).ravel()))(
        u.ravel(), arr
    )
    scale = np.max(np.abs(np.asarray(dense)))
    np.testing.assert_allclose(np.asarray(jac.dense()), np.asarray(dense), atol=1e-10 * scale)


@pytest.fixture(scope="module")
def pin_sweep():
    arr = pin()
    v = jnp.linspace(0.0, 1.4, 15)
    st = solve_sweep(arr, v)
    ob = sweep_observables(st.u, arr, jnp.zeros(3))
    return arr, v, st, ob


def test_pin_converges(pin_sweep):
    _, _, st, _ = pin_sweep
    assert np.all(np.asarray(st.converged))


def test_equilibrium_zero_current_flat_fermi_and_mass_action(pin_sweep):
    arr, _, st, ob = pin_sweep
    u0 = np.asarray(st.u[0])
    # flat quasi-Fermi levels
    assert np.max(np.abs(u0[:, 1:])) < 1e-8
    jn = np.asarray(ob.electron_current_A_m2[0])
    jp = np.asarray(ob.hole_current_A_m2[0])
    j = float(ob.current_density_A_m2[0])
    assert abs(j) * 0.1 < 1e-6  # mA/cm2
    # vs the largest single drift/diffusion term: q D n / h ~ q mu V_t n / h
    n = np.asarray(ob.electron_density_m3[0])
    big = constants.e * 1e-6 * 0.0259 * n.max() / 1e-10
    assert np.max(np.abs(jn + jp)) < 1e-12 * big
    # n p = ni^2 in every layer
    npx = n * np.asarray(ob.hole_density_m3[0])
    ni2 = 1e26 * 1e26 * np.exp(-2.0 / (constants.k * 300 / constants.e))
    np.testing.assert_allclose(npx, ni2, rtol=1e-8)


def current_floor(arr, u) -> float:
    """The precision floor of the current [A/m^2] at state ``u``: an edge of conductance
    G (A/m^2 per V_t) turns one ulp of the quasi-Fermi potential into G * ulp of current
    (docs/numerics/accuracy.md, "The current floor"); 64 ulps on the best-conducting
    edge."""
    from peled.core.residual import edge_fluxes, geometry, node_state
    from peled.core.scaling import scaling_for

    sc = scaling_for(arr.temperature_K)
    s = node_state(u, arr, sc)
    fx = edge_fluxes(s, arr, geometry(arr, sc), sc)
    cond = sc.current_A_m2(fx.n_mag_l * s.n[:-1] + fx.p_mag_l * s.p[:-1])
    return 64 * float(jnp.max(cond)) * float(np.spacing(np.max(np.abs(np.asarray(u)))))


def continuity_violations(arr, st, ob) -> list:
    """Converged biases k where Jn + Jp is not constant across the device to 1e-6
    relative, or to the precision the unknowns can carry where that is coarser: an edge
    of conductance G (A/m^2 per V_t) turns one ulp of the quasi-Fermi potential into
    G * ulp of current (docs/numerics/accuracy.md, "The current floor").
    Returns [(k, spread_A_m2, allowed_A_m2), ...]."""

    tot = np.asarray(ob.electron_current_A_m2) + np.asarray(ob.hole_current_A_m2)
    conv = np.asarray(st.converged)
    bad = []
    for k in np.flatnonzero(conv):
        allowed = 1e-6 * abs(np.mean(tot[k])) + current_floor(arr, st.u[k])
        if not np.ptp(tot[k]) < allowed:
            bad.append((int(k), float(np.ptp(tot[k])), allowed))
    return bad


def test_current_continuity(pin_sweep):
    """Jn + Jp constant to 1e-6 relative (or the ulp floor) at every bias."""
    arr, _, st, ob = pin_sweep
    assert continuity_violations(arr, st, ob) == []


@pytest.mark.slow  # ~100 s; the fast suite keeps the EGDM benchmark's Mott-Gurney limit
def test_mott_gurney_approach():
    arr = electron_only()
    v = jnp.array([0.0, 2.0, 5.0, 10.0, 20.0])
    st = solve_sweep(arr, v)
    assert np.all(np.asarray(st.converged))
    ob = sweep_observables(st.u, arr, jnp.zeros(1))
    j = np.asarray(ob.current_density_A_m2)[1:]
    eps = 3.0 * constants.epsilon_0
    j_mg = 9 / 8 * eps * 1e-8 * np.asarray(v[1:]) ** 2 / (100e-9) ** 3
    ratio = j / j_mg
    assert np.all(np.diff(ratio) < 0), ratio  # approaches from above, monotonically
    assert 1.0 < ratio[-1] < 1.2, ratio  # diffusion correction ~10 % at 20 V (V/Vt ~ 770)


@pytest.mark.slow  # two sweeps of mirrored stacks (~1 min)
def test_mirror_symmetry():
    la = [
        layer(40, 2.8, 2.6, 1e-3, 1e-4, eps=4),
        layer(30, 3.3, 2.4, 1e-3, 1e-3, eps=10, radiative_coefficient_m3_s=1e-16),
        layer(40, 2.9, 3.2, 1e-5, 1e-3, eps=3),
    ]
    a, b = mirror(la, 5.3, 3.0)
    v = jnp.linspace(0, 3.0, 7)
    sa, sb = solve_sweep(a, v), solve_sweep(b, v)
    assert np.all(np.asarray(sa.converged)) and np.all(np.asarray(sb.converged))
    ja = np.asarray(sweep_observables(sa.u, a, jnp.zeros(3)).current_density_A_m2)
    jb = np.asarray(sweep_observables(sb.u, b, jnp.zeros(3)).current_density_A_m2)
    np.testing.assert_allclose(ja[1:], jb[1:], rtol=1e-6)


@pytest.mark.slow  # ~110 s; the fast suite keeps the p-i-n and block-solver checks
def test_surface_recombination_contacts():
    """A finite contact velocity S limits injection; S -> large recovers the ideal contact."""
    from devices import layer

    from peled.core.discretize import build_arrays

    lay = [layer(100.0, 3.0, 3.0, 1e-4, 1e-12, eps=3.0)]
    v = jnp.array([0.0, 2.0, 5.0])

    def j_for(s_m_s):
        arr = build_arrays(
            lay, 3.0, 3.0, mesh=MeshSpec(64), contact_velocities_m_s={"cathode_electron": s_m_s}
        )
        st = solve_sweep(arr, v)
        assert np.all(np.asarray(st.converged))
        return np.asarray(sweep_observables(st.u, arr, jnp.zeros(1)).current_density_A_m2)

    ideal, fast, slow = j_for(np.inf), j_for(1e9), j_for(1e-5)
    np.testing.assert_allclose(fast[1:], ideal[1:], rtol=1e-4)
    # S = 1e-5 m/s caps the electron supply: J <= q S N_c = 160 A/m2
    assert np.all(slow[1:] < 0.1 * ideal[1:])
    np.testing.assert_allclose(slow[1:], constants.e * 1e-5 * 1e26, rtol=1e-2)


def test_physically_resolved_accepts_only_invisible_corrections(pin_sweep):
    """The floor rule's physical test: a zero correction passes; a correction that moves
    one quasi-Fermi level by 1e-3 V_t in the conducting p-i-n at 1.4 V changes the edge
    fluxes by far more than 1e-6 of the current and fails; so does a psi kink that moves
    the space charge."""
    from peled.core.newton import SolverSettings, physically_resolved
    from peled.core.residual import residual_and_scale

    arr, v, st, _ = pin_sweep
    u = st.u[-1]
    _, m = residual_and_scale(u, arr, v[-1])
    s = SolverSettings()
    z = jnp.zeros_like(u)
    assert bool(physically_resolved(u, z, arr, m, s))
    mid = u.shape[0] // 2
    assert not bool(physically_resolved(u, z.at[mid, 2].set(1e-3), arr, m, s))
    assert not bool(physically_resolved(u, z.at[mid, 0].set(1e-2), arr, m, s))


def test_resolved_to_round_off_needs_a_continuous_current(pin_sweep):
    """`resolved_to_round_off`: the converged p-i-n at 1.4 V passes; moving the hole
    quasi-Fermi level of one node by 1e-4 V_t breaks current continuity there and fails;
    a psi kink of 1e-2 V_t leaves Poisson unresolved and fails."""
    from peled.core.newton import SolverSettings, resolved_to_round_off

    arr, v, st, _ = pin_sweep
    s = SolverSettings()
    u = st.u[-1]

    @jax.jit
    def resolved(w):
        f, m, jac = _fun_and_jacobian(w, arr, v[-1])
        poisson_ok, current_ok = resolved_to_round_off(w, f, m, jac, arr, s)
        return poisson_ok & current_ok

    check = lambda w: bool(resolved(w))  # noqa: E731

    mid = u.shape[0] // 2
    assert check(u)
    assert not check(u.at[mid, 2].add(1e-4))
    assert not check(u.at[mid, 0].add(1e-2))


@pytest.mark.slow  # ~110 s in the 2-worker suite (two sweeps, two compiles): kept out of CI
def test_failed_step_is_retried_without_the_predictor():
    """MoO3 / PTAA / CsPbBrI-NC / BCP / Mg:Ag, one of the random stacks of the robustness
    test: from 0.95 V on, Newton started from the tangent predictor's guess fails at every
    step size; retried from the last converged state itself it converges. Without the
    retry the sweep stops there, with it every bias converges
    (docs/numerics/continuation.md, "Predictor and retry")."""
    from peled.core.newton import SolverSettings

    dev = database_stack(
        "ptaa-bcp-predictor-wall",
        "MoO3",
        "Mg:Ag",
        [("PTAA", 87.7), ("CsPbBrI-NC", 102.8), ("BCP", 36.7)],
    )
    arr = dev.to_arrays()
    v = jnp.linspace(0.0, 1.3, 27)
    # (the passes after the forward sweep are off: they rescue this sweep too)
    without = solve_sweep(
        arr,
        v,
        SolverSettings(predictor_retry=False, alternate_order_pass=False, backward_fill=False),
    )
    assert not bool(without.converged.all())
    with_retry = solve_sweep(arr, v)
    assert bool(with_retry.converged.all()), np.asarray(v)[~np.asarray(with_retry.converged)]


@pytest.mark.slow  # ~2.5 min alone on 2 cores (four sweeps, four compiles): kept out of CI
def test_wall_passes_fill_and_alternate_order():
    """The two passes after the forward sweep (docs/numerics/continuation.md, "Passes
    over failed points"), each on a random stack of the robustness test where the bare
    forward sweep (predictor on, both passes off) fails points:

    - an isolated failed bias (MoO3 / PTAA / CsPbBrI-NC / BCP / Mg:Ag), 0-1.3 V: the
      forward sweep fails 0.95 V alone (it stops at 0.935 V), yet continues from 0.90 to
      1.00 V; the backward fill approaches 0.95 V from 1.00 V and converges, leaving the
      forward results untouched bit for bit, with J at 0.95 V between its neighbours;
    - scattered failed biases, one at the built-in voltage (ITO / TCTA / CsPbBrI-NC /
      BPhen / Ag), 0-4.05 V: the forward sweep fails 0.40, 4.00 and 4.05 V; the
      alternate-order pass (the other start order, then the deflated and dilute-carrier
      attempts) converges all, keeps every point the forward sweep converged, and its
      states are current-continuous."""
    from dataclasses import replace

    from peled.core.newton import SolverSettings

    bare = SolverSettings(alternate_order_pass=False, backward_fill=False)

    def currents(arr, st):
        ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
        assert continuity_violations(arr, st, ob) == []
        return np.asarray(ob.current_density_A_m2)

    arr = database_stack(
        "ptaa-bcp-isolated-failure",
        "MoO3",
        "Mg:Ag",
        [("PTAA", 87.661), ("CsPbBrI-NC", 102.813), ("BCP", 36.68)],
    ).to_arrays()
    v = jnp.linspace(0.0, 1.3, 27)
    k = 19  # 0.95 V
    forward = solve_sweep(arr, v, bare)
    conv_fwd = np.asarray(forward.converged)
    np.testing.assert_allclose(np.asarray(v)[~conv_fwd], [0.95])
    filled = solve_sweep(arr, v, replace(bare, backward_fill=True))
    assert bool(filled.converged.all())
    np.testing.assert_array_equal(np.asarray(filled.u)[conv_fwd], np.asarray(forward.u)[conv_fwd])
    assert float(filled.voltage_reached_V[k]) == float(v[k])
    j = currents(arr, filled)
    assert j[k - 1] < j[k] < j[k + 1], j[k - 1 : k + 2]

    arr = database_stack(
        "tcta-bphen-scattered-failures",
        "ITO",
        "Ag",
        [("TCTA", 51.326), ("CsPbBrI-NC", 93.094), ("BPhen", 74.784)],
    ).to_arrays()
    v = jnp.linspace(0.0, 4.05, 82)
    stuck = solve_sweep(arr, v, bare)
    conv_fwd = np.asarray(stuck.converged)
    np.testing.assert_allclose(np.asarray(v)[~conv_fwd], [0.4, 4.0, 4.05])
    alternate = solve_sweep(arr, v, replace(bare, alternate_order_pass=True))
    assert bool(alternate.converged.all())
    np.testing.assert_array_equal(np.asarray(alternate.u)[conv_fwd], np.asarray(stuck.u)[conv_fwd])
    j = currents(arr, alternate)
    on = j > 1e-6 * j.max()
    print("TCTA/BPhen stack: J at the rescued points", j[~conv_fwd], "resolved from", v[on][0])
    # the rescued states lie on the J-V curve: J rises through each of them (the last
    # bias only from its predecessor)
    for i in np.flatnonzero(~conv_fwd & on):
        assert j[i - 1] < j[i], (float(v[i]), j[i - 1 : i + 2])
        assert i == j.size - 1 or j[i] < j[i + 1], (float(v[i]), j[i - 1 : i + 2])


@pytest.mark.slow  # ~130 s in the 2-worker suite (two sweeps, two compiles): kept out of CI
def test_near_null_mode_is_deflated_from_a_cut_step():
    """ITO / TCTA / CsPbBr3-NC / TPBi / Mg:Ag, one of the random stacks of the robustness
    test: from 1.1348 V on, the Newton step moves the floating quasi-Fermi levels of the
    dilute carriers at the TCTA/emitter interface by 0.2-0.5 V_t to correct a 2.5e-5 V_t
    bias step, the line search cuts it to 1/128-1/512, and the sweep stalls
    (docs/numerics/newton.md, "Near-null deflation"). With that mode projected out of the
    cut step (in the deflated attempt of the retry pass), every bias converges,
    current-continuous."""
    from peled.core.newton import SolverSettings

    dev = database_stack(
        "tcta-tpbi-near-null-mode",
        "ITO",
        "Mg:Ag",
        [
            ("TCTA", 45.965488735709776),
            ("CsPbBr3-NC", 94.05393230904602),
            ("TPBi", 28.738608207223322),
        ],
    )
    arr = dev.to_arrays()
    v = jnp.linspace(0.0, 1.25, 26)
    # (the dilute-carrier round off too: on its own it recovers 1.15 V)
    plain = solve_sweep(arr, v, SolverSettings(near_null_deflation=False, dilute_density_cm3=0.0))
    failed = np.asarray(v)[~np.asarray(plain.converged)]
    np.testing.assert_allclose(failed, [1.15, 1.2, 1.25])
    st = solve_sweep(arr, v)
    assert bool(st.converged.all())
    # the biases the plain sweep converged are the same states: equal to far below the
    # solver's update tolerance (1e-5 V_t on quasi-Fermi levels), not bit for bit, since
    # the two settings compile to different programs and XLA fuses the elementwise block
    # solves differently in each (5e-8 V_t seen)
    np.testing.assert_allclose(np.asarray(st.u)[:-3], np.asarray(plain.u)[:-3], rtol=0, atol=1e-6)
    ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
    assert continuity_violations(arr, st, ob) == []


def test_dilute_weights_follow_their_definition():
    """Row factors 1 + n_ref / max(c_{i-1}, c_i, c_{i+1}) and update weights c / (c + n_ref)
    for each carrier, one at the contact rows, all ones when inactive."""
    from peled.core.newton import SolverSettings, dilute_weights, initial_guess
    from peled.core.residual import node_state
    from peled.core.scaling import scaling_for

    arr = pin(nodes=8)
    # the definition holds at any state: the charge-neutral starting state (no solve,
    # whose compile took a minute of the suite)
    u = initial_guess(arr)
    settings = SolverSettings(dilute_density_cm3=1e12)
    factor, weight, _ = dilute_weights(u, arr, settings, jnp.array(True))
    sc = scaling_for(arr.temperature_K)
    ns = node_state(u, arr, sc)
    ref = 1e12 * 1e6 / float(sc.density_m3)
    for k, c in enumerate((np.asarray(ns.n), np.asarray(ns.p))):
        c_max = np.maximum(c[1:-1], np.maximum(c[:-2], c[2:]))
        np.testing.assert_allclose(np.asarray(factor)[1:-1, k], 1.0 + ref / c_max, rtol=1e-14)
        np.testing.assert_allclose(np.asarray(weight)[1:-1, k], c[1:-1] / (c[1:-1] + ref))
        assert np.all(np.asarray(factor)[[0, -1], k] == 1.0)
        assert np.all(np.asarray(weight)[[0, -1], k] == 1.0)
    # the p-i-n's doped layers hold 1e18 cm^-3 majority carriers: factor ~1 there, and
    # its minority carriers far below 1e12 cm^-3 are weighted down
    assert np.asarray(factor).min() < 1.0 + 1e-5 and np.asarray(weight).min() < 1e-3
    off_factor, off_weight, off_floor = dilute_weights(u, arr, settings, jnp.array(False))
    assert all(np.all(np.asarray(x) == 1.0) for x in (off_factor, off_weight))
    assert np.all(np.asarray(off_floor) == 0.0)


@pytest.mark.slow  # ~40 s in a 2-worker run: kept out of CI
def test_dilute_carriers_judged_on_an_absolute_scale():
    """MoO3 / poly-TPD / CsPbBrI-NC / BCP / Ag, one of the random stacks of the robustness
    test, is dark at 2.7 V: holes float in BCP at 1e-17..10 cm^-3 and their quasi-Fermi level is a
    near-null mode whose Newton step is 40-60 V_t. From the last state the forward sweep
    reached (2.7255 V, stored in tests/data; regenerate it with a sweep 0-2.9 V in 0.05 V
    steps if the BCP or CsPbBrI-NC data change), the plain Newton solve of 2.75 V fails,
    with deflation alone too; with the dilute rows judged relative to n_ref = 1e10 cm^-3
    (the revisit passes) it converges in a few iterations, current-continuous. Where
    strict Newton converges (2.70 -> 2.7255 V by sub-steps), the revisit solve lands on
    the same state: psi to 1e-9 V_t, every density above n_ref to 1e-9 relative."""
    from dataclasses import replace

    from peled.core.newton import SolverSettings, current_continuous, newton_solve
    from peled.core.residual import node_state
    from peled.core.scaling import scaling_for

    dev = database_stack(
        "bcp-floating-holes",
        "MoO3",
        "Ag",
        [
            ("poly-TPD", 28.060991018572107),
            ("CsPbBrI-NC", 64.21801788950329),
            ("BCP", 105.70088292976556),
        ],
    )
    states = np.load(Path(__file__).parent / "data" / "bcp_floating_holes_wall_states.npy")
    u_270, u_wall = jnp.asarray(states[0]), jnp.asarray(states[1])
    # the states are stored on a 64-node mesh with sine clustering 0.9 (the default is
    # 0.99), so the mesh is pinned
    arr = dev.to_arrays(STORED_STATE_MESH)
    solve = jax.jit(newton_solve, static_argnames=("settings", "poisson_only"))
    default = SolverSettings()
    no_dilute = replace(default, dilute_density_cm3=0.0)
    v_wall = 2.725535583496094
    assert not bool(solve(arr, 2.75, u_wall, default, retry=False).converged)
    assert not bool(solve(arr, 2.75, u_wall, no_dilute, retry=True).converged)
    r = solve(arr, 2.75, u_wall, default, retry=True)
    assert bool(r.converged) and int(r.iterations) <= 10
    assert bool(current_continuous(r.u, arr, default))

    again = solve(arr, v_wall, u_270, default, retry=True)
    assert bool(again.converged)
    np.testing.assert_allclose(np.asarray(again.u[:, 0]), np.asarray(u_wall[:, 0]), atol=1e-9)
    sc = scaling_for(arr.temperature_K)
    ref = 1e10 * 1e6 / float(sc.density_m3)
    a, b = node_state(again.u, arr, sc), node_state(u_wall, arr, sc)
    for x, y in ((a.n, b.n), (a.p, b.p)):
        x, y = np.asarray(x), np.asarray(y)
        dense = np.maximum(x, y) > ref
        np.testing.assert_allclose(x[dense], y[dense], rtol=1e-9)


def test_poisson_rows_at_round_off_count_as_converged_in_the_dilute_attempt():
    """ITO / TCTA / CsPbBrI-NC / BPhen / Ag, one of the random stacks of the robustness
    test, at 0.40 V, its built-in voltage: the bands are flat, the space charge of ~1e3 cm^-3
    carriers is balanced by psi differences of a few ulps of psi, and 100 Poisson rows
    stay at a relative residual of 1.0 while Newton asks psi to move by half an ulp. The
    plain and the deflated solves fail from the 0.35 V state (stored in tests/data); in
    the last retry attempt, where a Poisson row within the round-off of its terms counts
    as converged, it converges in a few iterations, current-continuous."""
    from peled.core.newton import SolverSettings, current_continuous, newton_solve

    dev = database_stack(
        "tcta-bphen-flat-band",
        "ITO",
        "Ag",
        [
            ("TCTA", 51.325849685901005),
            ("CsPbBrI-NC", 93.09417926862253),
            ("BPhen", 74.78365381893339),
        ],
    )
    arr = dev.to_arrays(STORED_STATE_MESH)  # the mesh the state was stored on
    u = jnp.asarray(np.load(Path(__file__).parent / "data" / "flat_band_tcta_state_0.35V.npy"))
    solve = jax.jit(newton_solve, static_argnames=("settings", "poisson_only"))
    settings = SolverSettings()
    assert not bool(solve(arr, 0.40, u, settings, retry=False, dilute=False).converged)
    assert not bool(solve(arr, 0.40, u, settings, retry=True, dilute=False).converged)
    r = solve(arr, 0.40, u, settings, retry=True, dilute=True)
    assert bool(r.converged) and int(r.iterations) <= 10
    assert bool(current_continuous(r.u, arr, settings))


@pytest.mark.slow  # ~30 s in a 2-worker run: kept out of CI
def test_equilibrium_is_retried_like_the_dilute_attempt():
    """ITO / poly-TPD / CsPbBr3-NC-DDAB / TPBi / Au, one of the random stacks of the
    robustness test, on the log-linear mesh: at V = 0 its flat-band Poisson rows stall at ~1e-4
    relative residual (first spacings 3.6e-5 nm put the field terms at round-off), so
    the Poisson-only solve and the plain coupled solve fail, and the sweep failed at
    every bias. `solve_equilibrium` repeats a failed coupled solve as the sweep's last
    retry attempt does; the state it returns has exactly flat quasi-Fermi levels, is
    current-continuous, and its potential is the one the Poisson-only solve approached."""
    from peled.core.newton import (
        SolverSettings,
        current_continuous,
        initial_guess,
        newton_solve,
        solve_equilibrium,
    )

    dev = database_stack(
        "ddab-flat-band-loglinear",
        "ITO",
        "Au",
        [
            ("poly-TPD", 46.19659013800886),
            ("CsPbBr3-NC-DDAB", 88.9574264491946),
            ("TPBi", 70.21072221191163),
        ],
    )
    arr = dev.to_arrays(MeshSpec(64, grading="loglinear"))
    settings = SolverSettings()
    solve = jax.jit(newton_solve, static_argnames=("settings", "poisson_only"))
    eq0 = solve(arr, 0.0, initial_guess(arr), settings, poisson_only=True, retry=False)
    assert not bool(eq0.converged)
    assert not bool(solve(arr, 0.0, eq0.u, settings, retry=False).converged)
    eq = jax.jit(solve_equilibrium, static_argnames="settings")(arr, settings)
    assert bool(eq.converged)
    assert np.all(np.asarray(eq.u[:, 1:]) == 0.0)
    assert bool(current_continuous(eq.u, arr, settings))
    np.testing.assert_allclose(np.asarray(eq.u[:, 0]), np.asarray(eq0.u[:, 0]), atol=1e-6)


@pytest.mark.slow  # ~55 s in a 2-worker run: kept out of CI
def test_vmapped_sweep_reports_progress_per_device():
    """Under vmap the progress callback receives batched arguments; it reports each
    device's biases (and must not raise: an exception in the host callback stalled the
    compiled sweep, which is how a first version of the task loop hung under vmap)."""
    from peled.core.params import stack_arrays
    from peled.simulate import progress_hook

    devs = [pin(nodes=12), pin(nodes=12, mu=3e-3)]
    v = jnp.array([0.0, 0.5, 1.0])
    seen: list[float] = []
    with progress_hook(seen.append):
        st = jax.vmap(partial(solve_sweep, report_progress=True), in_axes=(0, None))(
            stack_arrays(devs), v
        )
        jax.block_until_ready(st.u)
    assert bool(st.converged.all())
    assert sorted(seen) == sorted([0.0, 0.5, 1.0] * 2)
    for d, k in ((devs[0], 0), (devs[1], 1)):
        one = solve_sweep(d, v)
        np.testing.assert_allclose(np.asarray(st.u[k]), np.asarray(one.u), rtol=0, atol=1e-9)


def test_solver_refuses_single_precision():
    """Without float64 the solver's arrays would be truncated to float32 silently (round-off
    1e-7, above the strict tolerance and the current floors): the device arrays are built
    in float64 regardless, and the solver refuses to trace."""
    with jax.enable_x64(False):
        arr = electron_only()  # built in float64 whatever the caller's setting
        assert arr.layers.thickness_m.dtype == np.float64
        assert arr.node_fraction.dtype == np.float64
        with pytest.raises(RuntimeError, match="float64"):
            solve_sweep(arr, np.array([0.0, 0.1]))
