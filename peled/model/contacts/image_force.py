"""Image-force (Schottky) lowering of the injection barrier at an electrode.

A carrier at distance y from a metal surface is attracted by its image charge; its
potential energy, added to the transport level of the adjacent layer, is

    U(y) = q / (16 pi eps0 eps_r y)                                              [eV]

(both carriers are attracted: the LUMO is lowered and the HOMO raised by U). The first
site a carrier can occupy lies a site spacing a from the surface, so the contact node of
the mesh sits at y = a and a node at distance d from it at y = d + a; the gap [0, a] holds
no charge and the electrode's potential holds at y = 0 (peled.core.residual, the contact
Poisson row). In a field F the transport level Phi_B - F y - U(y) then peaks at
y_m = sqrt(q / (16 pi eps0 eps_r F)) and the barrier is lowered by

    Delta phi = sqrt(q F / (4 pi eps0 eps_r))            (y_m >= a)               [eV]
    Delta phi = U(a) + F a                               (y_m <  a, the first site)

(S. M. Sze and K. K. Ng, Physics of Semiconductor Devices, 3rd ed., Wiley 2007, sec.
3.2.4; for disordered organic semiconductors J. C. Scott and G. G. Malliaras, Chem.
Phys. Lett. 299, 115 (1999), and the lattice and 1D continuum model of J. J. M. van der
Holst et al., Phys. Rev. B 79, 085203 (2009), whose first sites lie a from the metal).
Adding U to the energy landscape, rather than lowering the barrier in the boundary
condition by Delta phi(F) (Emtage-O'Dwyer), keeps thermodynamic equilibrium exact: a
position-dependent level shifts no quasi-Fermi level, so J = 0 at V = 0 for any built-in
field, and the drift-diffusion solution finds the lowering at the actual field by itself.
a [m] is the site spacing N0^(-1/3) of a hopping film, 1 nm (assumed) for band-like and
nanocrystal layers. Each electrode's image is evaluated in the layer next to it with that
layer's permittivity; images in further layers and at heterointerfaces are not included
(between organic layers the dielectric contrast (eps1 - eps2)/(eps1 + eps2) is ~0.1, so
that image term is ~10x weaker than at a metal).
"""

from __future__ import annotations

import jax.numpy as jnp
from scipy import constants

# distance of the first site from the electrode's surface in band-like and nanocrystal
# layers [m] (assumed: of the order of a lattice constant plus the electrode's screening
# length, 0.3-2 nm)
DEFAULT_IMAGE_CUTOFF_M = 1e-9

_Q_OVER_16_PI_EPS0 = constants.e / (16.0 * constants.pi * constants.epsilon_0)  # [V m]


def image_potential_V(distance_m, relative_permittivity, cutoff_m):
    """U(d + a) = q / (16 pi eps0 eps_r (d + a)) [eV, i.e. V per elementary charge].

    ``distance_m`` d [m] from the contact node (>= 0), ``relative_permittivity`` [-] of
    the layer, ``cutoff_m`` a [m], the contact node's distance from the electrode's
    surface (module docstring).
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


def barrier_lowering_V(field_V_m, relative_permittivity, site_spacing):
    """The lowering of the injection barrier [eV] in a uniform field ``field_V_m`` F
    [V/m] (>= 0) with the first site at ``site_spacing`` a [m] from the electrode's
    surface: sqrt(qF/(4 pi eps)) where the Schottky maximum y_m lies at or beyond a, else
    U(a) + F a at the first site (module docstring)."""
    field = jnp.asarray(field_V_m)
    y_m = jnp.sqrt(
        _Q_OVER_16_PI_EPS0 / (relative_permittivity * jnp.maximum(field, 1e-300))
    )
    first_site = image_potential_V(0.0, relative_permittivity, site_spacing) + field * site_spacing
    return jnp.where(
        y_m >= site_spacing, schottky_lowering_V(field, relative_permittivity), first_site
    )
