"""Validation report: report.md, a self-contained report.html, metrics.json and figures.

The report is built once as a list of blocks (headings, paragraphs, lists, tables,
figures) and rendered twice: Markdown (figures linked from ``figures/``) and HTML
(figures embedded as base64 PNG, so the file stands alone). The whole output folder is
built as a temporary folder beside it and then swapped in (:func:`replace_folder`), so
the folder holds exactly the files of one run: no half-written report after a failure,
and no figure left over from an earlier run.

The blocks and their two renderings are in :mod:`peled.validation.render`, the figures
in :mod:`peled.validation.figures`, the report's content (tables, statistics,
assumptions) in :mod:`peled.validation.report_blocks`; this module holds metrics.json and
the writing of the folder.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from peled.errors import PeledInputError
from peled.io import write_text
from peled.report import file_sha256, for_people, provenance
from peled.validation.figures import (  # noqa: F401  (re-exported)
    _g,
    colour_class,
    plot_parity,
    plot_rolloff,
    plot_scenario,
    plot_zones,
)
from peled.validation.render import Block, render_html, render_markdown  # noqa: F401
from peled.validation.report_blocks import (  # noqa: F401  (re-exported)
    ASSUMPTIONS,
    EQE_TRUST_NOTE,
    build_blocks,
)
from peled.validation.run import (
    VALIDATION_MESH,
    VALIDATION_VOLTAGES_V,
    CaseRun,
    cie_distance_statistics,
)
from peled.validation.scenarios import ScenarioOutcome

#: 2: CIE distance moved out of the ratios into ``cie_distance`` (rows and summary);
#: infinite numbers written as the string "inf" (null only for missing values).
METRICS_VERSION = 2
#: How metrics.json writes numbers that JSON cannot hold (stored in the file itself).
JSON_CONVENTIONS = (
    'null: missing or undefined (not reported, not simulated, not compared); "inf" / "-inf": '
    "an infinite value, e.g. median_abs_log10_ratio when half of the compared rows or more "
    "have no simulated value (see median_is_infinite and rows_without_simulated_value)"
)
#: Keys of metrics.json rows compared by the regression test (1 % relative).
REGRESSION_KEYS = (
    "eqe_max_percent",
    "eqe_max_all_biases_percent",
    "luminance_max_cd_m2",
    "current_efficiency_max_cd_A",
    "current_efficiency_max_all_biases_cd_A",
    "turn_on_voltage_V",
    "voltage_at_eqe_max_V",
    "current_density_max_mA_cm2",
    "converged_points",
)


def _relative(path: str) -> str:
    """``path`` relative to the repository root when inside it (metrics.json stays portable)."""
    from peled.validation.cases import REPO_ROOT

    p = Path(path).resolve()
    try:
        return p.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _clean(obj: Any) -> Any:
    """JSON-safe copy (:data:`JSON_CONVENTIONS`): NaN -> None, +-inf -> "inf" / "-inf",
    numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    return obj


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------
def _file_entry(path: str | Path) -> dict[str, Any]:
    """A file as metrics.json records it: its path (repository-relative where inside the
    repository) and its SHA-256 (None when the file is missing)."""
    p = Path(path)
    return {"file": _relative(str(p)), "sha256": file_sha256(p) if p.is_file() else None}


def metrics_provenance(
    runs: Sequence[CaseRun], extra_runs: Sequence[CaseRun] = (), **extra: Any
) -> dict[str, Any]:
    """Where metrics.json came from: peled's version, the reference table (the review's
    Table 2 CSV) and every case file with their SHA-256, the bias grid [V], the mesh and
    the solver settings of the runs, plus ``extra`` entries (e.g. the command)."""
    from peled.core.newton import SolverSettings
    from peled.validation.cases import REVIEW_TABLE_CSV

    out = provenance(None, VALIDATION_VOLTAGES_V, VALIDATION_MESH, SolverSettings())
    out["reference_table"] = _file_entry(REVIEW_TABLE_CSV)
    out["case_files"] = {r.case_id: _file_entry(r.case.path) for r in [*runs, *extra_runs]}
    out.update(extra)
    return out


def metrics_document(
    runs: Sequence[CaseRun],
    stats: dict[str, Any],
    scenarios: Sequence[ScenarioOutcome],
    extra_runs: Sequence[CaseRun] = (),
    provenance_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of metrics.json (per-row simulated numbers, protocol, statistics, and
    :func:`metrics_provenance` with ``provenance_extra`` added)."""

    def row(r: CaseRun) -> dict[str, Any]:
        return {
            "case_file": _relative(r.case.path),
            "error": r.error,
            "simulated": r.simulated,
            "ratios_simulated_over_reported": r.ratios,
            "cie_distance": r.cie_distance,
            "data_flags": r.screen.flags,
        }

    v = VALIDATION_VOLTAGES_V
    return _clean(
        {
            "metrics_version": METRICS_VERSION,
            "json_conventions": JSON_CONVENTIONS,
            "provenance": for_people(
                metrics_provenance(runs, extra_runs, **(provenance_extra or {}))
            ),
            "protocol": {
                "sweep_V": {"start_V": float(v[0]), "stop_V": float(v[-1]), "points": int(v.size)},
                "mesh": {
                    "nodes_per_layer": VALIDATION_MESH.nodes_per_layer,
                    "clustering": VALIDATION_MESH.clustering,
                },
                "fitted_parameters": [],
                "regression_keys": list(REGRESSION_KEYS),
                "regression_rtol": 0.01,
            },
            "summary": stats,
            "cie_distance": cie_distance_statistics(runs),
            "rows": {r.case_id: row(r) for r in runs},
            "scenario_cases": {r.case_id: row(r) for r in extra_runs},
            "scenarios": {
                s.key: {"reproduced": s.reproduced, "numbers": s.numbers} for s in scenarios
            },
        }
    )


#: What a report folder may hold (anything else makes :func:`write_report` refuse it).
REPORT_FILES = ("report.md", "report.html", "metrics.json", "figures")
_TMP_PREFIX = ".peled-report-"


def _check_report_folder(out: Path) -> None:
    """Refuse to replace a folder that holds anything but an earlier report."""
    if not out.exists():
        return
    if not out.is_dir():
        raise PeledInputError(f"report folder {out}: exists and is not a folder")
    foreign = sorted(
        p.name
        for p in out.iterdir()
        if p.name not in REPORT_FILES and not p.name.startswith(_TMP_PREFIX)
    )
    fig = out / "figures"
    if fig.is_dir():
        foreign += sorted(f"figures/{p.name}" for p in fig.iterdir() if p.suffix != ".png")
    if foreign:
        raise PeledInputError(
            f"report folder {out}: the report replaces the whole folder, which holds files "
            f"that are no part of a report: {foreign[:5]}{' ...' if len(foreign) > 5 else ''}; "
            "choose an "
            "empty or new folder, or one written by peled validate"
        )


def replace_folder(new: Path, out: Path) -> None:
    """Put folder ``new`` in the place of ``out`` (same parent): ``out`` is renamed aside,
    ``new`` renamed to ``out``, the old one deleted. ``out`` holds either the old or the new
    files, never a mix; a crash between the two renames leaves the old folder beside it as
    ``.peled-report-<name>-old-*`` (and no ``out``)."""
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{_TMP_PREFIX}{out.name}-old-"))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_report(
    out_dir: str | Path,
    runs: Sequence[CaseRun],
    stats: dict[str, Any],
    scenarios: Sequence[ScenarioOutcome] = (),
    extra_runs: Sequence[CaseRun] = (),
    wall_time_s: float = 0.0,
    write_metrics: bool = True,
    provenance_extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``out_dir`` anew: report.md, report.html, figures/*.png and metrics.json.

    The folder is built beside ``out_dir`` and swapped in whole (:func:`replace_folder`),
    so it holds only this run's files (no stale figure of an earlier run). With
    ``write_metrics=False`` the existing metrics.json (the regression reference) is carried
    over unchanged. A folder holding other files is refused (:class:`PeledInputError`).
    ``provenance_extra`` entries are added to metrics.json's provenance.
    """
    out = Path(out_dir).absolute()
    _check_report_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{_TMP_PREFIX}{out.name}-new-"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(t, 0o777 & ~umask)  # mkdtemp makes it 0700; a folder's usual mode
        fig_dir = t / "figures"
        fig_dir.mkdir()
        figures: dict[str, str] = {}
        units = {"EQE_max": "%", "L_max": "cd/m2"}
        for key, label, rep_key in (
            ("parity_eqe", "EQE_max", "eqe_max_percent"),
            ("parity_l", "L_max", "luminance_max_cd_m2"),
        ):
            plot_parity(runs, label, rep_key, units[label], fig_dir / f"{key}.png")
            figures[key] = f"{key}.png"
        for colour in ("blue", "green", "red"):
            group = [r for r in runs if colour_class(r.case.reported.el_peak_nm) == colour]
            if group:
                plot_rolloff(group, colour, fig_dir / f"rolloff_{colour}.png")
                plot_zones(group, colour, fig_dir / f"zone_{colour}.png")
                figures[f"rolloff_{colour}"] = f"rolloff_{colour}.png"
                figures[f"zone_{colour}"] = f"zone_{colour}.png"
        for s in scenarios:
            plot_scenario(s, fig_dir / f"scenario_{s.key}.png")
            figures[f"scenario_{s.key}"] = f"scenario_{s.key}.png"
        blocks = build_blocks(runs, stats, scenarios, extra_runs, figures, wall_time_s)
        write_text(t / "report.md", render_markdown(blocks))
        write_text(t / "report.html", render_html(blocks, fig_dir, "peled validation report"))
        if write_metrics:
            doc = metrics_document(runs, stats, scenarios, extra_runs, provenance_extra)
            write_text(t / "metrics.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
        elif (out / "metrics.json").is_file():
            shutil.copy2(out / "metrics.json", t / "metrics.json")
        names = sorted(p.relative_to(t) for p in t.rglob("*") if p.is_file())
        replace_folder(t, out)
    except BaseException:
        shutil.rmtree(t, ignore_errors=True)
        raise
    return [out / n for n in names]
