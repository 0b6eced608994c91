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
electrons). The Scharfetter-Gummel and thermionic fluxes and the contact densities all
take theta in place of theta^B (:func:`corrections`). The fluxes then
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
from peled.model.statistics.ladder_table import LadderTable, build_ladder_table, interpolate
from peled.model.statistics.nanocrystal import (
    LEVELS,
    free_log_occupancy,
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


#: The statistics whose terms a device evaluates from per-layer tables (:mod:`.ladder_table`)
TABULATED = ("gauss_fermi", "nanocrystal")


class StatisticsTables(NamedTuple):
    """The tabulated terms of a device (:func:`statistics_tables`): per tag of
    :data:`TABULATED`, a :class:`~.ladder_table.LadderTable` whose rows 0..R-1 are the
    electrons of the layers :func:`tabulated_layers` names and R..2R-1 their holes, or
    None where no layer uses the tag."""

    gauss_fermi: LadderTable | None
    nanocrystal: LadderTable | None


def tabulated_layers(tags: tuple[Sequence[str], Sequence[str]], tag: str) -> list[int]:
    """The layers (static) where either carrier's statistics is ``tag``: the rows of its
    table in :func:`statistics_tables`, in this order."""
    return [k for k, (a, b) in enumerate(zip(*tags, strict=True)) if tag in (a, b)]


def _per_row(params: tuple[StatisticsParams, StatisticsParams], field: str, layers, carrier=None):
    """A field of both carriers' params on the layers, electrons then holes (2R,);
    ``carrier`` 0 or 1 takes that carrier's value for both."""
    a, b = (params[c if carrier is None else carrier] for c in (0, 1))
    return jnp.concatenate([getattr(a, field)[layers], getattr(b, field)[layers]])


def statistics_tables(
    tags: tuple[Sequence[str], Sequence[str]],
    params: tuple[StatisticsParams, StatisticsParams],
) -> StatisticsTables:
    """The cubic Hermite tables (:mod:`.ladder_table`) of the device's Gauss-Fermi
    layers, ln G(t, sigma/kT), and of its nanocrystal films' uncharged ladders
    S(t) = ln sum_q g_q G(t - (q - 3) e1/kT, 6 (sigma_L/L) e1/kT).

    They depend only on the layers' numbers, so the solver builds them once per sweep
    (:func:`peled.core.state.prepare_arrays`); :func:`corrections` builds them itself
    when it is not given them, so every evaluation of a device uses the same tables.
    """
    built = {}
    for tag in TABULATED:
        layers = np.asarray(tabulated_layers(tags, tag), dtype=np.int64)
        if not layers.size:
            built[tag] = None
            continue
        if tag == "gauss_fermi":
            width = _per_row(params, "disorder", layers)

            def term(grid, width=width):
                return gauss_fermi_log_occupancy(grid, jnp.broadcast_to(width[:, None], grid.shape))

            built[tag] = build_ladder_table(term, jnp.zeros_like(width), width)
        else:
            e1 = _per_row(params, "confinement", layers)
            # one crystal, one size dispersion (the electrons' numbers carry the layer's)
            disp = _per_row(params, "size_dispersion", layers, carrier=0)

            def term(grid, e1=e1, disp=disp):
                shape = grid.shape
                return free_log_occupancy(
                    grid,
                    jnp.broadcast_to(e1[:, None], shape),
                    jnp.broadcast_to(disp[:, None], shape),
                )

            top = max(q for q, _ in LEVELS) - 3
            built[tag] = build_ladder_table(term, top * e1, 6.0 * disp * e1)
    return StatisticsTables(**built)


def corrections(
    eta_n,
    eta_p,
    entry_layers: np.ndarray,
    tags: tuple[Sequence[str], Sequence[str]],
    params: tuple[StatisticsParams, StatisticsParams],
    tables: StatisticsTables | None = None,
):
    """The filling corrections (c_n, c_p) of every entry of ``eta_n`` and ``eta_p`` (E,).

    ``entry_layers`` (E,) is the static layer index of each entry (the node layers, or
    the contacts' layers), ``tags`` the static tags per layer of
    electrons and holes and ``params`` their traced numbers per layer. Each term is
    evaluated once, on all the entries of both carriers that use it
    (:func:`peled.model.tags.evaluate_by_tag`), so a Gaussian layer's integral is never
    evaluated on another layer's nodes and the compiled program holds one copy of it. In
    a layer where both carriers are ``nanocrystal`` the two are solved together: the
    crystals' charging counts their net charge
    (:func:`peled.model.statistics.nanocrystal.nanocrystal_pair_log_occupancy`), so the
    electrons a film holds draw holes in and the other way round.

    Gauss-Fermi and nanocrystal terms are looked up in ``tables``
    (:func:`statistics_tables`, built here when None) in place of their quadratures.
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
    if tables is None and any(t in TABULATED for t in tag_n + tag_p):
        tables = statistics_tables(tags, params)

    def table_rows(tag, layers, hole):
        """Static table rows of entries on ``layers`` (holes where ``hole``)."""
        listed = tabulated_layers(tags, tag)
        of_layer = np.full(n_layers, -1, dtype=np.int64)
        of_layer[listed] = np.arange(len(listed))
        return of_layer[layers] + len(listed) * np.asarray(hole, dtype=np.int64)

    pieces, index_groups = [], []
    for key, idx in groups(keys):
        if key == "pair":
            continue
        p = StatisticsParams(*(f[rows[idx]] for f in stacked))
        e = take(eta, idx)
        row = None
        if key in TABULATED:
            row = table_rows(key, entry_layers[idx % n_entries], idx >= n_entries)
        if key == "nanocrystal":
            ladders = ((tables.nanocrystal, row),)
            x = nanocrystal_log_occupancy(e, p.confinement, p.size_dispersion, p.charging, ladders)
            pieces.append(e - x)
        elif key == "gauss_fermi":
            pieces.append(e - interpolate(tables.gauss_fermi, e, row))
        else:
            pieces.append(filling_correction(key, e, p))
        index_groups.append(idx)
    if pair_idx.size:
        layers = entry_layers[pair_idx]
        p_n, p_p = (StatisticsParams(*(f[layers] for f in p)) for p in params)
        e_n, e_p = take(eta, pair_idx), take(eta, pair_idx + n_entries)
        row_n = table_rows("nanocrystal", layers, False)
        row_p = table_rows("nanocrystal", layers, True)
        x_n, x_p = nanocrystal_pair_log_occupancy(
            e_n,
            e_p,
            p_n.confinement,
            p_p.confinement,
            p_n.size_dispersion,
            p_n.charging,
            ((tables.nanocrystal, row_n), (tables.nanocrystal, row_p)),
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
    "StatisticsTables",
    "TABULATED",
    "statistics_tables",
    "tabulated_layers",
]
