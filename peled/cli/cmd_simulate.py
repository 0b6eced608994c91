"""``peled simulate``: one device's J-V-L sweep, its files and its printed summary."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

import click
import numpy as np

from peled.cli import main
from peled.cli.common import (
    MESH_NODES,
    PHYSICS_OPTION,
    _check_out_dir,
    _enable_compilation_cache,
    _fail,
    _load,
    _make_out_dir,
    _remove_if_empty,
    _slug,
    _voltages,
)
from peled.errors import PeledInputError


@main.command()
@click.argument("device_file", type=click.Path(), required=False)
@click.option("--out", "out", type=click.Path(), default=None, help="output folder")
@click.option("--start-V", "start_v", type=float, default=None)
@click.option("--stop-V", "stop_v", type=float, default=None)
@click.option("--step-V", "step_v", type=float, default=None)
@click.option("--mesh", type=MESH_NODES, default=None, help="nodes per layer, 4-4096 (default 64)")
@click.option(
    "--mesh-grading",
    type=click.Choice(["sine", "loglinear"]),
    default="sine",
    show_default=True,
    help="node placement in each layer; loglinear resolves interface sheets far thinner "
    "(docs/numerics/accuracy.md, mesh convergence)",
)
@click.option("--no-plots", is_flag=True, help="skip the PNG plots")
@click.option(
    "--no-progress",
    is_flag=True,
    help="no per-bias progress bar (with or without it, a later run of the same device "
    "shape loads the compiled sweep from the cache)",
)
@click.option(
    "--profile-V",
    "profile_v",
    type=float,
    multiple=True,
    help="bias [V] for profiles/zones/band plots (repeat; default turn-on, EQE_max, last)",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="validate the inputs and the output folder, print what would run; no solving",
)
@PHYSICS_OPTION
def simulate(
    device_file,
    out,
    start_v,
    stop_v,
    step_v,
    mesh,
    mesh_grading,
    no_plots,
    no_progress,
    profile_v,
    dry_run,
    physics,
) -> None:
    """Simulate a device's J-V-L sweep and write jv.csv, summary.json, profiles.csv, plots.

    Without DEVICE_FILE the built-in default (green CsPbBr3 PeLED) is simulated.
    """
    import json

    from peled.core.newton import SolverSettings
    from peled.core.params import MeshSpec
    from peled.device import default_device_path
    from peled.io import write_jv, write_profiles, write_text
    from peled.plotting import default_profile_biases
    from peled.report import for_people, name_layers, provenance

    device_path = device_file or str(default_device_path())
    dev = _load(device_path, physics)
    volts = _voltages(dev, start_v, stop_v, step_v)
    out_dir = Path(out) if out else Path(_slug(dev.name))
    spec = None
    if mesh or mesh_grading != "sine":
        spec = MeshSpec(mesh or MeshSpec().nodes_per_layer, grading=mesh_grading)
    used = spec or MeshSpec()
    for pv in profile_v:
        if not volts[0] <= pv <= volts[-1]:
            _fail(
                PeledInputError(
                    f"--profile-V {pv:g}: outside the sweep; allowed {volts[0]:g} to "
                    f"{volts[-1]:g} V"
                )
            )
    if dry_run:
        _check_out_dir(out_dir)
        click.echo(f"dry run: {dev.name} ({device_path}), {len(dev.layers)} layers, nothing solved")
        click.echo(
            f"  biases  {volts[0]:g} to {volts[-1]:g} V, {volts.size} points"
            + (f" in steps of {volts[1] - volts[0]:.6g} V" if volts.size > 1 else "")
        )
        click.echo(f"  mesh    {used.nodes_per_layer} nodes per layer, {used.grading} grading")
        click.echo(f"  physics {dev.physics}")
        click.echo(
            f"  output  {out_dir}/ ({'exists' if out_dir.is_dir() else 'would be created'}): "
            "jv.csv, summary.json, profiles.csv" + ("" if no_plots else ", 5 PNG plots")
        )
        return
    from peled.simulate import simulate as run

    _enable_compilation_cache()
    created = _make_out_dir(out_dir)
    settings = SolverSettings()
    try:
        res = run(dev, volts, mesh=spec, settings=settings, progress=not no_progress)
    except BaseException:
        if created:
            _remove_if_empty(out_dir)
        raise
    # write everything into a fresh folder, then move the files over: nothing half-written
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".peled-") as tmp:
        t = Path(tmp)
        write_jv(res, t / "jv.csv")
        chosen = list(profile_v) or None
        summ = res.summary()
        # the printed summary is the default one; the file's uses the chosen biases
        summary = copy.deepcopy(summ) if chosen is None else res.summary(chosen)
        summary.update(
            {
                "mesh_nodes_per_layer": used.nodes_per_layer,
                "mesh_grading": used.grading,
                "physics": dev.physics,
                "provenance": provenance(
                    device_path,
                    volts,
                    used,
                    settings,
                    command="peled simulate" + (f" --physics {physics}" if physics else ""),
                ),
            }
        )
        summary = for_people(name_layers(summary, dev))
        write_text(t / "summary.json", json.dumps(summary, indent=2, allow_nan=False))
        write_profiles(res, default_profile_biases(res, chosen), t / "profiles.csv")
        if not no_plots:
            res.plot(t, chosen)
        for f in t.iterdir():
            shutil.move(str(f), out_dir / f.name)
    click.echo(
        f"{dev.name}: {summ['converged_points']}/{summ['total_points']} bias points converged"
    )
    relaxed = {k: n for k, n in summ["result_counts"].items() if k not in ("strict", "failed")}
    if relaxed:
        click.echo(
            f"note: {sum(relaxed.values())} biases were accepted by a relaxed rule or on a"
            " later pass of the sweep (jv.csv column result; SweepStates in"
            " peled/core/newton.py): " + ", ".join(f"{k} {n}" for k, n in relaxed.items()),
            err=True,
        )
    if summ["zone_unresolved_points"]:
        click.echo(
            f"warning: from {summ['zone_unresolved_from_V']:g} V ({summ['zone_unresolved_points']}"
            " biases) the recombination zone is a sheet thinner than the mesh spacing:"
            " J and L there rest on cells wider than the sheet and change with the mesh"
            " (by tens of percent where a Boltzmann pile-up meets Auger), and the zone width"
            " is the mesh's; rerun with --mesh 128 --mesh-grading loglinear, which resolves"
            " such sheets"
            " (docs/numerics/accuracy.md, \"Recombination zone thinner than the mesh\")",
            err=True,
        )
    if summ["current_unresolved_points"]:
        click.echo(
            f"note: up to {summ['current_unresolved_up_to_V']:g} V"
            f" ({summ['current_unresolved_points']} biases) |J| is below the float64"
            " resolution of the current (jv.csv current_floor_mA_cm2, current_resolved), so J,"
            " EQE, CE and PE there may be round-off (docs/numerics/accuracy.md, accuracy floor"
            " of the current)",
            err=True,
        )
    for key in (
        "turn_on_voltage_V",
        "eqe_max_percent",
        "voltage_at_eqe_max_V",
        "current_density_at_eqe_max_mA_cm2",
        "eqe_max_all_biases_percent",
        "luminance_max_cd_m2",
        "current_density_at_half_eqe_mA_cm2",
        "charge_balance_factor_at_eqe_max",
        "emitter_electron_hole_sheet_density_ratio_at_eqe_max",
        "cie_x",
        "cie_y",
    ):
        val = summ[key]
        text = "-" if val is None else f"{val:.4g}"
        if key == "eqe_max_percent" and val is None:
            text = "- (no bias is trusted: resolved current and strict result)"
        if key == "eqe_max_all_biases_percent":
            if val is None or val == summ["eqe_max_percent"]:
                continue  # the headline already is the maximum over all biases
            # shown only to say what the headline leaves out, and why it may not be quoted
            why = (
                "|J| below its round-off floor"
                if not summ["eqe_max_all_biases_current_resolved"]
                else f"accepted as {summ['eqe_max_all_biases_result']}"
            )
            at = summ["current_density_at_eqe_max_all_biases_mA_cm2"]
            text += f" (not trusted: {why}, at {at:.3g} mA/cm2)"
        if key == "turn_on_voltage_V" and summ["turn_on_below_sweep_start"]:
            first = float(res.voltage_V[res.converged][0])
            text = f"not determined: L >= 1 cd/m2 already at {first:.4g} V (below the sweep)"
        click.echo(f"  {key:<54} {text}")
    click.echo(f"wrote {out_dir}/")
    if summ["converged_points"] < summ["total_points"]:
        bad = res.voltage_V[~res.converged]
        click.echo(
            f"warning: not converged at {bad.size} biases: {np.array2string(bad, precision=2)}",
            err=True,
        )
