"""Inputs are honoured exactly or refused before any work, naming the flag or key, the
value and what is allowed (issue "A new user's first hour", item 2), and the traps of
item 6. Every test here stops before a solve (validation paths, ``--dry-run``, ``check``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from peled.cli import main
from peled.device import bias_grid, default_device_path
from peled.errors import PeledInputError

REPO = Path(__file__).resolve().parent.parent
GREEN = default_device_path()


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def green_mapping() -> dict:
    return yaml.safe_load(GREEN.read_text())


def write_device(tmp_path: Path, mutate, name: str = "dev.yaml") -> Path:
    data = green_mapping()
    mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


# ------------------------------------------------------------------ device files


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (25e-9, "looks like metres: thickness_nm is in nanometres (25 nm)"),
        (0.025, "looks like micrometres: thickness_nm is in nanometres (25 nm)"),
        (45000.0, "45000 nm is 45 um"),
        (0.2, "allowed 0.5 to 10000 nm"),
    ],
)
def test_check_refuses_implausible_thickness_with_unit_hint(tmp_path, value, hint):
    """`check` refuses a thickness outside 0.5 nm-10 um, with a hint at the unit it looks like."""
    dev = write_device(tmp_path, lambda d: d["layers"][2].__setitem__("thickness_nm", value))
    res = run("check", dev)
    assert res.exit_code == 2, res.output
    assert "dev.yaml" in res.output
    assert f"key 'layers[2].thickness_nm' = {value!r}: allowed 0.5 to 10000 nm" in res.output
    assert hint in res.output
    assert "valid" not in res.output


def test_check_refuses_temperature_in_celsius(tmp_path):
    dev = write_device(tmp_path, lambda d: d.__setitem__("temperature_K", 27))
    res = run("check", dev)
    assert res.exit_code == 2
    assert "key 'temperature_K' = 27.0: allowed 50 to 600 K" in res.output
    assert "degrees Celsius" in res.output and "300.15 K" in res.output


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.__setitem__("temprature_K", 300), "did you mean 'temperature_K'?"),
        (
            lambda d: d["layers"][0].__setitem__("thicknes_nm", 30),
            "unknown key 'layers.0.thicknes_nm' (value 30); did you mean 'thickness_nm'?",
        ),
        (lambda d: d["anode"].__setitem__("materal", "ITO"), "did you mean 'material'?"),
        (
            lambda d: d["layers"][1].__setitem__("overrides", {"hole_mobilty_cm2_Vs": 1e-3}),
            "overrides: unknown key 'hole_mobilty_cm2_Vs' (value 0.001); "
            "did you mean 'hole_mobility_cm2_Vs'?",
        ),
    ],
)
def test_unknown_keys_get_did_you_mean(tmp_path, mutate, expected):
    res = run("check", write_device(tmp_path, mutate))
    assert res.exit_code == 2
    assert expected in res.output and "dev.yaml" in res.output


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d.__setitem__("samplng", {}),
            "unknown key 'samplng' (value {}); did you mean 'sampling'?",
        ),
        (lambda d: d["axes"][0].__setitem__("paramter", "x"), "did you mean 'parameter'?"),
        (lambda d: d["axes"][0]["range"].__setitem__("nmu", 3), "did you mean 'num'?"),
        (lambda d: d["sampling"].__setitem__("seeds", 3), "did you mean 'seed'?"),
    ],
)
def test_sweep_file_unknown_keys_get_did_you_mean(tmp_path, mutate, expected):
    data = yaml.safe_load((REPO / "examples" / "sweeps" / "green-emitter-lhs.yaml").read_text())
    data["base_device"] = str(GREEN)
    mutate(data)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    res = run("sweep", path, "--dry-run")
    assert res.exit_code == 2
    assert "s.yaml" in res.output and expected in res.output


def test_yaml_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nlayers: [\n  - {material: PVK\n")
    for args in (["check", bad], ["simulate", bad, "--dry-run"]):
        res = run(*args)
        assert res.exit_code == 2
        assert f"{bad}: not valid YAML" in res.output


def test_check_warns_about_a_stack_without_emitter(tmp_path):
    def no_emitter(d):
        d["layers"] = [la for la in d["layers"] if la["material"] != "CsPbBr3-NC"]

    res = run("check", write_device(tmp_path, no_emitter))
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "no layer emits" in res.output
    ok = run("check", GREEN)
    assert ok.exit_code == 0 and "no layer emits" not in ok.output


# ------------------------------------------------------------------ bias grid


def test_bias_grid_ends_exactly_at_stop_or_is_refused():
    """The grid ends exactly at stop: 0-8 V by 0.3 V and a 10 V step over 0-8 V are refused."""
    v = bias_grid(0.0, 8.0, 0.1)
    assert v.size == 81 and v[-1] == 8.0 and v[19] == 1.9 and v[39] == 3.9
    assert bias_grid(-1.0, 1.0, 0.25).tolist() == [-1.0, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1]
    assert bias_grid(0.0, 8.0, 0.05)[39] == 1.95  # not 1.9500000000000002
    with pytest.raises(PeledInputError, match=r"step_V = 0\.3 does not reach stop_V = 8") as e:
        bias_grid(0.0, 8.0, 0.3)
    assert "7.8 or overshoot to 8.1" in str(e.value) and "stop_V = 7.8 or 8.1" in str(e.value)
    with pytest.raises(PeledInputError, match=r"step_V = 10 is larger than the 8 V span"):
        bias_grid(0.0, 8.0, 10.0)
    for a, b, s in ((0, 8, 0), (0, 8, -0.1), (3, 3, 0.1), (0, np.nan, 0.1)):
        with pytest.raises(PeledInputError):
            bias_grid(a, b, s)


def test_cli_bias_grid_never_overshoots_stop():
    ok = run("simulate", GREEN, "--stop-V", "3", "--step-V", "0.5", "--dry-run")
    assert ok.exit_code == 0, ok.output
    assert "0 to 3 V, 7 points in steps of 0.5 V" in ok.output
    res = run("simulate", GREEN, "--stop-V", "8", "--step-V", "0.3", "--dry-run")
    assert res.exit_code == 2
    assert "--step-V = 0.3 does not reach --stop-V = 8" in res.output
    res = run("simulate", GREEN, "--step-V", "10", "--dry-run")
    assert res.exit_code == 2 and "--step-V = 10 is larger than the 8 V span" in res.output


def test_device_file_sweep_must_fit(tmp_path):
    dev = write_device(
        tmp_path, lambda d: d.__setitem__("sweep", {"start_V": 0, "stop_V": 8, "step_V": 0.3})
    )
    res = run("check", dev)
    assert res.exit_code == 2
    assert "key 'sweep.step_V' = 0.3 does not reach key 'sweep.stop_V' = 8" in res.output


def test_sweep_file_voltages_must_fit(tmp_path):
    """A sweep file's grid ends exactly at stop_V or is refused."""
    grid = yaml.safe_load((REPO / "examples" / "sweeps" / "green-emitter-lhs.yaml").read_text())
    grid["base_device"] = str(GREEN)
    grid["voltages"] = {"start_V": 0, "stop_V": 8, "step_V": 0.3}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(grid))
    res = run("sweep", path, "--dry-run")
    assert res.exit_code == 2
    assert "s.yaml: key 'voltages.step_V' = 0.3 does not reach key 'voltages.stop_V' = 8" in (
        res.output
    )


def test_optimize_refuses_a_grid_of_one_bias_and_bad_integers(tmp_path):
    """`optimize --step-V 100` (a grid of one bias) is refused."""
    base = ["optimize", GREEN, "--objective", "eqe_max", "--vary", "TPBi.thickness_nm=10:60"]
    base += ["--out", tmp_path / "o"]
    res = run(*base, "--step-V", "100")
    assert res.exit_code == 2 and "--step-V = 100 is larger than the 8 V span" in res.output
    for flag, val in (("--mesh", "0"), ("--max-iter", "0")):
        res = run(*base, flag, val)
        assert res.exit_code == 2 and flag in res.output and val in res.output
    assert not (tmp_path / "o").exists()


def test_optimize_refuses_a_duplicate_vary(tmp_path):
    """A repeated --vary is refused, not reduced to its last range."""
    res = run(
        "optimize",
        GREEN,
        "--objective",
        "eqe_max",
        "--vary",
        "TPBi.thickness_nm=10:60",
        "--vary",
        "TPBi.thickness_nm=20:30",
        "--out",
        tmp_path / "o",
    )
    assert res.exit_code == 2
    assert "'TPBi.thickness_nm=20:30': TPBi.thickness_nm is varied twice (also 10:60)" in (
        res.output
    )


@pytest.mark.parametrize("mesh", ["0", "3", "-5", "5000"])
def test_simulate_refuses_invalid_mesh(tmp_path, mesh):
    """`--mesh` outside 4-4096 is refused."""
    res = run("simulate", GREEN, "--mesh", mesh, "--dry-run", "--out", tmp_path / "o")
    assert res.exit_code == 2
    assert "--mesh" in res.output and mesh in res.output and "4<=x<=4096" in res.output


def test_simulate_refuses_profile_bias_outside_the_sweep(tmp_path):
    res = run("simulate", GREEN, "--stop-V", "3", "--profile-V", "5", "--dry-run")
    assert res.exit_code == 2 and "--profile-V 5: outside the sweep; allowed 0 to 3 V" in (
        res.output
    )


# ------------------------------------------------------------------ output paths


def test_diagram_refuses_a_suffix_it_does_not_write(tmp_path):
    """`diagram --out` with a suffix other than .png is refused."""
    res = run("diagram", GREEN, "--out", tmp_path / "x.pdf")
    assert res.exit_code == 2
    assert "suffix '.pdf'" in res.output and ".png" in res.output
    assert not (tmp_path / "x.pdf").exists()


def test_output_under_a_file_is_refused_before_any_work(tmp_path):
    """An output path under a file is refused with a clean error before any solving."""
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    sweep = REPO / "examples" / "sweeps" / "green-emitter-lhs.yaml"
    cases = [
        ["simulate", GREEN, "--out", blocker / "out"],
        ["simulate", GREEN, "--out", blocker / "out", "--dry-run"],
        ["simulate", GREEN, "--out", blocker],
        ["sweep", sweep, "--out", blocker / "out"],
        ["sweep", sweep, "--out", blocker / "out", "--dry-run"],
        ["optimize", GREEN, "--objective", "eqe_max", "--vary", "TPBi.thickness_nm=10:60"]
        + ["--out", blocker / "out"],
        ["validate", "--out", blocker / "rep", "--no-scenarios"],
        ["diagram", GREEN, "--out", blocker / "d.png"],
    ]
    for args in cases:
        res = run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit), args
        assert "--out" in res.output and str(blocker) in res.output, (args, res.output)
        assert "is a file" in res.output, (args, res.output)
    assert blocker.read_text() == "x"


# ------------------------------------------------------------------ dry runs


def test_simulate_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    res = run("simulate", GREEN, "--out", out, "--mesh", "16", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "dry run: Green CsPbBr3 PeLED" in res.output and "nothing solved" in res.output
    assert "0 to 8 V, 161 points in steps of 0.05 V" in res.output
    assert "16 nodes per layer" in res.output and "would be created" in res.output
    assert not out.exists()


def test_sweep_dry_run_and_n_samples(tmp_path):
    """--n-samples shrinks a sweep for a trial; --dry-run validates every candidate."""
    from peled.sweep import sweep_candidates
    from peled.sweep_spec import load_sweep

    grid = REPO / "examples" / "sweeps" / "green-htl-etl.yaml"
    lhs = REPO / "examples" / "sweeps" / "green-emitter-lhs.yaml"
    out = tmp_path / "s"
    res = run("sweep", grid, "--out", out, "--dry-run")
    assert res.exit_code == 0, res.output
    assert "144 candidates (grid), nothing solved" in res.output
    res = run("sweep", grid, "--out", out, "--dry-run", "--n-samples", "5")
    assert res.exit_code == 0 and "5 candidates (grid)" in res.output
    res = run("sweep", lhs, "--out", out, "--dry-run", "--n-samples", "3")
    assert res.exit_code == 0 and "3 candidates (latin_hypercube)" in res.output
    res = run("sweep", grid, "--out", out, "--dry-run", "--n-samples", "500")
    assert res.exit_code == 2
    assert "--n-samples 500: the grid of" in res.output and "allowed 1 to 144" in res.output
    assert run("sweep", grid, "--dry-run", "--n-samples", "0").exit_code == 2
    assert not out.exists()
    # the grid trial keeps the grid's ids (a later --resume completes the same grid)
    full = load_sweep(grid)
    _, picked = sweep_candidates(full, 5)
    ids = {c.candidate_id for c in full.candidates()}
    assert len(picked) == 5 and {c.candidate_id for c in picked} <= ids
    assert picked[0].index == 0 and picked[-1].index == 143
    sw, drawn = sweep_candidates(load_sweep(lhs), 3)
    assert sw.n_samples == 3 and len(drawn) == 3


# ------------------------------------------------------------------ validate


def test_validate_never_writes_the_regression_reference_by_default(tmp_path):
    """`peled validate` writes ./peled-validation by default, never validation/report (the
    reference that tests/test_validation.py checks) unless --update-reference is given."""
    out_param = next(p for p in main.commands["validate"].params if p.name == "out")
    assert out_param.default == "peled-validation"
    assert not Path(out_param.default).is_absolute()
    reference = REPO / "validation" / "report"
    before = (reference / "metrics.json").read_bytes()
    for out in (reference, "validation/report"):
        res = CliRunner().invoke(
            main, ["validate", "--out", str(out), "--no-scenarios", "--cases", "none-*.yaml"]
        )
        assert res.exit_code == 2
        assert "regression reference" in res.output and "--update-reference" in res.output
    assert (reference / "metrics.json").read_bytes() == before
    # with --update-reference the refusal is lifted (here the missing cases stop it)
    res = run(
        "validate", "--out", reference, "--update-reference", "--cases", tmp_path / "none-*.yaml"
    )
    assert res.exit_code == 2 and "no validation case files match" in res.output


def test_validate_refuses_a_folder_with_foreign_files_before_running(tmp_path):
    """A report folder holding other files is refused before any case runs."""
    out = tmp_path / "rep"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    case = REPO / "tests" / "data" / "validation_case_red.yaml"
    res = run("validate", "--out", out, "--no-scenarios", "--cases", case)
    assert res.exit_code == 2
    assert "no part of a report: ['notes.txt']" in res.output
    assert "rows in" not in res.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


# ------------------------------------------------------------------ README snippet


def test_readme_python_snippet_loads_outside_the_repository(tmp_path):
    """The README's snippet used a path relative to the repository root."""
    text = (REPO / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    lines = snippet.strip().splitlines()
    load = [ln for ln in lines if "load_device" in ln]
    assert load, snippet
    # everything up to the device load (the solve is covered by tests/test_simulate.py)
    code = "\n".join(lines[: lines.index(load[0]) + 1]) + "\nprint(device.name)"
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "Green CsPbBr3 PeLED"
