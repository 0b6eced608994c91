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
    image_potential_V,
    schottky_lowering_V,
    site_spacing_m,
)

VT = constants.k * 300.0 / constants.e


def test_image_potential_in_a_uniform_field_gives_the_schottky_lowering():
    """The level Phi_B - F d - U(d) peaks at Phi_B - sqrt(qF/(4 pi eps)) + F a (the
    cut-off a moves the image by a), for fields from 1e6 to 3e8 V/m."""
    eps, a = 3.0, 1.6e-9
    d = np.linspace(0.0, 60e-9, 600_001)
    for field in (1e6, 1e7, 1e8, 3e8):
        level = -field * d - np.asarray(image_potential_V(d, eps, a))
        peak = level.max()
        expected = -float(schottky_lowering_V(field, eps)) + field * a
        d_m = np.sqrt(constants.e / (16 * np.pi * constants.epsilon_0 * eps * field))
        if d_m > a:
            np.testing.assert_allclose(peak, expected, rtol=1e-6, atol=1e-9)
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
def test_image_force_raises_injection_over_a_barrier_by_about_the_schottky_factor():
    """Hole-only device, 0.6 eV barriers at both contacts, 60 nm: the current with image
    force exceeds the one without by exp(Delta phi_eff / kT), with the effective lowering
    Delta phi_eff within 30 % of sqrt(qF/(4 pi eps)) - F a at the mean field (the field at
    the injecting contact differs from V/L by the space charge; low injection keeps it
    close)."""
    v = jnp.array([0.0, 1.0, 2.0, 3.0, 4.0])
    j = {}
    for image in (False, True):
        arr = _hole_only(0.6, image, nodes=96)
        st = solve_sweep(arr, v)
        assert np.all(np.asarray(st.converged))
        ob = sweep_observables(st.u, arr, jnp.zeros(1))
        j[image] = np.asarray(ob.current_density_A_m2)
    for k in (2, 3, 4):
        field = float(v[k]) / 60e-9
        expected = float(schottky_lowering_V(field, 3.0)) - field * 1e-9
        measured = VT * np.log(j[True][k] / j[False][k])
        print(f"V = {float(v[k])}: lowering {measured:.4f} eV (uniform-field {expected:.4f})")
        assert abs(measured / expected - 1.0) < 0.3
