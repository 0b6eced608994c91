"""``peled optics``: the optical-only study of the emitter's dipoles in the stack."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from peled.cli import main
from peled.cli.common import _fail, _float_list, _load, _make_out_dir, _slug
from peled.errors import PeledInputError


def _scan_layer(dev, name: str):
    """A layer index, or "anode"/"cathode", from a material name or a 0-based index."""
    if name.lower() in ("anode", "cathode"):
        return name.lower(), getattr(dev, name.lower()).name
    if name.isdigit() and int(name) < len(dev.layers):
        return int(name), dev.layers[int(name)].material.name
    hits = [i for i, la in enumerate(dev.layers) if la.material.name.lower() == name.lower()]
    if len(hits) != 1:
        names = [la.material.name for la in dev.layers]
        why = "names several layers" if hits else "names no layer"
        _fail(
            PeledInputError(
                f"--scan-layer {name}: {why}; allowed: one of {names}, a 0-based layer "
                "index, 'anode' or 'cathode'"
            )
        )
    return hits[0], dev.layers[hits[0]].material.name


@main.command()
@click.argument("device_file", type=click.Path(), required=False)
@click.option("--out", "out", type=click.Path(), default=None, help="output folder")
@click.option(
    "--wavelengths-nm",
    "wavelengths",
    default=None,
    help="comma-separated vacuum wavelengths [nm] (default: the emission peak)",
)
@click.option(
    "--positions",
    type=click.IntRange(1, 201),
    default=11,
    show_default=True,
    help="dipole positions across the emitter (slice centres)",
)
@click.option(
    "--scan-layer",
    default=None,
    help="also scan this layer's thickness (material name, 0-based index, anode, cathode)",
)
@click.option(
    "--thicknesses-nm",
    "thicknesses",
    default=None,
    help="thicknesses [nm] of the scanned layer, comma-separated (default: 0.25x to 3x "
    "the device's value in 24 steps)",
)
def optics(device_file, out, wavelengths, positions, scan_layer, thicknesses) -> None:
    """Optical-only study of the emitter's dipoles in the stack: outcoupling.csv (mode
    budget and Purcell factor per position, wavelength and orientation), angular.csv and
    plots (docs/model/optics.md)."""
    from peled.device import default_device_path

    dev = _load(device_file or str(default_device_path()))
    lam = None if wavelengths is None else _float_list(wavelengths, "--wavelengths-nm")
    if lam is not None and any(not 200 <= x <= 3000 for x in lam):
        _fail(PeledInputError(f"--wavelengths-nm {wavelengths}: allowed: 200-3000 nm"))
    scan = None
    if scan_layer is not None:
        scan = _scan_layer(dev, scan_layer)
        if thicknesses is not None:
            th = _float_list(thicknesses, "--thicknesses-nm")
            if any(not 0 < x <= 5000 for x in th):
                _fail(PeledInputError(f"--thicknesses-nm {thicknesses}: allowed: 0-5000 nm"))
        else:
            key = scan[0]
            d0 = (
                dev.layers[key].thickness_nm
                if isinstance(key, int)
                else getattr(dev, key).thickness_nm
            )
            th = list(np.linspace(0.25 * d0, 3.0 * d0, 24))
    elif thicknesses is not None:
        _fail(PeledInputError("--thicknesses-nm needs --scan-layer"))
    out_dir = Path(out) if out else Path(_slug(dev.name) + "-optics")
    import pandas as pd

    from peled.io import atomic_path
    from peled.optics.plots import plot_angular, plot_mode_budget, plot_thickness_scan
    from peled.optics.study import angular_radiance, study, thickness_scan

    try:
        # everything that can refuse the inputs runs before the folder is made
        st = study(dev, lam, positions)
        angles = np.linspace(0.0, 89.0, 90)
        inten = angular_radiance(dev, st.wavelengths_nm, angles)
        sc = thickness_scan(dev, scan[0], th) if scan else None
    except PeledInputError as err:
        _fail(err)
    _make_out_dir(out_dir)
    with atomic_path(out_dir / "outcoupling.csv") as tmp:
        pd.DataFrame(st.rows()).to_csv(tmp, index=False, float_format="%.8g")
    ang = pd.DataFrame(
        [
            {
                "angle_deg": a,
                "wavelength_nm": w,
                "radiant_intensity_per_sr": inten[il, ia],
                "relative_to_lambertian": inten[il, ia] / (inten[il, 0] * np.cos(np.deg2rad(a))),
            }
            for il, w in enumerate(st.wavelengths_nm)
            for ia, a in enumerate(angles)
        ]
    )
    with atomic_path(out_dir / "angular.csv") as tmp:
        ang.to_csv(tmp, index=False, float_format="%.8g")
    plot_mode_budget(st, out_dir / "mode_budget.png")
    plot_angular(angles, st.wavelengths_nm, inten, out_dir / "angular.png")
    if sc is not None:
        with atomic_path(out_dir / "thickness_scan.csv") as tmp:
            pd.DataFrame(sc).to_csv(tmp, index=False, float_format="%.8g")
        plot_thickness_scan(sc, scan[1], out_dir / "thickness_scan.png")
    click.echo(
        f"{dev.name}: emitter {st.emitter}, {dev.emission_side} emission, "
        f"{positions} positions; isotropic, averaged across the emitter:"
    )
    click.echo(
        f"  {'lambda_nm':>9} {'F':>6} {'to_air':>7} {'substrate':>9} {'waveguide':>9} "
        f"{'evanesc.':>8} {'absorbed':>8}"
    )
    for il, w in enumerate(st.wavelengths_nm):
        f = st.fractions
        click.echo(
            f"  {w:9.1f} {st.purcell_factor[0, il].mean():6.3f} "
            f"{f['to_air'][0, il].mean():7.1%} {f['to_substrate'][0, il].mean():9.1%} "
            f"{f['waveguided'][0, il].mean():9.1%} {f['evanescent'][0, il].mean():8.1%} "
            f"{f['absorbed'][0, il].mean():8.1%}"
        )
    if sc is not None:
        best = int(np.argmax(sc["to_air"]))
        click.echo(
            f"  {scan[1]} thickness scan: to_air peaks at {sc['to_air'][best]:.1%} at "
            f"{sc['thickness_nm'][best]:.1f} nm"
        )
    click.echo(f"wrote {out_dir}/")
