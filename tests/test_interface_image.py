"""Image force at a heterointerface with a screening layer
(peled.model.interfaces.image_plane): the Debye-length criterion, which database
interfaces it selects, the image potential and charge-free gap it puts into the
discretisation, exact equilibrium, and the limit of a layer that screens like a metal,
where the interface injects as an electrode with image force does."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from devices import layer
from scipy import constants

from peled.core.discretize import build_arrays
from peled.core.newton import solve_sweep
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec, node_positions_m
from peled.core.residual import geometry, image_lowering
from peled.core.scaling import scaling_for
from peled.device import device_from_mapping, device_to_mapping, load_device
from peled.model.contacts.image_force import image_potential_V, site_spacing_m
from peled.model.interfaces.image_plane import debye_length_m, screens_as_image_plane

ROOT = Path(__file__).resolve().parent.parent
VT = constants.k * 300.0 / constants.e
GAUSS = dict(
    hole_statistics="gauss_fermi",
    electron_statistics="gauss_fermi",
    hole_disorder_eV=0.1,
    electron_disorder_eV=0.1,
)


def test_debye_length_matches_the_textbook_value_for_silicon():
    """Sze & Ng, Physics of Semiconductor Devices (2007), Fig. 2.16 / eq. 2.46: silicon
    (eps_r 11.9) doped to 1e16 cm^-3 at 300 K has L_D = 0.041 um."""
    np.testing.assert_allclose(debye_length_m(11.9, 1e22, 300.0), 41e-9, rtol=0.02)
    # L_D ~ N^-1/2; an undoped layer never screens
    np.testing.assert_allclose(
        debye_length_m(11.9, 4e22, 300.0), 0.5 * debye_length_m(11.9, 1e22, 300.0)
    )
    assert np.isinf(debye_length_m(3.0, 0.0, 300.0))
    assert not screens_as_image_plane(debye_length_m(3.0, 0.0, 300.0), 1e-9)


def _t2_02(**keys):
    path = ROOT / "validation" / "devices" / "T2-02.yaml"
    data = yaml.safe_load(path.read_text())["device"]
    return device_from_mapping({**data, **keys})


def test_pedot_pss_is_the_image_plane_of_pvk_under_disorder_aware_physics():
    """PEDOT:PSS (N_A 3e19 cm^-3, eps_r 4: L_D 0.44 nm) screens within PVK's site spacing
    (N0 4.25e20 cm^-3: 1.33 nm); no other interface of the stack has a doped layer. The
    key follows the physics unless the device file sets it, and survives a round trip."""
    pedot_ld = debye_length_m(4.0, 3e25, 300.0)
    assert 0.4e-9 < pedot_ld < 0.5e-9
    assert screens_as_image_plane(pedot_ld, site_spacing_m(4.25e26))
    assert _t2_02(physics="disorder_aware").interface_images() == (1, 0, 0)
    assert _t2_02().interface_images() == (1, 0, 0)  # the default physics
    assert _t2_02(physics="classic").interface_images() == (0, 0, 0)
    assert _t2_02(physics="disorder_aware", interface_image_force=False).interface_images() == (
        0,
        0,
        0,
    )
    assert _t2_02(physics="classic", interface_image_force=True).interface_images() == (1, 0, 0)
    dev = _t2_02(physics="disorder_aware")
    again = device_from_mapping(device_to_mapping(dev))
    assert again.interface_image_force and again.interface_images() == (1, 0, 0)
    assert dev.to_arrays(MeshSpec(8)).interface_image == (1, 0, 0)
    # ZnO nanoparticles (N_D 1e18 cm^-3, eps_r 8.5: L_D 3.5 nm) do not screen within
    # the emitter's 1 nm: the inverted example has no image plane
    inverted = load_device(ROOT / "examples" / "inverted-zno.yaml", physics="disorder_aware")
    assert inverted.interface_image_force and not any(inverted.interface_images())


def _doped_and_gaussian(nodes=16, tag=1, gauss=True):
    dop = layer(10, 3.0, 2.1, 1e-4, 0.1, eps=4.0, nc_cm3=1e20, acceptor_density_m3=3e25)
    org = layer(30, 2.2, 3.6, 1e-10, 1e-6, eps=3.0, nc_cm3=4.25e20, **(GAUSS if gauss else {}))
    layers = [dop, org] if tag == 1 else [org, dop]
    return build_arrays(layers, 5.07, 2.5, mesh=MeshSpec(nodes), interface_image=(tag,))


@pytest.mark.parametrize("tag", [1, -1])
def test_image_potential_and_gap_sit_in_the_receiving_layer(tag):
    """The receiving (Gaussian) layer's levels carry U(d + a), a = N0^-1/3, d the distance
    from the interface, on both carriers and nowhere else; the interface edge's Poisson
    flux crosses the charge-free gap a in that layer's permittivity in series with the
    two half-edges."""
    arr = _doped_and_gaussian(tag=tag)
    sc = scaling_for(arr.temperature_K)
    low_n, low_p = image_lowering(arr, sc)
    x = np.asarray(node_positions_m(arr))
    m = arr.nodes_per_layer
    a = site_spacing_m(4.25e26)
    receiving = slice(m, 2 * m) if tag == 1 else slice(0, m)
    other = slice(0, m) if tag == 1 else slice(m, 2 * m)
    d = x[receiving] - 10e-9 if tag == 1 else 30e-9 - x[receiving]
    np.testing.assert_allclose(
        np.asarray(low_p)[receiving] * VT, image_potential_V(d, 3.0, a), rtol=1e-12
    )
    np.testing.assert_allclose(np.asarray(low_n), np.asarray(low_p), rtol=0)
    assert np.all(np.asarray(low_p)[other] == 0.0)
    geo = geometry(arr, sc)
    edge = m - 1
    face = 10e-9 if tag == 1 else 30e-9
    eps_l, eps_r = (4.0, 3.0) if tag == 1 else (3.0, 4.0)
    series = (face - x[edge]) / eps_l + (x[edge + 1] - face) / eps_r + a / 3.0
    np.testing.assert_allclose(
        float(geo.eps_edge[edge]), (x[edge + 1] - x[edge]) / series, rtol=1e-12
    )
    plain = build_arrays(
        [layer(10, 3.0, 2.1, 1e-4, 0.1, eps=4.0), layer(30, 2.2, 3.6, 1e-10, 1e-6)],
        5.07,
        2.5,
        mesh=MeshSpec(16),
    )
    assert not np.any(np.asarray(image_lowering(plain, sc)[0]))


@pytest.mark.slow  # ~60 s of compiling on 2 cores; the default suite keeps the unit tests
def test_equilibrium_stays_exact_with_an_image_plane():
    """With the image potential and the gap in place (both part of the energy landscape
    and the electrostatics) the equilibrium and 1 V pass the strict test, and at V = 0
    the quasi-Fermi levels are flat and J = 0. (Flat levels follow from the fluxes'
    detailed-balance form for any landscape; the strict Poisson solve across the gap is
    what can fail here. A Boltzmann receiving layer, whose sweep compiles fastest.)"""
    arr = _doped_and_gaussian(nodes=16, gauss=False)
    assert arr.interface_image == (1,)
    st = solve_sweep(arr, jnp.array([0.0, 1.0]))
    assert np.all(np.asarray(st.converged))
    assert np.all(np.asarray(st.result_code) == 0)
    assert np.max(np.abs(np.asarray(st.u[0])[:, 1:])) < 1e-8
    ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
    j = np.asarray(ob.current_density_A_m2)
    assert abs(j[0]) < 1e-9 * max(abs(j[1]), 1e-9)


@pytest.mark.slow  # two 32-node Gauss-Fermi sweeps, ~3 min on 2 cores
def test_a_metal_like_layer_injects_as_an_electrode_with_image_force():
    """Hole-only device, 60 nm Gaussian layer (sigma 0.1 eV, N0 4.25e20 cm^-3), a 0.6 eV
    hole barrier: injected from an anode with image force, or from a 10 nm layer doped
    to 3e21 cm^-3 (L_D 0.08 nm, Fermi level at the anode's work function) that is the
    Gaussian layer's image plane. Both put U(d + a) and a gap a in front of the first
    sites, so as L_D -> 0 the currents agree: within 10 % at 3-6 V and 20 % at 2 V
    (below the built-in voltage, where the doped layer's own band bending counts)."""
    org = layer(60, 2.2, 3.6, 1e-10, 1e-6, eps=3.0, nc_cm3=4.25e20, **GAUSS)
    dop = layer(10, 3.0, 2.1, 1e-4, 1.0, eps=4.0, nc_cm3=1e22, acceptor_density_m3=3e27)
    wf = 5.1 - VT * np.log(1e22 / 3e21)
    v = jnp.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    electrode = build_arrays([org], wf, 2.5, mesh=MeshSpec(32), image_force=(True, False))
    plane = build_arrays([dop, org], wf, 2.5, mesh=MeshSpec(32), interface_image=(1,))
    j = []
    for arr in (electrode, plane):
        st = solve_sweep(arr, v)
        assert np.all(np.asarray(st.converged))
        ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
        j.append(np.asarray(ob.current_density_A_m2))
    ratio = j[1][2:] / j[0][2:]
    print("J(image plane) / J(electrode) at 2-6 V:", ratio)
    assert abs(ratio[0] - 1.0) < 0.2
    assert np.all(np.abs(ratio[1:] - 1.0) < 0.1)
