"""Mobility models: the mobility [m^2/Vs] on each edge of the mesh.

Each model is a term chosen per layer and carrier by a static tag; its numbers are traced
arrays broadcast per edge (:func:`edge_mobility`):

=============  ===========================================  ===================================
tag            mu [m^2/Vs]                                  module
=============  ===========================================  ===================================
constant       mu0 (returned unchanged, bit for bit)        --
poole_frenkel  mu0 exp(gamma sqrt(|F|)),                    :mod:`.poole_frenkel`
               gamma [(m/V)^0.5] = 0.1 gamma [(cm/V)^0.5]   (Murgatroyd 1970; Gill 1972)
egdm           mu0(T) g1(sigma/kT, c) g2(sigma/kT, F e a/s)  :mod:`.egdm` (Pasveer et al.,
               extended Gaussian disorder model             Phys. Rev. Lett. 94, 206601 (2005))
=============  ===========================================  ===================================

Symbols: mu0 [m^2/Vs] the (low-density, zero-field) mobility at the device temperature;
F [V/m] the field along the edge (either sign); c = n/N0 [-] the carrier occupancy per
site; sigma/kT [-] the Gaussian disorder in thermal energies; a = N0^(-1/3) [m] the site
spacing; gamma [(m/V)^0.5] the Poole-Frenkel coefficient (material key
``*_poole_frenkel_gamma_cm_V_sqrt`` in (cm/V)^0.5, converted by
:func:`gamma_from_cm_V_sqrt`); T [K] the temperature. The modules state the validity
ranges and what each model does outside them; all are pure JAX, elementwise,
jit/vmap/grad-safe and float64.
"""

from __future__ import annotations

import jax

from peled.model.mobility.egdm import (
    EGDM_C1,
    EGDM_C2,
    EGDM_OCCUPANCY_FLOOR,
    EGDM_OCCUPANCY_MAX,
    EGDM_REDUCED_FIELD_MAX,
    EGDM_SIGMA_HAT_MIN,
    egdm_delta,
    egdm_g1,
    egdm_g2,
    egdm_mobility,
    egdm_mu0_of_temperature,
    egdm_reduced_field,
)
from peled.model.mobility.poole_frenkel import (
    GAMMA_CM_V_SQRT_TO_M_V_SQRT,
    PF_FIELD_SMOOTHING_V_M,
    gamma_from_cm_V_sqrt,
    poole_frenkel_factor,
    poole_frenkel_mobility,
    smooth_sqrt_abs_field,
)

#: The mobility models, by tag.
MOBILITY_MODELS = ("constant", "poole_frenkel", "egdm")

__all__ = [
    "EGDM_C1",
    "EGDM_C2",
    "EGDM_OCCUPANCY_FLOOR",
    "EGDM_OCCUPANCY_MAX",
    "EGDM_REDUCED_FIELD_MAX",
    "EGDM_SIGMA_HAT_MIN",
    "GAMMA_CM_V_SQRT_TO_M_V_SQRT",
    "MOBILITY_MODELS",
    "PF_FIELD_SMOOTHING_V_M",
    "edge_mobility",
    "egdm_delta",
    "egdm_g1",
    "egdm_g2",
    "egdm_mobility",
    "egdm_mu0_of_temperature",
    "egdm_reduced_field",
    "gamma_from_cm_V_sqrt",
    "poole_frenkel_factor",
    "poole_frenkel_mobility",
    "smooth_sqrt_abs_field",
]


def edge_mobility(
    model: str,
    mu0: jax.typing.ArrayLike,
    field_V_m: jax.typing.ArrayLike,
    occupancy: jax.typing.ArrayLike,
    sigma_over_kT: jax.typing.ArrayLike,
    site_spacing_m: jax.typing.ArrayLike,
    gamma_pf: jax.typing.ArrayLike,
    temperature_K: jax.typing.ArrayLike,
) -> jax.Array:
    """The mobility [m^2/Vs] of each edge under the model ``model`` (a static tag).

    ``model`` is one of :data:`MOBILITY_MODELS` (a Python string, resolved at trace time);
    every other argument is a traced array broadcast per edge: ``mu0`` [m^2/Vs],
    ``field_V_m`` F [V/m], ``occupancy`` c = n/N0 [-], ``sigma_over_kT`` [-],
    ``site_spacing_m`` a [m], ``gamma_pf`` [(m/V)^0.5] (already in SI, see
    :func:`gamma_from_cm_V_sqrt`), ``temperature_K`` [K]. Arguments a model does not use
    are ignored.

    * ``constant``: returns ``mu0`` itself, unchanged bit for bit (not broadcast), so that
      results of constant-mobility devices do not change;
    * ``poole_frenkel``: :func:`poole_frenkel_mobility` (mu0, F, gamma_pf);
    * ``egdm``: :func:`egdm_mobility` (mu0, F, c, sigma/kT, a, T).

    Raises ValueError for an unknown tag.
    """
    if model == "constant":
        return mu0
    if model == "poole_frenkel":
        return poole_frenkel_mobility(mu0, field_V_m, gamma_pf)
    if model == "egdm":
        return egdm_mobility(
            mu0, field_V_m, occupancy, sigma_over_kT, site_spacing_m, temperature_K
        )
    raise ValueError(f"unknown mobility model {model!r}; expected one of {MOBILITY_MODELS}")
