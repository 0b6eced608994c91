"""The tabulated statistics terms (peled.model.statistics.ladder_table): the nanocrystal
ladder and the Gauss-Fermi integral against their quadratures, and the device residual
with prepared and unprepared arrays."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from peled.model.statistics import corrections, statistics_tables, tabulated_layers
from peled.model.statistics.gauss_fermi import gauss_fermi_log_occupancy
from peled.model.statistics.ladder_table import TABLE_POINTS, build_ladder_table, interpolate
from peled.model.statistics.nanocrystal import (
    LEVELS,
    free_log_occupancy,
    nanocrystal_pair_log_occupancy,
)

TOP = max(q for q, _ in LEVELS) - 3


def _table(e1, disp):
    def ladder(t):
        return free_log_occupancy(t, jnp.full(t.shape, e1), jnp.full(t.shape, disp))

    return ladder, build_ladder_table(ladder, jnp.asarray(TOP * e1), jnp.asarray(6 * disp * e1))


_INTERPOLATE = jax.jit(
    lambda tab, t: jax.jvp(lambda x: interpolate(tab, x), (t,), (jnp.ones_like(t),))
)


def test_table_matches_the_quadrature_ladder():
    """Over e1/kT in [0.05, 12] (crystals from ~30 nm down to ~3 nm) and size dispersions
    0-0.2, on t in [-300, 400] and densely across the levels: |S_table - S| <= 1e-6 (the
    Gauss-Fermi tolerance of the statistics), and for the database's films (e1/kT <= 2.5)
    <= 1e-8; the slope within 1e-5 (1e-6). Beyond the grid the tail is Boltzmann
    (slope 1) and the plateau full (slope 0)."""
    rng = np.random.default_rng(3)
    for e1 in (0.05, 0.6, 2.5, 6.0, 12.0):
        for disp in (0.0, 0.02, 0.1, 0.2):
            if 6 * disp * e1 > 12:  # beyond the Gauss-Fermi range s <= 12
                continue
            ladder, tab = _table(e1, disp)
            t = np.concatenate(
                [np.linspace(-300, 400, 7001), rng.uniform(-60, TOP * e1 + 40, 7000)]
            )
            t = jnp.asarray(t)
            exact, slope = jax.jvp(ladder, (t,), (jnp.ones_like(t),))
            got, got_slope = _INTERPOLATE(tab, t)
            small = e1 <= 2.5
            np.testing.assert_allclose(got, exact, rtol=0, atol=1e-8 if small else 1e-6)
            np.testing.assert_allclose(got_slope, slope, rtol=0, atol=1e-6 if small else 1e-5)
            far_below, far_above = jnp.asarray([-1e3]), jnp.asarray([1e3 + TOP * e1])
            assert abs(float(_INTERPOLATE(tab, far_below)[1][0]) - 1.0) < 1e-12
            assert abs(float(_INTERPOLATE(tab, far_above)[1][0])) < 1e-12
            np.testing.assert_allclose(
                float(_INTERPOLATE(tab, far_above)[0][0]),
                np.log(sum(g for _, g in LEVELS)),
                atol=1e-12,
            )


def test_table_derivatives_follow_the_film():
    """d S_table / d e1 and d / d dispersion (the grid held fixed: the interpolant of the
    exact derivatives) against the quadrature ladder's: within 1e-6 of the largest
    (measured: 3e-9 at e1/kT 0.6, 1e-7 at 2.5, 1.4e-6 of ~10^2 at 6)."""

    def via_table(e1, disp, t):
        _, tab = _table(e1, disp)
        return interpolate(tab, t)

    def exact(e1, disp, t):
        return free_log_occupancy(t, jnp.full(t.shape, e1), jnp.full(t.shape, disp))

    t = jnp.linspace(-20.0, 30.0, 101)
    for e1, disp in ((0.6, 0.1), (2.5, 0.05), (6.0, 0.02)):
        for arg in (0, 1):
            f = lambda a, arg=arg, e1=e1, disp=disp: (  # noqa: E731
                (a, disp) if arg == 0 else (e1, a)
            )
            x0 = (e1, disp)[arg]
            got = np.asarray(jax.jacfwd(lambda a, f=f: via_table(*f(a), t))(x0))
            want = np.asarray(jax.jacfwd(lambda a, f=f: exact(*f(a), t))(x0))
            assert np.max(np.abs(got - want)) <= 1e-6 * max(1.0, np.max(np.abs(want)))


def test_charged_occupancy_with_tables_equals_the_quadrature():
    """The charged pair occupancy solved on the tables equals the one on the quadrature to
    5e-8 in ln n (measured 1.4e-8: the table's error, fed back through the charging)
    over eta_n, eta_p in [-60, 20] for the database's 10 nm CsPbBr3 film (e1/kT = 0.58,
    dispersion 0.1, U/kT = 0.7) and a strongly confined one."""
    eta_n = jnp.linspace(-60.0, 20.0, 33)[:, None] * jnp.ones((1, 33))
    eta_p = jnp.linspace(-60.0, 20.0, 33)[None, :] * jnp.ones((33, 1))
    for e1, disp, u in ((0.58, 0.1, 0.7), (2.3, 0.05, 3.0)):
        _, tab = _table(e1, disp)
        both = jax.tree.map(lambda a, b: jnp.stack([a, b]), tab, tab)
        rows = jnp.zeros(eta_n.shape, jnp.int32)
        x_tab = nanocrystal_pair_log_occupancy(
            eta_n, eta_p, e1, e1, disp, u, ((both, rows), (both, rows + 1))
        )
        x_quad = nanocrystal_pair_log_occupancy(eta_n, eta_p, e1, e1, disp, u)
        for a, b in zip(x_tab, x_quad, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=5e-8)


def test_gauss_fermi_table_matches_the_quadrature():
    """ln G(t, s) from its table against the quadrature for s = sigma/kT in [0, 12], t in
    [-400, 300] and densely over [-s^2 - 30, 30]: within 1e-9 (measured 8.4e-10), the
    slope within 1e-7 (6.2e-8), d/ds within 1e-9 of its size."""
    rng = np.random.default_rng(4)
    for s in (0.0, 0.3, 1.0, 3.0, 6.0, 8.0, 12.0):

        def term(t, s=s):
            return gauss_fermi_log_occupancy(t, jnp.full(t.shape, s))

        tab = build_ladder_table(term, jnp.asarray(0.0), jnp.asarray(s))
        t = np.concatenate([np.linspace(-400, 300, 7001), rng.uniform(-s * s - 30, 30, 7000)])
        t = jnp.asarray(t)
        exact, slope = jax.jvp(term, (t,), (jnp.ones_like(t),))
        got, got_slope = _INTERPOLATE(tab, t)
        np.testing.assert_allclose(got, exact, rtol=0, atol=1e-9)
        np.testing.assert_allclose(got_slope, slope, rtol=0, atol=1e-7)
        t_s = t[7001:7501]
        by_s = jax.jacfwd(
            lambda a, t_s=t_s: interpolate(
                build_ladder_table(
                    lambda x: gauss_fermi_log_occupancy(x, jnp.full(x.shape, a)),
                    jnp.asarray(0.0),
                    a,
                ),
                t_s,
            )
        )(jnp.asarray(s))
        want = jax.jacfwd(
            lambda a, t_s=t_s: gauss_fermi_log_occupancy(t_s, jnp.full(t_s.shape, a))
        )(jnp.asarray(s))
        assert np.max(np.abs(by_s - want)) <= 1e-9 * max(1.0, float(np.max(np.abs(want))))


def test_corrections_build_the_tables_they_are_not_given():
    """corrections() with the tables of statistics_tables() equals corrections() that
    builds them itself, to round-off; each table holds electrons then holes of the layers
    that use its term, and a device without such layers has none."""
    from peled.model.statistics import StatisticsParams

    tags = (
        ("gauss_fermi", "nanocrystal", "occupancy"),
        ("gauss_fermi", "nanocrystal", "nanocrystal"),
    )
    assert tabulated_layers(tags, "nanocrystal") == [1, 2]
    assert tabulated_layers(tags, "gauss_fermi") == [0]
    k = jnp.ones(3)
    params = tuple(
        StatisticsParams(0.0 * k, 3.0 * k, conf * k, 0.1 * k, 0.7 * k) for conf in (0.6, 0.9)
    )
    tables = statistics_tables(tags, params)
    assert tables.nanocrystal.value.shape == (4, TABLE_POINTS)
    assert tables.gauss_fermi.value.shape == (2, TABLE_POINTS)
    layers = np.repeat(np.arange(3), 5)
    eta_n = jnp.linspace(-30.0, 10.0, 15)
    eta_p = jnp.linspace(5.0, -40.0, 15)
    given = corrections(eta_n, eta_p, layers, tags, params, tables)
    built = corrections(eta_n, eta_p, layers, tags, params)
    for a, b in zip(given, built, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    none = statistics_tables((("occupancy",), ("fermi_dirac",)), params)
    assert none.gauss_fermi is None and none.nanocrystal is None


def test_prepared_arrays_give_the_same_residual():
    """The solver prepares the device's arrays once per sweep (the tables built outside
    the residual); the residual of the default (Gauss-Fermi, nanocrystal) device is the same with
    prepared and unprepared arrays to round-off, and preparing twice changes nothing."""
    from peled.core.newton import initial_guess
    from peled.core.params import MeshSpec
    from peled.core.residual import residual_and_scale
    from peled.core.state import prepare_arrays
    from peled.device import default_device_path, load_device

    arrays = load_device(default_device_path()).to_arrays(MeshSpec(8))
    assert "nanocrystal" in arrays.statistics_tags("electron")
    prepared = prepare_arrays(arrays)
    assert arrays.statistics_tables is None and prepared.statistics_tables is not None
    assert prepare_arrays(prepared) is prepared
    u = initial_guess(arrays)
    for volts in (0.0, 3.0):
        # a state off equilibrium: quasi-Fermi levels split across the emitter
        u_v = u.at[:, 2].add(volts / 0.02585 * jnp.linspace(1.0, 0.0, u.shape[0]))
        f_a, m_a = jax.jit(residual_and_scale)(u_v, arrays, volts)
        f_b, m_b = jax.jit(residual_and_scale)(u_v, prepared, volts)
        np.testing.assert_allclose(np.asarray(f_b), np.asarray(f_a), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(np.asarray(m_b), np.asarray(m_a), rtol=1e-13, atol=0)
