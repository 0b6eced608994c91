"""Bulk recombination: Shockley-Read-Hall, radiative (bimolecular) and Auger.

    R_SRH   = (n p - ni^2) / ( tau_p (n + n1) + tau_n (p + p1) )
              n1 = ni exp(E_t / kT), p1 = ni exp(-E_t / kT), E_t from midgap
              (W. Shockley and W. T. Read, Phys. Rev. 87, 835 (1952); R. N. Hall,
              Phys. Rev. 87, 387 (1952))
    R_rad   = B (n p - ni^2)
    R_Auger = (C_n n + C_p p) (n p - ni^2)

with n p - ni^2 = n p (1 - exp(phi_n - phi_p)) written through the quasi-Fermi
potentials so that it is exact near equilibrium (expm1) and never the difference of two
huge numbers. Units: densities m^-3, tau s, B m^3/s, C m^6/s, rates m^-3 s^-1; the
functions below work in the core's scaled units.

Each mechanism is returned as R / (n p), so that the continuity rows (divided by n or
by p) get R/n = p (R/np) and R/p = n (R/np) without dividing by a density that may
underflow.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp


class RecombinationOverNP(NamedTuple):
    """Each mechanism's R / (n p), scaled (R in R0, densities in N0)."""

    srh: object
    radiative: object
    auger: object

    @property
    def total(self):
        return self.srh + self.radiative + self.auger


def recombination_over_np(
    n, p, phi_n, phi_p, n1, p1, tau_n, tau_p, b_rad, c_n, c_p
) -> RecombinationOverNP:
    """R/(np) for SRH, radiative and Auger recombination (scaled, see module doc)."""
    # 1 - ni^2/(np); clamped so that a wild reverse-bias iterate stays finite
    excess = -jnp.expm1(jnp.clip(phi_n - phi_p, -600.0, 600.0))
    srh = excess / (tau_p * (n + n1) + tau_n * (p + p1))
    rad = b_rad * excess
    aug = (c_n * n + c_p * p) * excess
    return RecombinationOverNP(srh=srh, radiative=rad, auger=aug)
