"""Gauss-Fermi and Fermi-Dirac statistics in the device (peled.model.statistics): the
effective-band-potential hook in densities, fluxes, contacts and the Jacobian;
equilibrium and detailed balance in stacks that mix every statistics; the low-density
limit; the materials keys."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from devices import layer
from scipy import constants

from peled.core.discretize import build_arrays
from peled.core.newton import _fun_and_jacobian, solve_sweep
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec
from peled.core.residual import edge_fluxes, geometry, node_state, residual
from peled.core.scaling import scaling_for

VT = constants.k * 300.0 / constants.e


def _mixed_stack(nodes=12):
    """HTL (Gauss-Fermi both carriers) / emitter (single level) / oxide-like ETL
    (Fermi-Dirac electrons, Boltzmann holes) / organic ETL (Gauss-Fermi electrons,
    Blakemore holes): every statistics and every pairing at an interface."""
    htl = layer(
        30,
        2.3,
        3.0,
        1e-7,
        1e-3,
        nc_cm3=1e21,
        electron_statistics="gauss_fermi",
        hole_statistics="gauss_fermi",
        electron_disorder_eV=0.08,
        hole_disorder_eV=0.1,
        acceptor_density_m3=1e22,
    )
    em = layer(
        30,
        3.4,
        2.4,
        1e-4,
        5e-5,
        eps=10,
        nc_cm3=3e18,
        statistics_gamma=1.0,
        radiative_coefficient_m3_s=1e-16,
    )
    fd = layer(
        20,
        3.6,
        3.2,
        1e-2,
        1e-6,
        eps=9,
        nc_cm3=2e18,
        electron_statistics="fermi_dirac",
        donor_density_m3=1e24,
    )
    org = layer(
        20,
        2.9,
        3.5,
        1e-4,
        1e-8,
        nc_cm3=1e21,
        electron_statistics="gauss_fermi",
        electron_disorder_eV=0.12,
        statistics_gamma=0.27,
    )
    return build_arrays([htl, em, fd, org], 5.2, 3.0, mesh=MeshSpec(nodes))


def test_mixed_stack_tags_reach_the_arrays():
    arr = _mixed_stack()
    assert arr.electron_statistics == ("gauss_fermi", "occupancy", "fermi_dirac", "gauss_fermi")
    assert arr.hole_statistics == ("gauss_fermi", "occupancy", "occupancy", "occupancy")
    assert arr.degenerate_statistics
    with pytest.raises(ValueError, match="electron_statistics.*'gauss'.*allowed"):
        build_arrays([layer(10, 3, 2, 1, 1, electron_statistics="gauss")], 4.0, 4.0)


def test_flat_quasi_fermi_levels_carry_no_flux_on_any_edge():
    """Detailed balance: with one flat quasi-Fermi level per carrier every bulk and
    interface flux vanishes, for any potential profile and every pairing of statistics
    across an interface (to round-off of the flux's own terms)."""
    arr = _mixed_stack()
    sc = scaling_for(arr.temperature_K)
    geo = geometry(arr, sc)
    rng = np.random.default_rng(7)
    for _ in range(5):
        psi = jnp.asarray(rng.normal(scale=20.0, size=arr.n_nodes)) - 4.0 / VT
        phi_n = jnp.full(arr.n_nodes, rng.normal(scale=10.0))
        phi_p = jnp.full(arr.n_nodes, rng.normal(scale=10.0))
        st = node_state(jnp.stack([psi, phi_n, phi_p], -1), arr, sc)
        fx = edge_fluxes(st, arr, geo, sc)
        for flux, mag in ((fx.n_over_l, fx.n_mag_l), (fx.p_over_l, fx.p_mag_l)):
            assert np.all(np.abs(np.asarray(flux)) <= 1e-13 * np.asarray(mag))


def test_a_nanocrystal_film_counts_its_net_charge():
    """In the disorder-aware green stack (Gauss-Fermi TFB and TPBi around a charged
    CsPbBr3 film): flat quasi-Fermi levels carry no flux on any edge, and more electrons
    in the film (a lower phi_n) draw more holes into it at a fixed phi_p (the crystals'
    net charge lowers the hole levels), while the holes of the Gaussian TFB next to it
    do not change."""
    from pathlib import Path

    from peled.device import load_device

    example = Path(__file__).parents[1] / "examples/green-cspbbr3.yaml"
    arr = load_device(example, physics="disorder_aware").to_arrays(MeshSpec(8))
    assert arr.statistics_tags("electron")[2] == arr.statistics_tags("hole")[2] == "nanocrystal"
    sc = scaling_for(arr.temperature_K)
    geo = geometry(arr, sc)
    rng = np.random.default_rng(3)
    psi = jnp.asarray(rng.normal(scale=5.0, size=arr.n_nodes)) - 4.0 / VT
    film, tfb = arr.node_layer == 2, arr.node_layer == 1
    p_film, p_tfb = [], []
    for phi_n in (10.0, -10.0, -30.0):
        u = jnp.stack([psi, jnp.full(arr.n_nodes, phi_n), jnp.full(arr.n_nodes, 5.0)], -1)
        st = node_state(u, arr, sc)
        fx = edge_fluxes(st, arr, geo, sc)
        for flux, mag in ((fx.n_over_l, fx.n_mag_l), (fx.p_over_l, fx.p_mag_l)):
            assert np.all(np.abs(np.asarray(flux)) <= 1e-13 * np.asarray(mag))
        p_film.append(np.asarray(st.p)[film])
        p_tfb.append(np.asarray(st.p)[tfb])
    assert np.all(p_film[1] > p_film[0]) and np.all(p_film[2] > 10.0 * p_film[1])
    np.testing.assert_allclose(p_tfb[2], p_tfb[0], rtol=1e-12)


# (the fast suite keeps: flat quasi-Fermi levels carry no flux on any edge)
@pytest.mark.slow  # a sweep with every statistics, nanocrystal included: ~4 min on 2 cores
def test_equilibrium_of_a_stack_mixing_every_statistics():
    """V = 0: J = 0 to round-off and flat quasi-Fermi levels (at the cathode's Fermi
    level) through Gauss-Fermi, single-level, Fermi-Dirac and Blakemore layers."""
    arr = _mixed_stack(nodes=24)
    st = solve_sweep(arr, jnp.array([0.0, 0.5]))
    assert np.all(np.asarray(st.converged))
    u0 = np.asarray(st.u[0])
    assert np.max(np.abs(u0[:, 1:])) < 1e-8
    ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
    j = np.asarray(ob.current_density_A_m2)
    assert abs(j[0]) < 1e-9 * max(abs(j[1]), 1e-6)


def test_gauss_fermi_low_density_limit_is_a_shifted_boltzmann_band():
    """At low occupancy a Gaussian DOS of N0 sites and width sigma holds
    n = N0 exp((E_F - E0)/kT + sigma^2/(2 kT^2)): a Boltzmann band of N0 states whose
    edge lies sigma^2/(2kT) deeper in the gap. Compared on random dilute states."""
    s_n, s_p = 0.09, 0.12
    gf = layer(
        40,
        2.5,
        3.0,
        1e-4,
        1e-4,
        nc_cm3=1e21,
        electron_statistics="gauss_fermi",
        hole_statistics="gauss_fermi",
        electron_disorder_eV=s_n,
        hole_disorder_eV=s_p,
    )
    shift_n, shift_p = s_n**2 / (2 * VT), s_p**2 / (2 * VT)
    bz = layer(40, 2.5 + shift_n, 3.0 - shift_n - shift_p, 1e-4, 1e-4, nc_cm3=1e21)
    a_gf = build_arrays([gf], 4.0, 4.0, mesh=MeshSpec(8))
    a_bz = build_arrays([bz], 4.0, 4.0, mesh=MeshSpec(8))
    sc = scaling_for(a_gf.temperature_K)
    rng = np.random.default_rng(1)
    # E_F 1.5-1.8 eV from either level: (eta + s^2)/s < -7, where the Gaussian tail
    # below E_F that Boltzmann misses, Phi((eta + s^2)/s), is < 1e-12
    psi = jnp.asarray(rng.uniform(-4.2, -3.9, 8)) / VT
    # eta_n = psi + chi/V_t - phi_n, eta_p = phi_p - psi - (chi + E_g)/V_t
    phi_n = psi + (2.5 + 1.5) / VT + rng.uniform(0, 0.3, 8) / VT
    phi_p = psi + (5.5 - 1.5) / VT - rng.uniform(0, 0.3, 8) / VT
    u = jnp.stack([psi, phi_n, phi_p], -1)
    st_gf, st_bz = node_state(u, a_gf, sc), node_state(u, a_bz, sc)
    assert np.all(np.asarray(st_gf.n) < 1e-6 * 1e27 / sc.density_m3)
    np.testing.assert_allclose(np.asarray(st_gf.n), np.asarray(st_bz.n), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(st_gf.p), np.asarray(st_bz.p), rtol=1e-6)


def test_gauss_fermi_occupancy_never_exceeds_the_sites():
    gf = layer(
        40,
        2.5,
        3.0,
        1e-4,
        1e-4,
        nc_cm3=1e21,
        electron_statistics="gauss_fermi",
        electron_disorder_eV=0.1,
    )
    arr = build_arrays([gf], 4.0, 4.0, mesh=MeshSpec(8))
    sc = scaling_for(arr.temperature_K)
    psi = jnp.full(8, -4.0 / VT)
    for ef_above_lumo in (-0.5, 0.0, 0.3, 2.0, 10.0):
        phi_n = psi + (2.5 - ef_above_lumo) / VT
        st = node_state(jnp.stack([psi, phi_n, psi], -1), arr, sc)
        occ = np.asarray(st.n) * sc.density_m3 / 1e27
        assert np.all(occ <= 1.0 + 1e-12)
    assert np.all(occ > 1.0 - 1e-9)


def test_jacobian_equals_autodiff_with_gauss_fermi_and_fermi_dirac_layers():
    """The block Jacobian (3-colour JVPs) equals jax.jacfwd at a state where the Gaussian,
    Fermi-Dirac and single-level layers hold degenerate carriers (1e-10 relative)."""
    arr = _mixed_stack(nodes=6)
    # a state where every layer holds dense carriers (the Jacobian must be exact at any
    # state, so no solve is needed): quasi-Fermi levels near each layer's transport levels
    x = jnp.linspace(0.0, 1.0, arr.n_nodes)
    psi = (1.0 - 4.0 * x) / VT
    chi = jnp.asarray(np.repeat([2.3, 3.4, 3.6, 2.9], 6))
    gap = jnp.asarray(np.repeat([3.0, 2.4, 3.2, 3.5], 6))
    u = jnp.stack([psi, psi + (chi - 0.05) / VT, psi + (chi + gap + 0.1) / VT], -1)
    _, _, jac = _fun_and_jacobian(u, arr, jnp.asarray(3.0))
    # jitted: eager jacfwd dispatches every op of the residual (~3x slower)
    dense = jax.jit(jax.jacfwd(lambda v, a: residual(v.reshape(u.shape), a, 3.0).ravel()))(
        u.ravel(), arr
    )
    scale = np.max(np.abs(np.asarray(dense)))
    np.testing.assert_allclose(np.asarray(jac.dense()), np.asarray(dense), atol=1e-10 * scale)


def test_material_keys_for_gauss_fermi(tmp_path):
    """`statistics: gauss_fermi` needs a site density and the carrier's disorder (a clear
    error names the missing key); the site density becomes that carrier's states and the
    disorder reaches the arrays; per-carrier keys override `statistics`."""
    from devices import inline_material

    from peled.errors import PeledInputError
    from peled.materials import parse_material

    base = inline_material("X", "hole_transport", 2.3, 3.0, 1e-7, 1e-3)
    del base["conduction_band_dos_cm3"], base["valence_band_dos_cm3"]
    base["sources"] = {k: "test" for k, v in base.items() if isinstance(v, int | float)}
    gf = {**base, "statistics": "gauss_fermi", "site_density_cm3": 1e21}
    src = {**base["sources"], "statistics": "t", "site_density_cm3": "t"}
    with pytest.raises(PeledInputError, match="x.yaml.*electron_disorder_eV"):
        parse_material({**gf, "sources": src}, "x.yaml")
    full = {**gf, "electron_disorder_eV": 0.08, "hole_disorder_eV": 0.1}
    full["sources"] = {**src, "electron_disorder_eV": "t", "hole_disorder_eV": "t"}
    mat = parse_material(full, "x.yaml")
    assert mat.carrier_statistics("hole") == "gauss_fermi"
    # electrons Boltzmann need their band DOS
    mixed = {**full, "electron_statistics": "boltzmann"}
    mixed["sources"] = {**full["sources"], "electron_statistics": "t"}
    with pytest.raises(PeledInputError, match="conduction_band_dos_cm3"):
        parse_material(mixed, "x.yaml")
    arr = _single_layer(full).to_arrays(MeshSpec(8))
    assert arr.electron_statistics == ("gauss_fermi",) and arr.hole_statistics == ("gauss_fermi",)
    np.testing.assert_allclose(float(arr.layers.valence_band_dos_m3[0]), 1e27)
    np.testing.assert_allclose(float(arr.layers.hole_disorder_eV[0]), 0.1)
    # measured levels are onsets: the Gaussian centres lie 2 sigma inside them
    # (peled.device.GAUSSIAN_ONSET_WIDTHS); "centre" takes the levels as the centres
    np.testing.assert_allclose(float(arr.layers.electron_affinity_eV[0]), 2.3 - 0.16)
    np.testing.assert_allclose(float(arr.layers.band_gap_eV[0]), 3.0 + 0.16 + 0.2)
    centre = {**full, "energy_level_reference": "centre"}
    centre["sources"] = {**full["sources"], "energy_level_reference": "t"}
    lay_c = _single_layer(centre).to_arrays(MeshSpec(8)).layers
    np.testing.assert_allclose(float(lay_c.electron_affinity_eV[0]), 2.3)
    np.testing.assert_allclose(float(lay_c.band_gap_eV[0]), 3.0)
    # a Boltzmann carrier keeps its level: holes Gaussian, electrons Boltzmann
    mixed_ok = {**mixed, "conduction_band_dos_cm3": 1e20}
    mixed_ok["sources"] = {**mixed["sources"], "conduction_band_dos_cm3": "t"}
    lay_m = _single_layer(mixed_ok).to_arrays(MeshSpec(8)).layers
    np.testing.assert_allclose(float(lay_m.electron_affinity_eV[0]), 2.3)
    np.testing.assert_allclose(float(lay_m.band_gap_eV[0]), 3.0 + 0.2)


def _single_layer(material: dict):
    """A 20 nm layer of an inline ``material`` between 5.0 and 3.5 eV contacts."""
    from peled.device import device_from_mapping

    return device_from_mapping(
        {
            "name": "t",
            "anode": {"work_function_eV": 5.0},
            "cathode": {"work_function_eV": 3.5},
            "layers": [{"material": material, "thickness_nm": 20}],
        },
        "dev.yaml",
    )
