"""Carrier statistics (peled.model.statistics): the occupancy family, its use in the
flux (generalized Einstein relation), equilibrium, the Jacobian, the materials key, and
the density cap it puts on an injected emitter."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from devices import layer
from scipy import constants, integrate

from peled.core.discretize import build_arrays
from peled.core.newton import _fun_and_jacobian, solve_sweep
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec
from peled.core.residual import edge_fluxes, geometry, node_state, residual
from peled.core.scaling import scaling_for
from peled.model.statistics.occupancy import STATISTICS_GAMMA, log_density

VT = constants.k * 300.0 / constants.e


def _fermi_dirac_half(eta: float) -> float:
    """Normalized Fermi-Dirac integral F_1/2(eta) = 2/sqrt(pi) int sqrt(e)/(1+exp(e-eta))."""
    val, _ = integrate.quad(
        lambda e: np.sqrt(e) / (1.0 + np.exp(e - eta)), 0.0, max(eta, 0.0) + 60.0, limit=200
    )
    return 2.0 / np.sqrt(np.pi) * val


def test_occupancy_family_limits_and_saturation():
    """gamma = 0 is Boltzmann exactly; gamma = 1 is 1/(exp(-eta) + 1); Blakemore's 0.27
    follows F_1/2 within 3.5 % up to eta = 1.3; every gamma > 0 saturates at N_c/gamma."""
    eta = jnp.linspace(-30.0, 40.0, 141)
    ln_dos = 2.3
    a_b = ln_dos + eta
    np.testing.assert_array_equal(np.asarray(log_density(a_b, ln_dos, 0.0)), np.asarray(a_b))
    single = np.exp(np.asarray(log_density(a_b, ln_dos, 1.0)) - ln_dos)
    np.testing.assert_allclose(single, 1.0 / (np.exp(-np.asarray(eta)) + 1.0), rtol=1e-13)
    for gamma in (0.27, 1.0):
        occ = np.exp(np.asarray(log_density(a_b, ln_dos, gamma)) - ln_dos)
        assert np.all(occ <= 1.0 / gamma * (1 + 1e-14))
        assert np.all(np.diff(occ) >= 0)
        np.testing.assert_allclose(occ[-1], 1.0 / gamma, rtol=1e-12)
    for e in (-5.0, -1.0, 0.0, 1.0, 1.3):
        blake = float(
            np.exp(log_density(ln_dos + e, ln_dos, STATISTICS_GAMMA["blakemore"]) - ln_dos)
        )
        assert abs(blake / _fermi_dirac_half(e) - 1.0) < 0.035, e
    # finite gradients everywhere, also for gamma = 0 through the jnp.where branch
    g = jax.grad(lambda a: jnp.sum(log_density(a, ln_dos, 0.0) + log_density(a, ln_dos, 1.0)))(a_b)
    assert np.all(np.isfinite(np.asarray(g)))


def _single_layer(gamma, nodes, donor_m3=0.0, thickness_nm=50.0):
    lay = layer(thickness_nm, 3.0, 2.0, 1e-3, 1e-3, eps=5.0, nc_cm3=1e19)
    lay["statistics_gamma"] = gamma
    lay["donor_density_m3"] = donor_m3
    return build_arrays([lay], 4.0, 3.0, mesh=MeshSpec(nodes))


def test_flux_obeys_generalized_einstein_relation():
    """On a smooth, strongly degenerate profile (eta from -3 to +6, n up to ~N_c) the
    edge flux of the effective-potential SG scheme approaches the quasi-Fermi form
    F = mu n dphi_n/dx (which contains D/mu = V_t F/F') at second order in h; the
    Boltzmann diffusion coefficient would be off by the factor F/F' ~ 7 at eta = 6."""
    errs = []
    for nodes in (65, 129, 257):
        arr = _single_layer(1.0, nodes)
        sc = scaling_for(arr.temperature_K)
        geo = geometry(arr, sc)
        s = np.asarray(geo.x) / float(geo.x[-1])
        ln_nc = np.log(1e25 / sc.density_m3)
        eta = -3.0 + 9.0 * s**2
        phi = 0.5 * np.sin(np.pi * s)  # quasi-Fermi potential [V_t], smooth
        psi = eta + phi - 3.0 / VT  # eta = psi + chi/V_t - phi_n, chi = 3 eV
        u = jnp.stack([jnp.asarray(psi), jnp.asarray(phi), jnp.zeros_like(jnp.asarray(phi))], -1)
        st = node_state(u, arr, sc)
        fx = edge_fluxes(st, arr, geo, sc)
        flux = np.asarray(fx.n_over_l * st.n[:-1])
        # continuum flux at the edge midpoints: mu n(eta_m) dphi/dx
        sm = 0.5 * (s[1:] + s[:-1])
        eta_m = -3.0 + 9.0 * sm**2
        n_m = np.exp(ln_nc) / (np.exp(-eta_m) + 1.0)
        dphi_dx = 0.5 * np.pi * np.cos(np.pi * sm) / float(geo.x[-1])
        mu = 1e-3 * 1e-4 / sc.mobility_m2_Vs
        exact = mu * n_m * dphi_dx
        keep = np.abs(exact) > 0.05 * np.max(np.abs(exact))
        errs.append(np.max(np.abs(flux[keep] / exact[keep] - 1.0)))
    errs = np.array(errs)
    print(f"relative flux error per mesh {errs}")
    assert errs[-1] < 1e-3
    assert np.log2(errs[0] / errs[1]) > 1.8 and np.log2(errs[1] / errs[2]) > 1.8


@pytest.mark.slow  # ~100 s; the fast suite keeps the statistics' flux and equilibrium invariants
def test_degenerate_equilibrium_puts_fermi_level_where_neutrality_says():
    """A layer doped N_D = N_c / 2 with single-level statistics: in its neutral bulk
    N_c / (exp(-eta) + 1) = N_D gives E_F = E_c exactly (Boltzmann would put it
    V_t ln 2 = 18 meV below). At equilibrium the quasi-Fermi levels are flat and the
    current is zero."""
    arr = _single_layer(1.0, 64, donor_m3=0.5e25, thickness_nm=400.0)
    st = solve_sweep(arr, jnp.array([0.0, 0.2]))
    assert np.all(np.asarray(st.converged))
    ob = sweep_observables(st.u, arr, jnp.zeros(1))
    u0 = np.asarray(st.u[0])
    assert np.max(np.abs(u0[:, 1:])) < 1e-8
    assert abs(float(ob.current_density_A_m2[0])) < 1e-7
    ec = np.asarray(ob.conduction_band_eV[0])
    ef = np.asarray(ob.electron_quasi_fermi_eV[0])
    mid = len(ec) // 2
    assert abs(ef[mid] - ec[mid]) < 1e-6
    n_mid = float(ob.electron_density_m3[0][mid])
    np.testing.assert_allclose(n_mid, 0.5e25, rtol=1e-6)


# (the Gauss-Fermi/Fermi-Dirac Jacobian check stays in the fast suite)
@pytest.mark.slow  # dense jacfwd of a degenerate stack, ~2 min
def test_jacobian_equals_autodiff_with_degenerate_layers():
    """The block Jacobian equals jax.jacfwd with Blakemore and single-level layers, at a
    forward bias where the carriers are degenerate (1e-10 relative)."""
    p = layer(30, 3.0, 2.0, 1e-2, 1e-2, eps=10, acceptor_density_m3=5e25, nc_cm3=1e19)
    i = layer(30, 3.0, 2.0, 1e-3, 1e-3, eps=10, radiative_coefficient_m3_s=1e-16, nc_cm3=1e19)
    n = layer(30, 3.0, 2.0, 1e-2, 1e-2, eps=10, donor_density_m3=5e25, nc_cm3=1e19)
    p["statistics_gamma"], i["statistics_gamma"], n["statistics_gamma"] = 0.27, 1.0, 1.0
    arr = build_arrays([p, i, n], 5.0, 3.0, mesh=MeshSpec(6))
    st = solve_sweep(arr, jnp.array([0.0, 1.0, 2.2]))
    assert np.all(np.asarray(st.converged))
    u = st.u[-1]
    _, _, jac = _fun_and_jacobian(u, arr, jnp.asarray(2.2))
    # jitted: eager jacfwd dispatches every op of the residual (~3x slower)
    dense = jax.jit(jax.jacfwd(lambda v, a: residual(v.reshape(u.shape), a, 2.2).ravel()))(
        u.ravel(), arr
    )
    scale = np.max(np.abs(np.asarray(dense)))
    np.testing.assert_allclose(np.asarray(jac.dense()), np.asarray(dense), atol=1e-10 * scale)


def test_material_statistics_key(tmp_path):
    """`statistics` takes the named models only, needs a source, and reaches the arrays."""
    from devices import inline_material

    from peled.device import device_from_mapping
    from peled.errors import PeledInputError
    from peled.materials import parse_material

    base = inline_material("X", "emitter", 3.4, 2.4, 1e-4)
    base.update(emission_peak_nm=515, emission_fwhm_nm=18, photoluminescence_quantum_yield=0.5)
    base["sources"] = {k: "test" for k, v in base.items() if isinstance(v, int | float)}
    with pytest.raises(PeledInputError, match="statistics.*boltzmann.*blakemore.*single_level"):
        parse_material({**base, "statistics": "fermi"}, "x.yaml")
    with pytest.raises(PeledInputError, match="x.yaml.*sources.*statistics"):
        parse_material({**base, "statistics": "single_level"}, "x.yaml")
    ok = {**base, "statistics": "single_level"}
    ok["sources"] = {**base["sources"], "statistics": "test"}
    assert parse_material(ok, "x.yaml").statistics == "single_level"
    dev = device_from_mapping(
        {
            "name": "t",
            "anode": {"work_function_eV": 5.0},
            "cathode": {"work_function_eV": 3.5},
            "layers": [{"material": ok, "thickness_nm": 20}],
        },
        "dev.yaml",
    )
    assert float(dev.to_arrays(MeshSpec(8)).layers.statistics_gamma[0]) == 1.0
    # a database material switched by a device-file override (its own source)
    dev = device_from_mapping(
        {
            "name": "t",
            "anode": {"material": "ITO"},
            "cathode": {"material": "LiF/Al"},
            "layers": [
                {"material": "TFB", "thickness_nm": 30},
                {
                    "material": "CsPbBr3-NC",
                    "thickness_nm": 30,
                    "overrides": {"statistics": "blakemore"},
                },
            ],
        },
        "dev.yaml",
    )
    gam = np.asarray(dev.to_arrays(MeshSpec(8)).layers.statistics_gamma)
    np.testing.assert_array_equal(gam, [0.0, 0.27])


@pytest.mark.slow  # ~65 s in a 2-worker run: kept out of CI
def test_single_level_emitter_caps_the_interface_pile_up(green_classic_device):
    """The green stack under the classic physics with its emitter on single-level statistics (the
    NC film's band-edge states): converged at every bias, n <= N_c everywhere in the emitter
    and the current continuous, where Boltzmann piles electrons up to > 10 N_c at 3 V (on
    this coarse mesh; ~400 N_c when resolved)."""
    from test_core_solver import continuity_violations

    v = jnp.linspace(0.0, 3.0, 13)
    arr_b = green_classic_device.to_arrays(MeshSpec(32))
    k_em = green_classic_device.emitter_indices[0]
    gam = arr_b.layers.statistics_gamma.at[k_em].set(1.0)
    arr_s = arr_b.with_layers(statistics_gamma=gam)
    nc = float(arr_b.layers.conduction_band_dos_m3[k_em])
    in_em = np.asarray(arr_b.node_layer) == k_em
    peak = {}
    for name, arr in (("boltzmann", arr_b), ("single_level", arr_s)):
        st = solve_sweep(arr, v)
        assert np.all(np.asarray(st.converged)), name
        ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
        assert continuity_violations(arr, st, ob) == [], name
        peak[name] = np.asarray(ob.electron_density_m3)[:, in_em].max(axis=1) / nc
    print(
        f"emitter peak n / N_c at 3 V: {peak['boltzmann'][-1]:.3g} (Boltzmann), "
        f"{peak['single_level'][-1]:.6f} (single level)"
    )
    assert peak["boltzmann"][-1] > 10.0
    assert np.all(peak["single_level"] <= 1.0 + 1e-12)
    assert peak["single_level"][-1] > 0.5


def test_boltzmann_devices_compile_without_the_filling_terms():
    """An all-Boltzmann device carries degenerate_statistics = False (a static flag that
    drops the state-filling terms from the compiled residual); setting a gamma turns it
    on, and with gamma = 0 both programs give the same residual."""
    from dataclasses import replace

    arr = _single_layer(0.0, 16, donor_m3=1e23)
    assert arr.degenerate_statistics is False
    on = replace(arr, degenerate_statistics=True)
    assert arr.with_layers(statistics_gamma=jnp.asarray([1.0])).degenerate_statistics
    rng = np.random.default_rng(3)
    u = jnp.asarray(rng.normal(size=(arr.n_nodes, 3)))
    for v in (0.0, 0.7):
        np.testing.assert_allclose(
            np.asarray(residual(u, on, v)), np.asarray(residual(u, arr, v)), rtol=1e-13, atol=0
        )
