"""The device key ``physics``: which description of the films the materials' data feed.

``classic`` leaves every material as its file states it; ``disorder_aware`` gives the
organic layers with a site density and disorders Gauss-Fermi statistics and EGDM
mobilities, the nanocrystal emitters their confined levels and the excitonic emitter, and
both electrodes image-force lowering, while a material file's or a layer override's own
choice stands (peled.device.PHYSICS, docs/decisions/0014-physics-of-the-films-per-device.md).
No solving: these check what the loader builds.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from peled.cli import main
from peled.core.params import MeshSpec
from peled.device import (
    DEFAULT_PHYSICS,
    PHYSICS,
    default_device_path,
    device_from_mapping,
    device_to_mapping,
    disorder_aware_keys,
    load_device,
)
from peled.device_file import DeviceFile
from peled.errors import PeledInputError
from peled.materials import default_database

GREEN = default_device_path()
CLASSIC = GREEN.parent / "physics" / "green-cspbbr3-classic.yaml"


def _green_mapping() -> dict:
    return yaml.safe_load(GREEN.read_text())


def _models(device):
    return [
        (
            la.material.name,
            la.material.carrier_statistics("electron"),
            la.material.carrier_statistics("hole"),
            la.material.electron_mobility_model,
            la.material.hole_mobility_model,
            la.material.emitter_model,
        )
        for la in device.layers
    ]


def test_disorder_aware_is_the_default_of_a_device_file():
    assert DEFAULT_PHYSICS == "disorder_aware"
    assert DeviceFile.model_fields["physics"].default == DEFAULT_PHYSICS
    data = _green_mapping()
    assert "physics" not in data
    assert load_device(GREEN).physics == DEFAULT_PHYSICS
    assert _models(load_device(GREEN)) == _models(load_device(GREEN, physics=DEFAULT_PHYSICS))


def test_classic_keeps_the_material_files_models():
    dev = load_device(CLASSIC)
    assert dev.physics == "classic"
    assert not dev.anode.image_force and not dev.cathode.image_force
    for _, stat_n, stat_p, mob_n, mob_p, emitter in _models(dev):
        assert (stat_n, stat_p, mob_n, mob_p, emitter) == (
            "boltzmann",
            "boltzmann",
            "constant",
            "constant",
            "continuum",
        )


def test_disorder_aware_gives_each_film_the_model_its_data_support():
    dev = load_device(GREEN, physics="disorder_aware")
    assert dev.physics == "disorder_aware"
    assert dev.anode.image_force and dev.cathode.image_force
    assert _models(dev) == [
        # PEDOT:PSS has no disorder data: it stays as its file states it
        ("PEDOT:PSS", "boltzmann", "boltzmann", "constant", "constant", "continuum"),
        ("TFB", "gauss_fermi", "gauss_fermi", "egdm", "egdm", "continuum"),
        ("CsPbBr3-NC", "nanocrystal", "nanocrystal", "constant", "constant", "excitonic"),
        ("TPBi", "gauss_fermi", "gauss_fermi", "egdm", "egdm", "continuum"),
    ]
    tfb = dev.layers[1].material
    assert "physics: disorder_aware" in tfb.sources["statistics"]
    # the numbers are the database's: only model choices change
    db_tfb = default_database()["TFB"]
    assert tfb.site_density_cm3 == db_tfb.site_density_cm3
    assert tfb.hole_mobility_cm2_Vs == db_tfb.hole_mobility_cm2_Vs


def test_every_database_film_with_disorder_data_gets_a_disorder_model():
    db = default_database()
    organic, emitters = [], []
    for name in db:
        m = db[name]
        if not hasattr(m, "carrier_statistics"):
            continue  # electrodes and substrates
        keys = disorder_aware_keys(m)
        if m.role == "emitter":
            emitters.append(name)
            assert keys == {"statistics": "nanocrystal", "emitter_model": "excitonic"}, name
        elif m.site_density_cm3 is not None:
            organic.append(name)
            assert keys["statistics"] == "gauss_fermi", name
            assert keys["electron_mobility_model"] == keys["hole_mobility_model"] == "egdm"
        else:
            assert keys == {}, name
    assert len(organic) >= 10 and len(emitters) >= 5


def test_the_classic_example_is_the_green_device_under_classic_physics():
    a = load_device(CLASSIC).to_arrays(MeshSpec(8))
    b = load_device(GREEN, physics="classic").to_arrays(MeshSpec(8))
    leaves_a, tree_a = jax.tree_util.tree_flatten(a)
    leaves_b, tree_b = jax.tree_util.tree_flatten(b)
    assert tree_a == tree_b
    for x, y in zip(leaves_a, leaves_b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_layer_override_and_an_explicit_contact_setting_stand():
    data = _green_mapping()
    data["physics"] = "disorder_aware"
    data["anode"] = {**data["anode"], "image_force": False}
    data["layers"][1] = {**data["layers"][1], "overrides": {"statistics": "boltzmann"}}
    data["layers"][3] = {**data["layers"][3], "overrides": {"hole_mobility_model": "constant"}}
    dev = device_from_mapping(data, "override test")
    assert not dev.anode.image_force and dev.cathode.image_force
    tfb, tpbi = dev.layers[1].material, dev.layers[3].material
    # a statistics override takes the layer out of the preset entirely (EGDM needs
    # Gauss-Fermi statistics, so it cannot stay alone)
    assert (tfb.statistics, tfb.electron_mobility_model, tfb.hole_mobility_model) == (
        "boltzmann",
        "constant",
        "constant",
    )
    # a mobility override replaces only that key
    assert (tpbi.statistics, tpbi.electron_mobility_model, tpbi.hole_mobility_model) == (
        "gauss_fermi",
        "egdm",
        "constant",
    )


def test_a_device_written_out_reloads_with_its_physics():
    dev = load_device(GREEN, physics="disorder_aware")
    again = device_from_mapping(device_to_mapping(dev), "round trip")
    assert again.physics == "disorder_aware"
    assert _models(again) == _models(dev)
    assert again.anode.image_force and again.cathode.image_force


def test_an_unknown_physics_is_refused_naming_the_key_and_the_choices():
    data = _green_mapping()
    data["physics"] = "quantum"
    with pytest.raises(PeledInputError) as err:
        device_from_mapping(data, "bad.yaml")
    msg = str(err.value)
    assert "bad.yaml" in msg and "physics" in msg and "disorder_aware" in msg
    with pytest.raises(PeledInputError, match="allowed"):
        load_device(GREEN, physics="quantum")
    assert PHYSICS == ("classic", "disorder_aware")


def test_check_prints_the_physics_and_each_layers_models():
    out = CliRunner().invoke(main, ["check", str(GREEN), "--physics", "disorder_aware"])
    assert out.exit_code == 0, out.output
    assert "physics disorder_aware" in out.output
    assert "TFB" in out.output and "gauss_fermi, mobility egdm" in out.output
    assert "nanocrystal, mobility constant, excitonic emitter" in out.output
    assert out.output.count(", image force") == 2
    classic = CliRunner().invoke(main, ["check", str(GREEN), "--physics", "classic"])
    assert "physics classic" in classic.output and "no image force" in classic.output
    assert "physics disorder_aware" in CliRunner().invoke(main, ["check", str(GREEN)]).output


def test_simulate_takes_the_physics_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    args = ["simulate", str(GREEN), "--out", str(out), "--dry-run"]
    res = CliRunner().invoke(main, [*args, "--physics", "classic"])
    assert res.exit_code == 0, res.output
    assert "physics classic" in res.output and not out.exists()
    assert "physics disorder_aware" in CliRunner().invoke(main, args).output
    bad = CliRunner().invoke(main, [*args, "--physics", "quantum"])
    assert bad.exit_code != 0 and "classic" in bad.output and "disorder_aware" in bad.output


@pytest.mark.slow  # two sweeps per example, 64 and 128 nodes per layer: ~5 min each
@pytest.mark.parametrize("name", sorted(p.name for p in GREEN.parent.glob("*.yaml")))
def test_examples_are_mesh_converged(name):
    """Every example under its own (default: disorder-aware) physics: J and the luminance
    change < 1 % from 64 to 128 nodes per layer (sine mesh) at every bias of 0-8 V
    (0.25 V steps) where J is above its round-off floor on both meshes and both
    converged; below it J is round-off by definition (docs/numerics/accuracy.md, "The
    current floor"). Not vacuous: at least 10 biases are compared, and every bias above
    the first compared one is compared (the whole conducting range, however late a
    device turns on)."""
    from peled.simulate import simulate

    v = np.round(np.arange(0.0, 8.0001, 0.25), 10)
    dev = load_device(GREEN.parent / name)
    runs = [simulate(dev, v, mesh=MeshSpec(n)) for n in (64, 128)]
    ok = np.ones(v.size, bool)
    for r in runs:
        ok &= np.asarray(r.converged, bool) & r.current_resolved
    first = int(np.argmax(ok))
    assert ok.sum() >= 10 and ok[first:].all(), ok
    j = [np.asarray(r.current_density_mA_cm2)[ok] for r in runs]
    lum = [np.asarray(r.luminance_cd_m2)[ok] for r in runs]
    dj = np.abs(j[1] / j[0] - 1.0)
    dl = np.abs(lum[1] / lum[0] - 1.0)
    print(
        f"{name}: 64 -> 128 nodes, {ok.sum()} biases from {v[ok][0]} V: max |dJ/J| {dj.max():.3g}, "
        f"max |dL/L| {dl.max():.3g} (at {v[ok][np.argmax(dl)]} V)"
    )
    assert dj.max() < 0.01 and dl.max() < 0.01
