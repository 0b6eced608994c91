"""Materials database, device files and their error messages."""

import numbers
from pathlib import Path

import pytest
import yaml

from peled.device import device_from_mapping, device_to_mapping, load_device
from peled.errors import PeledInputError
from peled.materials import MaterialDatabase, default_database, parse_material

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def test_database_has_materials_with_sources():
    db = default_database()
    assert len(db) >= 25
    roles = {db[n].role for n in db}
    assert roles >= {"electrode", "hole_transport", "electron_transport", "emitter"}
    for name in db:
        m = db[name]
        for key, val in m.model_dump(exclude_none=True).items():
            if isinstance(val, numbers.Number) and key in yaml.safe_load(
                db.file_of(name).read_text()
            ):
                assert key in m.sources, (name, key)


def test_lookup_case_insensitive_and_suggests():
    db = default_database()
    assert db["cspbbr3-nc"].name == "CsPbBr3-NC"
    with pytest.raises(PeledInputError, match=r"closest known names: \['PVK'"):
        db["PKV"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path):
    dev = load_device(path)
    assert dev.emitter_indices
    assert dev.to_arrays().n_layers == len(dev.layers)


def _semi(**kw):
    base = yaml.safe_load((ROOT / "materials/transport/tpbi.yaml").read_text())
    base.update(kw)
    return base


BAD_MATERIALS = [
    ({"band_gap_eV": 0}, "band_gap_eV"),
    ({"band_gap_eV": 11.0}, "band_gap_eV.*less than or equal to 10"),
    ({"electron_mobility_cm2_Vs": -1e-4}, "electron_mobility_cm2_Vs.*greater than 0"),
    ({"conduction_band_dos_cm3": 0}, "conduction_band_dos_cm3.*greater than 0"),
    ({"srh_lifetime_hole_s": 0}, "srh_lifetime_hole_s"),
    ({"electron_mobilty_cm2_Vs": 1e-4}, "unknown key 'electron_mobilty_cm2_Vs'"),
    ({"role": "transport"}, "role.*allowed values"),
    ({"trap_energy_eV": 3.0}, "trap_energy_eV.*inside the gap"),
    ({"relative_permittivity": 0.5}, "relative_permittivity"),
    # implausible magnitudes (another unit): refused with the allowed range
    ({"radiative_coefficient_cm3_s": 0.5}, "radiative_coefficient_cm3_s.*less than or equal"),
    ({"auger_coefficient_hole_cm6_s": 1e-16}, "auger_coefficient_hole_cm6_s.*less than or equal"),
]


@pytest.mark.parametrize(("change", "message"), BAD_MATERIALS)
def test_bad_material_values(change, message):
    with pytest.raises(PeledInputError, match=message) as info:
        parse_material(_semi(**change), "materials/test.yaml")
    assert "materials/test.yaml" in str(info.value)


def test_missing_key_and_missing_source():
    data = _semi()
    del data["band_gap_eV"]
    with pytest.raises(PeledInputError, match="missing required key 'band_gap_eV'"):
        parse_material(data, "f.yaml")
    data = _semi()
    del data["sources"]["hole_mobility_cm2_Vs"]
    with pytest.raises(PeledInputError, match="lacks.*hole_mobility_cm2_Vs"):
        parse_material(data, "f.yaml")


def test_plqy_and_emitter_keys():
    em = yaml.safe_load((ROOT / "materials/emitters/cspbbr3-nc.yaml").read_text())
    with pytest.raises(
        PeledInputError, match="photoluminescence_quantum_yield.*less than or equal to 1"
    ):
        parse_material({**em, "photoluminescence_quantum_yield": 1.2}, "e.yaml")
    del em["emission_peak_nm"]
    del em["sources"]["emission_peak_nm"]
    with pytest.raises(PeledInputError, match="an emitter needs emission_peak_nm"):
        parse_material(em, "e.yaml")


def test_electrode_work_function_range():
    with pytest.raises(PeledInputError, match="work_function_eV.*less than or equal to 7"):
        parse_material(
            {
                "name": "X",
                "role": "electrode",
                "work_function_eV": 8.0,
                "sources": {"work_function_eV": "t"},
            },
            "x.yaml",
        )


def _device(**kw):
    d = {
        "name": "t",
        "anode": {"material": "ITO"},
        "cathode": {"material": "LiF/Al"},
        "layers": [
            {"material": "PVK", "thickness_nm": 20},
            {"material": "CsPbBr3-NC", "thickness_nm": 30},
            {"material": "TPBi", "thickness_nm": 40},
        ],
    }
    d.update(kw)
    return d


BAD_DEVICES = [
    ({"layers": [{"material": "PVK", "thickness_nm": -5}]}, "thickness_nm.*greater than 0"),
    ({"layers": [{"material": "PVK", "thickness_nm": 0}]}, "thickness_nm.*greater than 0"),
    ({"layers": [{"material": "TPBI2", "thickness_nm": 10}]}, "unknown material 'TPBI2'.*TPBi"),
    ({"anode": {"work_function_eV": 9.0}}, "anode.work_function_eV"),
    ({"anode": {}}, "material' and/or 'work_function_eV'"),
    ({"cathode": {"material": "PVK"}}, "a contact needs role 'electrode'"),
    ({"layers": [{"material": "Al", "thickness_nm": 10}]}, "is an electrode"),
    ({"outcoupling": 1.5}, "outcoupling"),
    ({"sweep": {"start_V": 3, "stop_V": 1, "step_V": 0.1}}, "stop_V"),
    ({"colour": "green"}, "unknown key 'colour'"),
    (
        {
            "layers": [
                {"material": "PVK", "thickness_nm": 20, "overrides": {"hole_mobility_cm2_Vs": 0}}
            ]
        },
        "overrides.*hole_mobility",
    ),
    (
        {"layers": [{"material": "PVK", "thickness_nm": 20, "overrides": {"hole_mobilty": 1e-3}}]},
        "unknown key 'hole_mobilty'",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_DEVICES)
def test_bad_devices(change, message):
    with pytest.raises(PeledInputError, match=message) as info:
        device_from_mapping(_device(**change), "dev.yaml")
    assert "dev.yaml" in str(info.value)


def test_overrides_and_inline_round_trip():
    inline = yaml.safe_load((ROOT / "materials/transport/tpbi.yaml").read_text())
    inline["name"] = "my-ETL"
    dev = device_from_mapping(
        _device(
            layers=[
                {
                    "material": "PVK",
                    "thickness_nm": 20,
                    "overrides": {"hole_mobility_cm2_Vs": 1e-3},
                },
                {"material": "CsPbBr3-NC", "thickness_nm": 30},
                {"material": inline, "thickness_nm": 40},
            ]
        ),
        "dev.yaml",
    )
    assert dev.layers[0].material.hole_mobility_cm2_Vs == 1e-3
    assert "override" in dev.layers[0].material.sources["hole_mobility_cm2_Vs"]
    assert dev.layers[2].material.name == "my-ETL"
    again = device_from_mapping(device_to_mapping(dev), "again.yaml")
    assert [(la.material, la.thickness_nm) for la in again.layers] == [
        (la.material, la.thickness_nm) for la in dev.layers
    ]
    assert (again.anode, again.cathode, again.sweep_V) == (dev.anode, dev.cathode, dev.sweep_V)


def test_bad_inline_material_names_entry():
    with pytest.raises(PeledInputError, match=r"layers\[0\].material \(inline\).*band_gap_eV"):
        device_from_mapping(
            _device(layers=[{"material": _semi(band_gap_eV=-1), "thickness_nm": 5}]), "dev.yaml"
        )


def test_duplicate_names_rejected(tmp_path):
    src = ROOT / "materials/transport/tpbi.yaml"
    (tmp_path / "a.yaml").write_text(src.read_text())
    (tmp_path / "b.yaml").write_text(src.read_text())
    with pytest.raises(PeledInputError, match="already used"):
        MaterialDatabase.from_dir(tmp_path)


def test_materials_doc_is_generated():
    from click.testing import CliRunner

    from peled.cli import main

    out = CliRunner().invoke(main, ["materials", "table"]).output
    assert (ROOT / "docs/materials.md").read_text() == out
