"""Implicit gradients of the disorder-aware physics against finite differences: d ln J and
d ln(photon flux) at a converged bias with respect to the Gaussian disorder sigma, the
site density N0 and mu0 of an EGDM layer, the Poole-Frenkel gamma of another, and the
crystal edge, the trion Auger lifetime and the charging energy of a nanocrystal film with
the excitonic emitter (peled.core.implicit)."""

from __future__ import annotations

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from peled.core.implicit import steady_state
from peled.core.newton import SolverSettings, solve_sweep
from peled.core.observables import bias_observables
from peled.core.params import MeshSpec
from peled.device import device_from_mapping
from peled.simulate import radiative_weight

VOLTS = jnp.array([0.0, 1.0, 2.0, 2.5, 3.0, 3.5, 4.0])
# the forward pass converges at every bias of this device; no retry passes to compile
LEAN = SolverSettings(alternate_order_pass=False, backward_fill=False, near_null_deflation=False)
HTL, EML, ETL = 0, 1, 2
# (name, LayerParams fields it sets, layer): each parameter varies in log space
PARAMETERS = (
    ("sigma", ("hole_disorder_eV",), HTL),
    ("N0", ("valence_band_dos_m3", "conduction_band_dos_m3"), HTL),
    ("mu0", ("hole_mobility_m2_Vs",), HTL),
    ("gamma_pf", ("electron_poole_frenkel_gamma",), ETL),
    ("crystal_size", ("nanocrystal_size_m",), EML),
    ("trion_lifetime", ("trion_auger_lifetime_s",), EML),
    ("charging_energy", ("nanocrystal_charging_energy_eV",), EML),
)


def _device():
    return device_from_mapping(
        {
            "name": "disorder gradients",
            "anode": {"material": "ITO", "image_force": True},
            "cathode": {"material": "LiF/Al", "image_force": True},
            "layers": [
                {
                    "material": "TFB",
                    "thickness_nm": 30,
                    "overrides": {"statistics": "gauss_fermi", "hole_mobility_model": "egdm"},
                },
                {
                    "material": "CsPbBr3-NC",
                    "thickness_nm": 20,
                    "overrides": {"statistics": "nanocrystal", "emitter_model": "excitonic"},
                },
                {
                    "material": "TPBi",
                    "thickness_nm": 30,
                    "overrides": {
                        "electron_mobility_model": "poole_frenkel",
                        "electron_poole_frenkel_gamma_cm_V_sqrt": 3e-3,
                    },
                },
            ],
        },
        "gradients.yaml",
    )


def _with(arrays, log_values):
    layers = arrays.layers
    for (_, fields, k), lv in zip(PARAMETERS, log_values, strict=True):
        for f in fields:
            layers = replace(layers, **{f: getattr(layers, f).at[k].set(jnp.exp(lv))})
    return replace(arrays, layers=layers)


@pytest.mark.slow  # one compile of the nanocrystal/EGDM sweep, 29 solves: ~8 min on one core
def test_implicit_gradients_match_central_differences():
    """Every component within 1e-4 of the finite difference (relative, or of the largest
    component where a derivative is that much smaller), at the highest bias of 2-4 V that
    is strictly converged (gradients exist only there; peled.core.newton.RESULT_CODES).
    Measured at 4 V against the extrapolated differences: worst 2.2e-6 (N0 on the photon
    flux), sigma 4.1e-7 (d ln J / d ln sigma = 10.1), the charging energy 8.8e-7
    (d ln J / d ln U = 0.14) and 1.4e-7 (d ln flux / d ln U = 0.78), the others 7e-8 to
    1e-6."""
    dev = _device()
    arrays = dev.to_arrays(MeshSpec(12))
    weight = radiative_weight(dev, arrays)
    theta0 = jnp.log(jnp.array([float(getattr(arrays.layers, f[0])[k]) for _, f, k in PARAMETERS]))

    def figures(a, u):
        ob = bias_observables(u, a, weight)
        return jnp.stack([jnp.log(ob.current_density_A_m2), jnp.log(ob.internal_photon_flux_m2_s)])

    st = solve_sweep(arrays, VOLTS, LEAN)
    assert np.all(np.asarray(st.converged))
    strict = np.flatnonzero(np.asarray(st.result_code) == 0)
    k = int(strict[-1])
    print("result codes", np.asarray(st.result_code), "-> gradient at", float(VOLTS[k]), "V")
    assert float(VOLTS[k]) >= 2.0
    u_star = st.u[k]

    def f(theta):
        a = _with(arrays, theta)
        return figures(a, steady_state(u_star, a, VOLTS[k]))

    grad = np.asarray(jax.jacrev(f)(theta0))  # (2 figures, 7 parameters)
    # central differences at h and h/2, Richardson-extrapolated, (4 D(h/2) - D(h)) / 3,
    # which cancels their h^2 f'''/6 truncation error: plain central differences at
    # h = 1e-3 are off by 1.0e-4 for sigma (d ln J / d ln sigma = 10; 4.2e-4 at 2e-3,
    # 2.5e-5 at 5e-4, the h^2 law), the extrapolation by 4e-7
    h = 1e-3

    def central(i, step):
        side = []
        for s in (1.0, -1.0):
            a = _with(arrays, theta0.at[i].add(s * step))
            sti = solve_sweep(a, VOLTS, LEAN)
            # the reference may stall at its precision floor (code 1, "floor": relative
            # residual below floor_rtol, psi updates negligible); its error enters the
            # difference divided by 2 step
            assert int(sti.result_code[k]) in (0, 1), int(sti.result_code[k])
            side.append(np.asarray(figures(a, sti.u[k])))
        return (side[0] - side[1]) / (2 * step)

    fd = np.zeros_like(grad)
    for i in range(len(PARAMETERS)):
        fd[:, i] = (4.0 * central(i, 0.5 * h) - central(i, h)) / 3.0
    print("implicit:\n", grad, "\nfinite differences:\n", fd)
    scale = np.maximum(np.abs(fd), 1e-3 * np.max(np.abs(fd), axis=1, keepdims=True))
    err = np.abs(grad - fd) / scale
    print("relative error per component:\n", err)
    assert np.all(np.isfinite(grad))
    assert err.max() < 1e-4, err
    # every parameter moves the current or the light
    assert np.all(np.max(np.abs(fd), axis=0) > 1e-4)
