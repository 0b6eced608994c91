"""Plots of a simulation (matplotlib, Agg canvas; never imported by the core)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from peled.io import atomic_path

if TYPE_CHECKING:
    from peled.device import Device
    from peled.result import SimulationResult


def _figure(**kw):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kw)
    FigureCanvasAgg(fig)
    return fig


def _room_for_title(fig, inches: float = 0.7) -> None:
    """Put the top of the axes ``inches`` below the figure's top edge, whatever its
    height: a two-line suptitle and the layer names above the top panel need ~0.6 in,
    which the default top of 0.88 gives only to figures taller than ~5 in."""
    fig.subplots_adjust(top=1.0 - inches / fig.get_figheight())


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _pos=None) -> str:
    """A log axis' major tick label as 10 with a Unicode superscript exponent ("10⁻³"),
    as matplotlib's default draws it, but without its mathtext parser: the ~90 distinct
    labels of the five plots were ~0.5 s of a run."""
    if not value > 0:
        return ""
    exponent = np.log10(value)
    if abs(exponent - round(exponent)) > 1e-9:
        return f"{value:g}"
    return "10" + str(int(round(exponent))).translate(_SUPERSCRIPT)


def _plain_log_labels(fig) -> None:
    """Major labels of every log axis by :func:`_power_of_ten` (minor labels, drawn by
    matplotlib only on an axis spanning less than about a decade, keep its formatter)."""
    from matplotlib.ticker import FuncFormatter

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_major_formatter(FuncFormatter(_power_of_ten))


def _save(fig, path: Path) -> Path:
    _plain_log_labels(fig)
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
        plot_densities(res, idx, out / "carrier_densities.png"),
    ]


def jvl_figure(res: SimulationResult):
    """J-V and L-V on two log axes, the 1 cd/m^2 line and the turn-on labelled, biases
    that are not resolved or not strictly converged drawn as hollow markers."""
    from peled.metrics import turn_on_voltage

    fig = _figure(figsize=(6.4, 4.4))
    ax = fig.add_subplot()
    v = res.voltage_V
    j = np.abs(res.current_density_mA_cm2)
    lum = res.luminance_cd_m2
    ok = res.trusted
    ax.semilogy(v, np.where(j > 0, j, np.nan), "C0-", lw=1.4)
    ax.set_xlabel("Voltage (V)")
    ax.set_ylabel("Current density J (mA cm⁻²)", color="C0")
    ax2 = ax.twinx()
    ax2.semilogy(v, np.where(lum > 0, lum, np.nan), "C3-", lw=1.4)
    ax2.set_ylabel("Luminance L (cd m⁻²)", color="C3")
    # the decades a J-V-L measurement resolves (~1e-6 of the maximum and up)
    if np.any(j > 0):
        jmax = np.nanmax(j)
        ax.set_ylim(max(np.nanmin(np.where(j > 0, j, np.inf)), 1e-6 * jmax), 3 * jmax)
    if np.any(lum > 0):
        lmax = np.nanmax(lum)
        ax2.set_ylim(min(1e-2, 1e-3 * lmax), 3 * max(lmax, 1.0))
    ax2.axhline(1.0, color="C3", lw=0.7, ls=":")
    ax2.annotate("1 cd m⁻²", (v[0], 1.0), xytext=(2, 2), textcoords="offset points",
                 color="C3", fontsize=7, va="bottom")
    turn_on, _ = turn_on_voltage(v, lum)
    if turn_on is not None:
        ax2.axvline(turn_on, color="0.4", lw=0.7, ls="--")
        ax2.annotate(f"turn-on {turn_on:.2f} V", (turn_on, 1.0), xytext=(4, -12),
                     textcoords="offset points", fontsize=7, color="0.3")
    handles = []
    untrusted = res.converged & ~ok
    if np.any(untrusted):
        (h,) = ax.plot(v[untrusted], np.where(j[untrusted] > 0, j[untrusted], np.nan), "o",
                       mfc="none", mec="C0", ms=3,
                       label="J below its round-off floor or not strictly converged")
        handles.append(h)
    bad = ~res.converged
    if np.any(bad):
        (h,) = ax.plot(v[bad], np.full(bad.sum(), ax.get_ylim()[0]), "kx", label="not converged")
        handles.append(h)
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False)
    ax.set_title(res.device.name)
    return fig


def plot_jvl(res: SimulationResult, path: Path) -> Path:
    return _save(jvl_figure(res), path)


def rolloff_figure(res: SimulationResult):
    """EQE against current density and against luminance, side by side (current
    efficiency is EQE times a constant of the spectrum, so it gets its own scale on the
    right-hand axis of the luminance panel only as a label); hollow markers: biases that
    are not resolved or not strictly converged."""
    fig = _figure(figsize=(9.6, 4.0))
    ax_j, ax_l = fig.subplots(1, 2, sharey=True)
    j = res.current_density_mA_cm2
    lum = res.luminance_cd_m2
    eqe = res.eqe_percent
    shown = np.isfinite(eqe) & (j > 0)
    if np.any(shown):  # the decades a measurement resolves: 1e-6 of the maximum J and up
        shown &= j >= 1e-6 * np.nanmax(j[shown])
    ok = res.trusted & shown
    weak = res.converged & ~res.trusted & shown
    for ax, x, label in (
        (ax_j, j, "Current density (mA cm⁻²)"),
        (ax_l, lum, "Luminance (cd m⁻²)"),
    ):
        ax.semilogx(np.where(ok, x, np.nan), np.where(ok, eqe, np.nan), "C2-", lw=1.4)
        if np.any(weak & (x > 0)):
            ax.semilogx(x[weak & (x > 0)], eqe[weak & (x > 0)], "o", mfc="none", mec="C2",
                        ms=3, label="J below its round-off floor or not strict")
            ax.legend(loc="upper right", fontsize=7)
        ax.set_xlabel(label)
        ax.grid(True, which="major", alpha=0.3)
    ax_j.set_ylabel("EQE (%)")
    if np.any(ok):
        k = int(np.nanargmax(np.where(ok, eqe, -np.inf)))
        ce = res.current_efficiency_cd_A[k] / eqe[k] if eqe[k] > 0 else np.nan
        ax_j.set_title(f"EQE max {eqe[k]:.3g} % at {j[k]:.3g} mA cm⁻²"
                       f" (resolved, strict)", fontsize=9)
        if np.isfinite(ce):
            ax_l.set_title(f"current efficiency = {ce:.3g} cd A⁻¹ per % EQE",
                           fontsize=9)
    fig.suptitle(f"EQE roll-off, {res.device.name}", fontsize=10)
    return fig


def plot_rolloff(res: SimulationResult, path: Path) -> Path:
    return _save(rolloff_figure(res), path)


def bands_figure(res: SimulationResult, idx: Sequence[int]):
    """Band diagram with quasi-Fermi levels, one panel per profile bias, energies relative
    to the cathode's Fermi level (0 eV), layer boundaries and names marked, the legend
    beside the panels."""
    n = max(len(idx), 1)
    fig = _figure(figsize=(7.6, 2.6 * n + 0.6))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    x = res.position_nm
    p = res.profiles
    edges = _layer_edges(res.device)
    for ax, k in zip(axes, idx, strict=False):
        ax.plot(x, p["conduction_band_eV"][k], "C0-", label="Ec (LUMO)")
        ax.plot(x, p["valence_band_eV"][k], "C3-", label="Ev (HOMO)")
        ax.plot(x, p["electron_quasi_fermi_eV"][k], "C0--", lw=0.9, label="EFn")
        ax.plot(x, p["hole_quasi_fermi_eV"][k], "C3:", lw=1.1, label="EFp")
        for e in edges[1:-1]:
            ax.axvline(e, color="0.7", lw=0.6)
        for i, la in enumerate(res.device.layers):
            ax.text(0.5 * (edges[i] + edges[i + 1]), 1.01, la.material.name,
                    transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7)
        ax.set_ylabel("Energy (eV)")
        ax.text(1.02, 0.02, f"{res.voltage_V[k]:.2f} V", transform=ax.transAxes, fontsize=9)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    axes[-1].set_xlabel("Position from anode (nm)")
    axes[-1].set_xlim(edges[0], edges[-1])
    fig.suptitle(
        f"Band diagram, {res.device.name}\n(energies relative to the cathode's Fermi level)",
        fontsize=10,
    )
    _room_for_title(fig)
    return fig


def plot_bands(res: SimulationResult, idx: Sequence[int], path: Path) -> Path:
    return _save(bands_figure(res, idx), path)


def recombination_figure(res: SimulationResult, idx: Sequence[int]):
    """Radiative and non-radiative rates over the emitter and 10 nm on either side, each
    bias relative to its own radiative peak down to 1e-4 (profiles.csv has the rates),
    the emitter shaded, the legend below; a zone thinner than the mesh reports its width
    as unresolved instead of a number."""
    fig = _figure(figsize=(7.2, 5.2))
    ax = fig.add_subplot()
    x = res.position_nm
    from peled.metrics import zone_summary

    for c, k in enumerate(idx):
        # each bias relative to its own radiative peak: biases decades apart stay readable
        peak = float(np.nanmax(res.profiles["radiative_rate_cm3_s"][k]))
        peak = peak if np.isfinite(peak) and peak > 0 else 1.0
        r = res.profiles["radiative_rate_cm3_s"][k] / peak
        z = zone_summary(res, k)
        lab = f"{res.voltage_V[k]:.2f} V"
        if z.get("centroid_nm") is not None:
            width = z["fwhm_nm"]
            spacing = float(np.min(np.diff(x)))
            w = (f"FWHM {width:.1f} nm" if width >= 2 * spacing
                 else "FWHM below the mesh spacing")
            lab += f": centroid {z['centroid_nm']:.1f} nm, {w}"
            ax.axvline(z["centroid_nm"], color=f"C{c}", ls="--", lw=0.8)
        ax.semilogy(x, np.where(r > 0, r, np.nan), f"C{c}-", label=lab + " (radiative)")
        s = (res.profiles["srh_rate_cm3_s"][k] + res.profiles["auger_rate_cm3_s"][k]) / peak
        ax.semilogy(x, np.where(s > 0, s, np.nan), f"C{c}:", lw=0.9,
                    label=f"{res.voltage_V[k]:.2f} V (SRH + Auger)")
    ax.set_ylim(1e-4, 3.0)  # four decades below each bias's radiative peak
    edges = _layer_edges(res.device)
    emitting = [i for i, la in enumerate(res.device.layers) if la.material.emits]
    # the emitter and 10 nm on either side: where a zone sits, at a readable scale
    lo, hi = (
        (edges[emitting[0]] - 10.0, edges[emitting[-1] + 1] + 10.0)
        if emitting else (edges[0], edges[-1])
    )
    lo, hi = max(lo, edges[0]), min(hi, edges[-1])
    for i, la in enumerate(res.device.layers):
        if la.material.emits:
            ax.axvspan(edges[i], edges[i + 1], color="g", alpha=0.08)
        mid = 0.5 * (max(edges[i], lo) + min(edges[i + 1], hi))
        if lo < mid < hi:
            ax.text(mid, 1.01, la.material.name, transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7)
    for e in edges[1:-1]:
        ax.axvline(e, color="0.7", lw=0.6)
    ax.set_xlim(lo, hi)
    ax.set_xlabel("Position from anode (nm)")
    ax.set_ylabel("Rate / peak radiative rate at that bias")
    ax.set_title("Where the carriers recombine (emitter shaded; dashed: centroid)",
                 fontsize=9, pad=14)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2,
              frameon=False)
    return fig


def plot_recombination(res: SimulationResult, idx: Sequence[int], path: Path) -> Path:
    return _save(recombination_figure(res, idx), path)


def densities_figure(res: SimulationResult, idx: Sequence[int]):
    """Electron and hole densities [cm^-3] across the stack at the profile biases (log
    scale, layer boundaries and names marked), and below them the carriers per crystal
    of every nanocrystal film, so that a pile-up against an interface, or a film holding
    more carriers per crystal than its levels, is seen at once."""
    p = res.profiles
    x = res.position_nm
    f_c = np.asarray(p["carriers_per_crystal"])
    has_films = bool(np.any(f_c[list(idx)] > 0)) if len(idx) else False
    fig = _figure(figsize=(7.6, 6.4 if has_films else 4.4))
    axes = fig.subplots(2 if has_films else 1, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [2, 1]} if has_films else None)[:, 0]
    ax = axes[0]
    edges = _layer_edges(res.device)
    for c, k in enumerate(idx):
        lab = f"{res.voltage_V[k]:.2f} V"
        n = np.asarray(p["electron_density_cm3"][k])
        h = np.asarray(p["hole_density_cm3"][k])
        ax.semilogy(x, np.where(n > 0, n, np.nan), f"C{c}-", label=f"n, {lab}")
        ax.semilogy(x, np.where(h > 0, h, np.nan), f"C{c}--", label=f"p, {lab}")
        if has_films:
            fk = f_c[k]
            axes[1].semilogy(x, np.where(fk > 0, fk, np.nan), f"C{c}-", label=lab)
    ax.set_ylim(bottom=1e6)  # below ~1e6 cm^-3 a density carries no current worth showing
    ax.set_ylabel("Density (cm⁻³)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    for a in axes:
        for e in edges[1:-1]:
            a.axvline(e, color="0.7", lw=0.6)
    for i, la in enumerate(res.device.layers):
        ax.text(0.5 * (edges[i] + edges[i + 1]), 1.01, la.material.name,
                transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7)
    if has_films:
        # log scale: a film's interior holds ~0.1-1 carriers per crystal, a pile-up
        # against an interface thousands; two fill a crystal's ground level
        axes[1].set_yscale("log")
        axes[1].set_ylim(bottom=1e-3)
        axes[1].axhline(2.0, color="0.4", ls=":", lw=0.8)
        axes[1].text(0.005, 2.0, " ground level full (2)", transform=axes[1].get_yaxis_transform(),
                     va="bottom", fontsize=7, color="0.3")
        axes[1].set_ylabel("Carriers per crystal")
    axes[-1].set_xlabel("Position from anode (nm)")
    axes[-1].set_xlim(edges[0], edges[-1])
    fig.suptitle(f"Carrier densities, {res.device.name}\n(solid: electrons, dashed: holes)",
                 fontsize=10)
    _room_for_title(fig)
    return fig


def plot_densities(res: SimulationResult, idx: Sequence[int], path: Path) -> Path:
    return _save(densities_figure(res, idx), path)


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
