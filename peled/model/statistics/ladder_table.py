"""Statistics terms as cubic Hermite tables: a device's Gauss-Fermi layers and
nanocrystal ladders.

A device evaluates its layers' statistics in every residual, at every node: the
Gauss-Fermi term ln G(t, sigma/kT) of an organic layer (a 23-node quadrature,
:mod:`.gauss_fermi`), and the uncharged ladder S(t) = ln sum_q g_q G(t - (q - 3) e1/kT,
sigma/kT) of a nanocrystal film (:mod:`.nanocrystal`; 11 quadratures), the latter in each
of the ~9 steps of the film's charging solve. Both depend on the layer only through
numbers that are the same at all its nodes (sigma/kT; e1/kT and sigma_L/L), so each is
tabulated once per layer and carrier on a uniform grid of t [-] and interpolated by the
cubic Hermite polynomial through the values and slopes at the two neighbouring nodes
(the slopes are the exact dS/dt of the quadrature, from one forward-mode derivative):

    S(t) ~ h00(tau) S_j + h10(tau) h S'_j + h01(tau) S_{j+1} + h11(tau) h S'_{j+1},
    tau = (t - t_j)/h,  h00 = (1 + 2 tau)(1 - tau)^2, h10 = tau (1 - tau)^2,
    h01 = tau^2 (3 - 2 tau), h11 = tau^2 (tau - 1).

Its error is at most h^4 max|S''''| / 384 (e.g. C. de Boor, A Practical Guide to
Splines, Springer 1978, ch. IV); the interpolant is C^1, so the Newton iteration and the
solver's Jacobian see a continuous slope. The grid spans

    t_lo = -m,   t_hi = t_top + m,   m = s^2 + 9 s + TAIL

(s = sigma/kT, the width of every level; t_top the highest level above the ground one,
(q_max - 3) e1/kT for a ladder and 0 for Gauss-Fermi): below t_lo every level is in its
Boltzmann tail, S(t) = t + const, to a relative exp(-TAIL) (the Gaussian's weight above
the Fermi level, ~exp(-(|t|/s - s)^2/2), is as small), and the table continues linearly
with its end slope; above t_hi every level is full as closely and S is constant (ln of
the orbitals; 0 for Gauss-Fermi), continued with its end slope (~exp(-TAIL)). The grid
is a sampling choice (any grid that covers the levels gives the same term to the table's
accuracy), so it is held fixed under differentiation: the derivatives of a table with
respect to the layer's numbers (sigma, crystal size, dispersion) are the Hermite
interpolant of the exact derivatives at the nodes, as accurate as the values.
(Differentiating the grid's motion too would add the interpolation error's slope times
d t_lo/d theta, up to ~1e-4 for strongly confined films.)

Measured against the quadratures (tests/test_ladder_table.py): ln G within 8.4e-10 for
sigma/kT in [0, 12]; the ladder within 1e-8 for e1/kT <= 2.5 (the database's films) and
4e-7 at e1/kT = 12 (3 nm crystals).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

#: Grid points per table. With the default CsPbBr3 film (e1/kT ~ 1, s ~ 0.6) the span is
#: ~100 and the spacing 0.05; with 4 nm crystals (e1/kT ~ 6) ~ 0.15.
TABLE_POINTS = 2048
#: Depth [kT] of the Boltzmann tail and of the full-ladder plateau beyond the grid ...
TAIL = 40.0
#: ... plus this many level widths s: the Gaussian's share above the Fermi level decays
#: as exp(-(|t|/s - s)^2 / 2), which is below exp(-40) only for |t| > s^2 + 9 s.
TAIL_WIDTHS = 9.0


class LadderTable(NamedTuple):
    """A tabulated ladder S(t) [-]: first node ``start`` [-], spacing ``step`` [-], and the
    values and slopes at the nodes (..., TABLE_POINTS)."""

    start: jax.Array
    step: jax.Array
    value: jax.Array
    slope: jax.Array


def build_ladder_table(ladder, top_offset, width, points: int = TABLE_POINTS) -> LadderTable:
    """Tabulate ``ladder(t)`` [-] (elementwise in t, its parameters broadcast against the
    trailing grid axis) on the grid of the module docstring.

    ``top_offset`` [-]: t_top, the highest level above the ground one ((q_max - 3) e1/kT
    for a nanocrystal ladder, 0 for Gauss-Fermi);
    ``width`` [-]: s = sigma/kT of the levels; both of shape (...,), one table each.
    """
    # the grid is held fixed under differentiation (module docstring)
    top_offset = jax.lax.stop_gradient(jnp.asarray(top_offset, jnp.float64))
    width = jax.lax.stop_gradient(jnp.asarray(width, jnp.float64))
    margin = width * width + TAIL_WIDTHS * width + TAIL
    start = -margin
    stop = top_offset + margin
    step = (stop - start) / (points - 1)
    nodes = jnp.arange(points, dtype=jnp.float64).reshape((1,) * start.ndim + (points,))
    grid = start[..., None] + step[..., None] * nodes
    value, slope = jax.jvp(ladder, (grid,), (jnp.ones_like(grid),))
    return LadderTable(start, step, value, slope)


def interpolate(table: LadderTable, t, row=0):
    """S(t) [-] from ``table``, C^1 in t. ``row`` (int, broadcast against t) picks the
    table of each entry where ``table`` holds several (values of shape (R, points));
    the lookups are flat gathers, so no (entries, points) array is formed."""
    points = table.value.shape[-1]
    value = table.value.reshape(-1)
    slope = table.slope.reshape(-1)
    start = table.start.reshape(-1)[row]
    step = table.step.reshape(-1)[row]
    x = (t - start) / step
    # the cell index is piecewise constant: no derivative passes through it
    j = jnp.clip(jnp.floor(jax.lax.stop_gradient(x)), 0, points - 2).astype(jnp.int32)
    inside = (x >= 0.0) & (x <= points - 1)
    # outside the grid the polynomial is not used; a bounded tau keeps it finite there
    tau = jnp.where(inside, x - j, 0.5)
    base = jnp.asarray(row, jnp.int32) * points + j
    v0, v1 = value[base], value[base + 1]
    d0, d1 = slope[base] * step, slope[base + 1] * step
    hermite = (
        (1.0 + 2.0 * tau) * (1.0 - tau) ** 2 * v0
        + tau * (1.0 - tau) ** 2 * d0
        + tau * tau * (3.0 - 2.0 * tau) * v1
        + tau * tau * (tau - 1.0) * d1
    )
    # beyond the grid: linear with the end slope (Boltzmann tail below, plateau above)
    first = jnp.asarray(row, jnp.int32) * points
    last = first + points - 1
    below = value[first] + slope[first] * (t - start)
    above = value[last] + slope[last] * (t - start - step * (points - 1))
    return jnp.where(inside, hermite, jnp.where(x < 0.0, below, above))
