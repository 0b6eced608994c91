"""Validation against the literature (``peled validate``; protocol in docs/validation/index.md).

* :mod:`peled.validation.cases` loads the case files (validation/devices/*.yaml),
* :mod:`peled.validation.screen` checks the reported numbers against photometry,
* :mod:`peled.validation.run` simulates each case and compares,
* :mod:`peled.validation.scenarios` turns the review's physics statements into checks,
* :mod:`peled.validation.report` writes report.md, report.html, metrics.json, figures.

Python API::

    from peled.validation import validate
    summary = validate("validation/report")
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from peled.validation.cases import (
    DEFAULT_CASES_GLOB,
    DEFAULT_SCENARIOS_GLOB,
    find_case_files,
    load_case,
    load_cases,
)


def validate(
    out_dir: str | Path = "validation/report",
    cases_glob: str | Sequence[str] = DEFAULT_CASES_GLOB,
    scenarios_glob: str | Sequence[str] | None = DEFAULT_SCENARIOS_GLOB,
    run_scenario_checks: bool = True,
    write_metrics: bool = True,
    progress: bool = True,
    command: str | None = None,
    optics: str | None = None,
    physics: str | None = None,
) -> dict[str, Any]:
    """Run every case (and the scenario checks) and write the report into ``out_dir``.

    Returns the ratio statistics under ``statistics``
    (:func:`peled.validation.run.summary_statistics`), the colour distance statistics under
    ``cie_distance`` (:func:`peled.validation.run.cie_distance_statistics`), the wall time
    [s] under ``wall_time_s`` and the row count under ``rows``. Scenario device files that
    do not exist are skipped (they are optional); case files matching ``cases_glob`` must
    exist. metrics.json records its provenance (peled's version, the reference table and
    the case files with their SHA-256, the bias grid, mesh and solver settings, the globs
    and ``command``, the command line that ran it, when given). ``optics`` ("ray_optics"
    or "dipole") replaces every case device's ``optics`` key, ``physics`` ("classic" or
    "disorder_aware", peled.device.PHYSICS) its ``physics`` key (None: as the files say).
    """
    import glob

    import jax

    from peled.validation.report import _relative, write_report
    from peled.validation.run import (
        VALIDATION_MESH,
        VALIDATION_VOLTAGES_V,
        cie_distance_statistics,
        run_cases,
        summary_statistics,
    )
    from peled.validation.scenarios import run_scenarios

    t0 = time.perf_counter()
    cases = load_cases(cases_glob)
    extra = []
    if scenarios_glob:
        patterns = [scenarios_glob] if isinstance(scenarios_glob, str) else list(scenarios_glob)
        files = sorted({f for p in patterns for f in glob.glob(str(p))})
        extra = [load_case(f) for f in files]
    if physics is not None:
        cases, extra = ([_with_physics(c, physics) for c in group] for group in (cases, extra))
    if optics is not None:
        cases = [replace(c, device=replace(c.device, optics=optics)) for c in cases]
        extra = [replace(c, device=replace(c.device, optics=optics)) for c in extra]
    with jax.enable_x64(True):
        runs = run_cases(cases, progress=progress)
        extra_runs = run_cases(extra, progress=progress) if extra else []
        scen = run_scenarios(VALIDATION_VOLTAGES_V, VALIDATION_MESH) if run_scenario_checks else []
    stats = summary_statistics(runs)
    wall = time.perf_counter() - t0
    def patterns_of(globs):
        # relative to the repository root when inside it: metrics.json stays portable
        return [_relative(str(g)) for g in ([globs] if isinstance(globs, str) else globs)]

    prov: dict[str, Any] = {
        "cases_glob": patterns_of(cases_glob),
        "scenarios_glob": patterns_of(scenarios_glob) if scenarios_glob else None,
        "scenario_checks": run_scenario_checks,
        "optics": optics or "as in the case files",
        "physics": physics or "as in the case files",
    }
    if command is not None:
        prov["command"] = command
    write_report(
        out_dir,
        runs,
        stats,
        scen,
        extra_runs,
        wall,
        write_metrics=write_metrics,
        provenance_extra=prov,
    )
    return {
        "statistics": stats,
        "cie_distance": cie_distance_statistics(runs),
        "wall_time_s": wall,
        "rows": len(runs),
    }


def _with_physics(case, physics: str):
    """The case with its device rebuilt from the case file's mapping under ``physics``."""
    from peled.device import device_from_mapping, with_physics

    device = device_from_mapping(with_physics(case.device_mapping, physics), f"{case.path}: device")
    return replace(case, device=device)


__all__ = [
    "DEFAULT_CASES_GLOB",
    "DEFAULT_SCENARIOS_GLOB",
    "find_case_files",
    "load_case",
    "load_cases",
    "validate",
]
