"""``peled sweep`` and ``peled optimize``: design studies over many devices, a screen of
a sweep file's candidates and a gradient-based optimisation of one device."""

from __future__ import annotations

from pathlib import Path

import click

from peled.cli import main
from peled.cli.common import (
    MESH_NODES,
    _add_provenance,
    _check_out_dir,
    _enable_compilation_cache,
    _fail,
    _load,
    _slug,
    _voltages,
)
from peled.errors import PeledInputError


@main.command()
@click.argument("sweep_file", type=click.Path())
@click.option("--out", "out", type=click.Path(), default=None, help="output folder")
@click.option("--resume", is_flag=True, help="continue a killed sweep in the same folder")
@click.option("--scheduler", default=None, help="Dask scheduler address, tcp://host:port")
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=None, help="candidates per batch (chunk)"
)
@click.option(
    "--vmap/--no-vmap",
    "vmap",
    default=None,
    help="solve each batch as one vmap (default: on accelerators only)",
)
@click.option("--csv", "csv", is_flag=True, help="also write results.csv")
@click.option("--no-progress", is_flag=True, help="no progress bar")
@click.option(
    "--n-samples",
    "n_samples",
    type=click.IntRange(min=1),
    default=None,
    help="a smaller trial: random / latin_hypercube draw this many samples (same seed); "
    "a grid solves this many of its candidates, spread evenly through it, with their "
    "grid ids (--resume without --n-samples completes the grid later)",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="build and validate every candidate, print what would run; no solving",
)
def sweep(
    sweep_file, out, resume, scheduler, batch_size, vmap, csv, no_progress, n_samples, dry_run
) -> None:
    """Screen the candidates of a sweep file (docs/user-guide/sweep.md): results.parquet, ranking,
    Pareto front and heat map."""
    from peled.sweep import run_sweep, sweep_candidates
    from peled.sweep_spec import load_sweep

    try:
        spec = load_sweep(sweep_file)
        out_dir = Path(out) if out else Path(_slug(spec.name) + "-sweep")
        _check_out_dir(out_dir)
        if dry_run:
            spec, cands = sweep_candidates(spec, n_samples)
            for c in cands:
                spec.build(c)
            v = spec.voltages_V
            click.echo(
                f"dry run: {spec.name} ({sweep_file}), {len(cands)} candidates "
                f"({spec.method}), nothing solved"
            )
            for a in spec.axes:
                vals = a.choices if a.choices is not None else (a.range.min, a.range.max)
                what = "values" if a.choices is not None else f"range ({a.range.scale})"
                click.echo(f"  axis    {a.column}: {what} {list(vals)}")
            click.echo(f"  biases  {v[0]:g} to {v[-1]:g} V, {v.size} points")
            click.echo(f"  mesh    {spec.mesh.nodes_per_layer} nodes per layer")
            click.echo(
                f"  output  {out_dir}/ ({'exists' if out_dir.is_dir() else 'would be created'})"
            )
            return
        _enable_compilation_cache()
        res = run_sweep(
            spec,
            out_dir,
            resume=resume,
            scheduler=scheduler,
            batch_size=batch_size,
            batched=vmap,
            csv=csv,
            progress=not no_progress,
            n_samples=n_samples,
        )
    except PeledInputError as err:
        _fail(err)
    click.echo(res.ranking_text)
    bad = int((~res.results["all_converged"]).sum())
    if bad:
        click.echo(f"warning: {bad} candidates have non-converged bias points", err=True)
    click.echo(f"wrote {out_dir}/ ({len(res.results)} candidates, {res.n_solved} solved now)")


@main.command()
@click.argument("device_file", type=click.Path())
@click.option(
    "--objective",
    "objectives",
    multiple=True,
    required=True,
    help="kind[:key=value][*weight], e.g. eqe_at_luminance:luminance_cd_m2=1000 "
    "(kinds: eqe_max, eqe_at_luminance, eqe_at_voltage, luminance_at_voltage, rolloff); "
    "repeat to combine",
)
@click.option(
    "--vary",
    "vary",
    multiple=True,
    required=True,
    help="LAYER.QUANTITY=LOW:HIGH in the quantity's units, e.g. PVK.thickness_nm=10:60, "
    "1.ionization_energy_eV=5.2:5.9, anode.work_function_eV=4.6:5.4; repeatable",
)
@click.option("--out", "out", type=click.Path(), default=None, help="output folder")
@click.option("--max-iter", "max_iter", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--mesh", type=MESH_NODES, default=32, show_default=True, help="nodes per layer")
@click.option("--start-V", "start_v", type=float, default=None)
@click.option("--stop-V", "stop_v", type=float, default=None)
@click.option("--step-V", "step_v", type=float, default=None)
def optimize(device_file, objectives, vary, out, max_iter, mesh, start_v, stop_v, step_v) -> None:
    """Maximise an objective of DEVICE_FILE by gradient descent (L-BFGS-B, implicit gradients).

    Writes history.csv, convergence.png, optimized-device.yaml, comparison.png and
    optimization.json into --out (default: <device>-optimized).
    """

    from peled.core.params import MeshSpec
    from peled.materials import load_yaml
    from peled.objectives import parse_objective
    from peled.optimize import DesignProblem, parse_bounds
    from peled.optimize import optimize as run
    from peled.optimize_report import write_optimization
    from peled.report import provenance

    dev = _load(device_file)
    volts = _voltages(dev, start_v, stop_v, step_v)
    out_dir = Path(out) if out else Path(_slug(dev.name) + "-optimized")
    _check_out_dir(out_dir)
    _enable_compilation_cache()
    try:
        objs = [parse_objective(t, f"--objective {t!r}") for t in objectives]
        bounds = {}
        for item in vary:
            name, lo, hi = parse_bounds(item)
            if name in bounds:
                raise PeledInputError(
                    f"--vary {item!r}: {name} is varied twice (also "
                    f"{bounds[name][0]:g}:{bounds[name][1]:g}); allowed: one --vary per quantity"
                )
            bounds[name] = (lo, hi)
        base = load_yaml(Path(device_file).read_text())
        prob = DesignProblem(dev, bounds, objs, volts, mesh=MeshSpec(mesh), base_mapping=base)
    except PeledInputError as err:
        _fail(err)
    click.echo(
        f"{dev.name}: maximising {' + '.join(o.label() for o in objs)} over "
        f"{', '.join(bounds)} ({volts.size} biases, {mesh} nodes per layer)"
    )
    from peled.optimize import OptimizationError

    try:
        res = run(prob, max_iterations=max_iter, progress=True)
        write_optimization(res, out_dir)
    except (OptimizationError, PeledInputError) as err:
        _fail(err)
    _add_provenance(
        out_dir / "optimization.json",
        dev,
        provenance(
            device_file,
            volts,
            prob.mesh,
            prob.settings,
            command="peled optimize",
            objectives=list(objectives),
            vary=list(vary),
            max_iterations=max_iter,
        ),
    )
    click.echo(f"  {res.iterations} iterations, {res.evaluations} evaluations, {res.wall_s:.1f} s")
    click.echo(
        f"  objective {res.initial_log_objective:.6g} -> {res.best_log_objective:.6g} "
        f"({res.message})"
    )
    for row in res.parameter_table():
        click.echo(f"  {row['parameter']:<36} {row['initial']:.6g} -> {row['optimized']:.6g}")
    for label, part in res.best_parts.items():
        if not part["reached"]:
            click.echo(
                f"warning: the optimized design does not reach the operating point of {label} "
                "within the sweep; its value is the continuation described in "
                "docs/user-guide/optimize.md",
                err=True,
            )
    click.echo(f"wrote {out_dir}/")
