"""A :class:`~peled.device.Device` as the numerical core's arrays: per-layer SI entries
from the materials (cm-based units converted here, the Gaussian centres of measured
onsets, the statistics and mobility tags, the excitonic emitter's rates) and the static
image-plane tags of the interfaces. The only conversion of names and units into the
core's :class:`~peled.core.params.DeviceArrays`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from peled.core.discretize import build_arrays
from peled.core.params import DeviceArrays, MeshSpec
from peled.materials import Semiconductor
from peled.model.contacts.image_force import DEFAULT_IMAGE_CUTOFF_M, site_spacing_m
from peled.model.emitter.excitonic import langevin_coefficient_m3_s
from peled.model.interfaces.image_plane import debye_length_m, screens_as_image_plane
from peled.model.mobility import gamma_from_cm_V_sqrt
from peled.model.statistics import STATISTICS_GAMMA
from peled.model.statistics.nanocrystal import charging_energy_eV

if TYPE_CHECKING:
    from peled.device import Device

CM3_TO_M3 = 1e6  # a density in cm^-3 times 1e6 is in m^-3
CM2_TO_M2 = 1e-4


def device_arrays(device: Device, mesh: MeshSpec | None = None) -> DeviceArrays:
    """The SI arrays the numerical core consumes from ``device`` (cm-based units converted
    here; :meth:`peled.device.Device.to_arrays`)."""
    layers = []
    for la in device.layers:
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
        device.anode.work_function_eV,
        device.cathode.work_function_eV,
        temperature_K=device.temperature_K,
        mesh=mesh,
        image_force=(device.anode.image_force, device.cathode.image_force),
        interface_image=interface_images(device),
    )


def interface_images(device: Device) -> tuple[int, ...]:
    """Per interface (K-1,): +1 where the layer after it sees the layer before it as an
    electrode's image plane, -1 the other way round, 0 for none
    (peled.model.interfaces.image_plane): a doped layer whose Debye length at its
    dopant density is no longer than the neighbour's site spacing (N0^(-1/3) of a
    Gaussian layer, 1 nm otherwise) screens like a metal. All 0 unless
    ``interface_image_force``. Decided from the materials' values when the arrays are
    built (static structure of the compiled sweep)."""
    k = len(device.layers)
    if not device.interface_image_force:
        return (0,) * (k - 1)

    def screens(conductor: Semiconductor, receiver: Semiconductor) -> bool:
        doping = max(conductor.acceptor_density_cm3, conductor.donor_density_cm3)
        if doping <= 0.0:
            return False
        length = debye_length_m(
            conductor.relative_permittivity, doping * CM3_TO_M3, device.temperature_K
        )
        return screens_as_image_plane(length, _site_spacing_m(receiver))

    out = []
    for left, right in zip(device.layers[:-1], device.layers[1:], strict=True):
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
