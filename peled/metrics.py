"""Figures of merit of a J-V-L sweep (turn-on, EQE_max, roll-off, recombination zone)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.observables import zone_metrics

#: zone_metrics as one compiled program per layer index (the eager version dispatches
#: ~40 small operations per call, each its own program)
_zone_metrics = jax.jit(zone_metrics, static_argnums=(4,))

if TYPE_CHECKING:
    from peled.result import SimulationResult


#: Luminance that defines the turn-on voltage [cd/m^2].
TURN_ON_LUMINANCE_CD_M2 = 1.0


def turn_on_voltage(
    voltage_V: np.ndarray, luminance_cd_m2: np.ndarray, level: float = TURN_ON_LUMINANCE_CD_M2
) -> tuple[float | None, bool]:
    """Turn-on voltage [V] (L first rises to ``level``) and whether it lies below the sweep.

    Only converged biases (finite V and L) count. The crossing is interpolated linearly in
    log10 L between the last bias below ``level`` and the first at or above it; where that
    last bias has no light at all (L = 0) the first bias at or above ``level`` is returned
    (an upper bound within one step). Returns ``(None, True)`` when L >= ``level`` already
    at the lowest converged bias: the turn-on lies below the sweep start and is not
    determined (it used to be reported as the sweep start). ``(None, False)`` when L never
    reaches ``level`` inside the sweep.
    """
    x = np.asarray(voltage_V, dtype=np.float64)
    y = np.asarray(luminance_cd_m2, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    above = np.nonzero(y >= level)[0]
    if above.size == 0:
        return None, False
    i = int(above[0])
    if i == 0:
        return None, True
    if y[i - 1] <= 0:
        return float(x[i]), False
    lo, hi, lv = math.log10(y[i - 1]), math.log10(y[i]), math.log10(level)
    t = (lv - lo) / (hi - lo)
    return float(x[i - 1] + t * (x[i] - x[i - 1])), False


def recombination_zone(position_nm: np.ndarray, rate: np.ndarray) -> dict[str, float]:
    """Centroid [nm] and full width at half maximum [nm] of a rate profile (one region).

    Uses the same routine as the per-layer zone metrics
    (:func:`peled.core.observables.zone_metrics`) with the whole profile as one layer.
    """
    x = np.asarray(position_nm, dtype=np.float64)
    with jax.enable_x64(True):
        z = zone_metrics(
            jnp.asarray(x),
            jnp.asarray([x[0], x[-1]]),
            jnp.zeros(x.size, jnp.int32),
            jnp.nan_to_num(jnp.asarray(rate, jnp.float64)),
            0,
        )
    return {"centroid_nm": float(z.centroid), "fwhm_nm": float(z.fwhm)}


def layer_edges_nm(res: SimulationResult) -> np.ndarray:
    """Positions [nm] of the K+1 layer boundaries of the simulated stack (anode at 0)."""
    return np.concatenate([[0.0], np.cumsum([la.thickness_nm for la in res.device.layers])])


def profile_bias_indices(
    res: SimulationResult, biases_V: Sequence[float] | None = None
) -> list[int]:
    """Indices of the profile biases: the converged biases nearest to ``biases_V`` [V]
    when given, else turn-on (1 cd/m^2), the EQE maximum and the highest converged bias
    (those that exist, in increasing order)."""
    conv = np.nonzero(res.converged)[0]
    if conv.size == 0:
        return []
    if biases_V is not None:
        return sorted({int(conv[np.argmin(np.abs(res.voltage_V[conv] - b))]) for b in biases_V})
    s = summary_core(res)
    idx = [
        int(conv[np.argmin(np.abs(res.voltage_V[conv] - v))])
        for v in (s["turn_on_voltage_V"], s["voltage_at_eqe_max_V"])
        if v is not None
    ]
    idx.append(int(conv[-1]))
    return sorted(set(idx))


def summary_core(res: SimulationResult) -> dict[str, Any]:
    """Figures of the J-V-L curve alone (turn-on, EQE_max, roll-off, colour).

    ``eqe_max_percent`` [%], its voltage [V] and current density [mA/cm^2], the roll-off
    current ``current_density_at_half_eqe_mA_cm2`` and the EQE at 100 and 1000 mA/cm^2
    come from the trusted biases only (:attr:`peled.simulate.SimulationResult.trusted`:
    |J| above its round-off floor, strict result); None where no bias is trusted. The
    maximum over every converged bias is ``eqe_max_all_biases_percent``
    (:func:`_all_bias_eqe_peak`).

    ``turn_on_voltage_V`` is None when not determined: either L stays below 1 cd/m^2, or
    (``turn_on_below_sweep_start`` True) L is already >= 1 cd/m^2 at the lowest converged
    bias (:func:`turn_on_voltage`). ``result_counts``: how many biases carry each result
    name ("strict", ..., "failed"; only names that occur), see
    :attr:`peled.simulate.SimulationResult.result`.
    """
    v, j, eqe, lum = res.voltage_V, res.current_density_mA_cm2, res.eqe_percent, res.luminance_cd_m2
    turn_on, below_start = turn_on_voltage(v, lum)
    out: dict[str, Any] = {
        "device": res.device.name,
        "eqe_max_percent": None,
        "voltage_at_eqe_max_V": None,
        "current_density_at_eqe_max_mA_cm2": None,
        "luminance_max_cd_m2": None,
        "turn_on_voltage_V": turn_on,
        "turn_on_below_sweep_start": below_start,
        "current_density_at_half_eqe_mA_cm2": None,
        "eqe_at_100_mA_cm2_percent": None,
        "eqe_at_1000_mA_cm2_percent": None,
        "cie_x": res.spectrum.cie_x if res.spectrum else None,
        "cie_y": res.spectrum.cie_y if res.spectrum else None,
        "emission_peak_nm": res.spectrum.peak_nm if res.spectrum else None,
        "outcoupling": res.outcoupling,
        "outcoupling_model": res.outcoupling_model,
        "converged_points": int(np.sum(res.converged)),
        "total_points": int(res.voltage_V.size),
        "result_counts": res.result_counts(),
    }
    good = np.isfinite(eqe)
    # the headline efficiencies come from the trusted biases only (resolved current,
    # strict result): below the current floor EQE is a ratio of round-off
    # (docs/decisions/0017-headline-efficiencies-from-trusted-biases.md)
    quoted = np.asarray(res.trusted, bool) & good
    if np.any(quoted):
        idx = np.nonzero(quoted)[0]
        k = int(idx[np.argmax(eqe[idx])])
        out["eqe_max_percent"] = float(eqe[k])
        out["voltage_at_eqe_max_V"] = float(v[k])
        out["current_density_at_eqe_max_mA_cm2"] = float(j[k])
        later = idx[idx > k]
        drop = later[eqe[later] <= 0.5 * eqe[k]]
        if drop.size:
            i = int(drop[0])
            prev = int(idx[idx < i][-1])  # the trusted bias before the crossing
            t = (0.5 * eqe[k] - eqe[prev]) / (eqe[i] - eqe[prev])
            out["current_density_at_half_eqe_mA_cm2"] = float(j[prev] + t * (j[i] - j[prev]))
        ok = quoted & (j > 0)
        for target in (100.0, 1000.0):
            if np.any(ok) and np.max(j[ok]) >= target:
                val = float(np.interp(math.log10(target), np.log10(j[ok]), eqe[ok]))
                out[f"eqe_at_{int(target)}_mA_cm2_percent"] = val
    if np.any(np.isfinite(lum)):
        out["luminance_max_cd_m2"] = float(np.nanmax(lum))
    out.update(_all_bias_eqe_peak(res))
    out.update(_dipole_optics_figures(res))
    return out


def _dipole_optics_figures(res: SimulationResult) -> dict[str, Any]:
    """With the dipole optics: the exciton-averaged Purcell factor over the emitter's
    nodes, and the colour leaving at 0 and 60 degrees at the bias of maximum luminance
    (its recombination zone weighting the nodes)."""
    opt = res.optics
    if opt is None or opt.wavelengths_nm.size == 0:
        return {}
    em = np.isin(res.node_layer, res.device.emitter_indices)
    out: dict[str, Any] = {"purcell_factor": float(np.mean(opt.purcell_factor[em]))}
    lum = res.luminance_cd_m2
    if not np.any(np.isfinite(lum) & (lum > 0)):
        return out
    b = int(np.nanargmax(np.where(np.isfinite(lum), lum, -np.inf)))
    rate = res.photon_rate_m2_s[b] if res.photon_rate_m2_s is not None else None
    if rate is None or not np.all(np.isfinite(rate)):
        return out
    x0, y0 = opt.cie_at(rate, 0)
    k60 = int(np.argmin(np.abs(opt.angles_deg - 60.0)))
    x60, y60 = opt.cie_at(rate, k60)
    out.update(
        {
            "cie_x_0deg": x0,
            "cie_y_0deg": y0,
            "cie_x_60deg": x60,
            "cie_y_60deg": y60,
            "cie_shift_0_to_60deg": float(np.hypot(x60 - x0, y60 - y0)),
        }
    )
    return out


def _all_bias_eqe_peak(res: SimulationResult) -> dict[str, Any]:
    """The EQE maximum over every converged bias, trusted or not, and why it may not be
    quoted.

    ``eqe_max_all_biases_percent`` [%] with its voltage [V] and current density
    [mA/cm^2]; ``eqe_max_all_biases_current_resolved``: |J| there lies above its float64
    round-off floor (``current_resolved``); ``eqe_max_all_biases_result``: how that bias
    was accepted (result name); ``eqe_max_all_biases_trusted``: both hold (the bias is
    ``SimulationResult.trusted``), so it is the headline ``eqe_max_percent``; otherwise
    it may be round-off, kept to show what a maximum over all biases would
    claim (None where no bias has an EQE)."""
    out: dict[str, Any] = {
        "eqe_max_all_biases_percent": None,
        "voltage_at_eqe_max_all_biases_V": None,
        "current_density_at_eqe_max_all_biases_mA_cm2": None,
        "eqe_max_all_biases_current_resolved": None,
        "eqe_max_all_biases_result": None,
        "eqe_max_all_biases_trusted": None,
    }
    eqe = res.eqe_percent
    if np.any(np.isfinite(eqe)):
        k = int(np.nanargmax(np.where(np.isfinite(eqe), eqe, -np.inf)))
        out["eqe_max_all_biases_percent"] = float(eqe[k])
        out["voltage_at_eqe_max_all_biases_V"] = float(res.voltage_V[k])
        j_k = float(res.current_density_mA_cm2[k])
        out["current_density_at_eqe_max_all_biases_mA_cm2"] = j_k
        out["eqe_max_all_biases_current_resolved"] = bool(res.current_resolved[k])
        out["eqe_max_all_biases_result"] = str(res.result[k])
        out["eqe_max_all_biases_trusted"] = bool(res.trusted[k])
    return out


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


_BALANCE_KEYS = (
    "electron_hole_current_ratio",
    "charge_balance_factor",
    "emitter_electron_hole_sheet_density_ratio",
    "emitter_recombination_fraction",
)


def _balance_at(res: SimulationResult, k: int) -> dict[str, float | None]:
    """Charge-balance figures of the first emitter at bias index ``k`` (see
    :class:`peled.simulate.SimulationResult`): J_e,in/J_h,in, gamma = min/max of the two,
    int n / int p over the emitter, and the share of J recombining in the emitter."""
    if res.charge_balance_factor is None:
        return {}
    return {key: _finite(getattr(res, key)[k]) for key in _BALANCE_KEYS}


def summarize(
    res: SimulationResult, profile_biases_V: Sequence[float] | None = None
) -> dict[str, Any]:
    """Summary figures (the keys of summary.json; None where not reached).

    Adds to :func:`summary_core` the charge balance of the first emitter at the EQE
    maximum (J_e,in / J_h,in and gamma = min/max of the two) and ``recombination_zones``:
    :func:`zone_summary` at the profile biases (:func:`profile_bias_indices`; the
    converged biases nearest to ``profile_biases_V`` [V] when given).
    """
    out = summary_core(res)
    at_max = {}
    if out["voltage_at_eqe_max_V"] is not None:
        k = int(np.argmin(np.abs(res.voltage_V - out["voltage_at_eqe_max_V"])))
        at_max = _balance_at(res, k)
    for key in _BALANCE_KEYS:
        out[f"{key}_at_eqe_max"] = at_max.get(key)
    out["recombination_zones"] = [
        zone_summary(res, k) for k in profile_bias_indices(res, profile_biases_V)
    ]
    unresolved = unresolved_zone_voltages(res)
    out["zone_unresolved_points"] = len(unresolved)
    out["zone_unresolved_from_V"] = unresolved[0] if unresolved else None
    # biases where |J| is below its float64 floor (J and the ratios to it may be round-off)
    below = res.converged & ~res.current_resolved
    out["current_unresolved_points"] = int(below.sum())
    out["current_unresolved_up_to_V"] = float(res.voltage_V[below].max()) if below.any() else None
    return out


def unresolved_zone_voltages(res: SimulationResult) -> list[float]:
    """Converged biases [V] at which the mesh does not resolve the recombination zone.

    A zone is unresolved when at most one node of the first emitter has a radiative rate
    of at least half the emitter's maximum: the zone is then a sheet thinner than the
    local node spacing: the box cells over-count its sink, and J, L, EQE and the zone's
    width change with the mesh (on the green stack under the classic physics at 64 sine
    nodes per layer, J up to 38 % and L 2.7x at 3 V above the log-linear mesh that
    resolves the sheet; docs/numerics/accuracy.md, "Mesh convergence of the classic
    physics"). Biases without radiative recombination are not counted.
    """
    if not res.device.emitter_indices:
        return []
    inside = res.node_layer == res.device.emitter_indices[0]
    rates = np.nan_to_num(np.asarray(res.profiles["radiative_rate_cm3_s"]))[:, inside]
    out = []
    for k in np.flatnonzero(res.converged):
        r = rates[k]
        peak = r.max()
        if peak > 0 and int(np.sum(r >= 0.5 * peak)) <= 1:
            out.append(float(res.voltage_V[k]))
    return out


def zone_summary(res: SimulationResult, bias_index: int) -> dict[str, Any]:
    """Recombination-zone metrics at one bias, for the radiative profile of each emitter.

    Keys: ``voltage_V``; ``centroid_nm`` and ``fwhm_nm`` (first emitter, position from
    the anode); ``fraction_within_5nm_of_{k}_anode_side`` / ``..._cathode_side`` for each
    emitting layer k (share of its radiative recombination within 5 nm of that
    interface); the emitter's charge balance at this bias; and the shares of the total
    recombination current by mechanism (radiative, SRH, Auger, interface) in all layers.
    """
    x = np.asarray(res.position_nm, dtype=np.float64)
    r = np.nan_to_num(res.profiles["radiative_rate_cm3_s"][bias_index])
    edges = layer_edges_nm(res)
    out: dict[str, Any] = {"voltage_V": float(res.voltage_V[bias_index])}
    with jax.enable_x64(True):
        for n, k in enumerate(res.device.emitter_indices):
            z = _zone_metrics(
                jnp.asarray(x),
                jnp.asarray(edges),
                jnp.asarray(res.node_layer),
                jnp.asarray(r),
                k,
                5.0,
            )
            if n == 0:
                out["centroid_nm"] = _finite(z.centroid)
                out["fwhm_nm"] = _finite(z.fwhm)
                out["emitter_centre_nm"] = float(0.5 * (edges[k] + edges[k + 1]))
            out[f"fraction_within_5nm_of_{k}_anode_side"] = _finite(z.fraction_near_anode_side)
            out[f"fraction_within_5nm_of_{k}_cathode_side"] = _finite(z.fraction_near_cathode_side)
    out.update(_balance_at(res, bias_index))
    dx = res.profiles["recombination_width_nm"][bias_index] * 1e-7  # cm
    interior = np.ones_like(x)
    interior[[0, -1]] = 0.0
    parts = {
        "radiative": np.sum(res.profiles["radiative_rate_cm3_s"][bias_index] * dx * interior),
        "srh": np.sum(res.profiles["srh_rate_cm3_s"][bias_index] * dx * interior),
        "auger": np.sum(res.profiles["auger_rate_cm3_s"][bias_index] * dx * interior),
        "interface": np.sum(
            res.profiles["interface_recombination_rate_cm2_s"][bias_index] * interior
        ),
    }
    total = sum(parts.values())
    for name, val in parts.items():
        out[f"{name}_share_of_recombination"] = _finite(val / total) if total > 0 else None
    return out
