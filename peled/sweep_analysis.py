"""Analysis of a finished sweep: rankings by a figure of merit, the Pareto front of two,
and the analysis page (analysis.md with its plots) that ``peled sweep`` writes beside the
results (docs/user-guide/sweep.md)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from peled.io import atomic_path
from peled.sweep_spec import Sweep


def ranking(results, objective: str, sense: str = "max", top_n: int = 10):
    """The ``top_n`` rows by ``objective`` (best first; NaN rows last).

    A turn-on voltage below the sweep start (NaN with ``turn_on_below_sweep_start``) is
    lower than every determined one: it ranks first when minimizing turn-on, and after the
    determined values (before the candidates that never turn on) when maximizing it.
    """
    asc = sense == "min"
    key = results[objective]
    if objective == "turn_on_voltage_V" and "turn_on_below_sweep_start" in results.columns:
        key = key.where(~results["turn_on_below_sweep_start"].eq(True), -math.inf)
    ranked = results.assign(_rank_key=key).sort_values(
        ["_rank_key", "candidate_index"], ascending=[asc, True], na_position="last", kind="stable"
    )
    return ranked.drop(columns="_rank_key").head(top_n)


def pareto_mask(x: np.ndarray, y: np.ndarray, x_sense: str = "min", y_sense: str = "max"):
    """Non-dominated points (bool mask; NaN points excluded), by default minimizing x and
    maximizing y: point i is dominated if some j has x_j <= x_i and y_j >= y_i with one
    strict (a "max" x or "min" y is handled by flipping its sign)."""
    x = np.asarray(x, float) * (-1.0 if x_sense == "max" else 1.0)
    y = np.asarray(y, float) * (-1.0 if y_sense == "min" else 1.0)
    ok = np.isfinite(x) & np.isfinite(y)
    mask = np.zeros(x.size, bool)
    for i in np.nonzero(ok)[0]:
        better = ok & (x <= x[i]) & (y >= y[i]) & ((x < x[i]) | (y > y[i]))
        mask[i] = not np.any(better)
    return mask


def _label(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def write_analysis(results, sweep: Sweep, out: Path) -> tuple[str, dict[str, Path]]:
    """ranking.csv (+ its text), pareto.png, heatmap.png (grid sweeps with >= 2 axes)."""
    from peled.plotting import _figure, _save

    files: dict[str, Path] = {}
    cols = [a.column for a in sweep.axes]
    top = ranking(results, sweep.objective, sweep.objective_sense, sweep.top_n)
    show = ["candidate_id", *cols, sweep.objective]
    show += [
        c
        for c in (
            "eqe_max_percent",
            "eqe_rolloff_percent",
            "turn_on_voltage_V",
            "turn_on_below_sweep_start",
            "n_converged",
            "all_converged",
        )
        if c not in show
        and c in top.columns
        and (c != "turn_on_below_sweep_start" or bool(top[c].any()))
    ]
    with atomic_path(out / "ranking.csv") as tmp:
        top.to_csv(tmp, index=False, float_format="%.6g")
    files["ranking"] = out / "ranking.csv"
    text = f"top {len(top)} of {len(results)} by {sweep.objective} ({sweep.objective_sense}):\n"
    text += top[show].to_string(index=False, float_format=lambda v: f"{v:.4g}")
    # the EQE figures rank and show the trusted biases only (docs/decisions/0017):
    # say how many candidates have none, and where a maximum over all biases would
    # claim more from round-off
    if "eqe_max_percent" in top.columns:
        none = int(top["eqe_max_percent"].isna().sum())
        if none:
            text += (
                f"\nnote: {none} of these candidates have no trusted bias (|J| above its float64"
                " round-off floor and a strict result), so their eqe_max_percent is NaN"
                " (docs/numerics/accuracy.md, the current floor)"
            )
    if "eqe_max_all_biases_trusted" in top.columns:
        untrusted = int((~top["eqe_max_all_biases_trusted"].astype(bool)).sum())
        if untrusted:
            text += (
                f"\nnote: for {untrusted} of these candidates the EQE maximum over all biases"
                " lies where |J| is below its round-off floor or the bias was accepted by a"
                " relaxed rule (results column eqe_max_all_biases_percent); it may be"
                " round-off and is not the ranked eqe_max_percent"
            )

    pa = sweep.pareto
    x = results[pa.x].to_numpy(float)
    y = results[pa.y].to_numpy(float)
    front = pareto_mask(x, y, pa.x_sense, pa.y_sense)
    fig = _figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    ax.scatter(x, y, s=12, c="0.6", label="candidates")
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], "o-", c="C3", ms=5, label="Pareto front")
    for setter, col, sense in (
        (ax.set_xlabel, pa.x, pa.x_sense),
        (ax.set_ylabel, pa.y, pa.y_sense),
    ):
        setter(f"{col} ({'higher' if sense == 'max' else 'lower'} is better)")
    if pa.x.startswith("luminance") or pa.x.startswith("current_density"):
        ax.set_xscale("log")
    if pa.y.startswith("luminance") or pa.y.startswith("current_density"):
        ax.set_yscale("log")
    title = f"{sweep.name}: {int((np.isfinite(x) & np.isfinite(y)).sum())} candidates"
    if "turn_on_voltage_V" in (pa.x, pa.y) and "turn_on_below_sweep_start" in results:
        n_below = int(results["turn_on_below_sweep_start"].sum())
        if n_below:
            title += f" ({n_below} with turn-on below the sweep start not shown)"
    ax.set_title(title, fontsize=9)
    ax.legend()
    files["pareto"] = _save(fig, out / "pareto.png")

    if sweep.method == "grid" and len(cols) >= 2:
        files["heatmap"] = _heatmap(results, sweep, cols, out)
    return text, files


def _heatmap(results, sweep: Sweep, cols: list[str], out: Path) -> Path:
    """Objective over the first two axes (best over the other axes when there are more)."""
    from peled.plotting import _figure, _save

    a, b = cols[0], cols[1]
    agg = "max" if sweep.objective_sense == "max" else "min"
    values = results[sweep.objective]
    if sweep.objective == "turn_on_voltage_V" and "turn_on_below_sweep_start" in results:
        # below the sweep start: lower than any determined turn-on (-inf), shown as "< V0"
        values = values.where(~results["turn_on_below_sweep_start"].eq(True), -math.inf)
    table = results.assign(_value=values).pivot_table(
        index=a, columns=b, values="_value", aggfunc=agg, sort=False
    )
    rows = list(sweep.axes[0].grid_values(sweep.source))
    colv = list(sweep.axes[1].grid_values(sweep.source))
    table = table.reindex(index=rows, columns=colv).to_numpy(float)
    below = np.isneginf(table)
    fig = _figure(figsize=(1.2 + 0.9 * len(colv), 1.2 + 0.6 * len(rows)))
    ax = fig.add_subplot()
    shown = np.where(below, np.nan, table)
    im = ax.imshow(shown, aspect="auto", cmap="viridis", origin="upper")
    ax.set_xticks(range(len(colv)), [_label(v) for v in colv], rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), [_label(v) for v in rows])
    ax.set_xlabel(b)
    ax.set_ylabel(a)
    for (i, j), val in np.ndenumerate(shown):
        if np.isfinite(val):
            ax.text(j, i, f"{val:.3g}", ha="center", va="center", fontsize=7, color="w")
        elif below[i, j]:
            start = f"<{sweep.voltages_V[0]:.3g}"
            ax.text(j, i, start, ha="center", va="center", fontsize=7, color="k")
    best = f"{agg} over the other axes" if len(cols) > 2 else ""
    ax.set_title(f"{sweep.objective} {best}".strip())
    fig.colorbar(im, ax=ax)
    return _save(fig, out / "heatmap.png")
