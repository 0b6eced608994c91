"""Fluxes of a state: per-edge mobilities (:mod:`peled.model.mobility`) and the bulk and
interface particle fluxes (:func:`edge_fluxes`: Scharfetter-Gummel in the
excess-chemical-potential form, thermionic emission across interfaces). Units and
scaling: :mod:`peled.core.residual`."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.levels import (  # noqa: F401  (image_lowering, image_gaps_m re-exported)
    image_gaps_m,
    image_lowering,
    interface_gap_pieces,
    layer_states_m3,
)
from peled.core.params import DeviceArrays
from peled.core.scaling import Scaling
from peled.core.state import Geometry, NodeState
from peled.model.contacts.image_force import site_spacing_m
from peled.model.fluxes.scharfetter_gummel import sg_electron_flux, sg_hole_flux
from peled.model.interfaces.thermionic import thermionic_flux
from peled.model.mobility import edge_mobility
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


def edge_fluxes(st: NodeState, arrays: DeviceArrays, geo: Geometry, sc: Scaling) -> EdgeFluxes:
    """SG fluxes inside layers, thermionic emission on interface edges."""
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
