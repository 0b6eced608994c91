"""The device-file format: the keys a device YAML may hold (pydantic models that refuse
unknown keys), the plausible ranges of its physical inputs, the bias grid, and the
messages that name the file, the key and what is allowed (docs/user-guide/devices.md,
docs/decisions/0010)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from peled.errors import PeledInputError
from peled.materials import _format_validation_error


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContactSpec(_Strict):
    # a database name, or an inline electrode mapping (as layers allow), so that a device
    # written out by device_to_mapping reloads without the database it was built from
    material: str | dict[str, Any] | None = None
    work_function_eV: float | None = Field(default=None, ge=1.5, le=7.0)
    # image-force lowering of the injection barriers at this electrode
    # (peled.model.contacts.image_force); None = DEFAULT_IMAGE_FORCE
    image_force: bool | None = None
    # the electrode as an optical layer (peled.optics): its thickness (default
    # ELECTRODE_THICKNESS_NM) and constant optical constants replacing the material's
    thickness_nm: float | None = Field(default=None, gt=0, le=5000)
    refractive_index: float | None = Field(default=None, gt=0, le=10)
    extinction_coefficient: float | None = Field(default=None, ge=0, le=20)

    @model_validator(mode="after")
    def _one(self) -> ContactSpec:
        # material alone; work_function_eV alone (a bare metal of that work function); or
        # both: the material with its work function overridden (e.g. a treated ITO)
        if self.material is None and self.work_function_eV is None:
            raise ValueError("give 'material' and/or 'work_function_eV' (1.5-7 eV)")
        return self


class LayerSpec(_Strict):
    material: str | dict[str, Any]
    thickness_nm: float = Field(gt=0)  # plausible range: _check_plausible
    overrides: dict[str, Any] = Field(default_factory=dict)


class SweepSpec(_Strict):
    start_V: float = 0.0
    stop_V: float = Field(default=8.0, ge=-50, le=50)
    step_V: float = Field(default=0.1, gt=0, le=10)


class SubstrateSpec(_Strict):
    # a database substrate (role: substrate) or an inline mapping; a constant index
    # replaces the material's optical constants
    material: str | dict[str, Any] = "glass"
    refractive_index: float | None = Field(default=None, ge=1, le=5)
    extinction_coefficient: float | None = Field(default=None, ge=0, le=1)


class DeviceFile(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    stack_source: str = ""
    temperature_K: float = 300.0  # plausible range: _check_plausible
    anode: ContactSpec
    cathode: ContactSpec
    layers: list[LayerSpec] = Field(min_length=1)
    outcoupling: float | None = Field(default=None, gt=0, le=1)
    sweep: SweepSpec | None = None
    # the thin-film optics: the thick incoherent substrate under the anode, and whether
    # light leaves through it ("bottom") or through the cathode side ("top")
    substrate: SubstrateSpec | None = None
    emission_side: Literal["bottom", "top"] = "bottom"
    # which electrode lies on the substrate: the anode (conventional stacks) or the
    # cathode (inverted stacks, e.g. glass/ITO/ZnO/.../MoO3/Al)
    substrate_side: Literal["anode", "cathode"] = "anode"
    # how the outcoupling is computed when 'outcoupling' (a constant) is not given:
    # "ray_optics" 1/(2 n^2) of the emitter, or "dipole" (peled.optics.coupling)
    optics: Literal["ray_optics", "dipole"] = "ray_optics"
    # which description of the films the materials' data feed (PHYSICS, docs/model/index.md;
    # peled.device.DEFAULT_PHYSICS, decision 0014)
    physics: Literal["classic", "disorder_aware"] = "disorder_aware"
    # whether a layer that screens like a metal is its neighbour's image plane at their
    # interface (peled.model.interfaces.image_plane); None: on under disorder_aware
    interface_image_force: bool | None = None


# plausible physical inputs of a device file (refused outside, with a unit hint): a layer
# of a thin-film LED is between a sub-monolayer interlayer and a few micrometres thick
# (peled.design uses the same thickness limits); the drift-diffusion model with its
# material data is meant for cryostat to hot-operation temperatures
THICKNESS_RANGE_NM = (0.5, 1e4)
TEMPERATURE_RANGE_K = (50.0, 600.0)
# slack of "stop is a whole number of steps from start", in steps
_GRID_SLACK = 1e-6


def bias_grid(
    start_V: float,
    stop_V: float,
    step_V: float,
    where: str = "",
    names: tuple[str, str, str] = ("start_V", "stop_V", "step_V"),
):
    """The biases start, start + step, ..., stop [V]: the last bias is exactly ``stop_V``.

    A step that does not fit the span in whole steps is refused (PeledInputError naming
    ``names``, the values, and the steps and stops that would fit), as are stop <= start
    and step <= 0: the grid never goes past stop, and never silently ends short of it.
    Biases are rounded to 1e-12 V, so 0.1 V steps give 1.9, not 1.9000000000000001.
    """
    import math

    import numpy as np

    a_name, b_name, s_name = names
    for name, val in zip(names, (start_V, stop_V, step_V), strict=True):
        if not math.isfinite(val):
            raise PeledInputError(f"{where}{name} = {val!r}: must be a finite number of volts")
    if step_V <= 0:
        raise PeledInputError(f"{where}{s_name} = {step_V:g}: the bias step must be > 0 V")
    if stop_V <= start_V:
        raise PeledInputError(
            f"{where}{b_name} = {stop_V:g} must exceed {a_name} = {start_V:g} (biases in V)"
        )
    span = stop_V - start_V
    steps = span / step_V
    k = round(steps)
    if k < 1 or abs(steps - k) > _GRID_SLACK * max(1.0, steps):
        if steps < 1:
            why = f"is larger than the {span:g} V span of the sweep ({start_V:g} to {stop_V:g} V)"
            fits = f"a step of at most {span:g} V that divides it, e.g. {span / 2:.4g}"
        else:
            lo, hi = math.floor(steps), math.ceil(steps)
            why = (
                f"does not reach {b_name} = {stop_V:g} in whole steps from {start_V:g} V "
                f"({steps:.4g} steps; the grid would end at {start_V + lo * step_V:.6g} or "
                f"overshoot to {start_V + hi * step_V:.6g} V)"
            )
            fits = (
                f"a step that divides the {span:g} V span, e.g. {span / hi:.4g} or "
                f"{span / lo:.4g}, or {b_name} = {start_V + lo * step_V:.6g} or "
                f"{start_V + hi * step_V:.6g}"
            )
        raise PeledInputError(f"{where}{s_name} = {step_V:g} {why}; allowed: {fits}")
    grid = np.round(start_V + step_V * np.arange(k + 1, dtype=np.float64), 12)
    grid[-1] = stop_V
    return grid


def _unit_hint_thickness(t: float) -> str:
    """Why a thickness outside the plausible range may be in the wrong unit."""
    lo, hi = THICKNESS_RANGE_NM
    if 0 < t < 1e-3 and lo <= t * 1e9 <= hi:
        return f"; {t:g} looks like metres: thickness_nm is in nanometres ({t * 1e9:.4g} nm)"
    if 0 < t < lo and lo <= t * 1e3 <= hi:
        return f"; {t:g} looks like micrometres: thickness_nm is in nanometres ({t * 1e3:.4g} nm)"
    if t > hi and lo <= t / 10 <= hi:
        return f"; {t:g} nm is {t / 1e3:.4g} um: if it is in angstrom, write {t / 10:.4g} nm"
    if t > hi:
        return f"; {t:g} nm is {t / 1e3:.4g} um"
    return ""


def _check_plausible(spec: DeviceFile, where: str) -> None:
    """Refuse implausible or mis-scaled physical inputs of a device file (key, value,
    allowed range and, where a unit mix-up is likely, what the value looks like)."""
    lo, hi = THICKNESS_RANGE_NM
    for i, la in enumerate(spec.layers):
        t = la.thickness_nm
        if not lo <= t <= hi:
            raise PeledInputError(
                f"{where}: key 'layers[{i}].thickness_nm' = {t!r}: allowed {lo:g} to {hi:g} nm "
                f"(a layer of a thin-film LED){_unit_hint_thickness(t)}"
            )
    tlo, thi = TEMPERATURE_RANGE_K
    if not tlo <= spec.temperature_K <= thi:
        t = spec.temperature_K
        hint = (
            f"; {t:g} looks like degrees Celsius: temperature_K is in kelvin ({t + 273.15:g} K)"
            if t < tlo
            else ""
        )
        raise PeledInputError(
            f"{where}: key 'temperature_K' = {t!r}: allowed {tlo:g} to {thi:g} K{hint}"
        )


def _did_you_mean(key: str, allowed) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {sorted(allowed)}"


def _model_at(model: type[BaseModel], path) -> type[BaseModel] | None:
    """The pydantic model that holds the last key of ``path`` (field names and list
    indices from ``model`` down), or None where the path leaves the models."""
    import typing

    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        stack, found = [field.annotation], None
        while stack:
            t = stack.pop()
            if isinstance(t, type) and issubclass(t, BaseModel):
                found = t
                break
            stack.extend(typing.get_args(t))
        if found is None:
            return None
        model = found
    return model


def format_input_error(err: ValidationError, where: str, model: type[BaseModel]) -> str:
    """The pydantic error of a file validated by ``model`` as lines naming file, key and
    value; an unknown key gets the closest allowed key of its section ("did you mean")."""
    lines = _format_validation_error(err, where).split("\n")
    for j, e in enumerate(err.errors()):
        if e["type"] != "extra_forbidden" or j >= len(lines):
            continue
        loc = e["loc"]
        holder = _model_at(model, loc[:-1])
        if holder is None:
            continue
        lines[j] = lines[j].replace("; check the spelling", "") + _did_you_mean(
            str(loc[-1]), holder.model_fields
        )
    return "\n".join(lines)
