"""Data-consistency screen of reported LED figures (pure photometry, no simulation).

Three checks per row, each against :mod:`peled.photometry` (Gaussian-in-energy
lineshape of the reported EL peak and FWHM, CIE 1931 2 degree observer):

1. **Current efficiency implied by EQE_max.** A Lambertian emitter driven at current
   density J [A/m^2] with external quantum efficiency EQE [-] emits Phi = EQE J / q
   photons m^-2 s^-1 through its face; with K_ph [lm per photon/s] the lumens per photon
   of the spectrum its luminous exitance is M = Phi K_ph [lm/m^2] and its luminance
   L = M / pi [cd/m^2] (photometry.luminance_cd_m2). Hence

       CE = L / J = EQE K_ph / (q pi)      [cd/A],

   independent of J. For a 515 nm, 18 nm FWHM line K_ph = 1.5e-16 lm s and
   CE = 3.0 cd/A per % of EQE. The reported CE_max is flagged when it differs from the
   implied value by more than a factor :data:`CE_RATIO_LIMIT` = 1.5. Why 1.5: real
   thin-film LEDs are not exactly Lambertian (weak microcavities make the forward
   luminance 0.8-1.3x the Lambertian value); the real lineshape is not Gaussian (a few %
   in K_ph for green, up to ~30 % for deep red where V(lambda) falls by 2x per 10 nm, so a
   few nm of peak error matter); EQE_max and CE_max are often read at slightly different
   currents. Together these allow ~x1.5; a larger factor means one of the numbers (or the
   peak) is not from the same device and measurement.
2. **CIE implied by peak and FWHM.** Distance in (x, y) between the reported chromaticity
   and that of the Gaussian line; flagged above :data:`CIE_DISTANCE_LIMIT` = 0.03. Why
   0.03: the Gaussian-vs-real lineshape difference (asymmetric tails, a weak low-energy
   shoulder) moves (x, y) of a 15-35 nm wide line by <~0.01, and spectrometer
   calibration by ~0.005; 0.03 is three times that and about the size of the whole
   "green" region around (0.17, 0.75) that separates Rec. 2020 from DCI-P3 primaries.
3. **Emission energy vs the composition's band gap.** E_ph = h c / peak is compared with
   the band gap of the named composition from the materials database: a CsPbBr3 row with
   ``CsPbBr3-NC``; a mixed-halide row with the window between its two parent halides
   (CsPbCl3 is not in the database: its NC band gap 3.0 eV is used, Protesescu et al.,
   Nano Lett. 2015, 15, 3692, DOI 10.1021/nl5048779, emission 410 nm). Flagged when
   E_ph exceeds the (upper) gap by more than :data:`GAP_ABOVE_LIMIT_KT` = 3 kT (band-edge
   emission cannot lie more than a thermal tail above the gap; the database gaps are
   optical gaps of weakly confined NCs, so emission above them needs strong confinement
   or a composition the name does not state), or lies more than
   :data:`GAP_BELOW_LIMIT_EV` = 0.25 eV below the (lower) gap (NC Stokes shifts are
   20-100 meV; 0.25 eV below is defect or different-phase emission, or a wrong
   composition).

Rows are never dropped: the flags are reported in their own section.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from scipy import constants

from peled.materials import MaterialDatabase, default_database
from peled.photometry import luminance_cd_m2, photon_energy_J, spectrum_metrics

#: Allowed factor between reported and EQE-implied current efficiency [-].
CE_RATIO_LIMIT = 1.5
#: Allowed (x, y) distance between reported and lineshape-implied CIE [-].
CIE_DISTANCE_LIMIT = 0.03
#: Emission may exceed the composition's band gap by this many kT [-].
GAP_ABOVE_LIMIT_KT = 3.0
#: Emission may lie this far below the composition's band gap [eV].
GAP_BELOW_LIMIT_EV = 0.25
#: Band gap of CsPbCl3 nanocrystals [eV] (Protesescu et al., Nano Lett. 2015, 410 nm emission).
CSPBCL3_NC_BAND_GAP_EV = 3.0
#: FWHM [nm] used when a row does not report one (the database emitter's value is preferred).
FALLBACK_FWHM_NM = 20.0

#: Database material of each pure halide.
HALIDE_MATERIAL = {"Br": "CsPbBr3-NC", "I": "CsPbI3-NC", "Cl": None}
_HALIDE_RE = re.compile(r"Cl|Br|I(?![a-z])")


def implied_current_efficiency_cd_A(eqe_percent: float, peak_nm: float, fwhm_nm: float) -> float:
    """CE = EQE K_ph / (q pi) [cd/A] of a Lambertian emitter with a Gaussian line.

    ``eqe_percent`` in %, ``peak_nm`` and ``fwhm_nm`` of the EL line in nm. Computed as
    the luminance (cd/m^2) at J = 1 A/m^2, i.e. photon flux EQE / q [m^-2 s^-1].
    """
    k_ph = spectrum_metrics(float(peak_nm), float(fwhm_nm)).lumens_per_photon_per_s
    return float(luminance_cd_m2(eqe_percent / 100.0 / constants.e, k_ph))


def halides(composition: str) -> set[str]:
    """Halide elements named in a composition string ('CsPb(Cl/Br)3' -> {'Cl', 'Br'})."""
    return set(_HALIDE_RE.findall(composition or ""))


def composition_gap_window_eV(
    composition: str, db: MaterialDatabase | None = None
) -> tuple[float, float, str] | None:
    """(lowest, highest band gap [eV], basis text) for the halides a composition names.

    Pure halides use their database NC material; mixed halides span the window between
    their parents. None when no halide is recognised.
    """
    found = halides(composition)
    if not found:
        return None
    db = db or default_database()
    gaps, names = [], []
    for hal in sorted(found):
        name = HALIDE_MATERIAL[hal]
        if name is None:
            gaps.append(CSPBCL3_NC_BAND_GAP_EV)
            names.append(f"CsPbCl3 NC {CSPBCL3_NC_BAND_GAP_EV:.2f} eV (Protesescu 2015)")
        else:
            gap = float(db[name].band_gap_eV)
            gaps.append(gap)
            names.append(f"{name} {gap:.2f} eV (database)")
    return min(gaps), max(gaps), " to ".join(names)


@dataclass
class ScreenResult:
    """Outcome of the three checks for one row (None where a check could not be made)."""

    case_id: str
    composition: str | None
    fwhm_used_nm: float | None = None
    fwhm_note: str = ""
    ce_reported_cd_A: float | None = None
    ce_implied_cd_A: float | None = None
    ce_ratio: float | None = None  # reported / implied
    cie_reported: tuple[float, float] | None = None
    cie_implied: tuple[float, float] | None = None
    cie_distance: float | None = None
    photon_energy_eV: float | None = None
    gap_window_eV: tuple[float, float] | None = None
    gap_basis: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def screen_row(
    case_id: str,
    composition: str | None,
    eqe_max_percent: float | None,
    current_efficiency_max_cd_A: float | None,
    el_peak_nm: float | None,
    el_fwhm_nm: float | None,
    cie_x: float | None,
    cie_y: float | None,
    fallback_fwhm_nm: float | None = None,
    temperature_K: float = 300.0,
    db: MaterialDatabase | None = None,
) -> ScreenResult:
    """Run the three checks of the module docstring on one row of reported values."""
    out = ScreenResult(case_id=case_id, composition=composition)
    if el_peak_nm is None:
        out.flags.append("no EL peak reported: no photometric check possible")
        return out
    fwhm = el_fwhm_nm
    if fwhm is None:
        fwhm = fallback_fwhm_nm or FALLBACK_FWHM_NM
        out.fwhm_note = f"FWHM not reported; {fwhm:g} nm assumed (emitter material's value)"
    out.fwhm_used_nm = float(fwhm)
    metrics = spectrum_metrics(float(el_peak_nm), float(fwhm))

    if eqe_max_percent is not None and current_efficiency_max_cd_A is not None:
        implied = implied_current_efficiency_cd_A(eqe_max_percent, el_peak_nm, fwhm)
        out.ce_reported_cd_A = float(current_efficiency_max_cd_A)
        out.ce_implied_cd_A = implied
        out.ce_ratio = current_efficiency_max_cd_A / implied
        if not (1.0 / CE_RATIO_LIMIT <= out.ce_ratio <= CE_RATIO_LIMIT):
            out.flags.append(
                f"CE: reported {current_efficiency_max_cd_A:g} cd/A is x{out.ce_ratio:.2f} the "
                f"{implied:.3g} cd/A implied by EQE_max {eqe_max_percent:g} % for a Lambertian "
                f"{el_peak_nm:g} nm / {fwhm:g} nm line (limit x{CE_RATIO_LIMIT:g})"
            )

    if cie_x is not None and cie_y is not None:
        out.cie_reported = (float(cie_x), float(cie_y))
        out.cie_implied = (metrics.cie_x, metrics.cie_y)
        out.cie_distance = math.hypot(cie_x - metrics.cie_x, cie_y - metrics.cie_y)
        if out.cie_distance > CIE_DISTANCE_LIMIT:
            out.flags.append(
                f"CIE: reported ({cie_x:g}, {cie_y:g}) is {out.cie_distance:.3f} from the "
                f"({metrics.cie_x:.3f}, {metrics.cie_y:.3f}) of a {el_peak_nm:g} nm / "
                f"{fwhm:g} nm line (limit {CIE_DISTANCE_LIMIT:g})"
            )

    e_ph = photon_energy_J(float(el_peak_nm)) / constants.e
    out.photon_energy_eV = float(e_ph)
    window = composition_gap_window_eV(composition or "", db)
    if window is not None:
        low, high, basis = window
        out.gap_window_eV = (low, high)
        out.gap_basis = basis
        kt_eV = constants.k * temperature_K / constants.e
        if e_ph > high + GAP_ABOVE_LIMIT_KT * kt_eV:
            out.flags.append(
                f"band gap: emission at {el_peak_nm:g} nm ({e_ph:.2f} eV) lies "
                f"{e_ph - high:.2f} eV above the gap of {composition} ({basis}); "
                f"limit {GAP_ABOVE_LIMIT_KT:g} kT = {GAP_ABOVE_LIMIT_KT * kt_eV:.3f} eV: strong "
                "confinement or a composition the name does not state"
            )
        elif e_ph < low - GAP_BELOW_LIMIT_EV:
            out.flags.append(
                f"band gap: emission at {el_peak_nm:g} nm ({e_ph:.2f} eV) lies "
                f"{low - e_ph:.2f} eV below the gap of {composition} ({basis}); "
                f"limit {GAP_BELOW_LIMIT_EV:g} eV"
            )
    return out
