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

#: libyaml's C parser where PyYAML was built with it: the same documents and errors as
#: yaml.SafeLoader, ~10x faster (the 34 material files: 0.15 s -> 0.013 s)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    """``yaml.safe_load(text)`` by :data:`_SAFE_LOADER` (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader

SEMICONDUCTOR_ROLES = ("hole_transport", "electron_transport", "emitter", "interlayer")
ROLES = ("electrode", "substrate", *SEMICONDUCTOR_ROLES)

StatisticsName = Literal[
    "boltzmann", "blakemore", "single_level", "gauss_fermi", "fermi_dirac", "nanocrystal"
]
# the one-parameter occupancy family (peled.model.statistics.occupancy)
OCCUPANCY_FAMILY = ("boltzmann", "blakemore", "single_level")

Positive = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpticalTable(_Strict):
    """Measured complex refractive index n + i k against vacuum wavelength [nm].

    The thin-film optics (:mod:`peled.optics`) interpolates it linearly in wavelength and
    refuses wavelengths outside the table; a material without a table is treated as
    non-dispersive with its ``refractive_index`` / ``extinction_coefficient`` constants.
    """

    wavelength_nm: list[float] = Field(min_length=2)
    refractive_index: list[float] = Field(min_length=2)
    extinction_coefficient: list[float] = Field(min_length=2)

    @model_validator(mode="after")
    def _shape(self) -> OpticalTable:
        lam, n, k = self.wavelength_nm, self.refractive_index, self.extinction_coefficient
        if not len(lam) == len(n) == len(k):
            raise ValueError(
                "wavelength_nm, refractive_index and extinction_coefficient need the same "
                f"length (got {len(lam)}, {len(n)}, {len(k)})"
            )
        if any(b <= a for a, b in zip(lam, lam[1:], strict=False)):
            raise ValueError("wavelength_nm must increase strictly")
        if lam[0] < 200 or lam[-1] > 3000:
            raise ValueError(f"wavelength_nm must lie in 200-3000 nm (got {lam[0]}-{lam[-1]})")
        if any(not 0 < v <= 10 for v in n):
            raise ValueError("refractive_index values must lie in (0, 10]")
        if any(not 0 <= v <= 20 for v in k):
            raise ValueError("extinction_coefficient values must lie in [0, 20]")
        return self


class Semiconductor(_Strict):
    """A semiconductor layer material (units in the key names)."""

    name: str = Field(min_length=1)
    role: Literal["hole_transport", "electron_transport", "emitter", "interlayer"]
    description: str = ""
    band_gap_eV: float = Field(gt=0, le=10)
    electron_affinity_eV: float = Field(gt=0, le=10)
    relative_permittivity: float = Field(ge=1, le=1000)
    # effective DOS of the bands (every statistics but gauss_fermi); under gauss_fermi
    # the carrier's states are the site density instead
    conduction_band_dos_cm3: float | None = Field(default=None, gt=0, le=1e23)
    valence_band_dos_cm3: float | None = Field(default=None, gt=0, le=1e23)
    electron_mobility_cm2_Vs: float = Field(gt=0, le=1e5)
    hole_mobility_cm2_Vs: float = Field(gt=0, le=1e5)
    donor_density_cm3: float = Field(default=0.0, ge=0, le=1e23)
    acceptor_density_cm3: float = Field(default=0.0, ge=0, le=1e23)
    # trap-assisted (SRH) lifetimes of free carriers; omitted: no SRH loss is modelled in
    # the layer (an excitonic emitter counts its non-radiative loss through the PLQY)
    # (no upper bound: a very long lifetime is a legitimate way to switch SRH off. The
    # most a bimolecular or Auger coefficient of a semiconductor reaches is ~1e-6 cm^3/s
    # (Langevin, high mobility) and ~1e-26 cm^6/s, so their bounds below sit decades
    # above and catch values written in other units)
    srh_lifetime_electron_s: float | None = Field(default=None, gt=0)
    srh_lifetime_hole_s: float | None = Field(default=None, gt=0)
    trap_energy_eV: float = 0.0
    radiative_coefficient_cm3_s: float = Field(ge=0, le=1e-3)
    auger_coefficient_electron_cm6_s: float = Field(default=0.0, ge=0, le=1e-20)
    auger_coefficient_hole_cm6_s: float = Field(default=0.0, ge=0, le=1e-20)
    refractive_index: float = Field(ge=1, le=5)
    extinction_coefficient: float = Field(default=0.0, ge=0, le=10)
    # n(lambda), k(lambda) for the thin-film optics; the constants above are the values
    # at the emission wavelength used where no table is given
    optical_constants: OpticalTable | None = None
    emission_peak_nm: float | None = Field(default=None, ge=360, le=830)
    emission_fwhm_nm: float | None = Field(default=None, gt=0, lt=200)
    photoluminescence_quantum_yield: float | None = Field(default=None, ge=0, le=1)
    # emitters: fraction of the transition dipoles lying in the film plane (the dipole
    # optics, peled.optics.coupling); not given: isotropic, 2/3
    horizontal_dipole_ratio: float | None = Field(default=None, ge=0, le=1)
    # Interface exciton quenching (docs/model/light-output.md): the emitter's exciton
    # quenching (diffusion) length, and this material's efficiency at quenching excitons of
    # an adjacent emitter (0 = none, e.g. wide-gap insulators; 1 = every arriving exciton).
    exciton_quenching_length_nm: float | None = Field(default=None, gt=0, le=1000)
    exciton_quenching_efficiency: float = Field(default=0.0, ge=0, le=1)
    # Occupancy of the states (peled.model.statistics, docs/model/statistics.md): Boltzmann,
    # Blakemore's Fermi-Dirac approximation, Fermi-Dirac on one level of N_c sites (a
    # nanocrystal film's band-edge states), Gauss-Fermi (a disordered organic film's
    # Gaussian DOS of site_density_cm3 sites and width *_disorder_eV) or Fermi-Dirac F_1/2
    # of a parabolic band. electron_/hole_statistics override it per carrier.
    statistics: StatisticsName = "boltzmann"
    electron_statistics: StatisticsName | None = None
    hole_statistics: StatisticsName | None = None
    site_density_cm3: float | None = Field(default=None, ge=1e18, le=1e23)
    electron_disorder_eV: float | None = Field(default=None, ge=0, le=0.5)
    hole_disorder_eV: float | None = Field(default=None, ge=0, le=0.5)
    # what electron_affinity_eV and the ionization energy (EA + band gap) of a Gaussian
    # (gauss_fermi) carrier are: "onset" (measured UPS/IPES/CV onsets, the edge of the
    # Gaussian: its centre lies GAUSSIAN_ONSET_WIDTHS sigma further inside the gap's
    # complement, peled.device) or "centre" (the Gaussian's centre itself, as model
    # studies give it). Not used by other statistics.
    energy_level_reference: Literal["onset", "centre"] = "onset"
    # a nanocrystal film (statistics nanocrystal, peled.model.statistics.nanocrystal):
    # cube edge, relative size dispersion, packing fraction, effective masses m*/m0
    # mobility model per carrier (peled.model.mobility): constant (the *_mobility_cm2_Vs
    # value), Poole-Frenkel mu0 exp(gamma sqrt(F)), or the extended Gaussian disorder model
    # (needs gauss_fermi statistics of that carrier; *_mobility_cm2_Vs is then mu0(T))
    electron_mobility_model: Literal["constant", "poole_frenkel", "egdm"] = "constant"
    hole_mobility_model: Literal["constant", "poole_frenkel", "egdm"] = "constant"
    electron_poole_frenkel_gamma_cm_V_sqrt: float | None = Field(default=None, ge=0, le=0.1)
    hole_poole_frenkel_gamma_cm_V_sqrt: float | None = Field(default=None, ge=0, le=0.1)
    # how an emitter turns carriers into photons: "continuum" (radiative_coefficient B,
    # SRH and Auger coefficients of the free carriers, photons B n p x PLQY) or
    # "excitonic" (peled.model.emitter.excitonic: Langevin capture into excitons that emit
    # with the PLQY and are lost to per-crystal trion/biexciton Auger; the material's B,
    # SRH lifetimes and Auger coefficients are then not used)
    emitter_model: Literal["continuum", "excitonic"] = "continuum"
    # the excitonic emitter: exciton radiative lifetime, trion and biexciton Auger
    # lifetimes at the crystal edge auger_reference_size_nm
    radiative_lifetime_ns: float | None = Field(default=None, gt=0, le=1e3)
    trion_auger_lifetime_ps: float | None = Field(default=None, gt=0, le=1e6)
    biexciton_auger_lifetime_ps: float | None = Field(default=None, gt=0, le=1e6)
    auger_reference_size_nm: float | None = Field(default=None, ge=1, le=100)
    nanocrystal_size_nm: float | None = Field(default=None, ge=1, le=100)
    nanocrystal_size_dispersion: float | None = Field(default=None, ge=0, le=0.5)
    nanocrystal_packing_fraction: float | None = Field(default=None, gt=0, le=0.74)
    # the rise of a crystal's levels per carrier it holds [eV]; not given: e^2/C of a cube
    # of edge nanocrystal_size_nm in the film's relative_permittivity
    # (peled.model.statistics.nanocrystal.charging_energy_eV); 0: no charging
    nanocrystal_charging_energy_eV: float | None = Field(default=None, ge=0, le=0.5)
    electron_effective_mass: float | None = Field(default=None, ge=0.01, le=10)
    hole_effective_mass: float | None = Field(default=None, ge=0.01, le=10)
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistency(self) -> Semiconductor:
        if abs(self.trap_energy_eV) >= 0.5 * self.band_gap_eV:
            raise ValueError(
                f"trap_energy_eV = {self.trap_energy_eV} must lie inside the gap: "
                f"|value| < band_gap_eV/2 = {0.5 * self.band_gap_eV}"
            )
        self._check_statistics()
        if self.emitter_model == "excitonic":
            needs = {
                "trion_auger_lifetime_ps": self.trion_auger_lifetime_ps,
                "biexciton_auger_lifetime_ps": self.biexciton_auger_lifetime_ps,
                "radiative_lifetime_ns": self.radiative_lifetime_ns,
                "auger_reference_size_nm": self.auger_reference_size_nm,
                "nanocrystal_size_nm": self.nanocrystal_size_nm,
                "nanocrystal_packing_fraction": self.nanocrystal_packing_fraction,
                "photoluminescence_quantum_yield": self.photoluminescence_quantum_yield,
            }
            missing = [k for k, v in needs.items() if v is None]
            if missing:
                raise ValueError(f"emitter_model 'excitonic' needs keys {missing}")
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

    def carrier_statistics(self, carrier: str) -> str:
        """The statistics of ``carrier`` ("electron" or "hole"): its own key, else
        ``statistics``."""
        own = self.electron_statistics if carrier == "electron" else self.hole_statistics
        return own or self.statistics

    def _check_statistics(self) -> None:
        family = set()
        for carrier, dos_key in (
            ("electron", "conduction_band_dos_cm3"),
            ("hole", "valence_band_dos_cm3"),
        ):
            stat = self.carrier_statistics(carrier)
            if stat == "gauss_fermi":
                for key in ("site_density_cm3", f"{carrier}_disorder_eV"):
                    if getattr(self, key) is None:
                        raise ValueError(
                            f"{carrier} statistics 'gauss_fermi' needs key '{key}' "
                            "(site density 1e18-1e23 cm^-3; disorder 0-0.5 eV)"
                        )
            elif stat == "nanocrystal":
                for key in (
                    "nanocrystal_size_nm",
                    "nanocrystal_size_dispersion",
                    "nanocrystal_packing_fraction",
                    f"{carrier}_effective_mass",
                ):
                    if getattr(self, key) is None:
                        raise ValueError(
                            f"{carrier} statistics 'nanocrystal' needs key '{key}' (edge "
                            "1-100 nm, dispersion 0-0.5, packing 0-0.74, mass 0.01-10 m0)"
                        )
            elif getattr(self, dos_key) is None:
                raise ValueError(
                    f"{carrier} statistics {stat!r} needs key '{dos_key}' (0-1e23 cm^-3)"
                )
            if stat in OCCUPANCY_FAMILY:
                family.add(stat)
            model = getattr(self, f"{carrier}_mobility_model")
            gamma_key = f"{carrier}_poole_frenkel_gamma_cm_V_sqrt"
            if model == "poole_frenkel" and getattr(self, gamma_key) is None:
                raise ValueError(
                    f"{carrier}_mobility_model 'poole_frenkel' needs key '{gamma_key}' "
                    "(0-0.1 (cm/V)^0.5)"
                )
            if model == "egdm" and stat != "gauss_fermi":
                raise ValueError(
                    f"{carrier}_mobility_model 'egdm' needs {carrier} statistics "
                    f"'gauss_fermi' (its disorder and site density), not {stat!r}"
                )
        if len(family) > 1:
            raise ValueError(
                f"electrons and holes use {sorted(family)}: the occupancy family "
                f"{list(OCCUPANCY_FAMILY)} has one member per layer (combine one of them "
                "with gauss_fermi or fermi_dirac instead)"
            )

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
    optical_constants: OpticalTable | None = None
    exciton_quenching_efficiency: float = Field(default=0.0, ge=0, le=1)
    sources: dict[str, str] = Field(default_factory=dict)


class Substrate(_Strict):
    """A thick transparent substrate (glass): optical constants only. The optics treats it
    as incoherent (many wavelengths thick), between the stack and air."""

    name: str = Field(min_length=1)
    role: Literal["substrate"]
    description: str = ""
    refractive_index: float = Field(ge=1, le=5)
    extinction_coefficient: float = Field(default=0.0, ge=0, le=1)
    optical_constants: OpticalTable | None = None
    sources: dict[str, str] = Field(default_factory=dict)


Material = Semiconductor | Electrode | Substrate


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
    model = {"electrode": Electrode, "substrate": Substrate}.get(role, Semiconductor)
    try:
        mat = model.model_validate(dict(data))
    except ValidationError as err:
        raise PeledInputError(_format_validation_error(err, where)) from None
    # numbers, and the statistics models (modelling choices like numbers), need a source
    choices = (
        "statistics",
        "electron_statistics",
        "hole_statistics",
        "electron_mobility_model",
        "hole_mobility_model",
        "emitter_model",
        "optical_constants",
    )
    numeric = [k for k, v in mat.model_dump().items() if isinstance(v, int | float) or k in choices]
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
        data = load_yaml(path.read_text())
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
