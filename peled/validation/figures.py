"""The validation report's figures: parity of simulated against reported EQE_max and L_max,
EQE roll-off and recombination zones per emitter colour, and the scenario checks. Each
on a :class:`matplotlib.figure.Figure` with an Agg canvas (peled.plotting helpers), never
pyplot's global state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from peled.plotting import _figure, _save
from peled.validation.run import (
    BANDS,
    CaseRun,
)
from peled.validation.scenarios import ScenarioOutcome


def _g(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and not math.isfinite(x):
        return "-"
    return f"{float(x):.{digits}g}"


def colour_class(peak_nm: float | None) -> str:
    """'blue' (< 490 nm), 'green' (490-570 nm), 'red' (>= 570 nm) or 'unknown'."""
    if peak_nm is None:
        return "unknown"
    return "blue" if peak_nm < 490 else ("green" if peak_nm < 570 else "red")


_COLOURS = {"blue": "tab:blue", "green": "tab:green", "red": "tab:red", "unknown": "grey"}


def plot_parity(runs: Sequence[CaseRun], label: str, rep_key: str, unit: str, path: Path) -> Path:
    """Log-log parity plot (reported vs simulated) with x1.5 and x3 bands.

    The axes span the reported values +- 3 decades; simulated values outside that range
    (or missing) are drawn on the axis edge as triangles and listed in a note.
    """
    fig = _figure(figsize=(5.4, 5.2))
    ax = fig.add_subplot()
    pts = [(r, getattr(r.case.reported, rep_key), r.ratios.get(label)) for r in runs]
    pts = [(r, rep, ratio) for r, rep, ratio in pts if rep is not None and ratio is not None]
    reps = [rep for _, rep, _ in pts] or [1.0]
    lo = 10 ** (math.floor(math.log10(min(reps))) - 3)
    hi = 10 ** (math.ceil(math.log10(max(reps))) + 3)
    grid = np.array([lo, hi])
    for band, alpha in ((BANDS[1], 0.12), (BANDS[0], 0.22)):
        ax.fill_between(grid, grid / band, grid * band, color="tab:gray", alpha=alpha, lw=0)
    ax.plot(grid, grid, "k-", lw=0.8)
    outside = []
    for r, rep, ratio in pts:
        c = _COLOURS[colour_class(r.case.reported.el_peak_nm)]
        sim = rep * ratio
        if sim < lo or sim > hi:
            y, marker = (lo, "v") if sim < lo else (hi, "^")
            outside.append(f"{r.case_id} ({_g(sim, 2) if sim > 0 else 'none'})")
        else:
            y, marker = sim, "o"
            ax.annotate(r.case_id, (rep, y), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.plot(
            [rep], [y], marker=marker, ms=6, mfc="none" if r.screen.flagged else c, mec=c, ls="none"
        )
    if outside:
        text = "on the axis edge (simulated value):\n" + "\n".join(
            ", ".join(outside[i : i + 3]) for i in range(0, len(outside), 3)
        )
        ax.text(0.02, 0.98, text, transform=ax.transAxes, fontsize=5.5, va="top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"reported {label} ({unit})")
    ax.set_ylabel(f"simulated {label} ({unit})")
    ax.set_title(
        f"{label}: bands x{BANDS[0]:g}, x{BANDS[1]:g}; open = data flag; colour = emission",
        fontsize=8,
    )
    return _save(fig, path)


def plot_rolloff(runs: Sequence[CaseRun], colour: str, path: Path) -> Path:
    """Simulated EQE vs current density of every case of one colour class."""
    fig = _figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot()
    for r in runs:
        res = r.result
        if res is None:
            continue
        j, eqe = res.current_density_mA_cm2, res.eqe_percent
        ok = np.isfinite(j) & np.isfinite(eqe) & (j > 0)
        if np.any(ok):
            ax.plot(j[ok], eqe[ok], lw=1.2, label=r.case_id)
    ax.set_xscale("log")
    ax.set_xlabel("current density (mA/cm2)")
    ax.set_ylabel("EQE (%)")
    ax.set_title(f"{colour} cases: simulated EQE roll-off, 0-8 V", fontsize=9)
    if ax.lines:
        ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)


def plot_zones(runs: Sequence[CaseRun], colour: str, path: Path) -> Path:
    """Normalized radiative rate across the emitter at each case's trusted EQE-max bias
    (the compared EQE maximum)."""
    fig = _figure(figsize=(6.0, 4.2))
    ax = fig.add_subplot()
    for r in runs:
        res, v = r.result, r.simulated.get("voltage_at_eqe_max_V")
        if res is None or v is None or not res.device.emitter_indices:
            continue
        k = int(np.argmin(np.abs(res.voltage_V - v)))
        e = res.device.emitter_indices[0]
        start = float(sum(la.thickness_nm for la in res.device.layers[:e]))
        rate = np.nan_to_num(res.profiles["radiative_rate_cm3_s"][k])
        inside = res.node_layer == e
        if rate[inside].max() <= 0:
            continue
        ax.plot(
            res.position_nm[inside] - start,
            rate[inside] / rate[inside].max(),
            lw=1.2,
            label=f"{r.case_id} @ {v:.1f} V",
        )
    ax.set_xlabel("position in the emitter from its anode (HTL) side (nm)")
    ax.set_ylabel("radiative rate / max")
    ax.set_title(f"{colour} cases: recombination zone at the EQE maximum", fontsize=9)
    if ax.lines:
        ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)


def plot_scenario(outcome: ScenarioOutcome, path: Path) -> Path:
    """Zone profiles (a, b) or EQE roll-off (c) of a scenario's variants."""
    fig = _figure(figsize=(6.0, 4.0))
    ax = fig.add_subplot()
    bias = outcome.numbers.get("bias_V")
    for tag, res in outcome.runs.items():
        if tag.endswith("_no_quenching"):
            continue  # same transport as its quenching twin
        if outcome.key == "c":
            ok = np.isfinite(res.eqe_percent) & (res.current_density_mA_cm2 > 0)
            ax.plot(res.current_density_mA_cm2[ok], res.eqe_percent[ok], label=tag)
            ax.set_xscale("log")
            ax.set_xlabel("current density (mA/cm2)")
            ax.set_ylabel("EQE (%)")
        else:
            k = int(np.argmin(np.abs(res.voltage_V - bias)))
            rate = np.nan_to_num(res.profiles["radiative_rate_cm3_s"][k])
            ax.plot(res.position_nm, np.maximum(rate, 1e-8 * rate.max()), label=tag)
            ax.set_yscale("log")
            ax.set_xlabel("position from the anode (nm)")
            ax.set_ylabel(f"radiative rate at {bias:g} V (cm-3 s-1)")
            edges = np.cumsum([la.thickness_nm for la in res.device.layers])[:-1]
            for x in edges:
                ax.axvline(x, color="k", lw=0.4, ls=":")
    ax.set_title(f"scenario ({outcome.key})", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


# --------------------------------------------------------------------------------------
# Report content
# --------------------------------------------------------------------------------------
