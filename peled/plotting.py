"""Plots of a simulation (matplotlib, Agg canvas; never imported by the core)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from peled.io import atomic_path

if TYPE_CHECKING:
    from peled.device import Device
    from peled.simulate import SimulationResult


def _figure(**kw):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    return path


def default_profile_biases(
    res: SimulationResult, biases_V: Sequence[float] | None = None
) -> list[int]:
    """Indices of the turn-on bias, the EQE maximum and the highest converged bias (or
    of the converged biases nearest to ``biases_V`` [V])."""
    from peled.metrics import profile_bias_indices

    return profile_bias_indices(res, biases_V)


def _layer_edges(device: Device) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum([la.thickness_nm for la in device.layers])])


def plot_all(res: SimulationResult, out_dir, biases_V: Sequence[float] | None = None) -> list:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from peled.metrics import profile_bias_indices

    idx = profile_bias_indices(res, biases_V)
    return [
        plot_jvl(res, out / "jvl.png"),
        plot_rolloff(res, out / "eqe_rolloff.png"),
        plot_bands(res, idx, out / "band_diagram.png"),
        plot_recombination(res, idx, out / "recombination_zone.png"),
    ]


def plot_jvl(res: SimulationResult, path: Path) -> Path:
    fig = _figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    j = np.abs(res.current_density_mA_cm2)
    ax.semilogy(res.voltage_V, np.where(j > 0, j, np.nan), "C0-", label="J")
    ax.set_xlabel("Voltage (V)")
    ax.set_ylabel("Current density (mA cm$^{-2}$)", color="C0")
    ax2 = ax.twinx()
    lum = res.luminance_cd_m2
    ax2.semilogy(res.voltage_V, np.where(lum > 0, lum, np.nan), "C3-", label="L")
    ax2.set_ylabel("Luminance (cd m$^{-2}$)", color="C3")
    # show the decades a J-V-L measurement resolves (~1e-6 of the maximum and up)
    if np.any(j > 0):
        jmax = np.nanmax(j)
        ax.set_ylim(max(np.nanmin(np.where(j > 0, j, np.inf)), 1e-6 * jmax), 3 * jmax)
    if np.any(lum > 0):
        lmax = np.nanmax(lum)
        ax2.set_ylim(min(1e-2, 1e-3 * lmax), 3 * lmax)
    ax2.axhline(1.0, color="C3", lw=0.6, ls=":")
    bad = ~res.converged
    if np.any(bad):
        ax.plot(
            res.voltage_V[bad], np.full(bad.sum(), ax.get_ylim()[0]), "kx", label="not converged"
        )
        ax.legend(loc="upper left")
    ax.set_title(res.device.name)
    return _save(fig, path)


def plot_rolloff(res: SimulationResult, path: Path) -> Path:
    fig = _figure(figsize=(6, 4.2))
    ax = fig.add_subplot()
    j = res.current_density_mA_cm2
    ok = np.isfinite(res.eqe_percent) & (j > 0)
    if np.any(ok):  # the resolved range of a measurement: 1e-8 of the maximum J and up
        ok &= j >= 1e-8 * np.nanmax(j[ok])
    ax.semilogx(j[ok], res.eqe_percent[ok], "C2-")
    ax.set_xlabel("Current density (mA cm$^{-2}$)")
    ax.set_ylabel("EQE (%)", color="C2")
    ax2 = ax.twinx()
    ax2.semilogx(j[ok], res.current_efficiency_cd_A[ok], "C1--")
    ax2.set_ylabel("Current efficiency (cd A$^{-1}$)", color="C1")
    ax.set_title(f"EQE roll-off, {res.device.name}")
    return _save(fig, path)


def plot_bands(res: SimulationResult, idx: Sequence[int], path: Path) -> Path:
    """Band diagram with quasi-Fermi levels, one panel per profile bias (energies relative
    to the cathode's Fermi level), layer boundaries and names marked."""
    n = max(len(idx), 1)
    fig = _figure(figsize=(7, 2.6 * n + 0.6))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    x = res.position_nm
    p = res.profiles
    edges = _layer_edges(res.device)
    for ax, k in zip(axes, idx, strict=False):
        ax.plot(x, p["conduction_band_eV"][k], "C0-", label="$E_c$")
        ax.plot(x, p["valence_band_eV"][k], "C3-", label="$E_v$")
        ax.plot(x, p["electron_quasi_fermi_eV"][k], "C0--", lw=0.9, label="$E_{Fn}$")
        ax.plot(x, p["hole_quasi_fermi_eV"][k], "C3:", lw=1.1, label="$E_{Fp}$")
        for e in edges[1:-1]:
            ax.axvline(e, color="0.7", lw=0.6)
        for i, la in enumerate(res.device.layers):
            ax.text(
                0.5 * (edges[i] + edges[i + 1]),
                0.97,
                la.material.name,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=7,
            )
        ax.set_ylabel("Energy (eV)")
        ax.set_title(f"{res.voltage_V[k]:.2f} V", fontsize=9, loc="right")
        ax.legend(fontsize=7, loc="lower left", ncol=4)
    axes[-1].set_xlabel("Position from anode (nm)")
    axes[-1].set_xlim(edges[0], edges[-1])
    fig.suptitle(f"Band diagram, {res.device.name}", fontsize=10)
    return _save(fig, path)


def plot_recombination(res: SimulationResult, idx: Sequence[int], path: Path) -> Path:
    fig = _figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    x = res.position_nm
    from peled.metrics import zone_summary

    top = 0.0
    for c, k in enumerate(idx):
        r = res.profiles["radiative_rate_cm3_s"][k]
        top = max(top, float(np.nanmax(r)))
        z = zone_summary(res, k)
        lab = f"R_rad {res.voltage_V[k]:.2f} V"
        if z.get("centroid_nm") is not None:
            lab += f" (centroid {z['centroid_nm']:.1f} nm, FWHM {z['fwhm_nm']:.1f} nm)"
            ax.axvline(z["centroid_nm"], color=f"C{c}", ls="--", lw=0.8)
        ax.semilogy(x, np.where(r > 0, r, np.nan), f"C{c}-", label=lab)
        s = res.profiles["srh_rate_cm3_s"][k] + res.profiles["auger_rate_cm3_s"][k]
        ax.semilogy(x, np.where(s > 0, s, np.nan), f"C{c}:", lw=0.9)
    if top > 0:  # ten decades below the highest radiative rate
        ax.set_ylim(1e-10 * top, 30 * top)
    edges = _layer_edges(res.device)
    for i, la in enumerate(res.device.layers):
        if la.material.emits:
            ax.axvspan(edges[i], edges[i + 1], color="g", alpha=0.08)
        ax.text(
            0.5 * (edges[i] + edges[i + 1]),
            0.02,
            la.material.name,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    for e in edges[1:-1]:
        ax.axvline(e, color="0.7", lw=0.6)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("Position from anode (nm)")
    ax.set_ylabel("Recombination rate (cm$^{-3}$ s$^{-1}$)")
    ax.set_title(
        "Recombination zone (solid: radiative, dotted: SRH + Auger, dashed: centroid)",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def plot_flat_band(device: Device, path: Path) -> Path:
    """Flat-band energy-level diagram: vacuum-referenced CB/VB boxes, work functions."""
    fig = _figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    edges = _layer_edges(device)
    total = edges[-1]
    pad = 0.12 * total
    ax.hlines(-device.anode.work_function_eV, -pad, 0, colors="k", lw=2)
    ax.text(
        -pad / 2,
        -device.anode.work_function_eV - 0.15,
        f"{device.anode.name}\n{device.anode.work_function_eV:.2f}",
        ha="center",
        va="top",
        fontsize=7,
    )
    ax.hlines(-device.cathode.work_function_eV, total, total + pad, colors="k", lw=2)
    ax.text(
        total + pad / 2,
        -device.cathode.work_function_eV + 0.15,
        f"{device.cathode.name}\n{device.cathode.work_function_eV:.2f}",
        ha="center",
        va="bottom",
        fontsize=7,
    )
    for i, la in enumerate(device.layers):
        m = la.material
        a, b = edges[i], edges[i + 1]
        col = "tab:green" if m.emits else f"C{i % 10}"
        ax.fill_between(
            [a, b], -m.ionization_energy_eV, -m.electron_affinity_eV, color=col, alpha=0.25
        )
        ax.hlines([-m.electron_affinity_eV, -m.ionization_energy_eV], a, b, colors=col)
        ax.text(
            0.5 * (a + b),
            -m.electron_affinity_eV + 0.1,
            f"{m.electron_affinity_eV:.2f}",
            ha="center",
            fontsize=7,
        )
        ax.text(
            0.5 * (a + b),
            -m.ionization_energy_eV - 0.1,
            f"{m.ionization_energy_eV:.2f}",
            ha="center",
            va="top",
            fontsize=7,
        )
        ax.text(
            0.5 * (a + b),
            -0.5 * (m.electron_affinity_eV + m.ionization_energy_eV),
            f"{m.name}\n{la.thickness_nm:g} nm",
            ha="center",
            va="center",
            fontsize=7,
        )
    ax.set_xlim(-pad, total + pad)
    ax.set_xlabel("Position (nm, to scale)")
    ax.set_ylabel("Energy vs vacuum (eV)")
    ax.set_title(f"{device.name}: flat-band energy levels")
    return _save(fig, path)
