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
lose states above ~24 e1, which matters only at degenerate filling. A crystal that holds
carriers raises its levels by U = e^2/C per carrier (:func:`charging_energy_eV`), solved
self-consistently per node in :func:`nanocrystal_log_occupancy`.
"""

from __future__ import annotations

import itertools
from collections import Counter

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from scipy import constants

from peled.model.statistics.gauss_fermi import gauss_fermi_log_occupancy

MAX_QUANTUM_NUMBER = 3
#: The charged occupancy's safeguarded Newton: relative step that stops it, and its cap.
#: Measured: 6 steps over eta in [-60, 15] at u = 0.7; <= 20 over eta in [-80, 60], u <= 15
#: and sharp ladders. Each step at least halves the bracket every second step, so 100 steps
#: shrink even a 54 u = 1000 wide bracket below 1e-12.
CHARGING_TOLERANCE = 1e-13
CHARGING_MAX_STEPS = 100
#: Capacitance of a cube of unit edge, in units of 4 pi eps0 [m/m] (F. H. Read (1997)).
CUBE_CAPACITANCE = 0.66068


def _levels(max_n: int) -> tuple[tuple[int, int], ...]:
    """(q, g_q): distinct i^2 + j^2 + k^2 with 1 <= i, j, k <= max_n and their count."""
    counts = Counter(
        i * i + j * j + k * k for i, j, k in itertools.product(range(1, max_n + 1), repeat=3)
    )
    return tuple(sorted(counts.items()))


#: The confined levels kept: (q = i^2 + j^2 + k^2, orbital degeneracy g_q).
LEVELS = _levels(MAX_QUANTUM_NUMBER)
#: The orbitals kept, sum_q g_q: the most n/N_c can be.
ORBITALS = float(sum(g for _, g in LEVELS))

_HBAR2_PI2_OVER_2_ME = constants.hbar**2 * constants.pi**2 / (2.0 * constants.m_e)  # [J m^2]


def confinement_unit_eV(edge_m, effective_mass_ratio):
    """e1 = hbar^2 pi^2 / (2 m* L^2) [eV] for edge ``edge_m`` [m] and m*/m0 [-]."""
    return _HBAR2_PI2_OVER_2_ME / (effective_mass_ratio * edge_m**2) / constants.e


def ground_level_states_m3(edge_m, packing_fraction):
    """N_c = 2 phi / L^3 [m^-3]: two states (spin) of the ground level per crystal."""
    return 2.0 * packing_fraction / edge_m**3


def _free_log_occupancy(eta, e1, disp):
    """ln(n / N_c) [-] of the uncharged ladder: the sum over levels of Gauss-Fermi terms."""
    shape = eta.shape
    eta, e1, disp = eta.reshape(1, -1), e1.reshape(1, -1), disp.reshape(1, -1)
    # one vectorised Gauss-Fermi evaluation over (level, entry): a single small program
    offsets = jnp.asarray([q - 3 for q, _ in LEVELS], jnp.float64)[:, None]
    log_g = jnp.log(jnp.asarray([g for _, g in LEVELS], jnp.float64))[:, None]
    shifted = eta - offsets * e1
    s = jnp.broadcast_to(6.0 * disp * e1, shifted.shape)
    return logsumexp(log_g + gauss_fermi_log_occupancy(shifted, s), axis=0).reshape(shape)


def nanocrystal_log_occupancy(eta, e1_over_kT, size_dispersion, charging_over_kT=0.0):
    """ln(n / N_c) [-] of a nanocrystal film (module docstring), charging included.

    ``eta`` = (E_F - E_111)/kT [-], ``e1_over_kT`` = e1/kT [-], ``size_dispersion`` =
    sigma_L / L [-] (>= 0), ``charging_over_kT`` = u = U/kT [-] (>= 0), the rise of a
    crystal's levels per carrier it holds; all broadcast elementwise. The sum over levels
    is done in log space (logsumexp), so it stays finite for every eta.

    With charging the ladder sees the effective level y = eta - u f, f = 2 n/N_c the
    carriers per crystal, so y solves k(y) = y + 2u exp(S(y)) - eta = 0 (S the uncharged
    log occupancy). k is increasing (k' >= 1), so the root is unique and bracketed by
    eta - 2u ORBITALS <= y <= eta (n/N_c cannot exceed the kept orbitals). It is found
    by Newton's method safeguarded by bisection (W. H. Press et al., Numerical Recipes,
    3rd ed., section 9.4, rtsafe: a step that leaves the bracket or does not halve the
    previous one bisects instead), which also converges on a ladder of sharp,
    well-separated levels where k has kinks and plain Newton cycles. The loop is rolled
    (one copy of the ladder in the compiled program) and stops when every step is below
    ``CHARGING_TOLERANCE`` (1 + |y|), at most ``CHARGING_MAX_STEPS``. The root's
    derivatives follow from the implicit function theorem through one final Newton step
    in x = ln(n/N_c), x = S(eta - 2u e^x), whose slope is held fixed:
    dx/dtheta = -(dg/dtheta)/(dg/dx), exact to first order (the order the solver's
    Jacobian and the implicit gradients use).
    """
    eta, e1, disp, u = jnp.broadcast_arrays(
        jnp.asarray(eta, jnp.float64),
        jnp.asarray(e1_over_kT, jnp.float64),
        jnp.asarray(size_dispersion, jnp.float64),
        jnp.asarray(charging_over_kT, jnp.float64),
    )
    free = jax.lax.stop_gradient
    eta_c, e1_c, disp_c, u_c = free(eta), free(e1), free(disp), free(u)

    def slope(y):
        return jax.jvp(lambda t: _free_log_occupancy(t, e1_c, disp_c), (y,), (jnp.ones_like(y),))

    # n/N_c <= sum_q g_q = ORBITALS, so the root lies in [eta - 2u ORBITALS, eta]
    hi = eta_c
    lo = eta_c - 2.0 * u_c * ORBITALS

    def settled(y, dy):
        return jnp.abs(dy) <= CHARGING_TOLERANCE * (1.0 + jnp.abs(y))

    def unconverged(carry):
        step, y, _, _, _, dy, _, _ = carry
        return (step < CHARGING_MAX_STEPS) & jnp.any(~settled(y, dy))

    def rtsafe_step(carry):
        step, y, lo, hi, dy_old, dy, s_old, d_old = carry
        # entries already converged keep their state: another step would bisect on
        # round-off (|2k| > |dy k'| once dy is ~1e-15)
        done = settled(y, dy)
        s_val, s_der = slope(y)
        filled = 2.0 * u_c * jnp.exp(s_val)
        k = y + filled - eta_c
        k_der = 1.0 + filled * s_der
        hi = jnp.where(k >= 0.0, y, hi)
        lo = jnp.where(k <= 0.0, y, lo)
        newton = y - k / k_der
        bisect = (newton < lo) | (newton > hi) | (jnp.abs(2.0 * k) > jnp.abs(dy * k_der))
        y_new = jnp.where(bisect, 0.5 * (lo + hi), newton)
        keep = lambda old, new: jnp.where(done, old, new)  # noqa: E731
        return (
            step + 1,
            keep(y, y_new),
            lo,
            hi,
            keep(dy_old, dy),
            keep(dy, y_new - y),
            keep(s_old, s_val),
            keep(d_old, s_der),
        )

    # the last evaluated point (within the tolerance of the root) supplies x and the
    # slope, so the compiled program holds the ladder twice: in the loop and below
    zero = jnp.zeros_like(eta_c)
    start = (0, hi, lo, hi, hi - lo, hi - lo + 1.0, zero, zero)
    _, _, _, _, _, _, x, s_der = jax.lax.while_loop(unconverged, rtsafe_step, start)
    shift_c = 2.0 * u_c * jnp.exp(x)
    residual = x - _free_log_occupancy(eta - 2.0 * u * jnp.exp(x), e1, disp)
    return x - residual / free(1.0 + shift_c * s_der)


def charging_energy_eV(edge_m, relative_permittivity):
    """U = e^2 / C [eV]: the rise of a crystal's levels per carrier it holds.

    C = 4 pi eps0 eps_r c L is the self-capacitance of a cube of edge L [m] in a medium
    of relative permittivity eps_r [-], c = 0.66068 (the capacitance of the unit cube in
    units of 4 pi eps0 times its edge: F. H. Read, J. Comput. Phys. 133, 1 (1997)). A
    crystal holding N carriers has the electrostatic energy N^2 e^2/(2C) (the constant-
    interaction model, C. W. J. Beenakker, Phys. Rev. B 44, 1646 (1991)); the (N+1)-th
    carrier pays e^2/(2C) + N e^2/C, the first term being the self-polarisation already in
    the measured levels, so each carrier present raises the levels by U = e^2/C. In a
    dense array the neighbours' polarisation raises the charging energy above this by a
    factor alpha = 1.59-1.95 for touching crystals (K. V. Reich and B. I. Shklovskii,
    Appl. Phys. Lett. 108, 113104 (2016)); ligand-separated crystals lie nearer alpha = 1.
    """
    capacitance = 4.0 * constants.pi * constants.epsilon_0 * relative_permittivity
    capacitance = capacitance * CUBE_CAPACITANCE * edge_m
    return constants.e / capacitance


def carriers_per_crystal(density_m3, edge_m, packing_fraction):
    """f = n L^3 / phi [-]: the mean number of carriers per crystal at density n [m^-3]."""
    return density_m3 * edge_m**3 / packing_fraction
