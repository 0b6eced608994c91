"""Image force at a heterointerface with a screening (conducting) layer.

A carrier at distance y from a medium whose free carriers screen a charge within a length
much shorter than y sees that medium as a metal: its image charge -q lies mirrored behind
the surface and its potential energy is that of an electrode's image,

    U(y) = q / (16 pi eps0 eps_r y)                                              [eV]

with eps_r the permittivity of the carrier's own layer
(:func:`peled.model.contacts.image_force.image_potential_V`). A doped layer screens over
its Debye length

    L_D = sqrt(eps0 eps_r kT / (q^2 N))                                          [m]

(N [m^-3] its ionised dopant density; S. M. Sze and K. K. Ng, Physics of Semiconductor
Devices, 3rd ed., Wiley 2007, eq. 2.46). The image picture holds for the neighbouring
layer's carriers where L_D is no longer than the distance of their first site from the
surface, the neighbour's site spacing a: the layer then acts on them as an electrode
does, and peled treats the interface as it treats an electrode with image force
(peled.model.contacts.image_force): U(d + a) enters the neighbour's transport levels at
distance d from the interface, and the interface carries a charge-free gap a (no sites)
that the field crosses, so the Schottky maximum lies at y_m = sqrt(q/(16 pi eps0 eps_r F))
and the barrier is lowered by sqrt(qF/(4 pi eps0 eps_r)) where y_m >= a; where y_m < a the
maximum is the first site, lowered by U(a) + F a, the lattice picture of J. J. M. van der
Holst et al., Phys. Rev. B 79, 085203 (2009). Heavily doped PEDOT:PSS, which models of
organic hole-only devices take as the anode (S. L. M. van Mensfoort and R. Coehoorn,
Phys. Rev. B 78, 085207 (2008)), is such a layer: N_A 3e19 cm^-3 and eps_r 4 give
L_D = 0.44 nm, below the 1.3 nm site spacing of PVK.

Between two layers that do not screen, the image charge is q (eps_2 - eps_1)/(eps_1 +
eps_2) (J. D. Jackson, Classical Electrodynamics, 3rd ed., sec. 4.4): ~0.1 of an
electrode's between organic layers, up to ~0.5 between an organic layer and a ZnO film,
where U(a) <= 0.05 eV. That image is not included.
"""

from __future__ import annotations

import numpy as np
from scipy import constants


def debye_length_m(relative_permittivity, doping_m3, temperature_K):
    """L_D = sqrt(eps0 eps_r k T / (q^2 N)) [m] of a layer doped to ``doping_m3`` N
    [m^-3] (> 0) with relative permittivity ``relative_permittivity`` [-] at
    ``temperature_K`` [K]; inf where N = 0."""
    n = np.asarray(doping_m3, dtype=float)
    with np.errstate(divide="ignore"):
        return np.sqrt(
            constants.epsilon_0
            * np.asarray(relative_permittivity, dtype=float)
            * constants.k
            * float(temperature_K)
            / (constants.e**2 * n)
        )


def screens_as_image_plane(debye_length, site_spacing_m) -> bool:
    """Whether a layer with Debye length ``debye_length`` [m] acts as an electrode's image
    plane on carriers whose first site lies ``site_spacing_m`` a [m] from it: L_D <= a."""
    return bool(np.asarray(debye_length) <= np.asarray(site_spacing_m))
