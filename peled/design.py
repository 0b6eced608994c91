"""Continuous design parameters of a device, as differentiable edits of its arrays.

A design parameter is named ``<target>.<quantity>``:

* ``<target>`` is a layer (0-based index from the anode, or its material name when that
  name is unique in the stack), ``anode``, ``cathode`` or ``device``;
* ``<quantity>`` is one of :data:`LAYER_QUANTITIES` for layers, ``work_function_eV`` for
  contacts, ``outcoupling`` for the device.

Quantities that span decades (mobilities, densities, lifetimes, recombination
coefficients) are varied through their base-10 logarithm: the optimizer's variable z
maps to the value 10^z, so a gradient step is a relative change and the problem is
well scaled. Energies are varied with the other band edge held: moving the electron
affinity keeps the ionization energy (the band gap absorbs the change), and moving the
ionization energy keeps the electron affinity.

:func:`apply_parameters` writes values into :class:`~peled.core.params.DeviceArrays`
with ``.at[].set`` so the map from values to arrays is differentiable; thickness enters
through the layer thickness only, and the mesh moves with it (reference coordinates,
fixed topology). :func:`updated_device_mapping` writes the same values into a device
file mapping (layer ``overrides``), so an optimized design can be saved and reloaded.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jax.numpy as jnp

from peled.core.params import DeviceArrays
from peled.device import Device
from peled.errors import PeledInputError


@dataclass(frozen=True)
class Quantity:
    """How a named quantity maps onto the arrays.

    ``log``: the variable is log10 of the value in ``unit``; ``si``: factor from the
    user unit to SI; ``fields``: DeviceArrays layer fields written (all get the value).
    """

    unit: str
    log: bool
    si: float
    fields: tuple[str, ...]
    material_keys: tuple[str, ...]
    lower: float  # allowed range in user units (sanity limits, not optimizer bounds)
    upper: float


LAYER_QUANTITIES: dict[str, Quantity] = {
    "thickness_nm": Quantity("nm", False, 1e-9, ("thickness_m",), (), 0.5, 1e4),
    "electron_affinity_eV": Quantity(
        "eV", False, 1.0, ("electron_affinity_eV",), ("electron_affinity_eV",), 0.5, 7.0
    ),
    "ionization_energy_eV": Quantity("eV", False, 1.0, ("band_gap_eV",), (), 2.0, 9.0),
    "electron_mobility_cm2_Vs": Quantity(
        "cm2/Vs",
        True,
        1e-4,
        ("electron_mobility_m2_Vs",),
        ("electron_mobility_cm2_Vs",),
        1e-10,
        1e4,
    ),
    "hole_mobility_cm2_Vs": Quantity(
        "cm2/Vs", True, 1e-4, ("hole_mobility_m2_Vs",), ("hole_mobility_cm2_Vs",), 1e-10, 1e4
    ),
    "donor_density_cm3": Quantity(
        "cm^-3", True, 1e6, ("donor_density_m3",), ("donor_density_cm3",), 1e0, 1e22
    ),
    "acceptor_density_cm3": Quantity(
        "cm^-3", True, 1e6, ("acceptor_density_m3",), ("acceptor_density_cm3",), 1e0, 1e22
    ),
    "srh_lifetime_s": Quantity(
        "s",
        True,
        1.0,
        ("srh_lifetime_electron_s", "srh_lifetime_hole_s"),
        ("srh_lifetime_electron_s", "srh_lifetime_hole_s"),
        1e-15,
        1.0,
    ),
    "radiative_coefficient_cm3_s": Quantity(
        "cm^3/s",
        True,
        1e-6,
        ("radiative_coefficient_m3_s",),
        ("radiative_coefficient_cm3_s",),
        1e-16,
        1e-5,
    ),
    "auger_coefficient_cm6_s": Quantity(
        "cm^6/s",
        True,
        1e-12,
        ("auger_coefficient_electron_m6_s", "auger_coefficient_hole_m6_s"),
        ("auger_coefficient_electron_cm6_s", "auger_coefficient_hole_cm6_s"),
        1e-40,
        1e-20,
    ),
}
CONTACT_QUANTITIES = ("work_function_eV",)
DEVICE_QUANTITIES = ("outcoupling",)


@dataclass(frozen=True)
class Parameter:
    """One resolved design parameter.

    ``target``: layer index (int), 'anode', 'cathode' or 'device'; ``quantity``: its
    name; ``log``: whether the optimizer variable is log10(value).
    """

    name: str
    target: int | str
    quantity: str
    log: bool

    def to_variable(self, value: float) -> float:
        """Optimizer variable z for a value in user units (log10 for log quantities)."""
        return math.log10(value) if self.log else float(value)

    def to_value(self, z):
        """Value in user units for an optimizer variable z (traceable)."""
        return 10.0**z if self.log else z


def _layer_target(token: str, device: Device, name: str) -> int:
    if token.lstrip("-").isdigit():
        k = int(token)
        if not 0 <= k < len(device.layers):
            raise PeledInputError(
                f"parameter {name!r}: layer index {k} out of range 0..{len(device.layers) - 1}"
            )
        return k
    hits = [i for i, la in enumerate(device.layers) if la.material.name.lower() == token.lower()]
    if len(hits) == 1:
        return hits[0]
    names = ", ".join(f"{i}:{la.material.name}" for i, la in enumerate(device.layers))
    if not hits:
        raise PeledInputError(
            f"parameter {name!r}: no layer {token!r} in the stack (layers: {names})"
        )
    raise PeledInputError(
        f"parameter {name!r}: material {token!r} occurs {len(hits)} times; use the layer "
        f"index instead (layers: {names})"
    )


def resolve_parameter(name: str, device: Device) -> Parameter:
    """Parse ``<target>.<quantity>`` against ``device``; clear error when invalid."""
    if "." not in name:
        raise PeledInputError(
            f"parameter {name!r}: expected '<layer>.<quantity>', 'anode.work_function_eV', "
            "'cathode.work_function_eV' or 'device.outcoupling'"
        )
    token, quantity = name.rsplit(".", 1)
    if token in ("anode", "cathode"):
        if quantity not in CONTACT_QUANTITIES:
            raise PeledInputError(
                f"parameter {name!r}: a contact has {list(CONTACT_QUANTITIES)}, not {quantity!r}"
            )
        return Parameter(name, token, quantity, False)
    if token == "device":
        if quantity not in DEVICE_QUANTITIES:
            raise PeledInputError(
                f"parameter {name!r}: the device has {list(DEVICE_QUANTITIES)}, not {quantity!r}"
            )
        return Parameter(name, "device", quantity, False)
    if quantity not in LAYER_QUANTITIES:
        raise PeledInputError(
            f"parameter {name!r}: unknown layer quantity {quantity!r}; allowed: "
            f"{sorted(LAYER_QUANTITIES)}"
        )
    k = _layer_target(token, device, name)
    return Parameter(name, k, quantity, LAYER_QUANTITIES[quantity].log)


def check_parameters(params: Sequence[Parameter], device: Device) -> None:
    """Reject a parameter set that names one quantity twice, or a combined electron/hole
    quantity whose two values differ in the device (it would silently change the start)."""
    seen: dict[tuple[Any, str], str] = {}
    for p in params:
        key = (p.target, p.quantity)
        if key in seen:
            raise PeledInputError(
                f"parameters {seen[key]!r} and {p.name!r} name the same quantity; vary it once"
            )
        seen[key] = p.name
        if isinstance(p.target, int) and p.quantity in (
            "srh_lifetime_s",
            "auger_coefficient_cm6_s",
        ):
            m = device.layers[p.target].material
            keys = LAYER_QUANTITIES[p.quantity].material_keys
            a, b = (getattr(m, k) for k in keys)
            if a != b:
                raise PeledInputError(
                    f"parameter {p.name!r} sets {keys[0]} and {keys[1]} together, but layer "
                    f"{p.target} ({m.name}) has {a:g} and {b:g}; make them equal in the device "
                    "file (overrides) before optimizing"
                )


def check_band_gaps(
    params: Sequence[Parameter], device: Device, bounds: Mapping[str, tuple[float, float]]
) -> None:
    """Reject bounds on electron affinity / ionization energy that allow a band gap below
    0.1 eV anywhere in the box (IE_min - EA_max, with the other edge held at its value)."""
    per_layer: dict[int, dict[str, tuple[float, float]]] = {}
    for p in params:
        if p.quantity in ("electron_affinity_eV", "ionization_energy_eV"):
            per_layer.setdefault(int(p.target), {})[p.quantity] = bounds[p.name]
    for k, b in per_layer.items():
        m = device.layers[k].material
        ea_max = b.get("electron_affinity_eV", (0.0, m.electron_affinity_eV))[1]
        ie_min = b.get("ionization_energy_eV", (m.ionization_energy_eV, 0.0))[0]
        if ie_min - ea_max < 0.1:
            raise PeledInputError(
                f"layer {k} ({m.name}): the bounds allow a band gap of {ie_min - ea_max:.2f} eV "
                "(lowest ionization energy minus highest electron affinity); keep it >= 0.1 eV"
            )


def current_value(p: Parameter, device: Device, outcoupling: float) -> float:
    """The device's present value of ``p`` in user units."""
    if p.target in ("anode", "cathode"):
        return float(getattr(device, str(p.target)).work_function_eV)
    if p.target == "device":
        return float(outcoupling)
    la = device.layers[int(p.target)]
    m = la.material
    if p.quantity == "thickness_nm":
        return float(la.thickness_nm)
    if p.quantity == "ionization_energy_eV":
        return float(m.ionization_energy_eV)
    return float(getattr(m, LAYER_QUANTITIES[p.quantity].material_keys[0]))


def check_value(p: Parameter, value: float, where: str) -> None:
    """Raise a PeledInputError if ``value`` is outside the physical range of ``p``."""
    if p.target in ("anode", "cathode"):
        lo, hi = 1.5, 7.0
    elif p.target == "device":
        lo, hi = 1e-6, 1.0
    else:
        q = LAYER_QUANTITIES[p.quantity]
        lo, hi = q.lower, q.upper
    if not (math.isfinite(value) and lo <= value <= hi):
        raise PeledInputError(f"{where}: {p.name} = {value} is outside the allowed [{lo}, {hi}]")


def apply_parameters(
    arrays: DeviceArrays,
    outcoupling,
    params: Sequence[Parameter],
    values: Sequence[Any],
) -> tuple[DeviceArrays, Any]:
    """Arrays and outcoupling with ``values`` (user units, traceable) written in."""
    lp = arrays.layers
    c = arrays.contacts
    ea_ie: dict[int, tuple[Any, Any]] = {}
    for p, val in zip(params, values, strict=True):
        if p.target in ("anode", "cathode"):
            c = replace(c, **{f"{p.target}_work_function_eV": jnp.asarray(val, jnp.float64)})
        elif p.target == "device":
            outcoupling = val
        elif p.quantity in ("electron_affinity_eV", "ionization_energy_eV"):
            k = int(p.target)
            ea, ie = ea_ie.get(
                k, (lp.electron_affinity_eV[k], lp.electron_affinity_eV[k] + lp.band_gap_eV[k])
            )
            ea_ie[k] = (val, ie) if p.quantity == "electron_affinity_eV" else (ea, val)
        else:
            q = LAYER_QUANTITIES[p.quantity]
            k = int(p.target)
            changes = {f: getattr(lp, f).at[k].set(val * q.si) for f in q.fields}
            lp = replace(lp, **changes)
    for k, (ea, ie) in ea_ie.items():
        lp = replace(
            lp,
            electron_affinity_eV=lp.electron_affinity_eV.at[k].set(ea),
            band_gap_eV=lp.band_gap_eV.at[k].set(ie - ea),
        )
    return replace(arrays, layers=lp, contacts=c), outcoupling


def updated_device_mapping(
    base: Mapping[str, Any], device: Device, params: Sequence[Parameter], values: Sequence[float]
) -> dict[str, Any]:
    """A device-file mapping equal to ``base`` with ``values`` written as overrides.

    Layer thicknesses go into ``thickness_nm``; material quantities into the layer's
    ``overrides`` (energies as the pair electron_affinity_eV / band_gap_eV that realises
    the requested level with the other level kept); contacts get ``work_function_eV``.
    """
    out = copy.deepcopy(dict(base))
    out["layers"] = [dict(la) for la in out["layers"]]
    levels: dict[int, dict[str, float]] = {}
    for p, val in zip(params, values, strict=True):
        val = float(val)
        if p.target in ("anode", "cathode"):
            # keep the contact's material (optics, quenching); override its work function
            contact = dict(out.get(str(p.target)) or {})
            contact["work_function_eV"] = val
            out[str(p.target)] = contact
        elif p.target == "device":
            out["outcoupling"] = val
        else:
            k = int(p.target)
            entry = out["layers"][k]
            if p.quantity == "thickness_nm":
                entry["thickness_nm"] = val
                continue
            ov = dict(entry.get("overrides", {}))
            if p.quantity in ("electron_affinity_eV", "ionization_energy_eV"):
                m = device.layers[k].material
                lv = levels.setdefault(
                    k, {"ea": m.electron_affinity_eV, "ie": m.ionization_energy_eV}
                )
                lv["ea" if p.quantity == "electron_affinity_eV" else "ie"] = val
                ov["electron_affinity_eV"] = lv["ea"]
                ov["band_gap_eV"] = lv["ie"] - lv["ea"]
            else:
                for key in LAYER_QUANTITIES[p.quantity].material_keys:
                    ov[key] = val
            entry["overrides"] = ov
    return out
