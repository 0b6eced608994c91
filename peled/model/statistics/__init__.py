"""Carrier statistics: how many states a quasi-Fermi level fills, per layer and carrier.

Each statistics is a term chosen per layer and carrier by a static tag; its numbers are
traced arrays. With the reduced quasi-Fermi level eta = (E_Fn - E_c)/kT [-] for electrons
(eta_p = (E_v - E_Fp)/kT for holes) and N_c [m^-3] the layer's states of that carrier,
every term is written as its *filling correction*

    c(eta) = eta - ln(n / N_c)                                                [-]

the drop of ln n below its Boltzmann value:

============  ========================================  =====================================
tag           n / N_c                                   c(eta)
============  ========================================  =====================================
occupancy     1 / (exp(-eta) + gamma)                   ln(1 + gamma exp(eta))
              (Boltzmann gamma = 0, Blakemore 0.27,
              single level 1; :mod:`.occupancy`)
gauss_fermi   G(eta, sigma/kT), Gaussian DOS of N_c     eta - ln G   (-> -sigma^2/(2 kT^2)
              sites and width sigma (:mod:`.gauss_fermi`) at low density)
fermi_dirac   F_1/2(eta), parabolic band                eta - ln F_1/2
              (:mod:`.fermi_dirac`)
nanocrystal   sum_q g_q G(eta - (q-3) e1/kT, sigma_q/kT) eta - ln(n/N_c)
              size-broadened confined levels of a
              film of cubes, N_c = 2 phi / L^3
              (:mod:`.nanocrystal`)
============  ========================================  =====================================

The *effective band potential* is the one place where statistics meet the rest of the
model (the Sedan-type treatment, e.g. P. Farrell, T. Koprucki and J. Fuhrmann, J. Comput.
Phys. 346, 497 (2017)). The solver keeps its Boltzmann-form unknowns (psi, phi_n, phi_p)
and

    ln(n/N0) = theta_n - phi_n,   theta_n = theta_n^B - c(eta_n)
    ln(p/N0) = phi_p - theta_p,   theta_p = theta_p^B + c(eta_p)

with theta^B the Boltzmann effective band potential (psi + chi/V_t + ln(N_c/N0) for
electrons). The Scharfetter-Gummel and thermionic fluxes, the contact densities and the
boundary cells all take theta in place of theta^B (:func:`log_density`). The fluxes then
vanish identically for a flat quasi-Fermi level, and in the continuum limit they reduce to
F = mu n grad(phi_n), which contains the generalized Einstein relation
D = mu (kT/q) g3, g3 = n / (dn/d eta) exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.model.statistics.fermi_dirac import fermi_dirac_half_log
from peled.model.statistics.gauss_fermi import gauss_fermi_log_occupancy
from peled.model.statistics.nanocrystal import nanocrystal_log_occupancy
from peled.model.statistics.occupancy import STATISTICS_GAMMA
from peled.model.statistics.occupancy import filling_correction as occupancy_correction

#: The statistics terms, by tag.
STATISTICS_TAGS = ("occupancy", "gauss_fermi", "fermi_dirac", "nanocrystal")


class StatisticsParams(NamedTuple):
    """The traced numbers of the statistics of one carrier, per layer, shape (K,).

    ``gamma`` [-]: the occupancy family's parameter (used by ``occupancy``);
    ``disorder`` [-]: sigma/kT, the Gaussian DOS width in thermal energies (used by
    ``gauss_fermi``); ``confinement`` [-]: e1/kT of a nanocrystal film and
    ``size_dispersion`` [-]: its sigma_L / L and ``charging`` [-]: U/kT, the rise of a
    crystal's levels per carrier it holds (used by ``nanocrystal``).
    """

    gamma: jax.Array
    disorder: jax.Array
    confinement: jax.Array
    size_dispersion: jax.Array
    charging: jax.Array


def _gauss_fermi_correction(eta, p: StatisticsParams):
    return eta - gauss_fermi_log_occupancy(eta, p.disorder)


def _fermi_dirac_correction(eta, p: StatisticsParams):
    return eta - fermi_dirac_half_log(eta)


def _occupancy_correction(eta, p: StatisticsParams):
    return occupancy_correction(eta, p.gamma)


def _nanocrystal_correction(eta, p: StatisticsParams):
    return eta - nanocrystal_log_occupancy(eta, p.confinement, p.size_dispersion, p.charging)


_CORRECTIONS: dict[str, Callable] = {
    "occupancy": _occupancy_correction,
    "gauss_fermi": _gauss_fermi_correction,
    "fermi_dirac": _fermi_dirac_correction,
    "nanocrystal": _nanocrystal_correction,
}


def filling_correction(tag: str, eta, params: StatisticsParams):
    """c(eta) = eta - ln(n/N_c) [-] of the statistics ``tag`` (module docstring).

    ``eta`` [-] the reduced quasi-Fermi level; the fields of ``params`` broadcast against
    it (each term reads only its own).
    """
    if tag not in _CORRECTIONS:
        raise ValueError(f"unknown statistics tag {tag!r}: allowed {list(STATISTICS_TAGS)}")
    return _CORRECTIONS[tag](eta, params)


def runs(tags_of_entries: Sequence[str]) -> list[tuple[int, int, str]]:
    """Maximal runs [start, stop) of consecutive entries that share a tag (static)."""
    runs: list[tuple[int, int, str]] = []
    for i, t in enumerate(tags_of_entries):
        if runs and runs[-1][2] == t:
            runs[-1] = (runs[-1][0], i + 1, t)
        else:
            runs.append((i, i + 1, t))
    return runs


def corrections(eta, entry_layers: np.ndarray, tags: Sequence[str], params: StatisticsParams):
    """The filling correction of every entry of ``eta`` (E,), each by its layer's term.

    ``entry_layers`` (E,) is the static layer index of each entry (the node layers, or
    the boundary cells' layers), ``tags`` the static tag per layer and ``params`` the
    traced numbers per layer. Each run of consecutive entries with one tag is evaluated by
    its term on its slice alone, so a Gaussian layer's integral is never evaluated on
    another layer's nodes.
    """
    entry_layers = np.asarray(entry_layers)
    entry_tags = [tags[int(k)] for k in entry_layers]
    pieces = []
    for a, b, t in runs(entry_tags):
        per_entry = StatisticsParams(*(f[entry_layers[a:b]] for f in params))
        pieces.append(filling_correction(t, eta[a:b], per_entry))
    return pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces)


def log_density(a_boltzmann, ln_dos, entry_layers, tags, params: StatisticsParams):
    """ln(n/N0) [-] from its Boltzmann value ``a_boltzmann`` = ln(N_c/N0) + eta.

    ``ln_dos`` = ln(N_c/N0) [-] per entry; the other arguments as :func:`corrections`.
    """
    return a_boltzmann - corrections(a_boltzmann - ln_dos, entry_layers, tags, params)


__all__ = [
    "runs",
    "STATISTICS_GAMMA",
    "STATISTICS_TAGS",
    "StatisticsParams",
    "corrections",
    "filling_correction",
    "log_density",
]
