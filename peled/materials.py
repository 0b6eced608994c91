"""The materials database: one YAML file per material, validated on load.

Keys carry their units (``electron_mobility_cm2_Vs``); every numeric key needs an entry
in ``sources``. Validation uses pydantic models with physical ranges; an error names the
file, the key, the value and the allowed range. Look-up is case-insensitive and an
unknown name suggests the closest known names.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from peled.errors import PeledInputError

SEMICONDUCTOR_ROLES = ("hole_transport", "electron_transport", "emitter", "interlayer")
ROLES = ("electrode", *SEMICONDUCTOR_ROLES)

Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Semiconductor(_Strict):
    """A semiconductor layer material (units in the key names)."""

    name: str = Field(min_length=1)
    role: Literal["hole_transport", "electron_transport", "emitter", "interlayer"]
    description: str = ""
    band_gap_eV: float = Field(gt=0, le=10)
    electron_affinity_eV: float = Field(gt=0, le=10)
    relative_permittivity: float = Field(ge=1, le=1000)
    conduction_band_dos_cm3: float = Field(gt=0, le=1e23)
    valence_band_dos_cm3: float = Field(gt=0, le=1e23)
    electron_mobility_cm2_Vs: float = Field(gt=0, le=1e5)
    hole_mobility_cm2_Vs: float = Field(gt=0, le=1e5)
    donor_density_cm3: float = Field(default=0.0, ge=0, le=1e23)
    acceptor_density_cm3: float = Field(default=0.0, ge=0, le=1e23)
    srh_lifetime_electron_s: float = Field(gt=0)
    srh_lifetime_hole_s: float = Field(gt=0)
    trap_energy_eV: float = 0.0
    radiative_coefficient_cm3_s: NonNegative
    auger_coefficient_electron_cm6_s: float = Field(default=0.0, ge=0)
    auger_coefficient_hole_cm6_s: float = Field(default=0.0, ge=0)
    refractive_index: float = Field(ge=1, le=5)
    extinction_coefficient: float = Field(default=0.0, ge=0, le=10)
    emission_peak_nm: float | None = Field(default=None, ge=360, le=830)
    emission_fwhm_nm: float | None = Field(default=None, gt=0, lt=200)
    photoluminescence_quantum_yield: float | None = Field(default=None, ge=0, le=1)
    # Interface exciton quenching (docs/light_output_photometry.md): the emitter's exciton
    # quenching (diffusion) length, and this material's efficiency at quenching excitons of
    # an adjacent emitter (0 = none, e.g. wide-gap insulators; 1 = every arriving exciton).
    exciton_quenching_length_nm: float | None = Field(default=None, gt=0, le=1000)
    exciton_quenching_efficiency: float = Field(default=0.0, ge=0, le=1)
    # Occupancy of the band states (peled.core.statistics, docs/model.md): Boltzmann
    # (physics.md default), Blakemore's Fermi-Dirac approximation, or Fermi-Dirac on one
    # level of N_c sites (a nanocrystal film's band-edge states; densities saturate at N_c).
    statistics: Literal["boltzmann", "blakemore", "single_level"] = "boltzmann"
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistency(self) -> Semiconductor:
        if abs(self.trap_energy_eV) >= 0.5 * self.band_gap_eV:
            raise ValueError(
                f"trap_energy_eV = {self.trap_energy_eV} must lie inside the gap: "
                f"|value| < band_gap_eV/2 = {0.5 * self.band_gap_eV}"
            )
        emission = (
            self.emission_peak_nm,
            self.emission_fwhm_nm,
            self.photoluminescence_quantum_yield,
        )
        if self.role == "emitter" and any(v is None for v in emission):
            raise ValueError(
                "an emitter needs emission_peak_nm (360-830), emission_fwhm_nm (0-200) "
                "and photoluminescence_quantum_yield (0-1)"
            )
        return self

    @property
    def emits(self) -> bool:
        return self.role == "emitter"

    @property
    def ionization_energy_eV(self) -> float:
        """IE = EA + Eg [eV] (vacuum to valence-band edge / HOMO)."""
        return self.electron_affinity_eV + self.band_gap_eV


class Electrode(_Strict):
    """A contact material: its work function and optical constants."""

    name: str = Field(min_length=1)
    role: Literal["electrode"]
    description: str = ""
    work_function_eV: float = Field(ge=1.5, le=7.0)
    refractive_index: float = Field(default=1.0, gt=0, le=10)
    extinction_coefficient: float = Field(default=0.0, ge=0, le=20)
    exciton_quenching_efficiency: float = Field(default=0.0, ge=0, le=1)
    sources: dict[str, str] = Field(default_factory=dict)


Material = Semiconductor | Electrode


def _format_validation_error(err: ValidationError, where: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(file)"
        val = e.get("input")
        if e["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key '{key}' (value {val!r}); check the spelling")
        elif e["type"] == "missing":
            lines.append(f"{where}: missing required key '{key}'")
        else:
            shown = "" if isinstance(val, dict) else f" = {val!r}"
            lines.append(f"{where}: key '{key}'{shown}: {e['msg']}")
    return "\n".join(lines)


def parse_material(data: Mapping[str, Any], where: str) -> Material:
    """Validate a material mapping; ``where`` names its file (or device entry) in errors."""
    if not isinstance(data, Mapping):
        raise PeledInputError(f"{where}: a material must be a mapping of keys to values")
    role = data.get("role")
    if role not in ROLES:
        raise PeledInputError(f"{where}: key 'role' = {role!r}: allowed values are {list(ROLES)}")
    model = Electrode if role == "electrode" else Semiconductor
    try:
        mat = model.model_validate(dict(data))
    except ValidationError as err:
        raise PeledInputError(_format_validation_error(err, where)) from None
    # numbers, and the statistics model (a modelling choice like a number), need a source
    numeric = [
        k for k, v in mat.model_dump().items() if isinstance(v, int | float) or k == "statistics"
    ]
    missing = [k for k in numeric if k in data and k not in mat.sources]
    if missing:
        raise PeledInputError(
            f"{where}: every number needs a source; key 'sources' lacks {missing}"
        )
    stray = sorted(set(mat.sources) - set(data) - {"name"})
    if stray:
        raise PeledInputError(f"{where}: key 'sources' names keys the file does not set: {stray}")
    return mat


def load_material_file(path: str | os.PathLike[str]) -> Material:
    """Load and validate one material YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise PeledInputError(f"{path}: not valid YAML: {err}") from None
    return parse_material(data, str(path))


def default_materials_dir() -> Path:
    """The database folder: $PELED_MATERIALS, else ``materials/`` beside the package."""
    env = os.environ.get("PELED_MATERIALS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "materials"


class MaterialDatabase(Mapping[str, Material]):
    """All materials under a folder, looked up case-insensitively by name."""

    def __init__(self, materials: Mapping[str, Material], files: Mapping[str, Path]):
        self._by_key = {k.lower(): v for k, v in materials.items()}
        self._files = {k.lower(): v for k, v in files.items()}

    @classmethod
    def from_dir(cls, folder: str | os.PathLike[str] | None = None) -> MaterialDatabase:
        folder = Path(folder) if folder is not None else default_materials_dir()
        if not folder.is_dir():
            raise PeledInputError(f"materials folder {folder} does not exist")
        mats: dict[str, Material] = {}
        files: dict[str, Path] = {}
        for path in sorted(folder.rglob("*.yaml")):
            mat = load_material_file(path)
            key = mat.name.lower()
            if key in mats:
                raise PeledInputError(
                    f"{path}: key 'name' = {mat.name!r} is already used by {files[key]}"
                )
            mats[key] = mat
            files[key] = path
        return cls(mats, files)

    def __getitem__(self, name: str) -> Material:
        try:
            return self._by_key[name.lower()]
        except KeyError:
            close = difflib.get_close_matches(name.lower(), list(self._by_key), n=3, cutoff=0.4)
            names = [self._by_key[c].name for c in close]
            hint = f"; closest known names: {names}" if names else ""
            raise PeledInputError(f"unknown material {name!r}{hint}") from None

    def __iter__(self) -> Iterator[str]:
        return (m.name for m in self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def file_of(self, name: str) -> Path:
        return self._files[name.lower()]


_DEFAULT_DB: MaterialDatabase | None = None


def default_database() -> MaterialDatabase:
    """The database in :func:`default_materials_dir`, loaded once."""
    global _DEFAULT_DB
    if _DEFAULT_DB is None:
        _DEFAULT_DB = MaterialDatabase.from_dir()
    return _DEFAULT_DB


def load_material(name: str) -> Material:
    """A material of the default database by (case-insensitive) name."""
    return default_database()[name]
