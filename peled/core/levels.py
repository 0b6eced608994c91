"""Per-node transport levels and states of a device: the constant parts of the effective
band potentials (:func:`band_offsets`), the image-force lowering at the electrodes and at
screening layers (:mod:`peled.model.contacts.image_force`,
:mod:`peled.model.interfaces.image_plane`) with the charge-free gaps it needs, and each
layer's states per carrier."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from peled.core.params import DeviceArrays, layer_boundaries_m, node_positions_m
from peled.core.scaling import Scaling
from peled.model.contacts.image_force import (
    DEFAULT_IMAGE_CUTOFF_M,
    image_potential_V,
    site_spacing_m,
)
from peled.model.statistics.nanocrystal import ground_level_states_m3


def band_offsets(arrays: DeviceArrays, sc: Scaling):
    """Per-node constant parts of theta_n and theta_p (scaled), and ln(ni/N0)."""
    lp = arrays.layers
    lay = arrays.node_layer
    vt = sc.thermal_voltage_V
    chi = lp.electron_affinity_eV[lay] / vt
    eg = lp.band_gap_eV[lay] / vt
    ln_nc, ln_nv = band_log_dos(arrays, sc)
    off_n = chi + ln_nc
    off_p = chi + eg - ln_nv
    ln_ni = 0.5 * (ln_nc + ln_nv) - 0.5 * eg
    if any(arrays.image_force) or any(arrays.interface_images()):
        # both carriers are drawn to their image charges: LUMO lowered, HOMO raised
        low_n, low_p = image_lowering(arrays, sc)
        off_n = off_n + low_n
        off_p = off_p - low_p
    return off_n, off_p, ln_ni


def image_lowering(arrays: DeviceArrays, sc: Scaling):
    """Image-force lowering of the electron and hole transport levels per node [V_t].

    In the layer next to each electrode that has ``image_force`` on
    (:func:`peled.model.contacts.image_force.image_potential_V`), with the layer's
    permittivity and, as the cut-off, the site spacing N^(-1/3) of a Gaussian layer's
    carrier (1 nm otherwise), and in the layer that sees a screening neighbour as its image
    plane (``interface_image``, peled.model.interfaces.image_plane), U(d + a) at distance
    d from that interface. Zero elsewhere. Both carriers get the same lowering.
    """
    lp = arrays.layers
    m, k = arrays.nodes_per_layer, arrays.n_layers
    x = node_positions_m(arrays)
    bounds = layer_boundaries_m(arrays)
    anode, cathode = image_gaps_m(arrays)
    planes = [
        (arrays.image_force[0], 0, x[:m], anode),
        (arrays.image_force[1], k - 1, bounds[-1] - x[-m:], cathode),
    ]
    gaps = interface_image_gaps_m(arrays)
    for i, tag in enumerate(arrays.interface_images()):
        if tag:
            layer = _receiving_layer(i, tag)
            nodes = x[layer * m : (layer + 1) * m]
            distance = nodes - bounds[i + 1] if tag > 0 else bounds[i + 1] - nodes
            planes.append((True, layer, distance, gaps[i]))
    low = jnp.zeros_like(x)
    for on, layer, distance, gap in planes:
        if on:
            u = image_potential_V(distance, lp.relative_permittivity[layer], gap)
            low = low.at[layer * m : (layer + 1) * m].add(u / sc.thermal_voltage_V)
    return low, low


def _receiving_layer(interface: int, tag: int) -> int:
    """The layer that sees its neighbour across ``interface`` as an image plane."""
    return interface + 1 if tag > 0 else interface


def _first_site_m(arrays: DeviceArrays, layer: int, carriers: tuple[str, ...]):
    """Distance [m] of ``layer``'s first sites from an image plane: the site spacing
    N0^(-1/3) of the first of ``carriers`` with Gauss-Fermi statistics there,
    DEFAULT_IMAGE_CUTOFF_M if none has."""
    dos_n, dos_p = layer_states_m3(arrays)
    for carrier in carriers:
        if arrays.statistics_tags(carrier)[layer] == "gauss_fermi":
            return site_spacing_m((dos_p if carrier == "hole" else dos_n)[layer])
    return jnp.asarray(DEFAULT_IMAGE_CUTOFF_M)


def interface_image_gaps_m(arrays: DeviceArrays):
    """(K-1,) the charge-free gap a [m] at each interface between a screening layer's
    surface and the first sites of the layer that sees it as an image plane
    (``interface_image``): that layer's site spacing N0^(-1/3) where its holes, else its
    electrons, have Gauss-Fermi statistics, DEFAULT_IMAGE_CUTOFF_M otherwise; the same
    value (unused) where the interface has no image."""
    gaps = [
        _first_site_m(arrays, _receiving_layer(i, tag), ("hole", "electron"))
        for i, tag in enumerate(arrays.interface_images())
    ]
    return jnp.stack(gaps) if gaps else jnp.zeros((0,))


def interface_gap_pieces(arrays: DeviceArrays, sc: Scaling, is_int):
    """(N-1,) a / eps_r (scaled length) of the charge-free gap on each interface edge whose
    receiving layer sees its neighbour as an image plane (the gap lies on the receiving
    side: its permittivity), 0 on every other edge."""
    tags = arrays.interface_images()
    zero = jnp.zeros(is_int.shape, arrays.layers.thickness_m.dtype)
    if not any(tags):
        return zero
    m = arrays.nodes_per_layer
    gaps = interface_image_gaps_m(arrays) / sc.length_m
    eps = arrays.layers.relative_permittivity
    for i, tag in enumerate(tags):
        if tag:
            edge = (i + 1) * m - 1  # between the last node of layer i and the first of i + 1
            zero = zero.at[edge].set(gaps[i] / eps[_receiving_layer(i, tag)])
    return zero


def image_gaps_m(arrays: DeviceArrays):
    """The charge-free gap a [m] between each electrode's surface (its image plane and
    the plane where its potential holds) and the contact node, (anode, cathode): the
    site spacing N0^(-1/3) of a Gaussian layer for the carrier the electrode injects
    (holes at the anode, electrons at the cathode), DEFAULT_IMAGE_CUTOFF_M otherwise.
    Used only where ``image_force`` is on (peled.model.contacts.image_force)."""
    return (
        _first_site_m(arrays, 0, ("hole",)),
        _first_site_m(arrays, arrays.n_layers - 1, ("electron",)),
    )


def layer_states_m3(arrays: DeviceArrays):
    """Per-layer states of electrons and holes [m^-3], each (K,): the band DOS (the site
    density under Gauss-Fermi), and for a nanocrystal film the ground level's 2 phi / L^3
    (peled.model.statistics.nanocrystal), so that it follows the crystal size."""
    lp = arrays.layers
    out = []
    for carrier, dos in (
        ("electron", lp.conduction_band_dos_m3),
        ("hole", lp.valence_band_dos_m3),
    ):
        nc = np.asarray([t == "nanocrystal" for t in arrays.statistics_tags(carrier)])
        if nc.any():
            film = ground_level_states_m3(lp.nanocrystal_size_m, lp.nanocrystal_packing_fraction)
            dos = jnp.where(nc, film, dos)
        out.append(dos)
    return out[0], out[1]


def band_log_dos(arrays: DeviceArrays, sc: Scaling):
    """Per-node ln(N_c/N0) and ln(N_v/N0) [-]."""
    lay = arrays.node_layer
    nc, nv = layer_states_m3(arrays)
    ln_nc = jnp.log(nc[lay] / sc.density_m3)
    ln_nv = jnp.log(nv[lay] / sc.density_m3)
    return ln_nc, ln_nv
