"""Light output, photometric identities and the CLI on a small, well-conditioned LED."""

import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from devices import inline_material
from scipy import constants

import peled
from peled.cli import main
from peled.core.newton import RESULT_CODES
from peled.core.params import MeshSpec
from peled.solve.continuation import solve_sweep as compiled_sweep

SRC = {"sources": {}}


def _mat(name, role, ea, eg, mu, **kw):
    return inline_material(name, role, ea, eg, mu, **kw)


def small_led(auger=5e-28, htl_mu=1e-3):
    em = _mat(
        "test-emitter",
        "emitter",
        3.39,
        2.41,
        1e-3,
        eps=10,
        radiative_coefficient_cm3_s=1.5e-10,
        auger_coefficient_electron_cm6_s=auger,
        auger_coefficient_hole_cm6_s=auger,
        srh_lifetime_electron_s=1e-7,
        srh_lifetime_hole_s=1e-7,
        refractive_index=1.9,
        emission_peak_nm=515,
        emission_fwhm_nm=18,
        photoluminescence_quantum_yield=0.8,
    )
    return peled.device_from_mapping(
        {
            "name": "small LED",
            "anode": {"work_function_eV": 5.5},
            "cathode": {"work_function_eV": 3.0},
            "layers": [
                {
                    "material": _mat("test-htl", "hole_transport", 2.4, 3.1, htl_mu),
                    "thickness_nm": 30,
                },
                {"material": em, "thickness_nm": 20},
                {
                    "material": _mat("test-etl", "electron_transport", 3.0, 3.5, 1e-3),
                    "thickness_nm": 30,
                },
            ],
        },
        "small_led",
    )


@pytest.fixture(scope="module")
def led_result():
    return peled.simulate(small_led(), np.linspace(0, 4.0, 17), mesh=MeshSpec(24))


def test_converges_and_emits(led_result):
    r = led_result
    assert r.converged.all()
    assert np.nanmax(r.luminance_cd_m2) > 1.0


def test_strict_sweep_reports_strict_everywhere(led_result, tmp_path):
    """Every bias of this sweep passes the strict test on the forward pass: result code
    "strict" per bias in the result, in jv.csv's result column and in summary.json's
    result_counts (peled.core.newton.RESULT_CODES)."""
    from peled.io import write_jv, write_summary

    r = led_result
    n = r.voltage_V.size
    np.testing.assert_array_equal(r.result_code, 0)
    assert list(r.result) == ["strict"] * n and r.strictly_converged.all()
    assert r.result_counts() == {"strict": n}
    write_jv(r, tmp_path / "jv.csv")
    write_summary(r, tmp_path / "summary.json")
    jv = pd.read_csv(tmp_path / "jv.csv")
    assert list(jv["result"]) == ["strict"] * n
    assert json.loads((tmp_path / "summary.json").read_text())["result_counts"] == {"strict": n}


def test_current_is_accounted_for_by_layer_interface_and_leakage(led_result, tmp_path):
    """Continuity: J = sum of the recombination currents per layer and per interface plus
    the minority carriers leaving at the contacts, at every converged bias, to 1e-6 of J
    (the Newton tolerance); jv.csv names the columns by material."""
    from peled.io import write_jv

    r = led_result
    total = (
        r.layer_recombination_current_mA_cm2.sum(axis=1)
        + r.interface_recombination_current_mA_cm2.sum(axis=1)
        + r.electron_leakage_mA_cm2
        + r.hole_leakage_mA_cm2
    )
    j = r.current_density_mA_cm2
    on = r.current_resolved
    assert on.sum() >= 10
    np.testing.assert_allclose(total[on], j[on], rtol=1e-6)
    # the emitter takes most of the current of this balanced stack at 4 V
    labels = r.layer_labels()
    assert r.layer_recombination_current_mA_cm2[-1, labels.index("test-emitter")] > 0.5 * j[-1]
    write_jv(r, tmp_path / "jv.csv")
    jv = pd.read_csv(tmp_path / "jv.csv")
    for lab in labels:
        assert f"recombination_{lab}_mA_cm2" in jv.columns
    assert f"interface_recombination_{labels[0]}|{labels[1]}_mA_cm2" in jv.columns
    assert {"electron_leakage_anode_mA_cm2", "hole_leakage_cathode_mA_cm2"} <= set(jv.columns)


def test_headline_eqe_comes_from_resolved_strict_points(led_result):
    """summary.json's EQE_max (and its voltage, current and roll-off current) is the
    maximum over the trusted biases (|J| above its round-off floor, strictly converged);
    the maximum over every bias is kept apart with why it is not trusted. A spurious EQE
    at a bias whose current is below its floor never becomes the headline, and with every
    current below its floor there is no headline at all."""
    from dataclasses import replace

    from peled.metrics import summary_core

    res = led_result
    s = summary_core(res)
    quoted = res.trusted & np.isfinite(res.eqe_percent)
    assert quoted.any()
    k = int(np.argmax(np.where(quoted, res.eqe_percent, -np.inf)))
    assert s["eqe_max_percent"] == res.eqe_percent[k]
    assert s["voltage_at_eqe_max_V"] == res.voltage_V[k]
    assert s["current_density_at_eqe_max_mA_cm2"] == res.current_density_mA_cm2[k]
    assert s["eqe_max_all_biases_percent"] >= s["eqe_max_percent"]
    assert s["eqe_max_all_biases_current_resolved"] in (True, False)
    # a round-off spike: the lowest positive current made unresolved, its EQE made 99 %
    low = int(np.nonzero(res.converged & (res.current_density_mA_cm2 > 0))[0][0])
    assert low != k
    eqe = res.eqe_percent.copy()
    eqe[low] = 99.0
    floor = res.current_floor_mA_cm2.copy()
    floor[low] = 10.0 * abs(res.current_density_mA_cm2[low])
    spiked = summary_core(replace(res, eqe_percent=eqe, current_floor_mA_cm2=floor))
    assert spiked["eqe_max_percent"] == s["eqe_max_percent"]
    assert spiked["current_density_at_half_eqe_mA_cm2"] == s["current_density_at_half_eqe_mA_cm2"]
    assert spiked["eqe_max_all_biases_percent"] == 99.0
    assert spiked["voltage_at_eqe_max_all_biases_V"] == res.voltage_V[low]
    assert spiked["eqe_max_all_biases_current_resolved"] is False
    assert spiked["eqe_max_all_biases_trusted"] is False
    top = int(np.nanargmax(res.eqe_percent))
    assert s["eqe_max_all_biases_trusted"] is bool(res.trusted[top])
    blind = summary_core(replace(res, current_floor_mA_cm2=np.full_like(floor, 1e30)))
    for key in (
        "eqe_max_percent",
        "voltage_at_eqe_max_V",
        "current_density_at_half_eqe_mA_cm2",
        "eqe_at_100_mA_cm2_percent",
    ):
        assert blind[key] is None, key
    assert blind["eqe_max_all_biases_percent"] == s["eqe_max_all_biases_percent"]


def test_plots_say_what_they_show(led_result):
    """The J-V-L plot labels the 1 cd/m^2 line, the band diagram states its energy zero
    and keeps its legend beside the panels, the roll-off shows EQE against J and against
    L on separate axes, the zone plot is per bias relative to its own peak."""
    from peled.plotting import bands_figure, jvl_figure, recombination_figure, rolloff_figure

    texts = [t.get_text() for t in jvl_figure(led_result).axes[1].texts]
    assert any("1 cd" in t for t in texts)
    bands = bands_figure(led_result, [4, 16])
    assert "cathode's Fermi level" in bands._suptitle.get_text()
    legend = bands.axes[0].get_legend()
    assert legend is not None and legend.get_bbox_to_anchor().x0 > bands.axes[0].bbox.x1 - 1
    roll = rolloff_figure(led_result)
    assert [a.get_xlabel()[:7] for a in roll.axes] == ["Current", "Luminan"]
    zone = recombination_figure(led_result, [16])
    assert zone.axes[0].get_ylim() == (1e-4, 3.0)
    # densities: electrons and holes per profile bias, on a log axis; no crystal panel
    # without a nanocrystal film
    from peled.plotting import densities_figure

    dens = densities_figure(led_result, [4, 16])
    assert len(dens.axes) == 1 and dens.axes[0].get_yscale() == "log"
    lines = dens.axes[0].get_lines()
    np.testing.assert_allclose(
        lines[0].get_ydata(), led_result.profiles["electron_density_cm3"][4], rtol=1e-12
    )
    assert [ln.get_label() for ln in lines[:2]] == ["n, 1.00 V", "p, 1.00 V"]


def test_profile_titles_clear_the_layer_names(led_result):
    """The two-line title of the band diagram and of the density plot stays above the
    layer names over the top panel, with one profile bias (a 3.2 in tall band diagram)
    as with three."""
    from peled.plotting import bands_figure, densities_figure

    for fig in (
        bands_figure(led_result, [16]),
        bands_figure(led_result, [1, 4, 16]),
        densities_figure(led_result, [16]),
    ):
        renderer = fig.canvas.get_renderer()
        title = fig._suptitle.get_window_extent(renderer)
        names = [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_text()]
        assert names and all(title.y0 > n.y1 for n in names)


def test_photometric_identities(led_result):
    r = led_result
    ok = r.current_density_mA_cm2 > 1e-3
    k_ph = r.spectrum.lumens_per_photon_per_s
    j = r.current_density_mA_cm2[ok] * 10.0  # A/m2
    lum = r.eqe_percent[ok] / 100 * j * k_ph / (constants.e * math.pi)
    np.testing.assert_allclose(r.luminance_cd_m2[ok], lum, rtol=1e-9)
    np.testing.assert_allclose(r.current_efficiency_cd_A[ok], r.luminance_cd_m2[ok] / j, rtol=1e-12)


def test_energy_bookkeeping(led_result):
    r = led_result
    ok = r.current_density_mA_cm2 > 1e-3
    assert np.all(r.eqe_percent[ok] / 100 <= r.outcoupling * 0.8 * (1 + 1e-12))
    # recombination accounts for the current (leakage to the wrong contact is negligible)
    np.testing.assert_allclose(
        r.recombination_current_mA_cm2[ok][-3:], r.current_density_mA_cm2[ok][-3:], rtol=1e-3
    )
    # photons come from radiative recombination in the emitter times PLQY
    phi = r.outcoupled_photon_flux_m2_s[ok] / r.outcoupling
    np.testing.assert_allclose(
        phi * constants.e / 0.8, r.radiative_current_mA_cm2[ok] * 10, rtol=1e-6
    )


def test_current_below_its_floor_is_flagged(led_result):
    """At V = 0 J is exactly zero, far below its float64 floor: not resolved. Where the
    device is on, J is resolved. The floor is the continuity tests' bound: the edge
    currents of a converged state agree within it (plus 1e-6 of J), and it is far below
    the on-current. EQE is computed wherever J > 0, flagged or not."""
    r = led_result
    floor = r.current_floor_mA_cm2
    assert np.all(np.isfinite(floor[r.converged])) and np.all(floor[r.converged] > 0)
    res = r.current_resolved
    assert not res[0]
    assert res[-1] and floor[-1] < 1e-6 * r.current_density_mA_cm2[-1]
    np.testing.assert_array_equal(np.isfinite(r.eqe_percent), r.current_density_mA_cm2 > 0)
    for k in np.flatnonzero(r.converged):
        tot = r.profiles["electron_current_mA_cm2"][k] + r.profiles["hole_current_mA_cm2"][k]
        assert np.ptp(tot) <= floor[k] + 1e-6 * abs(r.current_density_mA_cm2[k])
    df = r.to_dataframe()
    np.testing.assert_array_equal(df["current_resolved"].to_numpy(), res)
    s = r.summary()
    assert s["current_unresolved_points"] == int((r.converged & ~res).sum()) >= 1
    assert s["current_unresolved_up_to_V"] == float(r.voltage_V[r.converged & ~res].max())


def test_auger_rolloff(led_result):
    # 25 biases: the 32-bias bucket of led_result's compiled sweep (padded_biases)
    v = np.linspace(0, 6.0, 25)
    with_auger = peled.simulate(small_led(auger=5e-26), v, mesh=MeshSpec(24))
    without = peled.simulate(small_led(auger=0.0), v, mesh=MeshSpec(24))
    e1, e0 = with_auger.eqe_percent, without.eqe_percent
    assert with_auger.converged.all() and without.converged.all()
    assert e1[-1] < 0.9 * np.nanmax(e1)
    assert e0[-1] > 0.97 * np.nanmax(e0)


def test_a_new_bias_count_reuses_the_compiled_sweep(led_result):
    """Sweeps are padded to a bucket of biases (peled.simulate.padded_biases): 19 biases
    run on led_result's compiled 17-bias sweep (both pad to 32) without compiling again,
    and the 17 biases they share give the same states; the padding is not in the
    result."""
    from peled.core.newton import solve_sweep
    from peled.simulate import padded_biases

    assert padded_biases(np.zeros(3)).size == 16 and padded_biases(np.zeros(17)).size == 32
    np.testing.assert_array_equal(padded_biases(np.arange(20.0))[19:], 19.0)
    v = np.concatenate([led_result.voltage_V, [4.25, 4.5]])
    compiled = compiled_sweep._cache_size()
    res = peled.simulate(small_led(), v, mesh=MeshSpec(24))
    assert compiled_sweep._cache_size() == compiled
    assert res.voltage_V.size == 19 and res.current_density_mA_cm2.size == 19
    # the padding is never attempted: no iterations, recorded as failed
    import jax
    import jax.numpy as jnp

    from peled.core.newton import SolverSettings

    with jax.enable_x64(True):
        arrays = small_led().to_arrays(MeshSpec(24))
        st = solve_sweep(
            arrays,
            jnp.asarray(padded_biases(v)),
            SolverSettings(),
            report_progress=False,
            n_biases=jnp.asarray(19),
        )
    assert compiled_sweep._cache_size() == compiled
    assert np.all(np.asarray(st.iterations)[19:] == 0)
    assert not np.any(np.asarray(st.converged)[19:])
    np.testing.assert_array_equal(np.asarray(st.converged)[:19], res.converged)
    n = led_result.voltage_V.size
    np.testing.assert_array_equal(res.current_density_mA_cm2[:n], led_result.current_density_mA_cm2)
    np.testing.assert_array_equal(res.result_code[:n], led_result.result_code)


def test_new_tolerances_reuse_the_compiled_sweep(led_result):
    """Tolerances and iteration limits are traced numbers of SolverSettings (a pytree):
    other values run on led_result's compiled sweep, and they take effect (two Newton
    iterations per attempt fail most biases; tighter tolerances converge every one to the
    same J). The switches that decide which passes exist are its static structure."""
    import jax

    from peled.core.newton import STRUCTURE_FIELDS, SolverSettings

    v = led_result.voltage_V
    compiled = compiled_sweep._cache_size()
    tight = SolverSettings(residual_rtol=1e-11, max_iterations=80, floor_rtol=1e-7)
    res = peled.simulate(small_led(), v, mesh=MeshSpec(24), settings=tight)
    starved = peled.simulate(
        small_led(), v, mesh=MeshSpec(24), settings=SolverSettings(max_iterations=2)
    )
    assert compiled_sweep._cache_size() == compiled
    assert res.converged.all()
    ok = led_result.trusted & res.trusted
    np.testing.assert_allclose(
        res.current_density_mA_cm2[ok], led_result.current_density_mA_cm2[ok], rtol=1e-6
    )
    assert starved.converged.sum() < 0.5 * v.size
    same = jax.tree_util.tree_structure(SolverSettings())
    assert jax.tree_util.tree_structure(tight) == same
    for name in STRUCTURE_FIELDS:
        flipped = SolverSettings(**{name: not getattr(SolverSettings(), name)})
        assert jax.tree_util.tree_structure(flipped) != same, name


def test_cli_simulate_writes_files(tmp_path, led_result):
    dev = tmp_path / "led.yaml"
    from peled.device import device_to_mapping

    dev.write_text(yaml.safe_dump(device_to_mapping(small_led())))
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main,
        [
            "simulate",
            str(dev),
            "--out",
            str(out),
            # led_result's shape (mesh 24, 17 biases, no host callback): the CLI runs on
            # its compiled sweep
            "--stop-V",
            "4",
            "--step-V",
            "0.25",
            "--mesh",
            "24",
            "--no-progress",
            "--profile-V",
            "2.5",
            "--profile-V",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "jv.csv",
        "summary.json",
        "profiles.csv",
        "jvl.png",
        "eqe_rolloff.png",
        "band_diagram.png",
        "recombination_zone.png",
        "carrier_densities.png",
    ):
        assert (out / name).stat().st_size > 0, name
    header = (out / "jv.csv").read_text().splitlines()[0].split(",")
    for col in (
        "voltage_V",
        "current_density_mA_cm2",
        "luminance_cd_m2",
        "eqe_percent",
        "current_efficiency_cd_A",
        "power_efficiency_lm_W",
        *BALANCE_COLUMNS,
        "converged",
        "result",
    ):
        assert col in header
    jv = pd.read_csv(out / "jv.csv")
    summ = json.loads((out / "summary.json").read_text())
    assert jv["result"].isin(list(RESULT_CODES.values())).all()
    assert (jv["result"] == "failed").sum() == (~jv["converged"]).sum()
    assert summ["result_counts"] == jv["result"].value_counts().to_dict()
    for key in (
        "eqe_max_percent",
        "turn_on_voltage_V",
        "cie_x",
        "cie_y",
        "outcoupling",
        "converged_points",
        "total_points",
        "current_density_at_half_eqe_mA_cm2",
        "charge_balance_factor_at_eqe_max",
        "recombination_zones",
        "turn_on_below_sweep_start",
        "result_counts",
    ):
        assert key in summ
    assert summ["turn_on_below_sweep_start"] is False
    assert (summ["mesh_nodes_per_layer"], summ["mesh_grading"]) == (24, "sine")
    assert summ["physics"] == "disorder_aware"
    _check_zones(summ)
    assert [z["voltage_V"] for z in summ["recombination_zones"]] == [2.5, 3.0]
    prof_header = (out / "profiles.csv").read_text().splitlines()[0].split(",")
    assert "radiative_rate_cm3_s@2.500V" in prof_header
    assert "photons_per_radiative_event" in prof_header
    assert "carriers_per_crystal@2.500V" in prof_header and "auger_survival@2.500V" in prof_header
    assert any(c.startswith("interface_recombination_rate_cm2_s@") for c in prof_header)


def test_turn_on_voltage_interpolates_and_is_not_determined_below_the_sweep():
    from peled.metrics import turn_on_voltage

    v = np.array([0.0, 1.0, 2.0, 3.0])
    # log-L interpolation: 0.1 -> 10 cd/m2 between 1 and 2 V crosses 1 cd/m2 half-way
    assert turn_on_voltage(v, np.array([0.0, 0.1, 10.0, 100.0])) == (1.5, False)
    # the bias before has no light at all: the first bias at >= 1 cd/m2 (upper bound)
    assert turn_on_voltage(v, np.array([0.0, 0.0, 10.0, 100.0])) == (2.0, False)
    # never reaches 1 cd/m2: not determined, and not below the sweep either
    assert turn_on_voltage(v, np.array([0.0, 0.1, 0.5, 0.9])) == (None, False)
    # already >= 1 cd/m2 at the first bias: below the sweep start, not the start itself
    assert turn_on_voltage(v, np.array([2.0, 5.0, 10.0, 100.0])) == (None, True)
    # the first converged bias counts as the start (a non-converged first bias is NaN)
    assert turn_on_voltage(v, np.array([np.nan, 5.0, 10.0, 100.0])) == (None, True)
    # a non-converged bias inside the sweep is skipped, not interpolated through as zero
    assert turn_on_voltage(v, np.array([0.1, np.nan, 10.0, 100.0])) == (1.0, False)


# (the fast suite keeps the turn-on interpolation test)
@pytest.mark.slow  # a second CLI sweep compile, ~1 min
def test_cli_simulate_turn_on_below_sweep_start(tmp_path):
    """A sweep that starts above 1 cd/m2: turn-on is null in summary.json with
    turn_on_below_sweep_start true, and the CLI says it is not determined (it used to
    report the sweep start as the turn-on voltage)."""
    dev = tmp_path / "led.yaml"
    from peled.device import device_to_mapping

    dev.write_text(yaml.safe_dump(device_to_mapping(small_led())))
    out = tmp_path / "out"
    args = ["simulate", str(dev), "--out", str(out), "--start-V", "3", "--stop-V", "4"]
    args += ["--step-V", "0.5", "--mesh", "16", "--no-plots"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    summ = json.loads((out / "summary.json").read_text())
    assert summ["converged_points"] == 3 and summ["luminance_max_cd_m2"] > 1.0
    assert summ["turn_on_voltage_V"] is None
    assert summ["turn_on_below_sweep_start"] is True
    assert "not determined: L >= 1 cd/m2 already at 3 V" in res.output
    # profile biases (default: turn-on, EQE_max, last) skip the undetermined turn-on
    assert 1 <= len(summ["recombination_zones"]) <= 2


BALANCE_COLUMNS = (
    "emitter_electron_current_in_mA_cm2",
    "emitter_hole_current_in_mA_cm2",
    "electron_hole_current_ratio",
    "charge_balance_factor",
    "emitter_electron_hole_sheet_density_ratio",
    "emitter_recombination_fraction",
)


def _check_zones(summ):
    """Zone entries at the profile biases: centroid inside the stack, fractions in [0, 1]."""
    assert 1 <= len(summ["recombination_zones"]) <= 3
    for z in summ["recombination_zones"]:
        assert 0.0 <= z["centroid_nm"] and z["fwhm_nm"] >= 0.0
        fr = [v for k, v in z.items() if k.startswith("fraction_within_5nm")]
        assert fr and all(0.0 <= v <= 1.0 for v in fr)
        shares = [v for k, v in z.items() if k.endswith("_share_of_recombination")]
        assert sum(shares) == pytest.approx(1.0, rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", sorted(p.name for p in (Path(__file__).parent.parent / "examples").glob("*.yaml"))
)
def test_cli_simulate_each_example(tmp_path, name):
    """`peled simulate` on every example writes all files with the documented columns."""
    ex = Path(__file__).parent.parent / "examples" / name
    out = tmp_path / "out"
    args = ["simulate", str(ex), "--out", str(out), "--step-V", "0.5", "--mesh", "24"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    for f in ("jv.csv", "summary.json", "profiles.csv", "jvl.png", "eqe_rolloff.png"):
        assert (out / f).stat().st_size > 0, f
    for f in ("band_diagram.png", "recombination_zone.png"):
        assert (out / f).stat().st_size > 0, f
    header = (out / "jv.csv").read_text().splitlines()[0].split(",")
    assert all(c in header for c in BALANCE_COLUMNS)
    summ = json.loads((out / "summary.json").read_text())
    assert summ["converged_points"] == summ["total_points"] == 17
    if summ["recombination_zones"] and summ["recombination_zones"][0].get("centroid_nm"):
        _check_zones(summ)


def test_cli_bad_device_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nanode: {material: ITO}\ncathode: {material: LiF/Al}\n"
        "layers:\n  - {material: PVK, thickness_nm: -3}\n"
    )
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["simulate", str(bad), "--out", str(out)])
    assert res.exit_code != 0
    assert "thickness_nm" in res.output and "bad.yaml" in res.output
    assert not out.exists()


def test_cli_diagram_and_materials(tmp_path, green_device):
    from peled.device import default_device_path

    png = tmp_path / "d.png"
    res = CliRunner().invoke(main, ["diagram", str(default_device_path()), "--out", str(png)])
    assert res.exit_code == 0 and png.stat().st_size > 1000
    res = CliRunner().invoke(main, ["materials", "list"])
    assert res.exit_code == 0 and "CsPbBr3-NC" in res.output
    res = CliRunner().invoke(main, ["materials", "show", "tpbi"])
    assert res.exit_code == 0 and "source:" in res.output
    res = CliRunner().invoke(main, ["check", str(default_device_path())])
    assert res.exit_code == 0 and "injection barriers" in res.output


def test_cli_simulate_loglinear_grading(tmp_path, led_result):
    """--mesh-grading loglinear reaches the solver (different J from the sine map on the
    same node count) and is recorded in summary.json; an unknown grading is refused.
    led_result's shape (mesh 24, 17 biases, no progress bar): both run on its compiled
    sweep."""
    from peled.device import device_to_mapping

    dev = tmp_path / "led.yaml"
    dev.write_text(yaml.safe_dump(device_to_mapping(small_led())))
    args = ["simulate", str(dev), "--stop-V", "4", "--step-V", "0.25", "--mesh", "24",
            "--no-progress"]
    js = {}
    for grading in ("sine", "loglinear"):
        out = tmp_path / grading
        res = CliRunner().invoke(
            main, [*args, "--out", str(out), "--no-plots", "--mesh-grading", grading]
        )
        assert res.exit_code == 0, res.output
        assert json.loads((out / "summary.json").read_text())["mesh_grading"] == grading
        js[grading] = (out / "jv.csv").read_text().splitlines()[-1]
    assert js["sine"] != js["loglinear"]
    bad = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "x"), "--mesh-grading", "tanh"])
    assert bad.exit_code != 0 and "tanh" in bad.output


def test_unresolved_zone_is_flagged(green_classic_device, tmp_path):
    """The green stack's recombination sheet under the classic physics at the TFB/CsPbBr3 interface
    is thinner than the sine mesh's spacing once it forms (at 16 nodes per layer from ~2.5
    V; the opt-in log-linear mesh resolves it): those biases are flagged in summary.json,
    and `peled simulate` warns and names the mesh that resolves the sheet (the negative
    case, a broad zone, is in test_observables)."""
    from peled.metrics import unresolved_zone_voltages

    v = np.round(np.arange(0.0, 4.0001, 0.5), 10)
    res = peled.simulate(green_classic_device, v, mesh=MeshSpec(16, grading="sine"))
    flagged = unresolved_zone_voltages(res)
    summ = res.summary()
    assert summ["zone_unresolved_points"] == len(flagged) > 0
    assert summ["zone_unresolved_from_V"] == flagged[0] and flagged[-1] == 4.0
    args = ["simulate", "examples/physics/green-cspbbr3-classic.yaml", "--mesh", "16",
            "--start-V", "0", "--stop-V", "4", "--step-V", "0.5", "--no-progress",
            "--no-plots", "--out", str(tmp_path / "classic")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert f"warning: from {flagged[0]:g} V ({len(flagged)} biases)" in res.output
    assert "--mesh 128 --mesh-grading loglinear" in res.output


def test_compilation_cache_directory_and_opt_outs(tmp_path):
    """The CLI's persistent compilation cache: PELED_CACHE_DIR, then XDG_CACHE_HOME, then
    ~/.cache; none when the user opts out or configures JAX's own variable; and a cache
    already configured in the process (here by conftest) is kept, not replaced."""
    import subprocess
    import sys

    import jax

    from peled.runtime import compilation_cache_dir, enable_compilation_cache

    home = Path.home()
    assert compilation_cache_dir({}) == home / ".cache" / "peled" / "jax"
    assert compilation_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/peled/jax")
    env = {"XDG_CACHE_HOME": "/x", "PELED_CACHE_DIR": "/p"}
    assert compilation_cache_dir(env) == Path("/p/jax")
    assert compilation_cache_dir({"PELED_NO_COMPILATION_CACHE": "1"}) is None
    assert compilation_cache_dir({"PELED_NO_COMPILATION_CACHE": "0"}) is not None
    assert compilation_cache_dir({"JAX_COMPILATION_CACHE_DIR": "/j"}) is None
    configured = jax.config.jax_compilation_cache_dir
    assert configured
    assert enable_compilation_cache() == Path(configured)
    assert jax.config.jax_compilation_cache_dir == configured
    # a fresh process (as the CLI starts): the directory is applied
    code = (
        "import jax; from peled.runtime import enable_compilation_cache as e; "
        "print(e()); print(jax.config.jax_compilation_cache_dir)"
    )
    env = {"PATH": "/usr/bin:/bin", "PELED_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(tmp_path / "jax"), str(tmp_path / "jax")]


@pytest.mark.slow  # compiles one device shape after another (~1 min)
def test_compiled_code_is_released_near_the_memory_map_limit(monkeypatch, tmp_path):
    """peled.runtime reads the process's memory regions and the kernel's limit; below the
    threshold it keeps the compiled sweep, above it it clears JAX's caches (the next
    solve recompiles instead of XLA aborting the process at the limit)."""
    from peled import runtime
    from peled.solve.continuation import solve_sweep as compiled_sweep

    usage = runtime.memory_map_usage()
    if usage is None:
        pytest.skip("no /proc/self/maps here (not Linux)")
    used, limit = usage
    assert 0 < used < limit
    peled.simulate(small_led(), np.linspace(0, 0.5, 3), mesh=MeshSpec(8))
    assert compiled_sweep._cache_size() >= 1
    assert not runtime.release_compiled_code_if_near_limit(fraction=1.0)
    assert compiled_sweep._cache_size() >= 1
    assert runtime.release_compiled_code_if_near_limit(fraction=0.0)
    assert compiled_sweep._cache_size() == 0
    # where /proc cannot be read, nothing is cleared
    monkeypatch.setattr(runtime, "MAPS", tmp_path / "missing")
    assert runtime.memory_map_usage() is None
    assert not runtime.release_compiled_code_if_near_limit(fraction=0.0)


def test_progress_bar_says_compiling_then_counts_then_names_revisits():
    """No ETA over the compile: the bar says "compiling" until the first bias is solved,
    then counts biases; a retry pass names the bias it revisits and counts revisits."""
    import io

    from peled.simulate import SweepBar

    out = io.StringIO()
    bar = SweepBar(3, "dev", file=out)
    bar.bar.refresh()
    assert "compiling the solver for dev" in out.getvalue() and "it/s" not in out.getvalue()
    bar.bar.start_t -= 60.0  # a minute of compiling before the first bias
    bar.solved(0.0)
    bar.bar.refresh()
    assert bar.bar.format_dict["elapsed"] < 1.0  # the rate and ETA start after the compile
    assert out.getvalue().rsplit("\r", 1)[-1].startswith("sweep dev:")
    assert "1/3" in out.getvalue().rsplit("\r", 1)[-1]
    bar.revisited(1.5)
    bar.revisited(1.5)
    bar.bar.refresh()
    assert "revisits a bias that failed: 1.5 V (2 revisits so far)" in out.getvalue()
    bar.close()


def test_sweep_in_chunks_gives_the_compiled_sweep_states_and_moves_the_bar(led_result):
    """With the progress bar on, peled.simulate runs the continuation in compiled chunks
    without host callbacks (cacheable) and reports between them: the same task sequence
    as the one compiled sweep, so the result equals led_result's bit for bit, and every
    forward bias is reported once, in order."""
    from peled.core.newton import solve_sweep_in_chunks
    from peled.simulate import padded_biases
    from peled.solve.chunked import _COMPILED_PIECES, chunk_advance

    advance = _COMPILED_PIECES[chunk_advance]
    v = led_result.voltage_V
    before = advance._cache_size()
    res = peled.simulate(small_led(), v, mesh=MeshSpec(24), progress=True)
    # one chunk program for the shape: every chunk runs on it (a start state typed
    # differently from the loop's output compiled a second one)
    assert advance._cache_size() == before + 1
    np.testing.assert_array_equal(res.current_density_mA_cm2, led_result.current_density_mA_cm2)
    np.testing.assert_array_equal(res.luminance_cd_m2, led_result.luminance_cd_m2)
    np.testing.assert_array_equal(res.result_code, led_result.result_code)
    np.testing.assert_array_equal(res.iterations, led_result.iterations)
    seen = []
    arrays = small_led().to_arrays(MeshSpec(24))
    with jax.enable_x64(True):
        # the padded bucket the simulate call above compiled for
        st = solve_sweep_in_chunks(
            arrays, jnp.asarray(padded_biases(v)), n_biases=v.size, on_forward=seen.append
        )
    assert seen == [float(x) for x in v]
    assert bool(np.all(np.asarray(st.converged)[: v.size]))


def test_stored_programs_give_the_compiled_sweep_bit_for_bit(led_result, tmp_path):
    """With the CLI's program store (peled.programs) the chunked sweep's three pieces and
    the observables run from exported programs: exported and written on the first run,
    loaded by a new store on the same folder (a later process) on the second, and run
    from the store also without a progress bar; all give led_result's numbers bit for
    bit."""
    from peled import programs

    v = led_result.voltage_V
    try:
        first = programs.use_store(tmp_path)
        r1 = peled.simulate(small_led(), v, mesh=MeshSpec(24), progress=True)
        second = programs.use_store(tmp_path)
        r2 = peled.simulate(small_led(), v, mesh=MeshSpec(24), progress=True)
        # without the bar a store still runs the chunked pieces (the programs loaded
        # above, nothing new loaded or exported)
        r3 = peled.simulate(small_led(), v, mesh=MeshSpec(24), progress=False)
    finally:
        programs.use_store(None)
    assert [e for e, _ in first.events] == ["exported"] * 4
    assert [e for e, _ in second.events] == ["loaded"] * 4
    assert len(list(tmp_path.glob("*.jaxexport"))) == 4
    for res in (r1, r2, r3):
        for field in ("current_density_mA_cm2", "luminance_cd_m2", "eqe_percent",
                      "result_code", "iterations", "residual_norm"):
            np.testing.assert_array_equal(getattr(res, field), getattr(led_result, field))
        np.testing.assert_array_equal(
            res.profiles["electron_density_cm3"], led_result.profiles["electron_density_cm3"]
        )


def test_simulate_with_dipole_optics(led_result):
    """``optics: dipole`` (peled.optics.coupling): photons start at each node with its own
    outcoupling (EQE J / q is the node sum), the solve is the one of ray optics (same
    J), and summary.json carries the Purcell factor and the colour at 0 and 60 degrees.
    Same shape as ``led_result``, so the compiled sweep is shared."""
    from peled.device import device_to_mapping
    from peled.optics.coupling import device_outcoupling

    data = device_to_mapping(small_led())
    data["optics"] = "dipole"
    dev = peled.device_from_mapping(data)
    res = peled.simulate(dev, led_result.voltage_V, mesh=MeshSpec(24))
    assert res.outcoupling_model == "dipole" and led_result.outcoupling_model == "ray_optics"
    np.testing.assert_array_equal(res.current_density_mA_cm2, led_result.current_density_mA_cm2)
    ok = res.converged & (res.current_density_mA_cm2 > 0)
    assert ok.sum() >= 10
    phi = res.eqe_percent[ok] / 100 * res.current_density_mA_cm2[ok] * 10 / constants.e
    np.testing.assert_allclose(
        phi, res.photon_rate_m2_s[ok] @ res.optics.photons_to_air, rtol=1e-12
    )
    em = np.isin(res.node_layer, dev.emitter_indices)
    g = res.optics.photons_to_air[em]
    eff = res.effective_outcoupling[ok]
    assert np.all((eff >= g.min() * (1 - 1e-12)) & (eff <= g.max() * (1 + 1e-12)))
    assert np.all(res.optics.photons_to_air[~em] == 0) and 0 < res.outcoupling < 1
    s = res.summary()
    for key in ("purcell_factor", "cie_x_0deg", "cie_y_60deg", "cie_shift_0_to_60deg"):
        assert s[key] is not None, key
    assert s["outcoupling_model"] == "dipole"
    assert "outcoupling_effective" in res.to_dataframe().columns
    # the per-node factors are those of a fresh evaluation at the same positions
    again = device_outcoupling(dev, res.position_nm, res.node_layer)
    np.testing.assert_array_equal(again.photons_to_air, res.optics.photons_to_air)
