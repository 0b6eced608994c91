"""Files of a ``peled optimize`` run: history, plots, the optimized device, a summary.

Everything is written atomically (``peled.io``); plots use an Agg Figure, never pyplot.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from peled.io import atomic_path, write_text
from peled.optimize import OptimizationResult
from peled.plotting import _figure, _save
from peled.simulate import SimulationResult, simulate


def plot_convergence(result: OptimizationResult, path: Path) -> Path:
    """Objective (sum w ln f) and gradient norm per evaluation; accepted iterates marked."""
    h = result.history
    fig = _figure(figsize=(6.5, 4.2))
    ax = fig.add_subplot(111)
    ok = (h["all_converged"] & h["objective_finite"]).to_numpy()
    ax.plot(h["evaluation"][ok], h["log_objective"][ok], "o-", ms=3, label="objective")
    if (~ok).any():
        for e in h["evaluation"][~ok]:
            ax.axvline(e, color="0.6", lw=0.8, ls=":")
        ax.plot([], [], ":", color="0.6", label="failed (not converged or dark)")
    ax.set_xlabel("evaluation")
    ax.set_ylabel(r"objective $\sum_i w_i \ln f_i$")
    ax2 = ax.twinx()
    ax2.semilogy(h["evaluation"][ok], h["gradient_norm"][ok], "s--", ms=3, color="tab:red")
    ax2.set_ylabel("gradient norm (unit-box variables)", color="tab:red")
    ax.set_title(f"{result.iterations} iterations, {result.evaluations} evaluations")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_comparison(before: SimulationResult, after: SimulationResult, path: Path) -> Path:
    """J-V-L (left) and EQE-J (right), before and after optimization."""
    fig = _figure(figsize=(12, 4.2))
    fig.subplots_adjust(wspace=0.45)
    ax = fig.add_subplot(121)
    axl = ax.twinx()
    for res, style, tag in ((before, "--", "before"), (after, "-", "after")):
        j = np.where(res.current_density_mA_cm2 > 0, res.current_density_mA_cm2, np.nan)
        lum = np.where(res.luminance_cd_m2 > 0, res.luminance_cd_m2, np.nan)
        ax.semilogy(res.voltage_V, j, style, color="tab:blue", label=f"J {tag}")
        axl.semilogy(res.voltage_V, lum, style, color="tab:green", label=f"L {tag}")
    # show the conducting range: 10 decades below the larger maximum of each quantity
    for axis, key in ((ax, "current_density_mA_cm2"), (axl, "luminance_cd_m2")):
        top = np.nanmax([np.nanmax(getattr(r, key), initial=0.0) for r in (before, after)])
        if top > 0:
            axis.set_ylim(top * 1e-10, top * 3)
    ax.set_xlabel("voltage (V)")
    ax.set_ylabel("current density (mA/cm$^2$)", color="tab:blue")
    axl.set_ylabel("luminance (cd/m$^2$)", color="tab:green")
    ax.legend(loc="upper left")
    axl.legend(loc="lower right")
    ax2 = fig.add_subplot(122)
    for res, style, tag in ((before, "--", "before"), (after, "-", "after")):
        j = res.current_density_mA_cm2
        ok = np.isfinite(res.eqe_percent) & (j > 0)
        ax2.semilogx(j[ok], res.eqe_percent[ok], style, label=tag)
    j_top = np.nanmax([np.nanmax(r.current_density_mA_cm2, initial=0.0) for r in (before, after)])
    if j_top > 0:
        ax2.set_xlim(j_top * 1e-10, j_top * 3)
    ax2.set_xlabel("current density (mA/cm$^2$)")
    ax2.set_ylabel("EQE (%)")
    ax2.legend()
    return _save(fig, path)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.bool_ | bool):
        return bool(x)
    return x


def write_optimization(result: OptimizationResult, out_dir: str | Path) -> list[Path]:
    """Write history.csv, convergence.png, optimized-device.yaml, comparison.png and
    optimization.json (before/after figures of merit) into ``out_dir``."""
    out = Path(out_dir)
    prob = result.problem
    # everything that can fail (the two simulations) runs before any file is written
    mapping = result.optimized_mapping()
    before = simulate(prob.device, prob.voltages_V, mesh=prob.mesh, settings=prob.settings)
    after = simulate(
        result.optimized_device(), prob.voltages_V, mesh=prob.mesh, settings=prob.settings
    )
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with atomic_path(out / "history.csv") as tmp:
        result.history.to_csv(tmp, index=False, float_format="%.10g")
    paths.append(out / "history.csv")
    paths.append(plot_convergence(result, out / "convergence.png"))
    paths.append(
        write_text(out / "optimized-device.yaml", yaml.safe_dump(mapping, sort_keys=False))
    )
    paths.append(plot_comparison(before, after, out / "comparison.png"))
    summary = {
        "device": prob.device.name,
        "objectives": [
            o.label() + (f"*{o.weight:g}" if o.weight != 1 else "") for o in prob.objectives
        ],
        "parameters": result.parameter_table(),
        "initial_log_objective": result.initial_log_objective,
        "optimized_log_objective": result.best_log_objective,
        "iterations": result.iterations,
        "evaluations": result.evaluations,
        "wall_s": result.wall_s,
        "optimizer_message": result.message,
        "mesh_nodes_per_layer": prob.mesh.nodes_per_layer,
        "voltage_start_V": float(prob.voltages_V[0]),
        "voltage_stop_V": float(prob.voltages_V[-1]),
        "n_biases": len(prob.voltages_V),
        "objectives_initial": result.initial_parts,
        "objectives_optimized": result.best_parts,
        "before": before.summary(),
        "after": after.summary(),
    }
    paths.append(
        write_text(
            out / "optimization.json", json.dumps(_clean(summary), indent=2, allow_nan=False)
        )
    )
    return paths
