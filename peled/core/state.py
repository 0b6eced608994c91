"""The state of a device at u: the scaled mesh geometry (:func:`geometry`), the contacts'
Dirichlet values, and the per-node densities, effective band potentials and
recombination coefficients (:func:`node_state`) through each layer's statistics
(:mod:`peled.model.statistics`). Units and scaling: :mod:`peled.core.residual`."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.levels import (  # noqa: F401  (image_lowering, image_gaps_m re-exported)
    band_log_dos,
    band_offsets,
    image_gaps_m,
    image_lowering,
    interface_gap_pieces,
    layer_states_m3,
)
from peled.core.params import DeviceArrays, node_positions_m
from peled.core.scaling import Scaling, scaling_for
from peled.model.fluxes.scharfetter_gummel import safe_exp
from peled.model.recombination.bulk import RecombinationOverNP, recombination_over_np
from peled.model.statistics import StatisticsParams, corrections, statistics_tables
from peled.model.statistics.nanocrystal import confinement_unit_eV


class Geometry(NamedTuple):
    """Scaled mesh geometry: node positions, edge lengths, cell volumes, interfaces."""

    x: jax.Array  # (N,) node positions / x0
    h: jax.Array  # (N-1,) edge lengths / x0
    vol: jax.Array  # (N,) cell widths / x0
    eps_edge: jax.Array  # (N-1,) effective relative permittivity of each edge
    is_interface: jax.Array  # (N-1,) bool: edge crosses a layer boundary
    interface_index: jax.Array  # (N-1,) int: which interface (0 where none)


class NodeState(NamedTuple):
    """Scaled per-node quantities derived from u."""

    psi: jax.Array
    phi_n: jax.Array
    phi_p: jax.Array
    theta_n: jax.Array  # effective electron band potential
    theta_p: jax.Array
    a_n: jax.Array  # ln(n / N0)
    a_p: jax.Array  # ln(p / N0)
    n: jax.Array
    p: jax.Array
    rec: RecombinationOverNP
    surface_over_np: jax.Array  # interface recombination per area / (n p), scaled


class ContactValues(NamedTuple):
    psi_anode: jax.Array
    psi_cathode: jax.Array
    phi_anode: jax.Array
    phi_cathode: jax.Array


def geometry(arrays: DeviceArrays, sc: Scaling) -> Geometry:
    """Scaled geometry of the mesh (traced through the layer thicknesses)."""
    x_m = node_positions_m(arrays)
    x = x_m / sc.length_m
    h = jnp.diff(x)
    lay = arrays.node_layer
    is_int = lay[1:] != lay[:-1]
    t = arrays.layers.thickness_m / sc.length_m
    bounds = jnp.concatenate([jnp.zeros((1,), t.dtype), jnp.cumsum(t)])
    # face between node i and i+1: the layer boundary on interface edges, else the midpoint
    face = jnp.where(is_int, bounds[lay[1:]], 0.5 * (x[1:] + x[:-1]))
    faces = jnp.concatenate([x[:1], face, x[-1:]])
    vol = jnp.diff(faces)
    eps = arrays.layers.relative_permittivity[lay]
    # series combination of the two dielectric pieces of an edge (exact for a step in eps)
    left_piece = (face - x[:-1]) / eps[:-1]
    right_piece = (x[1:] - face) / eps[1:]
    eps_edge = h / (left_piece + right_piece + interface_gap_pieces(arrays, sc, is_int))
    interface_index = jnp.clip(lay[:-1], 0, max(arrays.n_layers - 2, 0))
    return Geometry(x, h, vol, eps_edge, is_int, interface_index)


def contact_values(arrays: DeviceArrays, voltage_V, sc: Scaling) -> ContactValues:
    """Scaled Dirichlet values of psi and phi at both contacts at bias ``voltage_V``."""
    vt = sc.thermal_voltage_V
    c = arrays.contacts
    return ContactValues(
        psi_anode=(voltage_V - c.anode_work_function_eV) / vt,
        psi_cathode=-c.cathode_work_function_eV / vt,
        phi_anode=voltage_V / vt,
        phi_cathode=jnp.zeros_like(voltage_V / vt),
    )


def statistics_params(arrays: DeviceArrays, sc: Scaling, carrier: str) -> StatisticsParams:
    """The traced statistics numbers of ``carrier`` per layer (energies scaled by V_t)."""
    lp = arrays.layers
    electron = carrier == "electron"
    sigma = lp.electron_disorder_eV if electron else lp.hole_disorder_eV
    mass = lp.electron_effective_mass if electron else lp.hole_effective_mass
    e1 = confinement_unit_eV(lp.nanocrystal_size_m, mass)
    vt = sc.thermal_voltage_V
    return StatisticsParams(
        lp.statistics_gamma,
        sigma / vt,
        e1 / vt,
        lp.nanocrystal_size_dispersion,
        lp.nanocrystal_charging_energy_eV / vt,
    )


def filling_corrections(arrays: DeviceArrays, sc: Scaling, eta_n, eta_p, nodes):
    """(c_n(eta_n), c_p(eta_p)) [-] at the static node indices ``nodes``
    (peled.model.statistics): the one place where the layers' statistics terms enter the
    residual. The two carriers go together because a nanocrystal film's charging counts
    the crystals' net charge."""
    layer_of = np.asarray(nodes) // arrays.nodes_per_layer
    return corrections(
        eta_n,
        eta_p,
        layer_of,
        (arrays.statistics_tags("electron"), arrays.statistics_tags("hole")),
        (statistics_params(arrays, sc, "electron"), statistics_params(arrays, sc, "hole")),
        arrays.statistics_tables,
    )


def prepare_arrays(arrays: DeviceArrays) -> DeviceArrays:
    """``arrays`` with the tables of their Gauss-Fermi layers and nanocrystal films built
    (:func:`peled.model.statistics.statistics_tables`): the solver calls this once per
    sweep, so the tables are not rebuilt in every residual. Unprepared arrays give the same
    numbers (the residual builds the same tables itself)."""
    if not arrays.degenerate_statistics or arrays.statistics_tables is not None:
        return arrays
    sc = scaling_for(arrays.temperature_K)
    tags = (arrays.statistics_tags("electron"), arrays.statistics_tags("hole"))
    params = (statistics_params(arrays, sc, "electron"), statistics_params(arrays, sc, "hole"))
    return replace(arrays, statistics_tables=statistics_tables(tags, params))


def node_state(u: jax.Array, arrays: DeviceArrays, sc: Scaling) -> NodeState:
    """Densities, band potentials and recombination at every node (scaled)."""
    psi, phi_n, phi_p = u[:, 0], u[:, 1], u[:, 2]
    off_n, off_p, _ = band_offsets(arrays, sc)
    # Boltzmann band potentials, lowered (raised for holes) by the state-filling term
    # so that ln(n/N0) = theta_n - phi_n holds for any statistics (peled.core.statistics)
    theta_n = psi + off_n
    theta_p = psi + off_p
    if arrays.degenerate_statistics:
        ln_nc, ln_nv = band_log_dos(arrays, sc)
        every = np.arange(arrays.n_nodes)
        eta_n, eta_p = theta_n - phi_n - ln_nc, phi_p - theta_p - ln_nv
        c_n, c_p = filling_corrections(arrays, sc, eta_n, eta_p, every)
        theta_n = theta_n - c_n
        theta_p = theta_p + c_p
    a_n = theta_n - phi_n
    a_p = phi_p - theta_p
    n = safe_exp(a_n)
    p = safe_exp(a_p)
    rec = _bulk_recombination(n, p, phi_n, phi_p, arrays, sc)
    n1, p1 = _trap_densities(arrays, sc)
    # interface (surface) SRH at the nodes next to each interface, per area:
    # U = S (n p - ni^2) / (n + p + n1 + p1)  [m^-2 s^-1], S in m/s
    s_node = _interface_velocity_per_node(arrays) * sc.density_m3 / sc.flux_m2_s
    excess = -jnp.expm1(jnp.clip(phi_n - phi_p, -600.0, 600.0))
    surface = s_node * excess / (n + p + n1 + p1)
    return NodeState(psi, phi_n, phi_p, theta_n, theta_p, a_n, a_p, n, p, rec, surface)


def _trap_densities(arrays: DeviceArrays, sc: Scaling):
    """SRH trap densities n1 = ni exp(E_t/kT), p1 = ni exp(-E_t/kT) [N0] at every node."""
    _, _, ln_ni = band_offsets(arrays, sc)
    et = arrays.layers.trap_energy_eV[arrays.node_layer] / sc.thermal_voltage_V
    return safe_exp(ln_ni + et), safe_exp(ln_ni - et)


def _bulk_recombination(n, p, phi_n, phi_p, arrays: DeviceArrays, sc: Scaling):
    """R/(np) of every mechanism at the node densities ``n``, ``p`` [N0]."""
    lp = arrays.layers
    lay = arrays.node_layer
    r0, n0 = sc.rate_m3_s, sc.density_m3
    n1, p1 = _trap_densities(arrays, sc)
    return recombination_over_np(
        n,
        p,
        phi_n,
        phi_p,
        n1,
        p1,
        tau_n=lp.srh_lifetime_electron_s[lay] * r0 / n0,
        tau_p=lp.srh_lifetime_hole_s[lay] * r0 / n0,
        b_rad=lp.radiative_coefficient_m3_s[lay] * n0**2 / r0,
        c_n=lp.auger_coefficient_electron_m6_s[lay] * n0**3 / r0,
        c_p=lp.auger_coefficient_hole_m6_s[lay] * n0**3 / r0,
    )


def _interface_velocity_per_node(arrays: DeviceArrays) -> jax.Array:
    """Interface recombination velocity [m/s] seen by each node (0 away from interfaces)."""
    lay = arrays.node_layer
    s = arrays.interfaces.recombination_velocity_m_s
    n_int = s.shape[-1]
    if n_int == 0:
        return jnp.zeros(lay.shape, dtype=jnp.float64)
    left_of = jnp.concatenate([lay[1:] != lay[:-1], jnp.zeros((1,), bool)])
    right_of = jnp.concatenate([jnp.zeros((1,), bool), lay[1:] != lay[:-1]])
    idx_left = jnp.clip(lay, 0, n_int - 1)
    idx_right = jnp.clip(lay - 1, 0, n_int - 1)
    return jnp.where(left_of, s[idx_left], 0.0) + jnp.where(right_of, s[idx_right], 0.0)
