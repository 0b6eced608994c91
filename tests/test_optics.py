"""Thin-film optics: Fresnel conventions, reciprocity, the dipole's power in closed-form
and independently integrated cases, energy balance, gradients, the device stack and
``peled optics`` (peled.optics; docs/model/optics.md)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate

from peled.device import default_device_path, device_from_mapping, device_to_mapping, load_device
from peled.errors import PeledInputError
from peled.optics import dipole as D
from peled.optics.multilayer import power_transmittance, stack_coefficients
from peled.optics.stack import dipole_stack
from peled.optics.study import OUTCOUPLING_COLUMNS

jax.config.update("jax_enable_x64", True)

_budget = jax.jit(D.mode_budget, static_argnames="emission_side")
_purcell = jax.jit(D.purcell_factor)


def _stack(n_e, d_e, below, sub, above, top, lam=520.0):
    """A DipoleStack at one wavelength from (index, thickness) pairs; indices complex."""

    def col(x):
        return jnp.array([complex(x) ** 2])

    return D.DipoleStack(
        wavelength_nm=jnp.array([lam]),
        n_emitter=jnp.array([float(n_e)]),
        emitter_thickness_nm=jnp.array(float(d_e)),
        eps_below=tuple(col(n) for n, _ in below),
        d_below=tuple(jnp.array(float(d)) for _, d in below),
        eps_substrate=col(sub),
        eps_above=tuple(col(n) for n, _ in above),
        d_above=tuple(jnp.array(float(d)) for _, d in above),
        eps_top=col(top),
    )


def _iso(budget):
    return D.orientation_budget(budget, 2.0 / 3.0)


# --- Fresnel coefficients and stacks ------------------------------------------------------


def test_fresnel_sign_convention_is_pinned():
    """TE coefficients are for E, TM for H: normal incidence glass->air gives r_s = +0.2
    and r_p = -0.2; a perfect conductor reflects r_s = -1, r_p = +1; r_p vanishes at
    Brewster's angle."""
    e1, e2 = jnp.array(1.5**2 + 0j), jnp.array(1.0 + 0j)
    zero = jnp.array(0.0)
    rs, _ = stack_coefficients(e1, [], [], e2, zero, 1.0, "s")
    rp, _ = stack_coefficients(e1, [], [], e2, zero, 1.0, "p")
    assert complex(rs) == pytest.approx(0.2, abs=1e-15)
    assert complex(rp) == pytest.approx(-0.2, abs=1e-15)
    pec = jnp.array(-1e14 + 0j)
    for beta2 in (0.0, 0.5, 1.2):  # propagating and evanescent in the incidence medium
        rs, _ = stack_coefficients(e1, [], [], pec, jnp.array(beta2), 1.0, "s")
        rp, _ = stack_coefficients(e1, [], [], pec, jnp.array(beta2), 1.0, "p")
        assert complex(rs) == pytest.approx(-1.0, abs=1e-6)
        assert complex(rp) == pytest.approx(1.0, abs=1e-6)
    # Brewster: tan(theta_B) = n2/n1 from glass into air, beta = n1 sin(theta_B)
    beta = 1.5 * np.sin(np.arctan(1.0 / 1.5))
    rp, _ = stack_coefficients(e1, [], [], e2, jnp.array(beta**2), 1.0, "p")
    assert abs(complex(rp)) < 1e-14


@pytest.mark.parametrize("pol", ["s", "p"])
def test_stack_reciprocity_and_energy(pol):
    """Reciprocity of a lossy stack read from both sides (q_N t_0N = q_0 t_N0 for TE,
    with q/eps for TM), and R + T = 1 with |r| equal from both sides when lossless."""
    k0 = 2 * np.pi / 520.0
    layers = [(1.9 + 0.01j) ** 2, (0.7 + 5.5j) ** 2, 1.7**2]
    thick = [100.0, 12.0, 40.0]
    eps0, epsN = 1.52**2 + 0j, 1.8**2 + 0j
    for beta in (0.0, 0.9, 1.4, 1.7):  # up to evanescent in the glass
        b2 = jnp.array(beta**2)
        _, t_f = stack_coefficients(eps0, layers, thick, epsN, b2, k0, pol)
        _, t_b = stack_coefficients(epsN, layers[::-1], thick[::-1], eps0, b2, k0, pol)
        q0, qN = np.sqrt(eps0 - beta**2 + 0j), np.sqrt(epsN - beta**2 + 0j)
        w0, wN = (q0, qN) if pol == "s" else (q0 / eps0, qN / epsN)
        assert complex(t_f) * wN == pytest.approx(complex(t_b) * w0, rel=1e-12)
    lossless = [1.9**2 + 0j, 1.3**2 + 0j, 1.7**2 + 0j]
    for beta in (0.0, 0.6, 1.2):
        b2 = jnp.array(beta**2)
        r_f, t_f = stack_coefficients(eps0, lossless, thick, epsN, b2, k0, pol)
        r_b, _ = stack_coefficients(epsN, lossless[::-1], thick[::-1], eps0, b2, k0, pol)
        t_pow = power_transmittance(t_f, eps0, epsN, b2, pol)
        assert float(abs(r_f) ** 2 + t_pow) == pytest.approx(1.0, abs=1e-13)
        assert float(abs(r_f)) == pytest.approx(float(abs(r_b)), abs=1e-13)


def test_thick_metal_stays_finite_far_beyond_the_light_line():
    """The Airy recursion has only decaying phase factors: 10 um of silver at k_x 100x
    the light line gives finite coefficients (a transfer-matrix product overflows)."""
    r, t = stack_coefficients(
        1.8**2 + 0j, [(0.04 + 3.3j) ** 2], [1.0e4], 1.0 + 0j, jnp.array(1.0e4), 0.012, "p"
    )
    assert np.isfinite(complex(r)) and np.isfinite(complex(t))
    assert abs(complex(t)) < 1e-300


# --- the dipole's power ---------------------------------------------------------------------


def test_homogeneous_medium():
    """In an index-matched stack F = 1 for each orientation, every orientation's
    spectrum integrates to 1, and all power leaves through the two outer media."""
    st = _stack(1.8, 30.0, [(1.8, 20.0)], 1.8, [(1.8, 40.0)], 1.8)
    z = jnp.array([3.0, 15.0, 27.0])
    b = _budget(st, z, emission_side="top")
    f = _purcell(st, z)
    np.testing.assert_allclose(np.asarray(f["v"]), 1.0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(f["hp"] + f["hs"]), 1.0, atol=1e-10)
    for th in (0.0, 2.0 / 3.0, 1.0):
        o = D.orientation_budget(b, th)
        np.testing.assert_allclose(np.asarray(o["purcell_factor"]), 1.0, atol=1e-10)
        np.testing.assert_allclose(np.asarray(o["to_air"]), 0.5, atol=1e-10)
        np.testing.assert_allclose(np.asarray(o["to_substrate"]), 0.5, atol=1e-10)
        for c in ("waveguided", "evanescent", "absorbed"):
            assert float(jnp.max(jnp.abs(o[c]))) < 1e-10


# the top-emitting case is slow (~35 s each): the fast suite keeps the bottom-emitting one
@pytest.mark.parametrize(
    "side", ["bottom", pytest.param("top", marks=pytest.mark.slow)]
)
def test_energy_balance_of_a_lossless_guiding_stack(side):
    """A lossless stack with a high-index guiding film: the dissipated power at
    radiative wavevectors equals the power transmitted into the outer media (no
    absorption, to 1e-9), and F from one contour equals the sum of the channels (whose
    guided-mode poles lie on the real axis) to 1e-6."""
    st = _stack(1.8, 30.0, [(2.3, 120.0), (1.6, 50.0)], 1.52, [(1.5, 60.0), (2.1, 150.0)], 1.0)
    z = jnp.linspace(0.5, 29.5, 7)
    b = _budget(st, z, emission_side=side)
    f = _purcell(st, z)
    for term in ("v", "hp", "hs"):
        total = b[term]["purcell_factor"]
        np.testing.assert_allclose(np.asarray(total), np.asarray(f[term]), rtol=1e-6)
        if side == "top":
            assert float(jnp.max(jnp.abs(b[term]["absorbed"]))) < 1e-9
        assert float(jnp.min(b[term]["waveguided"])) > 0.01  # the guide carries power


def _mirror_closed_form(kl: float, z0: float, horizontal: bool) -> float:
    """Decay rate between two perfect mirrors a distance L apart, dipole at z0/L
    (P. W. Milonni and P. L. Knight, Opt. Commun. 9, 119 (1973))."""
    modes = np.arange(1, int(kl / np.pi) + 1)
    c = modes * np.pi / kl
    if horizontal:
        return 3 * np.pi / (2 * kl) * float(np.sum((1 + c**2) * np.sin(modes * np.pi * z0) ** 2))
    return 3 * np.pi / kl * (0.5 + float(np.sum((1 - c**2) * np.cos(modes * np.pi * z0) ** 2)))


@pytest.mark.parametrize("length_nm", [180.0, 420.0])
def test_dipole_between_perfect_mirrors(length_nm):
    """Lossless planar cavity (guided-mode poles on the real axis, one at the end of the
    radiative range) against the closed form, to 1e-6."""
    n_e, lam = 1.5, 520.0
    pec = complex(0, 1e7)  # eps = -1e14: a perfect conductor to 1e-7
    st = _stack(n_e, length_nm, [], pec, [], pec, lam=lam)
    z0 = np.array([0.13, 0.31, 0.5])
    f = _purcell(st, jnp.asarray(z0 * length_nm))
    kl = 2 * np.pi * n_e / lam * length_nm
    for i, z in enumerate(z0):
        h = float(f["hp"][0, i] + f["hs"][0, i])
        v = float(f["v"][0, i])
        assert h == pytest.approx(_mirror_closed_form(kl, z, True), rel=1e-6)
        assert v == pytest.approx(_mirror_closed_form(kl, z, False), rel=1e-6)


def _silver_half_space_quad(z_nm: float, n1: float, eps_m: complex, lam: float):
    """Chance-Prock-Silbey integrals for a dipole at z in index n1 above a metal
    half-space, integrated on the real axis with scipy (its own Fresnel coefficients)."""
    k1 = 2 * np.pi * n1 / lam
    e1 = n1**2

    def coeffs(u):
        c = np.sqrt(complex(1 - u * u))
        if c.imag < 0:
            c = -c
        q1 = n1 * c
        q2 = np.sqrt(eps_m - e1 * u * u + 0j)
        if q2.imag < 0:
            q2 = -q2
        rs = (q1 - q2) / (q1 + q2)
        rp = (eps_m * q1 - e1 * q2) / (eps_m * q1 + e1 * q2)
        return c, rs, rp, np.exp(2j * k1 * c * z_nm)

    def terms(u):  # (vertical, horizontal) reflected parts, times u/c
        c, rs, rp, e = coeffs(u)
        return 1.5 * u**3 * rp * e, 0.75 * u * (rs - c * c * rp) * e

    # u = sin(theta) on [0, 1] and u = cosh(t) beyond remove the 1/c end points
    def inner(th, k):
        return np.real(terms(np.sin(th))[k])  # (u/c) du = u dtheta

    def outer(t, k):
        u = np.cosh(t)
        return np.real(terms(u)[k] / (1j))  # (u/c) du = -i u dt with c = i sinh t

    n_spp = np.sqrt(eps_m * e1 / (eps_m + e1)).real / n1
    t_spp = np.arccosh(n_spp)
    t_max = np.arccosh(1 + 60 / (2 * k1 * z_nm))
    out = []
    for k in (0, 1):
        a, _ = integrate.quad(inner, 0, np.pi / 2, args=(k,), epsabs=1e-13, epsrel=1e-11,
                              limit=500)
        b, _ = integrate.quad(outer, 0, t_max, args=(k,), points=[t_spp], epsabs=1e-13,
                              epsrel=1e-11, limit=2000)
        out.append(1 + a + b)
    return out


def test_dipole_near_a_silver_half_space():
    """Purcell factor against distance to a silver half-space (McPeak 2015 at 520 nm,
    n = 0.0424 + 3.342i) in n = 1.5, vertical and horizontal, against scipy quadrature
    on the real axis, to 1e-6."""
    n1, lam, eps_m = 1.5, 520.0, (0.0424 + 3.342j) ** 2
    zs = np.array([5.0, 10.0, 20.0, 50.0, 150.0])
    st = _stack(n1, 4000.0, [], np.sqrt(eps_m), [], n1, lam=lam)
    f = _purcell(st, jnp.asarray(zs))
    for i, z in enumerate(zs):
        v_ref, h_ref = _silver_half_space_quad(z, n1, eps_m, lam)
        assert float(f["v"][0, i]) == pytest.approx(v_ref, rel=1e-6)
        assert float(f["hp"][0, i] + f["hs"][0, i]) == pytest.approx(h_ref, rel=1e-6)
    assert float(f["v"][0, 0]) > 10  # quenching close to the metal


@pytest.mark.slow  # a second compile of the whole mode budget at doubled node counts
def test_quadrature_converged():
    """Doubling every node count changes the channels of a lossy OLED stack by < 1e-9."""
    st = _oled_stack()
    z = jnp.linspace(1.0, 29.0, 5)
    ref = _iso(_budget(st, z, emission_side="bottom"))
    old = (D.N_REAL, D.N_ELLIPSE, D.N_TAIL)
    try:
        D.N_REAL, D.N_ELLIPSE, D.N_TAIL = (2 * n for n in old)
        fine = _iso(jax.jit(lambda s, x: D.mode_budget(s, x, "bottom"))(st, z))
    finally:
        D.N_REAL, D.N_ELLIPSE, D.N_TAIL = old
    for k in ref:
        np.testing.assert_allclose(np.asarray(fine[k]), np.asarray(ref[k]), rtol=1e-9)


# --- the standard OLED stack ----------------------------------------------------------------

#: glass / ITO 100 / TCTA 35 / EML 30 / TPBi 40 / Al 100 at 520 nm, constant indices:
#: glass 1.52; ITO 1.884 + 0.0077i (Minenkov 2024); TCTA 1.72; EML 1.75; TPBi 1.70;
#: Al 0.688 + 5.536i (McPeak 2015); air above the Al
OLED_INDICES = {"glass": 1.52, "ITO": 1.884 + 0.0077j, "TCTA": 1.72, "EML": 1.75,
                "TPBi": 1.70, "Al": 0.688 + 5.536j}


def _oled_stack():
    i = OLED_INDICES
    return _stack(i["EML"], 30.0, [(i["TCTA"], 35.0), (i["ITO"], 100.0)], i["glass"],
                  [(i["TPBi"], 40.0), (i["Al"], 100.0)], 1.0)


def test_standard_oled_stack_outcoupling():
    """Isotropic dipoles at the EML centre couple ~20 % to air (bottom emission through
    the glass); the figures are in docs/model/optics.md."""
    o = _iso(_budget(_oled_stack(), jnp.array([15.0]), emission_side="bottom"))
    eta = float(o["to_air"][0, 0])
    assert 0.17 < eta < 0.27, eta
    assert float(o["purcell_factor"][0, 0]) == pytest.approx(1.363, abs=0.01)
    total = sum(float(o[c][0, 0]) for c in D.CHANNELS)
    assert total == pytest.approx(1.0, abs=1e-12)


def test_outcoupling_gradient_against_finite_differences():
    """d(eta_out)/d(thickness) of the ETL and the anode through the whole optics,
    against central differences, to 1e-5 relative."""
    z = jnp.array([7.5, 22.5])

    def eta(d_etl, d_ito):
        st = _oled_stack()._replace(
            d_below=(jnp.array(35.0), d_ito), d_above=(d_etl, jnp.array(100.0))
        )
        return jnp.mean(_iso(D.mode_budget(st, z, "bottom"))["to_air"])

    f = jax.jit(eta)
    g = jax.jit(jax.grad(eta, argnums=(0, 1)))
    x = (jnp.array(40.0), jnp.array(100.0))
    grads = g(*x)
    h = 1e-3
    for k in range(2):
        xp = list(x)
        xm = list(x)
        xp[k] = x[k] + h
        xm[k] = x[k] - h
        fd = (float(f(*xp)) - float(f(*xm))) / (2 * h)
        assert float(grads[k]) == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert abs(float(grads[0])) > 1e-5  # the ETL thickness matters


# --- the device as an optical stack ---------------------------------------------------------


def test_device_stack_order_and_refusals():
    dev = load_device(default_device_path())
    st = dipole_stack(dev, [515.0])
    # below the emitter: TFB, PEDOT:PSS, ITO (150 nm); above: TPBi, LiF/Al (100 nm)
    assert [float(d) for d in st.d_below] == [30.0, 40.0, 150.0]
    assert [float(d) for d in st.d_above] == [40.0, 100.0]
    assert float(jnp.real(st.eps_top[0])) == 1.0
    assert float(jnp.real(jnp.sqrt(st.eps_substrate[0]))) == pytest.approx(1.527, abs=2e-3)
    with pytest.raises(PeledInputError, match="380-780 nm"):
        dipole_stack(dev, [300.0])
    data = device_to_mapping(dev)
    data["substrate"] = {"material": "glass", "refractive_index": 2.5}
    with pytest.raises(PeledInputError, match="not below the emitter"):
        dipole_stack(device_from_mapping(data), [515.0])


def test_device_file_optics_keys_round_trip():
    """Electrode thickness and constant n, k, the substrate's index and the emission
    side are honoured and survive device_to_mapping; a layer override of the index
    replaces its table."""
    data = device_to_mapping(load_device(default_device_path()))
    data["anode"] = {"material": "ITO", "thickness_nm": 120, "refractive_index": 1.95,
                     "extinction_coefficient": 0.02}
    data["cathode"]["thickness_nm"] = 80
    data["substrate"] = {"material": "glass", "refractive_index": 1.50}
    data["emission_side"] = "top"
    data["layers"][0] = {"material": "PEDOT:PSS", "thickness_nm": 40,
                         "overrides": {"refractive_index": 1.45}}
    dev = device_from_mapping(data)
    assert dev.anode.thickness_nm == 120 and dev.anode.optical.table is None
    assert dev.anode.refractive_index == 1.95 and dev.cathode.thickness_nm == 80
    assert dev.substrate.optical.refractive_index == 1.50 and dev.emission_side == "top"
    assert dev.layers[0].optical.table is None
    assert dev.layers[0].optical.refractive_index == 1.45
    # (the written device carries the overridden material, not the override itself)
    again = device_from_mapping(device_to_mapping(dev))
    assert device_to_mapping(again) == device_to_mapping(dev)
    assert again.layers[0].optical == dev.layers[0].optical
    st = dipole_stack(dev, [515.0])
    assert complex(st.eps_below[-1][0]) == pytest.approx((1.95 + 0.02j) ** 2)
    data["substrate"] = {"material": "TPBi"}
    with pytest.raises(PeledInputError, match="role 'substrate'"):
        device_from_mapping(data)


def test_cli_optics_writes_the_documented_columns(tmp_path):
    from peled.cli import main

    out = tmp_path / "o"
    r = CliRunner().invoke(
        main, ["optics", str(default_device_path()), "--positions", "3",
               "--wavelengths-nm", "505,525", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    import pandas as pd

    df = pd.read_csv(out / "outcoupling.csv")
    assert tuple(df.columns) == OUTCOUPLING_COLUMNS
    assert len(df) == 3 * 2 * 3
    assert set(df["orientation"]) == {"isotropic", "horizontal", "vertical"}
    sums = df[["to_air", "to_substrate", "waveguided", "evanescent", "absorbed"]].sum(axis=1)
    np.testing.assert_allclose(sums, 1.0, atol=1e-9)
    assert (df["position_nm"] > 0).all() and (df["position_nm"] < 30).all()
    for f in ("angular.csv", "mode_budget.png", "angular.png"):
        assert (out / f).is_file()
    bad = CliRunner().invoke(main, ["optics", str(default_device_path()), "--wavelengths-nm",
                                    "300", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "380-780 nm" in bad.output
    assert not (tmp_path / "x").exists()


# --- the optics coupled to the device -------------------------------------------------------


# the top-emitting case is slow (~35 s each): the fast suite keeps the bottom-emitting one
@pytest.mark.parametrize(
    "side", ["bottom", pytest.param("top", marks=pytest.mark.slow)]
)
def test_radiant_intensity_integrates_to_the_air_channel(side):
    """The forward radiant intensity (the luminance's source) integrated over the
    hemisphere, 2 pi int I(theta) sin(theta) dtheta, equals the to_air power of the mode
    budget, per dipole term, to 1e-6."""
    st = _oled_stack()
    if side == "top":  # a thin silver top electrode that lets light out
        st = st._replace(eps_above=(st.eps_above[0], jnp.array([(0.0424 + 3.342j) ** 2])),
                         d_above=(st.d_above[0], jnp.array(15.0)))
    z = jnp.array([6.0, 21.0])
    b = _budget(st, z, emission_side=side)
    x, w = np.polynomial.legendre.leggauss(400)
    theta = 0.25 * np.pi * (x + 1)  # 0..pi/2
    i = jax.jit(D.forward_radiant_intensity, static_argnames="emission_side")(
        st, z, np.rad2deg(theta), emission_side=side
    )
    for term in ("v", "hp", "hs"):
        total = 2 * np.pi * np.sum(np.asarray(i[term]) * np.sin(theta) * w * 0.25 * np.pi, -1)
        np.testing.assert_allclose(total, np.asarray(b[term]["to_air"]), rtol=1e-6)


@pytest.mark.slow  # ~40 s; the fast suite keeps the bottom/top energy balances
def test_inverted_stack_is_the_mirror_image():
    """A stack written cathode-first on its substrate (substrate_side: cathode) is the
    mirror image of the same stack written anode-first: the same mode budget at mirrored
    dipole positions."""
    from peled.optics.study import study

    data = device_to_mapping(load_device(default_device_path()))
    mirror = dict(data)
    mirror["anode"], mirror["cathode"] = data["cathode"], data["anode"]
    mirror["layers"] = data["layers"][::-1]
    mirror["substrate_side"] = "cathode"
    a = study(device_from_mapping(data), [515.0], 4)
    b = study(device_from_mapping(mirror), [515.0], 4)
    np.testing.assert_allclose(b.positions_nm, 30.0 - a.positions_nm[::-1])
    np.testing.assert_allclose(b.purcell_factor, a.purcell_factor[:, :, ::-1], rtol=1e-12)
    for c in D.CHANNELS:
        np.testing.assert_allclose(b.fractions[c], a.fractions[c][:, :, ::-1], rtol=1e-10)
