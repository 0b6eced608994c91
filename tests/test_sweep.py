"""peled sweep: spec validation, sampling, batched == sequential == Dask, resume, analysis.

One small sweep (green device, 16 nodes per layer, 5 biases, 2 HTLs x 2 ETL thicknesses)
is solved once per mode; all runs use batch size 2 so that the vmapped solver compiles once.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import peled
from peled.device import default_device_path
from peled.errors import PeledInputError
from peled.sweep import pareto_mask, ranking, read_chunks, run_sweep
from peled.sweep_spec import load_sweep, sweep_from_mapping

RTOL = 1e-10


def small_spec(base: str) -> dict:
    return {
        "name": "small",
        "base_device": base,
        "axes": [
            {"layer": 1, "materials": ["PVK", "TFB"]},
            {
                "layer": "TPBi",
                "parameter": "thickness_nm",
                "range": {"min": 30, "max": 50, "num": 2},
            },
        ],
        "voltages": {"start_V": 0, "stop_V": 4, "step_V": 1},
        "mesh": {"nodes_per_layer": 16},
        "luminance_voltages_V": [3.5, 4],
        "batch_size": 2,
    }


# A fixed copy of the green stack (the example file changes as the default device evolves),
# under the classic physics: these tests are of the sweep's machinery (rows, batching,
# resume, Dask), and the classic sweep compiles in a third of the time (a vmapped
# disorder-aware sweep of this stack compiles for ~6 min on 2 cores; the physics enter the
# same program through the layers' tags).
# Every bias of these candidates converges in Newton's quadratic regime, so batched,
# sequential and Dask solves agree to round-off (docs/user-guide/sweep.md: where a bias is
# accepted at the solver's residual floor, they agree only to the solver tolerance).
BASE_DEVICE = """
name: test green stack
physics: classic
anode: {material: ITO}
cathode: {material: LiF/Al}
layers:
  - {material: PEDOT:PSS, thickness_nm: 40}
  - {material: PVK, thickness_nm: 25}
  - {material: CsPbBr3-NC, thickness_nm: 30}
  - {material: TPBi, thickness_nm: 40}
"""


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sweepspec")
    base = d / "base.yaml"
    base.write_text(BASE_DEVICE)
    path = d / "small.yaml"
    path.write_text(yaml.safe_dump(small_spec("base.yaml")))  # relative to the sweep file
    return path


@pytest.fixture(scope="module")
def batched(sweep_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("batched")
    return out, run_sweep(load_sweep(sweep_file), out, batched=True, progress=False)


#: Columns that depend on which rule accepted a bias (SimulationResult.trusted): at a bias
#: near the solver's residual floor a vmapped and a sequential solve can be accepted by
#: different rules (strict / floor) with states equal to round-off.
TRUST_COLUMNS = (
    "eqe_max_all_biases_trusted",
    "eqe_max_all_biases_percent",
    "voltage_at_eqe_max_all_biases_V",
    "current_density_at_eqe_max_all_biases_mA_cm2",
)


def numeric_close(
    a: pd.DataFrame, b: pd.DataFrame, rtol: float = RTOL, skip: tuple[str, ...] = ()
) -> None:
    assert list(a["candidate_id"]) == list(b["candidate_id"])
    assert list(a.columns) == list(b.columns)
    for col in a.columns:
        if col in skip:
            continue
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f":
            assert np.array_equal(np.isnan(x), np.isnan(y)), col
            ok = ~np.isnan(x)
            np.testing.assert_allclose(x[ok], y[ok], rtol=rtol, atol=0, err_msg=col)
        else:
            assert list(x) == list(y), col


def test_rows_hold_inputs_and_figures_of_merit(batched, sweep_file):
    out, outcome = batched
    df = outcome.results
    assert len(df) == 4 and df["candidate_id"].is_unique
    # axis columns are named by the base device's material of the layer, not its index
    assert list(df["PVK_material"]) == ["PVK", "PVK", "TFB", "TFB"]
    assert list(df["TPBi_thickness_nm"]) == [30.0, 50.0, 30.0, 50.0]
    assert not [c for c in df.columns if c.startswith("layer")]
    for col in (
        "eqe_max_percent",
        "eqe_rolloff_percent",
        "turn_on_voltage_V",
        "luminance_at_3.5V_cd_m2",
        "luminance_at_4V_cd_m2",
        "eqe_at_4V_percent",
        "n_converged",
        "n_biases",
        "all_converged",
        "turn_on_below_sweep_start",
    ):
        assert col in df.columns
    assert (df["n_biases"] == 5).all()
    # the optics behind each row: ray optics, the outcoupling of the candidate's emitter
    assert (df["outcoupling_model"] == "ray_optics").all()
    assert df["outcoupling"].between(0.05, 0.5).all()
    assert len(list((out / "chunks").glob("chunk-*.parquet"))) == 2  # batch size 2
    assert pd.read_parquet(out / "results.parquet").equals(df)
    # ids are a deterministic function of the file: a fresh load gives the same ones
    assert [c.candidate_id for c in load_sweep(sweep_file).candidates()] == list(df["candidate_id"])


@pytest.mark.slow  # ~105 s; the fast suite keeps the batched rows' contents
def test_row_matches_public_simulate(batched, sweep_file):
    """A row equals the figures peled.simulate gives for the same candidate device."""
    _, outcome = batched
    sw = load_sweep(sweep_file)
    cand = sw.candidates()[3]
    res = peled.simulate(sw.build(cand), sw.voltages_V, mesh=sw.mesh)
    s = res.summary()
    row = outcome.results.iloc[3]
    for key in ("eqe_max_percent", "luminance_max_cd_m2", "turn_on_voltage_V"):
        want = math.nan if s[key] is None else s[key]
        assert row[key] == pytest.approx(want, rel=RTOL, nan_ok=True), key
    # eqe_max_percent is the maximum over trusted biases (resolved, strict); the maximum
    # over all biases is flagged unless it lies at a trusted bias. The acceptance rule of
    # a bias near the floor can differ between a vmapped and a sequential solve, so this
    # is checked on the row built from the sequential result itself.
    import peled.sweep as sweep_mod

    cfg = sweep_mod.RunConfig(tuple(sw.voltages_V), sw.mesh, peled.SolverSettings(), (3.5, 4.0))
    own = sweep_mod.candidate_row(cand, res, cfg)
    k = int(np.nanargmax(res.eqe_percent))
    assert own["eqe_max_all_biases_trusted"] == bool(res.trusted[k])
    assert own["eqe_max_all_biases_percent"] == pytest.approx(res.eqe_percent[k], rel=RTOL)
    trusted_eqe = np.where(res.trusted & np.isfinite(res.eqe_percent), res.eqe_percent, -np.inf)
    if np.isfinite(trusted_eqe.max()):
        best = int(np.argmax(trusted_eqe))
        assert own["eqe_max_percent"] == pytest.approx(res.eqe_percent[best], rel=RTOL)
        assert own["voltage_at_eqe_max_V"] == res.voltage_V[best]
    else:
        assert math.isnan(own["eqe_max_percent"])
    assert row["turn_on_below_sweep_start"] == s["turn_on_below_sweep_start"]
    lum = res.luminance_cd_m2
    assert row["luminance_at_4V_cd_m2"] == pytest.approx(lum[4], rel=RTOL)
    assert row["luminance_at_3.5V_cd_m2"] == pytest.approx(0.5 * (lum[3] + lum[4]), rel=RTOL)
    assert row["eqe_at_4V_percent"] == pytest.approx(res.eqe_percent[4], rel=RTOL)
    eqe = res.eqe_percent
    last = eqe[np.isfinite(eqe)][-1]
    assert row["eqe_rolloff_percent"] == pytest.approx(100 * (1 - last / np.nanmax(eqe)), rel=RTOL)


@pytest.mark.slow  # two more sweeps of the fixture's candidates
def test_batched_sequential_and_dask_agree(batched, sweep_file, tmp_path):
    from distributed import Client, LocalCluster

    _, ref = batched
    sw = load_sweep(sweep_file)
    seq = run_sweep(sw, tmp_path / "seq", batched=False, progress=False, analysis=False)
    numeric_close(ref.results, seq.results, skip=TRUST_COLUMNS)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dist = run_sweep(
            sw, tmp_path / "dask", scheduler=client, batched=True, progress=False, analysis=False
        )
    numeric_close(ref.results, dist.results)


@pytest.mark.slow  # ~130 s; the fast suite keeps the batched rows' contents
def test_default_mode_solves_one_by_one_on_cpu(batched, sweep_file, monkeypatch):
    """batched=None on a CPU backend never builds the vmapped solver; rows as sequential."""
    import jax

    import peled.sweep as sweep_mod

    assert jax.default_backend() == "cpu"

    def no_vmap(*args, **kw):
        raise AssertionError("the vmapped solver was used on a CPU backend")

    monkeypatch.setattr(sweep_mod, "batched_solver", no_vmap)
    sw = load_sweep(sweep_file)
    cfg = sweep_mod.RunConfig(tuple(sw.voltages_V), sw.mesh, peled.SolverSettings(), (3.5, 4.0))
    (row,) = sweep_mod.solve_batch(sw.candidates()[:1], cfg, None, 2)
    ref = batched[1].results.iloc[0]
    assert row["candidate_id"] == ref["candidate_id"]
    assert row["eqe_max_percent"] == pytest.approx(ref["eqe_max_percent"], rel=RTOL)


def test_interrupted_sweep_resumes_to_the_uninterrupted_rows(batched, sweep_file, tmp_path):
    _, ref = batched
    sw = load_sweep(sweep_file)
    out = tmp_path / "killed"

    class Killed(RuntimeError):
        pass

    def kill_after_first(path, rows):
        raise Killed(path)

    with pytest.raises(Killed):
        run_sweep(sw, out, batched=True, progress=False, on_chunk=kill_after_first)
    assert len(read_chunks(out)) == 2 and not (out / "results.parquet").exists()
    with pytest.raises(PeledInputError, match="--resume"):
        run_sweep(sw, out, progress=False)
    again = run_sweep(sw, out, resume=True, batched=True, progress=False, csv=True)
    assert again.n_solved == 2
    numeric_close(ref.results, again.results, rtol=0.0)
    assert pd.read_csv(out / "results.csv")["candidate_id"].tolist() == list(
        ref.results["candidate_id"]
    )
    # a second resume finds nothing to do and changes nothing
    third = run_sweep(sw, out, resume=True, progress=False, analysis=False)
    assert third.n_solved == 0
    numeric_close(ref.results, third.results, rtol=0.0)


def test_resume_refuses_a_changed_sweep(batched, sweep_file, tmp_path):
    out, _ = batched
    data = yaml.safe_load(sweep_file.read_text())
    data["voltages"]["stop_V"] = 5
    changed = sweep_from_mapping(data, "changed.yaml", sweep_file.parent)
    with pytest.raises(PeledInputError, match="different sweep"):
        run_sweep(changed, out, resume=True, progress=False)


def test_resume_refuses_changed_solver_settings(batched, sweep_file):
    """The solver settings decide the rows: a resume with other settings is refused, naming
    the setting that changed (they were left out of the fingerprint before)."""
    out, _ = batched
    other = peled.SolverSettings(max_iterations=80)
    with pytest.raises(PeledInputError, match=r"solver settings \(max_iterations 60 -> 80\)"):
        run_sweep(load_sweep(sweep_file), out, resume=True, progress=False, settings=other)
    # the default settings still resume (nothing left to solve)
    again = run_sweep(load_sweep(sweep_file), out, resume=True, progress=False, analysis=False)
    assert again.n_solved == 0


def test_resume_refuses_an_edited_material_file(batched, sweep_file, tmp_path):
    """A material YAML edited between two runs (here TFB, a choice of the material axis,
    known to the sweep file by name only) invalidates resume and the error names it."""
    import shutil

    from peled.materials import MaterialDatabase, default_database

    out, _ = batched
    db_dir = tmp_path / "materials"
    src = default_database().file_of("PVK").parents[1]
    shutil.copytree(src, db_dir)
    tfb = db_dir / default_database().file_of("TFB").relative_to(src)
    data = yaml.safe_load(tfb.read_text())
    data["hole_mobility_cm2_Vs"] = 2.0e-3
    tfb.write_text(yaml.safe_dump(data))
    edited = load_sweep(sweep_file, MaterialDatabase.from_dir(db_dir))
    with pytest.raises(PeledInputError, match=r"material 'TFB' \(database entry edited, .*tfb"):
        run_sweep(edited, out, resume=True, progress=False)
    # an unchanged copy of the database is the same sweep
    same = load_sweep(sweep_file, MaterialDatabase.from_dir(src))
    assert same.fingerprint() == load_sweep(sweep_file).fingerprint()
    assert "TFB" in same.fingerprint_parts()["materials"]
    # a material of the base device (CsPbBr3-NC) and a contact (LiF/Al) count as well
    parts = same.fingerprint_parts()
    assert {"CsPbBr3-NC", "LiF/Al", "ITO", "PVK", "TPBi"} <= set(parts["materials"])


def test_analysis_outputs(batched):
    out, outcome = batched
    for key in ("results", "ranking", "pareto", "heatmap"):
        assert outcome.files[key].is_file() and outcome.files[key].stat().st_size > 0
    top = pd.read_csv(out / "ranking.csv")
    vals = top["eqe_max_percent"].to_numpy()
    assert np.all(np.diff(vals[np.isfinite(vals)]) <= 0)
    assert "eqe_max_percent" in outcome.ranking_text


def test_cli_sweep_resume_writes_csv(batched, sweep_file):
    from click.testing import CliRunner

    from peled.cli import main

    out, ref = batched
    r = CliRunner().invoke(
        main, ["sweep", str(sweep_file), "--out", str(out), "--resume", "--csv", "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    assert "top 4 of 4" in r.output
    table = pd.read_csv(out / "results.csv")
    assert table["candidate_id"].tolist() == list(ref.results["candidate_id"])
    # the axes are named as the sweep file names the layers (by material), also in the
    # ranking printed and in ranking.csv
    assert {"PVK_material", "TPBi_thickness_nm"} <= set(table.columns)
    assert "TPBi_thickness_nm" in r.output and "layer3_" not in r.output
    assert "TPBi_thickness_nm" in pd.read_csv(out / "ranking.csv").columns
    # a ranking by EQE ranks the maxima over trusted biases, and says for how many
    # candidates the maximum over all biases lies at an untrusted one
    head = r.output.split("top 4 of 4")[1].splitlines()[1]
    assert "eqe_max_percent" in head and "eqe_max_all_biases_percent" not in head
    untrusted = int((~table["eqe_max_all_biases_trusted"]).sum())
    assert (f"note: for {untrusted} of these candidates" in r.output) == (untrusted > 0)
    none = int(table["eqe_max_percent"].isna().sum())
    assert (f"note: {none} of these candidates have no trusted bias" in r.output) == (none > 0)
    bad = CliRunner().invoke(main, ["sweep", str(sweep_file.parent / "nope.yaml")])
    assert bad.exit_code == 2 and "sweep file not found" in bad.output


def test_pareto_mask():
    x = np.array([10.0, 20.0, 5.0, 5.0, np.nan, 30.0])
    y = np.array([3.0, 4.0, 1.0, 0.5, 9.0, 4.0])
    # minimize x (roll-off), maximize y (EQE): (5,1), (10,3), (20,4) are not dominated
    assert pareto_mask(x, y).tolist() == [True, True, True, False, False, False]
    # maximize x, minimize y: (5,0.5) beats (5,1); (30,4) beats (20,4)
    assert pareto_mask(x, y, "max", "min").tolist() == [True, False, False, True, False, True]


def test_ranking_puts_nan_last():
    df = pd.DataFrame({"candidate_index": [0, 1, 2], "eqe": [1.0, np.nan, 2.0]})
    assert ranking(df, "eqe", "max", 3)["candidate_index"].tolist() == [2, 0, 1]
    assert ranking(df, "eqe", "min", 2)["candidate_index"].tolist() == [0, 2]


def test_ranking_turn_on_below_sweep_start():
    """A turn-on below the sweep start (NaN + flag) is lower than every determined one: first
    when minimizing turn-on (it used to rank last, as if the candidate never turned on)."""
    df = pd.DataFrame(
        {
            "candidate_index": [0, 1, 2, 3],
            "turn_on_voltage_V": [2.5, np.nan, np.nan, 2.1],
            "turn_on_below_sweep_start": [False, True, False, False],
        }
    )
    assert ranking(df, "turn_on_voltage_V", "min", 4)["candidate_index"].tolist() == [1, 3, 0, 2]
    assert ranking(df, "turn_on_voltage_V", "max", 4)["candidate_index"].tolist() == [0, 3, 1, 2]


# ---------------------------------------------------------------- spec and sampling


def base_mapping() -> dict:
    return yaml.safe_load(default_device_path().read_text())


def spec(axes, **kw) -> dict:
    return {"base_device": base_mapping(), "axes": axes, **kw}


def test_candidates_apply_every_axis_kind():
    sw = sweep_from_mapping(
        spec(
            [
                {"layer": 1, "materials": ["TCTA"]},
                {
                    "layer": "CsPbBr3-NC",
                    "parameter": "radiative_coefficient_cm3_s",
                    "values": [2e-10],
                },
                {"layer": 3, "parameter": "thickness_nm", "values": [55.0]},
                {"contact": "cathode", "parameter": "work_function_eV", "values": [3.1]},
                {"contact": "anode", "materials": ["Au"]},
                {"parameter": "outcoupling", "values": [0.25]},
            ]
        ),
        "t.yaml",
    )
    (cand,) = sw.candidates()
    dev = sw.build(cand)
    assert dev.layers[1].material.name == "TCTA"
    assert dev.layers[2].material.radiative_coefficient_cm3_s == 2e-10
    assert dev.layers[3].thickness_nm == 55.0
    assert dev.cathode.work_function_eV == 3.1
    assert dev.cathode.name == sw.base.cathode.name  # the material is kept, WF overridden
    assert dev.anode.name == "Au" and dev.anode.work_function_eV == 4.7
    assert dev.outcoupling == 0.25
    assert dev.layers[0] == sw.base.layers[0]  # untouched layers unchanged
    assert set(cand.inputs) == {
        "TFB_material",
        "CsPbBr3-NC_radiative_coefficient_cm3_s",
        "TPBi_thickness_nm",
        "cathode_work_function_eV",
        "anode_material",
        "device_outcoupling",
    }


def test_axis_columns_of_a_repeated_material_carry_the_layer_position():
    """Two layers of one material: each axis column names the material and the layer's
    1-based position, so the columns stay unique; other layers keep the bare name."""
    base = base_mapping()
    base["layers"].insert(3, {"material": "TFB", "thickness_nm": 10})  # TFB at 2 and 4
    sw = sweep_from_mapping(
        {
            "base_device": base,
            "axes": [
                {"layer": 1, "parameter": "thickness_nm", "values": [20.0]},
                {"layer": 3, "parameter": "thickness_nm", "values": [5.0]},
                {"layer": 3, "materials": ["PVK"]},
                {"layer": "TPBi", "parameter": "thickness_nm", "values": [45.0]},
            ],
        },
        "t.yaml",
    )
    (cand,) = sw.candidates()
    assert list(cand.inputs) == [
        "TFB_2_thickness_nm",
        "TFB_4_thickness_nm",
        "TFB_4_material",
        "TPBi_thickness_nm",
    ]
    dev = sw.build(cand)
    assert [la.thickness_nm for la in dev.layers[1:]] == [20.0, 30.0, 5.0, 45.0]
    assert dev.layers[3].material.name == "PVK"


def test_grid_spacing_linear_and_log():
    sw = sweep_from_mapping(
        spec(
            [
                {
                    "layer": 3,
                    "parameter": "thickness_nm",
                    "range": {"min": 20, "max": 60, "num": 3},
                },
                {
                    "layer": 2,
                    "parameter": "radiative_coefficient_cm3_s",
                    "range": {"min": 1e-11, "max": 1e-9, "num": 3, "scale": "log"},
                },
            ]
        ),
        "t.yaml",
    )
    c = sw.candidates()
    assert len(c) == 9
    assert sorted({x.inputs["TPBi_thickness_nm"] for x in c}) == [20.0, 40.0, 60.0]
    b = sorted({x.inputs["CsPbBr3-NC_radiative_coefficient_cm3_s"] for x in c})
    np.testing.assert_allclose(b, [1e-11, 1e-10, 1e-9], rtol=1e-12)


@pytest.mark.parametrize("method", ["random", "latin_hypercube"])
def test_sampling_is_seeded_and_inside_the_ranges(method):
    axes = [
        {"layer": 1, "materials": ["PVK", "TFB", "TCTA", "PTAA"]},
        {"layer": 3, "parameter": "thickness_nm", "range": {"min": 20, "max": 60}},
        {
            "layer": 2,
            "parameter": "radiative_coefficient_cm3_s",
            "range": {"min": 1e-11, "max": 1e-9, "scale": "log"},
        },
    ]

    def ids(seed):
        s = sweep_from_mapping(
            spec(axes, sampling={"method": method, "n_samples": 40, "seed": seed}), "t.yaml"
        )
        return s.candidates()

    a, b, c = ids(7), ids(7), ids(8)
    assert [x.candidate_id for x in a] == [x.candidate_id for x in b]
    assert [x.inputs for x in a] != [x.inputs for x in c]
    t = np.array([x.inputs["TPBi_thickness_nm"] for x in a])
    r = np.array([x.inputs["CsPbBr3-NC_radiative_coefficient_cm3_s"] for x in a])
    assert np.all((t >= 20) & (t <= 60)) and np.all((r >= 1e-11) & (r <= 1e-9))
    counts = pd.Series([x.inputs["TFB_material"] for x in a]).value_counts()
    assert set(counts.index) == {"PVK", "TFB", "TCTA", "PTAA"}
    if method == "latin_hypercube":  # stratified: each choice exactly n/k times
        assert (counts == 10).all()
        # one sample per stratum of width (max - min)/n along a continuous axis
        strata = np.floor((t - 20) / 40 * 40).astype(int)
        assert sorted(strata.tolist()) == list(range(40))
        logs = np.floor((np.log10(r) + 11) / 2 * 40).astype(int)
        assert sorted(logs.tolist()) == list(range(40))


THICK = {"layer": 3, "parameter": "thickness_nm"}


@pytest.mark.parametrize(
    ("axes", "extra", "message"),
    [
        (
            [{"layer": 1, "materials": ["PVK", "TFBB"]}],
            {},
            r"bad\.yaml: axes\[0\]: key 'materials\[1\]': unknown material 'TFBB'; "
            r"closest known names: \['TFB'",
        ),
        ([{"layer": 1, "materials": []}], {}, r"bad\.yaml: key 'axes\.0'.*empty axis"),
        ([{**THICK, "values": []}], {}, r"key 'axes\.0'.*empty axis: 'values'"),
        ([{**THICK, "range": {"min": 50, "max": 20, "num": 3}}], {}, r"axes\.0\.range.*bad range"),
        (
            [{**THICK, "range": {"min": 0, "max": 20, "num": 3, "scale": "log"}}],
            {},
            r"bad range: scale 'log' needs min > 0",
        ),
        ([{**THICK, "range": {"min": 20, "max": 50}}], {}, r"key 'range\.num' is missing"),
        ([{"layer": 9, **{"parameter": "thickness_nm", "values": [1.0]}}], {}, r"indices 0\.\.3"),
        ([{"layer": 1, "materials": ["ITO"]}], {}, r"'ITO' has role 'electrode'"),
        (
            [{"layer": 1, "parameter": "mobility", "values": [1.0]}],
            {},
            r"allowed: \['thickness_nm'",
        ),
        ([{"parameter": "bias", "values": [1.0]}], {}, r"allowed device parameters"),
        ([{**THICK, "values": [10.0]}], {"sampling": {"method": "random"}}, r"needs 'n_samples'"),
        (
            [{**THICK, "values": [10.0]}],
            {"objective": {"column": "eqe"}},
            r"key 'objective\.column' = 'eqe': allowed \['eqe_max_percent'",
        ),
        ([{**THICK, "values": [10.0]}], {"luminance_voltages_V": [9.0]}, r"inside the sweep"),
        (
            [{**THICK, "values": [10.0]}],
            {"pareto": {"x": "eqe_at_5V_percent"}, "luminance_voltages_V": [4.0]},
            r"key 'pareto\.x' = 'eqe_at_5V_percent': allowed \[.*'eqe_at_4V_percent'\]",
        ),
        ([{**THICK, "values": [10.0], "bogus": 1}], {}, r"unknown key 'axes\.0\.bogus'"),
    ],
)
def test_invalid_sweep_files_fail_clearly(axes, extra, message):
    with pytest.raises(PeledInputError, match=message):
        sweep_from_mapping(spec(axes, **extra), "bad.yaml")


def test_bad_thickness_value_names_the_candidate():
    sw = sweep_from_mapping(spec([{**THICK, "values": [-5.0]}]), "bad.yaml")
    with pytest.raises(PeledInputError, match=r"bad\.yaml: candidate c000000-.*thickness_nm"):
        sw.build(sw.candidates()[0])


def test_missing_base_device_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(
        yaml.safe_dump({"base_device": "nothere.yaml", "axes": [{**THICK, "values": [9.0]}]})
    )
    with pytest.raises(PeledInputError, match=r"s\.yaml: key 'base_device' = 'nothere\.yaml'"):
        load_sweep(p)


def test_example_sweeps_are_valid():
    folder = Path(__file__).resolve().parent.parent / "examples" / "sweeps"
    files = sorted(folder.glob("*.yaml"))
    assert files
    for f in files:
        assert len(load_sweep(f).candidates()) > 0


def test_batch_size_choice():
    from peled.sweep import auto_batch_size, balanced_batch_size, memory_per_candidate_bytes

    # fewest batches of <= max, then the least padding; a multiple of the worker count
    assert balanced_batch_size(144, 32) == 29  # 5 batches, 1 padded slot
    assert balanced_batch_size(256, 32, 2) == 32
    assert balanced_batch_size(100, 32, 3) == 17  # 6 batches for 3 workers
    assert balanced_batch_size(1, 32, 2) == 1
    # B = 8 (3 M N + 256 N): 81 biases, 128 nodes
    assert memory_per_candidate_bytes(81, 128) == 8 * (3 * 81 * 128 + 256 * 128)
    assert 1 <= auto_batch_size(81, 128) <= 32
    assert auto_batch_size(10**9, 10**6) == 1  # nothing fits: one at a time


KILL_SCRIPT = """
import os, signal, sys
from peled.sweep import run_sweep
from peled.sweep_spec import load_sweep

def die(path, rows):
    os.kill(os.getpid(), signal.SIGKILL)  # no cleanup of any kind

run_sweep(load_sweep(sys.argv[1]), sys.argv[2], batched=True, progress=False, on_chunk=die)
"""


@pytest.mark.slow
def test_sigkilled_sweep_resumes_to_the_uninterrupted_rows(batched, sweep_file, tmp_path):
    import subprocess
    import sys

    _, ref = batched
    out = tmp_path / "sigkill"
    p = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(sweep_file), str(out)], check=False)
    assert p.returncode == -9
    assert len(read_chunks(out)) == 2 and not (out / "results.parquet").exists()
    again = run_sweep(load_sweep(sweep_file), out, resume=True, batched=True, progress=False)
    assert again.n_solved == 2
    numeric_close(ref.results, again.results, rtol=0.0)


@pytest.mark.slow
def test_dask_worker_processes_agree(batched, sweep_file, tmp_path):
    """Worker processes (which enable x64 themselves) give the same rows."""
    from distributed import Client, LocalCluster

    _, ref = batched
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dist = run_sweep(
            load_sweep(sweep_file),
            tmp_path,
            scheduler=client,
            batched=True,
            progress=False,
            analysis=False,
        )
    numeric_close(ref.results, dist.results)


def test_contact_material_and_work_function_axes_combine():
    """A work-function axis overrides the work function of the material chosen by a
    material axis on the same contact, whatever the order of the two axes."""
    for axes in (
        [
            {"contact": "anode", "parameter": "work_function_eV", "values": [5.3]},
            {"contact": "anode", "materials": ["Au"]},
        ],
        [
            {"contact": "anode", "materials": ["Au"]},
            {"contact": "anode", "parameter": "work_function_eV", "values": [5.3]},
        ],
    ):
        sw = sweep_from_mapping(spec(axes), "t.yaml")
        (cand,) = sw.candidates()
        dev = sw.build(cand)
        assert dev.anode.name == "Au" and dev.anode.work_function_eV == 5.3


def test_contact_axis_uses_the_sweeps_database_in_workers():
    """A contact material chosen from a custom database reaches the solver as that
    database's entry: candidates carry the electrode inline, so the worker path
    (``device_from_mapping`` without a database, as ``solve_batch`` calls it) cannot fall
    back to the default database's entry of the same name."""
    from peled.device import device_from_mapping, device_to_mapping
    from peled.materials import Electrode, MaterialDatabase, default_database

    base = default_database()
    mats = {name: base[name] for name in base}
    mats["Au"] = Electrode(
        name="Au",
        role="electrode",
        work_function_eV=5.05,
        refractive_index=0.5,
        extinction_coefficient=3.0,
        exciton_quenching_efficiency=0.4,
        sources={
            k: "test value"
            for k in (
                "work_function_eV",
                "refractive_index",
                "extinction_coefficient",
                "exciton_quenching_efficiency",
            )
        },
    )
    db = MaterialDatabase(mats, {})
    sw = sweep_from_mapping(spec([{"contact": "anode", "materials": ["Au"]}]), "t.yaml", db=db)
    (cand,) = sw.candidates()
    for dev in (sw.build(cand), device_from_mapping(cand.mapping, "worker")):
        assert dev.anode.work_function_eV == 5.05
        assert dev.anode.exciton_quenching_efficiency == 0.4
        assert dev.anode.refractive_index == 0.5
    # the default database's Au differs, so the check above can fail
    assert base["Au"].work_function_eV != 5.05
    # a device written out reloads equal without the database it came from
    dev = sw.build(cand)
    assert device_from_mapping(device_to_mapping(dev), "reloaded") == dev


def test_progress_bar_says_it_is_compiling_until_the_first_batch(capsys):
    """Before the first batch is done the bar says that its solver is compiling (not an
    empty rate); without progress there is no bar."""
    import peled.sweep as sweep_mod

    bar = sweep_mod._progress(True, 4, 0, "trial")
    assert sweep_mod.COMPILING_NOTE in capsys.readouterr().err
    assert bar.postfix == sweep_mod.COMPILING_NOTE
    bar.close()
    assert sweep_mod._progress(False, 4, 0, "trial") is None
