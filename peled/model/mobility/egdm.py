"""Extended Gaussian disorder model (EGDM) mobility.

W. F. Pasveer, J. Cottaar, C. Tanase, R. Coehoorn, P. A. Bobbert, P. W. M. Blom,
D. M. de Leeuw and M. A. J. Michels, Phys. Rev. Lett. 94, 206601 (2005), parametrise the
master-equation hopping mobility on a cubic lattice of Gaussian-disordered sites as

    mu(T, c, F) = mu0(T) g1(T, c) g2(T, F)                                      [m^2/Vs]

    g1 = exp[ (1/2) (sigma_hat^2 - sigma_hat) (2 c)^delta ]                          [-]
    delta = 2 [ ln(sigma_hat^2 - sigma_hat) - ln(ln 4) ] / sigma_hat^2               [-]
    g2 = exp{ 0.44 (sigma_hat^(3/2) - 2.2) [ sqrt(1 + 0.8 E_n^2) - 1 ] }             [-]
    E_n = F e a / sigma = F a / (sigma_hat V_t),   V_t = k T / e                      [-]
    mu0(T) = c1 mu0* exp(-c2 sigma_hat^2),  c1 = 1.8e-9,  c2 = 0.42,  mu0* = a^2 nu0 e / sigma

with sigma [eV] the width of the Gaussian density of states, sigma_hat = sigma/kT [-],
c = n/N0 [-] the carrier occupancy per site, a = N0^(-1/3) [m] the site spacing, F [V/m]
the field, e the elementary charge and nu0 [1/s] the attempt frequency. g1 is the
carrier-density enhancement (-> 1 for c -> 0 when delta > 0), g2 the field enhancement
(= 1 at F = 0).

Sources for the forms and constants: the PRL above; the same expressions and constants
(1.8e-9, 0.42, 0.44, 2.2, 0.8, ln(ln 4)) are in the open simulator oedes
(M. Z. Szymanski, github.com/mzszym/oedes, ``oedes/functions/egdm.py``: ``g1``,
``g2_En2``, ``mu0t``) and were checked against it; S. L. M. van Mensfoort and
R. Coehoorn, Phys. Rev. B 78, 085207 (2008) use them in device models.

Validity. The parametrisation was fitted for sigma_hat ~ 3 ... 6, c < 0.1 and E_n < 2
(oedes documents the same recommended ranges and uses the caps c <= 0.1 and E_n <= 2).
peled takes mu0(T) at the device temperature from the user, so :func:`egdm_mobility` takes
mu0(T) as input; :func:`egdm_mu0_of_temperature` gives the published temperature factor
for those who need it.

Out-of-range behaviour (chosen here; every value and gradient stays finite for c in [0, 1]
or any c, F of either sign and any finite magnitude, sigma_hat in [0, 8]):

* c > 0.1: g1 is evaluated at c = 0.1 (a hard cap, as oedes' ``EGDMMobility`` does with
  ``g1_max_c = 0.1``; mu is flat in c above 0.1 and its c-derivative jumps to 0 there).
* c -> 0: (2c)^delta is evaluated as exp(delta ln(2 max(c, c_floor))) with
  c_floor = :data:`EGDM_OCCUPANCY_FLOOR` = 1e-100, so c = 0 gives no NaN: there the
  c-gradient is 0 and g1 = g1(c_floor), within 1e-10 of 1 for sigma_hat <= 8. (The true
  dg1/dc ~ c^(delta - 1) is infinite at c = 0 since delta < 1; oedes floors c at 1e-30.)
* |E_n| > 2: g2 is evaluated at E_n^2 = 4 (hard cap, as oedes does with
  ``g2_max_En = 2``; even in F and flat beyond), so g2 never overflows.
* sigma_hat < sigma_min = :data:`EGDM_SIGMA_HAT_MIN` = 2: the formula breaks down (the log
  in delta is undefined for sigma_hat <= 1; delta <= 0 for sigma_hat <= 1.779, where g1
  no longer tends to 1 at low c, and at delta = 0 g1 = 2 for every c). Both factors are
  then evaluated at sigma_min (E_n with sigma = sigma_min kT) and their logarithms are
  scaled by w = (sigma_hat/sigma_min)^2:

      ln g_i(sigma_hat) = w ln g_i(sigma_min),   sigma_hat < sigma_min,

  which is continuous at sigma_min (a kink in the sigma_hat derivative) and gives
  mu = mu0 exactly at sigma_hat = 0: no disorder, no density or field dependence.
  Negative sigma_hat is treated as 0. (oedes instead clips sigma_hat into [2, 7] as a
  numerical safeguard, noting the NaN of g1 for sigma_hat <= 1; the fade keeps the same
  lower edge but lets the factors vanish with the disorder.)
* sigma_hat > 6 is evaluated with the published formula unchanged (finite up to
  sigma_hat ~ 35, where ln g1 at c = 0.1 approaches the float64 exp limit).

All functions are elementwise with explicit broadcasting, pure JAX (jit/vmap/grad), for
float64.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from scipy import constants

#: c1 [-] of mu0(T) = c1 mu0* exp(-c2 sigma_hat^2) (Pasveer et al. 2005).
EGDM_C1 = 1.8e-9
#: c2 [-] of mu0(T) (Pasveer et al. 2005).
EGDM_C2 = 0.42
#: Largest occupancy at which g1 is evaluated (published validity c < 0.1).
EGDM_OCCUPANCY_MAX = 0.1
#: Smallest occupancy at which (2c)^delta is evaluated (keeps c = 0 NaN-free).
EGDM_OCCUPANCY_FLOOR = 1e-100
#: Largest reduced field E_n = F e a / sigma at which g2 is evaluated (published E_n < 2).
EGDM_REDUCED_FIELD_MAX = 2.0
#: Below this sigma/kT the factors are faded out (module docstring).
EGDM_SIGMA_HAT_MIN = 2.0

_LN_LN_4 = math.log(math.log(4.0))
_K_OVER_E = constants.k / constants.e  # [V/K]


def _broadcast(*args: jax.typing.ArrayLike) -> list[jax.Array]:
    return jnp.broadcast_arrays(*args)


def _regularised_disorder(sigma_hat: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(sigma_eff, w): sigma_eff = max(sigma_hat, sigma_min), w = min(1, (sigma_hat/sigma_min)^2).

    Written with ``jnp.where`` so that the gradient flows only through the selected branch.
    """
    s = jnp.where(sigma_hat > 0.0, sigma_hat, 0.0)
    low = s < EGDM_SIGMA_HAT_MIN
    s_eff = jnp.where(low, EGDM_SIGMA_HAT_MIN, s)
    weight = jnp.where(low, (s / EGDM_SIGMA_HAT_MIN) ** 2, 1.0)
    return s_eff, weight


def egdm_delta(sigma_hat: jax.typing.ArrayLike) -> jax.Array:
    """delta = 2 [ln(sigma_hat^2 - sigma_hat) - ln(ln 4)] / sigma_hat^2 [-] (Pasveer 2005).

    Defined for sigma_hat > 1 only (NaN otherwise); positive for sigma_hat > 1.779. The
    mobility functions call it with sigma_hat >= :data:`EGDM_SIGMA_HAT_MIN`.
    """
    s = jnp.asarray(sigma_hat)
    return 2.0 * (jnp.log(s * s - s) - _LN_LN_4) / (s * s)


def _ln_g1(s_eff: jax.Array, occupancy: jax.Array) -> jax.Array:
    """ln g1 = (1/2)(s^2 - s)(2c)^delta for s = s_eff >= sigma_min, c capped to [floor, 0.1]."""
    c = jnp.where(occupancy < EGDM_OCCUPANCY_MAX, occupancy, EGDM_OCCUPANCY_MAX)
    c = jnp.where(c > EGDM_OCCUPANCY_FLOOR, c, EGDM_OCCUPANCY_FLOOR)
    delta = egdm_delta(s_eff)
    return 0.5 * (s_eff * s_eff - s_eff) * jnp.exp(delta * jnp.log(2.0 * c))


def _ln_g2(s_eff: jax.Array, reduced_field: jax.Array) -> jax.Array:
    """ln g2 = 0.44 (s^1.5 - 2.2)(sqrt(1 + 0.8 E_n^2) - 1), E_n^2 capped at 4."""
    en2 = reduced_field * reduced_field
    en2_max = EGDM_REDUCED_FIELD_MAX * EGDM_REDUCED_FIELD_MAX
    en2 = jnp.where(en2 < en2_max, en2, en2_max)
    return 0.44 * (s_eff**1.5 - 2.2) * (jnp.sqrt(1.0 + 0.8 * en2) - 1.0)


def egdm_g1(sigma_hat: jax.typing.ArrayLike, occupancy: jax.typing.ArrayLike) -> jax.Array:
    """Density enhancement g1 = exp[(1/2)(sigma_hat^2 - sigma_hat)(2c)^delta] [-].

    ``sigma_hat`` = sigma/kT [-], ``occupancy`` c = n/N0 [-]. Out of range (c > 0.1,
    c -> 0, sigma_hat < 2) as in the module docstring. g1 >= 1, increasing in c up to
    c = 0.1 and constant above.
    """
    sigma_hat, occupancy = _broadcast(sigma_hat, occupancy)
    s_eff, weight = _regularised_disorder(sigma_hat)
    return jnp.exp(weight * _ln_g1(s_eff, occupancy))


def egdm_reduced_field(
    field_V_m: jax.typing.ArrayLike,
    site_spacing_m: jax.typing.ArrayLike,
    sigma_hat: jax.typing.ArrayLike,
    temperature_K: jax.typing.ArrayLike,
) -> jax.Array:
    """E_n = F e a / sigma = F a / (sigma_hat k T / e) [-], signed.

    ``field_V_m`` F [V/m], ``site_spacing_m`` a = N0^(-1/3) [m], ``sigma_hat`` = sigma/kT
    [-], ``temperature_K`` T [K]. sigma_hat is taken as max(sigma_hat, 2) (the
    regularisation of the module docstring), so E_n is finite for sigma_hat = 0.
    """
    field, a, sigma_hat, temperature = _broadcast(
        field_V_m, site_spacing_m, sigma_hat, temperature_K
    )
    s_eff, _ = _regularised_disorder(sigma_hat)
    return field * a / (s_eff * _K_OVER_E * temperature)


def egdm_g2(sigma_hat: jax.typing.ArrayLike, reduced_field: jax.typing.ArrayLike) -> jax.Array:
    """Field enhancement g2 = exp{0.44 (sigma_hat^1.5 - 2.2)[sqrt(1 + 0.8 E_n^2) - 1]} [-].

    ``sigma_hat`` = sigma/kT [-], ``reduced_field`` E_n = F e a / sigma [-] (either sign;
    :func:`egdm_reduced_field`). g2(E_n = 0) = 1 exactly; even in E_n; increasing in |E_n|
    for sigma_hat > 2.2^(2/3) = 1.69, up to |E_n| = 2 and constant beyond. sigma_hat < 2
    as in the module docstring.
    """
    sigma_hat, reduced_field = _broadcast(sigma_hat, reduced_field)
    s_eff, weight = _regularised_disorder(sigma_hat)
    return jnp.exp(weight * _ln_g2(s_eff, reduced_field))


def egdm_mu0_of_temperature(
    mu0_star: jax.typing.ArrayLike, sigma_hat: jax.typing.ArrayLike
) -> jax.Array:
    """mu0(T) = c1 mu0* exp(-c2 sigma_hat^2) [m^2/Vs], c1 = 1.8e-9, c2 = 0.42.

    ``mu0_star`` = a^2 nu0 e / sigma [m^2/Vs], the temperature-independent prefactor of
    Pasveer et al. (2005); ``sigma_hat`` = sigma/kT [-]. Not used by
    :func:`egdm_mobility`, which takes mu0(T) directly.
    """
    mu0_star, sigma_hat = _broadcast(mu0_star, sigma_hat)
    return EGDM_C1 * mu0_star * jnp.exp(-EGDM_C2 * sigma_hat * sigma_hat)


def egdm_mobility(
    mu0: jax.typing.ArrayLike,
    field_V_m: jax.typing.ArrayLike,
    occupancy: jax.typing.ArrayLike,
    sigma_hat: jax.typing.ArrayLike,
    site_spacing_m: jax.typing.ArrayLike,
    temperature_K: jax.typing.ArrayLike,
) -> jax.Array:
    """mu = mu0(T) g1(sigma_hat, c) g2(sigma_hat, E_n) [m^2/Vs] (Pasveer et al. 2005).

    ``mu0`` mu0(T) [m^2/Vs], the low-density zero-field mobility at the device
    temperature; ``field_V_m`` F [V/m] (either sign); ``occupancy`` c = n/N0 [-];
    ``sigma_hat`` = sigma/kT [-]; ``site_spacing_m`` a = N0^(-1/3) [m]; ``temperature_K``
    T [K] (enters only through sigma = sigma_hat k T in E_n = F e a / sigma). Evaluated as
    mu0 exp(w (ln g1 + ln g2)) with the caps and the sigma_hat < 2 fade of the module
    docstring; even in F; finite with finite gradients for every finite input with T > 0
    and a > 0.
    """
    mu0, field, occupancy, sigma_hat, a, temperature = _broadcast(
        mu0, field_V_m, occupancy, sigma_hat, site_spacing_m, temperature_K
    )
    s_eff, weight = _regularised_disorder(sigma_hat)
    reduced_field = field * a / (s_eff * _K_OVER_E * temperature)
    ln_g = _ln_g1(s_eff, occupancy) + _ln_g2(s_eff, reduced_field)
    return mu0 * jnp.exp(weight * ln_g)
