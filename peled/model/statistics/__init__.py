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
boundary cells all take theta in place of theta^B (:func:`corrections`). The fluxes then
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
from peled.model.statistics.nanocrystal import (
    nanocrystal_log_occupancy,
    nanocrystal_pair_log_occupancy,
)
from peled.model.statistics.occupancy import STATISTICS_GAMMA
from peled.model.statistics.occupancy import filling_correction as occupancy_correction
from peled.model.tags import groups, place, take

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


def corrections(
    eta_n,
    eta_p,
    entry_layers: np.ndarray,
    tags: tuple[Sequence[str], Sequence[str]],
    params: tuple[StatisticsParams, StatisticsParams],
):
    """The filling corrections (c_n, c_p) of every entry of ``eta_n`` and ``eta_p`` (E,).

    ``entry_layers`` (E,) is the static layer index of each entry (the node layers, or
    the boundary cells' or contacts' layers), ``tags`` the static tags per layer of
    electrons and holes and ``params`` their traced numbers per layer. Each term is
    evaluated once, on all the entries of both carriers that use it
    (:func:`peled.model.tags.evaluate_by_tag`), so a Gaussian layer's integral is never
    evaluated on another layer's nodes and the compiled program holds one copy of it. In
    a layer where both carriers are ``nanocrystal`` the two are solved together: the
    crystals' charging counts their net charge
    (:func:`peled.model.statistics.nanocrystal.nanocrystal_pair_log_occupancy`), so the
    electrons a film holds draw holes in and the other way round.
    """
    entry_layers = np.asarray(entry_layers, dtype=np.int64)
    n_entries = entry_layers.size
    n_layers = len(tags[0])
    tag_n = [tags[0][int(k)] for k in entry_layers]
    tag_p = [tags[1][int(k)] for k in entry_layers]
    paired = np.asarray([a == b == "nanocrystal" for a, b in zip(tag_n, tag_p, strict=True)])
    # both carriers' entries in one vector (electrons first), each with its row in the
    # stacked per-layer parameters (holes offset by the layer count)
    eta = jnp.concatenate([jnp.asarray(eta_n), jnp.asarray(eta_p)])
    rows = np.concatenate([entry_layers, entry_layers + n_layers])
    stacked = StatisticsParams(*(jnp.concatenate([a, b]) for a, b in zip(*params, strict=True)))
    keys = ["pair" if paired[i % n_entries] else t for i, t in enumerate(tag_n + tag_p)]
    pair_idx = np.flatnonzero(paired)
    pieces, index_groups = [], []
    for key, idx in groups(keys):
        if key == "pair":
            continue
        p = StatisticsParams(*(f[rows[idx]] for f in stacked))
        pieces.append(filling_correction(key, take(eta, idx), p))
        index_groups.append(idx)
    if pair_idx.size:
        layers = entry_layers[pair_idx]
        p_n, p_p = (StatisticsParams(*(f[layers] for f in p)) for p in params)
        e_n, e_p = take(eta, pair_idx), take(eta, pair_idx + n_entries)
        x_n, x_p = nanocrystal_pair_log_occupancy(
            e_n, e_p, p_n.confinement, p_p.confinement, p_n.size_dispersion, p_n.charging
        )
        pieces += [e_n - x_n, e_p - x_p]
        index_groups += [pair_idx, pair_idx + n_entries]
    c = place(pieces, index_groups)
    return c[:n_entries], c[n_entries:]


__all__ = [
    "STATISTICS_GAMMA",
    "STATISTICS_TAGS",
    "StatisticsParams",
    "corrections",
    "filling_correction",
]
