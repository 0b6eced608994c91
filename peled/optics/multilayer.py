"""Plane-wave reflection and transmission of a planar multilayer (pure JAX).

A plane wave of vacuum wavenumber k0 [1/nm] and in-plane wavevector k_x = k0 beta
(beta [-] the in-plane effective index, conserved through the stack) meets a stack of
layers j = 1..m of relative permittivity eps_j = (n_j + i k_j)^2 [-] and thickness d_j
[nm], between the incidence medium (eps_0) and a semi-infinite outer medium (eps_out).
In each medium the normal wavevector is

    q_j = k_z,j / k0 = sqrt(eps_j - beta^2),  Im q_j >= 0                         [-]

(the time dependence is exp(-i omega t), so Im q >= 0 is the wave that decays away from
its source). Interface Fresnel coefficients, TE (s) for the electric field and TM (p)
for the magnetic field (so a perfect conductor reflects r_s = -1, r_p = +1; this sign
convention is pinned by tests/test_optics.py):

    r_s = (q_1 - q_2) / (q_1 + q_2),                 t_s = 2 q_1 / (q_1 + q_2)
    r_p = (eps_2 q_1 - eps_1 q_2) / (eps_2 q_1 + eps_1 q_2),
    t_p = 2 eps_2 q_1 / (eps_2 q_1 + eps_1 q_2)

The stack's coefficients follow from the outermost interface inward by the Airy
recursion (O. S. Heavens, *Optical Properties of Thin Solid Films*, 1955; M. Born and
E. Wolf, *Principles of Optics*, sec. 1.6):

    R_j = (r_j,j+1 + R_j+1 P^2) / (1 + r_j,j+1 R_j+1 P^2)
    T_j = t_j,j+1 T_j+1 P / (1 + r_j,j+1 R_j+1 P^2),     P = exp(i k0 q_j+1 d_j+1)

Only decaying phase factors |P| <= 1 appear, so the recursion stays finite for thick
metals and for in-plane wavevectors far beyond the light line (where a transfer-matrix
product overflows). The same functions take complex beta on a deformed integration
contour (:mod:`peled.optics.dipole`): on a path below the real axis eps - beta^2 has a
positive imaginary part, the principal square root already has Im q > 0 and the
coefficients are analytic along it.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp

Array = jnp.ndarray


def normal_index(eps: Array, beta2: Array) -> Array:
    """q = sqrt(eps - beta^2) [-] on the branch Im q >= 0 (the decaying wave)."""
    q = jnp.sqrt(eps - beta2 + 0j)
    return jnp.where(jnp.imag(q) < 0, -q, q)


def fresnel(eps1: Array, eps2: Array, q1: Array, q2: Array, pol: str) -> tuple[Array, Array]:
    """Amplitude reflection and transmission (r, t) [-] of one interface, from medium 1
    into medium 2; ``pol`` "s" (TE, electric field) or "p" (TM, magnetic field)."""
    if pol == "s":
        den = q1 + q2
        return (q1 - q2) / den, 2.0 * q1 / den
    den = eps2 * q1 + eps1 * q2
    return (eps2 * q1 - eps1 * q2) / den, 2.0 * eps2 * q1 / den


def stack_coefficients(
    eps_in: Array,
    eps_layers: Sequence[Array],
    thickness_nm: Sequence[Array],
    eps_out: Array,
    beta2: Array,
    k0_per_nm: Array,
    pol: str,
) -> tuple[Array, Array]:
    """Amplitude (r, t) [-] of a stack seen from the incidence medium.

    ``eps_layers`` and ``thickness_nm`` list the finite layers from the incidence side
    outward (may be empty); all arguments broadcast against each other. r is referred to
    the first interface, t to the last (the transmitted wave's amplitude just inside the
    outer medium per unit incident amplitude just before the first interface).
    """
    eps = [eps_in, *eps_layers, eps_out]
    q = [normal_index(e, beta2) for e in eps]
    m = len(eps) - 1  # number of interfaces
    r_tot, t_tot = fresnel(eps[m - 1], eps[m], q[m - 1], q[m], pol)
    for j in range(m - 2, -1, -1):
        # layer j+1 lies between interfaces j and j+1
        p = jnp.exp(1j * k0_per_nm * q[j + 1] * thickness_nm[j])
        r_j, t_j = fresnel(eps[j], eps[j + 1], q[j], q[j + 1], pol)
        den = 1.0 + r_j * r_tot * p * p
        t_tot = t_j * t_tot * p / den
        r_tot = (r_j + r_tot * p * p) / den
    return r_tot, t_tot


def power_transmittance(
    t: Array, eps_in: Array, eps_out: Array, beta2: Array, pol: str
) -> Array:
    """Transmitted over incident normal power flux [-] for an amplitude t from a lossless
    incidence medium: Re(q_out)/Re(q_in) |t|^2 (TE), Re(q_out/eps_out)/Re(q_in/eps_in) |t|^2
    (TM, magnetic-field amplitudes). Zero for an evanescent outer wave."""
    q_in = normal_index(eps_in, beta2)
    q_out = normal_index(eps_out, beta2)
    if pol == "s":
        ratio = jnp.real(q_out) / jnp.real(q_in)
    else:
        ratio = jnp.real(q_out / eps_out) / jnp.real(q_in / eps_in)
    return ratio * jnp.abs(t) ** 2
