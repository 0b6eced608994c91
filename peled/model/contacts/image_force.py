"""Image-force (Schottky) lowering of the injection barrier at an electrode.

A carrier at distance d from a metal is attracted by its image charge; its potential
energy, added to the transport level of the adjacent layer, is

    U(d) = q / (16 pi eps0 eps_r (d + a))                                        [eV]

(both carriers are attracted: the LUMO is lowered and the HOMO raised by U). Together
with the applied field F this is the Schottky barrier: the transport level has its
maximum at d_m = sqrt(q / (16 pi eps0 eps_r F)) and the barrier is lowered by

    Delta phi = sqrt(q F / (4 pi eps0 eps_r))                                     [eV]

(S. M. Sze and K. K. Ng, Physics of Semiconductor Devices, 3rd ed., Wiley 2007, sec.
3.2.4; for disordered organic semiconductors J. C. Scott and G. G. Malliaras, Chem.
Phys. Lett. 299, 115 (1999), and the 1D continuum model of J. J. M. van der Holst et
al., Phys. Rev. B 79, 085203 (2009)). Adding U to the energy landscape, rather than
lowering the barrier in the boundary condition by Delta phi(F), keeps thermodynamic
equilibrium exact (a position-dependent level shifts no quasi-Fermi level: J = 0 at
V = 0 for any built-in field), and the drift-diffusion solution finds the lowering at the
actual field by itself. The cut-off a [m] keeps U finite at the electrode: the site
spacing N0^(-1/3) of a hopping film (the nearest site a carrier can occupy), 1 nm
(assumed) for band-like layers. Each electrode's image is evaluated in the layer next to
it with that layer's permittivity; images in further layers and at heterointerfaces are
not included (between organic layers the dielectric contrast (eps1 - eps2)/(eps1 + eps2)
is ~0.1, so that image term is ~10x weaker than at a metal).
"""

from __future__ import annotations

import jax.numpy as jnp
from scipy import constants

# cut-off distance of the image potential in band-like (non-hopping) layers [m] (assumed:
# of the order of a lattice constant plus the electrode's screening length, 0.3-2 nm)
DEFAULT_IMAGE_CUTOFF_M = 1e-9

_Q_OVER_16_PI_EPS0 = constants.e / (16.0 * constants.pi * constants.epsilon_0)  # [V m]


def image_potential_V(distance_m, relative_permittivity, cutoff_m):
    """U(d) = q / (16 pi eps0 eps_r (d + a)) [eV, i.e. V per elementary charge].

    ``distance_m`` [m] from the electrode (>= 0), ``relative_permittivity`` [-] of the
    layer, ``cutoff_m`` a [m] (module docstring).
    """
    return _Q_OVER_16_PI_EPS0 / (relative_permittivity * (distance_m + cutoff_m))


def schottky_lowering_V(field_V_m, relative_permittivity):
    """Delta phi = sqrt(q F / (4 pi eps0 eps_r)) [eV] at the field ``field_V_m`` [V/m]
    that pulls carriers away from the electrode (F >= 0); the analytic reference for
    :func:`image_potential_V` in a uniform field."""
    return jnp.sqrt(
        constants.e * field_V_m / (4.0 * constants.pi * constants.epsilon_0 * relative_permittivity)
    )


def site_spacing_m(site_density_m3):
    """a = N0^(-1/3) [m], the mean distance between hopping sites of density N0 [m^-3]."""
    return site_density_m3 ** (-1.0 / 3.0)
