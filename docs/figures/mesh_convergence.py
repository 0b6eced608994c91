"""Mesh convergence of a solved device, for docs/numerics/accuracy.md (``make numerics-figures``).

Writes ``docs/figures/numerics-mesh-convergence.png``: the relative change of the current
density J at 3 V against the finest mesh (256 nodes per layer), for 16-128 nodes per
layer, with the sine and the log-linear node placement, on the barrier-free
heterostructure of the mesh-order test (tests/test_core_analytic.py,
``test_mesh_convergence_and_order``: 40 nm / 30 nm radiative emitter / 40 nm, steps of
0.5 eV in the conduction and 0.3 eV in the valence band, Schottky-Mott contacts at 5.3
and 3.0 eV). Each mesh size compiles its own sweep (about 3 min on two CPU cores).
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.ticker
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).resolve().parent
NODES = (16, 32, 64, 128)
FINEST = 256
BIASES_V = (0.0, 1.5, 3.0)


def _layer(thickness_nm, ea, eg, mu_n_cm2, mu_p_cm2, eps, **extra):
    return {
        "thickness_m": thickness_nm * 1e-9,
        "electron_affinity_eV": ea,
        "band_gap_eV": eg,
        "relative_permittivity": eps,
        "conduction_band_dos_m3": 1e26,
        "valence_band_dos_m3": 1e26,
        "electron_mobility_m2_Vs": mu_n_cm2 * 1e-4,
        "hole_mobility_m2_Vs": mu_p_cm2 * 1e-4,
        **extra,
    }


LAYERS = [
    _layer(40, 2.8, 2.6, 1e-3, 1e-4, 4.0),
    _layer(30, 3.3, 2.4, 1e-3, 1e-3, 10.0, radiative_coefficient_m3_s=1e-16),
    _layer(40, 2.9, 3.2, 1e-5, 1e-3, 3.0),
]


def current_at_3V(nodes: int, grading: str) -> float:
    """J [A/m^2] at 3 V, reached by continuation from 0 V, on ``nodes`` per layer."""
    from peled.core.discretize import build_arrays
    from peled.core.newton import solve_sweep
    from peled.core.observables import sweep_observables
    from peled.core.params import MeshSpec

    arr = build_arrays(LAYERS, 5.3, 3.0, mesh=MeshSpec(nodes, grading=grading))
    st = solve_sweep(arr, jnp.asarray(BIASES_V))
    if not np.all(np.asarray(st.converged)):
        raise RuntimeError(f"{nodes} nodes, {grading}: not every bias converged")
    ob = sweep_observables(st.u, arr, jnp.zeros(arr.n_layers))
    return float(np.asarray(ob.current_density_A_m2)[-1])


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    start = time.perf_counter()
    fig, ax = plt.subplots(figsize=(5.6, 4.0), constrained_layout=True)
    for grading, marker in (("sine", "o"), ("loglinear", "s")):
        ref = current_at_3V(FINEST, grading)
        err = [abs(current_at_3V(n, grading) / ref - 1.0) for n in NODES]
        print(f"{grading}: J(3 V) {ref:.6g} A/m2 at {FINEST}; relative change {err}")
        ax.loglog(NODES, err, marker=marker, label=f"{grading} placement")
    n = np.asarray(NODES, float)
    for order, style in ((1, ":"), (2, "--")):
        ax.loglog(n, 0.05 * (n / n[0]) ** -order, "k" + style, lw=0.8, label=f"order {order}")
    ax.axhline(0.01, color="0.6", lw=0.8)
    ax.text(n[0], 0.011, "1 % (the grid test)", fontsize=8, color="0.4")
    ax.set_xlabel("nodes per layer")
    ax.set_ylabel(f"|J / J({FINEST} nodes) - 1| at 3 V")
    ax.set_title("Mesh convergence: barrier-free heterostructure", fontsize=10)
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xticks(NODES, [str(k) for k in NODES])
    ax.legend(fontsize=8)
    path = OUT / "numerics-mesh-convergence.png"
    fig.savefig(path, dpi=130)
    plt.close(fig)
    print(f"wrote {path} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
