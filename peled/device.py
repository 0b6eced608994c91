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
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from peled.core.discretize import build_arrays
from peled.core.params import DeviceArrays, MeshSpec
from peled.errors import PeledInputError
from peled.materials import (
    Electrode,
    MaterialDatabase,
    OpticalTable,
    Semiconductor,
    Substrate,
    _format_validation_error,
    default_database,
    parse_material,
)
from peled.model.contacts.image_force import DEFAULT_IMAGE_CUTOFF_M, site_spacing_m
from peled.model.emitter.excitonic import langevin_coefficient_m3_s
from peled.model.interfaces.image_plane import debye_length_m, screens_as_image_plane
from peled.model.mobility import gamma_from_cm_V_sqrt
from peled.model.statistics import STATISTICS_GAMMA
from peled.model.statistics.nanocrystal import charging_energy_eV

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

CM3_TO_M3 = 1e6  # a density in cm^-3 times 1e6 is in m^-3
CM2_TO_M2 = 1e-4


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
    # which description of the films the materials' data feed (PHYSICS, docs/model/index.md)
    physics: Literal["classic", "disorder_aware"] = "classic"
    # whether a layer that screens like a metal is its neighbour's image plane at their
    # interface (peled.model.interfaces.image_plane); None: on under disorder_aware
    interface_image_force: bool | None = None


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
    #: the description of the films (PHYSICS): "classic" or "disorder_aware"
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
        """The SI arrays the numerical core consumes (cm-based units converted here)."""
        layers = []
        for la in self.layers:
            m = la.material
            layers.append(
                {
                    "thickness_m": la.thickness_nm * 1e-9,
                    "electron_affinity_eV": m.electron_affinity_eV,
                    "band_gap_eV": m.band_gap_eV,
                    "relative_permittivity": m.relative_permittivity,
                    "electron_mobility_m2_Vs": m.electron_mobility_cm2_Vs * CM2_TO_M2,
                    "hole_mobility_m2_Vs": m.hole_mobility_cm2_Vs * CM2_TO_M2,
                    "donor_density_m3": m.donor_density_cm3 * CM3_TO_M3,
                    "acceptor_density_m3": m.acceptor_density_cm3 * CM3_TO_M3,
                    "srh_lifetime_electron_s": _srh_lifetime(m.srh_lifetime_electron_s),
                    "srh_lifetime_hole_s": _srh_lifetime(m.srh_lifetime_hole_s),
                    "trap_energy_eV": m.trap_energy_eV,
                    "radiative_coefficient_m3_s": m.radiative_coefficient_cm3_s / CM3_TO_M3,
                    "auger_coefficient_electron_m6_s": m.auger_coefficient_electron_cm6_s
                    / CM3_TO_M3**2,
                    "auger_coefficient_hole_m6_s": m.auger_coefficient_hole_cm6_s / CM3_TO_M3**2,
                    # last: an excitonic emitter replaces the recombination entries above
                    **_statistics_entries(m),
                }
            )
        return build_arrays(
            layers,
            self.anode.work_function_eV,
            self.cathode.work_function_eV,
            temperature_K=self.temperature_K,
            mesh=mesh,
            image_force=(self.anode.image_force, self.cathode.image_force),
            interface_image=self.interface_images(),
        )

    def interface_images(self) -> tuple[int, ...]:
        """Per interface (K-1,): +1 where the layer after it sees the layer before it as an
        electrode's image plane, -1 the other way round, 0 for none
        (peled.model.interfaces.image_plane): a doped layer whose Debye length at its
        dopant density is no longer than the neighbour's site spacing (N0^(-1/3) of a
        Gaussian layer, 1 nm otherwise) screens like a metal. All 0 unless
        ``interface_image_force``. Decided from the materials' values when the arrays are
        built (static structure of the compiled sweep)."""
        k = len(self.layers)
        if not self.interface_image_force:
            return (0,) * (k - 1)

        def screens(conductor: Semiconductor, receiver: Semiconductor) -> bool:
            doping = max(conductor.acceptor_density_cm3, conductor.donor_density_cm3)
            if doping <= 0.0:
                return False
            length = debye_length_m(
                conductor.relative_permittivity, doping * CM3_TO_M3, self.temperature_K
            )
            return screens_as_image_plane(length, _site_spacing_m(receiver))

        out = []
        for left, right in zip(self.layers[:-1], self.layers[1:], strict=True):
            a, b = left.material, right.material
            if screens(a, b) and not screens(b, a):
                out.append(1)
            elif screens(b, a) and not screens(a, b):
                out.append(-1)
            else:
                out.append(0)
        return tuple(out)


def _site_spacing_m(m: Semiconductor) -> float:
    """The distance [m] of a layer's first sites from a neighbouring image plane: N0^(-1/3)
    of its Gaussian DOS (holes first, as peled.core.levels.interface_image_gaps_m), the
    assumed 1 nm (DEFAULT_IMAGE_CUTOFF_M) otherwise."""
    if "gauss_fermi" in (m.carrier_statistics("hole"), m.carrier_statistics("electron")):
        return float(site_spacing_m(m.site_density_cm3 * CM3_TO_M3))
    return DEFAULT_IMAGE_CUTOFF_M


# SRH lifetime [s] of a layer whose material gives none: no trap-assisted loss. A finite
# stand-in (rates ~1e-12 of a nanosecond lifetime's) keeps the SRH term and its
# derivatives finite where inf would give inf/inf in the Jacobian.
NO_SRH_LIFETIME_S = 1e3


def _srh_lifetime(value: float | None) -> float:
    return NO_SRH_LIFETIME_S if value is None else value


# A measured ionization energy or electron affinity is an onset: the tangent at the
# steepest slope of the spectrum's leading edge extrapolated to the baseline (S. Krause
# et al., New J. Phys. 10, 085001 (2008)). For a Gaussian DOS of width sigma that tangent
# (at the inflection point E0 -/+ sigma) meets zero at E0 -/+ 2 sigma, so the centre lies
# 2 sigma inside the measured level (the relation the Nanoscope simulations of
# Nanomatch GmbH report between their computed UPS/IPES onsets and DOS means).
GAUSSIAN_ONSET_WIDTHS = 2.0


def _gaussian_centres(m: Semiconductor) -> dict[str, float]:
    """Electron affinity and band gap [eV] of the Gaussian transport levels' centres when
    the material's levels are onsets (``energy_level_reference: onset``): the LUMO centre
    lies 2 sigma_n closer to the vacuum level than the measured EA, the HOMO centre
    2 sigma_p deeper than the measured IE. Carriers without Gauss-Fermi statistics keep
    their level."""
    shift = {"electron": 0.0, "hole": 0.0}
    if m.energy_level_reference == "onset":
        for carrier in shift:
            if m.carrier_statistics(carrier) == "gauss_fermi":
                shift[carrier] = GAUSSIAN_ONSET_WIDTHS * getattr(m, f"{carrier}_disorder_eV")
    return {
        "electron_affinity_eV": m.electron_affinity_eV - shift["electron"],
        "band_gap_eV": m.band_gap_eV + shift["electron"] + shift["hole"],
    }


def _statistics_entries(m: Semiconductor) -> dict[str, Any]:
    """A layer's statistics and mobility models as core entries: the transport levels
    (the Gaussian centres of Gauss-Fermi carriers, :func:`_gaussian_centres`), each
    carrier's statistics tag, its states [m^-3] (the band DOS, the site density under
    gauss_fermi, 2 phi / L^3 for a nanocrystal film), gamma, disorder [eV], the film's
    crystal numbers, and the mobility model with its Poole-Frenkel coefficient
    [(m/V)^0.5]."""
    out: dict[str, Any] = {"statistics_gamma": 0.0, **_gaussian_centres(m)}
    if m.nanocrystal_size_nm is not None and m.nanocrystal_packing_fraction is not None:
        out["nanocrystal_size_m"] = m.nanocrystal_size_nm * 1e-9
        out["nanocrystal_packing_fraction"] = m.nanocrystal_packing_fraction
    if m.emitter_model == "excitonic":
        out.update(_excitonic_entries(m))
    for carrier in ("electron", "hole"):
        model = getattr(m, f"{carrier}_mobility_model")
        out[f"{carrier}_mobility_model"] = model
        gamma = getattr(m, f"{carrier}_poole_frenkel_gamma_cm_V_sqrt")
        if model == "poole_frenkel":
            out[f"{carrier}_poole_frenkel_gamma"] = gamma_from_cm_V_sqrt(gamma)
    for carrier, dos_key, dos_field in (
        ("electron", "conduction_band_dos_m3", "conduction_band_dos_cm3"),
        ("hole", "valence_band_dos_m3", "valence_band_dos_cm3"),
    ):
        stat = m.carrier_statistics(carrier)
        if stat in STATISTICS_GAMMA:
            out[f"{carrier}_statistics"] = "occupancy"
            out["statistics_gamma"] = STATISTICS_GAMMA[stat]
        else:
            out[f"{carrier}_statistics"] = stat
        if stat == "gauss_fermi":
            out[dos_key] = m.site_density_cm3 * CM3_TO_M3
            out[f"{carrier}_disorder_eV"] = getattr(m, f"{carrier}_disorder_eV")
        elif stat == "nanocrystal":
            size_m = m.nanocrystal_size_nm * 1e-9
            # the core derives the states from size and packing; kept here for reports
            out[dos_key] = 2.0 * m.nanocrystal_packing_fraction / size_m**3
            out["nanocrystal_size_m"] = size_m
            out["nanocrystal_size_dispersion"] = m.nanocrystal_size_dispersion
            out["nanocrystal_packing_fraction"] = m.nanocrystal_packing_fraction
            out["nanocrystal_charging_energy_eV"] = nanocrystal_charging_eV(m)
            out[f"{carrier}_effective_mass"] = getattr(m, f"{carrier}_effective_mass")
        else:
            out[dos_key] = getattr(m, dos_field) * CM3_TO_M3
    return out


def nanocrystal_charging_eV(m: Semiconductor) -> float:
    """U [eV], the rise of a film's crystal levels per carrier a crystal holds: the
    material's ``nanocrystal_charging_energy_eV`` if given, else e^2/C of a cube of edge
    ``nanocrystal_size_nm`` in the film's ``relative_permittivity``
    (peled.model.statistics.nanocrystal.charging_energy_eV)."""
    if m.nanocrystal_charging_energy_eV is not None:
        return m.nanocrystal_charging_energy_eV
    return float(charging_energy_eV(m.nanocrystal_size_nm * 1e-9, m.relative_permittivity))


def _excitonic_entries(m: Semiconductor) -> dict[str, Any]:
    """The excitonic emitter's core entries (peled.model.emitter.excitonic): Langevin
    capture gamma_L = q (mu_n + mu_p)/(eps0 eps_r) as the radiative (capture) coefficient
    [m^3/s], no free-carrier SRH or continuum Auger, exciton lifetime PLQY tau_r [s] and
    the per-crystal Auger lifetimes [s] at their reference edge [m]."""
    capture = langevin_coefficient_m3_s(
        m.electron_mobility_cm2_Vs * CM2_TO_M2,
        m.hole_mobility_cm2_Vs * CM2_TO_M2,
        m.relative_permittivity,
    )
    return {
        "radiative_coefficient_m3_s": float(capture),
        "srh_lifetime_electron_s": NO_SRH_LIFETIME_S,
        "srh_lifetime_hole_s": NO_SRH_LIFETIME_S,
        "auger_coefficient_electron_m6_s": 0.0,
        "auger_coefficient_hole_m6_s": 0.0,
        # tau_X = 1 / (k_r + k_nr) = PLQY tau_r
        "exciton_lifetime_s": m.photoluminescence_quantum_yield * m.radiative_lifetime_ns * 1e-9,
        "trion_auger_lifetime_s": m.trion_auger_lifetime_ps * 1e-12,
        "biexciton_auger_lifetime_s": m.biexciton_auger_lifetime_ps * 1e-12,
        "auger_reference_size_m": m.auger_reference_size_nm * 1e-9,
    }


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
        data = yaml.safe_load(path.read_text())
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
