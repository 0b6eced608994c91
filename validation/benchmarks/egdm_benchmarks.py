"""Benchmarks of peled's disordered-organic transport against two published model studies.

Both are single-carrier (hole-only) sandwich devices of one Gaussian-disordered organic
layer between two metal contacts, simulated with the 1D drift-diffusion model with
Gauss-Fermi statistics (generalized Einstein relation) and the extended Gaussian
disorder model (EGDM) mobility:

1. **PRB 78** -- S. L. M. van Mensfoort and R. Coehoorn, "Effect of Gaussian disorder on
   the voltage dependence of the current density in sandwich-type devices based on
   organic semiconductors", Phys. Rev. B 78, 085207 (2008). eps_r 3, T 298 K, site density
   N0 4.25e26 m^-3, mu0(T) 1e-10 m^2/Vs, sigma/kT 3, 4, 5, 6, L 50, 100, 400 nm, no
   injection barrier (the contacts' Fermi level at the centre of the Gaussian DOS). Three
   models: full EGDM (Gauss-Fermi statistics + EGDM mobility), Gauss-Fermi statistics with
   a constant mobility mu0, and Boltzmann statistics with constant mu0 and D = mu0 kT/q.
2. **PRB 79** -- J. J. M. van der Holst, M. A. Uijttewaal, B. Ramachandhran, R. Coehoorn,
   P. A. Bobbert, G. A. de Wijs and R. A. de Groot, "Modeling and analysis of the
   three-dimensional current density in sandwich-type single-carrier devices of
   disordered organic semiconductors", Phys. Rev. B 79, 085203 (2009), 1D continuum
   model: site spacing a 1.6 nm (N0 = a^-3), eps_r 3, T 298 K, sigma 0.075 eV with mu0(T)
   4.8e-14 m^2/Vs and sigma 0.150 eV with mu0(T) 1.6e-16 m^2/Vs, L 22 and 102 nm,
   injection barrier Delta 0, 1/3, 2/3, 1 eV at both contacts, with and without image-force
   lowering; and J at 2 V against Delta for the 22 nm device.

The parameters follow the papers as reproduced by the open simulator oedes
(M. Z. Szymanski, github.com/mzszym/oedes, examples/egdm/unipolar-prb78.ipynb and
examples/egdm/image-force-prb79.ipynb). The write-up is docs/validation/egdm_benchmarks.md.

peled's device: one layer, HOMO at 5.0 eV below vacuum (electron affinity 2.0 eV, gap
3.0 eV: electrons are ~e^-58 below holes and carry no current), both work functions at
HOMO - Delta, the site density as the DOS of both bands, no recombination. Run as a script
(``python validation/benchmarks/egdm_benchmarks.py``) it writes
docs/figures/egdm_prb78.png, docs/figures/egdm_prb79.png and
docs/figures/egdm_benchmarks.csv; the functions are imported by
tests/test_egdm_benchmarks.py.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from scipy import constants

jax.config.update("jax_enable_x64", True)

from peled.core.discretize import build_arrays  # noqa: E402
from peled.core.newton import SolverSettings, solve_sweep  # noqa: E402
from peled.core.observables import sweep_observables  # noqa: E402
from peled.core.params import DeviceArrays, MeshSpec  # noqa: E402
from peled.model.contacts.image_force import barrier_lowering_V  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES = REPO_ROOT / "docs" / "figures"

TEMPERATURE_K = 298.0
THERMAL_VOLTAGE_V = constants.k * TEMPERATURE_K / constants.e  # kT/q = 25.68 mV
EPS_R = 3.0
HOMO_EV = 5.0  # hole transport level (centre of the Gaussian DOS) below vacuum [eV]
GAP_EV = 3.0  # electrons negligible
ELECTRON_MOBILITY_M2_VS = 1e-20  # electrons carry no current in any case
# no recombination: a single-carrier device (a finite lifetime, not inf: see the write-up)
NO_RECOMBINATION_S = 1e20
# sine-clustered, first spacing 1 % of the mean (docs/numerics/discretisation.md)
MESH = MeshSpec(64)
N_BIAS = 21  # biases per sweep: one length for every sweep, so one compile per model
DEFAULT_SETTINGS = SolverSettings()
# without the passes that revisit failed points: a smaller program that compiles in ~30 s
# instead of ~50 s (for quick checks of devices that converge on the forward pass)
LEAN_SETTINGS = SolverSettings(
    alternate_order_pass=False, backward_fill=False, near_null_deflation=False
)

# PRB 78 (van Mensfoort & Coehoorn 2008)
PRB78_SITE_DENSITY_M3 = 4.25e26
PRB78_MU0_M2_VS = 1e-10
PRB78_SIGMA_OVER_KT = (3.0, 4.0, 5.0, 6.0)
PRB78_THICKNESS_NM = (50.0, 100.0, 400.0)
PRB78_MODELS = ("egdm", "gauss_fermi_constant_mu", "boltzmann_constant_mu")
# 0.01-10 V at 6 per decade (10 V on the grid), then 14.7 and 20 V (the oedes range)
PRB78_VOLTAGES_V = np.concatenate([np.logspace(-2.0, 1.0, 19), [10 ** (7 / 6), 20.0]])

# PRB 79 (van der Holst et al. 2009)
PRB79_SITE_SPACING_M = 1.6e-9
PRB79_SITE_DENSITY_M3 = PRB79_SITE_SPACING_M**-3
PRB79_DISORDER = ((0.075, 4.8e-14), (0.150, 1.6e-16))  # (sigma [eV], mu0(T) [m^2/Vs])
PRB79_THICKNESS_NM = (22.0, 102.0)
PRB79_BARRIERS_EV = tuple(float(b) for b in np.linspace(0.0, 1.0, 4))  # 0, 1/3, 2/3, 1
PRB79_MAX_BIAS_V = {22.0: 2.5, 102.0: 10.0}  # J-V from max/100 to max (oedes' figiv)
PRB79_SCAN_BIAS_V = 2.0
PRB79_SCAN_THICKNESS_NM = 22.0
PRB79_SCAN_BARRIERS_EV = tuple(
    sorted(set(np.round(np.linspace(0.0, 1.5, 31), 12)) | {1.0 / 3.0, 2.0 / 3.0})
)
PRB79_SHIFT_BARRIERS_EV = (2.0 / 3.0, 1.0)  # where the image-force shift is measured

CSV_COLUMNS = (
    "set",
    "model",
    "sigma_over_kT",
    "sigma_eV",
    "thickness_nm",
    "barrier_eV",
    "image_force",
    "voltage_V",
    "current_density_A_m2",
    "converged",
)


@dataclass(frozen=True)
class Case:
    """One hole-only device: model, disorder, thickness, barrier and image force."""

    set: str
    model: str  # one of PRB78_MODELS
    sigma_eV: float
    mu0_m2_Vs: float
    site_density_m3: float
    thickness_nm: float
    barrier_eV: float = 0.0
    image_force: bool = False

    @property
    def sigma_over_kT(self) -> float:
        return self.sigma_eV / THERMAL_VOLTAGE_V

    def label(self) -> str:
        bits = [
            f"[{self.set}] {self.model}",
            f"sigma={self.sigma_eV:.4f} eV (sigma/kT={self.sigma_over_kT:.2f})",
            f"L={self.thickness_nm:g} nm",
        ]
        if self.set != "PRB78":
            bits.append(f"Delta={self.barrier_eV:.3f} eV")
            bits.append(f"image force {'on' if self.image_force else 'off'}")
        return ", ".join(bits)


def hole_only_layer(case: Case) -> dict:
    """The layer dict of :func:`peled.core.discretize.build_arrays` for ``case``."""
    gaussian = case.model in ("egdm", "gauss_fermi_constant_mu")
    statistics = "gauss_fermi" if gaussian else "occupancy"  # occupancy gamma 0: Boltzmann
    sigma = case.sigma_eV if gaussian else 0.0
    return {
        "thickness_m": case.thickness_nm * 1e-9,
        "electron_affinity_eV": HOMO_EV - GAP_EV,
        "band_gap_eV": GAP_EV,
        "relative_permittivity": EPS_R,
        "conduction_band_dos_m3": case.site_density_m3,
        "valence_band_dos_m3": case.site_density_m3,
        "electron_mobility_m2_Vs": ELECTRON_MOBILITY_M2_VS,
        "hole_mobility_m2_Vs": case.mu0_m2_Vs,
        "srh_lifetime_electron_s": NO_RECOMBINATION_S,
        "srh_lifetime_hole_s": NO_RECOMBINATION_S,
        "electron_statistics": statistics,
        "hole_statistics": statistics,
        "electron_disorder_eV": sigma,
        "hole_disorder_eV": sigma,
        "hole_mobility_model": "egdm" if case.model == "egdm" else "constant",
    }


def device(case: Case, mesh: MeshSpec = MESH) -> DeviceArrays:
    """DeviceArrays of ``case``: both work functions at HOMO - Delta (the same barrier
    Delta at both contacts, no built-in voltage), image force at both contacts or none."""
    work_function = HOMO_EV - case.barrier_eV
    return build_arrays(
        [hole_only_layer(case)],
        work_function,
        work_function,
        temperature_K=TEMPERATURE_K,
        mesh=mesh,
        image_force=(case.image_force, case.image_force),
    )


def current_density(
    arrays: DeviceArrays,
    voltages_V: Sequence[float],
    settings: SolverSettings = DEFAULT_SETTINGS,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """J [A/m^2] and converged flags at ``voltages_V`` (ascending, > 0), one sweep from 0 V
    with the solver ``settings`` (default: peled's).

    If some bias fails, the sweep is repeated once on a grid 4x finer in log V (starting
    at V[0]/4), and the requested biases are read from it; the third value says whether
    that refinement was used. Failed points stay flagged (never dropped).
    """
    v = np.asarray(voltages_V, float)
    st = solve_sweep(arrays, jnp.asarray(v), settings)
    ok = np.asarray(st.converged)
    j = np.asarray(sweep_observables(st.u, arrays, jnp.zeros(1)).current_density_A_m2)
    if ok.all():
        return j, ok, False
    logv = np.log(v)
    fine = np.exp(np.interp(np.arange(4 * len(v)) / 4.0, np.arange(len(v)), logv))
    fine = np.concatenate([[v[0] / 4.0, v[0] / 2.0], fine[: 4 * (len(v) - 1) + 1]])
    st = solve_sweep(arrays, jnp.asarray(fine), settings)
    ok_f = np.asarray(st.converged)
    j_f = np.asarray(sweep_observables(st.u, arrays, jnp.zeros(1)).current_density_A_m2)
    idx = [int(np.argmin(np.abs(fine - x))) for x in v]
    return j_f[idx], ok_f[idx], True


def mott_gurney_A_m2(voltage_V, thickness_m, mu0_m2_Vs, eps_r: float = EPS_R):
    """J_MG = 9/8 eps0 eps_r mu0 V^2 / L^3 [A/m^2] (N. F. Mott and R. W. Gurney, Electronic
    Processes in Ionic Crystals, 1940)."""
    v = np.asarray(voltage_V, float)
    return 9.0 / 8.0 * constants.epsilon_0 * eps_r * mu0_m2_Vs * v**2 / thickness_m**3


def run_case(
    case: Case, voltages_V: Sequence[float], log: Callable[[str], None] | None = print
) -> list[dict]:
    """Solve one case; CSV rows (dicts with CSV_COLUMNS); one progress line to ``log``."""
    t0 = time.perf_counter()
    j, ok, refined = current_density(device(case), voltages_V)
    rows = [
        {
            "set": case.set,
            "model": case.model,
            "sigma_over_kT": case.sigma_over_kT,
            "sigma_eV": case.sigma_eV,
            "thickness_nm": case.thickness_nm,
            "barrier_eV": case.barrier_eV,
            "image_force": case.image_force,
            "voltage_V": float(v),
            "current_density_A_m2": float(x),
            "converged": bool(c),
        }
        for v, x, c in zip(voltages_V, j, ok, strict=True)
    ]
    if log is not None:
        k = len(voltages_V) - 1
        extra = " (refined bias grid)" if refined else ""
        log(
            f"{case.label()}: {int(ok.sum())}/{len(ok)} converged{extra}, "
            f"J({voltages_V[k]:.3g} V) = {j[k]:.4g} A/m^2, {time.perf_counter() - t0:.1f} s"
        )
    return rows


def prb78_case(model: str, sigma_over_kT: float, thickness_nm: float) -> Case:
    return Case(
        "PRB78",
        model,
        sigma_over_kT * THERMAL_VOLTAGE_V,
        PRB78_MU0_M2_VS,
        PRB78_SITE_DENSITY_M3,
        thickness_nm,
    )


def prb79_case(
    sigma_eV: float, mu0: float, thickness_nm: float, barrier_eV: float, image_force: bool,
    set_name: str = "PRB79",
) -> Case:
    return Case(
        set_name, "egdm", sigma_eV, mu0, PRB79_SITE_DENSITY_M3, thickness_nm, barrier_eV,
        image_force,
    )


def run_prb78(
    sigmas=PRB78_SIGMA_OVER_KT,
    thicknesses=PRB78_THICKNESS_NM,
    models=PRB78_MODELS,
    voltages_V=PRB78_VOLTAGES_V,
    log: Callable[[str], None] | None = print,
) -> list[dict]:
    """All PRB 78 cases. Boltzmann with constant mu does not depend on sigma: it is run
    once per thickness and recorded with sigma/kT = 0."""
    rows: list[dict] = []
    for model in models:
        for thickness in thicknesses:
            for s in (0.0,) if model == "boltzmann_constant_mu" else sigmas:
                rows += run_case(prb78_case(model, s, thickness), voltages_V, log)
    return rows


def prb79_voltages(thickness_nm: float) -> np.ndarray:
    vmax = PRB79_MAX_BIAS_V[thickness_nm]
    return np.logspace(math.log10(vmax) - 2.0, math.log10(vmax), N_BIAS)


def scan_voltages(bias_V: float = PRB79_SCAN_BIAS_V) -> np.ndarray:
    return np.logspace(math.log10(bias_V) - 2.0, math.log10(bias_V), N_BIAS)


def run_prb79_iv(
    disorder=PRB79_DISORDER,
    thicknesses=PRB79_THICKNESS_NM,
    barriers=PRB79_BARRIERS_EV,
    image_forces=(False, True),
    log: Callable[[str], None] | None = print,
) -> list[dict]:
    """J-V curves of PRB 79 (oedes' figiv), with and without image force."""
    rows: list[dict] = []
    for image in image_forces:
        for sigma, mu0 in disorder:
            for thickness in thicknesses:
                for barrier in barriers:
                    case = prb79_case(sigma, mu0, thickness, barrier, image)
                    rows += run_case(case, prb79_voltages(thickness), log)
    return rows


def run_prb79_scan(
    disorder=PRB79_DISORDER,
    barriers=PRB79_SCAN_BARRIERS_EV,
    image_forces=(False, True),
    thickness_nm: float = PRB79_SCAN_THICKNESS_NM,
    bias_V: float = PRB79_SCAN_BIAS_V,
    log: Callable[[str], None] | None = print,
) -> list[dict]:
    """J at ``bias_V`` against the barrier (oedes' figib): only the row at ``bias_V`` of
    each sweep is kept, set "PRB79_scan"."""
    rows: list[dict] = []
    for image in image_forces:
        for sigma, mu0 in disorder:
            for barrier in barriers:
                case = prb79_case(sigma, mu0, thickness_nm, barrier, image, "PRB79_scan")
                rows.append(run_case(case, scan_voltages(bias_V), log)[-1])
    return rows


def barrier_shift_eV(
    barriers, j_with, j_without, at_barriers=PRB79_SHIFT_BARRIERS_EV
) -> np.ndarray:
    """The barrier shift s that maps J with image force onto J without it:
    J_without(Delta - s) = J_with(Delta) at each Delta of ``at_barriers`` (log J
    interpolated linearly in Delta; J without image force falls monotonically)."""
    b = np.asarray(barriers, float)
    lw = np.log(np.asarray(j_with, float))
    lo = np.log(np.asarray(j_without, float))
    order = np.argsort(b)
    b, lw, lo = b[order], lw[order], lo[order]
    out = []
    for delta in at_barriers:
        target = np.interp(delta, b, lw)
        # lo decreases with b: interpolate b as a function of -lo (increasing)
        equivalent = np.interp(-target, -lo, b)
        out.append(delta - equivalent)
    return np.asarray(out)


def schottky_lowering_eV(field_V_m, eps_r: float = EPS_R):
    """sqrt(q F / (4 pi eps0 eps_r)) [eV] (Emtage-O'Dwyer / Schottky)."""
    return np.sqrt(constants.e * np.asarray(field_V_m) / (4 * np.pi * constants.epsilon_0 * eps_r))


def lattice_lowering_eV(field_V_m, site_spacing_m: float, eps_r: float = EPS_R):
    """The barrier lowering of peled's image-force landscape in a uniform field F, with
    the first site (the contact node) at the site spacing a from the electrode's surface:
    sqrt(qF/(4 pi eps)) where the Schottky maximum lies beyond a, else U(a) + F a
    (peled.model.contacts.image_force.barrier_lowering_V)."""
    return np.asarray(barrier_lowering_V(np.asarray(field_V_m, float), eps_r, site_spacing_m))


# ----------------------------------------------------------------------------- summaries


def _select(rows, **match):
    return [r for r in rows if all(r[k] == v for k, v in match.items())]


def _curve(rows, **match):
    sel = sorted(_select(rows, **match), key=lambda r: r["voltage_V"])
    v = np.array([r["voltage_V"] for r in sel])
    j = np.array([r["current_density_A_m2"] for r in sel])
    ok = np.array([r["converged"] for r in sel], bool)
    return v, j, ok


def j_over_mott_gurney(rows, model, sigma_over_kT, thickness_nm, voltage_V=10.0) -> float:
    """J/J_MG of a PRB 78 curve at ``voltage_V`` (a bias on the grid)."""
    sel = [
        r
        for r in _select(rows, set="PRB78", model=model, thickness_nm=thickness_nm)
        if abs(r["sigma_over_kT"] - sigma_over_kT) < 1e-9 and abs(r["voltage_V"] - voltage_V) < 1e-9
    ]
    (r,) = sel
    jmg = mott_gurney_A_m2(voltage_V, thickness_nm * 1e-9, PRB78_MU0_M2_VS)
    return r["current_density_A_m2"] / float(jmg)


def scan_shifts(rows, sigma_eV) -> np.ndarray:
    """Image-force barrier shift [eV] at PRB79_SHIFT_BARRIERS_EV from the barrier scan."""
    out = {}
    for image in (True, False):
        sel = sorted(
            [
                r
                for r in _select(rows, set="PRB79_scan", image_force=image)
                if abs(r["sigma_eV"] - sigma_eV) < 1e-12
            ],
            key=lambda r: r["barrier_eV"],
        )
        out[image] = (
            np.array([r["barrier_eV"] for r in sel]),
            np.array([r["current_density_A_m2"] for r in sel]),
        )
    return barrier_shift_eV(out[True][0], out[True][1], out[False][1])


def summarize(rows, log: Callable[[str], None] = print) -> None:
    """The numbers quoted in docs/validation/egdm_benchmarks.md."""
    if _select(rows, set="PRB78"):
        log("PRB78: J/J_MG at 10 V (J_MG = 9/8 eps mu0 V^2/L^3, mu0 = 1e-10 m^2/Vs)")
        for thickness in PRB78_THICKNESS_NM:
            for model in PRB78_MODELS:
                sig = (0.0,) if model == "boltzmann_constant_mu" else PRB78_SIGMA_OVER_KT
                vals = [j_over_mott_gurney(rows, model, s, thickness) for s in sig]
                log(
                    f"  L={thickness:g} nm {model:24s} "
                    + " ".join(f"{s:g}:{x:.4g}" for s, x in zip(sig, vals, strict=True))
                )
        log("PRB78: J/J_MG at 20 V")
        for thickness in PRB78_THICKNESS_NM:
            for model in PRB78_MODELS:
                sig = (0.0,) if model == "boltzmann_constant_mu" else PRB78_SIGMA_OVER_KT
                vals = [j_over_mott_gurney(rows, model, s, thickness, 20.0) for s in sig]
                log(
                    f"  L={thickness:g} nm {model:24s} "
                    + " ".join(f"{s:g}:{x:.4g}" for s, x in zip(sig, vals, strict=True))
                )
    if _select(rows, set="PRB79_scan"):
        field = PRB79_SCAN_BIAS_V / (PRB79_SCAN_THICKNESS_NM * 1e-9)
        log(
            f"PRB79: image-force barrier shift at {PRB79_SCAN_BIAS_V:g} V, "
            f"L = {PRB79_SCAN_THICKNESS_NM:g} nm (F = V/L = {field:.3g} V/m; Schottky "
            f"sqrt(qF/4 pi eps) = {float(schottky_lowering_eV(field)):.3f} eV, first-site "
            f"lattice lowering U(a) + F a = "
            f"{float(lattice_lowering_eV(field, PRB79_SITE_SPACING_M)):.3f} eV)"
        )
        for sigma, _ in PRB79_DISORDER:
            s = scan_shifts(rows, sigma)
            log(
                f"  sigma={sigma:.3f} eV: "
                + " ".join(
                    f"Delta={d:.3f} eV -> {x:.3f} eV"
                    for d, x in zip(PRB79_SHIFT_BARRIERS_EV, s, strict=True)
                )
            )
    if _select(rows, set="PRB79"):
        log("PRB79: J(with)/J(without image force) -> kT ln(ratio) [eV] at Delta = 1 eV")
        for sigma, _ in PRB79_DISORDER:
            for thickness in PRB79_THICKNESS_NM:
                v, jw, _ = _curve(
                    [r for r in rows if abs(r["sigma_eV"] - sigma) < 1e-12],
                    set="PRB79", thickness_nm=thickness, barrier_eV=1.0, image_force=True,
                )
                _, jo, _ = _curve(
                    [r for r in rows if abs(r["sigma_eV"] - sigma) < 1e-12],
                    set="PRB79", thickness_nm=thickness, barrier_eV=1.0, image_force=False,
                )
                pick = [0, len(v) // 2, len(v) - 1]
                log(
                    f"  sigma={sigma:.3f} eV L={thickness:g} nm: "
                    + " ".join(
                        f"{v[i]:.3g} V: {THERMAL_VOLTAGE_V * math.log(jw[i] / jo[i]):.3f}"
                        for i in pick
                    )
                )
    bad = [r for r in rows if not r["converged"]]
    log(f"not converged: {len(bad)} of {len(rows)} points")
    for r in bad:
        log(
            f"  {r['set']} {r['model']} sigma={r['sigma_eV']:.4f} L={r['thickness_nm']:g} "
            f"Delta={r['barrier_eV']:.3f} IF={r['image_force']} V={r['voltage_V']:.4g}"
        )


# ----------------------------------------------------------------------------- output


def write_csv(rows, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in rows:
            out = dict(r)
            for k in ("sigma_over_kT", "sigma_eV", "barrier_eV", "thickness_nm"):
                out[k] = f"{r[k]:.6g}"
            out["voltage_V"] = f"{r['voltage_V']:.6g}"
            out["current_density_A_m2"] = f"{r['current_density_A_m2']:.6e}"
            w.writerow(out)


def _masked(j, ok):
    return np.where(ok, j, np.nan)


def _finish(fig, handles, title: str, path: Path) -> None:
    """The shared legend below the panels, the title, and the PNG at ``path``."""
    import matplotlib.pyplot as plt

    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False, fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_prb78(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colors = dict(zip(PRB78_SIGMA_OVER_KT, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a"),
                      strict=True))
    styles = {"egdm": "-", "gauss_fermi_constant_mu": "--"}
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8.2), sharex=True)
    for col, thickness in enumerate(PRB78_THICKNESS_NM):
        ax_j, ax_r = axes[0, col], axes[1, col]
        length = thickness * 1e-9
        for model, ls in styles.items():
            for s in PRB78_SIGMA_OVER_KT:
                v, j, ok = _curve(
                    [r for r in rows if abs(r["sigma_over_kT"] - s) < 1e-9],
                    set="PRB78", model=model, thickness_nm=thickness,
                )
                if len(v) == 0:
                    continue
                jm = _masked(j, ok)
                ax_j.plot(v, jm, ls, color=colors[s], lw=1.6)
                ax_r.plot(v, jm / mott_gurney_A_m2(v, length, PRB78_MU0_M2_VS), ls,
                          color=colors[s], lw=1.6)
        v, j, ok = _curve(rows, set="PRB78", model="boltzmann_constant_mu", thickness_nm=thickness)
        if len(v):
            jm = _masked(j, ok)
            ax_j.plot(v, jm, ":", color="black", lw=2.0)
            ax_r.plot(v, jm / mott_gurney_A_m2(v, length, PRB78_MU0_M2_VS), ":", color="black",
                      lw=2.0)
        vv = np.asarray(PRB78_VOLTAGES_V)
        ax_j.plot(vv, mott_gurney_A_m2(vv, length, PRB78_MU0_M2_VS), color="0.6", lw=1.0)
        ax_r.axhline(1.0, color="0.6", lw=1.0)
        for ax in (ax_j, ax_r):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xlim(vv[0], vv[-1])
        ax_j.set_title(f"L = {thickness:g} nm")
        ax_r.set_xlabel("V [V]")
    axes[0, 0].set_ylabel(r"J [A/m$^2$]")
    axes[1, 0].set_ylabel(r"J / J$_{MG}$  (J$_{MG}$ = 9/8 $\varepsilon\mu_0$V$^2$/L$^3$)")
    handles = [Line2D([], [], color=colors[s], lw=2, label=rf"$\sigma/kT$ = {s:g}")
               for s in PRB78_SIGMA_OVER_KT]
    handles += [
        Line2D([], [], color="k", ls="-", label=r"EGDM: Gauss-Fermi + $\mu$(T, c, F)"),
        Line2D([], [], color="k", ls="--", label=r"Gauss-Fermi, constant $\mu_0$"),
        Line2D([], [], color="k", ls=":", lw=2, label=r"Boltzmann, constant $\mu_0$, D"),
        Line2D([], [], color="0.6", label="Mott-Gurney"),
    ]
    _finish(
        fig,
        handles,
        "Hole-only devices, van Mensfoort & Coehoorn PRB 78, 085207 (2008) set-up: "
        r"N$_0$ = 4.25e26 m$^{-3}$, $\mu_0$ = 1e-10 m$^2$/Vs, $\varepsilon_r$ = 3, T = 298 K, "
        "no injection barrier (peled)",
        path,
    )


def plot_prb79(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    colors = dict(zip(PRB79_BARRIERS_EV, ("#1b9e77", "#d95f02", "#7570b3", "#e7298a"),
                      strict=True))
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8.4))
    for row, (sigma, mu0) in enumerate(PRB79_DISORDER):
        sub = [r for r in rows if abs(r["sigma_eV"] - sigma) < 1e-12]
        for col, thickness in enumerate((102.0, 22.0)):
            ax = axes[row, col]
            for barrier in PRB79_BARRIERS_EV:
                for image, ls in ((True, "-"), (False, "--")):
                    v, j, ok = _curve(sub, set="PRB79", thickness_nm=thickness,
                                      barrier_eV=barrier, image_force=image)
                    if len(v):
                        ax.plot(v, _masked(j, ok), ls, color=colors[barrier], lw=1.6)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.set_xlabel("V [V]")
            ax.set_ylabel(r"J [A/m$^2$]")
            ax.set_title(
                rf"L = {thickness:g} nm, $\sigma$ = {sigma:.3f} eV, $\mu_0$ = {mu0:.2g} m$^2$/Vs",
                fontsize=10,
            )
        ax = axes[row, 2]
        curves = {}
        for image, ls in ((True, "-"), (False, "--")):
            sel = sorted(_select(sub, set="PRB79_scan", image_force=image),
                         key=lambda r: r["barrier_eV"])
            if not sel:
                continue
            b = np.array([r["barrier_eV"] for r in sel])
            j = _masked(np.array([r["current_density_A_m2"] for r in sel]),
                        np.array([r["converged"] for r in sel], bool))
            curves[image] = (b, j)
            ax.plot(b, j, ls, color="black", lw=1.6)
        if len(curves) == 2:
            shift = float(np.mean(barrier_shift_eV(curves[True][0], curves[True][1],
                                                   curves[False][1])))
            b, j = curves[False]
            ax.plot(b + shift, j, ":", color="tab:red", lw=2.0)
            field = PRB79_SCAN_BIAS_V / (PRB79_SCAN_THICKNESS_NM * 1e-9)
            ax.plot(b + float(schottky_lowering_eV(field)), j, "-.", color="tab:blue", lw=1.2)
            ax.text(0.97, 0.95, f"shift {shift:.3f} eV", transform=ax.transAxes, ha="right",
                    va="top", color="tab:red", fontsize=10)
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel(r"injection barrier $\Delta$ [eV]")
        ax.set_ylabel(rf"J at {PRB79_SCAN_BIAS_V:g} V [A/m$^2$]")
        ax.set_title(rf"L = {PRB79_SCAN_THICKNESS_NM:g} nm, $\sigma$ = {sigma:.3f} eV, "
                     rf"V = {PRB79_SCAN_BIAS_V:g} V", fontsize=10)
    handles = [Line2D([], [], color=colors[b], lw=2, label=rf"$\Delta$ = {b:.2f} eV")
               for b in PRB79_BARRIERS_EV]
    handles += [
        Line2D([], [], color="k", ls="-", label="with image force"),
        Line2D([], [], color="k", ls="--", label="without image force"),
        Line2D([], [], color="tab:red", ls=":", lw=2,
               label="without, shifted by the fitted barrier shift"),
        Line2D([], [], color="tab:blue", ls="-.", lw=1.2,
               label=r"without, shifted by Schottky $\sqrt{qF/4\pi\varepsilon}$, F = V/L"),
    ]
    _finish(
        fig,
        handles,
        "Hole-only EGDM devices, van der Holst et al. PRB 79, 085203 (2009) set-up: a = 1.6 nm "
        r"(N$_0$ = a$^{-3}$), $\varepsilon_r$ = 3, T = 298 K, barrier $\Delta$ at both contacts "
        "(peled)",
        path,
    )


def read_csv(path: Path) -> list[dict]:
    """Rows written by :func:`write_csv`, typed as :func:`run_case` returns them."""
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            out: dict = dict(r)
            for k in ("sigma_over_kT", "sigma_eV", "thickness_nm", "barrier_eV", "voltage_V",
                      "current_density_A_m2"):
                out[k] = float(r[k])
            for k in ("image_force", "converged"):
                out[k] = r[k] == "True"
            # barriers of 1/3 and 2/3 eV are stored to 6 digits
            for b in PRB79_SCAN_BARRIERS_EV:
                if abs(out["barrier_eV"] - b) < 1e-6:
                    out["barrier_eV"] = b
            rows.append(out)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python egdm_benchmarks.py [prb78] [prb79]`` runs the sets (both by default);
    ``--from-csv`` only redraws the figures and the summary from the stored CSV."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--from-csv" in argv:
        rows = read_csv(FIGURES / "egdm_benchmarks.csv")
        plot_prb78(rows, FIGURES / "egdm_prb78.png")
        plot_prb79(rows, FIGURES / "egdm_prb79.png")
        summarize(rows)
        return 0
    which = set(argv) or {"prb78", "prb79"}
    t0 = time.perf_counter()
    # a run of one set keeps the stored rows of the other
    stored = FIGURES / "egdm_benchmarks.csv"
    keep = set() if not stored.exists() else {"prb78", "prb79"} - which
    rows: list[dict] = [
        r for r in (read_csv(stored) if keep else [])
        if r["set"].lower().split("_")[0] in keep
    ]
    if "prb78" in which:
        rows += run_prb78()
        plot_prb78(rows, FIGURES / "egdm_prb78.png")
    if "prb79" in which:
        rows += run_prb79_iv()
        rows += run_prb79_scan()
        plot_prb79(rows, FIGURES / "egdm_prb79.png")
    write_csv(rows, FIGURES / "egdm_benchmarks.csv")
    summarize(rows)
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
