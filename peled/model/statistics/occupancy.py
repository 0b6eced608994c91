"""The one-parameter occupancy family: Boltzmann, Blakemore and single-level statistics.

With the reduced quasi-Fermi level eta = (E_Fn - E_c)/kT [-] (eta_p = (E_v - E_Fp)/kT for
holes) and N_c [m^-3] the states of the band or level,

    n = N_c F_gamma(eta),   F_gamma(eta) = 1 / (exp(-eta) + gamma)        [m^-3]

* gamma = 0: Boltzmann, n = N_c exp(eta) (the low-density limit of every statistics);
* gamma = 0.27: Blakemore's approximation to the Fermi-Dirac integral of order 1/2 of a
  parabolic band (J. S. Blakemore, Solid-State Electron. 25, 1067 (1982)), good to a few
  percent up to eta ~ 1.3;
* gamma = 1: Fermi-Dirac occupancy of a single level with N_c sites, the zero-width
  limit of Gauss-Fermi statistics (:mod:`peled.model.statistics.gauss_fermi`). The
  density saturates at N_c.

For any gamma > 0 the density saturates at N_c / gamma. gamma is a traced number, so the
three choices share one compiled program.
"""

from __future__ import annotations

import jax.numpy as jnp

# Named members of the family a material may choose, and their gamma [-].
STATISTICS_GAMMA = {"boltzmann": 0.0, "blakemore": 0.27, "single_level": 1.0}


def filling_correction(eta, gamma):
    """ln(1 + gamma exp(eta)) [-], the drop of ln n below its Boltzmann value.

    ``eta`` is the reduced quasi-Fermi level (E_F - E_band)/kT [-] and ``gamma`` [-] >= 0
    (0 gives exactly 0). Written as softplus(eta + ln gamma) = logaddexp(0, .), which is
    finite and smooth for every eta; for gamma = 0 the argument is made safe so that the
    gradient through ``jnp.where`` stays finite.
    """
    degenerate = gamma > 0.0
    ln_gamma = jnp.log(jnp.where(degenerate, gamma, 1.0))
    return jnp.where(degenerate, jnp.logaddexp(0.0, eta + ln_gamma), 0.0)


def log_density(a_boltzmann, ln_dos, gamma):
    """ln(n/N0) [-] for the Boltzmann value ``a_boltzmann`` = ln(N_c/N0) + eta.

    ``ln_dos`` = ln(N_c/N0) [-] of the band; ``gamma`` [-] as in the module docstring.
    Returns a_boltzmann - ln(1 + gamma exp(eta)) = ln(N_c F_gamma(eta) / N0).
    """
    return a_boltzmann - filling_correction(a_boltzmann - ln_dos, gamma)
