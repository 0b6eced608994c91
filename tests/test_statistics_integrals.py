"""The Gauss–Fermi and Fermi–Dirac(1/2) integrals (peled.model.statistics.gauss_fermi,
.fermi_dirac) against adaptive quadrature (scipy.integrate.quad), their limits, their
derivatives (jax) and their finiteness far outside the physical range."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, optimize, special

from peled.model.statistics.fermi_dirac import (
    ETA_SWITCH,
    fermi_dirac_einstein_ratio,
    fermi_dirac_half_log,
)
from peled.model.statistics.gauss_fermi import (
    gauss_fermi_einstein_ratio,
    gauss_fermi_log_occupancy,
    paasch_scheinert_occupancy,
)

jax.config.update("jax_enable_x64", True)

RTOL = 1e-6  # required relative accuracy of the integrals and their derivatives
S_VALUES = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
ETA_SPREAD = (
    -80.0,
    -60.0,
    -40.0,
    -25.0,
    -15.0,
    -8.0,
    -4.0,
    -2.0,
    -1.0,
    0.0,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)

_PAD = 2560  # every jitted evaluation below runs on this length: one compilation each

_GF_AND_GRAD = jax.jit(jax.vmap(jax.value_and_grad(gauss_fermi_log_occupancy, argnums=(0, 1))))
_FD_AND_GRAD = jax.jit(jax.vmap(jax.value_and_grad(fermi_dirac_half_log)))
_GF_RATIO = jax.jit(gauss_fermi_einstein_ratio)
_FD_RATIO = jax.jit(fermi_dirac_einstein_ratio)
_PS = jax.jit(paasch_scheinert_occupancy)


def _padded(fn: Callable, *args: Any) -> Any:
    """fn on 1-D float64 copies of ``args`` (broadcast together) padded to _PAD entries."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in args))
    n = arrays[0].size
    assert n <= _PAD
    padded = [jnp.asarray(np.pad(a.ravel(), (0, _PAD - n), constant_values=1.0)) for a in arrays]
    return jax.tree_util.tree_map(lambda out: np.asarray(out)[:n], fn(*padded))


def _gf(eta: Any, s: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ln G, d lnG/d eta, d lnG/d s (jax), as numpy arrays."""
    value, (d_eta, d_s) = _padded(_GF_AND_GRAD, eta, s)
    return value, d_eta, d_s


def _fd(eta: Any) -> tuple[np.ndarray, np.ndarray]:
    """ln F_1/2 and d ln F_1/2/d eta (jax), as numpy arrays."""
    return _padded(_FD_AND_GRAD, eta)


# ---------------------------------------------------------------- reference quadratures


def _gf_reference(eta: float, s: float) -> tuple[float, float, float, float]:
    """ln G, (dG/deta)/G, (dG/ds)/G and (int |x| phi f (1-f))/G by scipy quad (s > 0).

    Integrates exp(l(x) - l(x*)) with l = -x^2/2 - softplus(s x - eta) around the mode x*,
    with breakpoints at the mode, the Fermi level eta/s and 0, so every integrand is O(1)
    even at eta = -80.
    """
    xm = optimize.brentq(lambda x: x + s * special.expit(s * x - eta), -s - 1e-9, 1e-9, xtol=1e-14)

    def log_f(x: float) -> float:
        return -0.5 * x * x - np.logaddexp(0.0, s * x - eta)

    top = log_f(xm)
    lo, hi = xm - 40.0, xm + 40.0
    points = sorted({xm, min(max(eta / s, lo), hi), 0.0})
    kw = {"points": points, "limit": 400, "epsabs": 0.0, "epsrel": 1e-12}

    def weight(x: float) -> float:
        return math.exp(log_f(x) - top)

    i0 = integrate.quad(weight, lo, hi, **kw)[0]
    # d f/d eta = f (1 - f), 1 - f = sigmoid(s x - eta); d f/d s = -x f (1 - f)
    i1 = integrate.quad(lambda x: weight(x) * special.expit(s * x - eta), lo, hi, **kw)[0]
    i3 = integrate.quad(lambda x: abs(x) * weight(x) * special.expit(s * x - eta), lo, hi, **kw)[0]
    # i2 vanishes at eta = 0 (odd integrand): an absolute tolerance on the scale of i3
    kw_abs = {**kw, "epsabs": 1e-13 * i3}
    i2 = integrate.quad(lambda x: -x * weight(x) * special.expit(s * x - eta), lo, hi, **kw_abs)[0]
    return top + math.log(i0) - 0.5 * math.log(2.0 * math.pi), i1 / i0, i2 / i0, i3 / i0


def _fd_reference(eta: float) -> tuple[float, float]:
    """ln F_1/2 and F_-1/2/F_1/2 by scipy quad in t = sqrt(x), scaled by exp(min(eta, 0))."""
    shift = min(eta, 0.0)
    step = math.sqrt(max(eta, 0.0))

    def fermi(t: float) -> float:
        return math.exp(-np.logaddexp(0.0, t * t - eta) - shift)

    kw = {"points": [step] if step > 0 else None, "limit": 400, "epsabs": 0.0, "epsrel": 1e-12}
    i_half = integrate.quad(lambda t: t * t * fermi(t), 0.0, step + 12.0, **kw)[0]
    i_mhalf = integrate.quad(fermi, 0.0, step + 12.0, **kw)[0]
    # F_1/2 = 4/sqrt(pi) int t^2 f dt, F_-1/2 = 2/sqrt(pi) int f dt
    return shift + math.log(4.0 / math.sqrt(math.pi) * i_half), i_mhalf / (2.0 * i_half)


@pytest.fixture(scope="module")
def gf_table() -> dict[str, np.ndarray]:
    etas, ss = [], []
    for s in S_VALUES:
        for eta in sorted(set(ETA_SPREAD) | {-s * s, -0.5 * s * s}):
            etas.append(eta)
            ss.append(s)
    ref = np.array([_gf_reference(e, s) for e, s in zip(etas, ss, strict=True)])
    return {
        "eta": np.array(etas),
        "s": np.array(ss),
        "log_g": ref[:, 0],
        "dlog_deta": ref[:, 1],
        "dlog_ds": ref[:, 2],
        "abs_ds": ref[:, 3],
    }


# ------------------------------------------------------------------------- Gauss–Fermi


def test_gauss_fermi_value_and_eta_derivative_match_quadrature(gf_table):
    log_g, d_eta, _ = _gf(gf_table["eta"], gf_table["s"])
    rel_value = np.abs(np.expm1(log_g - gf_table["log_g"]))
    assert rel_value.max() <= RTOL, rel_value.max()
    # dG/deta = G d lnG/deta; compare with the quadrature of phi f (1 - f)
    dg = np.exp(log_g) * d_eta
    dg_ref = np.exp(gf_table["log_g"]) * gf_table["dlog_deta"]
    rel_deriv = np.abs(dg / dg_ref - 1.0)
    assert rel_deriv.max() <= RTOL, rel_deriv.max()


def test_gauss_fermi_s_derivative_matches_quadrature(gf_table):
    """dG/ds vanishes at eta = 0 (G(0, s) = 1/2 for all s), so its error is measured
    relative to int |x| phi f (1 - f), the integral of its integrand's magnitude."""
    log_g, _, d_s = _gf(gf_table["eta"], gf_table["s"])
    dg_ds = np.exp(log_g) * d_s
    g_ref = np.exp(gf_table["log_g"])
    err = np.abs(dg_ds - g_ref * gf_table["dlog_ds"]) / (g_ref * gf_table["abs_ds"])
    assert err.max() <= RTOL, err.max()
    # and plain relative error wherever dG/ds is not near its zero at eta = 0
    big = np.abs(gf_table["dlog_ds"]) > 1e-2 * gf_table["abs_ds"]
    rel = np.abs(dg_ds[big] / (g_ref * gf_table["dlog_ds"])[big] - 1.0)
    assert rel.max() <= RTOL, rel.max()


def test_gauss_fermi_low_density_limit():
    """Boltzmann regime: G = exp(eta + s^2/2) (the Fermi correction is ~exp(eta + 3s^2/2));
    d lnG/d eta -> 1 and d lnG/d s -> s."""
    s = np.array([1.0, 3.0, 5.0])
    log_g, d_eta, d_s = _gf(-60.0, s)
    np.testing.assert_allclose(np.exp(log_g - (-60.0 + 0.5 * s**2)), 1.0, rtol=1e-6, atol=0.0)
    np.testing.assert_allclose(d_eta, 1.0, rtol=1e-6)
    np.testing.assert_allclose(d_s, s, rtol=1e-6)


def test_gauss_fermi_single_level_limit_and_symmetry():
    """s = 0 is the single-level Fermi function (to rounding), with d/ds = 0; s -> 0 tends
    to it; G(0, s) = 1/2 for every s."""
    eta = np.linspace(-80.0, 40.0, 121)
    single = np.asarray(jax.nn.log_sigmoid(jnp.asarray(eta)))
    log_g, d_eta, d_s = _gf(eta, 0.0)
    np.testing.assert_allclose(log_g, single, rtol=1e-15, atol=0.0)
    np.testing.assert_allclose(d_eta, special.expit(-eta), rtol=1e-14, atol=0.0)
    np.testing.assert_array_equal(d_s, 0.0)
    near, _, _ = _gf(eta, 1e-6)
    np.testing.assert_allclose(near, single, rtol=0.0, atol=1e-10)
    half, _, _ = _gf(0.0, np.array([0.3, 1.0, 2.5, 6.0, 11.0]))
    np.testing.assert_allclose(half, math.log(0.5), rtol=0.0, atol=1e-10)


def test_gauss_fermi_finite_far_outside_the_physical_range():
    """Newton iterates wander: value and gradients stay finite for |eta| <= 1e3, s <= 12,
    with ln G <= 0 and ln G -> eta + s^2/2 far below the Gaussian."""
    eta = np.concatenate([np.linspace(-1e3, 1e3, 201), [0.0, -144.0, 1e-300]])
    s = np.array([0.0, 1e-9, 0.3, 0.7, 0.7000001, 1.4, 3.0, 8.0, 10.0, 12.0])
    ee, ss = (a.ravel() for a in np.meshgrid(eta, s))
    log_g, d_eta, d_s = _gf(ee, ss)
    assert np.all(np.isfinite(log_g)) and np.all(log_g <= 1e-15)
    assert np.all(np.isfinite(d_eta)) and np.all(np.isfinite(d_s))
    deep = ee == -1e3
    np.testing.assert_allclose(log_g[deep], -1e3 + 0.5 * ss[deep] ** 2, rtol=1e-12)


def test_gauss_fermi_shapes():
    """Broadcasting of eta against s (any shapes, under rank-promotion='raise')."""
    f64 = jax.ShapeDtypeStruct
    out = jax.eval_shape(gauss_fermi_log_occupancy, f64((2, 3), jnp.float64), 2.0)
    assert out.shape == (2, 3) and out.dtype == jnp.float64
    out = jax.eval_shape(
        gauss_fermi_log_occupancy, f64((4, 1), jnp.float64), f64((1, 5), jnp.float64)
    )
    assert out.shape == (4, 5)
    assert jax.eval_shape(gauss_fermi_einstein_ratio, -3.0, 4.0).shape == ()


def test_gauss_fermi_einstein_ratio_matches_finite_difference():
    eta = np.tile([-60.0, -20.0, -5.0, -1.0, 0.0, 2.0, 6.0], 4)
    s = np.repeat([0.0, 1.0, 3.0, 6.0], 7)
    delta = 1e-4
    fd = (_gf(eta + delta, s)[0] - _gf(eta - delta, s)[0]) / (2.0 * delta)
    ratio = _padded(_GF_RATIO, eta, s)
    np.testing.assert_allclose(ratio, 1.0 / fd, rtol=1e-6)
    assert np.all(ratio >= 1.0 - 1e-12)
    # Boltzmann regime (1 - G/exp(eta + s^2/2) ~ exp(eta + 3 s^2/2)): ratio 1
    deep = (eta == -60.0) & (s <= 3.0)
    np.testing.assert_allclose(ratio[deep], 1.0, rtol=1e-9)


def test_paasch_scheinert_approximation_agrees_within_its_accuracy():
    """The closed form of Paasch & Scheinert (2010) is a ~10 % approximation; it agrees with
    the quadrature within 20 % for s <= 6 over eta in [-80, 10], is exact in the Boltzmann
    limit, and continuous with a continuous slope where its two branches meet (eta = -s^2),
    as its constants H and K are built to do."""
    eta, s = (
        a.ravel()
        for a in np.meshgrid(np.linspace(-80.0, 10.0, 181), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    )
    ps = _padded(_PS, eta, s)
    dev = np.abs(ps / np.exp(_gf(eta, s)[0]) - 1.0)
    assert dev.max() <= 0.2, dev.max()
    for s_val in (1.0, 3.0, 6.0):  # an approximation, not the integral itself
        assert dev[s == s_val].max() >= 1e-3
    s_edge = np.array([1.0, 2.0, 4.0, 6.0])
    below = _padded(_PS, -(s_edge**2) - 1e-9, s_edge)
    at = _padded(_PS, -(s_edge**2), s_edge)
    np.testing.assert_allclose(below, at, rtol=1e-6)
    # K of the published form makes the slopes meet too (C1 at eta = -s^2)
    slope = jax.jit(jax.vmap(jax.grad(lambda e, s: jnp.log(paasch_scheinert_occupancy(e, s)))))
    left = np.asarray(slope(jnp.asarray(-(s_edge**2) - 1e-7), jnp.asarray(s_edge)))
    right = np.asarray(slope(jnp.asarray(-(s_edge**2) + 1e-7), jnp.asarray(s_edge)))
    np.testing.assert_allclose(left, right, rtol=1e-6)
    assert np.all(np.abs(left - 1.0) > 0.05)  # not the Boltzmann slope: the branches differ
    s_low = np.array([1.0, 3.0, 5.0])
    np.testing.assert_allclose(
        _padded(_PS, -150.0, s_low), np.exp(-150.0 + 0.5 * s_low**2), rtol=1e-9
    )


# ------------------------------------------------------------------------ Fermi–Dirac


def test_fermi_dirac_half_matches_quadrature():
    eta = np.concatenate([np.linspace(-80.0, 30.0, 45), [ETA_SWITCH, ETA_SWITCH + 1e-9]])
    ref = np.array([_fd_reference(e) for e in eta])
    log_f, dlog = _fd(eta)
    rel_value = np.abs(np.expm1(log_f - ref[:, 0]))
    assert rel_value.max() <= RTOL, rel_value.max()
    # d F_1/2/d eta = F_-1/2
    rel_deriv = np.abs(np.exp(log_f - ref[:, 0]) * dlog / ref[:, 1] - 1.0)
    assert rel_deriv.max() <= RTOL, rel_deriv.max()


def test_fermi_dirac_limits_and_finiteness():
    # eta -> -inf: F_1/2 = exp(eta) (1 - exp(eta)/2^1.5 + ...)
    eta = np.array([-60.0, -30.0])
    np.testing.assert_allclose(
        _fd(eta)[0] - eta, np.log1p(-np.exp(eta) / 2**1.5), rtol=0, atol=1e-14
    )
    # eta -> +inf: 4/(3 sqrt(pi)) eta^1.5 (1 + pi^2/(8 eta^2))
    big = np.array([200.0, 1e3])
    lead = np.log(4.0 / (3.0 * math.sqrt(math.pi))) + 1.5 * np.log(big)
    np.testing.assert_allclose(_fd(big)[0] - lead, np.log1p(math.pi**2 / (8.0 * big**2)), atol=1e-9)
    wide = np.concatenate([np.linspace(-1e3, 1e3, 2001), [0.0, ETA_SWITCH]])
    value, d = _fd(wide)
    assert np.all(np.isfinite(value))
    assert np.all(np.isfinite(d)) and np.all(d > 0.0) and np.all(d <= 1.0 + 1e-12)
    out = jax.eval_shape(fermi_dirac_half_log, jax.ShapeDtypeStruct((2, 3), jnp.float64))
    assert out.shape == (2, 3) and out.dtype == jnp.float64


def test_fermi_dirac_einstein_ratio():
    eta = np.array([-70.0, -5.0, 0.0, 3.0, 12.0, 24.0, 40.0])
    delta = 1e-4
    fd = (_fd(eta + delta)[0] - _fd(eta - delta)[0]) / (2.0 * delta)
    ratio = _padded(_FD_RATIO, eta)
    np.testing.assert_allclose(ratio, 1.0 / fd, rtol=1e-6)
    np.testing.assert_allclose(ratio[0], 1.0, rtol=1e-12)
    ref = np.array([1.0 / _fd_reference(float(e))[1] for e in eta])
    np.testing.assert_allclose(ratio, ref, rtol=1e-6)


def test_second_derivatives_match_finite_differences():
    """Jacobians of g3 need d^2 ln G/d eta^2 and d^2 ln G/(d eta d s), d^2 ln F_1/2/d eta^2:
    exact also where a node sits on the Fermi step (eta = -s^2/2, eta = t_j^2)."""

    def d_eta(e: jax.Array, s: jax.Array) -> jax.Array:  # elementwise: jvp with ones
        return jax.jvp(lambda x: gauss_fermi_log_occupancy(x, s), (e,), (jnp.ones_like(e),))[1]

    @jax.jit
    def hess(e: jax.Array, s: jax.Array) -> jax.Array:
        d_ee = jax.jvp(lambda x: d_eta(x, s), (e,), (jnp.ones_like(e),))[1]
        d_es = jax.jvp(lambda y: d_eta(e, y), (s,), (jnp.ones_like(s),))[1]
        return jnp.stack([d_ee, d_es], axis=-1)

    eta = np.array([-72.0, -32.0, -8.0, -2.0, 0.0, 3.0, -40.0, -4.5])
    s = np.array([12.0, 8.0, 4.0, 2.0, 1.0, 0.5, 6.0, 3.0])
    h = 1e-5
    _, d_eta_p, _ = _gf(eta + h, s)
    _, d_eta_m, _ = _gf(eta - h, s)
    _, d_eta_sp, _ = _gf(eta, s + h)
    _, d_eta_sm, _ = _gf(eta, s - h)
    second = np.asarray(hess(jnp.asarray(eta), jnp.asarray(s)))
    np.testing.assert_allclose(second[:, 0], (d_eta_p - d_eta_m) / (2 * h), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(second[:, 1], (d_eta_sp - d_eta_sm) / (2 * h), rtol=1e-5, atol=1e-9)
    eta_f = np.array([-3.0, 0.0, 0.25, 1.0, 4.0, 9.0, 16.0, 24.0, 30.0])

    @jax.jit
    def hess_f(e: jax.Array) -> jax.Array:
        def d_f(x: jax.Array) -> jax.Array:
            return jax.jvp(fermi_dirac_half_log, (x,), (jnp.ones_like(x),))[1]

        return jax.jvp(d_f, (e,), (jnp.ones_like(e),))[1]

    second_f = np.asarray(hess_f(jnp.asarray(eta_f)))
    fd_f = (_fd(eta_f + h)[1] - _fd(eta_f - h)[1]) / (2 * h)
    np.testing.assert_allclose(second_f, fd_f, rtol=1e-5, atol=1e-9)
