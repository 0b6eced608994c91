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
net charge shifts its levels by U = e^2/C per unit of it (:func:`charging_energy_eV`):
electrons raise the electron levels and lower the hole levels, solved self-consistently
per node for both carriers in :func:`nanocrystal_pair_log_occupancy` (for one carrier
alone in :func:`nanocrystal_log_occupancy`).
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from scipy import constants

from peled.model.statistics.gauss_fermi import gauss_fermi_log_occupancy
from peled.model.statistics.ladder_table import interpolate

MAX_QUANTUM_NUMBER = 3
#: The charged occupancy's safeguarded Newton: relative step that stops it, and its cap.
#: Measured: 6 steps over eta in [-60, 15] at u = 0.7; <= 20 over eta in [-80, 60], u <= 15
#: and sharp ladders. Each step at least halves the bracket every second step, so 100 steps
#: shrink even a 54 u = 1000 wide bracket below 1e-12. The loop need not reach round-off:
#: the implicit step after it is one more Newton step, so a root within 1e-10 gives
#: occupancies exact to round-off (measured: ln n within 1.4e-14 of a 1e-13 stop, on the
#: default device's emitter states and 8000 random Fermi levels) and their derivatives to
#: 5e-10; the default device's loop takes 4.6 instead of 5.2 steps per call (warm sweep
#: 28 s instead of 35 s, docs/numerics/performance.md).
CHARGING_TOLERANCE = 1e-10
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


def free_log_occupancy(eta, e1, disp):
    """ln(n / N_c) [-] of the uncharged ladder: the sum over levels of Gauss-Fermi terms."""
    shape = eta.shape
    eta, e1, disp = eta.reshape(1, -1), e1.reshape(1, -1), disp.reshape(1, -1)
    # one vectorised Gauss-Fermi evaluation over (level, entry): a single small program
    offsets = jnp.asarray([q - 3 for q, _ in LEVELS], jnp.float64)[:, None]
    log_g = jnp.log(jnp.asarray([g for _, g in LEVELS], jnp.float64))[:, None]
    shifted = eta - offsets * e1
    s = jnp.broadcast_to(6.0 * disp * e1, shifted.shape)
    return logsumexp(log_g + gauss_fermi_log_occupancy(shifted, s), axis=0).reshape(shape)


def nanocrystal_log_occupancy(eta, e1_over_kT, size_dispersion, charging_over_kT=0.0, ladders=None):
    """ln(n / N_c) [-] of a nanocrystal film holding one kind of carrier, charging included.

    ``eta`` = (E_F - E_111)/kT [-], ``e1_over_kT`` = e1/kT [-], ``size_dispersion`` =
    sigma_L / L [-] (>= 0), ``charging_over_kT`` = u = U/kT [-] (>= 0), the rise of a
    crystal's levels per carrier it holds; all broadcast elementwise. The sum over levels
    is done in log space (logsumexp), so it stays finite for every eta.

    This is :func:`nanocrystal_pair_log_occupancy` without carriers of the other sign:
    the ladder sees eta - s, s = u f, f = 2 n/N_c the carriers per crystal. ``ladders``:
    as there (one table and its rows).
    """
    (x,) = _charged_log_occupancies(
        ((eta, e1_over_kT, 1.0),), size_dispersion, charging_over_kT, ladders
    )
    return x


def nanocrystal_pair_log_occupancy(
    eta_n, eta_p, e1_n_over_kT, e1_p_over_kT, size_dispersion, charging_over_kT, ladders=None
):
    """(ln(n / N_c), ln(p / N_v)) [-] of a film whose crystals hold electrons and holes.

    ``eta_n`` = (E_Fn - E_c,111)/kT and ``eta_p`` = (E_v,111 - E_Fp)/kT [-] are the two
    reduced quasi-Fermi levels, ``e1_n_over_kT``/``e1_p_over_kT`` the confinement units of
    the two carriers [-], the size dispersion and u = U/kT [-] shared (one crystal, one
    capacitance); all broadcast elementwise.

    Charging counts the crystal's net charge (the constant-interaction model, C. W. J.
    Beenakker, Phys. Rev. B 44, 1646 (1991)): a crystal holding f_n electrons and f_p
    holes has the electrostatic energy U (f_p - f_n)^2 / 2, so the next electron pays
    U (f_n - f_p) above the measured level and the next hole U (f_p - f_n). In the mean
    field the electron ladder sees eta_n - s and the hole ladder eta_p + s, with the
    shared charging shift

        s = u (f_n - f_p),   f_n = 2 exp(S_n(eta_n - s)),   f_p = 2 exp(S_p(eta_p + s))

    (S the uncharged log occupancy of each ladder): a film charged with electrons draws
    holes in by as much as it pushes further electrons out, and a crystal holding an
    electron and a hole (an exciton) is neutral. With no holes (eta_p -> -inf) this is
    the like-charge limit of :func:`nanocrystal_log_occupancy`.

    ``ladders``: None, or per carrier a pair (:class:`~.ladder_table.LadderTable`, row):
    the cubic Hermite table of that carrier's uncharged ladder and the table row of each
    entry (broadcast against eta), which then stands for the quadrature; the film's
    numbers enter only through the tables (and ``charging_over_kT``). The device
    residual passes its tables: the ladder is evaluated in every step of the charging
    solve, and a table costs a lookup where the quadrature costs 11 Gauss-Fermi
    integrals.
    """
    return _charged_log_occupancies(
        ((eta_n, e1_n_over_kT, 1.0), (eta_p, e1_p_over_kT, -1.0)),
        size_dispersion,
        charging_over_kT,
        ladders,
    )


def _charged_log_occupancies(sides, size_dispersion, charging_over_kT, ladders=None):
    """ln(n/N_c) per side for ``sides`` = ((eta, e1/kT, sign), ...), sign +1 for electrons
    and -1 for holes, sharing one crystal's charging u = U/kT.

    The shift s [-] solves h(s) = s - 2u sum_i sign_i exp(S_i(eta_i - sign_i s)) = 0. h is
    increasing (h' >= 1), so the root is unique, and it lies in
    [-2u ORBITALS, 2u ORBITALS] (no side holds more than the kept orbitals), narrowed to
    [0, .] or [., 0] when only one sign is present. It is found by Newton's method
    safeguarded by bisection (W. H. Press et al., Numerical Recipes, 3rd ed., section 9.4,
    rtsafe: a step that leaves the bracket or does not halve the previous one bisects
    instead), which also converges on a ladder of sharp, well-separated levels where h has
    kinks and plain Newton cycles. The loop is rolled (one copy of each ladder in the
    compiled program) and stops when every step is below ``CHARGING_TOLERANCE``
    (1 + |s| + max |eta_i|), at most ``CHARGING_MAX_STEPS``. The root's derivatives follow
    from the implicit function theorem through one final Newton step whose slope h'(s) is
    held fixed: ds/dtheta = -(dh/dtheta)/h', exact to first order (the order the solver's
    Jacobian and the implicit gradients use). ``ladders`` (per side a table and its rows,
    or None for the quadrature) replaces the uncharged ladders in the loop and in
    the implicit step.
    """
    disp = jnp.asarray(size_dispersion, jnp.float64)
    u = jnp.asarray(charging_over_kT, jnp.float64)
    arrays = jnp.broadcast_arrays(
        disp, u, *(jnp.asarray(a, jnp.float64) for eta, e1, _ in sides for a in (eta, e1))
    )
    disp, u = arrays[0], arrays[1]
    etas, e1s = arrays[2::2], arrays[3::2]
    signs = [float(sign) for _, _, sign in sides]
    free = jax.lax.stop_gradient
    disp_c, u_c = free(disp), free(u)
    etas_c, e1s_c = [free(e) for e in etas], [free(e) for e in e1s]

    sign_col = jnp.asarray(signs, jnp.float64).reshape(-1, *([1] * u.ndim))
    # the sides stacked on a leading axis, so that one copy of the ladder serves them all
    e1_c = jnp.stack(e1s_c)
    disp_stack_c = jnp.broadcast_to(disp_c, e1_c.shape)

    def stacked_ladders(t, e1_stack, disp_stack, tables):
        """Each side's ladder S(t) and its slope at t (sides, ...)."""
        if tables is None:
            return jax.jvp(
                lambda t: free_log_occupancy(t, e1_stack, disp_stack), (t,), (jnp.ones_like(t),)
            )
        pairs = [
            jax.jvp(
                lambda x, tab=tab, row=row: interpolate(tab, x, row),
                (t[i],),
                (jnp.ones_like(t[i]),),
            )
            for i, (tab, row) in enumerate(tables)
        ]
        return jnp.stack([v for v, _ in pairs]), jnp.stack([d for _, d in pairs])

    free_tables = (
        None if ladders is None else [(jax.tree.map(free, tab), row) for tab, row in ladders]
    )

    def ladder_sum(s):
        """h(s) and h'(s) with each side's value and slope at s (no parameter gradients)."""
        val, der = stacked_ladders(
            jnp.stack(etas_c) - sign_col * s[None], e1_c, disp_stack_c, free_tables
        )
        filled = 2.0 * u_c[None] * jnp.exp(val)
        return s - jnp.sum(sign_col * filled, axis=0), 1.0 + jnp.sum(filled * der, axis=0)

    zero = jnp.zeros_like(u_c)
    hi = 2.0 * u_c * ORBITALS if 1.0 in signs else zero
    lo = -2.0 * u_c * ORBITALS if -1.0 in signs else zero
    scale = 1.0 + functools.reduce(jnp.maximum, [jnp.abs(e) for e in etas_c])

    def settled(s, ds):
        return jnp.abs(ds) <= CHARGING_TOLERANCE * (scale + jnp.abs(s))

    def unconverged(carry):
        step, s, _, _, _, ds, _ = carry
        return (step < CHARGING_MAX_STEPS) & jnp.any(~settled(s, ds))

    def rtsafe_step(carry):
        step, s, lo, hi, ds_old, ds, h_der_old = carry
        # entries already converged keep their state: another step would bisect on
        # round-off (|2h| > |ds h'| once ds is ~1e-15)
        done = settled(s, ds)
        h, h_der = ladder_sum(s)
        hi = jnp.where(h >= 0.0, s, hi)
        lo = jnp.where(h <= 0.0, s, lo)
        newton = s - h / h_der
        bisect = (newton < lo) | (newton > hi) | (jnp.abs(2.0 * h) > jnp.abs(ds * h_der))
        s_new = jnp.where(bisect, 0.5 * (lo + hi), newton)
        keep = lambda old, new: jnp.where(done, old, new)  # noqa: E731
        return (
            step + 1,
            keep(s, s_new),
            lo,
            hi,
            keep(ds_old, ds),
            keep(ds, s_new - s),
            keep(h_der_old, h_der),
        )

    width = hi - lo
    start = (0, zero, lo, hi, width, width + 1.0, jnp.ones_like(u_c))
    _, s, _, _, _, _, h_der = jax.lax.while_loop(unconverged, rtsafe_step, start)
    # the implicit step, traced in every input: h(s; eta, e1, disp, u) at the converged s,
    # each ladder evaluated once with its slope, which is held fixed like h'
    s = free(s)
    e1_stack = jnp.stack(e1s)
    val, der = stacked_ladders(
        jnp.stack(etas) - sign_col * s[None],
        e1_stack,
        jnp.broadcast_to(disp, e1_stack.shape),
        ladders,
    )
    der = free(der)
    h = s - 2.0 * u * jnp.sum(sign_col * jnp.exp(val), axis=0)
    ds = -h / free(h_der)
    return tuple(val - sign_col * der * ds[None])


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
