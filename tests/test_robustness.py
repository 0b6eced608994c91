"""Robustness: every example converges 0-8 V in 0.05 V steps; 50 random stacks (slow)."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from devices import database_stack
from test_core_solver import continuity_violations

from peled.core.newton import solve_sweep
from peled.core.observables import sweep_observables
from peled.device import Contact, Device, Layer, load_device
from peled.materials import Electrode, default_database

ROOT = Path(__file__).resolve().parent.parent
V_FINE = jnp.linspace(0.0, 8.0, 161)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_examples_converge_fine_sweep(name):
    dev = load_device(ROOT / "examples" / name)
    arr = dev.to_arrays()
    st = solve_sweep(arr, V_FINE)
    conv = np.asarray(st.converged)
    failed = np.asarray(V_FINE)[~conv]
    ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
    assert continuity_violations(arr, st, ob) == []
    print(f"{name}: {conv.sum()}/{conv.size} converged; failed at {failed}")
    assert conv.all(), failed


@pytest.mark.slow
def test_random_stacks():
    """50 random HTL / emitter / ETL stacks with random electrodes and thicknesses 5-120
    nm, 0-8 V in 0.05 V steps; the fraction fully converged must be >= 98 %."""
    db = default_database()
    mats = [db[n] for n in db]
    by_role = {
        r: [m for m in mats if getattr(m, "role", None) == r]
        for r in ("hole_transport", "emitter", "electron_transport")
    }
    electrodes = [m for m in mats if isinstance(m, Electrode)]
    rng = np.random.default_rng(2026)
    ok, failures = 0, []
    for k in range(50):
        layers = tuple(
            Layer(by_role[r][rng.integers(len(by_role[r]))], float(rng.uniform(5, 120)))
            for r in ("hole_transport", "emitter", "electron_transport")
        )
        an, ca = (electrodes[i] for i in rng.choice(len(electrodes), 2, replace=False))
        if an.work_function_eV < ca.work_function_eV:
            an, ca = ca, an
        dev = Device(
            f"random-{k}",
            Contact(an.name, an.work_function_eV),
            Contact(ca.name, ca.work_function_eV),
            layers,
        )
        arr = dev.to_arrays()
        st = solve_sweep(arr, V_FINE)
        conv = np.asarray(st.converged)
        # every point reported converged must be current-continuous (no wrong answers)
        ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
        bad = continuity_violations(arr, st, ob)
        assert bad == [], (k, bad)
        if conv.all():
            ok += 1
        else:
            failures.append(
                (k, an.name, [la.material.name for la in layers], ca.name, int((~conv).sum()))
            )
        # progress for a ~25 min run (visible with -s): stack k, its result, running tally
        print(
            f"stack {k + 1}/50: {int(conv.sum())}/{conv.size} converged; {ok} fully so far",
            flush=True,
        )
    for f in failures:
        print("not fully converged:", f)
    print(f"random stacks fully converged: {ok}/50")
    assert ok / 50 >= 0.98


class OffNewtonsBranch(AssertionError):
    """The one failure the trust-region test expects (a fallback state off Newton's
    current); any other failed assertion there is a real failure, not the known defect."""


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    raises=OffNewtonsBranch,
    reason="known defect (session 15): on the boundary-cell core the opt-in fallback "
    "returns current-continuous states 16-45 % below Newton's current at 2.05-2.3 V "
    "(docs/numerics.md, 'Robustness, third round')",
)
def test_trust_region_fallback_stays_on_newtons_branch():
    """Random stack 12 (Ag / PEDOT:PSS / CsPbBrI-NC / ZnO-NP / Ca), which damped Newton
    converges at every bias: with the Levenberg-Marquardt fallback on (it engages on the
    sub-steps Newton fails before continuation halves them) every bias it reports
    converged must give Newton's current. Two acceptance gaps made it return states
    3-5 V_t off with J 1e-4 and 15 % off at 2.0-2.1 V (docs/numerics.md, "Robustness,
    third round"); after session 5's fixes it gave Newton's current at every bias.

    On the boundary-cell core (measured session 15) it fails again: the forward sweep
    sticks at 1.958 V (2.00 V flagged), and the alternate-order pass, with the fallback
    engaged, returns 2.05-2.30 V as converged at a relative residual of ~8.5e-7 with
    J = 1.482e-4 A/m^2 at every one of them, where Newton gives 1.76e-4 to 2.47e-4. The
    fallback is opt-in (SolverSettings.trust_region_iterations, default 0) and not
    exposed in the CLI; this test is a strict xfail until its acceptance is fixed."""
    from peled.core.newton import SolverSettings

    dev = database_stack(
        "random-12", "Ag", "Ca", [("PEDOT:PSS", 115.2), ("CsPbBrI-NC", 107.2), ("ZnO-NP", 23.4)]
    )
    arr = dev.to_arrays()
    v = jnp.linspace(0.0, 2.3, 47)
    newton = solve_sweep(arr, v)
    with pytest.warns(UserWarning, match="experimental"):
        settings = SolverSettings(trust_region_iterations=100)
    fallback = solve_sweep(arr, v, settings)
    assert bool(newton.converged.all())
    conv = np.asarray(fallback.converged)
    print(f"fallback: {conv.sum()}/{conv.size} converged; failed at {np.asarray(v)[~conv]}")
    j = [
        np.asarray(sweep_observables(s.u, arr, jnp.zeros(arr.n_layers)).current_density_A_m2)
        for s in (newton, fallback)
    ]
    # the fallback really ran (else the comparison says nothing)
    assert int(fallback.iterations.sum()) > int(newton.iterations.sum())
    # no wrong answers: every point the fallback calls converged has Newton's current
    try:
        np.testing.assert_allclose(j[1][conv], j[0][conv], rtol=1e-6, atol=0)
    except AssertionError as err:
        raise OffNewtonsBranch(str(err)) from err
