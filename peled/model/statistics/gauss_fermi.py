r"""Gauss–Fermi integral: occupancy of a Gaussian density of states, in pure JAX.

Equation
--------
The fraction of the sites of a Gaussian density of states (width ``sigma``, centred at
``E0``; the disordered-organic / nanocrystal-film model of H. Bässler, phys. stat. sol.
(b) 175, 15 (1993)) that is occupied at the reduced Fermi level ``eta = (E_F - E0)/kT`` is
the Gauss–Fermi integral (G. Paasch and S. Scheinert, J. Appl. Phys. 107, 104501 (2010))

    G(eta, s) = 1/sqrt(2 pi) * int_{-inf}^{inf} exp(-x^2/2) / (1 + exp(s x - eta)) dx,

with ``s = sigma/kT``. Units: ``eta`` and ``s`` are dimensionless (energies in units of
kT); ``G`` is an occupancy per site in [0, 1]. Electrons: ``n = N0 G(eta_n, s)`` with
``eta_n = (E_Fn - E0)/kT``; holes use the mirrored ``eta_p = (E0 - E_Fp)/kT``.
Limits: ``G -> exp(eta + s^2/2)`` for ``eta -> -inf`` (Boltzmann regime, ``eta < -s^2``
well inside), ``G -> 1`` for ``eta -> +inf``, and ``G(eta, 0)`` is the single-level Fermi
function ``1/(1 + exp(-eta))``; ``G(0, s) = 1/2`` for every ``s``.

Method
------
The log-integrand ``l(x) = -x^2/2 - softplus(s x - eta)`` is concave with ``l'' <= -1``,
so the integrand is bounded by a unit Gaussian around its mode ``x*`` (the root of
``x + s sigmoid(s x - eta) = 0`` in ``[-s, 0]``; two clipped Newton steps from the Fermi
step ``eta/s`` find it within 0.07). The integral is the trapezoid rule on ``Q`` nodes of
spacing ``H`` around the mode (centre within ``H/2`` of ``x*``, shifted so that a node sits
on the Fermi level), summed relative to ``l`` at the centre so nothing under- or
overflows at ``eta = -1e3``, plus the exact pole correction of the trapezoid rule: the
Fermi factor has simple poles at ``z_k = (eta + i pi (2k+1))/s`` with residue
``-phi(z_k)/s``, and for a function analytic up to those poles

    int f dx = h sum_j f(c + j h) - 2 Re sum_k 2 pi i Res(f, z_k) / (exp(-2 pi i (z_k-c)/h) - 1).

The first ``POLES`` poles are corrected whenever they lie below the Gaussian's saddle
(``Im z_k < pi/H``, i.e. ``s > (2k+1) H``; the jump where one switches on is < 4e-13); the
remaining error is ``~exp(-2 pi^2/H^2)`` (Gaussian aliasing) plus the uncorrected poles'
``exp(Im^2/2 - 2 pi Im/H)``. Without the pole correction the spacing must resolve the
Fermi step: the plain trapezoid rule needs H = 0.1 and 155 nodes for 2e-9 at s = 8
(H = 0.12, 129 nodes: 1e-7); with it H = 0.7 and 23 nodes give 1e-12. The grid is
``stop_gradient``-ed, so ``jax.grad``/``jvp`` give the quadrature of the exact derivatives
plus the exact derivatives of the pole terms, accurate to the same order (also the
second derivatives). At ``s == 0`` the function returns ``log_sigmoid(eta)`` exactly
(d/ds = 0 there).

Measured accuracy (vs scipy.integrate.quad at ``epsrel = 1e-13``; 916 points, s in
[0.25, 8], eta in [-80, 10], dense around eta = -s^2 .. 0): relative error of G
<= 2.4e-13, of dG/deta <= 1.4e-12, of dG/ds <= 3.5e-11 (where dG/ds is not near its zero
at eta = 0; absolute error of d ln G/ds <= 2e-12); at s = 10 and 12 (eta in [-150, 20]):
<= 7e-11 and 1.1e-10. Maximum error vs Q at H = 0.7, POLES = 6 (G, dG/deta, dG/ds):

    Q = 15: 3e-7, 2e-4, 7e-4      Q = 17: 6e-9, 7e-6, 3e-5      Q = 19: 7e-11, 1e-7, 5e-7
    Q = 21: 5e-13, 6e-10, 3e-9    Q = 23: 2e-13, 1.4e-12, 3.5e-11 (chosen)    Q = 25: same

and vs POLES at Q = 23: 3: 4e-9, 8e-9, 7e-8; 4: 4e-11, 8e-11, 1e-9; 5 and 6: as above.
Value and gradients are finite for eta in [-1e3, 1e3] and s in [0, 12].

``paasch_scheinert_occupancy`` is the closed-form approximation of Paasch & Scheinert
(2010), kept as an independent reference for tests, not for use in the solver: against
the quadrature it is within 1.2 % (s = 1), 6 % (s = 3), 18 % (s = 6) and 28 % (s = 8)
over eta in [-80, 10].
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy.special import erfc, ndtri

# Quadrature constants (see the module docstring for the error measured against them).
H: float = 0.7  # trapezoid spacing (units of the Gaussian width sigma)
Q: int = 23  # trapezoid points (odd: the centre is a node); half-width (Q-1)/2*H = 7.7
POLES: int = 6  # Fermi-factor poles corrected (k = 0 .. POLES-1), enough up to s = 12
MODE_NEWTON_STEPS: int = 2  # Newton steps for the grid centre (|centre - mode| < 0.07)

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_EXP_CLAMP = 30.0  # cap on the real exponent of a (masked) pole term; active ones are < 3


@jax.custom_jvp
def exp_fermi(a: jax.Array, u: jax.Array) -> jax.Array:
    """exp(a) / (1 + exp(u)) without overflow when a and u are both large (dimensionless).

    Two exponentials and a division (no logarithm); the derivative is
    ``value * (da - sigmoid(u) du)``. The branches are selected with ``where`` (not
    ``abs``/``maximum``) so that derivatives of every order are exact also at u = 0.
    """
    pos = u > 0.0
    e = jnp.exp(jnp.where(pos, -u, u))  # exp(-|u|)
    return jnp.exp(a - jnp.where(pos, u, 0.0)) / (1.0 + e)


@exp_fermi.defjvp
def _exp_fermi_jvp(primals: tuple, tangents: tuple) -> tuple:
    """JVP of exp_fermi: value * (da - sigmoid(u) du), reusing the same exponentials."""
    a, u = primals
    da, du = tangents
    pos = u > 0.0
    e = jnp.exp(jnp.where(pos, -u, u))
    value = jnp.exp(a - jnp.where(pos, u, 0.0)) / (1.0 + e)
    sigmoid_u = jnp.where(pos, 1.0, e) / (1.0 + e)
    return value, value * (da - sigmoid_u * du)


def _as_float_pair(eta: jax.typing.ArrayLike, s: jax.typing.ArrayLike) -> tuple:
    """eta and s as float arrays broadcast against each other."""
    eta_a = jnp.asarray(eta, dtype=float)
    s_a = jnp.asarray(s, dtype=float)
    return tuple(jnp.broadcast_arrays(eta_a, s_a))


def _mode(eta: jax.Array, s: jax.Array) -> jax.Array:
    """Approximate mode of the integrand, the root of x + s*sigmoid(s x - eta) in [-s, 0].

    Start at the Fermi step eta/s clipped to [-s, 0] (within 0.53 of the root), then
    Newton steps clipped to [-s, 0] (measured |error| < 0.064 after two, s <= 12,
    |eta| <= 1e3); the quadrature only needs it within ~0.7.
    """
    x = jnp.clip(eta / jnp.where(s > 0.0, s, 1.0), -s, 0.0)
    for _ in range(MODE_NEWTON_STEPS):
        occ = jax.nn.sigmoid(s * x - eta)
        x = jnp.clip(x - (x + s * occ) / (1.0 + s * s * occ * (1.0 - occ)), -s, 0.0)
    return x


def _pole_correction(eta: jax.Array, s: jax.Array, scale: jax.Array) -> jax.Array:
    """-2 Re sum_k 2 pi i Res_k / (exp(-2 pi i (z_k - c)/H) - 1), scaled by exp(-scale).

    Real arithmetic for z_k = alpha + i beta_k = (eta + i pi (2k+1))/s, residue
    -exp(-z_k^2/2)/s, theta = 2 pi (alpha - c)/H, rho_k = exp(-2 pi beta_k/H):
    term_k = -(4 pi/s) exp(-(alpha^2 - beta_k^2)/2 - scale) rho_k
             * (sin(theta - alpha beta_k) + rho_k sin(alpha beta_k)) / |1 - rho_k e^(i theta)|^2.
    The grid is aligned so that a node sits on the Fermi level (alpha - c = m H), hence
    theta = 2 pi m + delta with delta = 0 that only carries alpha's derivatives. The poles
    lie on a trailing axis of the arrays (one copy of the term in a compiled program).
    Only poles with s > (2k+1) H (beta_k < pi/H, below the Gaussian saddle) are used.
    """
    s_k = jnp.where(s > H, s, 1.0)[..., None]
    alpha = eta[..., None] / s_k
    delta = (2.0 * math.pi / H) * (alpha - jax.lax.stop_gradient(alpha))  # == 0
    sin_t = delta - delta**3 / 6.0  # sin(theta), exact in value and 4 derivatives
    cos_t = 1.0 - 0.5 * delta**2 + delta**4 / 24.0
    # the poles on a trailing axis: one copy of the term in the compiled program
    odd = jnp.asarray([2 * k + 1 for k in range(POLES)], eta.dtype)
    odd = odd.reshape((1,) * eta.ndim + (POLES,))
    angle = odd * (math.pi * eta[..., None] / (s_k * s_k))  # alpha * beta_k
    sin_ab, cos_ab = jnp.sin(angle), jnp.cos(angle)
    beta = odd * (math.pi / s_k)
    rho = jnp.exp(-(2.0 * math.pi / H) * beta)
    log_amp = -0.5 * alpha * alpha - scale[..., None] + 0.5 * beta * beta
    log_amp = log_amp - (2.0 * math.pi / H) * beta
    amp = jnp.exp(jnp.minimum(log_amp, _EXP_CLAMP))
    osc = (sin_t * cos_ab - cos_t * sin_ab) + rho * sin_ab
    denom = 1.0 - 2.0 * rho * cos_t + rho * rho
    term = -(4.0 * math.pi / s_k) * amp * osc / denom
    return jnp.sum(jnp.where(s[..., None] > odd * H, term, 0.0), axis=-1)


def gauss_fermi_log_occupancy(eta: jax.typing.ArrayLike, s: jax.typing.ArrayLike) -> jax.Array:
    """ln G(eta, s), the log of the Gauss–Fermi occupancy per site (dimensionless).

    Args:
        eta: reduced Fermi level (E_F - E0)/kT, dimensionless; any shape.
        s: reduced disorder sigma/kT >= 0, dimensionless; broadcast against ``eta``.

    Returns:
        ln G with the broadcast shape (float64 when x64 is enabled). Relative error of G
        and of its jax derivatives (eta and s) <= 1e-10 for s in [0, 8], eta in
        [-80, 10] (module docstring); finite value and gradients for eta in [-1e3, 1e3],
        s in [0, 12].
    """
    eta, s = _as_float_pair(eta, s)
    eta_c = jax.lax.stop_gradient(eta)
    s_c = jax.lax.stop_gradient(s)
    # grid centre: within H/2 of the mode, with a node on the Fermi level eta/s
    fermi_level = eta_c / jnp.where(s_c > H, s_c, 1.0)
    mode = _mode(eta_c, s_c)
    centre = fermi_level - H * jnp.round((fermi_level - mode) / H)
    # scale: l at the centre (a node of the grid), so every exp(l - scale) is <= ~e^2
    scale = -0.5 * centre * centre - jax.nn.softplus(s_c * centre - eta_c)

    ndim = eta.ndim
    offsets = H * (jnp.arange(Q, dtype=eta.dtype) - (Q - 1) // 2)
    offsets = offsets.reshape((1,) * ndim + (Q,))
    x = centre[..., None] + offsets
    weights = exp_fermi(-0.5 * x * x - scale[..., None], s[..., None] * x - eta[..., None])
    total = H * jnp.sum(weights, axis=-1) + _pole_correction(eta, s, scale)

    log_g = scale + jnp.log(jnp.maximum(total, 1e-300)) - _LOG_SQRT_2PI
    return jnp.where(s > 0.0, log_g, jax.nn.log_sigmoid(eta))


def gauss_fermi_occupancy(eta: jax.typing.ArrayLike, s: jax.typing.ArrayLike) -> jax.Array:
    """G(eta, s), occupancy per site (dimensionless); exp of the log form."""
    return jnp.exp(gauss_fermi_log_occupancy(eta, s))


def gauss_fermi_einstein_ratio(eta: jax.typing.ArrayLike, s: jax.typing.ArrayLike) -> jax.Array:
    """Generalized Einstein factor g3 = D/(mu kT/q) = G/(dG/deta) = 1/(d ln G/d eta).

    Dimensionless, >= 1; 1 in the Boltzmann limit (eta -> -inf). It grows without bound
    as the Gaussian fills (eta -> +inf) and is +inf once 1 - G underflows (e.g. s = 0,
    eta > ~745).
    """
    eta, s = _as_float_pair(eta, s)
    _, dlog = jax.jvp(lambda e: gauss_fermi_log_occupancy(e, s), (eta,), (jnp.ones_like(eta),))
    return 1.0 / dlog


def paasch_scheinert_occupancy(eta: jax.typing.ArrayLike, s: jax.typing.ArrayLike) -> jax.Array:
    """Closed-form approximation of G(eta, s) by Paasch & Scheinert (2010), for s > 0.

    With S = s^2, H_ps = sqrt(2)/s * erfcinv(exp(-S/2)) and
    K = 2 (1 - H_ps/s * sqrt(2/pi) * exp(S (1 - H_ps^2)/2)):

        G ~ exp(S/2 + eta) / (exp(K (eta + S)) + 1)     for eta < -S,
        G ~ erfc(-eta H_ps / (s sqrt 2)) / 2            otherwise.

    (H_ps makes the two branches meet at eta = -S, K matches their slopes there.) An
    approximation of ~10 % accuracy for moderate s (module docstring); a test reference
    only. Dimensionless occupancy per site; eta, s dimensionless.
    """
    eta, s = _as_float_pair(eta, s)
    big_s = s * s
    # erfcinv(y) = -ndtri(y/2)/sqrt(2), accurate for the tiny y = exp(-S/2) at large s
    h_ps = -ndtri(0.5 * jnp.exp(-0.5 * big_s)) / s
    k_ps = 2.0 * (1.0 - h_ps / s * math.sqrt(2.0 / math.pi) * jnp.exp(0.5 * big_s * (1 - h_ps**2)))
    boltz = eta < -big_s
    eta_b = jnp.where(boltz, eta, -big_s)
    low = jnp.exp(0.5 * big_s + eta_b) / (jnp.exp(k_ps * (eta_b + big_s)) + 1.0)
    high = 0.5 * erfc(-eta * h_ps / (s * math.sqrt(2.0)))
    return jnp.where(boltz, low, high)
