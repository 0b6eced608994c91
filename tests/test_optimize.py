"""``peled optimize``: the optimizer against a brute-force grid, and the CLI outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import peled
from peled.cli import main
from peled.objectives import parse_objective
from peled.optimize import DesignProblem, optimize

MESH = peled.MeshSpec(nodes_per_layer=16)
VOLTS = np.linspace(0.0, 4.0, 17)


@pytest.mark.slow
def test_optimizer_reaches_the_brute_force_grid_optimum():
    """Two thicknesses of the red example, luminance at 4 V: L-BFGS-B from the device's
    own thicknesses ends where a 9 x 6 grid of the same objective has its best point
    (within one grid cell), with an objective at least as good as the grid's best."""
    dev = peled.load_device("examples/red-cspbi3.yaml")
    vary = {"CsPbI3-NC.thickness_nm": (8.0, 60.0), "TPBi.thickness_nm": (5.0, 40.0)}
    prob = DesignProblem(
        dev, vary, [parse_objective("luminance_at_voltage:voltage_V=4")], VOLTS, mesh=MESH
    )
    g_emit = np.geomspace(8.0, 60.0, 9)
    g_etl = np.linspace(5.0, 40.0, 6)
    grid = np.array([[prob.evaluate([a, b])["log_objective"] for b in g_etl] for a in g_emit])
    assert np.all(np.isfinite(grid))
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    res = optimize(prob, max_iterations=40)
    print(
        f"grid best ({g_emit[i]:.1f}, {g_etl[j]:.1f}) nm: {grid[i, j]:.6f}; optimizer "
        f"{res.best_values} nm: {res.best_log_objective:.6f} ({res.iterations} iterations)"
    )
    assert res.best_log_objective >= grid[i, j] - 1e-6
    # within one grid cell of the grid optimum (log spacing for the emitter axis)
    cell_emit = np.log(g_emit[1] / g_emit[0])
    assert abs(np.log(res.best_values[0] / g_emit[i])) <= cell_emit
    assert abs(res.best_values[1] - g_etl[j]) <= g_etl[1] - g_etl[0]


def test_cli_optimize_writes_history_plots_and_a_reloadable_device(tmp_path):
    # the red example under the classic physics: this tests the command's outputs, and the
    # classic sweep and its gradients compile in a third of the time
    red = yaml.safe_load(Path("examples/red-cspbi3.yaml").read_text())
    (tmp_path / "red.yaml").write_text(yaml.safe_dump({**red, "physics": "classic"}))
    out = tmp_path / "opt"
    args = [
        "optimize",
        str(tmp_path / "red.yaml"),
        "--objective",
        "luminance_at_voltage:voltage_V=3.5",
        "--objective",
        "eqe_max*0.5",
        "--vary",
        "TPBi.thickness_nm=20:60",
        "--vary",
        "poly-TPD.ionization_energy_eV=5.0:5.5",
        "--max-iter",
        "2",
        "--mesh",
        "16",
        "--stop-V",
        "4",
        "--step-V",
        "0.25",
        "--out",
        str(out),
    ]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    for name in (
        "history.csv",
        "convergence.png",
        "optimized-device.yaml",
        "comparison.png",
        "optimization.json",
    ):
        assert (out / name).stat().st_size > 0, name
    hist = pd.read_csv(out / "history.csv")
    for col in (
        "evaluation",
        "iteration",
        "log_objective",
        "gradient_norm",
        "all_converged",
        "TPBi.thickness_nm",
        "poly-TPD.ionization_energy_eV",
        "luminance_at_voltage(voltage_V=3.5)",
        "eqe_max",
    ):
        assert col in hist.columns, col
    assert hist["all_converged"].all()
    summ = json.loads((out / "optimization.json").read_text())
    # two iterations along a non-zero gradient improve on the start
    assert summ["optimized_log_objective"] > summ["initial_log_objective"] + 1e-6
    assert set(summ["objectives_optimized"]) == {"luminance_at_voltage(voltage_V=3.5)", "eqe_max"}
    opt = peled.load_device(out / "optimized-device.yaml")
    row = {p["parameter"]: p["optimized"] for p in summ["parameters"]}
    assert opt.layers[3].thickness_nm == pytest.approx(row["TPBi.thickness_nm"])
    assert opt.layers[1].material.ionization_energy_eV == pytest.approx(
        row["poly-TPD.ionization_energy_eV"]
    )


def test_cli_optimize_bad_parameter_fails_cleanly(tmp_path):
    out = tmp_path / "opt"
    r = CliRunner().invoke(
        main,
        [
            "optimize",
            "examples/red-cspbi3.yaml",
            "--objective",
            "eqe_max",
            "--vary",
            "ETL.thickness_nm=5:10",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 2
    assert "no layer 'ETL'" in r.output
    assert not out.exists()


@pytest.mark.slow  # ~3.5 min: a sweep compile and the gradient program with the optics
def test_gradient_through_the_dipole_optics():
    """optics: dipole in the optimizer: the per-node outcoupling is recomputed from the
    traced thicknesses, and d(log EQE at 4 V)/d(ETL thickness) matches central
    differences of the same objective (to 1e-4 relative); the objective equals what
    peled.simulate reports for the device at that bias."""
    data = peled.device.device_to_mapping(peled.load_device(peled.default_device_path()))
    data["optics"] = "dipole"
    dev = peled.device_from_mapping(data)
    volts = np.array([0.0, 2.0, 3.0, 4.0])
    prob = DesignProblem(
        dev,
        {"TPBi.thickness_nm": (20.0, 80.0)},
        [parse_objective("eqe_at_voltage:voltage_V=4")],
        volts,
        mesh=MESH,
    )
    assert prob.dipole
    x0 = 40.0
    ev = prob.evaluate([x0])
    assert ev["all_converged"]
    s0 = float(prob.to_unit([x0])[0])
    h = 1e-4
    up = prob.evaluate([float(prob.from_unit(np.array([s0 + h]))[0])])["log_objective"]
    dn = prob.evaluate([float(prob.from_unit(np.array([s0 - h]))[0])])["log_objective"]
    fd = (up - dn) / (2 * h)
    assert float(ev["gradient_unit"][0]) == pytest.approx(fd, rel=1e-4, abs=1e-6)
    assert abs(fd) > 1e-3  # the optics makes the ETL thickness matter
    res = peled.simulate(dev, volts, mesh=MESH)
    assert np.exp(ev["log_objective"]) == pytest.approx(res.eqe_percent[-1], rel=1e-9)
