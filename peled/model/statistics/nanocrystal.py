"""Nanocrystal-film statistics: the size-broadened confined levels of a film of cubes.

A film of cubic nanocrystals of edge L [m] at packing (volume) fraction phi [-] holds
phi / L^3 crystals per volume. In the effective-mass picture a carrier of mass m* in a
cube has the levels of a particle in a box (L. E. Brus, J. Chem. Phys. 80, 4403 (1984);
for CsPbX3 cubes, L. Protesescu et al., Nano Lett. 15, 3692 (2015))

    E_ijk = e1 (i^2 + j^2 + k^2),   e1 = hbar^2 pi^2 / (2 m* L^2),   i, j, k >= 1

each twice spin-degenerate. The ground level (1,1,1) is the film's transport level (the
electron affinity or ionization energy of the material, which include the confinement);
the level with i^2 + j^2 + k^2 = q lies (q - 3) e1 above it and has the orbital
degeneracy g_q of the permutations. A size dispersion sigma_L / L [-] (relative standard
deviation of the edge) moves each crystal's ground level by dE_111 = -2 (dL/L) 3 e1
(E ~ 1/L^2), a Gaussian of width

    sigma = 2 (sigma_L / L) 3 e1

which shifts the crystal's whole ladder: every level is a Gauss-Fermi term
(:mod:`.gauss_fermi`) of that width. (The spacings scale with L too, a second-order
spread that is neglected: broadening level q by 2 (sigma_L / L) q e1 instead would give
its Gaussian a low-energy tail far below the bulk band edge, which no crystal has.) With
the ground level's states N_c = 2 phi / L^3 [m^-3] as the layer's DOS,

    n / N_c = sum_q g_q G(eta - (q - 3) e1/kT, sigma/kT),   eta = (E_F - E_111)/kT

The occupancy per crystal is f = n L^3 / phi = 2 n / N_c. Strongly confined crystals
(e1 >> kT: small L, light carriers) fill the ground level first, two carriers per
crystal; weakly confined ones (L well above twice the exciton Bohr radius, e1 <~ kT)
have many levels within a few kT and the sum approaches the parabolic band of the film's
effective DOS, Fermi-Dirac F_1/2. The levels with i, j, k <= ``MAX_QUANTUM_NUMBER`` are
kept (:data:`LEVELS`, 11 distinct levels, 27 orbitals): up to q = 27, i.e. 24 e1 above the
ground, which is > 12 kT for L < 10.8 nm at m* = 0.25 m0 (e1 > kT/2); larger crystals
lose states above ~24 e1, which matters only at degenerate filling. The charging energy
of a crystal holding several carriers (q^2 / (4 pi eps0 eps_r L) ~ 0.01-0.03 eV for
10 nm) is not included.
"""

from __future__ import annotations

import itertools
from collections import Counter

import jax.numpy as jnp
from jax.scipy.special import logsumexp
from scipy import constants

from peled.model.statistics.gauss_fermi import gauss_fermi_log_occupancy

MAX_QUANTUM_NUMBER = 3


def _levels(max_n: int) -> tuple[tuple[int, int], ...]:
    """(q, g_q): distinct i^2 + j^2 + k^2 with 1 <= i, j, k <= max_n and their count."""
    counts = Counter(
        i * i + j * j + k * k for i, j, k in itertools.product(range(1, max_n + 1), repeat=3)
    )
    return tuple(sorted(counts.items()))


#: The confined levels kept: (q = i^2 + j^2 + k^2, orbital degeneracy g_q).
LEVELS = _levels(MAX_QUANTUM_NUMBER)

_HBAR2_PI2_OVER_2_ME = constants.hbar**2 * constants.pi**2 / (2.0 * constants.m_e)  # [J m^2]


def confinement_unit_eV(edge_m, effective_mass_ratio):
    """e1 = hbar^2 pi^2 / (2 m* L^2) [eV] for edge ``edge_m`` [m] and m*/m0 [-]."""
    return _HBAR2_PI2_OVER_2_ME / (effective_mass_ratio * edge_m**2) / constants.e


def ground_level_states_m3(edge_m, packing_fraction):
    """N_c = 2 phi / L^3 [m^-3]: two states (spin) of the ground level per crystal."""
    return 2.0 * packing_fraction / edge_m**3


def nanocrystal_log_occupancy(eta, e1_over_kT, size_dispersion):
    """ln(n / N_c) [-] of a nanocrystal film (module docstring).

    ``eta`` = (E_F - E_111)/kT [-], ``e1_over_kT`` = e1/kT [-], ``size_dispersion`` =
    sigma_L / L [-] (>= 0); all broadcast elementwise. The sum over levels is done in log
    space (logsumexp), so it stays finite for every eta.
    """
    eta, e1, disp = jnp.broadcast_arrays(
        jnp.asarray(eta, jnp.float64),
        jnp.asarray(e1_over_kT, jnp.float64),
        jnp.asarray(size_dispersion, jnp.float64),
    )
    shape = eta.shape
    eta, e1, disp = eta.reshape(1, -1), e1.reshape(1, -1), disp.reshape(1, -1)
    # one vectorised Gauss-Fermi evaluation over (level, entry): a single small program
    offsets = jnp.asarray([q - 3 for q, _ in LEVELS], jnp.float64)[:, None]
    log_g = jnp.log(jnp.asarray([g for _, g in LEVELS], jnp.float64))[:, None]
    shifted = eta - offsets * e1
    s = jnp.broadcast_to(6.0 * disp * e1, shifted.shape)
    return logsumexp(log_g + gauss_fermi_log_occupancy(shifted, s), axis=0).reshape(shape)


def carriers_per_crystal(density_m3, edge_m, packing_fraction):
    """f = n L^3 / phi [-]: the mean number of carriers per crystal at density n [m^-3]."""
    return density_m3 * edge_m**3 / packing_fraction
