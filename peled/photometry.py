"""Emission lineshape, CIE 1931 colorimetry and photometry of the LED light output.

This module turns an out-coupled photon flux (photons / (m^2 s)) into the quantities an
LED paper reports: CIE 1931 (x, y) chromaticity, luminous efficacy of radiation (lm/W),
lumens per (photon/s) and Lambertian luminance (cd/m^2).

Conventions
-----------
* Wavelengths are vacuum wavelengths in nm.
* The *photon density* ``s(lambda)`` is a photon-number spectral density per nm, normalized
  so that ``integral s dlambda = 1`` (unit 1/nm) over the wavelength grid it is sampled on.
* The *spectral power* density is ``p(lambda) = E_ph(lambda) s(lambda)`` with
  ``E_ph = h c / lambda`` (unit J/nm per photon; i.e. W/nm per (photon/s)).
* All integrals are trapezoidal (``numpy.trapezoid``) on the given grid.

Data sources
------------
* CIE 1931 2 degree colour-matching functions and the CIE 1924 photopic luminous efficiency
  function V(lambda), tabulated at 1 nm from 360 nm to 830 nm, are read from
  ``peled/data/cie1931_2deg_cmfs.csv`` and ``peled/data/cie1924_photopic_v.csv``: the
  tables of colour-science (``colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]``,
  ``colour.colorimetry.SDS_LEFS_PHOTOPIC["CIE 1924 Photopic Standard Observer"]``)
  written out to the last digit, so that a run does not import colour-science (0.5 s,
  because ``import colour`` loads its plotting package); the tests check every value
  against colour-science's. References: ISO/CIE 11664-1:2019, CIE 015:2018
  *Colorimetry*, 4th ed.; Mansencal et al., *Colour* (colour-science), Zenodo,
  doi:10.5281/zenodo.3757045. colour-science itself computes the independent reference
  of :func:`cie_xy_colour_reference` (imported there only).
* Physical constants (h, c, e) come from ``scipy.constants`` (CODATA, exact SI values).
* Maximum luminous efficacy ``K_m = 683 lm/W``: the value colour-science uses
  (``colour.constants.CONSTANT_K_M``; tested equal). The SI definition of the candela fixes
  ``K_cd = 683 lm/W`` for monochromatic radiation of 540e12 Hz (555.016 nm in standard air);
  with the tabulated V(555 nm) = 1 this gives K_m = 683.002 lm/W (CIE), a 3 ppm difference
  that is below the accuracy of anything computed here. See the SI Brochure, 9th ed. (2019).

See docs/model/light-output.md for the derivations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import constants

__all__ = [
    "CIE_WAVELENGTH_MAX_NM",
    "CIE_WAVELENGTH_MIN_NM",
    "DEFAULT_WAVELENGTH_STEP_NM",
    "FWHM_MAX_NM",
    "K_M_LM_PER_W",
    "SpectrumMetrics",
    "cie_xy",
    "cie_xy_colour_reference",
    "default_wavelength_grid",
    "emission_spectrum",
    "energy_lineshape_parameters",
    "luminance_cd_m2",
    "monochromatic_lumens_per_watt",
    "photon_energy_J",
    "photopic_efficiency",
    "spectrum_metrics",
]

#: Range of the CIE tables shipped by colour-science (and of the default grid), nm.
CIE_WAVELENGTH_MIN_NM = 360.0
CIE_WAVELENGTH_MAX_NM = 830.0
#: Step of the default wavelength grid, nm.
DEFAULT_WAVELENGTH_STEP_NM = 0.5
#: Exclusive upper bound accepted for the emission FWHM, nm.
FWHM_MAX_NM = 200.0
#: Maximum luminous efficacy for photopic vision, lm/W (colour-science's CONSTANT_K_M).
K_M_LM_PER_W = 683.0
#: The CIE tables (module docstring, "Data sources").
_DATA = Path(__file__).resolve().parent / "data"
CMFS_TABLE_CSV = _DATA / "cie1931_2deg_cmfs.csv"
LEF_TABLE_CSV = _DATA / "cie1924_photopic_v.csv"

_CMFS_NAME = "CIE 1931 2 Degree Standard Observer"
#: h c expressed in J nm, so that E_ph [J] = _HC_J_NM / lambda [nm].
_HC_J_NM = constants.h * constants.c * 1e9
#: 2 sqrt(2 ln 2): ratio FWHM / standard deviation of a Gaussian.
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


# --------------------------------------------------------------------------------------
# The CIE tables (read once; module docstring, "Data sources")
# --------------------------------------------------------------------------------------
def _read_table(path: Path) -> np.ndarray:
    """The numeric rows of one of the CSV tables in peled/data (comment lines, then a
    header), read-only."""
    lines = [
        ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and ln[0] != "#"
    ]
    # float() of the written digits is exact: the values round-trip
    table = np.array([[float(x) for x in ln.split(",")] for ln in lines[1:]], dtype=float)
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=1)
def _cmfs_table() -> tuple[np.ndarray, np.ndarray]:
    """(wavelength_nm [N], xyz_bar [N, 3]) of the CIE 1931 2 degree observer, read-only."""
    table = _read_table(CMFS_TABLE_CSV)
    return table[:, 0], table[:, 1:4]


@functools.lru_cache(maxsize=1)
def _lef_table() -> tuple[np.ndarray, np.ndarray]:
    """(wavelength_nm [N], V [N]) of the CIE 1924 photopic observer, read-only."""
    table = _read_table(LEF_TABLE_CSV)
    return table[:, 0], table[:, 1]


@functools.lru_cache(maxsize=1)
def default_wavelength_grid() -> np.ndarray:
    """Default grid: 360 nm to 830 nm in 0.5 nm steps (941 points, read-only array)."""
    n = round((CIE_WAVELENGTH_MAX_NM - CIE_WAVELENGTH_MIN_NM) / DEFAULT_WAVELENGTH_STEP_NM)
    grid = np.linspace(CIE_WAVELENGTH_MIN_NM, CIE_WAVELENGTH_MAX_NM, n + 1)
    grid.setflags(write=False)
    return grid


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------
def _check_scalar_range(
    name: str, value: float, low: float, high: float, *, low_inclusive: bool, high_inclusive: bool
) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    ok_low = v >= low if low_inclusive else v > low
    ok_high = v <= high if high_inclusive else v < high
    if not (np.isfinite(v) and ok_low and ok_high):
        lb = "[" if low_inclusive else "("
        hb = "]" if high_inclusive else ")"
        raise ValueError(f"{name}={value!r} is outside the allowed range {lb}{low:g}, {high:g}{hb}")
    return v


def _check_peak_fwhm(peak_nm: float, fwhm_nm: float) -> tuple[float, float]:
    peak = _check_scalar_range(
        "peak_nm",
        peak_nm,
        CIE_WAVELENGTH_MIN_NM,
        CIE_WAVELENGTH_MAX_NM,
        low_inclusive=True,
        high_inclusive=True,
    )
    fwhm = _check_scalar_range(
        "fwhm_nm", fwhm_nm, 0.0, FWHM_MAX_NM, low_inclusive=False, high_inclusive=False
    )
    return peak, fwhm


def _check_grid(wavelength_nm: np.ndarray, name: str = "wavelength_nm") -> np.ndarray:
    wl = np.asarray(wavelength_nm, dtype=float)
    if wl.ndim != 1 or wl.size < 3:
        raise ValueError(f"{name} must be a 1-D array with at least 3 points, got shape {wl.shape}")
    if not np.all(np.isfinite(wl)) or wl[0] <= 0.0:
        raise ValueError(f"{name} must contain finite, positive wavelengths (nm)")
    if not np.all(np.diff(wl) > 0.0):
        raise ValueError(f"{name} must be strictly increasing")
    return wl


# --------------------------------------------------------------------------------------
# Physics
# --------------------------------------------------------------------------------------
def photon_energy_J(wavelength_nm: np.ndarray | float) -> np.ndarray | float:
    """Photon energy E_ph = h c / lambda in J, for vacuum wavelength lambda in nm."""
    wl = np.asarray(wavelength_nm, dtype=float)
    energy = _HC_J_NM / wl
    return float(energy) if energy.ndim == 0 else energy


def energy_lineshape_parameters(peak_nm: float, fwhm_nm: float) -> tuple[float, float]:
    """Centre E0 and standard deviation sigma (both in J) of the Gaussian-in-energy lineshape.

    The spectrum is ``s(lambda) ∝ exp(-(E(lambda) - E0)^2 / (2 sigma^2))`` with
    ``E(lambda) = h c / lambda``. Because E(lambda) is monotonic, ``s`` is maximal where
    ``E = E0``, so ``E0 = h c / peak_nm``. The half-maximum points are at
    ``E = E0 ± dE/2`` with ``dE = 2 sqrt(2 ln 2) sigma``, i.e. at
    ``lambda_± = h c / (E0 ∓ dE/2)``, so the wavelength FWHM is

        w = lambda_+ - lambda_- = h c dE / (E0^2 - dE^2 / 4).

    Solving this quadratic for the positive root, with ``u = w / peak_nm``:

        dE = (2 h c / w) (sqrt(1 + u^2) - 1)  ->  h c w / peak^2  for  w << peak.

    ``E0 - dE/2 > 0`` holds for every w > 0 since sqrt(1 + u^2) < 1 + u.
    """
    peak, fwhm = _check_peak_fwhm(peak_nm, fwhm_nm)
    e0 = _HC_J_NM / peak
    u = fwhm / peak
    # sqrt(1+u^2) - 1 written as u^2 / (sqrt(1+u^2) + 1) to avoid cancellation for small u.
    delta_e = (2.0 * _HC_J_NM / fwhm) * (u * u / (np.sqrt(1.0 + u * u) + 1.0))
    sigma = delta_e / _FWHM_PER_SIGMA
    return float(e0), float(sigma)


def emission_spectrum(
    peak_nm: float, fwhm_nm: float, wavelength_nm: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized photon-number spectral density of a Gaussian-in-energy emission line.

    Parameters
    ----------
    peak_nm
        Wavelength (nm) of the maximum of the returned per-nm density; 360 <= peak <= 830.
    fwhm_nm
        Full width at half maximum (nm) of the returned per-nm density; 0 < fwhm < 200.
    wavelength_nm
        Strictly increasing grid (nm). Default: 360-830 nm in 0.5 nm steps. It must contain
        ``peak_nm`` and resolve the line (grid steps within peak ± fwhm at most fwhm/2).

    Returns
    -------
    (wavelength_nm, photon_density_per_nm)
        ``s(lambda) = exp(-(E(lambda) - E0)^2 / (2 sigma^2)) / N`` with E0 and sigma from
        :func:`energy_lineshape_parameters` and N chosen so that the trapezoidal integral of
        s over the grid is 1 (unit 1/nm). "Peak" and "FWHM" both refer to this per-nm
        density (the per-energy density s dlambda/dE ∝ lambda^2 s peaks slightly to the red).
        Emission outside the grid is discarded (the normalization is over the grid).
    """
    peak, fwhm = _check_peak_fwhm(peak_nm, fwhm_nm)
    wl = default_wavelength_grid() if wavelength_nm is None else _check_grid(wavelength_nm)
    if not (wl[0] <= peak <= wl[-1]):
        raise ValueError(
            f"peak_nm={peak_nm!r} is outside the wavelength grid range [{wl[0]:g}, {wl[-1]:g}] nm"
        )
    # Resolution check: the intervals overlapping [peak - fwhm, peak + fwhm] must be <= fwhm/2.
    i0 = max(int(np.searchsorted(wl, peak - fwhm, side="right")) - 1, 0)
    i1 = min(int(np.searchsorted(wl, peak + fwhm, side="left")) + 1, wl.size)
    local_step = float(np.max(np.diff(wl[i0:i1])))
    if local_step > 0.5 * fwhm:
        raise ValueError(
            f"fwhm_nm={fwhm_nm!r} is not resolved by the wavelength grid (local step "
            f"{local_step:g} nm); the allowed range on this grid is [{2 * local_step:g}, "
            f"{FWHM_MAX_NM:g}) nm, or pass a finer wavelength_nm"
        )
    e0, sigma = energy_lineshape_parameters(peak, fwhm)
    energy = _HC_J_NM / wl
    shape = np.exp(-0.5 * ((energy - e0) / sigma) ** 2)
    norm = float(np.trapezoid(shape, wl))
    return np.array(wl, dtype=float), shape / norm


def photopic_efficiency(wavelength_nm: np.ndarray | float) -> np.ndarray:
    """CIE 1924 photopic luminous efficiency V(lambda) (dimensionless, max 1 at 555 nm).

    Linearly interpolated from the CIE 1 nm table (360-830 nm); 0 outside it.
    """
    wl = np.asarray(wavelength_nm, dtype=float)
    table_wl, table_v = _lef_table()
    return np.interp(wl, table_wl, table_v, left=0.0, right=0.0)


def monochromatic_lumens_per_watt(wavelength_nm: float) -> float:
    """Luminous efficacy of monochromatic radiation, K_m V(lambda), in lm/W."""
    return float(K_M_LM_PER_W * photopic_efficiency(float(wavelength_nm)))


def _cmfs_on_grid(wl: np.ndarray) -> np.ndarray:
    """CIE 1931 2 degree xbar, ybar, zbar linearly interpolated on ``wl``; shape [3, N]."""
    table_wl, table = _cmfs_table()
    return np.stack([np.interp(wl, table_wl, table[:, k], left=0.0, right=0.0) for k in range(3)])


def cie_xy(wavelength_nm: np.ndarray, spectral_power: np.ndarray) -> tuple[float, float]:
    """CIE 1931 2 degree chromaticity (x, y) of a spectral power distribution.

    X = ∫ xbar(λ) P(λ) dλ, Y = ∫ ybar P dλ, Z = ∫ zbar P dλ (trapezoidal, CMFs linearly
    interpolated from the CIE 1 nm table, zero outside 360-830 nm);
    x = X / (X + Y + Z), y = Y / (X + Y + Z) (CIE 015:2018). ``spectral_power`` must be
    a POWER density (e.g. photon density * photon energy); its scale is irrelevant.
    """
    wl = _check_grid(wavelength_nm)
    power = np.asarray(spectral_power, dtype=float)
    if power.shape != wl.shape:
        raise ValueError(
            f"spectral_power has shape {power.shape}, expected {wl.shape} (same as wavelength_nm)"
        )
    if not np.all(np.isfinite(power)) or np.any(power < 0.0):
        raise ValueError("spectral_power must be finite and non-negative")
    xyz = np.trapezoid(_cmfs_on_grid(wl) * power, wl, axis=1)
    total = float(np.sum(xyz))
    if not total > 0.0:
        raise ValueError("spectral_power has no visible (360-830 nm) content; (x, y) undefined")
    return float(xyz[0] / total), float(xyz[1] / total)


@dataclass(frozen=True)
class SpectrumMetrics:
    """Colorimetric and photometric figures of a normalized emission spectrum.

    Attributes
    ----------
    peak_nm, fwhm_nm
        Lineshape parameters (nm) of the per-nm photon density.
    cie_x, cie_y
        CIE 1931 2 degree chromaticity of the spectral power distribution.
    luminous_efficacy_lm_W
        Luminous efficacy of radiation K_m ∫V p dλ / ∫p dλ (lm/W), p = E_ph s.
    lumens_per_photon_per_s
        K_m ∫ V E_ph s dλ: lumens produced by an emission rate of 1 photon/s
        (lm / (photon/s) = lm s).
    mean_photon_energy_J, mean_photon_energy_eV
        ∫ E_ph s dλ, in J and eV.
    wavelength_nm, photon_density_per_nm
        The grid (nm) and normalized photon density (1/nm); read-only arrays, excluded from
        repr and equality.
    """

    peak_nm: float
    fwhm_nm: float
    cie_x: float
    cie_y: float
    luminous_efficacy_lm_W: float
    lumens_per_photon_per_s: float
    mean_photon_energy_J: float
    mean_photon_energy_eV: float
    wavelength_nm: np.ndarray = field(repr=False, compare=False)
    photon_density_per_nm: np.ndarray = field(repr=False, compare=False)


@functools.lru_cache(maxsize=256)
def _spectrum_metrics_cached(peak_nm: float, fwhm_nm: float) -> SpectrumMetrics:
    wl, density = emission_spectrum(peak_nm, fwhm_nm)
    energy = _HC_J_NM / wl
    power = energy * density  # W/nm per (photon/s)
    v = photopic_efficiency(wl)
    cie_x_val, cie_y_val = cie_xy(wl, power)
    power_total = float(np.trapezoid(power, wl))  # = mean photon energy, J (∫s = 1)
    lumens_per_photon = K_M_LM_PER_W * float(np.trapezoid(v * power, wl))
    wl.setflags(write=False)
    density.setflags(write=False)
    return SpectrumMetrics(
        peak_nm=peak_nm,
        fwhm_nm=fwhm_nm,
        cie_x=cie_x_val,
        cie_y=cie_y_val,
        luminous_efficacy_lm_W=lumens_per_photon / power_total,
        lumens_per_photon_per_s=lumens_per_photon,
        mean_photon_energy_J=power_total,
        mean_photon_energy_eV=power_total / constants.e,
        wavelength_nm=wl,
        photon_density_per_nm=density,
    )


def spectrum_metrics(peak_nm: float, fwhm_nm: float) -> SpectrumMetrics:
    """Build (and cache on (peak_nm, fwhm_nm)) the :class:`SpectrumMetrics` of a line.

    Uses :func:`emission_spectrum` on the default 360-830 nm, 0.5 nm grid. The returned
    arrays are read-only because the object is shared through the cache.
    """
    peak, fwhm = _check_peak_fwhm(peak_nm, fwhm_nm)
    return _spectrum_metrics_cached(peak, fwhm)


def luminance_cd_m2(
    photon_flux_m2_s: np.ndarray | float, lumens_per_photon_per_s: np.ndarray | float
) -> np.ndarray | float:
    """Luminance (cd/m^2) of a Lambertian emitter: L = Phi K / pi.

    ``photon_flux_m2_s`` is the out-coupled photon flux density Phi (photons m^-2 s^-1),
    ``lumens_per_photon_per_s`` is K (lm per photon/s). Phi K is the luminous exitance
    M (lm/m^2); a Lambertian surface has M = pi L (∫ cos θ dΩ over the hemisphere = pi sr),
    so L = M / pi. Broadcasts over numpy arrays; returns a float for scalar inputs.
    Raises ValueError for negative or non-finite inputs.
    """
    flux = np.asarray(photon_flux_m2_s, dtype=float)
    k = np.asarray(lumens_per_photon_per_s, dtype=float)
    if not np.all(np.isfinite(flux)) or np.any(flux < 0.0):
        raise ValueError("photon_flux_m2_s must be finite and in the range [0, inf)")
    if not np.all(np.isfinite(k)) or np.any(k < 0.0):
        raise ValueError("lumens_per_photon_per_s must be finite and in the range [0, inf)")
    lum = flux * k / np.pi
    return float(lum) if lum.ndim == 0 else lum


def cie_xy_colour_reference(peak_nm: float, fwhm_nm: float) -> tuple[float, float]:
    """Independent (x, y) reference computed entirely by colour-science.

    Samples the same spectral power E_ph(λ) s(λ) (same lineshape, :func:`emission_spectrum`)
    on the native 1 nm grid of the CIE 1931 2 degree CMFs, wraps it in a
    ``colour.SpectralDistribution`` and calls ``colour.sd_to_XYZ(..., method="Integration")``
    (equal-energy illuminant E, i.e. an emissive source; rectangular sum) followed by
    ``colour.XYZ_to_xy``. Building the distribution on the CMF grid avoids colour's
    "Aligning ..." runtime warning and its interpolation.
    """
    import colour

    peak, fwhm = _check_peak_fwhm(peak_nm, fwhm_nm)
    cmfs = colour.MSDS_CMFS[_CMFS_NAME]
    wl = np.array(cmfs.wavelengths, dtype=float)
    wl, density = emission_spectrum(peak, fwhm, wl)
    power = density * (_HC_J_NM / wl)
    sd = colour.SpectralDistribution(power, wl, name=f"Gaussian {peak:g} nm / {fwhm:g} nm")
    xyz = colour.sd_to_XYZ(sd, cmfs=cmfs, method="Integration")
    xy = colour.XYZ_to_xy(xyz)
    return float(xy[0]), float(xy[1])
