"""A sweep's results on disk: the chunk files of finished batches
(``chunks/chunk-<first>-<last>.parquet``, each written atomically), reading them back as
one table, and the manifest ``sweep.json`` with the sweep's fingerprint and its parts,
which ``resume`` compares to refuse a changed sweep and to say what changed.

:func:`peled.sweep.run_sweep` writes and reads the folder through these functions;
``peled.sweep`` re-exports them.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peled.errors import PeledInputError
from peled.io import atomic_path, write_text
from peled.report import for_people, provenance

if TYPE_CHECKING:
    from peled.core.newton import SolverSettings
    from peled.sweep_spec import Sweep


# ---------------------------------------------------------------- results on disk


def _chunks_dir(out_dir: Path) -> Path:
    return out_dir / "chunks"


def read_chunks(out_dir: str | os.PathLike[str]):
    """All finished rows in ``out_dir/chunks`` (pandas DataFrame, one row per candidate)."""
    import pandas as pd

    files = sorted(_chunks_dir(Path(out_dir)).glob("chunk-*.parquet"))
    if not files:
        return pd.DataFrame()
    df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    df = df.drop_duplicates("candidate_id", keep="first")
    return df.sort_values("candidate_index", kind="stable").reset_index(drop=True)


def _write_parquet(df, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, engine="pyarrow", index=False)
    return path


def _write_chunk(out_dir: Path, rows: list[dict[str, Any]]) -> Path:
    import pandas as pd

    idx = [r["candidate_index"] for r in rows]
    path = _chunks_dir(out_dir) / f"chunk-{min(idx):06d}-{max(idx):06d}.parquet"
    return _write_parquet(pd.DataFrame(rows), path)


_PART_NAMES = {
    "base_device": "the base device",
    "axes": "the axes",
    "sampling": "the sampling (method, n_samples, seed)",
    "voltages_V": "the biases",
    "mesh": "the mesh",
    "luminance_voltages_V": "the luminance voltages",
}


def fingerprint_changes(old: dict[str, Any], new: dict[str, Any], db=None) -> list[str]:
    """What differs between two :meth:`Sweep.fingerprint_parts` (one phrase per change)."""
    out = []
    for key, label in _PART_NAMES.items():
        if old.get(key) != new.get(key):
            if key in ("mesh", "luminance_voltages_V"):
                out.append(f"{label} ({old.get(key)} -> {new.get(key)})")
            else:
                out.append(label)
    so, sn = old.get("solver_settings") or {}, new.get("solver_settings") or {}
    diff = [
        f"{k} {so.get(k)} -> {sn.get(k)}"
        for k in sorted(set(so) | set(sn))
        if so.get(k) != sn.get(k)
    ]
    if diff:
        out.append("the solver settings (" + ", ".join(diff) + ")")
    mo, mn = old.get("materials") or {}, new.get("materials") or {}
    for name in sorted(set(mo) | set(mn), key=str.lower):
        if name not in mo:
            out.append(f"material {name!r} (not used before)")
        elif name not in mn:
            out.append(f"material {name!r} (no longer used)")
        elif mo[name] != mn[name]:
            where = ""
            if db is not None:
                with contextlib.suppress(Exception):
                    where = f", {db.file_of(name)}"
            out.append(f"material {name!r} (database entry edited{where})")
    return out


def _check_manifest(
    out_dir: Path, sweep: Sweep, n_total: int, resume: bool, settings: SolverSettings
) -> None:
    manifest = out_dir / "sweep.json"
    done = list(_chunks_dir(out_dir).glob("chunk-*.parquet"))
    parts = sweep.fingerprint_parts(settings)
    fingerprint = sweep.fingerprint(settings)
    if manifest.is_file():
        old = json.loads(manifest.read_text())
        if old.get("fingerprint") != fingerprint:
            if "fingerprint_parts" in old:
                changes = fingerprint_changes(old["fingerprint_parts"], parts, sweep.db)
                what = "; ".join(changes) or "its fingerprint"
            else:
                what = "its fingerprint (written by an older peled, which recorded no parts)"
            raise PeledInputError(
                f"{sweep.source}: output folder {out_dir} holds results of a different sweep "
                f"({old.get('source')}): changed since that run: {what}; its rows cannot be "
                "mixed with new ones: use another output folder"
            )
    if done and not resume:
        raise PeledInputError(
            f"{sweep.source}: output folder {out_dir} already holds {len(done)} finished chunks; "
            "pass resume=True (--resume) to continue that sweep, or use another folder"
        )
    info = {
        "name": sweep.name,
        "source": sweep.source,
        "fingerprint": fingerprint,
        "fingerprint_parts": parts,
        "n_candidates": n_total,
        "axes": [a.column for a in sweep.axes],
        "voltages_V": [
            float(sweep.voltages_V[0]),
            float(sweep.voltages_V[-1]),
            sweep.voltages_V.size,
        ],
        "nodes_per_layer": sweep.mesh.nodes_per_layer,
        # rounded for reading; the fingerprint parts above stay exact (resume compares them)
        "provenance": for_people(
            provenance(
                sweep.source if Path(sweep.source).is_file() else None,
                sweep.voltages_V,
                sweep.mesh,
                settings,
                sampling={
                    "method": sweep.method,
                    "n_samples": sweep.n_samples,
                    "seed": sweep.seed,
                },
            )
        ),
    }
    write_text(manifest, json.dumps(info, indent=2))
