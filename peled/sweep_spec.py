"""Sweep specifications (YAML): a base device, design axes, sampling; and the candidates.

A sweep file names a base device and the axes along which copies of it are varied::

    base_device: ../green-cspbbr3.yaml      # path relative to this file, or a mapping
    axes:
      - {layer: 1, materials: [PVK, TFB, TCTA]}                 # material choice
      - {layer: 1, parameter: thickness_nm, range: {min: 15, max: 45, num: 4}}
      - {layer: CsPbBr3-NC, parameter: radiative_coefficient_cm3_s,
         range: {min: 1e-11, max: 1e-9, num: 3, scale: log}}
      - {contact: cathode, parameter: work_function_eV, values: [2.9, 3.2]}
      - {parameter: outcoupling, values: [0.2, 0.3]}            # device-level parameter
    sampling: {method: grid}                 # grid | random | latin_hypercube
    voltages: {start_V: 0, stop_V: 8, step_V: 0.1}
    mesh: {nodes_per_layer: 32}
    objective: {column: eqe_max_percent, sense: max}
    luminance_voltages_V: [4, 6]          # adds luminance_at_4V_cd_m2, eqe_at_4V_percent, ...
    pareto: {x: eqe_rolloff_percent, x_sense: min, y: eqe_max_percent, y_sense: max}

Sampling (``sampling.method``):

* ``grid``: the Cartesian product of every axis' values (a ``range`` needs ``num`` points:
  x_k = min + k (max - min) / (num - 1), or geometric spacing for ``scale: log``).
* ``random``: ``n_samples`` independent draws; a continuous ``range`` is drawn uniformly
  (log-uniformly for ``scale: log``), a list of materials or values uniformly.
* ``latin_hypercube``: ``n_samples`` points of ``scipy.stats.qmc.LatinHypercube`` in the
  unit cube [0, 1)^d (one dimension per axis); u maps to a continuous range as
  x = min + u (max - min) (log: x = min (max/min)^u) and to a list of k choices as the
  entry floor(u k), so each choice is used n_samples/k times (+-1).

Every draw comes from ``numpy.random.default_rng(seed)`` or the seeded LatinHypercube, so
the candidates and their ids are a deterministic function of the file and the seed.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import ValidationError

from peled.core.newton import SolverSettings
from peled.core.params import MeshSpec
from peled.device import (
    Device,
    bias_grid,
    device_from_mapping,
    device_to_mapping,
    format_input_error,
)
from peled.errors import PeledInputError
from peled.materials import (
    Electrode,
    MaterialDatabase,
    Semiconductor,
    Substrate,
    default_database,
    load_yaml,
)
from peled.sweep_schema import (  # noqa: F401  (re-exported)
    AxisSpec,
    MeshFields,
    ObjectiveSpec,
    ParetoSpec,
    RangeSpec,
    SamplingSpec,
    SweepFile,
    VoltageSpec,
)

#: Result columns an objective or a Pareto axis may name (besides luminance_at_<V>V_cd_m2).
METRIC_COLUMNS = (
    "eqe_max_percent",
    "eqe_rolloff_percent",
    "luminance_max_cd_m2",
    "turn_on_voltage_V",
    "voltage_at_eqe_max_V",
    "current_density_at_eqe_max_mA_cm2",
    "current_density_at_half_eqe_mA_cm2",
    "current_density_max_mA_cm2",
)

#: Numeric Semiconductor keys an axis may vary through the layer's ``overrides``.
LAYER_PARAMETERS = tuple(
    k for k, f in Semiconductor.model_fields.items() if f.annotation in (float, float | None)
)
DEVICE_PARAMETERS = ("temperature_K", "outcoupling")
CONTACT_PARAMETERS = ("work_function_eV",)


@dataclass(frozen=True)
class Axis:
    """A resolved axis: its result column, where it applies and its values or range."""

    column: str
    kind: Literal["layer_material", "layer_parameter", "contact", "device"]
    index: int | None  # layer index (layer axes)
    contact: str | None
    parameter: str | None  # None for material axes
    choices: tuple[Any, ...] | None  # discrete values (materials or numbers)
    range: RangeSpec | None

    def grid_values(self, where: str) -> tuple[Any, ...]:
        if self.choices is not None:
            return self.choices
        r = self.range
        assert r is not None
        if r.num is None:
            raise PeledInputError(
                f"{where}: key 'range.num' is missing: a grid needs the number of points "
                f"of axis {self.column!r} (an integer >= 1)"
            )
        if r.num == 1:
            return (r.min,)
        if r.scale == "log":
            return tuple(float(x) for x in np.geomspace(r.min, r.max, r.num))
        return tuple(float(x) for x in np.linspace(r.min, r.max, r.num))

    def from_unit(self, u: float) -> Any:
        """Map u in [0, 1) to a value (list entry floor(u k), or a point of the range)."""
        if self.choices is not None:
            k = len(self.choices)
            return self.choices[min(int(math.floor(u * k)), k - 1)]
        r = self.range
        assert r is not None
        if r.scale == "log":
            return float(r.min * (r.max / r.min) ** u)
        return float(r.min + u * (r.max - r.min))


@dataclass(frozen=True)
class Candidate:
    """One device of the sweep: its id, position in the sample, inputs and device mapping."""

    candidate_id: str
    index: int
    inputs: dict[str, Any]
    mapping: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: the resolved base device, axes and run settings."""

    name: str
    source: str
    base: Device
    base_mapping: dict[str, Any]
    axes: tuple[Axis, ...]
    method: str
    n_samples: int | None
    seed: int
    voltages_V: np.ndarray
    mesh: MeshSpec
    objective: str
    objective_sense: str
    pareto: ParetoSpec
    luminance_voltages_V: tuple[float, ...]
    top_n: int
    batch_size: int | None
    db: MaterialDatabase

    def material_names(self) -> list[str]:
        """Database names behind the rows: the base device's layers and contacts and every
        material an axis chooses from (sorted; inline materials not in the database and
        ``custom`` contacts are left out: the base device mapping holds them whole)."""
        names = [la.material.name for la in self.base.layers]
        names += [c.name for c in (self.base.anode, self.base.cathode) if c.name != "custom"]
        for a in self.axes:
            if a.parameter is None and a.choices is not None:  # material axes
                names += [str(v) for v in a.choices]
        found = {}
        for name in names:
            try:
                found[name.lower()] = self.db[name].name
            except PeledInputError:
                continue
        return sorted(found.values(), key=str.lower)

    def fingerprint_parts(self, settings: SolverSettings | None = None) -> dict[str, Any]:
        """Everything that decides the rows, part by part: SHA-256 digests of the base device
        mapping, the axes, the sampling and the biases; the mesh, the luminance voltages and
        the solver settings (``settings``, default ``SolverSettings()``) as values; and per
        database material used (:meth:`material_names`) the SHA-256 of all its resolved
        parameters, so that a material YAML edited between two runs changes the fingerprint.
        ``sweep.json`` stores the parts, so that a refused resume names what changed."""

        def sha(obj: Any) -> str:
            blob = json.dumps(obj, sort_keys=True, default=str)
            return hashlib.sha256(blob.encode()).hexdigest()

        return {
            "base_device": sha(self.base_mapping),
            "axes": sha(
                [
                    [a.column, a.kind, a.index, a.contact, a.parameter, a.choices, repr(a.range)]
                    for a in self.axes
                ]
            ),
            "sampling": sha([self.method, self.n_samples, self.seed]),
            "voltages_V": sha([float(v) for v in self.voltages_V]),
            "mesh": {
                "nodes_per_layer": self.mesh.nodes_per_layer,
                "clustering": self.mesh.clustering,
            },
            "luminance_voltages_V": list(self.luminance_voltages_V),
            "solver_settings": dataclasses.asdict(settings or SolverSettings()),
            "materials": {
                name: sha(self.db[name].model_dump(mode="json")) for name in self.material_names()
            },
        }

    def fingerprint(self, settings: SolverSettings | None = None) -> str:
        """SHA-256 of :meth:`fingerprint_parts` (base device, axes, sampling, biases, mesh,
        luminance voltages, solver settings, resolved database materials)."""
        blob = json.dumps(self.fingerprint_parts(settings), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def candidates(self) -> list[Candidate]:
        """All candidates, in a deterministic order; ids = index + hash of the inputs."""
        cols = [a.column for a in self.axes]
        points = self._points()
        out = []
        for i, vals in enumerate(points):
            inputs = dict(zip(cols, vals, strict=True))
            digest = hashlib.sha256(
                json.dumps(inputs, sort_keys=True, default=repr).encode()
            ).hexdigest()[:10]
            mapping = self._apply(inputs)
            out.append(Candidate(f"c{i:06d}-{digest}", i, inputs, mapping))
        return out

    def _points(self) -> list[tuple[Any, ...]]:
        where = f"{self.source}: sampling"
        if self.method == "grid":
            return list(itertools.product(*(a.grid_values(f"{self.source}") for a in self.axes)))
        n, d = int(self.n_samples or 0), len(self.axes)
        if self.method == "random":
            u = np.random.default_rng(self.seed).random((n, d))
        elif self.method == "latin_hypercube":
            from scipy.stats import qmc

            u = qmc.LatinHypercube(d=d, seed=self.seed).random(n)
        else:  # pragma: no cover - pydantic restricts the method
            raise PeledInputError(f"{where}: unknown method {self.method!r}")
        return [
            tuple(a.from_unit(float(x)) for a, x in zip(self.axes, row, strict=True)) for row in u
        ]

    def _apply(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the base mapping with the candidate's axis values set."""
        m = copy.deepcopy(self.base_mapping)
        for a in self.axes:
            val = inputs[a.column]
            if a.kind == "layer_material":
                # inline copy of the database entry: workers need no database
                m["layers"][a.index]["material"] = self.db[val].model_dump(exclude_unset=True)
                m["layers"][a.index].pop("overrides", None)
        for a in self.axes:  # parameters after materials: they override the chosen material
            val = inputs[a.column]
            if a.kind == "layer_parameter":
                if a.parameter == "thickness_nm":
                    m["layers"][a.index]["thickness_nm"] = float(val)
                else:
                    m["layers"][a.index].setdefault("overrides", {})[a.parameter] = float(val)
            elif a.kind == "contact" and a.parameter is None:
                # inline, as for layers: workers resolve candidates without self.db
                m[a.contact] = {"material": self.db[val].model_dump(exclude_unset=True)}
            elif a.kind == "device":
                m[a.parameter] = float(val)
        for a in self.axes:  # work functions last: they override a chosen contact material
            if a.kind == "contact" and a.parameter is not None:
                contact = {k: v for k, v in (m.get(a.contact) or {}).items() if k == "material"}
                contact["work_function_eV"] = float(inputs[a.column])
                m[a.contact] = contact
        return m

    def build(self, cand: Candidate) -> Device:
        """The candidate's Device (errors name the sweep file and the candidate)."""
        return device_from_mapping(
            cand.mapping, f"{self.source}: candidate {cand.candidate_id} {cand.inputs}", self.db
        )


def layer_column_label(base: Device, index: int) -> str:
    """How result columns name the base device's layer ``index`` (0-based): its material's
    name as the database spells it (``PVK``, so ``PVK_thickness_nm``), with the layer's
    1-based position appended where the base device uses that material in more than one
    layer (``TFB_2``, ``TFB_4``), as in jv.csv's per-layer columns. A material axis is
    named by the base device's material of the layer it replaces (``PVK_material`` holds
    the material each candidate puts there)."""
    names = [la.material.name for la in base.layers]
    name = names[index]
    return f"{name}_{index + 1}" if names.count(name) > 1 else name


def _resolve_layer(layer: int | str, base: Device, where: str) -> int:
    n = len(base.layers)
    if isinstance(layer, int):
        if not 0 <= layer < n:
            raise PeledInputError(
                f"{where}: key 'layer' = {layer}: allowed are layer indices 0..{n - 1} "
                f"(anode side first) or the base device's material names "
                f"{[la.material.name for la in base.layers]}"
            )
        return layer
    hits = [i for i, la in enumerate(base.layers) if la.material.name.lower() == layer.lower()]
    if len(hits) != 1:
        names = [la.material.name for la in base.layers]
        why = "is not" if not hits else "is not unique"
        raise PeledInputError(
            f"{where}: key 'layer' = {layer!r} {why} a layer of the base device; allowed are "
            f"indices 0..{n - 1} or one of {names}"
        )
    return hits[0]


def _resolve_axis(ax: AxisSpec, i: int, base: Device, db: MaterialDatabase, src: str) -> Axis:
    where = f"{src}: axes[{i}]"
    if ax.materials is not None:
        want_electrode = ax.contact is not None
        for j, name in enumerate(ax.materials):
            key = f"{where}: key 'materials[{j}]'"
            try:
                mat = db[name]
            except PeledInputError as err:
                raise PeledInputError(f"{key}: {err}") from None
            if isinstance(mat, Electrode) != want_electrode or isinstance(mat, Substrate):
                need = "an electrode" if want_electrode else "a layer material (not an electrode)"
                raise PeledInputError(f"{key}: {mat.name!r} has role {mat.role!r}; need {need}")
        if len({n.lower() for n in ax.materials}) != len(ax.materials):
            raise PeledInputError(f"{where}: key 'materials' lists a name twice: {ax.materials}")
        names = tuple(db[n].name for n in ax.materials)
        if ax.contact is not None:
            return Axis(f"{ax.contact}_material", "contact", None, ax.contact, None, names, None)
        k = _resolve_layer(ax.layer, base, where)
        label = layer_column_label(base, k)
        return Axis(f"{label}_material", "layer_material", k, None, None, names, None)
    p = ax.parameter
    choices = tuple(float(v) for v in ax.values) if ax.values is not None else None
    if ax.contact is not None:
        if p not in CONTACT_PARAMETERS:
            raise PeledInputError(
                f"{where}: key 'parameter' = {p!r}: a contact allows {list(CONTACT_PARAMETERS)}"
            )
        return Axis(f"{ax.contact}_{p}", "contact", None, ax.contact, p, choices, ax.range)
    if ax.layer is None:
        if p not in DEVICE_PARAMETERS:
            raise PeledInputError(
                f"{where}: key 'parameter' = {p!r}: without 'layer' or 'contact' the allowed "
                f"device parameters are {list(DEVICE_PARAMETERS)}"
            )
        return Axis(f"device_{p}", "device", None, None, p, choices, ax.range)
    k = _resolve_layer(ax.layer, base, where)
    allowed = ("thickness_nm", *LAYER_PARAMETERS)
    if p not in allowed:
        import difflib

        close = difflib.get_close_matches(p, allowed, n=3, cutoff=0.5)
        hint = f" (closest: {close})" if close else ""
        raise PeledInputError(
            f"{where}: key 'parameter' = {p!r} is not a numeric layer parameter{hint}; "
            f"allowed: {list(allowed)}"
        )
    return Axis(
        f"{layer_column_label(base, k)}_{p}", "layer_parameter", k, None, p, choices, ax.range
    )


def sweep_from_mapping(
    data: Mapping[str, Any],
    source: str = "<sweep>",
    base_dir: str | os.PathLike[str] | None = None,
    db: MaterialDatabase | None = None,
) -> Sweep:
    """Validate a sweep mapping (as read from YAML); ``base_dir`` anchors ``base_device``."""
    from peled.device import load_device

    db = db or default_database()
    if not isinstance(data, Mapping):
        raise PeledInputError(f"{source}: a sweep file must be a mapping")
    try:
        spec = SweepFile.model_validate(dict(data))
    except ValidationError as err:
        raise PeledInputError(format_input_error(err, source, SweepFile)) from None
    if isinstance(spec.base_device, str):
        path = Path(base_dir or ".") / spec.base_device
        if not path.is_file():
            raise PeledInputError(
                f"{source}: key 'base_device' = {spec.base_device!r}: file {path} not found "
                "(a path relative to the sweep file, or an inline device mapping)"
            )
        base = load_device(path, db)
    else:
        base = device_from_mapping(spec.base_device, f"{source}: base_device", db)
    axes = tuple(_resolve_axis(a, i, base, db, source) for i, a in enumerate(spec.axes))
    cols = [a.column for a in axes]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise PeledInputError(f"{source}: key 'axes': two axes change the same thing: {dup}")
    v = spec.voltages or VoltageSpec(
        start_V=base.sweep_V[0], stop_V=base.sweep_V[1], step_V=base.sweep_V[2]
    )
    # start to stop in whole steps, the last bias exactly stop_V; a step that does not fit
    # is refused (peled.device.bias_grid, decision record 0010)
    keys = ("key 'voltages.start_V'", "key 'voltages.stop_V'", "key 'voltages.step_V'")
    volts = bias_grid(v.start_V, v.stop_V, v.step_V, f"{source}: ", keys)
    for j, lv in enumerate(spec.luminance_voltages_V):
        if not volts[0] <= lv <= volts[-1]:
            raise PeledInputError(
                f"{source}: key 'luminance_voltages_V[{j}]' = {lv}: must lie inside the sweep "
                f"[{volts[0]}, {volts[-1]}] V"
            )
    allowed = list(METRIC_COLUMNS)
    for x in spec.luminance_voltages_V:
        allowed += [luminance_column(x), eqe_column(x)]
    for key, col in (
        ("objective.column", spec.objective.column),
        ("pareto.x", spec.pareto.x),
        ("pareto.y", spec.pareto.y),
    ):
        if col not in allowed:
            raise PeledInputError(f"{source}: key '{key}' = {col!r}: allowed {allowed}")
    sw = Sweep(
        name=spec.name,
        source=source,
        base=base,
        base_mapping=device_to_mapping(base),
        axes=axes,
        method=spec.sampling.method,
        n_samples=spec.sampling.n_samples,
        seed=spec.sampling.seed,
        voltages_V=volts,
        mesh=MeshSpec(spec.mesh.nodes_per_layer, spec.mesh.clustering),
        objective=spec.objective.column,
        objective_sense=spec.objective.sense,
        pareto=spec.pareto,
        luminance_voltages_V=tuple(float(x) for x in spec.luminance_voltages_V),
        top_n=spec.top_n,
        batch_size=spec.batch_size,
        db=db,
    )
    if sw.method == "grid":
        for a in axes:
            a.grid_values(f"{source}: axes[{axes.index(a)}] ({a.column})")
    return sw


def load_sweep(path: str | os.PathLike[str], db: MaterialDatabase | None = None) -> Sweep:
    """Load and validate a sweep YAML file (``base_device`` is relative to it)."""
    path = Path(path)
    if not path.is_file():
        raise PeledInputError(f"{path}: sweep file not found")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as err:
        raise PeledInputError(f"{path}: not valid YAML: {err}") from None
    return sweep_from_mapping(data, str(path), path.parent, db)


def luminance_column(voltage_V: float) -> str:
    """Result column of the luminance at one bias, e.g. ``luminance_at_4V_cd_m2``."""
    return f"luminance_at_{voltage_V:g}V_cd_m2"


def eqe_column(voltage_V: float) -> str:
    """Result column of the EQE at one bias, e.g. ``eqe_at_4V_percent``."""
    return f"eqe_at_{voltage_V:g}V_percent"
