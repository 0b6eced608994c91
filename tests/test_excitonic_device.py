"""The excitonic emitter in a device (`emitter_model: excitonic`): Langevin capture, the
PLQY counted once, per-crystal Auger that acts only at high occupancy."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import constants

from peled.core.newton import solve_sweep
from peled.core.observables import sweep_observables
from peled.core.params import MeshSpec
from peled.device import device_from_mapping
from peled.simulate import radiative_weight


def _green(emitter_overrides, image_force=False):
    # the classic physics: each layer as its material file and overrides say
    return device_from_mapping(
        {
            "name": "t",
            "physics": "classic",
            "anode": {"material": "ITO", "image_force": image_force},
            "cathode": {"material": "LiF/Al", "image_force": image_force},
            "layers": [
                {"material": "PEDOT:PSS", "thickness_nm": 40},
                {"material": "TFB", "thickness_nm": 30},
                {"material": "CsPbBr3-NC", "thickness_nm": 30, "overrides": emitter_overrides},
                {"material": "TPBi", "thickness_nm": 40},
            ],
        },
        "t.yaml",
    )


def test_excitonic_entries_replace_the_continuum_recombination():
    """Langevin capture from the film's mobilities and permittivity; no SRH loss (a 1e3 s
    lifetime) and no continuum Auger; tau_X = PLQY tau_r; the per-crystal Auger
    lifetimes at their reference edge. The continuum emitter keeps its own numbers."""
    exc = _green({"emitter_model": "excitonic"}).to_arrays(MeshSpec(8)).layers
    cont = _green({}).to_arrays(MeshSpec(8)).layers
    k = 2
    gamma_l = constants.e * (1e-8 + 5e-9) / (constants.epsilon_0 * 10.0)
    np.testing.assert_allclose(float(exc.radiative_coefficient_m3_s[k]), gamma_l, rtol=1e-12)
    assert float(exc.srh_lifetime_electron_s[k]) == 1e3
    assert float(exc.auger_coefficient_electron_m6_s[k]) == 0.0
    np.testing.assert_allclose(float(exc.exciton_lifetime_s[k]), 0.5 * 2.43e-9, rtol=1e-12)
    np.testing.assert_allclose(float(exc.trion_auger_lifetime_s[k]), 504e-12, rtol=1e-12)
    np.testing.assert_allclose(float(exc.biexciton_auger_lifetime_s[k]), 126e-12, rtol=1e-12)
    assert float(cont.radiative_coefficient_m3_s[k]) == pytest.approx(1.5e-16)
    assert float(cont.trion_auger_lifetime_s[k]) == np.inf
    # both report carriers per crystal in the film (packing 0.55 of 10 nm cubes), 0 elsewhere
    np.testing.assert_allclose(float(cont.nanocrystal_packing_fraction[k]), 0.55)
    assert float(cont.nanocrystal_packing_fraction[1]) == 0.0


def test_photon_yield_is_plqy_at_low_occupancy_and_auger_takes_over_at_high():
    """Each captured pair yields PLQY photons while the crystals hold few carriers (IQE =
    PLQY x the captured share of the current): S = 1 within 1e-6 where f_c < 1e-6, and
    S = 1 / (1 + f_c tau_X/tau_T + f_X tau_X/tau_XX) at every node."""
    dev = _green({"emitter_model": "excitonic"})
    arr = dev.to_arrays(MeshSpec(16))
    weight = radiative_weight(dev, arr)
    v = jnp.array([0.0, 1.5, 2.5, 3.5, 4.5])
    st = solve_sweep(arr, v)
    assert np.all(np.asarray(st.converged))
    ob = sweep_observables(st.u, arr, weight)
    lay = np.asarray(arr.node_layer)
    em = lay == 2
    f_c = np.asarray(ob.carriers_per_crystal)
    s = np.asarray(ob.auger_survival)
    assert np.all(f_c[:, ~em] == 0.0) and np.all(s[:, ~em] == 1.0)
    low = em[None, :] & (f_c < 1e-6)
    assert low.any()
    np.testing.assert_allclose(s[low], 1.0, atol=2e-6)
    tau_x, tau_t, tau_xx = 0.5 * 2.43e-9, 504e-12, 126e-12
    f_x = np.asarray(ob.radiative_rate_m3_s) * tau_x * (1e-8) ** 3 / 0.55
    expected = 1.0 / (1.0 + f_c * tau_x / tau_t + f_x * tau_x / tau_xx)
    np.testing.assert_allclose(s[:, em], expected[:, em], rtol=1e-10)
    # the photon flux is the capture integral weighted by PLQY x S
    w = np.asarray(ob.recombination_width_m)
    interior = np.ones(arr.n_nodes)
    interior[[0, -1]] = 0.0
    phi = np.sum(
        w * interior * np.asarray(weight)[None] * s * np.asarray(ob.radiative_rate_m3_s), 1
    )
    np.testing.assert_allclose(np.asarray(ob.internal_photon_flux_m2_s), phi, rtol=1e-10)
