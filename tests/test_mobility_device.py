"""Mobility models in the device (peled.model.mobility through the edge fluxes): the
Jacobian stays exact and block-tridiagonal, Poole-Frenkel raises the current by its
field factor, and EGDM's density and field enhancement act on a Gaussian layer."""

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
from peled.core.residual import edge_mobilities, geometry, node_state, residual
from peled.core.scaling import scaling_for
from peled.model.mobility import egdm_mobility

VT = constants.k * 300.0 / constants.e


def _hole_only(model="constant", nodes=32, gamma=0.0, gauss=True, sigma=0.1):
    lay = layer(100, 2.0, 3.0, 1e-12, 1e-4, eps=3.0, nc_cm3=1e21,
                hole_mobility_model=model, hole_poole_frenkel_gamma=gamma)
    if gauss:
        lay.update(hole_statistics="gauss_fermi", electron_statistics="gauss_fermi",
                   hole_disorder_eV=sigma, electron_disorder_eV=sigma)
    # ohmic hole contact at both ends (work function at the HOMO): no built-in field
    return build_arrays([lay], 5.0, 5.0, mesh=MeshSpec(nodes))


def test_jacobian_equals_autodiff_with_egdm_and_poole_frenkel():
    """EGDM holes and Poole-Frenkel electrons next to each other: the 3-colour Jacobian
    equals jax.jacfwd at a state with dense carriers and a strong field (1e-10 of the
    largest entry)."""
    htl = layer(30, 2.3, 3.0, 1e-6, 1e-4, nc_cm3=1e21, hole_statistics="gauss_fermi",
                electron_statistics="gauss_fermi", hole_disorder_eV=0.1,
                electron_disorder_eV=0.1, hole_mobility_model="egdm",
                electron_mobility_model="poole_frenkel", electron_poole_frenkel_gamma=3e-4)
    etl = layer(30, 2.8, 3.4, 1e-4, 1e-7, nc_cm3=1e21, electron_mobility_model="poole_frenkel",
                electron_poole_frenkel_gamma=2e-4)
    arr = build_arrays([htl, etl], 5.1, 3.0, mesh=MeshSpec(6))
    # a state with dense, field-driven carriers (no solve needed: the Jacobian must be
    # exact at any state): Fermi levels within ~0.2 eV of the transport levels
    x = jnp.linspace(0.0, 1.0, arr.n_nodes)
    psi = (2.0 - 5.0 * x) / VT
    u = jnp.stack([psi, psi + (2.6 - 0.3 * x) / VT, psi + (5.2 + 0.4 * x) / VT], -1)
    _, _, jac = _fun_and_jacobian(u, arr, jnp.asarray(3.0))
    # jitted: eager jacfwd dispatches every op of the residual (~3x slower)
    dense = jax.jit(jax.jacfwd(lambda v, a: residual(v.reshape(u.shape), a, 3.0).ravel()))(
        u.ravel(), arr
    )
    scale = np.max(np.abs(np.asarray(dense)))
    np.testing.assert_allclose(np.asarray(jac.dense()), np.asarray(dense), atol=1e-10 * scale)


def test_edge_mobility_follows_each_model_on_a_state():
    """On a given state the edge mobilities are mu0 (constant), mu0 exp(gamma sqrt|F|)
    with the edge field, and EGDM at the edge's geometric-mean occupancy and field."""
    rng = np.random.default_rng(2)
    for model in ("constant", "poole_frenkel", "egdm"):
        arr = _hole_only(model, nodes=8, gamma=4e-4)
        sc = scaling_for(arr.temperature_K)
        geo = geometry(arr, sc)
        psi = jnp.asarray(np.cumsum(rng.normal(scale=3.0, size=8))) - 3.0 / VT
        phi_p = psi + 4.8 / VT + jnp.asarray(rng.uniform(-2, 2, 8))
        st = node_state(jnp.stack([psi, psi, phi_p], -1), arr, sc)
        mu = np.asarray(edge_mobilities(st, arr, geo, sc, "hole")) * sc.mobility_m2_Vs
        field = -np.diff(np.asarray(psi)) / np.asarray(geo.h) * VT / sc.length_m
        if model == "constant":
            np.testing.assert_array_equal(mu, 1e-8)
        elif model == "poole_frenkel":
            np.testing.assert_allclose(mu, 1e-8 * np.exp(4e-4 * np.sqrt(np.abs(field))), rtol=1e-12)
        else:
            occ = np.sqrt(np.asarray(st.p[:-1] * st.p[1:])) * sc.density_m3 / 1e27
            ref = egdm_mobility(1e-8, field, occ, 0.1 / VT, 1e-9, 300.0)
            np.testing.assert_allclose(mu, np.asarray(ref), rtol=1e-12)
            assert np.all(mu >= 1e-8)


@pytest.mark.slow  # ~90 s; the fast suite keeps the mobility models and their Jacobian
def test_poole_frenkel_raises_the_space_charge_limited_current():
    """A hole-only trap-free device: with gamma the space-charge-limited current rises by
    Murgatroyd's factor exp(0.891 gamma sqrt(V/L)) (P. N. Murgatroyd, J. Phys. D 3, 151
    (1970), good to ~10 % for gamma sqrt(V/L) <~ 3), not by the factor at the mean field."""
    v = jnp.array([0.0, 0.05, 2.0, 5.0])
    j = {}
    for gamma in (0.0, 3e-4):
        arr = _hole_only("poole_frenkel", nodes=48, gamma=gamma, gauss=False)
        st = solve_sweep(arr, v)
        assert np.all(np.asarray(st.converged))
        ob = sweep_observables(st.u, arr, jnp.zeros(1))
        j[gamma] = np.asarray(ob.current_density_A_m2)
    ratio = j[3e-4][2:] / j[0.0][2:]
    murgatroyd = np.exp(0.891 * 3e-4 * np.sqrt(np.asarray(v[2:]) / 100e-9))
    print(f"J ratio {ratio}, Murgatroyd {murgatroyd}")
    np.testing.assert_allclose(ratio, murgatroyd, rtol=0.1)
    assert j[3e-4][1] > j[0.0][1]
