"""``peled validate``: the validation against the review's Table 2 and its report."""

from __future__ import annotations

from pathlib import Path

import click

from peled.cli import main
from peled.cli.common import PHYSICS_OPTION, _check_out_dir, _enable_compilation_cache, _fail
from peled.errors import PeledInputError


def _reference_report_dir() -> Path:
    """The stored validation report of a source checkout, whose metrics.json is the
    reference of the regression test (tests/test_validation.py)."""
    # this file is in peled/cli/: three levels up is the checkout
    return Path(__file__).resolve().parents[2] / "validation" / "report"


@main.command()
@click.option(
    "--out",
    "out",
    type=click.Path(),
    default="peled-validation",
    show_default=True,
    help="report folder (report.md, report.html, metrics.json, figures/), relative to the "
    "current folder",
)
@click.option(
    "--cases",
    "cases",
    multiple=True,
    help="glob of case files (repeatable; default validation/devices/T2-*.yaml; when given, "
    "the scenario device files are not run)",
)
@click.option("--no-scenarios", is_flag=True, help="skip the scenario checks")
@click.option(
    "--keep-metrics", is_flag=True, help="do not overwrite metrics.json (the regression reference)"
)
@click.option(
    "--update-reference",
    is_flag=True,
    help="allow --out to be the repository's validation/report, whose metrics.json is the "
    "regression reference of the test suite (make validate passes it)",
)
@click.option(
    "--optics",
    type=click.Choice(["ray_optics", "dipole"]),
    default=None,
    help="outcoupling model of every case device (default: as the case files say, ray "
    "optics); the stored reference uses the files' own",
)
@PHYSICS_OPTION
def validate(out, cases, no_scenarios, keep_metrics, update_reference, optics, physics) -> None:
    """Validate against the review's Table 2 and write the report (docs/validation/index.md).

    The report goes to ./peled-validation unless --out says otherwise. The repository's
    validation/report holds the regression reference of the test suite: it is written
    only with --out validation/report --update-reference (make validate), deliberately,
    after a physics change, and then committed.
    """
    from peled.validation import DEFAULT_CASES_GLOB, DEFAULT_SCENARIOS_GLOB
    from peled.validation import validate as run_validation

    out_dir = Path(out)
    if out_dir.resolve() == _reference_report_dir() and not update_reference:
        _fail(
            PeledInputError(
                f"--out {out}: is the repository's stored validation report, whose "
                "metrics.json is the regression reference of tests/test_validation.py; "
                "allowed: another folder, or add --update-reference to regenerate the "
                "reference deliberately"
            )
        )
    _check_out_dir(out_dir)
    try:
        from peled.validation.report import _check_report_folder

        _check_report_folder(out_dir)  # a folder with foreign files: refused now, not at the end
        _enable_compilation_cache()
        summary = run_validation(
            out,
            cases_glob=list(cases) if cases else DEFAULT_CASES_GLOB,
            scenarios_glob=None if (cases or no_scenarios) else DEFAULT_SCENARIOS_GLOB,
            run_scenario_checks=not no_scenarios,
            write_metrics=not keep_metrics,
            command="peled validate"
            + (f" --optics {optics}" if optics else "")
            + (f" --physics {physics}" if physics else ""),
            optics=optics,
            physics=physics,
        )
    except PeledInputError as err:
        _fail(err)
    for label, e in summary["statistics"].items():
        med = e["median_abs_log10_ratio"]
        w15, w3 = e["fraction_within_x1.5"], e["fraction_within_x3"]
        click.echo(
            f"  {label:<8} rows {e['rows_compared']:>2}  median |log10 ratio| "
            f"{'-' if med is None else f'{med:.3g}'}  within x1.5 "
            f"{'-' if w15 is None else f'{w15:.0%}'}  "
            f"within x3 {'-' if w3 is None else f'{w3:.0%}'}"
        )
    c = summary["cie_distance"]
    if c["rows_compared"]:
        click.echo(
            f"  CIE (x,y) rows {c['rows_compared']:>2}  median distance "
            f"{c['median_distance']:.3f}  largest {c['max_distance']:.3f} ({c['max_row']})"
        )
    click.echo(f"{summary['rows']} rows in {summary['wall_time_s']:.0f} s; wrote {out}/")
