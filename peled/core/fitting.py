"""Exponentially fitted recombination in the cells that carriers enter through a boundary.

When a minority carrier enters a region full of majority carriers (holes crossing into
an emitter where electrons pile up against the hole-transport layer), it recombines
within its reaction length

    lambda = sqrt(D / k),   k = R / p  [1/s]   (holes; electrons: k = R / n),

which on the default device at 3 V is ~0.5 pm (Auger at n ~ 1e21 cm^-3, D_p = 1.3e-10
m^2/s), far below any usable mesh spacing. The box method with lumped recombination
(R_i times the cell width w_i) then sets the sink of the node that receives the
minority flux to k p_i w_i instead of D p_i / lambda, too strong by w_i / lambda, and J
and the recombination integrals change at every refinement
(docs/numerics/discretisation.md, "Boundary cells"; docs/decisions/0006).

Thermionic emission (and a contact) hands carriers to the first node of a layer with no
resistance in between, so that node's density stands for the density on the boundary
itself. In its cell, of width w from the boundary to the face with the next node, the
linear problem D p'' = k p with p(0) = p_i and no flux through the far face (the sink
takes everything when w >> lambda) integrates exactly to

    integral_0^w k p dx = k p_i w tanh(w / lambda) / (w / lambda),

which is the lumped k p_i w when w << lambda (the reaction length resolved: nothing
changes on fine meshes) and the one-sided decay D p_i / lambda when w >> lambda. So such
a node's recombination is weighted by the fitted width w tanh(z)/z, z = w / lambda.
Interior cells keep the lumped width.

Both carriers use the same fitted width, so electron-hole pairs are conserved and
J_n + J_p stays constant; it comes from the sum of the two reaction rates, of which the
minority carrier's (the larger) sets it. The fit is exact in both limits; where the
first spacings are comparable to lambda it is not, and J and R_rad on the default device
are off by up to ~3 % and ~20 % there (docs/numerics/accuracy.md, "The transition
regime").

All inputs are scaled (:mod:`peled.core.scaling`): lengths in x0, D in mu0 V_t (so that
D_hat = mu_hat), rates in R0, densities in N0; k / D is then in 1 / x0^2.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def tanh_ratio(z2: jax.Array) -> jax.Array:
    """tanh(z) / z as a function of z^2 >= 0 (smooth at 0, where it is 1 - z^2/3)."""
    small = z2 < 1e-6
    zs = jnp.sqrt(jnp.where(small, 1.0, z2))
    return jnp.where(small, 1.0 - z2 / 3.0, jnp.tanh(zs) / zs)


def sinh_ratio(c2: jax.Array) -> jax.Array:
    """c / sinh(c) as a function of c^2 >= 0: 1 - c^2/6 near 0, 2 c e^-c / (1 - e^-2c)
    elsewhere (no overflow, finite gradient for any c)."""
    small = c2 < 1e-6
    c = jnp.sqrt(jnp.where(small, 1.0, c2))
    return jnp.where(small, 1.0 - c2 / 6.0, 2.0 * c * jnp.exp(-c) / -jnp.expm1(-2.0 * c))


def reaction_over_diffusivity(rec_over_np, n, p, mu_n, mu_p) -> tuple[jax.Array, jax.Array]:
    """(k_n / D_n, k_p / D_p) per node [1 / x0^2]; their sum is 1 / lambda^2.

    k_p = R / p = (R / np) n and k_n = (R / np) p; ``rec_over_np`` is R / (n p), ``mu_n``,
    ``mu_p`` the scaled mobilities (= diffusivities). Net generation (R < 0) is not
    fitted (k = 0).
    """
    r = jnp.maximum(rec_over_np, 0.0)
    return r * p / mu_n, r * n / mu_p


def fitted_width(inv_lambda2, vol) -> jax.Array:
    """The fitted width w tanh(w / lambda) / (w / lambda) [x0] of cells of width ``vol``
    [x0] with 1 / lambda^2 = ``inv_lambda2`` [1/x0^2]: ``vol`` when lambda is resolved,
    lambda when it is not."""
    return vol * tanh_ratio(vol * vol * inv_lambda2)
