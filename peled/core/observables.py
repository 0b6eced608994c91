"""Observables of converged states: currents, recombination by mechanism, photons.

Pure JAX functions of (u, arrays): they can be vmapped over biases and devices and
differentiated. Units are SI inside; the names carry them.

* Current density J [A/m^2]: in a converged state J = q (F_p - F_n) is the same on
  every edge up to the residual. Where a layer conducts well (PEDOT:PSS, 1e20 cm^-3
  holes over 0.05 nm edges) drift and diffusion terms of ~1e8 mA/cm^2 cancel there, so
  its round-off exceeds a nA-level device current; J is therefore read on the edge where
  the cancelling terms are smallest (the device's bottleneck, where J is resolved to
  ~1e-14 relative), and ``current_spread_A_m2`` reports how far the other edges differ
  relative to their own terms.
* Resolution of J [A/m^2]: a converged state fixes each quasi-Fermi potential only to
  its last bits, and on the best-conducting edge (conductance G_max, A/m^2 per V_t) one
  ulp of it is G_max ulp of current. Continuity, which Newton enforces, therefore ties J
  down to ``current_floor_A_m2`` = q 64 eps max|u| G_max (the bound the continuity tests
  use); a smaller |J| is round-off whose value depends on the path Newton took (two
  converged solvers differ there by 10x, docs/numerics/accuracy.md "The current
  floor").
* Photon generation (excitonic model, peled.model.emitter.excitonic,
  docs/model/light-output.md): an electron and a hole that meet in an emitting layer
  form an exciton at the capture rate R_rad = B (n p - n_i^2) (B the Langevin
  coefficient of a nanocrystal film); SRH is a free-carrier loss that competes with that
  encounter. Each exciton emits with probability eta(x) = PLQY * S(x) * q(x): the film
  PLQY (measured at low excitation, where photo-excited excitons decay alone), the
  survival S of per-crystal trion and biexciton Auger at the local occupancy, and the
  interface-quenching survival q(x) = prod_interfaces (1 - s exp(-d / L_q)). The internal
  photon flux per area is Phi_int = sum_i w_i eta_i R_rad,i.
* Recombination integrals (and Phi_int) weight each node's rate by its cell width w_i
  [m], ``recombination_width_m``, as the residual does (the box method; faces at layer
  boundaries, so these are not the node spacings). Integrating the rates in profiles.csv
  with these widths gives the integrals here.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.params import DeviceArrays, layer_boundaries_m, node_positions_m
from peled.core.residual import edge_fluxes, geometry, node_state
from peled.core.scaling import Q_C, scaling_for
from peled.model.emitter.excitonic import auger_survival, volume_scaled_lifetime_s


class BiasObservables(NamedTuple):
    """Per-bias outputs (SI units)."""

    current_density_A_m2: jax.Array
    electron_current_A_m2: jax.Array  # (N-1,) per edge
    hole_current_A_m2: jax.Array  # (N-1,)
    current_spread: jax.Array  # max relative deviation of edge currents from J
    current_floor_A_m2: jax.Array  # |J| below this is round-off (module docstring)
    radiative_rate_m3_s: jax.Array  # (N,)
    srh_rate_m3_s: jax.Array
    auger_rate_m3_s: jax.Array
    interface_rate_m2_s: jax.Array  # (N,) per-area interface recombination at nodes
    radiative_current_A_m2: jax.Array  # q * integral of R_rad
    recombination_current_A_m2: jax.Array  # q * integral of all recombination
    # where the current recombines or leaves: J = sum(layer) + sum(interface) + leakage
    layer_recombination_current_A_m2: jax.Array  # (K,) q * integral over each layer
    interface_recombination_current_A_m2: jax.Array  # (K-1,) q * interface SRH per area
    electron_leakage_A_m2: jax.Array  # electrons leaving into the anode (current, >0 out)
    hole_leakage_A_m2: jax.Array  # holes leaving into the cathode
    internal_photon_flux_m2_s: jax.Array  # sum w * PLQY * S * R_rad in emitters
    photon_rate_m2_s: jax.Array  # (N,) w * PLQY * S * R_rad per node: where photons start
    auger_survival: jax.Array  # (N,) S: excitons not lost to per-crystal Auger [-]
    carriers_per_crystal: jax.Array  # (N,) (n + p) L^3 / phi in nanocrystal films [-]
    recombination_width_m: jax.Array  # (N,) w_i, the weights of the integrals above
    electron_density_m3: jax.Array
    hole_density_m3: jax.Array
    conduction_band_eV: jax.Array
    valence_band_eV: jax.Array
    electron_quasi_fermi_eV: jax.Array
    hole_quasi_fermi_eV: jax.Array


def bias_observables(
    u: jax.Array, arrays: DeviceArrays, layer_radiative_efficiency: jax.Array
) -> BiasObservables:
    """All observables of one converged state ``u`` (scaled, (N, 3)).

    ``layer_radiative_efficiency``: probability that a radiative recombination event
    yields a photon, either per layer (K,) (film PLQY in emitters, 0 elsewhere) or per
    node (N,) (from :func:`node_radiative_weight`, which adds interface quenching).
    """
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    fx = edge_fluxes(st, arrays, geo, sc)
    n0 = sc.density_m3
    f_n = fx.n_over_l * st.n[:-1]
    f_p = fx.p_over_l * st.p[:-1]
    mag = fx.n_mag_l * st.n[:-1] + fx.p_mag_l * st.p[:-1]
    j_edge = f_p - f_n
    best = jnp.argmin(mag)
    j = j_edge[best]
    spread = jnp.max(jnp.abs(j_edge - j) / (jnp.abs(j) + jnp.maximum(mag, 1e-300)))
    np_ = st.n * st.p
    r0 = sc.rate_m3_s
    r_rad = np_ * st.rec.radiative * r0
    r_srh = np_ * st.rec.srh * r0
    r_aug = np_ * st.rec.auger * r0
    r_int = np_ * st.surface_over_np * sc.flux_m2_s
    interior = jnp.ones_like(geo.vol).at[0].set(0.0).at[-1].set(0.0)
    width_m = geo.vol * sc.length_m
    vol_m = width_m * interior
    survival, f_c = emitter_auger_survival(st.n * n0, st.p * n0, r_rad, arrays)
    eta = _node_weight(layer_radiative_efficiency, arrays) * survival
    photon_rate = vol_m * eta * r_rad
    phi_int = jnp.sum(photon_rate)
    vt = sc.thermal_voltage_V
    lp = arrays.layers
    lay = arrays.node_layer
    ec = -lp.electron_affinity_eV[lay] - st.psi * vt
    # per layer: the bulk rates over the layer's own nodes (contact nodes hold no
    # continuity row and are masked by `interior`); per interface: the per-area
    # interface SRH at the two nodes that face it (last of layer k, first of layer k+1)
    bulk = vol_m * (r_rad + r_srh + r_aug)
    per_layer = Q_C * jax.ops.segment_sum(bulk, lay, num_segments=arrays.n_layers)
    m = arrays.nodes_per_layer
    faces = np.arange(1, arrays.n_layers) * m
    per_interface = Q_C * (r_int[faces - 1] + r_int[faces])
    return BiasObservables(
        current_density_A_m2=sc.current_A_m2(j),
        electron_current_A_m2=sc.current_A_m2(-f_n),
        hole_current_A_m2=sc.current_A_m2(f_p),
        current_spread=spread,
        current_floor_A_m2=sc.current_A_m2(
            64.0 * jnp.finfo(u.dtype).eps * jnp.max(jnp.abs(u)) * jnp.max(mag)
        ),
        radiative_rate_m3_s=r_rad,
        srh_rate_m3_s=r_srh,
        auger_rate_m3_s=r_aug,
        interface_rate_m2_s=r_int,
        radiative_current_A_m2=Q_C * jnp.sum(vol_m * r_rad),
        recombination_current_A_m2=Q_C
        * (jnp.sum(vol_m * (r_rad + r_srh + r_aug)) + jnp.sum(r_int * interior)),
        layer_recombination_current_A_m2=per_layer,
        interface_recombination_current_A_m2=per_interface,
        electron_leakage_A_m2=sc.current_A_m2(-f_n[0]),
        hole_leakage_A_m2=sc.current_A_m2(f_p[-1]),
        internal_photon_flux_m2_s=phi_int,
        photon_rate_m2_s=photon_rate,
        auger_survival=survival,
        carriers_per_crystal=f_c,
        recombination_width_m=width_m,
        electron_density_m3=st.n * n0,
        hole_density_m3=st.p * n0,
        conduction_band_eV=ec,
        valence_band_eV=ec - lp.band_gap_eV[lay],
        electron_quasi_fermi_eV=-st.phi_n * vt,
        hole_quasi_fermi_eV=-st.phi_p * vt,
    )


def emitter_auger_survival(n_m3, p_m3, capture_m3_s, arrays: DeviceArrays):
    """Per-node Auger survival S [-] of the excitons and the uncaptured carriers per
    crystal f_c [-] (peled.model.emitter.excitonic), from the densities [m^-3] and the
    capture rate [m^-3 s^-1]. Layers without Auger lifetimes get S = 1 exactly; f_c is 0
    outside nanocrystal films (packing fraction 0)."""
    lp = arrays.layers
    lay = arrays.node_layer
    size = lp.nanocrystal_size_m[lay]
    packing = lp.nanocrystal_packing_fraction[lay]
    film = packing > 0.0
    # volume per crystal L^3 / phi [m^3]; 0 outside nanocrystal films (f_c reported as 0)
    per_crystal = jnp.where(film, size**3 / jnp.where(film, packing, 1.0), 0.0)
    ref = lp.auger_reference_size_m[lay]
    tau_x = lp.exciton_lifetime_s[lay]
    tau_t = volume_scaled_lifetime_s(lp.trion_auger_lifetime_s[lay], size, ref)
    tau_xx = volume_scaled_lifetime_s(lp.biexciton_auger_lifetime_s[lay], size, ref)
    f_c = (n_m3 + p_m3) * per_crystal
    f_x = jnp.maximum(capture_m3_s, 0.0) * tau_x * per_crystal
    return auger_survival(f_c, f_x, tau_x, tau_t, tau_xx), f_c


sweep_observables = jax.jit(jax.vmap(bias_observables, in_axes=(0, None, None)))


def _node_weight(weight: jax.Array, arrays: DeviceArrays) -> jax.Array:
    """A per-layer (K,) weight broadcast to the nodes, or a per-node (N,) weight as is."""
    if weight.shape[-1] == arrays.n_nodes and weight.shape[-1] != arrays.n_layers:
        return weight
    return weight[arrays.node_layer]


def node_radiative_weight(
    arrays: DeviceArrays,
    layer_plqy: jax.Array,
    quenching_length_m: jax.Array,
    quenching_efficiency_left: jax.Array,
    quenching_efficiency_right: jax.Array,
) -> jax.Array:
    """Photon yield per radiative event at each node [-], with interface exciton quenching.

        eta(x) = PLQY_k (1 - s_L,k exp(-(x - x_k) / L_k)) (1 - s_R,k exp(-(x_{k+1} - x) / L_k))

    for a node at x in layer k (boundaries x_k < x < x_{k+1}). ``layer_plqy`` (K,) is the
    film PLQY (0 outside emitters); ``quenching_length_m`` (K,) the exciton quenching
    (diffusion) length L_k of the layer's material [m] (0 = no quenching);
    ``quenching_efficiency_left/right`` (K,) the quenching efficiency s in [0, 1] of the
    neighbour on the anode / cathode side (the adjacent layer or contact material). An
    exciton formed at distance d from a quenching interface diffuses to it and is lost
    with probability s exp(-d / L) (steady-state 1-D diffusion to a sink with a finite
    transfer probability; e.g. Lunt et al., J. Appl. Phys. 105, 053711 (2009); Scully and
    McGehee, J. Appl. Phys. 100, 034907 (2006)). Pure JAX: differentiable in thicknesses,
    lengths and efficiencies.
    """
    x = node_positions_m(arrays)
    bounds = layer_boundaries_m(arrays)
    lay = arrays.node_layer
    d_left = x - bounds[lay]
    d_right = bounds[lay + 1] - x
    length = quenching_length_m[lay]
    has = length > 0
    safe_len = jnp.where(has, length, 1.0)
    q_left = jnp.where(has, quenching_efficiency_left[lay] * jnp.exp(-d_left / safe_len), 0.0)
    q_right = jnp.where(has, quenching_efficiency_right[lay] * jnp.exp(-d_right / safe_len), 0.0)
    return layer_plqy[lay] * (1.0 - q_left) * (1.0 - q_right)


def cell_widths(x: jax.Array, bounds: jax.Array, node_layer: jax.Array) -> jax.Array:
    """Finite-volume cell widths (N,) as the solver uses them (same unit as ``x``): the
    face between two nodes is the layer boundary on an interface edge, else the midpoint;
    the contact nodes own half cells."""
    is_int = node_layer[1:] != node_layer[:-1]
    face = jnp.where(is_int, bounds[node_layer[1:]], 0.5 * (x[1:] + x[:-1]))
    return jnp.diff(jnp.concatenate([x[:1], face, x[-1:]]))


class ZoneMetrics(NamedTuple):
    """Recombination-zone figures of one profile inside one layer (length unit of x)."""

    centroid: jax.Array  # rate-weighted mean position from the anode [length unit of x]
    fwhm: jax.Array  # full width at half maximum (linear interpolation of crossings)
    fraction_near_anode_side: jax.Array  # share within ``near`` of the layer's anode side
    fraction_near_cathode_side: jax.Array  # share within ``near`` of its cathode side
    total: jax.Array  # integral of the rate over the layer [rate x length]


def zone_metrics(
    x: jax.Array,
    bounds: jax.Array,
    node_layer: jax.Array,
    rate: jax.Array,
    layer: int,
    near: float = 5e-9,
) -> ZoneMetrics:
    """Centroid, FWHM and interface fractions of ``rate`` (N,) inside ``layer``.

    ``x`` (N,) node positions and ``bounds`` (K+1,) layer boundaries in one length unit
    (m for :func:`node_positions_m` / :func:`layer_boundaries_m`; the results and
    ``near`` are in the same unit), ``node_layer`` (N,) the layer of each node.

        x_c = int x R dx / int R dx,   f_side = int_{d < near} R dx / int R dx

    over the layer's nodes with the solver's finite-volume cell widths (faces at layer
    boundaries, midpoints elsewhere; a node's cell is counted
    near an interface when its centre lies within ``near`` of it). The FWHM is the
    distance between the outermost half-maximum crossings, linearly interpolated between
    nodes. Pure JAX (piecewise differentiable).
    """
    inside = node_layer == layer
    w = jnp.where(inside, jnp.clip(rate, 0.0, None), 0.0)
    dx = cell_widths(x, bounds, node_layer)
    total = jnp.sum(w * dx)
    safe = jnp.where(total > 0, total, 1.0)
    centroid = jnp.sum(w * x * dx) / safe
    a, b = bounds[layer], bounds[layer + 1]
    f_a = jnp.sum(jnp.where(x - a < near, w * dx, 0.0)) / safe
    f_b = jnp.sum(jnp.where(b - x < near, w * dx, 0.0)) / safe
    half = 0.5 * jnp.max(w)
    above = w >= half
    # crossings on edges (i, i+1) where one node is above and the other below half max
    up = (~above[:-1]) & above[1:]
    down = above[:-1] & (~above[1:])
    t = (half - w[:-1]) / jnp.where(w[1:] != w[:-1], w[1:] - w[:-1], 1.0)
    x_cross = x[:-1] + t * (x[1:] - x[:-1])
    big = jnp.asarray(jnp.inf, x.dtype)
    first_above = jnp.min(jnp.where(above & inside, x, big))
    last_above = jnp.max(jnp.where(above & inside, x, -big))
    left = jnp.min(jnp.where(up, x_cross, big))
    right = jnp.max(jnp.where(down, x_cross, -big))
    left = jnp.maximum(jnp.minimum(left, first_above), a)  # crossings stay inside the layer
    right = jnp.minimum(jnp.maximum(right, last_above), b)
    fwhm = right - left
    nan = jnp.asarray(jnp.nan, x.dtype)
    ok = total > 0
    return ZoneMetrics(
        centroid=jnp.where(ok, centroid, nan),
        fwhm=jnp.where(ok, fwhm, nan),
        fraction_near_anode_side=jnp.where(ok, f_a, nan),
        fraction_near_cathode_side=jnp.where(ok, f_b, nan),
        total=total,
    )


class InjectionCurrents(NamedTuple):
    """Currents entering and leaving one emitting layer [A/m^2] (electric, +x positive).

    Electrons enter on the cathode side, holes on the anode side; a carrier that leaves
    through the opposite side is leakage.
    """

    electron_in_A_m2: jax.Array  # J_n on the emitter's cathode-side interface edge
    hole_in_A_m2: jax.Array  # J_p on the emitter's anode-side interface edge
    electron_leak_A_m2: jax.Array  # J_n on its anode-side edge (electrons passing out)
    hole_leak_A_m2: jax.Array  # J_p on its cathode-side edge (holes passing out)


def emitter_injection_currents(
    electron_current_A_m2: jax.Array,
    hole_current_A_m2: jax.Array,
    node_layer: jax.Array,
    layer: int,
) -> InjectionCurrents:
    """Electron and hole currents at the interfaces of emitting ``layer`` (from the edge
    currents (..., N-1) of :class:`BiasObservables`; works on a sweep's leading axes).

    The edges are those joining the layer to its neighbours; where the layer touches a
    contact, the first/last interior edge of the layer is used. The charge balance of the
    emitter is then J_e,in / J_h,in and the balance factor
    gamma = min(J_e,in, J_h,in) / max(J_e,in, J_h,in) in [0, 1].
    """
    is_k = node_layer == layer
    n_nodes = node_layer.shape[-1]
    first = jnp.argmax(is_k)
    last = n_nodes - 1 - jnp.argmax(is_k[::-1])
    left_edge = jnp.maximum(first - 1, 0)
    right_edge = jnp.minimum(last, n_nodes - 2)

    def at(a, i):
        return jnp.take(a, i, axis=-1)

    return InjectionCurrents(
        electron_in_A_m2=at(electron_current_A_m2, right_edge),
        hole_in_A_m2=at(hole_current_A_m2, left_edge),
        electron_leak_A_m2=at(electron_current_A_m2, left_edge),
        hole_leak_A_m2=at(hole_current_A_m2, right_edge),
    )


def layer_integral(
    x: jax.Array,
    bounds: jax.Array,
    node_layer: jax.Array,
    values: jax.Array,
    layer: int,
) -> jax.Array:
    """Integral of a per-node density (..., N) over ``layer`` with the solver's cells,
    e.g. sheet densities int n dx [m^-2] or recombination per area [m^-2 s^-1]."""
    dx = cell_widths(x, bounds, node_layer)
    w = jnp.where(node_layer == layer, dx, 0.0)
    return jnp.sum(values * jnp.broadcast_to(w, values.shape), axis=-1)


def charge_balance(electron_in: jax.Array, hole_in: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(J_e / J_h, min/max) of the currents entering an emitter; NaN where either is <= 0."""
    ok = (electron_in > 0) & (hole_in > 0)
    e = jnp.where(ok, electron_in, 1.0)
    h = jnp.where(ok, hole_in, 1.0)
    nan = jnp.nan
    return jnp.where(ok, e / h, nan), jnp.where(ok, jnp.minimum(e, h) / jnp.maximum(e, h), nan)
