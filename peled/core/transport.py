"""Fluxes and recombination of a state: per-edge mobilities (:mod:`peled.model.mobility`),
the bulk and interface particle fluxes (:func:`edge_fluxes`: Scharfetter-Gummel in the
excess-chemical-potential form, thermionic emission across interfaces) and the cell
recombination, with the exponentially fitted widths of the boundary cells where
``DeviceArrays.boundary_cells`` is on (:func:`cell_recombination`). Units and scaling:
:mod:`peled.core.residual`."""

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
from peled.core.params import DeviceArrays
from peled.core.scaling import Scaling
from peled.core.state import Geometry, NodeState, _bulk_recombination, filling_corrections
from peled.model.contacts.image_force import site_spacing_m
from peled.model.fluxes.scharfetter_gummel import safe_exp, sg_electron_flux, sg_hole_flux
from peled.model.interfaces.thermionic import thermionic_flux
from peled.model.mobility import edge_mobility
from peled.model.recombination.bulk import RecombinationOverNP
from peled.model.tags import evaluate_by_tag


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
    """SG fluxes inside layers (with boundary cells on, the first edge behind a boundary
    exponentially fitted, :func:`fitted_edge_factors`), thermionic emission on interface
    edges. ``cell``: the cells' recombination if already computed
    (:func:`cell_recombination`)."""
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
    if arrays.boundary_cells:
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

    Only the M = 2K boundary cells (static indices) are evaluated twice. Without boundary
    cells (``arrays.boundary_cells`` false) every cell is a box: the node's rates times its
    cell width.
    """
    if not arrays.boundary_cells:
        none = jnp.zeros(geo.boundary.nodes.shape, st.psi.dtype)
        return CellRecombination(geo.vol, st.rec, none, none)
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
