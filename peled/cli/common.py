"""Helpers shared by the ``peled`` commands: refusing bad inputs and output folders,
loading a device, the bias grid, provenance of JSON outputs, the --physics option."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path

import click
import numpy as np

from peled.errors import PeledInputError


def _fail(err: Exception) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(2)


# nodes per layer a command accepts (the sweep file's mesh.nodes_per_layer has the same)
MESH_NODES = click.IntRange(4, 4096)


def _check_out_dir(path: Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be made: a file in its place
    or above it, or an existing ancestor that is not writable."""
    if path.exists() and not path.is_dir():
        _fail(PeledInputError(f"{flag} {path}: is a file; allowed: a folder (new or existing)"))
    parent = path
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        _fail(
            PeledInputError(
                f"{flag} {path}: {parent} is a file, so no folder can be made under it; "
                "allowed: a folder path whose parents are folders"
            )
        )
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        _fail(PeledInputError(f"{flag} {path}: {parent} is not writable"))


def _make_out_dir(path: Path, flag: str = "--out") -> bool:
    """Check and create the output folder before any work; True when it was created."""
    _check_out_dir(path, flag)
    existed = path.is_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        _fail(PeledInputError(f"{flag} {path}: cannot create the folder: {err.strerror}"))
    return not existed


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()  # only an empty folder goes


def _enable_compilation_cache() -> None:
    """Point JAX's persistent compilation cache at peled's cache folder (imports JAX);
    called by the commands that compile solvers, just before they solve."""
    from peled.runtime import enable_compilation_cache

    enable_compilation_cache()


PHYSICS_OPTION = click.option(
    "--physics",
    type=click.Choice(["classic", "disorder_aware"]),
    default=None,
    help="description of the films, replacing the device file's 'physics' key: classic "
    "(as the material files state) or disorder_aware (Gauss-Fermi/EGDM organics, "
    "nanocrystal levels and excitonic emitter, image force; docs/model/index.md)",
)


def _load(path: str, physics: str | None = None):
    from peled.device import load_device

    try:
        return load_device(path, physics=physics)
    except PeledInputError as err:
        _fail(err)


def _voltages(dev, start_v, stop_v, step_v) -> np.ndarray:
    """The device's sweep [V] with any of start/stop/step replaced from the command line:
    start to stop inclusive in whole steps; a step that does not fit is refused
    (peled.device.bias_grid), so the last bias is exactly the stop."""
    from peled.device import bias_grid

    a, b, s = dev.sweep_V
    src = f"{dev.source_file}: key 'sweep."
    names = (
        f"{src}start_V'" if start_v is None else "--start-V",
        f"{src}stop_V'" if stop_v is None else "--stop-V",
        f"{src}step_V'" if step_v is None else "--step-V",
    )
    a = a if start_v is None else start_v
    b = b if stop_v is None else stop_v
    s = s if step_v is None else step_v
    try:
        return bias_grid(a, b, s, names=names)
    except PeledInputError as err:
        _fail(err)


def _add_provenance(path: Path, dev, prov: dict) -> None:
    """Add a provenance entry to a JSON output, rounded for people, layers named."""
    import json

    from peled.io import write_text
    from peled.report import for_people, name_layers

    doc = json.loads(path.read_text())
    doc["provenance"] = prov
    write_text(path, json.dumps(for_people(name_layers(doc, dev)), indent=2, allow_nan=False))


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "device"


def _float_list(text: str, flag: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        _fail(PeledInputError(f"{flag} {text}: allowed: numbers separated by commas"))
    if not vals:
        _fail(PeledInputError(f"{flag} {text}: give at least one value"))
    return vals
