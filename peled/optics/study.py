"""An optical-only study of a device: the mode budget and Purcell factor of its emitter
against dipole position, wavelength and orientation (``peled optics``), and against one
layer's thickness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jax
import numpy as np

from peled.device import Device
from peled.optics.coupling import _budget, _intensity
from peled.optics.dipole import (
    CHANNELS,
    HORIZONTAL_FRACTION,
    ORIENTATIONS,
    mode_budget,
    orientation_budget,
)
from peled.optics.stack import (
    dipole_depth_nm,
    dipole_stack,
    emitter_index,
    substrate_side_depth,
)

#: columns of outcoupling.csv, in order
OUTCOUPLING_COLUMNS = (
    "position_nm",
    "wavelength_nm",
    "orientation",
    "purcell_factor",
    *CHANNELS,
)



def dipole_positions(thickness_nm: float, n: int, depth_nm: float = 0.0) -> np.ndarray:
    """``n`` dipole positions [nm] from the emitter's anode-side edge: the centres of
    ``n`` equal slices of the film less ``depth_nm`` at each boundary (never on a
    boundary, where an absorbing neighbour's near field diverges)."""
    if n < 1:
        raise ValueError(f"need at least one position, got {n}")
    depth = min(depth_nm, thickness_nm / 2)
    return depth + (np.arange(n) + 0.5) * (thickness_nm - 2 * depth) / n


@dataclass(frozen=True)
class OpticsStudy:
    """Mode budget of one emitter: arrays of shape (orientation, wavelength, position)."""

    device_name: str
    emitter: str
    emission_side: str
    positions_nm: np.ndarray
    wavelengths_nm: np.ndarray
    purcell_factor: np.ndarray
    fractions: dict[str, np.ndarray]

    def rows(self) -> list[dict[str, object]]:
        """One row per (position, wavelength, orientation): :data:`OUTCOUPLING_COLUMNS`."""
        out = []
        for ip, z in enumerate(self.positions_nm):
            for il, lam in enumerate(self.wavelengths_nm):
                for io, name in enumerate(ORIENTATIONS):
                    row: dict[str, object] = {
                        "position_nm": float(z),
                        "wavelength_nm": float(lam),
                        "orientation": name,
                        "purcell_factor": float(self.purcell_factor[io, il, ip]),
                    }
                    row.update({c: float(self.fractions[c][io, il, ip]) for c in CHANNELS})
                    out.append(row)
        return out


def study(
    device: Device,
    wavelengths_nm: Sequence[float] | None = None,
    n_positions: int = 11,
    emitter: int | None = None,
) -> OpticsStudy:
    """Mode budget at ``n_positions`` dipole positions across the emitter (no closer to
    its boundaries than :func:`dipole_depth_nm`) and at the wavelengths [nm] (default:
    the emitter's emission peak)."""
    e = emitter_index(device, emitter)
    mat = device.layers[e].material
    lam = np.asarray(
        [mat.emission_peak_nm] if wavelengths_nm is None else list(wavelengths_nm), dtype=float
    )
    stack = dipole_stack(device, lam, e)
    z = dipole_positions(device.layers[e].thickness_nm, n_positions, dipole_depth_nm(device, e))
    with jax.enable_x64(True):
        b = _budget(stack, substrate_side_depth(device, e, z), emission_side=device.emission_side)
        per = [orientation_budget(b, HORIZONTAL_FRACTION[o]) for o in ORIENTATIONS]
        per = jax.device_get(per)
    return OpticsStudy(
        device_name=device.name,
        emitter=mat.name,
        emission_side=device.emission_side,
        positions_nm=z,
        wavelengths_nm=lam,
        purcell_factor=np.stack([np.asarray(p["purcell_factor"]) for p in per]),
        fractions={c: np.stack([np.asarray(p[c]) for p in per]) for c in CHANNELS},
    )


def thickness_scan(
    device: Device,
    layer: int | str,
    thicknesses_nm: Sequence[float],
    wavelength_nm: float | None = None,
    n_positions: int = 5,
    emitter: int | None = None,
) -> dict[str, np.ndarray]:
    """Isotropic mode budget, averaged over ``n_positions`` positions across the emitter,
    against one layer's thickness [nm] (``layer``: its index, or "anode"/"cathode")."""
    e = emitter_index(device, emitter)
    mat = device.layers[e].material
    lam = np.asarray([mat.emission_peak_nm if wavelength_nm is None else wavelength_nm])
    rows = {c: [] for c in ("purcell_factor", *CHANNELS)}
    with jax.enable_x64(True):
        for d in thicknesses_nm:
            stack = dipole_stack(device, lam, e, thickness_nm={layer: float(d)})
            emitter_d = float(d) if layer == e else device.layers[e].thickness_nm
            z = dipole_positions(emitter_d, n_positions, dipole_depth_nm(device, e))
            z = substrate_side_depth(device, e, z, emitter_d)
            o = orientation_budget(_budget(stack, z, emission_side=device.emission_side),
                                   HORIZONTAL_FRACTION["isotropic"])
            for c in rows:
                rows[c].append(float(np.mean(np.asarray(o[c]))))
    out = {c: np.asarray(v) for c, v in rows.items()}
    out["thickness_nm"] = np.asarray(thicknesses_nm, dtype=float)
    return out


def angular_radiance(
    device: Device,
    wavelengths_nm: Sequence[float],
    angles_deg: Sequence[float],
    emitter: int | None = None,
    n_positions: int = 5,
    horizontal_fraction: float = HORIZONTAL_FRACTION["isotropic"],
) -> np.ndarray:
    """Radiant intensity into air per steradian [1/sr] per unit dipole power, averaged
    over ``n_positions`` positions across the emitter, shape (wavelength, angle)."""
    e = emitter_index(device, emitter)
    stack = dipole_stack(device, wavelengths_nm, e)
    z = dipole_positions(device.layers[e].thickness_nm, n_positions, dipole_depth_nm(device, e))
    z = substrate_side_depth(device, e, z)
    th = horizontal_fraction
    with jax.enable_x64(True):
        i = _intensity(stack, z, np.asarray(angles_deg, dtype=float),
                       emission_side=device.emission_side)
        total = (1 - th) * i["v"] + th * (i["hp"] + i["hs"])
        return np.asarray(total).mean(axis=1)


def maximize_outcoupling(
    device: Device,
    layers: Sequence[int | str],
    bounds_nm: Sequence[tuple[float, float]],
    wavelength_nm: float | None = None,
    n_positions: int = 7,
    emitter: int | None = None,
) -> dict[str, object]:
    """Thicknesses [nm] of ``layers`` (indices, or "anode"/"cathode") within ``bounds_nm``
    that maximise the isotropic outcoupling to air, averaged over ``n_positions``
    positions across the emitter (which keeps its thickness), by L-BFGS-B with the exact
    gradient through the optics (jax.grad). Returns the thicknesses, the outcoupling
    before and after, and the optimiser's message. A local optimum from the device's
    thicknesses (clipped into the bounds)."""
    from scipy.optimize import minimize

    e = emitter_index(device, emitter)
    if e in layers:
        raise ValueError("the emitter's own thickness moves its dipoles; vary other layers")
    mat = device.layers[e].material
    lam = np.asarray([mat.emission_peak_nm if wavelength_nm is None else wavelength_nm])
    z = dipole_positions(device.layers[e].thickness_nm, n_positions, dipole_depth_nm(device, e))
    z = substrate_side_depth(device, e, z)
    side = device.emission_side

    def start(key):
        return device.layers[key].thickness_nm if isinstance(key, int) else getattr(
            device, key).thickness_nm

    def eta(x):
        stack = dipole_stack(device, lam, e, thickness_nm=dict(zip(layers, x, strict=True)))
        o = orientation_budget(mode_budget(stack, z, side), HORIZONTAL_FRACTION["isotropic"])
        return o["to_air"].mean()

    with jax.enable_x64(True):
        value_and_grad = jax.jit(jax.value_and_grad(lambda x: -eta(list(x))))

        def fun(x):
            v, g = value_and_grad(jax.numpy.asarray(x))
            return float(v), np.asarray(g, dtype=float)

        x0 = np.clip([start(k) for k in layers], [b[0] for b in bounds_nm],
                     [b[1] for b in bounds_nm])
        before = -fun(np.asarray([start(k) for k in layers], dtype=float))[0]
        res = minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=list(bounds_nm))
    return {
        "layers": list(layers),
        "thickness_nm": [float(v) for v in res.x],
        "outcoupling_before": before,
        "outcoupling_after": -float(res.fun),
        "message": str(res.message),
        "iterations": int(res.nit),
    }
