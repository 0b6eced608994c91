"""The excitonic nanocrystal emitter: capture, exciton decay and per-crystal Auger.

Electrons and holes that meet in the emitter film are captured into excitons at the
encounter-limited (Langevin) rate

    R_cap = gamma_L n p (1 - exp(phi_n - phi_p)),   gamma_L = q (mu_n + mu_p) / (eps0 eps_r)

(P. Langevin, Ann. Chim. Phys. 28, 433 (1903); the rate at which carriers that hop
between crystals meet, as in organic and nanocrystal LEDs); the material's
``radiative_coefficient_cm3_s`` of an emitter is this gamma_L. Every captured pair is an
exciton: it leaves the carrier balance (the continuity equations see R_cap) and decays
in its crystal radiatively at k_r = 1/tau_r, non-radiatively at k_nr = k_r (1 - PLQY) /
PLQY (the film's photoluminescence quantum yield counts the non-radiative loss once), or
by Auger recombination with a further carrier or exciton in the same crystal:

    eta_X = k_r / (k_X + f_c / tau_T + f_X / tau_XX),   k_X = k_r + k_nr = k_r / PLQY

with f_c = (n + p) V / phi the mean number of uncaptured carriers per crystal, f_X =
R_cap tau_X V / phi the mean number of other excitons per crystal (tau_X = 1/k_X), tau_T
the trion and tau_XX the biexciton Auger lifetimes. The photon yield per captured pair is
eta_X = PLQY * S, with the Auger survival

    S(f_c, f_X) = k_X / (k_X + f_c / tau_T + f_X / tau_XX)             [-]

Limits: at low occupancy S -> 1 and each captured pair yields PLQY photons, so the
internal quantum efficiency is PLQY times the fraction of the current captured in the
emitter (charge balance). Auger takes half of the excitons (S = 1/2) at
f_c = tau_T / tau_X carriers per crystal (without excitons), or f_X = tau_XX / tau_X.

Auger lifetimes scale with the crystal volume: tau(L) = tau(L_ref) (L / L_ref)^3, linear
in volume under strong confinement (J. A. Castaneda et al., ACS Nano 10, 8603 (2016);
sublinear once L exceeds the Bohr diameter, where this overestimates the lifetime
growth). Poisson statistics of the occupancy of each crystal (the probability that a
crystal with an exciton holds another carrier) is replaced by its mean, which is exact to
first order in f.
"""

from __future__ import annotations

import jax.numpy as jnp


def langevin_coefficient_m3_s(mu_n_m2_Vs, mu_p_m2_Vs, relative_permittivity):
    """gamma_L = q (mu_n + mu_p) / (eps0 eps_r) [m^3/s]."""
    from scipy import constants

    return constants.e * (mu_n_m2_Vs + mu_p_m2_Vs) / (constants.epsilon_0 * relative_permittivity)


def volume_scaled_lifetime_s(lifetime_ref_s, edge_m, reference_edge_m):
    """tau(L) = tau(L_ref) (L / L_ref)^3 [s] (module docstring)."""
    return lifetime_ref_s * (edge_m / reference_edge_m) ** 3


def auger_survival(carriers_per_crystal, excitons_per_crystal, exciton_lifetime_s,
                   trion_lifetime_s, biexciton_lifetime_s):
    """S = k_X / (k_X + f_c / tau_T + f_X / tau_XX) [-], the share of excitons that decay
    as a single exciton would (module docstring). ``carriers_per_crystal`` f_c [-],
    ``excitons_per_crystal`` f_X [-], lifetimes [s] (inf: no such Auger channel)."""
    k_x = 1.0 / exciton_lifetime_s
    loss = carriers_per_crystal / trion_lifetime_s + excitons_per_crystal / biexciton_lifetime_s
    return k_x / (k_x + loss)


def half_quenching_occupancy(exciton_lifetime_s, trion_lifetime_s):
    """f_c at which trion Auger takes half of the excitons: tau_T / tau_X [-]."""
    return jnp.asarray(trion_lifetime_s) / exciton_lifetime_s
