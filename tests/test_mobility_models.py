"""Mobility models (peled.model.mobility): constant, Poole-Frenkel and the extended Gaussian
disorder model (EGDM) of Pasveer et al., Phys. Rev. Lett. 94, 206601 (2005): values against
hand formulas, limits, symmetry, monotonicity, gradients against finite differences,
finiteness over extreme inputs, jit and vmap."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import constants

from peled.model.mobility import (
    EGDM_C1,
    EGDM_C2,
    MOBILITY_MODELS,
    PF_FIELD_SMOOTHING_V_M,
    edge_mobility,
    egdm_g1,
    egdm_g2,
    egdm_mobility,
    egdm_mu0_of_temperature,
    egdm_reduced_field,
    gamma_from_cm_V_sqrt,
    poole_frenkel_mobility,
    smooth_sqrt_abs_field,
)

# jitted once per shape: eager JAX dispatch of every primitive is what makes tests slow
_g1 = jax.jit(egdm_g1)
_g2 = jax.jit(egdm_g2)
_mu = jax.jit(egdm_mobility)
_pf = jax.jit(poole_frenkel_mobility)

T = 300.0
VT = constants.k * T / constants.e
A = 1.6e-9  # site spacing [m]


def _g1_hand(s: float, c: float) -> float:
    """Pasveer et al. (2005): g1 = exp[(s^2 - s)(2c)^delta / 2], plain math (float64)."""
    delta = 2.0 * (math.log(s * s - s) - math.log(math.log(4.0))) / (s * s)
    return math.exp(0.5 * (s * s - s) * (2.0 * c) ** delta)


def _g2_hand(s: float, en: float) -> float:
    """Pasveer et al. (2005): g2 = exp{0.44 (s^1.5 - 2.2)[sqrt(1 + 0.8 En^2) - 1]}."""
    return math.exp(0.44 * (s**1.5 - 2.2) * (math.sqrt(1.0 + 0.8 * en * en) - 1.0))


def _field_for(en: float, s: float) -> float:
    """F [V/m] with F e a / sigma = en at T, a: F = en s V_t / a."""
    return en * s * VT / A


def _args(n: int, **kw):
    """Per-edge arguments of edge_mobility, shape (n,), with defaults."""
    base = dict(
        mu0=1e-8,
        field_V_m=1e7,
        occupancy=1e-3,
        sigma_over_kT=4.0,
        site_spacing_m=A,
        gamma_pf=3e-4,
        temperature_K=T,
    )
    base.update(kw)
    return {k: jnp.broadcast_to(jnp.asarray(v, dtype=jnp.float64), (n,)) for k, v in base.items()}


# ----------------------------------------------------------------------------- registry


def test_registry_and_constant_is_exact():
    """constant returns mu0 itself, bit for bit, eager and under jit; unknown tags raise."""
    assert MOBILITY_MODELS == ("constant", "poole_frenkel", "egdm")
    mu0 = jnp.asarray(np.random.default_rng(0).uniform(1e-10, 1e-4, 17))
    args = _args(17, mu0=mu0, field_V_m=3e8, occupancy=0.05)
    assert edge_mobility("constant", **args) is args["mu0"]
    jitted = jax.jit(lambda a: edge_mobility("constant", **a))(args)
    assert np.array_equal(np.asarray(jitted), np.asarray(mu0))
    assert np.asarray(jitted).view(np.uint64).tolist() == np.asarray(mu0).view(np.uint64).tolist()
    with pytest.raises(ValueError, match="unknown mobility model"):
        edge_mobility("hopping", **args)


def test_dispatcher_matches_model_functions():
    args = _args(5, field_V_m=jnp.linspace(-2e8, 2e8, 5))
    run = jax.jit(edge_mobility, static_argnums=0)
    np.testing.assert_array_equal(
        np.asarray(run("poole_frenkel", **args)),
        np.asarray(_pf(args["mu0"], args["field_V_m"], args["gamma_pf"])),
    )
    np.testing.assert_array_equal(
        np.asarray(run("egdm", **args)),
        np.asarray(
            _mu(
                args["mu0"],
                args["field_V_m"],
                args["occupancy"],
                args["sigma_over_kT"],
                args["site_spacing_m"],
                args["temperature_K"],
            )
        ),
    )


# ------------------------------------------------------------------------ Poole-Frenkel


def test_poole_frenkel_value_gradient_and_units():
    """mu0 exp(gamma sqrt|F|) to 1e-12 relative for |F| in [1e-30, 1e9] V/m; the
    F-derivative matches mu gamma sign(F) / (2 sqrt|F|); F = 0 gives mu0 exactly and a
    finite (zero) gradient; gamma [(m/V)^0.5] = 0.1 gamma [(cm/V)^0.5]."""
    assert float(gamma_from_cm_V_sqrt(3e-3)) == pytest.approx(3e-4, rel=1e-15)
    mu0 = 2e-9
    for gamma_cm in (1e-3, 1e-2, 5e-2):
        gamma = gamma_from_cm_V_sqrt(gamma_cm)
        # same exponent in cm units: gamma_cm sqrt(F [V/cm])
        f_si = 1e8
        assert float(_pf(mu0, f_si, gamma)) == pytest.approx(
            mu0 * math.exp(gamma_cm * math.sqrt(f_si * 1e-2)), rel=1e-12
        )
        mags = np.logspace(-30, 9, 79)
        field = jnp.asarray(np.concatenate([mags, -mags]))
        mu = np.asarray(_pf(mu0, field, gamma))
        hand = mu0 * np.exp(float(gamma) * np.sqrt(np.abs(np.asarray(field))))
        np.testing.assert_allclose(mu, hand, rtol=1e-12, atol=0)
    gamma = 3e-4
    dmu = jax.jit(jax.vmap(jax.grad(lambda f: poole_frenkel_mobility(mu0, f, gamma))))
    field = jnp.asarray([-1e9, -3e7, -1e4, 1e2, 5e5, 2e8])
    f = np.asarray(field)
    mu = mu0 * np.exp(gamma * np.sqrt(np.abs(f)))
    np.testing.assert_allclose(
        np.asarray(dmu(field)), mu * gamma * np.sign(f) / (2 * np.sqrt(np.abs(f))), rtol=1e-9
    )
    zero = jnp.zeros(())
    assert float(poole_frenkel_mobility(mu0, zero, gamma)) == mu0
    assert float(smooth_sqrt_abs_field(zero)) == 0.0
    g0 = dmu(zero[None])[0]
    assert np.isfinite(float(g0)) and float(g0) == 0.0
    # near F_s the slope is large but finite, and s(F) stays within sqrt(F_s) below sqrt|F|
    tiny = jnp.asarray([PF_FIELD_SMOOTHING_V_M, 10 * PF_FIELD_SMOOTHING_V_M])
    slope = jax.jit(jax.vmap(jax.grad(smooth_sqrt_abs_field)))(tiny)
    assert np.all(np.isfinite(np.asarray(slope)))
    s = np.asarray(smooth_sqrt_abs_field(tiny))
    assert np.all(s <= np.sqrt(np.asarray(tiny))) and np.all(
        s >= np.sqrt(np.asarray(tiny)) - math.sqrt(PF_FIELD_SMOOTHING_V_M)
    )
    # even in F, bit for bit
    np.testing.assert_array_equal(
        np.asarray(_pf(mu0, field, gamma)), np.asarray(_pf(mu0, -field, gamma))
    )


# -------------------------------------------------------------------------------- EGDM


# (sigma/kT, c, E_n) -> (g1, g2), from the published formulas evaluated by hand in float64
# (Python math; Pasveer et al. 2005, Eqs. for g1, delta and g2):
#   s = 3: delta = 0.32558337983328..., s = 4: 0.26978404872621..., s = 6: 0.17080906231577...
EGDM_REFERENCE = [
    (3.0, 1e-4, 0.5, 1.2061244719705875, 1.1340847858027108),
    (4.0, 1e-3, 1.0, 3.0711434809905103, 2.391372065369221),
    (5.0, 0.05, 1.5, 453.07874372442075, 14.303766426198152),
    (6.0, 1e-2, 2.0, 2185.037302036213, 320.61218010971714),
]


def test_egdm_reference_values():
    """g1, g2 and mu = mu0 g1 g2 reproduce the formula at four (sigma/kT, c, E_n) points to
    1e-12; the temperature prefactor is c1 mu0* exp(-c2 sigma_hat^2), c1 = 1.8e-9,
    c2 = 0.42."""
    mu0 = 3e-9
    for s, c, en, g1_ref, g2_ref in EGDM_REFERENCE:
        assert _g1_hand(s, c) == pytest.approx(g1_ref, rel=1e-14)
        assert _g2_hand(s, en) == pytest.approx(g2_ref, rel=1e-14)
        assert float(egdm_g1(s, c)) == pytest.approx(g1_ref, rel=1e-12)
        assert float(egdm_g2(s, en)) == pytest.approx(g2_ref, rel=1e-12)
        field = _field_for(en, s)
        assert float(egdm_reduced_field(field, A, s, T)) == pytest.approx(en, rel=1e-13)
        mu = float(egdm_mobility(mu0, field, c, s, A, T))
        assert mu == pytest.approx(mu0 * g1_ref * g2_ref, rel=1e-12)
    assert (EGDM_C1, EGDM_C2) == (1.8e-9, 0.42)
    for s in (3.0, 4.5, 6.0):
        assert float(egdm_mu0_of_temperature(2.0, s)) == pytest.approx(
            1.8e-9 * 2.0 * math.exp(-0.42 * s * s), rel=1e-14
        )


def test_egdm_limits_monotonicity_and_symmetry():
    """g1 -> 1 as c -> 0 (and at c = 0); g2(F = 0) = 1 exactly; g1 grows with c up to the
    cap c = 0.1 and is flat beyond; g2 grows with |F| up to E_n = 2 and is flat beyond; mu
    is even in F; below sigma/kT = 2 the factors fade to mu = mu0 at sigma/kT = 0."""
    for s in (3.0, 4.0, 5.0, 6.0, 8.0):
        g1_small = np.asarray(_g1(s, jnp.asarray([0.0, 1e-100, 1e-30, 1e-10])))
        assert np.all(np.abs(g1_small[:2] - 1.0) < 1e-10), (s, g1_small)
        assert np.all(np.diff(g1_small) >= 0)
        assert float(_g2(s, 0.0)) == 1.0
        assert float(_mu(1e-9, 0.0, 0.0, s, A, T)) == pytest.approx(1e-9, rel=1e-9)
        c = jnp.asarray(np.logspace(-12, -1, 56))
        g1 = np.asarray(_g1(s, c))
        assert np.all(np.diff(g1) > 0)
        above = np.asarray(_g1(s, jnp.asarray([0.1, 0.2, 0.5, 1.0])))
        assert np.all(above == above[0])
        en = jnp.asarray(np.linspace(0.0, 2.0, 41))
        g2 = np.asarray(_g2(s, en))
        assert np.all(np.diff(g2) > 0)
        beyond = np.asarray(_g2(s, jnp.asarray([2.0, 2.5, 10.0, -1e6])))
        assert np.all(beyond == beyond[0])
        field = jnp.asarray(np.linspace(-3e9, 3e9, 61))
        mu = _mu(1e-9, field, 1e-3, s, A, T)
        np.testing.assert_array_equal(np.asarray(mu), np.asarray(mu[::-1]))
        np.testing.assert_array_equal(np.asarray(mu), np.asarray(_mu(1e-9, -field, 1e-3, s, A, T)))
    # sigma/kT below 2: continuous at 2, mu = mu0 exactly at 0
    f = _field_for(1.0, 2.0)
    at = float(_mu(1e-9, f, 0.01, 2.0, A, T))
    below = float(_mu(1e-9, f, 0.01, 2.0 - 1e-9, A, T))
    assert below == pytest.approx(at, rel=1e-8)
    assert float(_mu(1e-9, f, 0.01, 0.0, A, T)) == 1e-9
    low = np.asarray(_mu(1e-9, f, 0.01, jnp.linspace(0.0, 2.0, 21), A, T))
    assert np.all(np.diff(low) > 0)


def _central_difference(fun, x: float, rel_step: float = 1e-5) -> float:
    h = rel_step * abs(x)
    return (fun(x + h) - fun(x - h)) / (2 * h)


@pytest.mark.parametrize("s, c, en", [(4.0, 1e-3, 0.8), (5.5, 0.03, -1.5), (3.0, 1e-6, 1.9)])
def test_egdm_gradients_match_central_differences(s, c, en):
    """d mu / d(mu0, c, F, sigma/kT) by JAX against central differences, 1e-6 relative."""
    mu0 = 1e-9
    field = _field_for(en, s)
    point = jnp.asarray([mu0, c, field, s])

    def mu_of(p):
        return egdm_mobility(p[0], p[2], p[1], p[3], A, T)

    grad = np.asarray(jax.jit(jax.grad(mu_of))(point))
    mu_np = jax.jit(mu_of)
    for i in range(4):

        def along(x, i=i):
            return float(mu_np(point.at[i].set(x)))

        fd = _central_difference(along, float(point[i]))
        assert grad[i] == pytest.approx(fd, rel=1e-6), (i, grad[i], fd)


def test_egdm_finite_over_extreme_inputs():
    """Value and all gradients finite and positive for c in [0, 1], F of either sign and any
    magnitude, sigma/kT in [0, 8] (including the invalid-log region sigma/kT <= 1)."""
    cs = [0.0, 1e-300, 1e-100, 1e-30, 1e-6, 0.0999, 0.1, 0.5, 1.0]
    fs = [0.0, 1e-30, -1e-30, 1e5, -1e8, 3e9, -1e15, 1e300, -1e300]
    ss = [0.0, 0.5, 1.0, 1.5, 1.6915, 1.7792, 2.0, 3.0, 6.0, 8.0]
    grid = np.array(np.meshgrid(cs, fs, ss, indexing="ij")).reshape(3, -1)
    c, f, s = (jnp.asarray(v) for v in grid)

    def mu_of(ci, fi, si, mu0):
        return egdm_mobility(mu0, fi, ci, si, A, T)

    mu = _mu(1e-9, f, c, s, A, T)
    assert np.all(np.isfinite(np.asarray(mu))) and np.all(np.asarray(mu) > 0)
    grad_all = jax.jit(jax.vmap(jax.grad(mu_of, argnums=(0, 1, 2, 3)), in_axes=(0, 0, 0, None)))
    for g in grad_all(c, f, s, 1e-9):
        assert np.all(np.isfinite(np.asarray(g)))
    for fun in (egdm_g1, egdm_g2):
        vals = jax.jit(jax.vmap(jax.grad(fun, argnums=(0, 1))))(s, c)
        assert all(np.all(np.isfinite(np.asarray(v))) for v in vals)
    # PF: finite value and gradient at and around F = 0 and over device fields
    pf = jax.jit(jax.vmap(jax.grad(lambda fi: poole_frenkel_mobility(1e-9, fi, 1e-3))))
    field = jnp.asarray([0.0, 1e-30, -1e-20, 1e-10, 1e9, -1e9])
    assert np.all(np.isfinite(np.asarray(pf(field))))


def test_jit_vmap_and_broadcasting():
    """The dispatcher jits with the tag static, vmaps over a batch of devices, and
    broadcasts per-layer scalars against per-edge arrays."""
    n = 9
    args = _args(n, field_V_m=jnp.linspace(-1e9, 1e9, n), occupancy=jnp.logspace(-8, 0, n))
    run = jax.jit(edge_mobility, static_argnums=0)
    batch = {k: jnp.stack([v, 2 * v]) for k, v in args.items()}
    for model in MOBILITY_MODELS:
        single = np.asarray(run(model, *args.values()))
        batched = jax.jit(jax.vmap(lambda a, model=model: edge_mobility(model, **a)))(batch)
        assert batched.shape == (2, n)
        np.testing.assert_allclose(np.asarray(batched[0]), single, rtol=1e-14)
        np.testing.assert_allclose(
            np.asarray(batched[1]), np.asarray(run(model, *batch_row(batch, 1))), rtol=1e-14
        )
    # rank-0 per-layer numbers with per-edge arrays (explicit broadcasting, no rank promotion)
    mu = _mu(1e-9, args["field_V_m"], args["occupancy"], 4.0, A, T)
    assert mu.shape == (n,)
    mu2 = _mu(jnp.full((2, n), 1e-9), args["field_V_m"], 1e-3, 4.0, A, T)
    assert mu2.shape == (2, n)
    np.testing.assert_array_equal(np.asarray(mu2[1]), np.asarray(mu2[0]))


def batch_row(batch: dict, i: int) -> list:
    """Row i of every batched argument, in edge_mobility's order."""
    return [v[i] for v in batch.values()]
