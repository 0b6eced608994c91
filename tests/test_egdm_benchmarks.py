"""The published trends of two disordered-organic single-carrier benchmarks, on reduced
versions of validation/benchmarks/egdm_benchmarks.py (docs/validation/egdm_benchmarks.md):

* van Mensfoort & Coehoorn, PRB 78, 085207 (2008): hole-only, no injection barrier; J
  relative to Mott-Gurney grows with sigma/kT and as L shrinks, and full EGDM > Gauss-Fermi
  with constant mu > Boltzmann with constant mu and D;
* van der Holst et al., PRB 79, 085203 (2009): image-force lowering of the injection
  barrier of a 22 nm device at 2 V.

The fast test checks the Boltzmann constant-mobility device against Mott-Gurney.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "validation" / "benchmarks" / "egdm_benchmarks.py"


def _load():
    name = "egdm_benchmarks"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


bm = _load()


def test_boltzmann_constant_mobility_approaches_mott_gurney():
    """Ohmic contacts (p = N0 at both), constant mu and D, L = 100 nm: at V/V_t >= 300 the
    current lies above Mott-Gurney by the diffusion correction, 1 < J/J_MG < 1.3, and
    the ratio falls toward 1 as V grows (measured on the 64-node mesh: 1.47 at V/V_t =
    100, 1.24 at 300, 1.12 at 800; 128 nodes give 1.5 % less)."""
    case = bm.prb78_case("boltzmann_constant_mu", 0.0, 100.0)
    vt = bm.THERMAL_VOLTAGE_V
    volts = vt * np.array([4.0, 30.0, 100.0, 300.0, 500.0, 800.0])
    # the lean solver settings (no retry passes) keep the compile within the fast budget
    j, ok, _ = bm.current_density(bm.device(case), volts, bm.LEAN_SETTINGS)
    assert ok.all()
    ratio = j / bm.mott_gurney_A_m2(volts, 100e-9, bm.PRB78_MU0_M2_VS)
    print("V/V_t", volts / vt, "J/J_MG", ratio)
    assert np.all(np.diff(ratio) < 0.0)
    high = volts / vt >= 300.0
    assert np.all((ratio[high] > 1.0) & (ratio[high] < 1.3))


@pytest.fixture(scope="module")
def prb78_reduced():
    """EGDM and Gauss-Fermi constant-mu at sigma/kT 3 and 6, Boltzmann, L = 100 nm; EGDM at
    sigma/kT 6 also at L = 50 nm. Returns {(model, sigma/kT, L): J/J_MG at (10 V, 20 V)}."""
    cases = [
        (m, s, 100.0) for m in ("egdm", "gauss_fermi_constant_mu") for s in (3.0, 6.0)
    ] + [("boltzmann_constant_mu", 0.0, 100.0), ("egdm", 6.0, 50.0)]
    out = {}
    for model, s, length in cases:
        rows = bm.run_case(bm.prb78_case(model, s, length), bm.PRB78_VOLTAGES_V, log=None)
        assert all(r["converged"] for r in rows), (model, s, length)
        out[(model, s, length)] = tuple(
            bm.j_over_mott_gurney(rows, model, s, length, v) for v in (10.0, 20.0)
        )
    print(out)
    return out


@pytest.mark.slow
def test_prb78_disorder_raises_current_over_mott_gurney(prb78_reduced):
    """Full EGDM, L = 100 nm, 10 V: J/J_MG at sigma/kT = 6 exceeds that at 3 by a factor
    between 80 and 320 (measured 161: 3.97 at 3, 638 at 6), and with constant mu the
    Gauss-Fermi diffusion enhancement alone raises it by 5-20 % (measured 1.086: 1.240 at 3,
    1.347 at 6)."""
    r = prb78_reduced
    egdm = r[("egdm", 6.0, 100.0)][0] / r[("egdm", 3.0, 100.0)][0]
    gf_model = "gauss_fermi_constant_mu"
    gf = r[(gf_model, 6.0, 100.0)][0] / r[(gf_model, 3.0, 100.0)][0]
    print(f"EGDM ratio 6/3: {egdm:.4g}, Gauss-Fermi constant mu ratio 6/3: {gf:.4g}")
    assert 80.0 < egdm < 320.0
    assert 1.05 < gf < 1.2


@pytest.mark.slow
def test_prb78_model_order_and_thickness_trend(prb78_reduced):
    """At 10 and 20 V: EGDM > Gauss-Fermi with constant mu > Boltzmann for sigma/kT 3 and
    6 (L = 100 nm), and J/J_MG of EGDM at sigma/kT 6 grows as L shrinks: more than 3x from
    100 to 50 nm (measured 38x at 10 V, 22x at 20 V)."""
    r = prb78_reduced
    boltzmann = r[("boltzmann_constant_mu", 0.0, 100.0)]
    for s in (3.0, 6.0):
        for k in range(2):
            assert r[("egdm", s, 100.0)][k] > r[("gauss_fermi_constant_mu", s, 100.0)][k]
            assert r[("gauss_fermi_constant_mu", s, 100.0)][k] > boltzmann[k]
    for k in range(2):
        assert r[("egdm", 6.0, 50.0)][k] > 3.0 * r[("egdm", 6.0, 100.0)][k]


@pytest.fixture(scope="module")
def image_force_shift():
    """The barrier shift [eV] that maps J at 2 V with image force onto J without it, 22 nm,
    sigma 0.075 eV, at Delta = 2/3 and 1 eV (the curve without image force on 0.3-1 eV)."""
    sigma, mu0 = bm.PRB79_DISORDER[0]
    without = (1.0 / 3.0, 0.5, 2.0 / 3.0, 0.8, 1.0)
    with_if = (2.0 / 3.0, 1.0)
    j = {}
    for image, barriers in ((False, without), (True, with_if)):
        rows = bm.run_prb79_scan([(sigma, mu0)], barriers, (image,), log=None)
        assert all(r["converged"] for r in rows)
        j[image] = np.array([r["current_density_A_m2"] for r in rows])
    # the barrier without image force that carries J with image force: log J falls
    # monotonically with Delta, so Delta is interpolated against -log J
    equivalent = np.interp(-np.log(j[True]), -np.log(j[False]), without)
    shift = np.asarray(with_if) - equivalent
    print("shift [eV] at Delta = 2/3, 1:", shift)
    return shift


@pytest.mark.slow
def test_image_force_shift_is_the_lattice_lowering(image_force_shift):
    """peled's first site lies a = 1.6 nm from the electrode's surface, where the
    electrode's potential holds; at F = 2 V / (22 nm + 2a) the Schottky maximum
    sqrt(q/(16 pi eps F)) = 1.2 nm lies inside a, so the barrier top is the first site,
    lowered by U(a) + F a = 0.202 eV (peled.model.contacts.image_force.barrier_lowering_V).
    The current's barrier shift lies a little below it (measured 0.185 eV at Delta = 2/3
    and 1 eV), as the diffusion-limited injection prefactor falls with the barrier's
    curvature (docs/validation/egdm_benchmarks.md): within 0.03 eV below the bound."""
    field = 2.0 / (22e-9 + 2 * bm.PRB79_SITE_SPACING_M)
    bound = float(bm.lattice_lowering_eV(field, bm.PRB79_SITE_SPACING_M))
    assert math.isclose(bound, 0.202, abs_tol=0.002)
    assert np.all((image_force_shift < bound + 0.005) & (image_force_shift > bound - 0.03))


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason=(
        "published ~0.3 eV (PRB 79 as oedes' figib reproduces it); peled's current shift "
        "is 0.185 eV, below its lattice bound U(a) + F a = 0.20 eV and the Schottky "
        "sqrt(qF/4 pi eps) = 0.21 eV at V/L. oedes raises the contact density by the "
        "Emtage-O'Dwyer factor at the contact field; peled forms the barrier in the "
        "energy landscape, where the injection prefactor falls with the barrier's "
        "curvature (docs/validation/egdm_benchmarks.md)"
    ),
)
def test_image_force_shift_matches_published(image_force_shift):
    """Published: image force lowers the effective barrier by ~0.3 eV at 2 V in the 22 nm
    device; accepted band 0.2-0.4 eV."""
    assert np.all((image_force_shift > 0.2) & (image_force_shift < 0.4))
