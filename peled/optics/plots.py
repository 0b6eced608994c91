"""Plots of the optics study (matplotlib, Agg canvas): mode budget against dipole position
and against a layer's thickness, and the angular radiance."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from peled.optics.dipole import CHANNELS
from peled.optics.study import OpticsStudy
from peled.plotting import _figure, _save

_LABELS = {
    "to_air": "to air",
    "to_substrate": "substrate (trapped)",
    "waveguided": "waveguided",
    "evanescent": "evanescent (SPP, lossy waves)",
    "absorbed": "absorbed / back side",
}
_COLOURS = {
    "to_air": "#2ca02c",
    "to_substrate": "#1f77b4",
    "waveguided": "#ff7f0e",
    "evanescent": "#d62728",
    "absorbed": "#7f7f7f",
}


def _stack(ax, x: np.ndarray, fractions: dict[str, np.ndarray]) -> None:
    ax.stackplot(
        x,
        *[fractions[c] for c in CHANNELS],
        labels=[_LABELS[c] for c in CHANNELS],
        colors=[_COLOURS[c] for c in CHANNELS],
        alpha=0.85,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("fraction of the dipole's power")
    ax.grid(alpha=0.3)


def plot_mode_budget(st: OpticsStudy, path: Path, wavelength_index: int = 0) -> Path:
    """Isotropic mode budget (stacked) and Purcell factor against dipole position."""
    fig = _figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot(111)
    x = st.positions_nm
    _stack(ax, x, {c: st.fractions[c][0, wavelength_index] for c in CHANNELS})
    ax.set_xlabel(f"dipole position in {st.emitter} from its anode-side edge (nm)")
    ax.set_xlim(0, x[-1] + x[0])
    twin = ax.twinx()
    twin.plot(x, st.purcell_factor[0, wavelength_index], "k--", label="Purcell factor F")
    twin.set_ylabel("Purcell factor F (dashed)")
    lam = st.wavelengths_nm[wavelength_index]
    ax.set_title(f"{st.device_name}: isotropic dipoles at {lam:g} nm ({st.emission_side} emission)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.12, 1.0), fontsize=8)
    return _save(fig, path)


def plot_thickness_scan(scan: dict[str, np.ndarray], layer_name: str, path: Path) -> Path:
    """Isotropic mode budget (averaged across the emitter) against a layer's thickness."""
    fig = _figure(figsize=(7.5, 4.2))
    ax = fig.add_subplot(111)
    _stack(ax, scan["thickness_nm"], {c: scan[c] for c in CHANNELS})
    ax.set_xlabel(f"{layer_name} thickness (nm)")
    ax.set_xlim(scan["thickness_nm"][0], scan["thickness_nm"][-1])
    best = int(np.argmax(scan["to_air"]))
    ax.axvline(scan["thickness_nm"][best], color="k", lw=0.8)
    ax.set_title(
        f"outcoupling to air peaks at {scan['to_air'][best]:.1%} "
        f"({layer_name} {scan['thickness_nm'][best]:.1f} nm)"
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
    return _save(fig, path)


def plot_angular(
    angles_deg: np.ndarray, wavelengths_nm: np.ndarray, intensity: np.ndarray, path: Path
) -> Path:
    """Radiant intensity into air against angle, per wavelength, over a Lambertian source
    of the same forward intensity."""
    fig = _figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot(111)
    th = np.deg2rad(angles_deg)
    for il, lam in enumerate(wavelengths_nm):
        ax.plot(angles_deg, intensity[il] / intensity[il, 0], label=f"{lam:g} nm")
    ax.plot(angles_deg, np.cos(th), "k:", label="Lambertian")
    ax.set_xlabel("angle in air (deg)")
    ax.set_ylabel("radiant intensity / its value at 0 deg")
    ax.set_xlim(0, 90)
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("angular emission (isotropic dipoles, averaged across the emitter)")
    return _save(fig, path)
