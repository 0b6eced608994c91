"""Poole-Frenkel field-dependent mobility.

    mu(F) = mu0 exp(gamma sqrt(|F|))                                          [m^2/Vs]

with mu0 [m^2/Vs] the zero-field mobility, F [V/m] the field along the edge (either sign;
only |F| enters) and gamma [(m/V)^0.5] the field-enhancement coefficient. This is the
empirical Poole-Frenkel form used for organic semiconductors, e.g. P. N. Murgatroyd,
J. Phys. D 3, 151 (1970) (space-charge-limited current with a Frenkel field dependence) and
W. D. Gill, J. Appl. Phys. 43, 5033 (1972) (drift mobilities in amorphous
poly(N-vinylcarbazole), ln mu linear in sqrt(F)).

Units. Material files give the coefficient as ``*_poole_frenkel_gamma_cm_V_sqrt`` in
(cm/V)^0.5, the unit of the literature. Since gamma sqrt(F) is dimensionless and
F[V/cm] = 1e-2 F[V/m],

    gamma [(m/V)^0.5] = 0.1 gamma [(cm/V)^0.5]

(:data:`GAMMA_CM_V_SQRT_TO_M_V_SQRT`, :func:`gamma_from_cm_V_sqrt`); e.g. 3e-3 (cm/V)^0.5
is 3e-4 (m/V)^0.5.

Smooth |F|. sqrt(|F|) has an infinite derivative at F = 0, which would put inf (or, through
the chain rule, NaN) into a Jacobian at a field zero. It is replaced by

    s(F) = sqrt(hypot(F, F_s)) - sqrt(F_s) = (F^2 + F_s^2)^(1/4) - F_s^(1/2)      [(V/m)^0.5]

with F_s = :data:`PF_FIELD_SMOOTHING_V_M` = 1e-20 V/m. s is C-infinity and even in F,
s(0) = 0 exactly (so mu(0) = mu0 exactly), ds/dF(0) = 0, and by subadditivity of x^(1/4)

    sqrt(|F|) - sqrt(F_s) <= s(F) <= sqrt(|F|),

so the exponent is off by at most gamma sqrt(F_s) = gamma 1e-10: at most 1e-12 relative in mu
for every gamma <= 1e-2 (m/V)^0.5 (0.1 (cm/V)^0.5, far above measured values). hypot keeps
s finite for every finite F (no overflow of F^2). The largest slope, near |F| ~ F_s, is
~gamma / sqrt(F_s): large but finite.

No cap is applied: mu overflows only for gamma sqrt(|F|) > ~709, i.e. |F| > 5.6e12 V/m at
gamma = 3e-4 (m/V)^0.5, three orders of magnitude above dielectric breakdown.

All functions are elementwise with explicit broadcasting (so they run under
``jax_numpy_rank_promotion = "raise"``), jit/vmap/grad-safe, and meant for float64
(``jax_enable_x64``): in float32 the gradient at F = 0 comes out NaN.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: gamma [(m/V)^0.5] = GAMMA_CM_V_SQRT_TO_M_V_SQRT * gamma [(cm/V)^0.5]: (1e-2)^0.5 = 0.1.
GAMMA_CM_V_SQRT_TO_M_V_SQRT = 0.1

#: F_s [V/m]: the field scale below which sqrt(|F|) is smoothed (module docstring).
PF_FIELD_SMOOTHING_V_M = 1e-20


def gamma_from_cm_V_sqrt(gamma_cm_V_sqrt: jax.typing.ArrayLike) -> jax.Array:
    """gamma [(m/V)^0.5] from the material key ``*_poole_frenkel_gamma_cm_V_sqrt``.

    gamma_SI = 0.1 gamma_cm, since gamma sqrt(F) is dimensionless and 1 V/cm = 100 V/m.
    """
    return GAMMA_CM_V_SQRT_TO_M_V_SQRT * jnp.asarray(gamma_cm_V_sqrt)


def smooth_sqrt_abs_field(field_V_m: jax.typing.ArrayLike) -> jax.Array:
    """s(F) = (F^2 + F_s^2)^(1/4) - F_s^(1/2) [(V/m)^0.5], a smooth even sqrt(|F|).

    F [V/m], F_s = :data:`PF_FIELD_SMOOTHING_V_M`. s(0) = 0 and ds/dF(0) = 0 exactly;
    sqrt(|F|) - 1e-10 <= s(F) <= sqrt(|F|) for every F (module docstring).
    """
    field = jnp.asarray(field_V_m)
    return jnp.sqrt(jnp.hypot(field, PF_FIELD_SMOOTHING_V_M)) - jnp.sqrt(PF_FIELD_SMOOTHING_V_M)


def poole_frenkel_factor(
    field_V_m: jax.typing.ArrayLike, gamma_m_V_sqrt: jax.typing.ArrayLike
) -> jax.Array:
    """mu/mu0 = exp(gamma s(F)) [-] for F [V/m] and gamma [(m/V)^0.5] (elementwise)."""
    field, gamma = jnp.broadcast_arrays(field_V_m, gamma_m_V_sqrt)
    return jnp.exp(gamma * smooth_sqrt_abs_field(field))


def poole_frenkel_mobility(
    mu0: jax.typing.ArrayLike,
    field_V_m: jax.typing.ArrayLike,
    gamma_m_V_sqrt: jax.typing.ArrayLike,
) -> jax.Array:
    """mu = mu0 exp(gamma sqrt(|F|)) [m^2/Vs], with sqrt(|F|) smoothed as s(F).

    ``mu0`` [m^2/Vs] zero-field mobility, ``field_V_m`` [V/m] field (either sign),
    ``gamma_m_V_sqrt`` [(m/V)^0.5] (convert material values with
    :func:`gamma_from_cm_V_sqrt`). Elementwise with broadcasting; mu(F = 0) = mu0 exactly.
    """
    mu0, field, gamma = jnp.broadcast_arrays(mu0, field_V_m, gamma_m_V_sqrt)
    return mu0 * poole_frenkel_factor(field, gamma)
