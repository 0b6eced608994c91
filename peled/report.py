"""What the JSON outputs say about where they came from, in numbers a person can read.

* :func:`provenance`: peled's version, the input file with its SHA-256, the bias grid,
  the mesh and the solver settings of a run (the ``provenance`` entry of summary.json
  and sweep.json).
* :func:`for_people`: floats rounded to 10 significant digits (1.95, not
  1.9500000000000002; 1.0, not 1.0000000000000981), non-finite values as null. Full
  precision stays in the CSV and parquet tables.
* :func:`name_layers`: per-layer keys named by the layer's material as the device file
  writes it (``fraction_within_5nm_of_CsPbBr3-NC_anode_side``), not by its 0-based index.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: significant digits of the floats in summary.json and the other JSON outputs
SIGNIFICANT_DIGITS = 10


def peled_version() -> str:
    """The installed peled's version (the package's own string when not installed)."""
    try:
        from importlib.metadata import version

        return version("peled")
    except Exception:  # pragma: no cover - running from a source tree without metadata
        import peled

        return peled.__version__


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def bias_grid_entry(voltages_V: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """start, stop, step (None when the biases are not evenly spaced) [V] and the count."""
    v = np.asarray(voltages_V, dtype=np.float64)
    step = None
    if v.size > 1:
        d = np.diff(v)
        if np.allclose(d, d[0], rtol=1e-9, atol=1e-12):
            step = float(d[0])
    return {
        "start_V": float(v[0]),
        "stop_V": float(v[-1]),
        "step_V": step,
        "points": int(v.size),
    }


def provenance(
    input_file: str | Path | None,
    voltages_V: Sequence[float] | np.ndarray | None = None,
    mesh: Any = None,
    settings: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """Where a result came from: version, input file (as given and resolved) and its
    SHA-256, the bias grid, the mesh (a MeshSpec) and the solver settings (a dataclass),
    plus ``extra`` entries (e.g. the command line)."""
    out: dict[str, Any] = {"peled_version": peled_version()}
    if input_file is not None:
        p = Path(input_file)
        out["input_file"] = str(input_file)
        out["input_file_resolved"] = str(p.resolve())
        out["input_sha256"] = file_sha256(p) if p.is_file() else None
    if voltages_V is not None:
        out["bias_grid"] = bias_grid_entry(voltages_V)
    if mesh is not None:
        out["mesh"] = {
            "nodes_per_layer": mesh.nodes_per_layer,
            "grading": getattr(mesh, "grading", None),
            "clustering": getattr(mesh, "clustering", None),
        }
    if settings is not None:
        out["solver_settings"] = dataclasses.asdict(settings)
    out.update(extra)
    return out


def _round(x: float, digits: int) -> float | None:
    if not math.isfinite(x):
        return None
    if x == 0.0:
        return 0.0
    return float(f"{x:.{digits}g}")


def for_people(obj: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """``obj`` with every float rounded to ``digits`` significant digits (numpy scalars
    and arrays converted), non-finite floats as None; other values unchanged."""
    if isinstance(obj, bool | type(None) | str):
        return obj
    if isinstance(obj, dict):
        return {k: for_people(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [for_people(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return for_people(obj.tolist(), digits)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _round(float(obj), digits)
    return obj


def layer_labels(device: Any) -> list[str]:
    """A label per layer: its material's name as the device file gives it; a name used by
    several layers gets ``#2``, ``#3`` on its later layers (anode side first)."""
    names = [la.material.name for la in device.layers]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


_LAYER_KEY = re.compile(r"^(fraction_within_\d+nm_of_)(\d+)(_(?:anode|cathode)_side)$")


def name_layers(obj: Any, device: Any) -> Any:
    """``obj`` (summary mapping) with index-named layer keys renamed to layer labels."""
    labels = layer_labels(device)

    def key(k: str) -> str:
        m = _LAYER_KEY.match(k)
        if m and int(m.group(2)) < len(labels):
            return f"{m.group(1)}{labels[int(m.group(2))]}{m.group(3)}"
        return k

    if isinstance(obj, dict):
        return {key(k) if isinstance(k, str) else k: name_layers(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [name_layers(v, device) for v in obj]
    return obj


__all__ = [
    "SIGNIFICANT_DIGITS",
    "bias_grid_entry",
    "file_sha256",
    "for_people",
    "layer_labels",
    "name_layers",
    "peled_version",
    "provenance",
]
