"""``peled check`` and ``peled diagram``: a device file validated and described, and its
flat-band energy-level diagram; nothing is solved."""

from __future__ import annotations

from pathlib import Path

import click

from peled.cli import main
from peled.cli.common import PHYSICS_OPTION, _check_out_dir, _fail, _load, _slug
from peled.errors import PeledInputError


@main.command()
@click.argument("device_file", type=click.Path())
@PHYSICS_OPTION
def check(device_file: str, physics: str | None) -> None:
    """Validate a device and print its stack, energy levels, models and injection
    barriers."""
    dev = _load(device_file, physics)
    click.echo(
        f"{dev.name}: valid; T = {dev.temperature_K} K, {len(dev.layers)} layers, "
        f"physics {dev.physics}"
    )

    def image(c) -> str:
        return "image force" if c.image_force else "no image force"

    click.echo(
        f"  anode   {dev.anode.name:<14} WF {dev.anode.work_function_eV:.2f} eV, {image(dev.anode)}"
    )
    for la in dev.layers:
        m = la.material
        stats = {m.carrier_statistics(c) for c in ("electron", "hole")}
        mobility = {m.electron_mobility_model, m.hole_mobility_model}
        models = f"{'/'.join(sorted(stats))}, mobility {'/'.join(sorted(mobility))}"
        if m.role == "emitter":
            models += f", {m.emitter_model} emitter"
        click.echo(
            f"  {m.name:<22} {la.thickness_nm:7.1f} nm  EA {m.electron_affinity_eV:.2f}  "
            f"IE {m.ionization_energy_eV:.2f} eV  ({m.role}; {models})"
        )
    click.echo(
        f"  cathode {dev.cathode.name:<14} WF {dev.cathode.work_function_eV:.2f} eV, "
        f"{image(dev.cathode)}"
    )
    if not dev.emitter_indices:
        click.echo(
            f"warning: {device_file}: no layer emits (no material with role 'emitter'): "
            "the device gives no light, so luminance, EQE and the recombination zone are "
            "zero or undefined",
            err=True,
        )
    first, last = dev.layers[0].material, dev.layers[-1].material
    click.echo("injection barriers (eV, positive = uphill):")
    hole_barrier = first.ionization_energy_eV - dev.anode.work_function_eV
    electron_barrier = dev.cathode.work_function_eV - last.electron_affinity_eV
    click.echo(f"  holes, anode -> {first.name}: {hole_barrier:+.2f}")
    click.echo(f"  electrons, cathode -> {last.name}: {electron_barrier:+.2f}")
    images = dev.interface_images()
    for a, b, tag in zip(dev.layers[:-1], dev.layers[1:], images, strict=True):
        ma, mb = a.material, b.material
        dh = mb.ionization_energy_eV - ma.ionization_energy_eV
        de = mb.electron_affinity_eV - ma.electron_affinity_eV
        plane = {
            1: f"; {ma.name} is the image plane of {mb.name}",
            -1: f"; {mb.name} is the image plane of {ma.name}",
        }.get(tag, "")
        click.echo(
            f"  {ma.name} | {mb.name}: holes {dh:+.2f} (towards cathode), "
            f"electrons {de:+.2f} (towards anode){plane}"
        )
    click.echo(
        "  interface image force "
        + (
            "on (a layer screening within its neighbour's site spacing)"
            if dev.interface_image_force
            else "off"
        )
    )


@main.command()
@click.argument("device_file", type=click.Path())
@click.option("--out", "out", type=click.Path(), default=None, help="PNG path (.png)")
def diagram(device_file: str, out: str | None) -> None:
    """Write the flat-band energy-level diagram (PNG)."""
    from peled.plotting import plot_flat_band

    dev = _load(device_file)
    path = Path(out) if out else Path(_slug(dev.name) + "-diagram.png")
    if path.suffix.lower() != ".png":
        _fail(
            PeledInputError(
                f"--out {out}: suffix {path.suffix or '(none)'!r}: the diagram is written as "
                "PNG; allowed: a path ending in .png"
            )
        )
    _check_out_dir(path.parent if str(path.parent) else Path("."))
    if path.is_dir():
        _fail(PeledInputError(f"--out {out}: is a folder; allowed: a .png file path"))
    plot_flat_band(dev, path)
    click.echo(f"wrote {path}")
