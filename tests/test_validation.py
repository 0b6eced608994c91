"""peled validate: case files, data-consistency screen, scenario checks, report, regression.

Every simulation here uses the validation protocol's mesh and sweep
(``VALIDATION_MESH``, ``VALIDATION_VOLTAGES_V``) and four-layer stacks, so the whole module
compiles one solver (the same one ``peled validate`` uses for four-layer rows).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from scipy import constants

from peled.core.newton import SolverSettings
from peled.errors import PeledInputError
from peled.photometry import K_M_LM_PER_W, photopic_efficiency
from peled.validation.cases import REPO_ROOT, load_case
from peled.validation.report import (
    METRICS_VERSION,
    REGRESSION_KEYS,
    metrics_document,
    write_report,
)
from peled.validation.run import (
    VALIDATION_MESH,
    VALIDATION_VOLTAGES_V,
    cie_distance_statistics,
    run_case,
    summary_statistics,
)
from peled.validation.scenarios import (
    scenario_barrier,
    scenario_ligands,
    scenario_mobility,
)
from peled.validation.screen import (
    CE_RATIO_LIMIT,
    implied_current_efficiency_cd_A,
    screen_row,
)

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "validation_case_red.yaml"
METRICS = REPO_ROOT / "validation" / "report" / "metrics.json"


# --------------------------------------------------------------------------------------
# Screen (pure photometry)
# --------------------------------------------------------------------------------------
def test_implied_current_efficiency_monochromatic_limit():
    """CE = EQE K_ph / (q pi): a 1 nm line at 555 nm has K_ph -> K_m V(555) h c / 555 nm."""
    k_ph = K_M_LM_PER_W * float(photopic_efficiency(555.0)) * constants.h * constants.c / 555e-9
    expected = k_ph / (constants.e * math.pi)  # cd/A at EQE = 100 %
    got = implied_current_efficiency_cd_A(100.0, 555.0, 1.0)
    assert got == pytest.approx(expected, rel=1e-3)
    assert got == pytest.approx(485.7, rel=2e-3)  # hand value: 683 * 3.579e-19 / (q pi)
    # linear in EQE
    assert implied_current_efficiency_cd_A(5.0, 555.0, 1.0) == pytest.approx(got / 20, rel=1e-12)


def test_screen_consistent_row_is_not_flagged():
    # T2-01: 6.27 %, 13.3 cd/A at 512/20 nm -> ratio 0.73, inside x1.5; CsPbBr3 at 2.42 eV
    s = screen_row("T2-01", "CsPbBr3", 6.27, 13.3, 512.0, 20.0, None, None)
    assert s.flags == []
    assert 1 / CE_RATIO_LIMIT < s.ce_ratio < 1.0
    assert s.gap_window_eV == pytest.approx((2.41, 2.41))


def test_screen_flags_each_check():
    # T2-15: 8.54 % but 7.7 cd/A at 517/18 nm (x0.27) and CIE (0.09, 0.74) vs (0.07, 0.80)
    s = screen_row("T2-15", "CsPbBr3", 8.54, 7.7, 517.0, 18.0, 0.09, 0.74)
    assert any(f.startswith("CE:") for f in s.flags)
    assert any(f.startswith("CIE:") for f in s.flags)
    assert s.ce_ratio == pytest.approx(0.27, abs=0.01)
    # T2-21: 'CsPbI3' emitting at 469 nm, 0.7 eV above the CsPbI3 gap
    s = screen_row("T2-21", "CsPbI3", 5.0, None, 469.0, 27.0, None, None)
    assert len(s.flags) == 1 and s.flags[0].startswith("band gap:")
    # far below the gap: a CsPbBr3 row emitting in the red
    s = screen_row("X", "CsPbBr3", None, None, 620.0, 20.0, None, None)
    assert "below the gap" in s.flags[0]
    # a mixed Cl/Br composition at 461 nm lies inside its window (CsPbBr3..CsPbCl3)
    s = screen_row("T2-20", "CsPb(Br/Cl)3", 1.62, None, 461.0, 14.6, None, None)
    assert s.flags == [] and s.gap_window_eV[1] > s.photon_energy_eV > s.gap_window_eV[0]
    # missing FWHM: the fallback is used and said so
    s = screen_row("T2-02", "CsPbBr3", 15.6, 60.6, 520.0, None, None, None, fallback_fwhm_nm=18)
    assert s.fwhm_used_nm == 18 and "not reported" in s.fwhm_note


def test_summary_statistics_by_hand():
    runs = [
        SimpleNamespace(ratios={"EQE_max": r, "L_max": None, "CE_max": None})
        for r in (1.2, 2.0, 0.5, 0.0, 10.0)
    ]
    st = summary_statistics(runs)["EQE_max"]
    assert st["rows_compared"] == 5 and st["rows_without_simulated_value"] == 1
    # |log10|: 0.079, 0.301, 0.301, inf, 1 -> median 0.301
    assert st["median_abs_log10_ratio"] == pytest.approx(math.log10(2.0))
    assert st["fraction_within_x1.5"] == pytest.approx(1 / 5)
    assert st["fraction_within_x3"] == pytest.approx(3 / 5)
    assert summary_statistics(runs)["L_max"]["rows_compared"] == 0
    assert summary_statistics(runs)["L_max"]["median_abs_log10_ratio"] is None
    assert not st["median_is_infinite"]


def test_infinite_median_is_written_explicitly():
    """All rows without a simulated value (dark): the median |log10 ratio| is inf, written
    as "inf" with median_is_infinite true, not as null (= missing), and the JSON is valid."""
    runs = [
        SimpleNamespace(ratios={"EQE_max": r, "L_max": 0.0, "CE_max": None})
        for r in (0.0, 0.0, 2.0)
    ]
    stats = summary_statistics(runs)
    assert stats["L_max"]["median_abs_log10_ratio"] == math.inf
    assert stats["L_max"]["median_is_infinite"] and stats["EQE_max"]["median_is_infinite"]
    text = json.dumps(metrics_document([], stats, []), allow_nan=False)
    assert "Infinity" not in text and "NaN" not in text
    doc = json.loads(text)
    assert doc["metrics_version"] == METRICS_VERSION == 2
    assert '"inf"' in doc["json_conventions"]
    for label in ("EQE_max", "L_max"):
        entry = doc["summary"][label]
        assert entry["median_abs_log10_ratio"] == "inf" and entry["median_is_infinite"] is True
    assert doc["summary"]["L_max"]["rows_without_simulated_value"] == 3
    assert doc["summary"]["CE_max"]["median_abs_log10_ratio"] is None  # nothing compared
    assert doc["summary"]["CE_max"]["median_is_infinite"] is False


def test_cie_distance_statistics_by_hand():
    """CIE distance is a distance, not a ratio: its own statistics (median, largest)."""
    runs = [
        SimpleNamespace(case_id=f"T{i}", cie_distance=d)
        for i, d in enumerate((0.01, None, 0.05, 0.02))
    ]
    st = cie_distance_statistics(runs)
    assert st == {
        "rows_compared": 3,
        "median_distance": pytest.approx(0.02),
        "max_distance": pytest.approx(0.05),
        "max_row": "T2",
    }
    empty = cie_distance_statistics(runs[1:2])
    assert empty["rows_compared"] == 0 and empty["median_distance"] is None


# --------------------------------------------------------------------------------------
# Case files: clear errors
# --------------------------------------------------------------------------------------
def _write_case(tmp_path, mutate) -> Path:
    data = yaml.safe_load(FIXTURE.read_text())
    mutate(data)
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_fixture_case_loads():
    case = load_case(FIXTURE)
    assert case.case_id == "T2-13" and case.composition == "CsPbI3"
    assert case.stack_status == "assumed" and len(case.assumed_layers()) == 4
    assert case.emitter.emission_peak_nm == 650


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda d: d["reported"].pop("eqe_max_percent"), r"reported\.eqe_max_percent.*differs"),
        (lambda d: d["reported"].update(eqe_max_percent=7.4), r"'reported\.eqe_max_percent'.*7\.3"),
        (lambda d: d["reported"].update(cie_x=1.5), r"key 'reported\.cie_x'"),
        (lambda d: d["reported"].update(luminance_cd_m2=3), r"unknown key 'reported\.luminance"),
        (lambda d: d.pop("device"), r"missing required key 'device'"),
        (lambda d: d["device"]["layers"][0].update(material="PEDOT"), r"device: layers\[0\]"),
    ],
)
def test_bad_case_files_name_file_and_key(tmp_path, mutate, pattern):
    path = _write_case(tmp_path, mutate)
    with pytest.raises(PeledInputError, match=pattern) as err:
        load_case(path)
    assert str(path) in str(err.value)


def test_missing_case_file_and_bad_yaml(tmp_path):
    with pytest.raises(PeledInputError, match="case file not found"):
        load_case(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("reported: [1, 2\n")
    with pytest.raises(PeledInputError, match="not valid YAML"):
        load_case(bad)


# --------------------------------------------------------------------------------------
# Running a case and writing the report
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fixture_run():
    return run_case(load_case(FIXTURE))


@pytest.fixture(scope="module")
def scenarios():
    return {
        "a": scenario_mobility(VALIDATION_VOLTAGES_V, VALIDATION_MESH),
        "b": scenario_barrier(VALIDATION_VOLTAGES_V, VALIDATION_MESH),
        "c": scenario_ligands(VALIDATION_VOLTAGES_V, VALIDATION_MESH),
    }


def test_run_case_ratios_and_photometric_identity(fixture_run):
    run = fixture_run
    sim = run.simulated
    assert run.error is None and sim["total_points"] == VALIDATION_VOLTAGES_V.size
    assert sim["converged_points"] + len(sim["failed_voltages_V"]) == sim["total_points"]
    # the efficiencies compared are the maxima over the trusted biases
    res = run.result
    trusted = res.trusted & np.isfinite(res.eqe_percent)
    assert trusted.any()
    assert sim["eqe_max_percent"] == pytest.approx(np.max(res.eqe_percent[trusted]), rel=1e-12)
    assert sim["current_efficiency_max_cd_A"] == pytest.approx(
        np.max(res.current_efficiency_cd_A[trusted]), rel=1e-12
    )
    assert sim["eqe_max_all_biases_percent"] == pytest.approx(np.nanmax(res.eqe_percent))
    assert run.ratios["EQE_max"] == pytest.approx(sim["eqe_max_percent"] / 7.3, rel=1e-12)
    assert run.ratios["L_max"] == pytest.approx(sim["luminance_max_cd_m2"] / 972, rel=1e-12)
    # the colour distance is kept apart from the ratios
    assert set(run.ratios) == {"EQE_max", "L_max", "CE_max"}
    rep = run.case.reported
    assert run.cie_distance == pytest.approx(
        math.hypot(sim["cie_x"] - rep.cie_x, sim["cie_y"] - rep.cie_y), rel=1e-12
    )
    assert sim["turn_on_below_sweep_start"] is False  # the sweep starts at 0 V, in the dark
    # the screen's CE relation is the simulator's: CE = EQE K_ph / (q pi) at every bias
    res = run.result
    k = int(np.nanargmax(res.eqe_percent))
    implied = implied_current_efficiency_cd_A(res.eqe_percent[k], 650.0, 32.0)
    assert res.current_efficiency_cd_A[k] == pytest.approx(implied, rel=1e-9)
    # a row outside x1.5 gets reasons, each of a named kind
    if not (run.within("EQE_max", 1.5) and run.within("L_max", 1.5)):
        kinds = (
            "suspect data",
            "unknown stack",
            "missing physics",
            "limiting step",
            "solver",
            "not identified",
        )
        assert run.reasons and all(r.startswith(kinds) for r in run.reasons)
        assert any(r.startswith("unknown stack") for r in run.reasons)


def test_reasons_name_what_the_devices_physics_lacks(fixture_run):
    """A dark row behind a large barrier: under the classic physics the reason names the
    missing physics (thermionic injection only, no Poole-Frenkel mobility); under the
    disorder-aware physics, which has the Gaussian DOS, EGDM and electrode image force,
    it names the barrier as the limiting step and what the model lacks there."""
    from dataclasses import replace

    from peled.validation import _with_physics
    from peled.validation.run import disagreement_reasons

    def lowered_anode(physics):
        # the fixture's anode lowered to 4.2 eV: a 0.9 eV hole barrier into PEDOT:PSS
        case = _with_physics(fixture_run.case, physics)
        anode = replace(case.device.anode, work_function_eV=4.2)
        return case, replace(case.device, anode=anode)

    # a dark row: 1e-6 of the reported luminance
    dark = replace(fixture_run, ratios={**fixture_run.ratios, "L_max": 1e-6})
    case, device = lowered_anode("classic")
    classic = disagreement_reasons(replace(dark, case=replace(case, device=device)))
    case, aware_device = lowered_anode("disorder_aware")
    assert aware_device.physics == "disorder_aware" == fixture_run.case.device.physics
    # without a solution to read the drops off, the barrier is named
    reasons = disagreement_reasons(
        replace(dark, case=replace(case, device=aware_device), result=None)
    )
    assert any(r.startswith("missing physics") for r in classic)
    assert any(r.startswith("limiting step") and "heterointerfaces" in r for r in reasons)
    assert not any("Poole-Frenkel" in r for r in reasons)


def test_quasi_fermi_drops_name_where_each_carrier_loses_its_drive():
    """On the T2-02 stack (PEDOT:PSS/PVK/emitter/TPBi), profiles with the hole
    quasi-Fermi level falling 4.5 V across PVK and 0.1 V at PEDOT:PSS|PVK, and the
    electron one falling 0.8 V at emitter|TPBi: the largest drop on each path is named
    with its kind; the emitter's own nodes are on neither path."""
    import yaml

    from peled.device import device_from_mapping
    from peled.validation.run import quasi_fermi_drops

    data = yaml.safe_load((REPO_ROOT / "validation" / "devices" / "T2-02.yaml").read_text())
    dev = device_from_mapping(data["device"])
    lay = np.repeat(np.arange(4), 5)
    hole = np.concatenate(
        [np.full(5, -8.0), np.linspace(-7.9, -3.4, 5), np.full(5, -3.0), np.full(5, -2.0)]
    )
    electron = np.concatenate(
        [np.full(5, -9.0), np.full(5, -9.0), np.full(5, -1.0), np.linspace(-0.2, 0.0, 5)]
    )
    drops = quasi_fermi_drops(dev, lay, hole, electron)
    assert drops["holes"][1:] == ("PVK", "layer")
    assert drops["holes"][0] == pytest.approx(4.5)
    assert drops["electrons"][1:] == ("CsPbBr3-NC|TPBi", "interface")
    assert drops["electrons"][0] == pytest.approx(0.8)


def test_report_files(tmp_path, fixture_run, scenarios):
    runs = [fixture_run]
    written = write_report(
        tmp_path, runs, summary_statistics(runs), list(scenarios.values()), wall_time_s=1.0
    )
    names = {p.name for p in written}
    assert {"report.md", "report.html", "metrics.json", "parity_eqe.png", "parity_l.png"} <= names
    assert {"rolloff_red.png", "zone_red.png", "scenario_a.png"} <= names
    md = (tmp_path / "report.md").read_text()
    assert "| T2-13 | CsPbI3 | assumed |" in md
    for section in ("Summary", "Data-consistency", "Scenario checks", "Assumptions"):
        assert section in md
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == md.count("](figures/")
    assert not re.search(r'src="(?!data:)', html)  # self-contained
    doc = json.loads((tmp_path / "metrics.json").read_text())
    row = doc["rows"]["T2-13"]["simulated"]
    assert row["eqe_max_percent"] == pytest.approx(fixture_run.simulated["eqe_max_percent"])
    assert doc["protocol"]["fitted_parameters"] == []
    assert "CIE_distance" not in doc["rows"]["T2-13"]["ratios_simulated_over_reported"]
    assert doc["rows"]["T2-13"]["cie_distance"] == pytest.approx(fixture_run.cie_distance)
    assert doc["cie_distance"]["rows_compared"] == 1
    assert doc["cie_distance"]["max_distance"] == pytest.approx(fixture_run.cie_distance)
    assert "CIE 1931 (x, y) distance between simulated and reported colour, 1 rows" in md
    assert not list(tmp_path.parent.glob(".peled-report-*"))  # no temporary left behind


def test_report_folder_is_replaced_whole(tmp_path, fixture_run):
    """Figures of an earlier run (another colour, a scenario) disappear: the folder holds
    exactly this run's files. --keep-metrics carries metrics.json over unchanged, and a
    folder with foreign files is refused untouched."""
    runs = [fixture_run]
    out = tmp_path / "report"
    (out / "figures").mkdir(parents=True)
    for stale in ("zone_blue.png", "rolloff_green.png", "scenario_c.png"):
        (out / "figures" / stale).write_bytes(b"old")
    (out / "report.md").write_text("old report")
    (out / "metrics.json").write_text('{"reference": true}')
    written = write_report(out, runs, summary_statistics(runs), write_metrics=False)
    figs = sorted(p.name for p in (out / "figures").iterdir())
    assert figs == ["parity_eqe.png", "parity_l.png", "rolloff_red.png", "zone_red.png"]
    on_disk = {p for p in out.rglob("*") if p.is_file()}
    assert on_disk == set(written)
    assert json.loads((out / "metrics.json").read_text()) == {"reference": True}
    assert (out / "report.md").read_text() != "old report"
    assert not list(tmp_path.glob(".peled-report-*"))
    (out / "notes.txt").write_text("mine")
    with pytest.raises(PeledInputError, match=r"no part of a report: \['notes.txt'\]"):
        write_report(out, runs, summary_statistics(runs))
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "metrics.json").read_text()) == {"reference": True}


@pytest.mark.slow  # ~110 s; the fast suite keeps the validation run and its ratios
def test_cli_validate(tmp_path, fixture_run):
    from peled.cli import main

    out = tmp_path / "rep"
    result = CliRunner().invoke(
        main, ["validate", "--cases", str(FIXTURE), "--out", str(out), "--no-scenarios"]
    )
    assert result.exit_code == 0, result.output
    assert "EQE_max" in result.output and (out / "report.html").is_file()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["rows"]["T2-13"]["simulated"]["eqe_max_percent"] == pytest.approx(
        fixture_run.simulated["eqe_max_percent"], rel=1e-9
    )
    # the EQE maximum is the one over trusted biases; the one over all biases says
    # whether it is trusted
    sim, res = doc["rows"]["T2-13"]["simulated"], fixture_run.result
    k = int(np.nanargmax(res.eqe_percent))
    assert sim["eqe_max_all_biases_trusted"] is bool(res.trusted[k])
    trusted = res.trusted & np.isfinite(res.eqe_percent)
    if trusted.any():
        best = int(np.argmax(np.where(trusted, res.eqe_percent, -np.inf)))
        assert sim["eqe_max_percent"] == pytest.approx(res.eqe_percent[best], rel=1e-9)
        assert sim["voltage_at_eqe_max_V"] == pytest.approx(res.voltage_V[best])
    else:
        assert sim["eqe_max_percent"] is None
    md = (out / "report.md").read_text()
    assert "EQE sim, all biases (%)" in md and "'(r)' marks a maximum" in md
    # where metrics.json came from, as summary.json records it
    prov = doc["provenance"]
    assert prov["peled_version"] and prov["command"] == "peled validate"
    table = REPO_ROOT / "validation" / "review_table2_peled.csv"
    assert prov["reference_table"] == {
        "file": "validation/review_table2_peled.csv",
        "sha256": hashlib.sha256(table.read_bytes()).hexdigest(),
    }
    assert prov["case_files"]["T2-13"]["sha256"] == hashlib.sha256(FIXTURE.read_bytes()).hexdigest()
    v = VALIDATION_VOLTAGES_V
    assert prov["bias_grid"] == {
        "start_V": v[0],
        "stop_V": v[-1],
        "step_V": pytest.approx(v[1] - v[0], rel=1e-9),
        "points": v.size,
    }
    assert prov["mesh"]["nodes_per_layer"] == VALIDATION_MESH.nodes_per_layer
    assert prov["solver_settings"]["max_iterations"] == SolverSettings().max_iterations
    assert prov["cases_glob"] == [str(FIXTURE)] and prov["scenarios_glob"] is None
    bad = CliRunner().invoke(main, ["validate", "--cases", str(tmp_path / "none-*.yaml")])
    assert bad.exit_code == 2 and "no validation case files match" in bad.output


# --------------------------------------------------------------------------------------
# Scenario checks (review physics statements)
# --------------------------------------------------------------------------------------
def test_scenario_a_slow_htl_crowds_zone_at_htl_interface(scenarios):
    """The slow HTL moves the zone towards the HTL side, the slow ETL away from it. Under
    the disorder-aware physics the zone is spread over the film (the crystals' charge
    draws the other carrier in), so neither sits at an interface: the centroid moves
    from ~0.7 to ~0.45 of the film from the HTL side, not to a sheet."""
    n = scenarios["a"].numbers
    assert scenarios["a"].reproduced
    assert n["slow_htl_centroid_fraction_from_htl"] < n["slow_etl_centroid_fraction_from_htl"]
    assert n["slow_htl_fraction_within_5nm_of_htl"] > n["slow_etl_fraction_within_5nm_of_htl"]
    # a spread zone: both centroids inside the film, well away from either interface
    for key in ("slow_htl_centroid_fraction_from_htl", "slow_etl_centroid_fraction_from_htl"):
        assert 0.2 < n[key] < 0.8, (key, n[key])


def test_scenario_b_barrier_interlayer(scenarios):
    """peled's answer to the barrier statement: the interlayer keeps the quenching HTL away
    from the zone and removes its quenching loss, but it does not move the zone into the
    film (the zone is already spread over it), so the statement is judged not
    reproduced."""
    n = scenarios["b"].numbers
    shift = n["zone_shift_fraction_of_emitter"]
    assert shift == pytest.approx(
        n["barrier_centroid_fraction_from_emitter_edge"]
        - n["no_barrier_centroid_fraction_from_emitter_edge"]
    )
    assert scenarios["b"].reproduced == (shift >= 0.05)
    assert not scenarios["b"].reproduced
    # the zone is spread over the film with and without the interlayer
    assert n["no_barrier_centroid_fraction_from_emitter_edge"] > 0.2
    assert n["barrier_centroid_fraction_from_emitter_edge"] > 0.2
    # a zone near a quenching HTL loses a share of its excitons; a non-quenching spacer
    # removes that loss (by construction of the nearest-interface model) and raises the EQE
    assert n["no_barrier_quenching_loss_fraction"] > 0.1
    assert n["barrier_quenching_loss_fraction"] == pytest.approx(0.0, abs=1e-9)
    assert n["barrier_eqe_percent"] > n["no_barrier_eqe_percent"]


def test_scenario_c_short_ligands(scenarios):
    """What peled reproduces of the DDAB statement (docs/validation/index.md): the DDAB
    film's trusted EQE_max is higher, but by far less than the review's x16. At the
    trusted maximum per-crystal Auger takes most excitons, so the film's transport (its
    10-20x mobility spreads the carriers over more crystals) raises EQE_max and its
    higher PLQY adds little: the transport change alone gives most of the ratio."""
    n = scenarios["c"].numbers
    assert 1.0 < n["eqe_ratio_ddab_over_oa"] < n["review_eqe_ratio"]
    assert not scenarios["c"].reproduced  # not severalfold (>= x3)
    assert n["eqe_ratio_transport_only"] > 1.0
    film = n["eqe_ratio_ddab_over_oa"] / n["eqe_ratio_transport_only"]
    assert film >= 1.0  # the higher PLQY never lowers the EQE
    assert math.log10(n["eqe_ratio_transport_only"]) > math.log10(film)
    assert n["luminance_ratio_ddab_over_oa"] > 1.0


# --------------------------------------------------------------------------------------
# Regression against validation/report/metrics.json
# --------------------------------------------------------------------------------------
def _stored_rows(n_layers: int | None = 4, limit: int | None = 2):
    if not METRICS.is_file():
        pytest.fail(f"{METRICS} is missing: run `peled validate` and commit validation/report/")
    doc = json.loads(METRICS.read_text())
    proto = doc["protocol"]
    assert proto["mesh"]["nodes_per_layer"] == VALIDATION_MESH.nodes_per_layer
    assert proto["sweep_V"]["points"] == VALIDATION_VOLTAGES_V.size
    picked = []
    for case_id, row in doc["rows"].items():
        path = REPO_ROOT / row["case_file"]
        if row["error"] is not None or not path.is_file():
            continue
        case = load_case(path)
        if n_layers is None or len(case.device.layers) == n_layers:
            picked.append((case_id, case, row))
        if limit is not None and len(picked) == limit:
            break
    assert picked, "metrics.json holds no re-runnable row"
    return picked


def _compare(case_id, row, run):
    stored, fresh = row["simulated"], run.simulated
    a, b = row["cie_distance"], run.cie_distance
    assert (a is None) == (b is None), f"{case_id} cie_distance: stored {a}, now {b}"
    if a is not None:
        assert b == pytest.approx(a, rel=0.01, abs=1e-4), f"{case_id} cie_distance moved"
    for key in REGRESSION_KEYS:
        a, b = stored.get(key), fresh.get(key)
        if a is None or b is None:
            assert a is None and b is None, f"{case_id} {key}: stored {a}, now {b}"
        else:
            assert b == pytest.approx(a, rel=0.01), (
                f"{case_id} {key} moved by more than 1 % (stored {a}, now {b}); if the change is "
                "deliberate, regenerate validation/report with `peled validate` and commit it"
            )


def test_regression_two_stored_rows():
    for case_id, case, row in _stored_rows():
        _compare(case_id, row, run_case(case))


@pytest.mark.slow
def test_regression_all_stored_rows():
    for case_id, case, row in _stored_rows(n_layers=None, limit=None):
        _compare(case_id, row, run_case(case))


def test_stored_metrics_statistics_match_stored_rows():
    """metrics.json's statistics are those of its rows: ratio statistics recomputed from the
    stored ratios, the CIE distance in its own section (not among the ratios), infinite
    medians explicit ("inf"), null only where nothing is compared."""
    doc = json.loads(METRICS.read_text())
    assert doc["metrics_version"] == METRICS_VERSION
    rows = doc["rows"].values()
    runs = []
    for row in rows:
        ratios = row["ratios_simulated_over_reported"]
        assert set(ratios) == {"EQE_max", "L_max", "CE_max"}
        runs.append(SimpleNamespace(ratios=ratios))
    for label, entry in summary_statistics(runs).items():
        stored = doc["summary"][label]
        assert stored["rows_compared"] == entry["rows_compared"]
        assert stored["median_is_infinite"] == entry["median_is_infinite"]
        med = entry["median_abs_log10_ratio"]
        if med is None or math.isinf(med):
            assert stored["median_abs_log10_ratio"] == (None if med is None else "inf")
        else:
            assert stored["median_abs_log10_ratio"] == pytest.approx(med, rel=1e-12)
    dists = [(row["cie_distance"], k) for k, row in doc["rows"].items()]
    cie = cie_distance_statistics([SimpleNamespace(case_id=k, cie_distance=d) for d, k in dists])
    assert doc["cie_distance"] == pytest.approx(cie)
    assert cie["rows_compared"] > 0


def test_stored_report_is_self_contained():
    html = METRICS.parent / "report.html"
    assert html.is_file() and (METRICS.parent / "report.md").is_file()
    text = html.read_text()
    assert "data:image/png;base64," in text and not re.search(r'src="(?!data:)', text)


def test_case_paths_in_metrics_are_relative():
    """metrics.json names case files and the globs that found them relative to the
    repository (valid in a fresh clone)."""
    doc = json.loads(METRICS.read_text())
    for row in doc["rows"].values():
        assert not Path(row["case_file"]).is_absolute()
        assert (REPO_ROOT / row["case_file"]).is_file()
    prov = doc["provenance"]
    for pattern in prov["cases_glob"] + (prov["scenarios_glob"] or []):
        assert not Path(pattern).is_absolute(), pattern
        assert sorted(REPO_ROOT.glob(pattern)), pattern
