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
* Photon generation: excitons form at the radiative (bimolecular) rate R_rad in emitting
  layers; each emits with probability eta = film PLQY (the excitonic loss inside a
  nanocrystal). The internal photon flux per area is Phi_int = sum_i vol_i eta_i R_rad,i.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from peled.core.params import DeviceArrays
from peled.core.residual import edge_fluxes, geometry, node_state
from peled.core.scaling import Q_C, scaling_for


class BiasObservables(NamedTuple):
    """Per-bias outputs (SI units)."""

    current_density_A_m2: jax.Array
    electron_current_A_m2: jax.Array  # (N-1,) per edge
    hole_current_A_m2: jax.Array  # (N-1,)
    current_spread: jax.Array  # max relative deviation of edge currents from J
    radiative_rate_m3_s: jax.Array  # (N,)
    srh_rate_m3_s: jax.Array
    auger_rate_m3_s: jax.Array
    interface_rate_m2_s: jax.Array  # (N,) per-area interface recombination at nodes
    radiative_current_A_m2: jax.Array  # q * integral of R_rad
    recombination_current_A_m2: jax.Array  # q * integral of all recombination
    internal_photon_flux_m2_s: jax.Array  # sum vol * PLQY * R_rad in emitters
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

    ``layer_radiative_efficiency`` (K,): probability that a radiative recombination event
    in layer k yields a photon (film PLQY in emitters, 0 elsewhere).
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
    vol_m = geo.vol * sc.length_m * interior
    eta = layer_radiative_efficiency[arrays.node_layer]
    phi_int = jnp.sum(vol_m * eta * r_rad)
    vt = sc.thermal_voltage_V
    lp = arrays.layers
    lay = arrays.node_layer
    ec = -lp.electron_affinity_eV[lay] - st.psi * vt
    return BiasObservables(
        current_density_A_m2=sc.current_A_m2(j),
        electron_current_A_m2=sc.current_A_m2(-f_n),
        hole_current_A_m2=sc.current_A_m2(f_p),
        current_spread=spread,
        radiative_rate_m3_s=r_rad,
        srh_rate_m3_s=r_srh,
        auger_rate_m3_s=r_aug,
        interface_rate_m2_s=r_int,
        radiative_current_A_m2=Q_C * jnp.sum(vol_m * r_rad),
        recombination_current_A_m2=Q_C
        * (jnp.sum(vol_m * (r_rad + r_srh + r_aug)) + jnp.sum(r_int * interior)),
        internal_photon_flux_m2_s=phi_int,
        electron_density_m3=st.n * n0,
        hole_density_m3=st.p * n0,
        conduction_band_eV=ec,
        valence_band_eV=ec - lp.band_gap_eV[lay],
        electron_quasi_fermi_eV=-st.phi_n * vt,
        hole_quasi_fermi_eV=-st.phi_p * vt,
    )


sweep_observables = jax.jit(jax.vmap(bias_observables, in_axes=(0, None, None)))
