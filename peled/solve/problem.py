"""What the solver needs to know about a problem (:class:`Problem`).

The unknowns are an (N, k) array: N mesh nodes and k named columns (:class:`Layout`).
The first column is the electrostatic potential psi, the others are quasi-Fermi
potentials, all in thermal voltages; the solver damps psi updates as a whole and clips
the quasi-Fermi potentials to the contacts' interval (maximum principle). A further
unknown (a lattice temperature, an ion density) adds a column and, where it needs its own
damping, a rule here; Newton and the coloured Jacobian do not change.

The physics enters only through the functions of :class:`Problem`, all pure JAX on an
opaque parameter pytree ``params`` (the device's arrays):

* ``residual_and_scale(u, params, voltage_V) -> (F, M)``: the scaled residual (N, k) and
  the magnitude of the terms that cancel in each row (N, k);
* ``physical_quantities(u, params) -> PhysicalQuantities``: space charge per cell, edge
  particle fluxes of electrons and holes, recombination per cell and the largest
  cancelling flux term per edge, for the rules that accept a state the residual cannot
  resolve further;
* ``edge_currents(u, params) -> (F_n, F_p, G)``: the edge particle fluxes and the summed
  conductance per edge (current continuity);
* ``densities(u, params) -> (n, p)``: carrier densities per node [density unit];
* ``initial_state(params) -> u``: the starting state of the equilibrium solve;
* ``thermal_voltage_V(params)`` [V] and ``density_unit_m3(params)`` [m^-3]: the scales
  that turn a bias and an absolute density tolerance into the problem's units;
* ``prepare(params) -> params`` (default: unchanged): called once at the start of a
  sweep, for what depends on the parameters alone and would otherwise be recomputed in
  every residual (the device's tabulated nanocrystal ladders). It must not change any
  result, and applied to its own output it must return it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax


@dataclass(frozen=True)
class Layout:
    """Names of the k unknowns per node; column 0 is the electrostatic potential, the
    others are quasi-Fermi potentials [V_t]."""

    names: tuple[str, ...] = ("psi", "phi_n", "phi_p")

    @property
    def k(self) -> int:
        return len(self.names)

    def column(self, name: str) -> int:
        return self.names.index(name)


class PhysicalQuantities(NamedTuple):
    """Scaled physical quantities of a state: space charge per cell (N,), electron and
    hole particle fluxes per edge (N-1,), recombination per cell (N,) and the largest
    cancelling flux term per edge (N-1,)."""

    charge: jax.Array
    electron_flux: jax.Array
    hole_flux: jax.Array
    recombination: jax.Array
    flux_magnitude: jax.Array


def _unchanged(params):
    return params


@dataclass(frozen=True)
class Problem:
    """A problem F(u; params, V) = 0 as the solver sees it (module docstring). Hashable
    (functions by identity): it is a static argument of the compiled sweep."""

    residual_and_scale: Callable[[jax.Array, Any, Any], tuple[jax.Array, jax.Array]]
    physical_quantities: Callable[[jax.Array, Any], PhysicalQuantities]
    edge_currents: Callable[[jax.Array, Any], tuple[jax.Array, jax.Array, jax.Array]]
    densities: Callable[[jax.Array, Any], tuple[jax.Array, jax.Array]]
    initial_state: Callable[[Any], jax.Array]
    thermal_voltage_V: Callable[[Any], Any]
    density_unit_m3: Callable[[Any], Any]
    layout: Layout = Layout()
    prepare: Callable[[Any], Any] = _unchanged
