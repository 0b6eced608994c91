"""The validation report's content as blocks: the main table, the statistics, the colour
agreement, the data-consistency screen, the scenario pairs, the assumptions, and
:func:`build_blocks`, which puts the whole report together as a list of blocks (headings,
paragraphs, lists, tables, figures).

The blocks are rendered by :mod:`peled.validation.render`; :mod:`peled.validation.report`
writes them (report.md, report.html) with metrics.json and the figures into the report
folder.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from peled.validation import screen as screen_mod
from peled.validation.figures import _g
from peled.validation.render import Block
from peled.validation.run import (
    BANDS,
    DARK_LUMINANCE_RATIO,
    VALIDATION_MESH,
    CaseRun,
    cie_distance_statistics,
)
from peled.validation.scenarios import ScenarioOutcome


# --------------------------------------------------------------------------------------
# Blocks and rendering
# --------------------------------------------------------------------------------------
def _ratio_text(r: float | None) -> str:
    if r is None:
        return "n/r"
    if r <= 0:
        return "no value"
    return f"{r:.3g}"


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
