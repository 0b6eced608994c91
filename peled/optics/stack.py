"""The device as an optical multilayer: optical constants per wavelength and the
:class:`~peled.optics.dipole.DipoleStack` around an emitter.

From the substrate up: the thick incoherent substrate (the device's ``substrate``), the
anode (its ``thickness_nm``, default 150 nm for ITO and 100 nm otherwise), the layers,
the cathode (100 nm unless given) and air (n = 1); an inverted stack
(``substrate_side: cathode``) reads the other way round. Each layer's complex index
n + i k comes from its material's ``optical_constants`` table, interpolated linearly in
wavelength, or from its constant ``refractive_index`` / ``extinction_coefficient``
(non-dispersive) where it has no table or the device overrides them. The emitter's
extinction is dropped (a lossless source medium, :mod:`peled.optics.dipole`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from peled.device import Device, Optical
from peled.errors import PeledInputError
from peled.optics.dipole import DipoleStack

#: index of the ambient above the top electrode (air)
AIR_INDEX = 1.0


def complex_index(optical: Optical, wavelengths_nm: Sequence[float], where: str) -> np.ndarray:
    """n + i k [-] at each wavelength [nm]; a table must cover every wavelength."""
    lam = np.asarray(wavelengths_nm, dtype=float)
    t = optical.table
    if t is None:
        return np.full(lam.shape, optical.refractive_index + 1j * optical.extinction_coefficient)
    lo, hi = t.wavelength_nm[0], t.wavelength_nm[-1]
    outside = lam[(lam < lo) | (lam > hi)]
    if outside.size:
        raise PeledInputError(
            f"{where}: its optical_constants table covers {lo:g}-{hi:g} nm, not "
            f"{outside.min():g} nm..{outside.max():g} nm; choose wavelengths inside it or "
            "override refractive_index/extinction_coefficient with constants"
        )
    n = np.interp(lam, t.wavelength_nm, t.refractive_index)
    k = np.interp(lam, t.wavelength_nm, t.extinction_coefficient)
    return n + 1j * k


def emitter_index(device: Device, layer: int | None = None) -> int:
    """The emitting layer's index in ``device.layers`` (the first emitter by default)."""
    if layer is not None:
        if not device.layers[layer].material.emits:
            raise PeledInputError(f"layer {layer} ({device.layers[layer].material.name}) "
                                  "is not an emitter")
        return layer
    if not device.emitter_indices:
        raise PeledInputError(f"{device.name}: the stack has no emitter layer")
    return device.emitter_indices[0]


def dipole_stack(
    device: Device,
    wavelengths_nm: Sequence[float],
    emitter: int | None = None,
    thickness_nm: dict[int, object] | None = None,
) -> DipoleStack:
    """The :class:`DipoleStack` around ``emitter`` (layer index) at the wavelengths.

    ``thickness_nm`` replaces layer thicknesses by index (values may be traced JAX
    scalars: gradients with respect to thicknesses flow through the optics);
    ``"anode"`` and ``"cathode"`` keys set the electrodes'.
    """
    e = emitter_index(device, emitter)
    lam = np.asarray(wavelengths_nm, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(lam <= 0):
        raise PeledInputError(f"wavelengths must be positive numbers in nm, got {lam}")
    over = thickness_nm or {}

    # numpy float64/complex128 (not jnp arrays, which are float32 outside jax.enable_x64):
    # the optics runs in double precision whoever calls it; a thickness override may be
    # a traced JAX value (gradients) and is passed through
    def eps(optical: Optical, where: str) -> np.ndarray:
        return complex_index(optical, lam, where).astype(np.complex128) ** 2

    def thick(key, default: float):
        value = over.get(key, default)
        return np.asarray(value, dtype=np.float64) if isinstance(value, int | float) else value

    layers = device.layers
    toward_anode = [(eps(layers[j].optical, f"layer {j} ({layers[j].material.name})"),
                     thick(j, layers[j].thickness_nm)) for j in range(e - 1, -1, -1)]
    toward_anode.append((eps(device.anode.optical, f"anode ({device.anode.name})"),
                         thick("anode", device.anode.thickness_nm)))
    toward_cathode = [(eps(layers[j].optical, f"layer {j} ({layers[j].material.name})"),
                       thick(j, layers[j].thickness_nm)) for j in range(e + 1, len(layers))]
    toward_cathode.append((eps(device.cathode.optical, f"cathode ({device.cathode.name})"),
                           thick("cathode", device.cathode.thickness_nm)))
    below, above = toward_anode, toward_cathode
    if device.substrate_side == "cathode":  # an inverted stack: the cathode on the glass
        below, above = toward_cathode, toward_anode
    n_e = np.real(complex_index(layers[e].optical, lam, f"emitter ({layers[e].material.name})"))
    n_sub = np.real(complex_index(device.substrate.optical, lam, "substrate"))
    for name, n_out in (("substrate", n_sub), ("air", np.full_like(lam, AIR_INDEX))):
        if np.any(n_out >= n_e):
            raise PeledInputError(
                f"{device.name}: the {name} index ({n_out.max():.3f}) is not below the "
                f"emitter's ({n_e.min():.3f}); the dipole model needs n_outer < n_emitter"
            )
    return DipoleStack(
        wavelength_nm=lam,
        n_emitter=n_e,
        emitter_thickness_nm=thick(e, layers[e].thickness_nm),
        eps_below=tuple(x for x, _ in below),
        d_below=tuple(d for _, d in below),
        eps_substrate=eps(device.substrate.optical, "substrate"),
        eps_above=tuple(x for x, _ in above),
        d_above=tuple(d for _, d in above),
        eps_top=np.full(lam.shape, AIR_INDEX**2 + 0j),
    )


def substrate_side_depth(device: Device, emitter: int, from_anode_nm, thickness_nm=None):
    """Dipole distances from the emitter's substrate-side boundary (what
    :mod:`peled.optics.dipole` takes) for distances [nm] from its anode-side boundary
    (numpy or traced JAX values)."""
    d = device.layers[emitter].thickness_nm if thickness_nm is None else thickness_nm
    return d - from_anode_nm if device.substrate_side == "cathode" else from_anode_nm


#: closest a dipole sits to the film boundary where the emitter has no crystal size [nm]
MIN_DIPOLE_DEPTH_NM = 0.5


def dipole_depth_nm(device: Device, emitter: int) -> float:
    """How close [nm] a dipole comes to its film's boundaries: excitons sit inside the
    crystals, half a crystal edge deep (``nanocrystal_size_nm``/2), else
    :data:`MIN_DIPOLE_DEPTH_NM`."""
    size = device.layers[emitter].material.nanocrystal_size_nm
    return MIN_DIPOLE_DEPTH_NM if size is None else size / 2
