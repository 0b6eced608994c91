"""Image-force lowering at the electrodes (peled.model.contacts.image_force): the image
potential in the transport levels, the Schottky lowering it produces in a uniform field,
exact equilibrium with a built-in field, and more injection over a barrier."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from devices import layer
from scipy import constants

from peled.core.discretize import build_arrays
from peled.core.newton import solve_sweep
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec, node_positions_m
from peled.core.residual import image_lowering
from peled.core.scaling import scaling_for
from peled.model.contacts.image_force import (
    barrier_lowering_V,
    image_potential_V,
    schottky_lowering_V,
    site_spacing_m,
)

VT = constants.k * 300.0 / constants.e


def test_image_potential_in_a_uniform_field_gives_the_schottky_lowering():
    """With the electrode's surface a behind the contact node, the level
    Phi_B - F (d + a) - U(d + a) peaks at Phi_B - sqrt(qF/(4 pi eps)) where the Schottky
    maximum lies beyond a and at the first site, Phi_B - U(a) - F a, where it does not;
    barrier_lowering_V gives both, for fields from 1e6 to 1e9 V/m."""
    eps, a = 3.0, 1.6e-9
    d = np.linspace(0.0, 60e-9, 600_001)
    for field in (1e6, 1e7, 4e7, 1e8, 3e8, 1e9):
        level = -field * (d + a) - np.asarray(image_potential_V(d, eps, a))
        expected = float(barrier_lowering_V(field, eps, a))
        np.testing.assert_allclose(-level.max(), expected, rtol=1e-6)
        d_m = np.sqrt(constants.e / (16 * np.pi * constants.epsilon_0 * eps * field))
        if d_m > a:
            np.testing.assert_allclose(expected, float(schottky_lowering_V(field, eps)))
    # ~0.2 eV at 1 MV/cm in eps_r = 3
    np.testing.assert_allclose(float(schottky_lowering_V(1e8, 3.0)), 0.2191, rtol=1e-3)
    np.testing.assert_allclose(site_spacing_m(4.25e26), 1.33006e-9, rtol=1e-5)


def _hole_only(barrier_eV, image, nodes=64, thickness_nm=60.0, gauss=False):
    lay = layer(thickness_nm, 2.0, 3.0, 1e-12, 1e-4, eps=3.0, nc_cm3=4.25e20)
    if gauss:
        lay.update(hole_statistics="gauss_fermi", electron_statistics="gauss_fermi",
                   hole_disorder_eV=0.1, electron_disorder_eV=0.1)
    ie = 5.0
    # the same barrier at both contacts: no built-in field
    wf = ie - barrier_eV
    return build_arrays([lay], wf, wf, mesh=MeshSpec(nodes), image_force=(image, image))


def test_image_lowering_per_node_follows_both_electrodes():
    arr = _hole_only(0.5, True)
    sc = scaling_for(arr.temperature_K)
    low_n, low_p = image_lowering(arr, sc)
    x = np.asarray(node_positions_m(arr))
    a = 1e-9  # Boltzmann layer: the default cut-off
    expected = (constants.e / (16 * np.pi * constants.epsilon_0 * 3.0)) * (
        1 / (x + a) + 1 / (x[-1] - x + a)
    )
    np.testing.assert_allclose(np.asarray(low_p) * VT, expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(low_n), np.asarray(low_p), rtol=0)
    # a Gaussian layer's cut-off is its site spacing
    arr_g = _hole_only(0.5, True, gauss=True)
    _, low_g = image_lowering(arr_g, sc)
    np.testing.assert_allclose(
        float(low_g[0]) * VT,
        constants.e / (16 * np.pi * constants.epsilon_0 * 3.0)
        * (1 / site_spacing_m(4.25e26) + 1 / (x[-1] + site_spacing_m(4.25e26))),
        rtol=1e-12,
    )


@pytest.mark.slow  # ~110 s; the fast suite keeps the image-force barrier tests
def test_equilibrium_stays_exact_with_image_force_and_a_built_in_field():
    """A 1.5 eV built-in potential with image force at both electrodes: flat quasi-Fermi
    levels and J = 0 at V = 0 (the image potential is part of the energy landscape)."""
    htl = layer(40, 2.3, 3.0, 1e-6, 1e-4, eps=3.0)
    etl = layer(40, 2.8, 3.5, 1e-4, 1e-6, eps=3.5)
    arr = build_arrays([htl, etl], 5.0, 3.5, mesh=MeshSpec(32), image_force=(True, True))
    st = solve_sweep(arr, jnp.array([0.0, 0.5]))
    assert np.all(np.asarray(st.converged))
    assert np.max(np.abs(np.asarray(st.u[0])[:, 1:])) < 1e-8
    ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
    j = np.asarray(ob.current_density_A_m2)
    assert abs(j[0]) < 1e-9 * max(abs(j[1]), 1e-9)


@pytest.mark.slow  # two 96-node sweeps (~3 min on 2 busy cores)
def test_image_force_lowers_the_barrier_top_to_the_schottky_value():
    """Hole-only device, 0.6 eV barriers at both contacts, 60 nm, at 2-4 V: with image
    force the hole barrier E_F - (E_v + U) (the HOMO raised by the image potential) peaks
    Delta phi = barrier_lowering_V(F) below the barrier without it, F the field near the
    injecting contact, within 5 meV; the current rises by less than exp(Delta phi / kT),
    by exp(Delta phi_eff / kT) with Delta phi_eff between 0.6 and 1.0 Delta phi, because the
    diffusion-limited injection prefactor falls with the barrier's curvature (J. C. Scott
    and G. G. Malliaras, Chem. Phys. Lett. 299, 115 (1999))."""
    v = jnp.array([0.0, 1.0, 2.0, 3.0, 4.0])
    j, top, field = {}, {}, {}
    for image in (False, True):
        arr = _hole_only(0.6, image, nodes=96)
        st = solve_sweep(arr, v)
        assert np.all(np.asarray(st.converged))
        ob = sweep_observables(st.u, arr, jnp.zeros(1))
        j[image] = np.asarray(ob.current_density_A_m2)
        sc = scaling_for(arr.temperature_K)
        _, low_p = image_lowering(arr, sc) if image else (None, jnp.zeros(arr.n_nodes))
        x = np.asarray(node_positions_m(arr))
        level = np.asarray(ob.valence_band_eV) + np.asarray(low_p)[None, :] * VT
        # the hole barrier's top above the anode's Fermi level (at -V eV): a hole's energy
        # is -(E_v + U), highest where E_v + U is lowest
        fermi = -np.asarray(v)
        top[image] = fermi[:, None] - level.min(axis=1)[:, None]
        top[image] = top[image][:, 0]
        near = x < 5e-9
        psi = -np.asarray(ob.conduction_band_eV) - 2.0  # psi = -(E_c + chi) [V]
        field[image] = -np.array(
            [np.polyfit(x[near], p[near], 1)[0] for p in psi]
        )
    for k in (2, 3, 4):
        expected = float(barrier_lowering_V(field[True][k], 3.0, 1e-9))
        lowered = top[False][k] - top[True][k]
        effective = VT * np.log(j[True][k] / j[False][k])
        print(
            f"V = {float(v[k])}: F = {field[True][k]:.3g} V/m, barrier top lowered "
            f"{lowered:.4f} eV (barrier_lowering_V {expected:.4f}), current gain "
            f"{effective:.4f} eV"
        )
        assert abs(lowered - expected) < 0.005
        assert 0.6 * expected < effective < 1.0 * expected
