"""Heterointerface transfer: thermionic emission over the step of the effective band
potentials.

Across an abrupt interface between node L (last of one layer) and node R (first of the
next), with the effective band step Delta = theta_n,L - theta_n,R (electron barrier from
L to R when positive; the effective band potentials carry each side's statistics,
:mod:`peled.model.statistics`),

    F_n = v_n [ n_L exp(-max(Delta, 0)) - n_R exp(-max(-Delta, 0)) ]

and the same for holes with Delta_p = theta_p,R - theta_p,L (K. Horio and H. Yanai,
IEEE Trans. Electron Devices 37, 1093 (1990)). It vanishes in equilibrium, where
n_R = n_L exp(-Delta) for any statistics on either side (detailed balance), and reduces to
Richardson's law over a barrier. v [x0 F0/N0]: the transfer velocity, by default the
Richardson velocity sqrt(kT / (2 pi m*)).

Like the bulk fluxes (:mod:`peled.model.fluxes.scharfetter_gummel`) the flux is returned
divided by the density of its left and of its right node.
"""

from __future__ import annotations

import jax.numpy as jnp

from peled.model.fluxes.scharfetter_gummel import expm1_clamped, safe_exp


def thermionic_flux(velocity, barrier_l_to_r, a_l, a_r, dphi_drive):
    """Thermionic-emission flux L -> R over an abrupt band step, divided by each density.

    ``barrier_l_to_r`` is the step in the carrier's effective band energy from L to R in
    units of kT (positive = uphill from L); ``dphi_drive`` is the quasi-Fermi difference
    that drives carriers from L to R (phi_R - phi_L for electrons, phi_L - phi_R for
    holes): F/dens_L = v exp(-max(barrier, 0)) (1 - exp(-dphi_drive)). Returns the same
    four arrays as the SG functions.
    """
    e_l = safe_exp(-jnp.maximum(barrier_l_to_r, 0.0))
    e_r = safe_exp(-jnp.maximum(-barrier_l_to_r, 0.0))
    r_over_l = safe_exp(a_r - a_l)
    l_over_r = safe_exp(a_l - a_r)
    over_l = -velocity * e_l * expm1_clamped(-dphi_drive)
    over_r = velocity * e_r * expm1_clamped(dphi_drive)
    mag_l = velocity * (e_l + r_over_l * e_r)
    mag_r = velocity * (l_over_r * e_l + e_r)
    return over_l, over_r, mag_l, mag_r
