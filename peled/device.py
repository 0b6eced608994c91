# Kept whole (~510 lines): the Device types and the round trip file -> Device -> file
# (device_from_mapping, device_to_mapping) change together with every new field; the file
# format (peled.device_file) and the SI arrays (peled.device_arrays) are modules of their own.
"""Device descriptions: the stack a user writes, resolved against the materials database.

A device file (YAML) names an anode, a cathode and the layers from anode to cathode;
:func:`load_device` validates it and returns an immutable :class:`Device`. The only
conversion of names and cm-based units into the SI arrays of the numerical core is
:meth:`Device.to_arrays`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from peled.core.params import DeviceArrays, MeshSpec
from peled.device_arrays import (  # noqa: F401  (re-exported)
    CM2_TO_M2,
    CM3_TO_M3,
    GAUSSIAN_ONSET_WIDTHS,
    NO_SRH_LIFETIME_S,
    _gaussian_centres,
    device_arrays,
    interface_images,
    nanocrystal_charging_eV,
)
from peled.device_file import (  # noqa: F401  (the file format, re-exported)
    TEMPERATURE_RANGE_K,
    THICKNESS_RANGE_NM,
    ContactSpec,
    DeviceFile,
    LayerSpec,
    SubstrateSpec,
    SweepSpec,
    _check_plausible,
    _did_you_mean,
    bias_grid,
    format_input_error,
)
from peled.errors import PeledInputError
from peled.materials import (
    Electrode,
    MaterialDatabase,
    OpticalTable,
    Semiconductor,
    Substrate,
    default_database,
    load_yaml,
    parse_material,
)

# whether an electrode's image force lowers its injection barriers unless the device file
# says otherwise (contact key image_force)
DEFAULT_IMAGE_FORCE = False

#: The descriptions of the films a device can use (device key ``physics``):
#:
#: * ``classic``: every layer as its material file states it (by default Boltzmann
#:   statistics, constant mobilities, the continuum emitter), electrodes without image force
#:   unless the device asks: the drift-diffusion model of inorganic solar-cell codes;
#: * ``disorder_aware``: the materials' disorder data become their model
#:   (:func:`disorder_aware_keys`): Gauss-Fermi statistics and EGDM mobility in every layer
#:   whose material gives a site density and both disorders, the confined levels of a
#:   nanocrystal film and the excitonic emitter in every emitter whose material gives the
#:   crystals' size, packing and Auger lifetimes, image-force lowering at both electrodes.
#:
#: A key that the material file or the layer's overrides set is never replaced, nor is a
#: contact's explicit ``image_force``. docs/decisions/0014-physics-of-the-films-per-device.md.
PHYSICS = ("classic", "disorder_aware")

#: The description of the films a device file gets without a ``physics`` key (decision 0014).
DEFAULT_PHYSICS = "disorder_aware"

#: what ``disorder_aware`` sets, and the material keys each needs
_GAUSSIAN_NEEDS = ("site_density_cm3", "electron_disorder_eV", "hole_disorder_eV")
_GAUSSIAN_SETS = {
    "statistics": "gauss_fermi",
    "electron_mobility_model": "egdm",
    "hole_mobility_model": "egdm",
}
_NANOCRYSTAL_NEEDS = (
    "nanocrystal_size_nm",
    "nanocrystal_size_dispersion",
    "nanocrystal_packing_fraction",
    "electron_effective_mass",
    "hole_effective_mass",
    "trion_auger_lifetime_ps",
    "biexciton_auger_lifetime_ps",
    "radiative_lifetime_ns",
    "auger_reference_size_nm",
    "photoluminescence_quantum_yield",
)
_NANOCRYSTAL_SETS = {"statistics": "nanocrystal", "emitter_model": "excitonic"}
_MODEL_KEYS = ("statistics", "electron_statistics", "hole_statistics")


#: default optical thickness of an electrode [nm] (a device file sets thickness_nm):
#: a transparent conducting oxide anode, otherwise an evaporated metal
ELECTRODE_THICKNESS_NM = {"ito": 150.0}
DEFAULT_ELECTRODE_THICKNESS_NM = 100.0


@dataclass(frozen=True)
class Optical:
    """Optical constants of a layer: constant n, k [-] and, if the material has one, its
    n(lambda), k(lambda) table (used by peled.optics instead of the constants)."""

    refractive_index: float
    extinction_coefficient: float = 0.0
    table: OpticalTable | None = None


@dataclass(frozen=True)
class SubstrateInfo:
    """The substrate: its name and optical constants."""

    name: str = "glass"
    optical: Optical = field(default_factory=lambda: Optical(1.52))


@dataclass(frozen=True)
class Contact:
    """An electrode: its name (material or 'custom'), work function [eV], optical
    constants, quenching efficiency [-] and whether its image force lowers the injection
    barriers."""

    name: str
    work_function_eV: float
    refractive_index: float = 1.0
    extinction_coefficient: float = 0.0
    exciton_quenching_efficiency: float = 0.0
    image_force: bool = field(default_factory=lambda: DEFAULT_IMAGE_FORCE)
    #: the electrode as an optical layer: thickness [nm] and n(lambda), k(lambda) table
    #: (None: the constants above, non-dispersive)
    thickness_nm: float = DEFAULT_ELECTRODE_THICKNESS_NM
    optical_constants: OpticalTable | None = None

    @property
    def optical(self) -> Optical:
        return Optical(self.refractive_index, self.extinction_coefficient, self.optical_constants)


@dataclass(frozen=True)
class Layer:
    """One layer: its (possibly overridden) material and thickness [nm]."""

    material: Semiconductor
    thickness_nm: float
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def optical(self) -> Optical:
        """The layer's optical constants (a device override of refractive_index or
        extinction_coefficient removes the material's table: constants then)."""
        m = self.material
        return Optical(m.refractive_index, m.extinction_coefficient, m.optical_constants)


@dataclass(frozen=True)
class Device:
    """A validated device: contacts, layers (anode first), temperature [K] and options."""

    name: str
    anode: Contact
    cathode: Contact
    layers: tuple[Layer, ...]
    temperature_K: float = 300.0
    outcoupling: float | None = None
    sweep_V: tuple[float, float, float] = (0.0, 8.0, 0.1)
    substrate: SubstrateInfo = field(default_factory=SubstrateInfo)
    emission_side: str = "bottom"
    substrate_side: str = "anode"
    optics: str = "ray_optics"
    #: the description of the films (PHYSICS) that built the layers. A Device constructed
    #: directly from Layer objects carries each material as it stands (its own models:
    #: "classic" for the database's files); device files default to DEFAULT_PHYSICS
    physics: str = "classic"
    #: whether a layer that screens within its neighbour's site spacing is that
    #: neighbour's image plane (:meth:`interface_images`)
    interface_image_force: bool = False
    description: str = ""
    stack_source: str = ""
    source_file: str | None = field(default=None, compare=False)

    @property
    def total_thickness_nm(self) -> float:
        return float(sum(la.thickness_nm for la in self.layers))

    @property
    def emitter_indices(self) -> tuple[int, ...]:
        return tuple(i for i, la in enumerate(self.layers) if la.material.emits)

    def voltages(self):
        """The default sweep [V] from the device file: start to stop inclusive in whole
        steps (:func:`bias_grid`)."""
        a, b, s = self.sweep_V
        return bias_grid(a, b, s, where=f"{self.source_file or self.name}: sweep: ")

    def to_arrays(self, mesh: MeshSpec | None = None) -> DeviceArrays:
        """The SI arrays the numerical core consumes (:func:`peled.device_arrays.device_arrays`)."""
        return device_arrays(self, mesh)

    def interface_images(self) -> tuple[int, ...]:
        """Per interface (K-1,): +1 where the layer after it sees the layer before it as an
        electrode's image plane, -1 the other way round, 0 for none
        (:func:`peled.device_arrays.interface_images`)."""
        return interface_images(self)


def _resolve_material(material: str | dict[str, Any], db: MaterialDatabase, where: str):
    """A layer's or contact's material: an inline mapping, or a name looked up in ``db``."""
    if isinstance(material, dict):
        return parse_material(material, f"{where}.material (inline)")
    try:
        return db[material]
    except PeledInputError as err:
        raise PeledInputError(f"{where}: {err}") from None


def _contact(
    spec: ContactSpec, db: MaterialDatabase, where: str, physics: str = "classic"
) -> Contact:
    default_image = DEFAULT_IMAGE_FORCE or physics == "disorder_aware"
    image = default_image if spec.image_force is None else spec.image_force
    if spec.material is None:
        return Contact(
            "custom",
            float(spec.work_function_eV),
            1.0 if spec.refractive_index is None else spec.refractive_index,
            spec.extinction_coefficient or 0.0,
            image_force=image,
            thickness_nm=spec.thickness_nm or DEFAULT_ELECTRODE_THICKNESS_NM,
        )
    mat = _resolve_material(spec.material, db, where)
    if not isinstance(mat, Electrode):
        raise PeledInputError(
            f"{where}: material {mat.name!r} has role {mat.role!r}; "
            "a contact needs role 'electrode'"
        )
    thickness = spec.thickness_nm or ELECTRODE_THICKNESS_NM.get(
        mat.name.lower(), DEFAULT_ELECTRODE_THICKNESS_NM
    )
    opt = _optical(mat, spec)
    return Contact(
        mat.name,
        mat.work_function_eV if spec.work_function_eV is None else float(spec.work_function_eV),
        opt.refractive_index,
        opt.extinction_coefficient,
        mat.exciton_quenching_efficiency,
        image_force=image,
        thickness_nm=float(thickness),
        optical_constants=opt.table,
    )


def _optical(mat: Electrode | Substrate, spec: ContactSpec | SubstrateSpec) -> Optical:
    """The material's optical constants; constants given in the device file replace them
    (and its n, k table)."""
    if spec.refractive_index is None and spec.extinction_coefficient is None:
        return Optical(mat.refractive_index, mat.extinction_coefficient, mat.optical_constants)
    return Optical(
        mat.refractive_index if spec.refractive_index is None else spec.refractive_index,
        mat.extinction_coefficient
        if spec.extinction_coefficient is None
        else spec.extinction_coefficient,
    )


def _substrate(spec: SubstrateSpec | None, db: MaterialDatabase, where: str) -> SubstrateInfo:
    spec = spec or SubstrateSpec()
    mat = _resolve_material(spec.material, db, where)
    if not isinstance(mat, Substrate):
        raise PeledInputError(
            f"{where}: material {mat.name!r} has role {mat.role!r}; a substrate needs "
            "role 'substrate' (e.g. 'glass')"
        )
    return SubstrateInfo(mat.name, _optical(mat, spec))


def disorder_aware_keys(material: Semiconductor) -> dict[str, str]:
    """The model keys that ``physics: disorder_aware`` gives ``material`` (:data:`PHYSICS`).

    A material with a site density and both disorders gets Gauss-Fermi statistics and
    EGDM mobilities; an emitter with the crystals' size, packing, effective masses,
    Auger and radiative lifetimes and PLQY gets the nanocrystal levels and the excitonic
    emitter. Keys that the material sets itself (its statistics of either carrier, a
    mobility model, its emitter model) are left out, so a material file's own choice
    stands; a material with neither set of data gets nothing.
    """
    given = material.model_fields_set
    if given & set(_MODEL_KEYS):
        return {}
    if all(getattr(material, k, None) is not None for k in _NANOCRYSTAL_NEEDS):
        sets = _NANOCRYSTAL_SETS
    elif all(getattr(material, k, None) is not None for k in _GAUSSIAN_NEEDS):
        sets = _GAUSSIAN_SETS
    else:
        return {}
    return {k: v for k, v in sets.items() if k not in given}


def _layer(spec: LayerSpec, db: MaterialDatabase, where: str, physics: str = "classic") -> Layer:
    base = _resolve_material(spec.material, db, where)
    if isinstance(base, Electrode):
        raise PeledInputError(
            f"{where}: material {base.name!r} is an electrode; use it as anode or cathode"
        )
    if isinstance(base, Substrate):
        raise PeledInputError(
            f"{where}: material {base.name!r} is a substrate; give it as the device's "
            "'substrate: {material: ...}'"
        )
    for key in spec.overrides:
        if key not in Semiconductor.model_fields:
            raise PeledInputError(
                f"{where}.overrides: unknown key {key!r} (value {spec.overrides[key]!r})"
                + _did_you_mean(key, set(Semiconductor.model_fields) - {"name", "role"})
            )
    # the layer's own choice of statistics (an override) stands, with everything that
    # depends on it, as a material file's does (disorder_aware_keys)
    own_model = bool(set(spec.overrides) & set(_MODEL_KEYS))
    preset = disorder_aware_keys(base) if physics == "disorder_aware" and not own_model else {}
    preset = {k: v for k, v in preset.items() if k not in spec.overrides}
    if spec.overrides or preset:
        data = base.model_dump(exclude_unset=True)
        data.update(preset)
        data.update(spec.overrides)
        sources = dict(base.sources)
        if {"refractive_index", "extinction_coefficient"} & set(spec.overrides):
            # constant optical constants replace the material's n, k table
            data.pop("optical_constants", None)
            sources.pop("optical_constants", None)
        for key in preset:
            sources[key] = (
                "physics: disorder_aware (device file): the material's disorder data as its "
                "model (peled.device.disorder_aware_keys)"
            )
        for key in spec.overrides:
            sources[key] = f"device override ({where})"
        data["sources"] = sources
        base = parse_material(data, f"{where}.overrides" if spec.overrides else where)
    return Layer(base, float(spec.thickness_nm), tuple(sorted(spec.overrides.items())))


def device_from_mapping(
    data: Mapping[str, Any], where: str = "<device>", db: MaterialDatabase | None = None
) -> Device:
    """Validate a device mapping (as read from YAML) and resolve its materials."""
    db = db or default_database()
    if not isinstance(data, Mapping):
        raise PeledInputError(f"{where}: a device file must be a mapping")
    try:
        spec = DeviceFile.model_validate(dict(data))
    except ValidationError as err:
        raise PeledInputError(format_input_error(err, where, DeviceFile)) from None
    _check_plausible(spec, where)
    physics = spec.physics
    layers = tuple(
        _layer(s, db, f"{where}: layers[{i}]", physics) for i, s in enumerate(spec.layers)
    )
    sweep = spec.sweep or SweepSpec()
    names = ("key 'sweep.start_V'", "key 'sweep.stop_V'", "key 'sweep.step_V'")
    bias_grid(sweep.start_V, sweep.stop_V, sweep.step_V, f"{where}: ", names)
    return Device(
        name=spec.name,
        anode=_contact(spec.anode, db, f"{where}: anode", physics),
        cathode=_contact(spec.cathode, db, f"{where}: cathode", physics),
        layers=layers,
        temperature_K=spec.temperature_K,
        outcoupling=spec.outcoupling,
        sweep_V=(sweep.start_V, sweep.stop_V, sweep.step_V),
        substrate=_substrate(spec.substrate, db, f"{where}: substrate"),
        emission_side=spec.emission_side,
        substrate_side=spec.substrate_side,
        optics=spec.optics,
        physics=physics,
        interface_image_force=(
            physics == "disorder_aware"
            if spec.interface_image_force is None
            else spec.interface_image_force
        ),
        description=spec.description,
        stack_source=spec.stack_source,
        source_file=where,
    )


def load_device(
    path: str | os.PathLike[str], db: MaterialDatabase | None = None, physics: str | None = None
) -> Device:
    """Load and validate a device YAML file; ``physics`` (one of :data:`PHYSICS`) replaces
    the file's ``physics`` key (None: as the file says)."""
    path = Path(path)
    if not path.is_file():
        raise PeledInputError(f"{path}: device file not found")
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as err:
        raise PeledInputError(f"{path}: not valid YAML: {err}") from None
    return device_from_mapping(with_physics(data, physics), str(path), db)


def with_physics(data: Any, physics: str | None) -> Any:
    """A device mapping with its ``physics`` key replaced (unchanged for None)."""
    if physics is None or not isinstance(data, Mapping):
        return data
    if physics not in PHYSICS:
        raise PeledInputError(f"physics {physics!r}: allowed {list(PHYSICS)}")
    return {**data, "physics": physics}


def device_to_mapping(device: Device) -> dict[str, Any]:
    """A device-file mapping that reloads to an equal device (inline materials kept)."""

    def resolved(mat: dict[str, Any], table, what: str) -> dict[str, Any]:
        """An inline electrode or substrate with its n, k table and a source per key: a
        Contact keeps the numbers, not their citations (those stay in the database)."""
        if table is not None:
            mat["optical_constants"] = table.model_dump()
        mat["sources"] = {
            key: f"{what} as resolved into the device {device.name!r}"
            for key in mat
            if key not in ("name", "role")
        }
        return mat

    def contact(c: Contact) -> dict[str, Any]:
        if c.name == "custom":
            return {
                "work_function_eV": c.work_function_eV,
                "image_force": c.image_force,
                "thickness_nm": c.thickness_nm,
                "refractive_index": c.refractive_index,
                "extinction_coefficient": c.extinction_coefficient,
            }
        # inline, like the layers: a database name would be looked up again in whatever
        # database the reader has (sweep workers have only the default one)
        electrode = {
            "name": c.name,
            "role": "electrode",
            "work_function_eV": c.work_function_eV,
            "refractive_index": c.refractive_index,
            "extinction_coefficient": c.extinction_coefficient,
            "exciton_quenching_efficiency": c.exciton_quenching_efficiency,
        }
        return {
            "material": resolved(electrode, c.optical_constants, f"electrode {c.name!r}"),
            "work_function_eV": c.work_function_eV,
            "image_force": c.image_force,
            "thickness_nm": c.thickness_nm,
        }

    def substrate(sub: SubstrateInfo) -> dict[str, Any]:
        o = sub.optical
        mat: dict[str, Any] = {
            "name": sub.name,
            "role": "substrate",
            "refractive_index": o.refractive_index,
            "extinction_coefficient": o.extinction_coefficient,
        }
        return {"material": resolved(mat, o.table, f"substrate {sub.name!r}")}

    def layer(la: Layer) -> dict[str, Any]:
        return {
            "material": la.material.model_dump(exclude_unset=True),
            "thickness_nm": la.thickness_nm,
        }

    a, b, s = device.sweep_V
    out: dict[str, Any] = {
        "name": device.name,
        "description": device.description,
        "stack_source": device.stack_source,
        "temperature_K": device.temperature_K,
        "anode": contact(device.anode),
        "cathode": contact(device.cathode),
        "layers": [layer(la) for la in device.layers],
        "sweep": {"start_V": a, "stop_V": b, "step_V": s},
        "substrate": substrate(device.substrate),
        "emission_side": device.emission_side,
        "substrate_side": device.substrate_side,
        "optics": device.optics,
        "physics": device.physics,
        "interface_image_force": device.interface_image_force,
    }
    if device.outcoupling is not None:
        out["outcoupling"] = device.outcoupling
    return out


def examples_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "examples"


def default_device_path() -> Path:
    """The built-in default device: the green CsPbBr3 PeLED example."""
    return examples_dir() / "green-cspbbr3.yaml"


__all__: Sequence[str] = [
    "Contact",
    "Device",
    "Layer",
    "bias_grid",
    "default_device_path",
    "device_from_mapping",
    "device_to_mapping",
    "load_device",
]
