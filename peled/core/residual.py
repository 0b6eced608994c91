"""The discretized van Roosbroeck system F(u; device, V) = 0.

Unknowns per node (scaled by V_t): u[:, 0] = psi (electrostatic potential, vacuum
level E_vac = -q psi), u[:, 1] = phi_n, u[:, 2] = phi_p (quasi-Fermi potentials,
E_Fn = -q phi_n). Band edges E_c = -chi - q psi, E_v = E_c - E_g. Densities follow each
layer's statistics through the effective band potentials (peled.model.statistics):

    ln(n/N0) = theta_n - phi_n,   ln(p/N0) = phi_p - theta_p,

which for Boltzmann statistics is n = N_c exp((E_Fn - E_c)/kT), p = N_v exp((E_v - E_Fp)/kT).

Finite volumes on the node mesh: node i owns the cell between its faces; a face is the
midpoint between two nodes, except on an interface edge where it is the layer
boundary itself. Rows:

* Poisson (cell i):  sum over faces of eps eps0 dpsi/dx + q vol_i (p - n + N_D - N_A) = 0
* electrons:  F_n(i+1/2) - F_n(i-1/2) + w_i R_i + U_i = 0, divided by n_i
* holes:      F_p(i+1/2) - F_p(i-1/2) + w_i R_i + U_i = 0, divided by p_i
  (U_i: interface recombination per area at nodes next to an interface; w_i: the cell
  width vol_i, exponentially fitted to the reaction length sqrt(D/k) in the cells that
  carriers enter through an interface or a contact, :mod:`peled.core.fitting`)

Contacts (physics.md sec. 3), Schottky-Mott alignment with the cathode's Fermi level as
the energy zero and the anode's lowered by qV (forward bias V > 0):

    psi(0) = V - W_a,  psi(L) = -W_c   (vacuum level meets the metal's),
    phi(0) = V,        phi(L) = 0      (or a surface-recombination Robin condition).

The equilibrium contact densities n = N_c exp(-(W - chi)/kT), p = N_v exp(-(chi + E_g -
W)/kT) follow: the injection barriers are W - chi and chi + E_g - W, and the built-in
potential W_a - W_c is not an input.

The residual rows are scaled so that Newton sees O(1) entries; :func:`residual` also
returns the magnitude of the largest terms that cancel in each row, so that
convergence is judged on a relative residual.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.fitting import (
    fitted_width,
    reaction_over_diffusivity,
    sinh_ratio,
    tanh_ratio,
)
from peled.core.levels import (  # noqa: F401  (image_lowering, image_gaps_m re-exported)
    band_log_dos,
    band_offsets,
    image_gaps_m,
    image_lowering,
    interface_gap_pieces,
    layer_states_m3,
)
from peled.core.params import DeviceArrays, node_positions_m
from peled.core.scaling import ME_KG, Q_C, Scaling, scaling_for
from peled.model.contacts.image_force import site_spacing_m
from peled.model.fluxes.scharfetter_gummel import safe_exp, sg_electron_flux, sg_hole_flux
from peled.model.interfaces.thermionic import thermionic_flux
from peled.model.mobility import edge_mobility
from peled.model.recombination.bulk import RecombinationOverNP, recombination_over_np
from peled.model.statistics import StatisticsParams, corrections
from peled.model.statistics.nanocrystal import confinement_unit_eV
from peled.model.tags import evaluate_by_tag


class Geometry(NamedTuple):
    """Scaled mesh geometry: node positions, edge lengths, cell volumes, interfaces."""

    x: jax.Array  # (N,) node positions / x0
    h: jax.Array  # (N-1,) edge lengths / x0
    vol: jax.Array  # (N,) cell widths / x0
    eps_edge: jax.Array  # (N-1,) effective relative permittivity of each edge
    is_interface: jax.Array  # (N-1,) bool: edge crosses a layer boundary
    interface_index: jax.Array  # (N-1,) int: which interface (0 where none)
    boundary: BoundaryCells  # the cells that carriers enter through a boundary


class BoundaryCells(NamedTuple):
    """The cells next to a contact or a heterointerface (2 per layer, M = 2K of them).

    Their indices are static: every layer has the same number of nodes m, so layer k's
    first node is k m and its last k m + m - 1. The first node of a layer is fed through
    the boundary on its left (the anode or an interface), the last through the one on
    its right.
    """

    nodes: np.ndarray  # (M,) static node indices: first nodes of layers 0..K-1, then last
    inner_edge: np.ndarray  # (M,) static: the node's edge into its own layer
    across: np.ndarray  # (M,) static: the node on the other side of the boundary (itself
    # at a contact)
    share: jax.Array  # (M,) the share of the interface edge's potential drop between the
    # node and the boundary (series dielectric); 0 at a contact
    distance: jax.Array  # (M,) node to boundary [x0]; 0 at a contact (the node is on it)


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
    return Geometry(
        x,
        h,
        vol,
        eps_edge,
        is_int,
        interface_index,
        _boundary_cells(arrays.n_nodes, arrays.n_layers, left_piece, right_piece, face, x),
    )


def _boundary_cells(n_nodes: int, n_layers: int, left_piece, right_piece, face, x):
    """:class:`BoundaryCells` from the static mesh shape and the interface edges' pieces
    (distance / eps on each side of the boundary, (N-1,) each)."""
    if n_nodes % n_layers:
        raise ValueError(f"{n_nodes} nodes do not split into {n_layers} equal layers")
    m = n_nodes // n_layers
    first = np.arange(n_layers) * m
    last = first + m - 1
    nodes = np.concatenate([first, last])
    inner = np.concatenate([first, last - 1])
    # across the boundary: the previous layer's last node, the next layer's first node
    across = np.concatenate([np.maximum(first - 1, 0), np.minimum(last + 1, n_nodes - 1)])
    # the interface edge of each boundary cell (clipped for the contacts, masked below)
    edge = np.concatenate([np.maximum(first - 1, 0), np.minimum(last, n_nodes - 2)])
    contact = np.zeros(2 * n_layers, bool)
    contact[0] = contact[-1] = True
    total = left_piece[edge] + right_piece[edge]
    own = np.concatenate([np.ones(n_layers, bool), np.zeros(n_layers, bool)])  # right side
    share = jnp.where(own, right_piece[edge], left_piece[edge]) / total
    distance = jnp.where(own, x[nodes] - face[edge], face[edge] - x[nodes])
    return BoundaryCells(
        nodes,
        inner,
        across,
        jnp.where(contact, 0.0, share),
        jnp.where(contact, 0.0, distance),
    )


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
    )


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


def _trap_densities(arrays: DeviceArrays, sc: Scaling, idx=slice(None)):
    """SRH trap densities n1 = ni exp(E_t/kT), p1 = ni exp(-E_t/kT) [N0] at nodes idx."""
    _, _, ln_ni = band_offsets(arrays, sc)
    et = arrays.layers.trap_energy_eV[arrays.node_layer[idx]] / sc.thermal_voltage_V
    return safe_exp(ln_ni[idx] + et), safe_exp(ln_ni[idx] - et)


def _bulk_recombination(n, p, phi_n, phi_p, arrays: DeviceArrays, sc: Scaling, idx=slice(None)):
    """R/(np) of every mechanism at densities ``n``, ``p`` [N0] of nodes ``idx``."""
    lp = arrays.layers
    lay = arrays.node_layer[idx]
    r0, n0 = sc.rate_m3_s, sc.density_m3
    n1, p1 = _trap_densities(arrays, sc, idx)
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


class EdgeFluxes(NamedTuple):
    """Scaled particle fluxes on every edge, divided by the left/right node density."""

    n_over_l: jax.Array
    n_over_r: jax.Array
    n_mag_l: jax.Array
    n_mag_r: jax.Array
    p_over_l: jax.Array
    p_over_r: jax.Array
    p_mag_l: jax.Array
    p_mag_r: jax.Array


def edge_mobilities(st: NodeState, arrays: DeviceArrays, geo: Geometry, sc: Scaling, carrier):
    """Scaled mobility of ``carrier`` on every edge (N-1,), by each layer's mobility model
    (peled.model.mobility): from the edge field, the two node occupancies and T.

    The occupancy of an edge is the geometric mean of its nodes' n/N (N the layer's
    states: the site density of a Gaussian layer), the mean that the exponential profile
    of the Scharfetter-Gummel edge has at its centre for a density that varies by
    decades across it. The edge depends on its two nodes only, so the Jacobian stays
    block-tridiagonal. Interface edges carry the left layer's value, which thermionic
    emission does not use.
    """
    lp = arrays.layers
    lay = arrays.node_layer
    electron = carrier == "electron"
    mu0 = lp.electron_mobility_m2_Vs if electron else lp.hole_mobility_m2_Vs
    models = arrays.mobility_models(carrier)
    if all(m == "constant" for m in models):
        return mu0[lay[:-1]] / sc.mobility_m2_Vs
    vt = sc.thermal_voltage_V
    dos = layer_states_m3(arrays)[0 if electron else 1]
    sigma = lp.electron_disorder_eV if electron else lp.hole_disorder_eV
    gamma = lp.electron_poole_frenkel_gamma if electron else lp.hole_poole_frenkel_gamma
    a = st.a_n if electron else st.a_p
    ln_dos = jnp.log(dos / sc.density_m3)
    edge_layer = np.arange(arrays.n_nodes - 1) // arrays.nodes_per_layer
    edge_layer = np.minimum(edge_layer, arrays.n_layers - 1)
    field = -jnp.diff(st.psi) / geo.h * (vt / sc.length_m)  # [V/m]
    occupancy = jnp.exp(0.5 * (a[:-1] + a[1:]) - ln_dos[edge_layer])
    k = edge_layer
    mu = evaluate_by_tag(
        [models[int(j)] for j in edge_layer],
        lambda model, *a: edge_mobility(model, *a, arrays.temperature_K),
        mu0[k],
        field,
        occupancy,
        sigma[k] / vt,
        site_spacing_m(dos[k]),
        gamma[k],
    )
    return mu / sc.mobility_m2_Vs


def edge_fluxes(
    st: NodeState,
    arrays: DeviceArrays,
    geo: Geometry,
    sc: Scaling,
    cell: CellRecombination | None = None,
) -> EdgeFluxes:
    """SG fluxes inside layers (the first edge behind a boundary exponentially fitted,
    :func:`fitted_edge_factors`), thermionic emission on interface edges. ``cell``: the
    cells' recombination if already computed (:func:`cell_recombination`)."""
    mu_n = edge_mobilities(st, arrays, geo, sc, "electron")
    mu_p = edge_mobilities(st, arrays, geo, sc, "hole")
    sl, sr = slice(None, -1), slice(1, None)
    sgn = sg_electron_flux(
        mu_n,
        geo.h,
        st.theta_n[sl],
        st.theta_n[sr],
        st.a_n[sl],
        st.a_n[sr],
        st.phi_n[sl],
        st.phi_n[sr],
    )
    sgp = sg_hole_flux(
        mu_p,
        geo.h,
        st.theta_p[sl],
        st.theta_p[sr],
        st.a_p[sl],
        st.a_p[sr],
        st.phi_p[sl],
        st.phi_p[sr],
    )
    if cell is None:
        cell = cell_recombination(st, arrays, geo, sc)
    fit_n, fit_p = fitted_edge_factors(cell, geo)
    sgn = tuple(fit_n * f for f in sgn)
    sgp = tuple(fit_p * f for f in sgp)
    if arrays.n_layers > 1:
        v_scale = sc.density_m3 / sc.flux_m2_s
        idx = geo.interface_index
        v_n = arrays.interfaces.electron_velocity_m_s[idx] * v_scale
        v_p = arrays.interfaces.hole_velocity_m_s[idx] * v_scale
        ten = thermionic_flux(
            v_n,
            st.theta_n[sl] - st.theta_n[sr],
            st.a_n[sl],
            st.a_n[sr],
            st.phi_n[sr] - st.phi_n[sl],
        )
        tep = thermionic_flux(
            v_p,
            st.theta_p[sr] - st.theta_p[sl],
            st.a_p[sl],
            st.a_p[sr],
            st.phi_p[sl] - st.phi_p[sr],
        )
        sgn = tuple(jnp.where(geo.is_interface, t, s) for t, s in zip(ten, sgn, strict=True))
        sgp = tuple(jnp.where(geo.is_interface, t, s) for t, s in zip(tep, sgp, strict=True))
    return EdgeFluxes(*sgn, *sgp)


def _assemble(on_l, on_r):
    """Row i gets +flux(i->i+1)/dens_i and -flux(i-1->i)/dens_i."""
    z = jnp.zeros((1,), on_l.dtype)
    return jnp.concatenate([on_l, z]) - jnp.concatenate([z, on_r])


def _assemble_mag(mag_l, mag_r):
    z = jnp.zeros((1,), mag_l.dtype)
    return jnp.concatenate([mag_l, z]) + jnp.concatenate([z, mag_r])


class CellRecombination(NamedTuple):
    """Recombination of each node's cell (scaled; :func:`cell_recombination`)."""

    width: jax.Array  # (N,) w_i [x0]: the rate of node i times w_i is its cell's total
    rec: RecombinationOverNP  # each mechanism's rate / (n_i p_i), node densities n_i, p_i
    # k / D [1/x0^2] of electrons (k_n = R / n) and holes (k_p = R / p) at the boundary
    # cells' nodes (M,), ordered as Geometry.boundary.nodes: the node's own densities and
    # rates (no carry), so that the edge factors built from them stay local
    inv_length2_electron: jax.Array
    inv_length2_hole: jax.Array


def cell_recombination(
    st: NodeState, arrays: DeviceArrays, geo: Geometry, sc: Scaling
) -> CellRecombination:
    """Each cell's recombination: rates per mechanism and the widths that weight them.

    Interior cells: the node's rates times the cell width (the box method). The cells
    that carriers enter through a heterointerface or a contact (:mod:`peled.core.fitting`,
    docs/numerics/discretisation.md "Boundary cells"):

    * the width is exponentially fitted to the reaction length lambda, 1/lambda^2 =
      k_p/D_p + k_n/D_n: w tanh(z)/z, z = w/lambda;
    * next to a heterointerface the rates are evaluated with the majority carrier carried
      from the node to the layer boundary, where a minority carrier with lambda shorter
      than the cell recombines: n_b = n_i exp(w_n s), p_b = p_i exp(-w_p s), s = (1 -
      tanh(z)/z) (psi_b - psi_i), with psi_b the potential on the boundary (linear on
      each side of the interface edge, displacement continuous) and the weights w_n =
      n mu_n / (n mu_n + p mu_p), w_p = 1 - w_n. The majority (by conductivity) follows
      the potential across the half-edge with a flat quasi-Fermi level; the minority's
      node value already stands for its boundary value. Resolved (z -> 0) nothing
      changes; recombination stays proportional to 1 - exp(phi_n - phi_p), so it
      vanishes at equilibrium.

    Only the M = 2K boundary cells (static indices) are evaluated twice.
    """
    lp = arrays.layers
    lay = arrays.node_layer
    bc = geo.boundary
    idx = bc.nodes
    mu_n = lp.electron_mobility_m2_Vs[lay[idx]] / sc.mobility_m2_Vs
    mu_p = lp.hole_mobility_m2_Vs[lay[idx]] / sc.mobility_m2_Vs
    vol = geo.vol[idx]
    a_n, a_p = st.a_n[idx], st.a_p[idx]
    phi_n, phi_p = st.phi_n[idx], st.phi_p[idx]
    rec_i = RecombinationOverNP(*(r[idx] for r in st.rec))
    # the node's own k/D (no carry): they set the blend below and the edge factors
    edge_electron, edge_hole = reaction_over_diffusivity(
        rec_i.total, st.n[idx], st.p[idx], mu_n, mu_p
    )
    inv0 = edge_electron + edge_hole
    shift = (1.0 - tanh_ratio(vol * vol * inv0)) * bc.share * (st.psi[bc.across] - st.psi[idx])
    log_mu = jnp.log(mu_n) - jnp.log(mu_p)
    w_n = jax.nn.sigmoid(a_n - a_p + log_mu)
    w_p = jax.nn.sigmoid(a_p - a_n - log_mu)
    if arrays.degenerate_statistics:
        off_n, off_p, _ = band_offsets(arrays, sc)
        ln_nc, ln_nv = band_log_dos(arrays, sc)
        psi = st.psi[idx]
        a_nb = psi + off_n[idx] - phi_n + w_n * shift
        a_pb = phi_p - psi - off_p[idx] - w_p * shift
        c_n, c_p = filling_corrections(arrays, sc, a_nb - ln_nc[idx], a_pb - ln_nv[idx], idx)
        a_nb = a_nb - c_n
        a_pb = a_pb - c_p
    else:
        a_nb = a_n + w_n * shift
        a_pb = a_p - w_p * shift
    n_b, p_b = safe_exp(a_nb), safe_exp(a_pb)
    rec_b = _bulk_recombination(n_b, p_b, phi_n, phi_p, arrays, sc, idx)
    carry = safe_exp(a_nb + a_pb - a_n - a_p)  # n_b p_b / (n_i p_i)
    inv_electron, inv_hole = reaction_over_diffusivity(rec_b.total, n_b, p_b, mu_n, mu_p)
    width = geo.vol.at[idx].set(fitted_width(inv_hole + inv_electron, vol), unique_indices=True)
    rec = RecombinationOverNP(
        *(
            r.at[idx].set(rb * carry, unique_indices=True)
            for r, rb in zip(st.rec, rec_b, strict=True)
        )
    )
    # The edge factors use the node's own reaction lengths, not the carried ones: the
    # carry depends on the potential across the interface (node i -/+ 1), and a factor
    # on edge (i, i +/- 1) built from it would couple the far node's row to psi two nodes
    # away, outside the block-tridiagonal Jacobian (its 3-colour JVPs then alias that
    # entry onto a neighbour's: Newton slows and the implicit gradient is off by up to
    # 2e-3, docs/numerics/discretisation.md "Boundary cells"). With them local, the residual stays
    # block-tridiagonal and the Jacobian exact.
    return CellRecombination(width, rec, edge_electron, edge_hole)


def fitted_edge_factors(cell: CellRecombination, geo: Geometry):
    """Factors (electron, hole), each (N-1,), that multiply the flux on each edge: on the
    first edge behind a boundary, from the boundary node i into its layer,

        (c / sinh c) exp(-d_i / lambda),   c = h / (2 lambda),

    with lambda that carrier's reaction length at the node (its own densities: the edge
    then depends on nodes i and i +/- 1 only, keeping the Jacobian block-tridiagonal) and
    d_i the node's
    distance to the boundary; 1 on every other edge. c / sinh c is Il'in's exponential
    fitting of D p'' = k p (exact for a diffusion-limited decay), and exp(-d_i/lambda)
    starts the decay at the boundary, for which the node's density stands: together the
    edge carries the continuum flux D p_b exp(-w/lambda)/lambda through the cell face at
    w = d_i + h/2 when lambda << h, and the plain flux when lambda >> h. Without them the
    edge would hand the next node a further D p/h that in the continuum never gets there
    (J on the default device +2 %, R_rad +10 % at 128 nodes; docs/numerics/discretisation.md). d_i /
    lambda enters as sqrt((d_i/lambda)^2 + 1e-6) - 1e-3, smooth where lambda -> inf.
    """
    bc = geo.boundary
    d2 = bc.distance * bc.distance
    quarter_h2 = 0.25 * geo.h[bc.inner_edge] ** 2
    one = jnp.ones_like(geo.h)

    def factor(inv_len2):
        y = jnp.sqrt(d2 * inv_len2 + 1e-6) - 1e-3
        # the inner edges are distinct (a layer has >= 4 nodes)
        return one.at[bc.inner_edge].set(
            sinh_ratio(quarter_h2 * inv_len2) * jnp.exp(-y), unique_indices=True
        )

    return factor(cell.inv_length2_electron), factor(cell.inv_length2_hole)


def residual_and_scale(
    u: jax.Array, arrays: DeviceArrays, voltage_V
) -> tuple[jax.Array, jax.Array]:
    """Scaled residual F (N, 3) and the per-row magnitude of its cancelling terms."""
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    cell = cell_recombination(st, arrays, geo, sc)
    fx = edge_fluxes(st, arrays, geo, sc, cell)
    lp = arrays.layers
    lay = arrays.node_layer
    n0 = sc.density_m3

    # Poisson: eps dpsi/dx fluxes + lambda vol rho
    dpsi = geo.eps_edge * jnp.diff(st.psi) / geo.h
    z = jnp.zeros((1,), u.dtype)
    div = jnp.concatenate([dpsi, z]) - jnp.concatenate([z, dpsi])
    dop = (lp.donor_density_m3[lay] - lp.acceptor_density_m3[lay]) / n0
    rho = st.p - st.n + dop
    lam = sc.poisson_lambda
    f_psi = div + lam * geo.vol * rho
    dop_mag = (lp.donor_density_m3[lay] + lp.acceptor_density_m3[lay]) / n0
    m_psi = (
        jnp.concatenate([jnp.abs(dpsi), z])
        + jnp.concatenate([z, jnp.abs(dpsi)])
        + lam * geo.vol * (st.p + st.n + dop_mag)
    )

    # continuity, each row divided by its own density
    sink = cell.width * cell.rec.total + st.surface_over_np
    f_n = _assemble(fx.n_over_l, fx.n_over_r) + sink * st.p
    f_p = _assemble(fx.p_over_l, fx.p_over_r) + sink * st.n
    m_n = _assemble_mag(fx.n_mag_l, fx.n_mag_r) + jnp.abs(sink) * st.p
    m_p = _assemble_mag(fx.p_mag_l, fx.p_mag_r) + jnp.abs(sink) * st.n

    # contacts
    cv = contact_values(arrays, voltage_V, sc)
    c = arrays.contacts
    v_scale = n0 / sc.flux_m2_s
    f_psi_interior, m_psi_interior = f_psi, m_psi
    f_psi = f_psi.at[0].set(st.psi[0] - cv.psi_anode).at[-1].set(st.psi[-1] - cv.psi_cathode)
    m_psi = m_psi.at[0].set(1.0).at[-1].set(1.0)
    if any(arrays.image_force):
        # An electrode with image force holds its potential at its surface, a charge-free
        # gap a (the image plane's distance, image_gaps_m) behind the contact node: the
        # node's Poisson row takes the gap's displacement flux eps (psi_bc - psi) / a in
        # place of the Dirichlet value. The first site then sits a potential drop F a
        # below the electrode, as in the lattice of van der Holst et al., PRB 79, 085203
        # (2009); with U(d + a) in the transport level the barrier peaks at
        # Phi_B - sqrt(qF / (4 pi eps)) (peled.model.contacts.image_force).
        gaps = image_gaps_m(arrays)
        for on, idx, psi_bc, layer, gap in (
            (arrays.image_force[0], 0, cv.psi_anode, 0, gaps[0]),
            (arrays.image_force[1], -1, cv.psi_cathode, arrays.n_layers - 1, gaps[1]),
        ):
            if not on:
                continue
            g = lp.relative_permittivity[layer] * sc.length_m / gap
            flux = g * (psi_bc - st.psi[idx])
            f_psi = f_psi.at[idx].set(f_psi_interior[idx] + flux)
            m_psi = m_psi.at[idx].set(m_psi_interior[idx] + jnp.abs(flux))

    off_n, off_p, _ = band_offsets(arrays, sc)

    def contact_row(f, m, idx, phi, phi_bc, a, a_eq, s_m_s):
        # Dirichlet phi = phi_bc for an ideal contact; otherwise the half-cell balance
        # with the carriers leaving into the metal at S (dens - dens_eq):
        # row/dens = (rest of the row) + S (1 - exp(a_eq - a)), a_eq = ln(dens_eq/N0)
        finite = jnp.isfinite(s_m_s)
        s = jnp.where(finite, s_m_s, 1.0) * v_scale
        robin = f[idx] + s * -jnp.expm1(a_eq - a)
        robin_mag = m[idx] + s * (1.0 + safe_exp(a_eq - a))
        f = f.at[idx].set(jnp.where(finite, robin, phi - phi_bc))
        m = m.at[idx].set(jnp.where(finite, robin_mag, 1.0))
        return f, m

    # equilibrium contact densities: the node's own psi with phi = phi_bc, through the
    # layer's statistics (Boltzmann: a_eq = a +- (phi - phi_bc)); both contacts in one
    # evaluation of the statistics terms
    ends = np.asarray([0, arrays.n_nodes - 1])
    phi_bcs = jnp.stack([cv.phi_anode, cv.phi_cathode])
    a_n_eq = st.psi[ends] + off_n[ends] - phi_bcs
    a_p_eq = phi_bcs - st.psi[ends] - off_p[ends]
    if arrays.degenerate_statistics:
        ln_nc, ln_nv = band_log_dos(arrays, sc)
        c_n, c_p = filling_corrections(arrays, sc, a_n_eq - ln_nc[ends], a_p_eq - ln_nv[ends], ends)
        a_n_eq = a_n_eq - c_n
        a_p_eq = a_p_eq - c_p
    for j, idx, phi_bc, s_n, s_p in (
        (0, 0, cv.phi_anode, c.anode_electron_velocity_m_s, c.anode_hole_velocity_m_s),
        (1, -1, cv.phi_cathode, c.cathode_electron_velocity_m_s, c.cathode_hole_velocity_m_s),
    ):
        f_n, m_n = contact_row(f_n, m_n, idx, st.phi_n[idx], phi_bc, st.a_n[idx], a_n_eq[j], s_n)
        f_p, m_p = contact_row(f_p, m_p, idx, st.phi_p[idx], phi_bc, st.a_p[idx], a_p_eq[j], s_p)
    f = jnp.stack([f_psi, f_n, f_p], axis=-1)
    m = jnp.stack([m_psi, m_n, m_p], axis=-1)
    return f, m


def residual(u: jax.Array, arrays: DeviceArrays, voltage_V) -> jax.Array:
    """The scaled residual F(u; arrays, V), shape (N, 3)."""
    return residual_and_scale(u, arrays, voltage_V)[0]


def richardson_velocity_m_s(temperature_K, effective_mass_ratio: float = 1.0):
    """Thermionic transfer velocity v = sqrt(kT / (2 pi m*)) [m/s] = A* T^2 / (q N_c).

    For the free-electron mass at 300 K, 2.7e4 m/s (2.7e6 cm/s).
    """
    from peled.core.scaling import KB_J_K

    return jnp.sqrt(KB_J_K * temperature_K / (2.0 * jnp.pi * effective_mass_ratio * ME_KG))


__all__ = [
    "Q_C",
    "ContactValues",
    "Geometry",
    "NodeState",
    "CellRecombination",
    "band_offsets",
    "cell_recombination",
    "contact_values",
    "edge_fluxes",
    "geometry",
    "node_state",
    "residual",
    "residual_and_scale",
    "richardson_velocity_m_s",
]
