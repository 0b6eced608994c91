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
  width vol_i, so that the node's rate stands for its whole cell: the box method)

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
from peled.core.params import DeviceArrays
from peled.core.scaling import ME_KG, Q_C, scaling_for
from peled.core.state import (  # noqa: F401  (re-exported: the state of u)
    ContactValues,
    Geometry,
    NodeState,
    contact_values,
    filling_corrections,
    geometry,
    node_state,
    statistics_params,
)
from peled.core.transport import (  # noqa: F401  (re-exported: fluxes and recombination)
    EdgeFluxes,
    _assemble,
    _assemble_mag,
    edge_fluxes,
    edge_mobilities,
)
from peled.model.fluxes.scharfetter_gummel import safe_exp


def residual_and_scale(
    u: jax.Array, arrays: DeviceArrays, voltage_V
) -> tuple[jax.Array, jax.Array]:
    """Scaled residual F (N, 3) and the per-row magnitude of its cancelling terms."""
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    fx = edge_fluxes(st, arrays, geo, sc)
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
    sink = geo.vol * st.rec.total + st.surface_over_np
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
    "band_offsets",
    "contact_values",
    "edge_fluxes",
    "geometry",
    "node_state",
    "residual",
    "residual_and_scale",
    "richardson_velocity_m_s",
]
