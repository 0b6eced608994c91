"""Terms chosen per entry by a static tag are evaluated once per tag
(peled.model.tags): the same values as entry by entry, one copy of each term in the
compiled program."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from peled.model.statistics import (
    StatisticsParams,
    corrections,
    filling_correction,
    statistics_tables,
    tabulated_layers,
)
from peled.model.statistics.ladder_table import interpolate
from peled.model.statistics.nanocrystal import nanocrystal_pair_log_occupancy
from peled.model.tags import evaluate_by_tag, groups, place, take


def test_groups_take_and_place_partition_and_restore():
    tags = ["a", "b", "a", "c", "b", "a"]
    grouped = groups(tags)
    assert [t for t, _ in grouped] == ["a", "b", "c"]
    np.testing.assert_array_equal(grouped[0][1], [0, 2, 5])
    x = jnp.arange(6.0) * 10.0
    # a contiguous group is a slice, any other a gather: the same values
    np.testing.assert_array_equal(take(x, np.array([1, 2, 3])), [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(take(x, np.array([0, 5])), [0.0, 50.0])
    pieces = [take(x, idx) + 1.0 for _, idx in grouped]
    np.testing.assert_array_equal(place(pieces, [idx for _, idx in grouped]), x + 1.0)


def test_evaluate_by_tag_traces_each_term_once():
    calls = []

    def evaluate(tag, a, b):
        calls.append(tag)
        return {"sq": a * a, "sum": a + b}[tag]

    tags = ["sq", "sum", "sq", "sum", "sq"]
    a, b = jnp.arange(5.0), jnp.full(5, 0.5)
    out = evaluate_by_tag(tags, evaluate, a, b)
    np.testing.assert_array_equal(out, [0.0, 1.5, 4.0, 3.5, 16.0])
    assert sorted(calls) == ["sq", "sum"]


def test_corrections_equal_the_terms_entry_by_entry():
    """Alternating layers (the two sides of interface edges) with Gauss-Fermi, Boltzmann,
    Fermi-Dirac and a nanocrystal film: each entry's correction is its own term's, and the
    film's two carriers are solved together."""
    tags_n = ("gauss_fermi", "occupancy", "nanocrystal", "fermi_dirac")
    tags_p = ("gauss_fermi", "occupancy", "nanocrystal", "gauss_fermi")
    k = len(tags_n)

    def params(disorder):
        return StatisticsParams(
            gamma=jnp.zeros(k),
            disorder=jnp.asarray(disorder),
            confinement=jnp.full(k, 2.5),
            size_dispersion=jnp.full(k, 0.08),
            charging=jnp.full(k, 0.7),
        )

    p_n, p_p = params([3.0, 0.0, 0.0, 0.0]), params([4.0, 0.0, 0.0, 2.0])
    layers = np.array([0, 1, 0, 2, 3, 2, 1, 3, 0, 2])
    rng = np.random.default_rng(1)
    eta_n = jnp.asarray(rng.uniform(-20.0, 3.0, layers.size))
    eta_p = jnp.asarray(rng.uniform(-20.0, 3.0, layers.size))
    c_n, c_p = jax.jit(lambda a, b: corrections(a, b, layers, (tags_n, tags_p), (p_n, p_p)))(
        eta_n, eta_p
    )

    def pick(p, lay):
        return StatisticsParams(*(f[lay] for f in p))

    # the device's Gauss-Fermi and nanocrystal terms are table lookups: each entry must
    # be its own layer's row of its own term's table, and that within 1e-8 of the
    # quadrature (tests/test_ladder_table.py)
    tags = (tags_n, tags_p)
    tables = statistics_tables(tags, (p_n, p_p))
    gf_layers = tabulated_layers(tags, "gauss_fermi")  # [0, 3]: rows 0, 1 (+2 for holes)

    def term(tag, eta, p, lay, hole):
        if tag != "gauss_fermi":
            return filling_correction(tag, eta, p)
        row = gf_layers.index(lay) + len(gf_layers) * hole
        looked_up = eta - interpolate(tables.gauss_fermi, eta, row)
        np.testing.assert_allclose(looked_up, filling_correction(tag, eta, p), atol=1e-8)
        return looked_up

    for i, lay in enumerate(layers):
        if tags_n[lay] == "nanocrystal":
            # the film's tabulated ladders (rows 0: electrons, 1: holes of its one layer)
            ladders = ((tables.nanocrystal, 0), (tables.nanocrystal, 1))
            x_n, x_p = nanocrystal_pair_log_occupancy(
                eta_n[i], eta_p[i], 2.5, 2.5, 0.08, 0.7, ladders
            )
            want_n, want_p = eta_n[i] - x_n, eta_p[i] - x_p
        else:
            want_n = term(tags_n[lay], eta_n[i], pick(p_n, lay), int(lay), 0)
            want_p = term(tags_p[lay], eta_p[i], pick(p_p, lay), int(lay), 1)
        np.testing.assert_allclose(c_n[i], want_n, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(c_p[i], want_p, rtol=1e-12, atol=1e-12)
