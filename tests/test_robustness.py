"""Robustness: every example converges 0-8 V in 0.05 V steps; 50 random stacks (slow)."""

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
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
