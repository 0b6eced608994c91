"""Validation report: report.md, a self-contained report.html, metrics.json and figures.

The report is built once as a list of blocks (headings, paragraphs, lists, tables,
figures) and rendered twice: Markdown (figures linked from ``figures/``) and HTML
(figures embedded as base64 PNG, so the file stands alone). The whole output folder is
built as a temporary folder beside it and then swapped in (:func:`replace_folder`), so
the folder holds exactly the files of one run: no half-written report after a failure,
and no figure left over from an earlier run.

The blocks and their two renderings are in :mod:`peled.validation.render`, the figures
in :mod:`peled.validation.figures`; this module holds the report's content (tables,
statistics, assumptions), metrics.json and the writing of the folder.
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
from peled.validation import screen as screen_mod
from peled.validation.figures import (  # noqa: F401  (re-exported)
    _g,
    colour_class,
    plot_parity,
    plot_rolloff,
    plot_scenario,
    plot_zones,
)
from peled.validation.render import Block, render_html, render_markdown  # noqa: F401
from peled.validation.run import (
    BANDS,
    DARK_LUMINANCE_RATIO,
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


# --------------------------------------------------------------------------------------
# Blocks and rendering
# --------------------------------------------------------------------------------------
def _ratio_text(r: float | None) -> str:
    if r is None:
        return "n/r"
    if r <= 0:
        return "no value"
    return f"{r:.3g}"


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


def _main_table(runs: Sequence[CaseRun]) -> Block:
    header = [
        "id",
        "composition",
        "stack",
        "EQE rep (%)",
        "EQE sim, all biases (%)",
        "EQE sim (%)",
        "ratio",
        "L rep (cd/m2)",
        "L sim (cd/m2)",
        "ratio",
        "CE rep (cd/A)",
        "CE sim (cd/A)",
        "ratio",
        "CIE rep",
        "CIE sim",
        "dxy",
        "converged",
        "flag",
    ]
    rows = []
    for r in runs:
        rep, sim = r.case.reported, r.simulated
        cie_rep = "-" if rep.cie_x is None else f"({rep.cie_x:.3f}, {rep.cie_y:.3f})"
        cie_sim = "-" if sim.get("cie_x") is None else f"({sim['cie_x']:.3f}, {sim['cie_y']:.3f})"
        rows.append(
            [
                r.case_id,
                r.case.composition or "-",
                r.case.stack_status,
                _g(rep.eqe_max_percent),
                _g(sim.get("eqe_max_all_biases_percent"))
                + (" (r)" if sim.get("eqe_max_all_biases_trusted") is False else ""),
                _g(sim.get("eqe_max_percent")),
                _ratio_text(r.ratios.get("EQE_max")),
                _g(rep.luminance_max_cd_m2),
                _g(sim.get("luminance_max_cd_m2")),
                _ratio_text(r.ratios.get("L_max")),
                _g(rep.current_efficiency_max_cd_A),
                _g(sim.get("current_efficiency_max_cd_A")),
                _ratio_text(r.ratios.get("CE_max")),
                cie_rep,
                cie_sim,
                _g(r.cie_distance, 2),
                "error" if r.error else f"{sim['converged_points']}/{sim['total_points']}",
                "yes" if r.screen.flagged else "",
            ]
        )
    return Block("table", header=header, rows=rows)


#: What the main table's EQE columns mean (printed under each main table).
EQE_TRUST_NOTE = (
    "EQE sim is the maximum over the trusted biases only (resolved current, strictly "
    "converged; metrics.json: eqe_max_percent, as summary.json's headline; "
    "docs/numerics/accuracy.md, the current floor): the compared figure, as are CE sim (the "
    "trusted maximum) and the ratios. EQE sim, all biases is the maximum over every "
    "converged bias; '(r)' marks a maximum at a bias whose |J| is below its float64 "
    "round-off floor or that a relaxed rule accepted, so it may be round-off (metrics.json: "
    "eqe_max_all_biases_trusted false)."
)


def _stats_table(stats: dict[str, Any], title: str) -> list[Block]:
    header = ["quantity", "rows compared", "no simulated value", "median |log10 ratio|"] + [
        f"within x{b:g}" for b in BANDS
    ]
    rows = []
    for label, e in stats.items():
        med = e["median_abs_log10_ratio"]
        rows.append(
            [
                label,
                str(e["rows_compared"]),
                str(e["rows_without_simulated_value"]),
                "inf" if med is not None and not math.isfinite(med) else _g(med),
            ]
            + [
                "-"
                if e[f"fraction_within_x{b:g}"] is None
                else f"{100 * e[f'fraction_within_x{b:g}']:.0f} %"
                for b in BANDS
            ]
        )
    return [Block("p", text=title), Block("table", header=header, rows=rows)]


def _cie_block(runs: Sequence[CaseRun]) -> Block:
    """The colour agreement (a distance, not a ratio: its own statistics)."""
    c = cie_distance_statistics(runs)
    if not c["rows_compared"]:
        return Block(
            "p", text="CIE 1931 (x, y) distance: no row has both a reported and a simulated colour."
        )
    return Block(
        "p",
        text=(
            f"CIE 1931 (x, y) distance between simulated and reported colour, "
            f"{c['rows_compared']} rows with both: median {c['median_distance']:.3f}, "
            f"largest {c['max_distance']:.3f} ({c['max_row']})."
        ),
    )


def _screen_blocks(runs: Sequence[CaseRun]) -> list[Block]:
    blocks = [
        Block("h2", "3. Data-consistency screen (reported numbers vs photometry)"),
        Block(
            "p",
            text=(
                "Pure photometry, no simulation (peled.validation.screen). (1) CE implied by "
                "EQE_max for a Lambertian emitter with the reported Gaussian line, "
                "CE = EQE K_ph / (q pi), flagged outside "
                f"x{screen_mod.CE_RATIO_LIMIT:g}; (2) CIE of the line vs the reported CIE, "
                f"flagged above a distance of {screen_mod.CIE_DISTANCE_LIMIT:g}; (3) photon "
                "energy of the EL peak vs the band gap of the named composition (database; "
                "mixed halides: window between parents), flagged "
                f"{screen_mod.GAP_ABOVE_LIMIT_KT:g} kT above or "
                f"{screen_mod.GAP_BELOW_LIMIT_EV:g} eV below. The limits are justified in "
                "docs/validation/index.md. Flagged rows stay in every table and statistic."
            ),
        ),
    ]
    header = [
        "id",
        "composition",
        "CE rep/implied",
        "CE implied (cd/A)",
        "CIE dist",
        "E_ph (eV)",
        "gap window (eV)",
        "FWHM used (nm)",
        "flags",
    ]
    rows = []
    for r in runs:
        s = r.screen
        rows.append(
            [
                r.case_id,
                r.case.composition or "-",
                _g(s.ce_ratio),
                _g(s.ce_implied_cd_A),
                _g(s.cie_distance, 2),
                _g(s.photon_energy_eV),
                "-"
                if s.gap_window_eV is None
                else f"{s.gap_window_eV[0]:.2f}-{s.gap_window_eV[1]:.2f}",
                _g(s.fwhm_used_nm) + (" (assumed)" if s.fwhm_note else ""),
                str(len(s.flags)),
            ]
        )
    blocks.append(Block("table", header=header, rows=rows))
    flagged = [r for r in runs if r.screen.flagged]
    blocks.append(Block("h3", f"Flagged rows ({len(flagged)} of {len(runs)})"))
    items = []
    for r in flagged:
        for f in r.screen.flags:
            items.append(f"{r.case_id}: {f}")
    blocks.append(Block("list", items=items or ["none"]))
    stack_notes = [f"{r.case_id}: {f}" for r in runs for f in r.case.data_flags]
    if stack_notes:
        blocks.append(
            Block(
                "p",
                text="Notes on the data written by the author of the case files (data_flags):",
            )
        )
        blocks.append(Block("list", items=stack_notes))
    return blocks


ASSUMPTIONS = (
    "No parameter is fitted to the reported values (pure prediction): every material "
    "number comes from the database (materials/), every override is justified in the case "
    "file's provenance. There is therefore no training/held-out split.",
    "Sweep 0-8 V in 0.1 V steps for every row. peled has no degradation or heating, so its "
    "luminance grows with bias and the simulated L_max is the luminance at the last "
    "converged bias up to 8 V; most Table 2 devices report L_max at 5-9 V.",
    f"Mesh: {VALIDATION_MESH.nodes_per_layer} nodes per layer, clustering "
    f"{VALIDATION_MESH.clustering:g}. EQE_max is mesh-converged to < 0.5 %; L_max (the current "
    "at 8 V of these barrier-limited stacks) is not: it falls by 7-35 % per refinement from 48 "
    "to 64 to 96 nodes per layer, so simulated L_max values carry about a x2 uncertainty "
    "(docs/validation/index.md, section 8).",
    "Light output: EQE = eta_out x PLQY x (radiative fraction of the recombination current); "
    "eta_out = 1/(2 n^2) of the emitter index; Lambertian luminance with the Gaussian line "
    "of the reported EL peak and FWHM (docs/model/light-output.md).",
    "Stacks: see each case file's provenance and docs/validation/stacks.md; 'assumed' stacks "
    "are the typical stack of the emitter class.",
    "Ratios are simulated / reported. A row with a reported value but no simulated value "
    "(no converged bias or no light) counts as outside every band (|log10 ratio| = inf).",
    "Non-converged bias points are listed per row; their observables are missing (NaN), "
    "never interpolated.",
)


def _scenario_pairs(all_runs: Sequence[CaseRun], extra_runs: Sequence[CaseRun]) -> list[Block]:
    """Simulated test/control ratios of the paired scenario device files."""
    by_name = {Path(r.case.path).name: r for r in all_runs}
    rows = []
    for r in extra_runs:
        sc = r.case.scenario
        other = by_name.get(Path(str(sc.get("pair_with", ""))).name)
        if other is None:
            continue
        test, control = (r, other) if sc.get("role") == "test" else (other, r)
        if sc.get("role") != "test" and other in extra_runs:
            continue  # each in-folder pair once, from its test side
        ratios = []
        for key in ("eqe_max_percent", "luminance_max_cd_m2"):
            a, c = test.simulated.get(key), control.simulated.get(key)
            ratios.append(_g(a / c) if a and c else "-")
        rows.append(
            [str(sc.get("name", "")), test.case_id, control.case_id, *ratios]
            + [str(sc.get("expected_relation", ""))]
        )
    if not rows:
        return []
    return [
        Block(
            "table",
            header=[
                "scenario",
                "test",
                "control",
                "EQE_max test/control (sim)",
                "L_max test/control (sim)",
                "expected",
            ],
            rows=rows,
        )
    ]


def build_blocks(
    runs: Sequence[CaseRun],
    stats: dict[str, Any],
    scenarios: Sequence[ScenarioOutcome],
    extra_runs: Sequence[CaseRun],
    figures: dict[str, str],
    wall_time_s: float,
) -> list[Block]:
    b: list[Block] = [Block("h1", "peled validation against the review's Table 2")]
    b.append(
        Block(
            "p",
            text=(
                "Generated by `peled validate` (peled.validation). Reported values: Table 2 "
                "of L. Yang et al., Mater. Horiz. 2023, 10, 1969 (DOI 10.1039/d3mh00062a), "
                "copied in validation/review_table2_peled.csv. Stacks and their provenance: "
                "validation/devices/*.yaml and docs/validation/stacks.md. Protocol: "
                f"docs/validation/index.md. {len(runs)} rows, run time {wall_time_s:.0f} s."
            ),
        )
    )
    b.append(Block("h2", "1. Summary"))
    b.extend(_stats_table(stats, "Simulated vs reported, all rows (no fitted parameter):"))
    b.append(_cie_block(runs))
    both = [r for r in runs if r.within("EQE_max", BANDS[0]) and r.within("L_max", BANDS[0])]
    eqe_only = [r for r in runs if r.within("EQE_max", BANDS[0]) and r not in both]
    l_only = [r for r in runs if r.within("L_max", BANDS[0]) and r not in both]
    uncompared = [
        r
        for r in runs
        if r.case.reported.eqe_max_percent is None and r.case.reported.luminance_max_cd_m2 is None
    ]
    b.append(
        Block(
            "list",
            items=[
                f"EQE_max and L_max both within x{BANDS[0]:g}: "
                + (", ".join(r.case_id for r in both) or "none"),
                f"EQE_max only within x{BANDS[0]:g}: "
                + (
                    ", ".join(r.case_id + (" (dark device)" if r.dark else "") for r in eqe_only)
                    or "none"
                ),
                f"L_max only within x{BANDS[0]:g}: "
                + (", ".join(r.case_id for r in l_only) or "none"),
                f"neither within x{BANDS[0]:g}: "
                + (
                    ", ".join(
                        r.case_id
                        for r in runs
                        if r not in both + eqe_only + l_only and r not in uncompared
                    )
                    or "none"
                ),
                "not compared (neither EQE_max nor L_max reported): "
                + (", ".join(r.case_id for r in uncompared) or "none"),
            ],
        )
    )
    n_dark = sum(1 for r in runs if r.dark)
    if n_dark:
        b.append(
            Block(
                "p",
                text=(
                    f"{n_dark} of {len(runs)} rows are dark in simulation (simulated L_max below "
                    f"{DARK_LUMINANCE_RATIO:g} of the reported): their EQE_max comes from tiny "
                    "currents and any EQE agreement is coincidental ('dark device' above). "
                    "Section 2 names the barrier that starves them."
                ),
            )
        )
    clean = [r for r in runs if not r.screen.flagged]
    if clean and len(clean) < len(runs):
        from peled.validation.run import summary_statistics

        b.extend(
            _stats_table(
                summary_statistics(clean),
                f"The same statistics on the {len(clean)} rows without a data flag:",
            )
        )
        b.append(_cie_block(clean))

    b.append(Block("h2", "2. Reported vs simulated"))
    b.append(_main_table(runs))
    b.append(Block("p", text=EQE_TRUST_NOTE))
    b.append(Block("figure", "Parity plot, EQE_max", path=figures["parity_eqe"]))
    b.append(Block("figure", "Parity plot, L_max (0-8 V sweep)", path=figures["parity_l"]))
    b.append(Block("h3", "Agreement and reasons for disagreement"))
    items = []
    for r in runs:
        if not r.reasons:
            items.append(f"{r.case_id}: EQE_max and L_max within x{BANDS[0]:g}.")
        else:
            items.append(f"{r.case_id}: " + "; ".join(r.reasons))
    b.append(Block("list", items=items))
    failed = [r for r in runs if r.error or r.simulated.get("failed_voltages_V")]
    b.append(Block("h3", "Failed or non-converged points"))
    b.append(
        Block(
            "list",
            items=[
                f"{r.case_id}: "
                + (
                    r.error
                    if r.error
                    else ", ".join(f"{v:.1f}" for v in r.simulated["failed_voltages_V"]) + " V"
                )
                for r in failed
            ]
            or ["none: every bias point of every row converged"],
        )
    )
    b.extend(_screen_blocks(runs))
    b.append(Block("h2", "4. EQE roll-off and recombination zones"))
    for colour in ("blue", "green", "red"):
        if f"rolloff_{colour}" in figures:
            b.append(
                Block("figure", f"EQE-J roll-off, {colour}", path=figures[f"rolloff_{colour}"])
            )
            b.append(
                Block("figure", f"Recombination zone, {colour}", path=figures[f"zone_{colour}"])
            )
    b.append(Block("h2", "5. Scenario checks (the review's physics statements)"))
    for s in scenarios:
        b.append(Block("h3", f"({s.key}) {s.statement}"))
        b.append(
            Block(
                "p",
                text=("Reproduced by peled: " if s.reproduced else "NOT reproduced by peled: ")
                + s.verdict,
            )
        )
        b.append(
            Block(
                "table",
                header=["quantity", "value"],
                rows=[[k, _g(v, 4)] for k, v in s.numbers.items()],
            )
        )
        if f"scenario_{s.key}" in figures:
            b.append(Block("figure", f"Scenario ({s.key})", path=figures[f"scenario_{s.key}"]))
    if extra_runs:
        b.append(Block("h3", "Scenario device files (validation/devices/scenarios)"))
        b.append(_main_table(extra_runs))
        b.append(Block("p", text=EQE_TRUST_NOTE))
        b.extend(_scenario_pairs(list(runs) + list(extra_runs), extra_runs))
        b.append(
            Block(
                "p",
                text=(
                    "These files are simulated exactly as written (database values). With the "
                    "database's ZnCl2 placeholders (IE 8 eV) a ZnCl2 layer blocks all hole "
                    "current under drift-diffusion, which has no tunnelling; scenario (b) above "
                    "therefore uses its hole-transparent limit."
                ),
            )
        )
    b.append(Block("h2", "6. Assumptions"))
    b.append(Block("list", items=list(ASSUMPTIONS)))
    b.append(Block("h2", "7. Regression"))
    b.append(
        Block(
            "p",
            text=(
                "metrics.json stores every row's simulated numbers. tests/test_validation.py "
                "re-simulates stored rows and fails when a value moves by more than 1 %; "
                "after a deliberate physics change regenerate them with `peled validate` "
                "(or `make validate`) and commit validation/report/."
            ),
        )
    )
    return b


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
