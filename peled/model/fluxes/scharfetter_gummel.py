"""Bulk fluxes: the Scharfetter-Gummel scheme on the effective band potentials.

All quantities are scaled (the core's scaling: potentials in V_t, lengths in x0,
densities in N0, particle fluxes in F0): potentials in V_t, lengths
in x0, densities in N0, particle fluxes in F0.

Bulk (Scharfetter & Gummel, IEEE Trans. Electron Devices 16, 64 (1969)): between nodes
i and i+1 at distance h, with diffusivity D = mu V_t and the *effective* band potential
theta (theta_n = psi + chi/V_t + ln(Nc/N0), so that n = N0 exp(theta_n - phi_n)),

    F_n = (D / h) [ n_i B(-d) - n_{i+1} B(d) ],    d = theta_n,{i+1} - theta_n,i
    F_p = (D / h) [ p_i B(d) - p_{i+1} B(-d) ],    d = theta_p,{i+1} - theta_p,i

with the Bernoulli function B(x) = x / (exp(x) - 1). F is the particle flux in +x;
the electric currents are J_n = -q F_n and J_p = +q F_p. The flux is exact for the
exponential profiles of a constant field and vanishes identically when the
quasi-Fermi level is flat (equilibrium), because B(-x) = exp(x) B(x).

Every flux is returned twice, divided by the density of its left and of its right node
("log-scaled"), because the continuity rows are divided by the local density: that
makes the Newton system independent of how small a density is (1e-30 cm^-3 minority
carriers neither underflow nor make the Jacobian singular).
"""

from __future__ import annotations

import jax.numpy as jnp

# exp() arguments are clamped here only to keep wild Newton iterates finite; converged
# states never come near it (a density ratio of e^700 between neighbouring nodes).
_EXP_CLAMP = 700.0


def safe_exp(x):
    """exp(x) with the argument clamped to +-700 (finite for any iterate)."""
    return jnp.exp(jnp.clip(x, -_EXP_CLAMP, _EXP_CLAMP))


def bernoulli(x):
    """B(x) = x / (exp(x) - 1), accurate and overflow-free for every real x.

    B(0) = 1; near 0 the Taylor series 1 - x/2 + x^2/12 - x^4/720 is used (|x| < 1e-3,
    where it is exact to round-off); for x > 0 the form x e^-x / (1 - e^-x) avoids
    overflow; for x < 0, x / expm1(x) -> -x. Both branches are evaluated on safe inputs
    so that gradients through jnp.where stay finite.
    """
    small = jnp.abs(x) < 1e-3
    xs = jnp.where(small, 1.0, x)
    pos = xs > 0
    xp = jnp.where(pos, xs, 1.0)
    xn = jnp.where(pos, -1.0, xs)
    b_pos = xp * jnp.exp(-xp) / (-jnp.expm1(-xp))
    b_neg = xn / jnp.expm1(xn)
    b_big = jnp.where(pos, b_pos, b_neg)
    x2 = x * x
    b_small = 1.0 - 0.5 * x + x2 / 12.0 - x2 * x2 / 720.0
    return jnp.where(small, b_small, b_big)


def expm1_clamped(x):
    """expm1(x) with the argument clamped to +-700 (finite for any iterate)."""
    return jnp.expm1(jnp.clip(x, -_EXP_CLAMP, _EXP_CLAMP))


def sg_electron_flux(d_coef, h, theta_l, theta_r, a_l, a_r, phi_l, phi_r):
    """Electron SG flux over an edge, divided by n_L and by n_R.

    ``d_coef`` scaled diffusivity, ``h`` scaled edge length, ``theta_*`` effective band
    potentials, ``a_* = ln(n/N0)`` and ``phi_*`` quasi-Fermi potentials at the two nodes.
    Returns (F/n_L, F/n_R, |terms|/n_L, |terms|/n_R), the last two being the magnitudes
    of the two SG terms that cancel in the flux (used to judge residuals).

    Written through the quasi-Fermi difference, F/n_L = -(D/h) B(-d) expm1(-dphi), which
    is algebraically the SG flux (n_R = n_L exp(d - dphi)) but never subtracts the two
    large drift and diffusion terms: a small current in a dense, well-conducting layer
    keeps its relative precision.
    """
    d = theta_r - theta_l
    g = d_coef / h
    dphi = phi_r - phi_l
    bm, bp = bernoulli(-d), bernoulli(d)
    r_over_l = safe_exp(a_r - a_l)
    l_over_r = safe_exp(a_l - a_r)
    over_l = -g * bm * expm1_clamped(-dphi)
    over_r = g * bp * expm1_clamped(dphi)
    mag_l = g * (bm + r_over_l * bp)
    mag_r = g * (l_over_r * bm + bp)
    return over_l, over_r, mag_l, mag_r


def sg_hole_flux(d_coef, h, theta_l, theta_r, a_l, a_r, phi_l, phi_r):
    """Hole SG flux over an edge (``a = ln(p/N0)``); same returns as the electron one.

    F/p_L = -(D/h) B(d) expm1(dphi) with dphi = phi_R - phi_L.
    """
    d = theta_r - theta_l
    g = d_coef / h
    dphi = phi_r - phi_l
    bm, bp = bernoulli(-d), bernoulli(d)
    r_over_l = safe_exp(a_r - a_l)
    l_over_r = safe_exp(a_l - a_r)
    over_l = -g * bp * expm1_clamped(dphi)
    over_r = g * bm * expm1_clamped(-dphi)
    mag_l = g * (bp + r_over_l * bm)
    mag_r = g * (l_over_r * bp + bm)
    return over_l, over_r, mag_l, mag_r
