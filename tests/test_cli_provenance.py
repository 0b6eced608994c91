"""Outputs say where they came from, in numbers a person can read, with layers named as
the user wrote them (issue "A new user's first hour", item 5)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from peled.cli import main
from peled.core.newton import SolverSettings
from peled.core.params import MeshSpec
from peled.device import default_device_path, device_to_mapping, load_device
from peled.report import for_people, layer_labels, name_layers, provenance

REPO = Path(__file__).resolve().parent.parent


def _floats(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)
    elif isinstance(obj, float):
        yield obj


def test_for_people_rounds_float_noise_and_names_layers():
    dev = load_device(default_device_path())
    raw = {
        "voltage_V": 1.9500000000000002,
        "share": 1.0000000000000981,
        "big": np.float64(123456789.123456789),
        "bad": float("nan"),
        "n": np.int64(3),
        "ok": np.bool_(True),
        "recombination_zones": [
            {"fraction_within_5nm_of_2_anode_side": 0.30000000000000004},
            {"fraction_within_5nm_of_2_cathode_side": 0.1},
        ],
    }
    out = for_people(name_layers(raw, dev))
    assert out["voltage_V"] == 1.95 and out["share"] == 1.0
    assert out["big"] == 123456789.1 and out["bad"] is None
    assert out["n"] == 3 and out["ok"] is True
    emitter = dev.layers[2].material.name
    assert out["recombination_zones"][0] == {f"fraction_within_5nm_of_{emitter}_anode_side": 0.3}
    assert f"fraction_within_5nm_of_{emitter}_cathode_side" in out["recombination_zones"][1]
    json.dumps(out, allow_nan=False)


def test_layer_labels_disambiguate_repeated_materials():
    dev = load_device(default_device_path())
    m = device_to_mapping(dev)
    m["layers"].append(m["layers"][1])
    from peled.device import device_from_mapping

    labels = layer_labels(device_from_mapping(m))
    name = dev.layers[1].material.name
    assert labels[1] == name and labels[-1] == f"{name}#2"


def test_provenance_entry():
    path = default_device_path()
    p = provenance(path, np.linspace(0, 3, 7), MeshSpec(16), SolverSettings(), command="x")
    assert p["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert p["input_file"] == str(path) and p["peled_version"]
    assert p["bias_grid"] == {"start_V": 0.0, "stop_V": 3.0, "step_V": 0.5, "points": 7}
    assert p["mesh"]["nodes_per_layer"] == 16 and p["mesh"]["grading"] == "sine"
    assert p["solver_settings"]["max_iterations"] == SolverSettings().max_iterations
    assert p["command"] == "x"
    json.dumps(for_people(p), allow_nan=False)


def test_optimization_json_gets_provenance(tmp_path):
    """The provenance step of `peled optimize` (run after optimization.json is written)."""
    from peled.cli import _add_provenance

    dev = load_device(default_device_path())
    path = tmp_path / "optimization.json"
    zone = {"fraction_within_5nm_of_2_anode_side": 0.30000000000000004}
    path.write_text(json.dumps({"wall_s": 1.9500000000000002, "before": {"zones": [zone]}}))
    prov = provenance(default_device_path(), np.linspace(0, 3, 7), MeshSpec(32), None)
    _add_provenance(path, dev, prov)
    doc = json.loads(path.read_text())
    name = dev.layers[2].material.name
    assert doc["wall_s"] == 1.95
    assert doc["before"]["zones"] == [{f"fraction_within_5nm_of_{name}_anode_side": 0.3}]
    assert doc["provenance"]["bias_grid"]["points"] == 7


def test_sweep_json_records_provenance(tmp_path):
    """sweep.json (written before the first solve) names version, file and its hash."""
    from peled.sweep import _check_manifest
    from peled.sweep_spec import load_sweep

    path = REPO / "examples" / "sweeps" / "green-emitter-lhs.yaml"
    sw = load_sweep(path)
    _check_manifest(tmp_path, sw, 32, False, SolverSettings())
    doc = json.loads((tmp_path / "sweep.json").read_text())
    prov = doc["provenance"]
    assert prov["input_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["bias_grid"]["points"] == sw.voltages_V.size
    assert prov["sampling"] == {"method": "latin_hypercube", "n_samples": 32, "seed": 1}
    assert prov["mesh"]["nodes_per_layer"] == 32 and "solver_settings" in prov


@pytest.mark.slow
def test_cli_summary_json_provenance_rounding_and_layer_names(tmp_path):
    """summary.json records the input file, grid, settings and version, carries no float
    noise and names zone keys by material, not fraction_within_5nm_of_2_anode_side. The
    same small solve as tests/test_simulate.py::test_cli_simulate_writes_files (16 nodes,
    0-3 V); slow (a second compile of that sweep, ~80 s on two busy cores): the pieces it
    wires together are checked without a solve above."""
    from test_simulate import small_led

    dev = tmp_path / "led.yaml"
    dev.write_text(yaml.safe_dump(device_to_mapping(small_led())))
    out = tmp_path / "out"
    args = ["simulate", str(dev), "--out", str(out), "--stop-V", "3", "--step-V", "0.5"]
    res = CliRunner().invoke(main, [*args, "--mesh", "16", "--no-plots", "--no-progress"])
    assert res.exit_code == 0, res.output
    summ = json.loads((out / "summary.json").read_text())
    prov = summ["provenance"]
    assert prov["input_file"] == str(dev)
    assert prov["input_sha256"] == hashlib.sha256(dev.read_bytes()).hexdigest()
    assert prov["bias_grid"] == {"start_V": 0.0, "stop_V": 3.0, "step_V": 0.5, "points": 7}
    assert prov["mesh"]["nodes_per_layer"] == 16
    assert prov["solver_settings"] == for_people(json.loads(json.dumps(SolverSettings().__dict__)))
    assert prov["peled_version"]
    for x in _floats(summ):
        assert x == float(f"{x:.10g}"), x
    keys = [k for z in summ["recombination_zones"] for k in z]
    frac = [k for k in keys if k.startswith("fraction_within_5nm_of_")]
    assert frac and not any(re.search(r"_of_\d+_", k) for k in frac)
    assert "fraction_within_5nm_of_test-emitter_anode_side" in frac
