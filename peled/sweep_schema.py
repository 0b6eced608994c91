"""The sweep file's schema: the pydantic models of its keys (``axes`` with their
``range``, ``sampling``, ``voltages``, ``mesh``, ``objective``, ``pareto``), which check
each entry on its own (types, bounds, which keys go together) and forbid unknown keys.

:mod:`peled.sweep_spec` resolves a validated :class:`SweepFile` against its base device
and the material database (layers, parameters, biases, result columns) and re-exports
these models; the file format is described there.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from peled.core.params import MeshSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RangeSpec(_Strict):
    """A numeric range: [min, max], ``num`` grid points, linear or log spacing."""

    min: float
    max: float
    num: int | None = Field(default=None, ge=1, le=100000)
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _ordered(self) -> RangeSpec:
        if not (math.isfinite(self.min) and math.isfinite(self.max)):
            raise ValueError(f"min = {self.min} and max = {self.max} must be finite numbers")
        if self.max < self.min:
            raise ValueError(f"bad range: max = {self.max} is below min = {self.min}")
        if self.scale == "log" and self.min <= 0:
            raise ValueError(f"bad range: scale 'log' needs min > 0 (got min = {self.min})")
        if self.num is not None and self.num > 1 and self.max == self.min:
            raise ValueError(f"bad range: num = {self.num} points need max > min")
        return self


class AxisSpec(_Strict):
    """One design axis: what it changes (layer / contact / device) and its values."""

    layer: int | str | None = None
    contact: Literal["anode", "cathode"] | None = None
    materials: list[str] | None = None
    parameter: str | None = None
    values: list[float] | None = None
    range: RangeSpec | None = None

    @model_validator(mode="after")
    def _shape(self) -> AxisSpec:
        if self.layer is not None and self.contact is not None:
            raise ValueError("give at most one of 'layer' (index or material name) or 'contact'")
        if (self.materials is None) == (self.parameter is None):
            raise ValueError("give exactly one of 'materials' (list of names) or 'parameter'")
        if self.materials is not None:
            if self.layer is None and self.contact is None:
                raise ValueError("a 'materials' axis needs 'layer' or 'contact'")
            if self.values is not None or self.range is not None:
                raise ValueError("a 'materials' axis takes no 'values' or 'range'")
            if not self.materials:
                raise ValueError("empty axis: 'materials' lists no material")
        else:
            if (self.values is None) == (self.range is None):
                raise ValueError("a 'parameter' axis needs exactly one of 'values' or 'range'")
            if self.values is not None and not self.values:
                raise ValueError("empty axis: 'values' lists no value")
            if self.values is not None and not all(math.isfinite(v) for v in self.values):
                raise ValueError(f"values {self.values} must be finite numbers")
        return self


class SamplingSpec(_Strict):
    method: Literal["grid", "random", "latin_hypercube"] = "grid"
    n_samples: int | None = Field(default=None, ge=1, le=10_000_000)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _n(self) -> SamplingSpec:
        if self.method != "grid" and self.n_samples is None:
            raise ValueError(f"method {self.method!r} needs 'n_samples' (a positive integer)")
        if self.method == "grid" and self.n_samples is not None:
            raise ValueError("method 'grid' takes no 'n_samples' (its size is the product)")
        return self


class VoltageSpec(_Strict):
    start_V: float = 0.0
    stop_V: float = Field(default=8.0, ge=-50, le=50)
    step_V: float = Field(default=0.1, gt=0, le=10)

    @model_validator(mode="after")
    def _order(self) -> VoltageSpec:
        if self.stop_V <= self.start_V:
            raise ValueError(f"stop_V = {self.stop_V} must exceed start_V = {self.start_V}")
        return self


class MeshFields(_Strict):
    nodes_per_layer: int = Field(default=32, ge=4, le=4096)
    clustering: float = Field(default=MeshSpec().clustering, ge=0, lt=1)


class ObjectiveSpec(_Strict):
    column: str = "eqe_max_percent"
    sense: Literal["max", "min"] = "max"


class ParetoSpec(_Strict):
    """The two result columns of the Pareto plot and whether each is maximized or minimized."""

    x: str = "eqe_rolloff_percent"
    x_sense: Literal["max", "min"] = "min"
    y: str = "eqe_max_percent"
    y_sense: Literal["max", "min"] = "max"


class SweepFile(_Strict):
    name: str = "sweep"
    description: str = ""
    base_device: str | dict[str, Any]
    axes: list[AxisSpec] = Field(min_length=1)
    sampling: SamplingSpec = SamplingSpec()
    voltages: VoltageSpec | None = None
    mesh: MeshFields = MeshFields()
    objective: ObjectiveSpec = ObjectiveSpec()
    pareto: ParetoSpec = ParetoSpec()
    luminance_voltages_V: list[float] = Field(default_factory=list)
    top_n: int = Field(default=10, ge=1)
    batch_size: int | None = Field(default=None, ge=1, le=4096)
