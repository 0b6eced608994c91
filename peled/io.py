"""File outputs (jv.csv, summary.json, profiles.csv), always written atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from peled.result import SimulationResult


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary file name beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the permissions of a normally created one
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(text)
    return Path(path)


def write_jv(res: SimulationResult, path) -> Path:
    df = res.to_dataframe()
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.8g")
    return Path(path)


def write_summary(
    res: SimulationResult,
    path,
    extra: dict | None = None,
    profile_biases_V: Sequence[float] | None = None,
) -> Path:
    """summary.json: ``res.summary(profile_biases_V)`` plus ``extra`` keys."""
    s = res.summary(profile_biases_V)
    if extra:
        s.update(extra)
    clean = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in s.items()}
    return write_text(path, json.dumps(clean, indent=2, allow_nan=False))


def write_profiles(res: SimulationResult, indices: Sequence[int], path) -> Path:
    import pandas as pd

    layers = [res.device.layers[k].material.name for k in res.node_layer]
    cols: dict[str, np.ndarray | list] = {"position_nm": res.position_nm, "layer": layers}
    if res.radiative_weight is not None:
        cols["photons_per_radiative_event"] = res.radiative_weight
    keys = [
        "conduction_band_eV",
        "valence_band_eV",
        "electron_quasi_fermi_eV",
        "hole_quasi_fermi_eV",
        "electron_density_cm3",
        "hole_density_cm3",
        "radiative_rate_cm3_s",
        "srh_rate_cm3_s",
        "auger_rate_cm3_s",
        "interface_recombination_rate_cm2_s",
        "recombination_width_nm",
        "carriers_per_crystal",
        "auger_survival",
    ]
    for k in indices:
        tag = f"@{res.voltage_V[k]:.3f}V"
        for key in keys:
            cols[key + tag] = res.profiles[key][k]
        total = (
            res.profiles["radiative_rate_cm3_s"][k]
            + res.profiles["srh_rate_cm3_s"][k]
            + res.profiles["auger_rate_cm3_s"][k]
        )
        cols["total_recombination_rate_cm3_s" + tag] = total
    with atomic_path(path) as tmp:
        pd.DataFrame(cols).to_csv(tmp, index=False, float_format="%.8g")
    return Path(path)
