"""Carrier statistics: how many band states a quasi-Fermi level fills.

With the reduced quasi-Fermi level eta_n = (E_Fn - E_c)/kT (eta_p = (E_v - E_Fp)/kT for
holes), peled uses the one-parameter family

    n = N_c F_gamma(eta_n),   F_gamma(eta) = 1 / (exp(-eta) + gamma)        [m^-3]

* gamma = 0: Boltzmann, n = N_c exp(eta) (physics.md sec. 2; the default of every
  material);
* gamma = 0.27: Blakemore's approximation to the Fermi-Dirac integral of order 1/2 of a
  parabolic band (J. S. Blakemore, Solid-State Electron. 25, 1067 (1982)), good to a few
  percent up to eta ~ 1.3;
* gamma = 1: Fermi-Dirac occupancy of a single level with N_c sites, the
  zero-width limit of Gauss-Fermi statistics: a nanocrystal film's band-edge states
  (two per nanocrystal for the spin-degenerate 1S level), or a narrow transport level.
  The density saturates at N_c.

For any gamma > 0 the density saturates at N_c / gamma. This is what keeps injected
charge sheets at heterointerfaces physical: with Boltzmann statistics the accumulated
density at a blocking interface of the default device reaches ~400 N_c at 3 V, in a
sheet far thinner than a lattice constant (docs/model.md, "Unknowns and statistics").

The solver keeps its Boltzmann-form unknowns (psi, phi_n, phi_p) and writes any
statistics through an *effective band potential* (the Sedan-type treatment, e.g. P.
Farrell, T. Koprucki and J. Fuhrmann, J. Comput. Phys. 346, 497 (2017)):

    ln(n/N0) = theta_n - phi_n,   theta_n = theta_n^B - ln(1 + gamma exp(eta_n))

with theta_n^B the Boltzmann effective band potential (psi + chi/V_t + ln(N_c/N0)). The
Scharfetter-Gummel and thermionic fluxes then use theta_n in place of theta_n^B. They
still vanish identically for a flat quasi-Fermi level, and in the continuum limit they
reduce to F = mu n grad(phi_n), which contains the generalized Einstein relation
D/mu = (kT/q) F(eta)/F'(eta) exactly (no separate diffusion-enhancement factor).
Recombination is written as n p (1 - exp(phi_n - phi_p)) and so still vanishes at
equilibrium for any statistics.
"""

from __future__ import annotations

import jax.numpy as jnp

# Named statistics a material may choose, and their gamma [-].
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
