"""Scaling of the drift-diffusion unknowns.

Newton sees O(1) numbers when potentials are measured in thermal voltages,
lengths in nanometres and densities in 1e18 cm^-3. A :class:`Scaling` is built from
the temperature (it is a pytree, so the temperature may be a traced value).

Scaled quantities (hat = dimensionless):

* potential  psi_hat = psi / V_t,  V_t = k_B T / q                      [V]
* length     x_hat = x / x0,        x0 = 1 nm                             [m]
* density    n_hat = n / N0,        N0 = 1e24 m^-3 (1e18 cm^-3)           [m^-3]
* mobility   mu_hat = mu / mu0,     mu0 = 1e-4 m^2/(V s) (1 cm^2/(V s))
* particle flux  F_hat = F / F0,    F0 = mu0 V_t N0 / x0                  [m^-2 s^-1]
* rate       R_hat = R / R0,        R0 = F0 / x0                          [m^-3 s^-1]
* Poisson:   d/dx_hat(eps_r dpsi_hat/dx_hat) = -lambda (p_hat - n_hat + ...),
             lambda = q N0 x0^2 / (eps0 V_t)   (the inverse squared Debye length of
             N0 in units of x0 for eps_r = 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from scipy import constants

Q_C = constants.e
KB_J_K = constants.k
EPS0_F_M = constants.epsilon_0
H_J_S = constants.h
ME_KG = constants.m_e

LENGTH_REF_M = 1e-9
DENSITY_REF_M3 = 1e24
MOBILITY_REF_M2_VS = 1e-4


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Scaling:
    """Reference scales derived from the lattice temperature ``temperature_K`` [K]."""

    temperature_K: jax.Array
    length_m: float = field(default=LENGTH_REF_M, metadata={"static": True})
    density_m3: float = field(default=DENSITY_REF_M3, metadata={"static": True})
    mobility_m2_Vs: float = field(default=MOBILITY_REF_M2_VS, metadata={"static": True})

    @property
    def thermal_voltage_V(self) -> jax.Array:
        """V_t = k_B T / q [V]."""
        return KB_J_K * self.temperature_K / Q_C

    @property
    def flux_m2_s(self) -> jax.Array:
        """Particle-flux scale F0 = mu0 V_t N0 / x0 [m^-2 s^-1]."""
        return self.mobility_m2_Vs * self.thermal_voltage_V * self.density_m3 / self.length_m

    @property
    def rate_m3_s(self) -> jax.Array:
        """Volumetric-rate scale R0 = F0 / x0 [m^-3 s^-1]."""
        return self.flux_m2_s / self.length_m

    @property
    def poisson_lambda(self) -> jax.Array:
        """lambda = q N0 x0^2 / (eps0 V_t) [-]."""
        return Q_C * self.density_m3 * self.length_m**2 / (EPS0_F_M * self.thermal_voltage_V)

    def current_A_m2(self, particle_flux_hat: jax.Array) -> jax.Array:
        """Electric current density [A/m^2] of a scaled particle flux (times q)."""
        return Q_C * self.flux_m2_s * particle_flux_hat


def scaling_for(temperature_K: float | jax.Array) -> Scaling:
    """Build the :class:`Scaling` of a device at ``temperature_K`` [K]."""
    return Scaling(temperature_K=jnp.asarray(temperature_K, dtype=jnp.float64))
