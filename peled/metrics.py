"""Figures of merit of a J-V-L sweep (turn-on, EQE_max, roll-off, recombination zone)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from peled.simulate import SimulationResult


def _first_crossing(x: np.ndarray, y: np.ndarray, level: float, log_y: bool) -> float | None:
    """x where y first rises to ``level`` (linear interpolation, in log y if asked)."""
    ok = np.isfinite(y) & np.isfinite(x) & ((y > 0) if log_y else True)
    x, y = x[ok], y[ok]
    if y.size == 0:
        return None
    yy = np.log10(y) if log_y else y
    lv = math.log10(level) if log_y else level
    above = np.nonzero(yy >= lv)[0]
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(x[0])
    t = (lv - yy[i - 1]) / (yy[i] - yy[i - 1])
    return float(x[i - 1] + t * (x[i] - x[i - 1]))


def recombination_zone(position_nm: np.ndarray, rate: np.ndarray) -> dict[str, float]:
    """Centroid [nm] and full width at half maximum [nm] of a rate profile."""
    w = np.clip(np.nan_to_num(rate), 0.0, None)
    dx = np.gradient(position_nm)
    total = float(np.sum(w * dx))
    if total <= 0:
        return {"centroid_nm": float("nan"), "fwhm_nm": float("nan")}
    centroid = float(np.sum(w * position_nm * dx) / total)
    half = w >= 0.5 * w.max()
    idx = np.nonzero(half)[0]
    fwhm = float(position_nm[idx[-1]] - position_nm[idx[0]]) if idx.size > 1 else 0.0
    return {"centroid_nm": centroid, "fwhm_nm": fwhm}


def summarize(res: SimulationResult) -> dict[str, Any]:
    """Summary figures (the keys of summary.json; None where not reached)."""
    v, j, eqe, lum = res.voltage_V, res.current_density_mA_cm2, res.eqe_percent, res.luminance_cd_m2
    out: dict[str, Any] = {
        "device": res.device.name,
        "eqe_max_percent": None,
        "voltage_at_eqe_max_V": None,
        "current_density_at_eqe_max_mA_cm2": None,
        "luminance_max_cd_m2": None,
        "turn_on_voltage_V": _first_crossing(v, lum, 1.0, log_y=True),
        "current_density_at_half_eqe_mA_cm2": None,
        "eqe_at_100_mA_cm2_percent": None,
        "eqe_at_1000_mA_cm2_percent": None,
        "cie_x": res.spectrum.cie_x if res.spectrum else None,
        "cie_y": res.spectrum.cie_y if res.spectrum else None,
        "emission_peak_nm": res.spectrum.peak_nm if res.spectrum else None,
        "outcoupling": res.outcoupling,
        "converged_points": int(np.sum(res.converged)),
        "total_points": int(res.voltage_V.size),
    }
    good = np.isfinite(eqe)
    if np.any(good):
        k = int(np.nanargmax(np.where(good, eqe, -np.inf)))
        out["eqe_max_percent"] = float(eqe[k])
        out["voltage_at_eqe_max_V"] = float(v[k])
        out["current_density_at_eqe_max_mA_cm2"] = float(j[k])
        after = np.arange(v.size) > k
        drop = np.nonzero(after & good & (eqe <= 0.5 * eqe[k]))[0]
        if drop.size:
            i = int(drop[0])
            prev = i - 1
            t = (0.5 * eqe[k] - eqe[prev]) / (eqe[i] - eqe[prev])
            out["current_density_at_half_eqe_mA_cm2"] = float(j[prev] + t * (j[i] - j[prev]))
        for target in (100.0, 1000.0):
            if np.nanmax(j) >= target:
                ok = good & (j > 0)
                val = float(np.interp(math.log10(target), np.log10(j[ok]), eqe[ok]))
                out[f"eqe_at_{int(target)}_mA_cm2_percent"] = val
    if np.any(np.isfinite(lum)):
        out["luminance_max_cd_m2"] = float(np.nanmax(lum))
    return out


def zone_summary(res: SimulationResult, bias_index: int) -> dict[str, float]:
    """Recombination-zone metrics at one bias: centroid, FWHM, fraction near interfaces."""
    x = res.position_nm
    r = res.profiles["radiative_rate_cm3_s"][bias_index]
    zone = recombination_zone(x, r)
    bounds = np.concatenate([[0.0], np.cumsum([la.thickness_nm for la in res.device.layers])])
    for k in res.device.emitter_indices:
        a, b = bounds[k], bounds[k + 1]
        inside = res.node_layer == k
        dx = np.gradient(x)
        tot = float(np.sum(r[inside] * dx[inside])) or float("nan")
        zone[f"fraction_within_5nm_of_{k}_anode_side"] = float(
            np.sum((r * dx)[inside & (x < a + 5.0)]) / tot
        )
        zone[f"fraction_within_5nm_of_{k}_cathode_side"] = float(
            np.sum((r * dx)[inside & (x > b - 5.0)]) / tot
        )
    return zone
