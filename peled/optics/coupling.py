"""The optics coupled to the electrical solution: photons to air per photon the film
emits at each mesh node, and the luminance they give.

For a node at distance z from its emitter's anode-side edge, at wavelength lambda, a
dipole of orientation o (vertical, or horizontal: TE + TM) has Purcell factor F_o and
sends the power ``air_o`` to air (:func:`peled.optics.dipole.mode_budget`, both relative
to the free-space dipole). With the film's photoluminescence quantum yield q measured
where F ~ 1, the effective radiative efficiency is (Furno et al., Phys. Rev. B 85,
115205 (2012), Eq. 24)

    q_eff,o = F_o q / (1 - q + F_o q)

and the photons reaching air per photon the film would emit (the factor that replaces
the constant eta_out) are

    g(z) = sum_lambda s(lambda) sum_o w_o (q_eff,o / q) (air_o / F_o)
         = sum_lambda s(lambda) sum_o w_o air_o / (1 - q + F_o q)

with s the emission line's photon spectrum (weights summing to 1) and w_o the
orientation weights (1 - Theta vertical, Theta horizontal; Theta the emitter's
``horizontal_dipole_ratio``, 2/3 isotropic). Each exciton is one emitter, so the average
runs over excitons, not over dipole power. The luminance comes from the forward
radiant intensity (not a Lambertian assumption):

    L = sum_nodes Phi_node sum_lambda s(lambda) K_m V(lambda) E_ph(lambda)
                             sum_o w_o I_o(0; z, lambda) / (1 - q + F_o q)     [cd/m^2]

with Phi_node [photons m^-2 s^-1] the photons the film emits at the node
(``photon_rate_m2_s`` of :mod:`peled.core.observables`) and I_o(0) the radiant intensity
per steradian at normal incidence per unit dipole power
(:func:`peled.optics.dipole.forward_radiant_intensity`).

Excitons in a nanocrystal film sit in the crystals, so dipoles are placed at least half
a crystal edge (``nanocrystal_size_nm``/2; 0.5 nm for other emitters) from the film's
boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.device import Device
from peled.errors import PeledInputError
from peled.optics.dipole import forward_radiant_intensity, mode_budget
from peled.optics.stack import dipole_depth_nm, dipole_stack, substrate_side_depth
from peled.photometry import (
    K_M_LM_PER_W,
    cie_xy,
    emission_spectrum,
    photon_energy_J,
    photopic_efficiency,
)

#: wavelengths across the emission line (peak +/- LINE_HALF_WIDTHS FWHM)
N_WAVELENGTHS = 41
LINE_HALF_WIDTHS = 2.5
#: angles [deg] of the angular spectra (CIE shift with angle)
ANGLES_DEG = (0.0, 30.0, 60.0)
#: horizontal-dipole fraction of an emitter without ``horizontal_dipole_ratio``
ISOTROPIC = 2.0 / 3.0

# one compiled instance each, shared by the device coupling and the study (peled optics)
_budget = jax.jit(mode_budget, static_argnames="emission_side")
_intensity = jax.jit(forward_radiant_intensity, static_argnames="emission_side")


@dataclass(frozen=True)
class DeviceOutcoupling:
    """Per-node optical factors of a device's mesh (zero outside emitters).

    ``photons_to_air`` (N,): photons reaching air per photon the film emits at the node
    [-] (g above); ``forward_lm_sr`` (N,): lumens per steradian at normal incidence per
    emitted photon/s [lm sr^-1 s]; ``purcell_factor`` (N,): exciton-averaged Purcell
    factor [-]; ``angular_photons`` (N, L, A): photons per steradian into air per emitted
    photon at the wavelengths and ``angles_deg``, spectrum-weighted [1/sr].
    """

    photons_to_air: np.ndarray
    forward_lm_sr: np.ndarray
    purcell_factor: np.ndarray
    wavelengths_nm: np.ndarray
    angles_deg: np.ndarray
    angular_photons: np.ndarray
    horizontal_fraction: float

    def spectrum_at(self, photon_rate_m2_s: np.ndarray, angle_index: int) -> np.ndarray:
        """Spectral power [W m^-2 sr^-1 nm^-1 up to a constant] leaving at an angle for a
        distribution of emitted photons over the nodes."""
        photons = np.tensordot(photon_rate_m2_s, self.angular_photons[:, :, angle_index], 1)
        return photons * photon_energy_J(self.wavelengths_nm)

    def cie_at(self, photon_rate_m2_s: np.ndarray, angle_index: int) -> tuple[float, float]:
        """CIE 1931 (x, y) of the light leaving at ``angles_deg[angle_index]``."""
        return cie_xy(self.wavelengths_nm, self.spectrum_at(photon_rate_m2_s, angle_index))


def line_wavelengths(device: Device, emitter: int) -> np.ndarray:
    """The wavelength grid [nm] across an emitter's line, inside every optical table of
    the stack (and 360-830 nm, the photometric range)."""
    m = device.layers[emitter].material
    lo = m.emission_peak_nm - LINE_HALF_WIDTHS * m.emission_fwhm_nm
    hi = m.emission_peak_nm + LINE_HALF_WIDTHS * m.emission_fwhm_nm
    lo, hi = max(lo, 360.0), min(hi, 830.0)
    opticals = [la.optical for la in device.layers]
    opticals += [device.anode.optical, device.cathode.optical, device.substrate.optical]
    for o in opticals:
        if o.table is not None:
            lo, hi = max(lo, o.table.wavelength_nm[0]), min(hi, o.table.wavelength_nm[-1])
    if not lo < m.emission_peak_nm < hi:
        raise PeledInputError(
            f"{device.name}: the emission peak {m.emission_peak_nm} nm lies outside the "
            f"range {lo:g}-{hi:g} nm that every optical table of the stack covers"
        )
    return np.linspace(lo, hi, N_WAVELENGTHS)


class _EmitterTerms(NamedTuple):
    """One emitter's per-node factors (arrays over its nodes; JAX or numpy)."""

    photons_to_air: Any  # (P,)
    forward_lm_sr: Any  # (P,)
    purcell_factor: Any  # (P,)
    angular_photons: Any  # (P, L, A)


def _line_weights(device: Device, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Wavelengths [nm] across emitter k's line and their photon weights (sum 1)."""
    m = device.layers[k].material
    lam = line_wavelengths(device, k)
    _, s = emission_spectrum(m.emission_peak_nm, m.emission_fwhm_nm, lam)
    w = s * np.gradient(lam)
    return lam, w / w.sum()


def _emitter_terms(
    device: Device,
    k: int,
    depth_from_anode_nm,
    thickness_nm: dict | None = None,
    angles_deg: tuple[float, ...] = ANGLES_DEG,
) -> _EmitterTerms:
    """g, forward lumens per sr, Purcell factor and angular photons of emitter k's
    dipoles at distances [nm] from its anode-side boundary (clipped to half a crystal
    from both boundaries). ``thickness_nm`` (layer index -> nm, values may be traced)
    replaces layer thicknesses: the optimizer differentiates through it."""
    m = device.layers[k].material
    over = thickness_nm or {}
    d = over.get(k, device.layers[k].thickness_nm)
    depth = jnp.minimum(dipole_depth_nm(device, k), d / 2)
    z = jnp.clip(depth_from_anode_nm, depth, d - depth)
    z = substrate_side_depth(device, k, z, d)
    lam, w_lam = _line_weights(device, k)
    theta = ISOTROPIC if m.horizontal_dipole_ratio is None else m.horizontal_dipole_ratio
    q = float(m.photoluminescence_quantum_yield)
    stack = dipole_stack(device, lam, k, thickness_nm=over)
    angles = np.asarray(angles_deg, dtype=float)
    b = _budget(stack, z, emission_side=device.emission_side)
    i = _intensity(stack, z, angles, emission_side=device.emission_side)
    f_v = b["v"]["purcell_factor"]
    f_h = b["hp"]["purcell_factor"] + b["hs"]["purcell_factor"]
    den_v = 1.0 - q + f_v * q
    den_h = 1.0 - q + f_h * q
    # (L, P): photons to air per emitted photon, per wavelength
    per_lam = (1 - theta) * b["v"]["to_air"] / den_v + theta * (
        b["hp"]["to_air"] + b["hs"]["to_air"]
    ) / den_h
    # (L, P, A): photons per sr per emitted photon
    per_ang = (1 - theta) * i["v"] / den_v[..., None] + theta * (
        i["hp"] + i["hs"]
    ) / den_h[..., None]
    lm_per_photon = K_M_LM_PER_W * photopic_efficiency(lam) * photon_energy_J(lam)
    w_nm = w_lam / np.gradient(lam)  # photons per nm
    return _EmitterTerms(
        photons_to_air=jnp.asarray(w_lam) @ per_lam,
        forward_lm_sr=jnp.asarray(w_lam * lm_per_photon) @ per_ang[:, :, 0],
        purcell_factor=jnp.asarray(w_lam) @ ((1 - theta) * f_v + theta * f_h),
        angular_photons=jnp.transpose(w_nm[:, None, None] * per_ang, (1, 0, 2)),
    )


def device_outcoupling(
    device: Device, position_nm: np.ndarray, node_layer: np.ndarray
) -> DeviceOutcoupling:
    """The per-node factors for the mesh (node positions [nm] from the anode, and the
    layer index of each node)."""
    pos = np.asarray(position_nm, dtype=float)
    lay = np.asarray(node_layer)
    n = pos.size
    edges = np.concatenate([[0.0], np.cumsum([la.thickness_nm for la in device.layers])])
    angles = np.asarray(ANGLES_DEG)
    out = {"g": np.zeros(n), "fwd": np.zeros(n), "purcell": np.zeros(n)}
    lam_all = np.zeros(0)
    ang = np.zeros((n, 0, angles.size))
    theta = ISOTROPIC
    for k in device.emitter_indices:
        lam, _ = _line_weights(device, k)
        if lam_all.size == 0:
            lam_all = lam
            ang = np.zeros((n, lam.size, angles.size))
        elif not np.allclose(lam, lam_all):
            raise PeledInputError(
                f"{device.name}: emitters with different emission lines are not supported "
                "by the dipole optics; use one emitter material"
            )
        m = device.layers[k].material
        theta = ISOTROPIC if m.horizontal_dipole_ratio is None else m.horizontal_dipole_ratio
        idx = np.nonzero(lay == k)[0]
        with jax.enable_x64(True):
            t = jax.device_get(_emitter_terms(device, k, pos[idx] - edges[k]))
        out["g"][idx] = t.photons_to_air
        out["fwd"][idx] = t.forward_lm_sr
        out["purcell"][idx] = t.purcell_factor
        ang[idx] = t.angular_photons
    return DeviceOutcoupling(out["g"], out["fwd"], out["purcell"], lam_all, angles, ang, theta)


def node_outcoupling(device: Device, arrays) -> tuple[Any, Any]:
    """(photons to air per emitted photon, forward lumens per sr per emitted photon/s)
    per mesh node, as JAX functions of the arrays' layer thicknesses (traced: the
    optimizer's gradients run through the optics). Zero outside emitters."""
    t_nm = arrays.layers.thickness_m * 1e9
    over = {j: t_nm[j] for j in range(len(device.layers))}
    frac = arrays.node_fraction
    lay = np.asarray(arrays.node_layer)
    g = jnp.zeros(lay.shape, t_nm.dtype)
    fwd = jnp.zeros(lay.shape, t_nm.dtype)
    for k in device.emitter_indices:
        idx = np.nonzero(lay == k)[0]
        t = _emitter_terms(device, k, frac[idx] * t_nm[k], over, angles_deg=(0.0,))
        g = g.at[idx].set(t.photons_to_air)
        fwd = fwd.at[idx].set(t.forward_lm_sr)
    return g, fwd
