"""Validation cases: one YAML file per literature device (``validation/devices/*.yaml``).

A case file has three blocks::

    id: T2-01                         # optional; default: the file name without suffix
    reported:                         # numbers from the review's Table 2 (units in names)
      eqe_max_percent: 6.27
      luminance_max_cd_m2: 15185
      current_efficiency_max_cd_A: 13.3
      cie_x: null
      cie_y: null
      el_peak_nm: 512
      el_fwhm_nm: 20
      review_reference: 12
    device: {...}                     # a device mapping accepted by peled.device_from_mapping
    provenance: {...}                 # where each layer of the stack comes from (free form)

Every reported value may be ``null`` (not reported). Errors name the file, the key and
what is allowed (:class:`peled.errors.PeledInputError`).

When the case id is a row of the review table shipped in ``validation/review_table2_peled.csv``
the reported values are cross-checked against that table (a copy error is a bad input)
and the row's composition name (``material`` column) is attached to the case: the
data-consistency screen compares the emission energy with that composition's band gap.
"""

from __future__ import annotations

import csv
import glob
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from peled.device import Device, device_from_mapping
from peled.errors import PeledInputError
from peled.materials import (
    MaterialDatabase,
    _format_validation_error,
    default_database,
    load_yaml,
)

#: Repository folders (the package lives in <root>/peled/validation).
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CASES_GLOB = str(REPO_ROOT / "validation" / "devices" / "T2-*.yaml")
DEFAULT_SCENARIOS_GLOB = str(REPO_ROOT / "validation" / "devices" / "scenarios" / "*.yaml")
REVIEW_TABLE_CSV = REPO_ROOT / "validation" / "review_table2_peled.csv"

#: Case-file key in ``reported`` -> column of review_table2_peled.csv.
REPORTED_TO_CSV = {
    "eqe_max_percent": "eqe_max_percent",
    "luminance_max_cd_m2": "l_max_cd_m2",
    "current_efficiency_max_cd_A": "ce_max_cd_A",
    "cie_x": "cie_x",
    "cie_y": "cie_y",
    "el_peak_nm": "el_peak_nm",
    "el_fwhm_nm": "el_fwhm_nm",
    "review_reference": "review_ref",
}
#: Relative tolerance of the case-file vs review-table cross-check.
CSV_MATCH_RTOL = 1e-6


class ReportedValues(BaseModel):
    """Reported figures of one device (None = not reported)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eqe_max_percent: float | None = Field(default=None, gt=0, le=100)
    luminance_max_cd_m2: float | None = Field(default=None, gt=0, le=1e8)
    current_efficiency_max_cd_A: float | None = Field(default=None, gt=0, le=1000)
    cie_x: float | None = Field(default=None, gt=0, lt=1)
    cie_y: float | None = Field(default=None, gt=0, lt=1)
    el_peak_nm: float | None = Field(default=None, ge=360, le=830)
    el_fwhm_nm: float | None = Field(default=None, gt=0, lt=200)
    luminance_is_lower_bound: bool = False
    review_reference: int | str | None = None
    composition: str | None = None
    source: str | None = None
    method: str | None = None
    stability: str | None = None
    year: int | None = None
    notes: str | None = None
    note: str | None = None


class CaseFile(BaseModel):
    """Top level of a case file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, min_length=1)
    title: str | None = None
    description: str | None = None
    notes: str | None = None
    reported: ReportedValues
    device: dict[str, Any]
    provenance: dict[str, Any] = Field(default_factory=dict)
    original_paper: dict[str, Any] = Field(default_factory=dict)
    data_flags: list[str] = Field(default_factory=list)
    scenario: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class ValidationCase:
    """A loaded case: id, reported values, the resolved device, provenance, its file."""

    case_id: str
    reported: ReportedValues
    device: Device
    provenance: Mapping[str, Any]
    path: str
    composition: str | None = None
    notes: str = ""
    original_paper: Mapping[str, Any] = field(default_factory=dict)
    data_flags: tuple[str, ...] = ()
    scenario: Mapping[str, Any] = field(default_factory=dict)
    device_mapping: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def emitter(self):
        """The first emitting layer's material (after overrides), or None."""
        idx = self.device.emitter_indices
        return self.device.layers[idx[0]].material if idx else None

    @property
    def stack_status(self) -> str:
        """``provenance.stack_status`` (reported / reported_unverified / assumed) or 'unknown'."""
        return str(self.provenance.get("stack_status", "unknown"))

    def assumed_layers(self) -> list[str]:
        """Provenance entries whose status (or value) is ``assumed``: the unreported parts."""
        out = []
        for key, val in _flatten(self.provenance):
            if key.endswith("basis") or key == "stack_status":
                continue
            if isinstance(val, str) and val.strip().lower().startswith("assumed"):
                out.append(key.removesuffix(".status"))
        return out


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, Mapping):
        items: list[tuple[str, Any]] = []
        for k, v in obj.items():
            items.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return items
    if isinstance(obj, list):
        items = []
        for i, v in enumerate(obj):
            items.extend(_flatten(v, f"{prefix}[{i}]"))
        return items
    return [(prefix, obj)]


def _csv_float(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def review_table(path: str | os.PathLike[str] = REVIEW_TABLE_CSV) -> dict[str, dict[str, str]]:
    """Rows of the review's Table 2 keyed by id (raw strings; '' = not reported)."""
    path = Path(path)
    if not path.is_file():
        # without it the copy-error cross-check and the composition screen would switch
        # themselves off silently
        raise PeledInputError(
            f"{path}: the review's Table 2 (validation/review_table2_peled.csv) is missing"
        )
    with open(path, newline="") as fh:
        return {row["id"]: row for row in csv.DictReader(fh)}


def _cross_check(case_id: str, rep: ReportedValues, row: Mapping[str, str], where: str) -> None:
    """Raise if a reported value differs from the review table's (copy errors)."""
    for key, col in REPORTED_TO_CSV.items():
        mine = getattr(rep, key)
        theirs_raw = row.get(col, "")
        if key == "review_reference":
            if mine is not None and theirs_raw and str(mine).strip() != theirs_raw.strip():
                raise PeledInputError(
                    f"{where}: key 'reported.{key}' = {mine!r} differs from the review table "
                    f"({REVIEW_TABLE_CSV.name}, row {case_id}, column {col!r}: {theirs_raw!r})"
                )
            continue
        try:
            theirs = _csv_float(theirs_raw)
        except ValueError:
            raise PeledInputError(
                f"{REVIEW_TABLE_CSV}: row {case_id}, column {col!r}: {theirs_raw!r} is not a number"
            ) from None
        if mine is None and theirs is None:
            continue
        if (mine is None) != (theirs is None) or not math.isclose(
            float(mine), float(theirs), rel_tol=CSV_MATCH_RTOL
        ):
            raise PeledInputError(
                f"{where}: key 'reported.{key}' = {mine!r} differs from the review table "
                f"({REVIEW_TABLE_CSV.name}, row {case_id}, column {col!r}: "
                f"{theirs_raw!r}); copy the table's value (empty cell = null)"
            )


def load_case(
    path: str | os.PathLike[str],
    db: MaterialDatabase | None = None,
    table: Mapping[str, Mapping[str, str]] | None = None,
) -> ValidationCase:
    """Load and validate one case file (see the module docstring for the format)."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise PeledInputError(f"{where}: case file not found")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as err:
        raise PeledInputError(f"{where}: not valid YAML: {err}") from None
    if not isinstance(data, Mapping):
        raise PeledInputError(
            f"{where}: a case file must be a mapping with keys 'reported', 'device', 'provenance'"
        )
    try:
        spec = CaseFile.model_validate(dict(data))
    except ValidationError as err:
        raise PeledInputError(_format_validation_error(err, where)) from None
    case_id = spec.id or path.stem
    device = device_from_mapping(spec.device, f"{where}: device", db or default_database())
    table = review_table() if table is None else table
    composition = spec.reported.composition
    if case_id in table:
        _cross_check(case_id, spec.reported, table[case_id], where)
        composition = composition or table[case_id].get("material") or None
    notes = " ".join(s for s in (spec.notes, spec.reported.notes, spec.reported.note) if s)
    return ValidationCase(
        case_id=case_id,
        reported=spec.reported,
        device=device,
        provenance=spec.provenance,
        path=where,
        composition=composition,
        notes=notes,
        original_paper=spec.original_paper,
        data_flags=tuple(spec.data_flags),
        scenario=spec.scenario,
        device_mapping=spec.device,
    )


def find_case_files(pattern: str | Sequence[str] = DEFAULT_CASES_GLOB) -> list[str]:
    """Sorted case files matching a glob (or several); raises if none match."""
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    files = sorted({f for p in patterns for f in glob.glob(str(p))})
    if not files:
        raise PeledInputError(
            f"no validation case files match {', '.join(map(str, patterns))} "
            "(expected YAML files with 'reported', 'device' and 'provenance' blocks)"
        )
    return files


def load_cases(
    pattern: str | Sequence[str] = DEFAULT_CASES_GLOB, db: MaterialDatabase | None = None
) -> list[ValidationCase]:
    """Load every case file matching ``pattern`` (sorted by file name)."""
    db = db or default_database()
    table = review_table()
    cases = [load_case(f, db, table) for f in find_case_files(pattern)]
    seen: dict[str, object] = {}
    for c, f in zip(cases, find_case_files(pattern), strict=True):
        if c.case_id in seen:
            # metrics.json keys rows by id: a duplicate would silently overwrite a row
            raise PeledInputError(f"{f}: case id {c.case_id!r} is also used by {seen[c.case_id]}")
        seen[c.case_id] = f
    return cases
