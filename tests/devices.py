"""Small analytic test devices built straight from SI numbers (no YAML)."""

from __future__ import annotations

from peled.core.discretize import build_arrays
from peled.core.params import MeshSpec


def layer(thickness_nm, ea, eg, mu_n_cm2, mu_p_cm2, eps=3.0, nc_cm3=1e20, nv_cm3=None, **kw):
    d = {
        "thickness_m": thickness_nm * 1e-9,
        "electron_affinity_eV": ea,
        "band_gap_eV": eg,
        "relative_permittivity": eps,
        "conduction_band_dos_m3": nc_cm3 * 1e6,
        "valence_band_dos_m3": (nv_cm3 or nc_cm3) * 1e6,
        "electron_mobility_m2_Vs": mu_n_cm2 * 1e-4,
        "hole_mobility_m2_Vs": mu_p_cm2 * 1e-4,
    }
    d.update(kw)
    return d


def electron_only(thickness_nm=100.0, mu=1e-4, eps=3.0, nodes=96):
    """Single layer, electrons injected ohmically at both contacts (WF = EA)."""
    lay = layer(thickness_nm, 3.0, 3.0, mu, 1e-12, eps=eps, nc_cm3=1e20)
    return build_arrays([lay], 3.0, 3.0, mesh=MeshSpec(nodes))


def pin(nodes=64, mu=1e-2, b_cm3_s=1e-11):
    """p-i-n with ohmic contacts: p layer / intrinsic emitter-like layer / n layer."""
    p = layer(50, 3.0, 2.0, mu, mu, eps=10, acceptor_density_m3=1e24)
    i = layer(100, 3.0, 2.0, mu, mu, eps=10, radiative_coefficient_m3_s=b_cm3_s * 1e-6)
    n = layer(50, 3.0, 2.0, mu, mu, eps=10, donor_density_m3=1e24)
    # ohmic-ish: anode WF at the p layer's valence-band side, cathode at the n layer's CB
    return build_arrays([p, i, n], 4.9, 3.1, mesh=MeshSpec(nodes))


def mirror(layers, wf_a, wf_c, nodes=64):
    """A device and its electron/hole mirror (energies reflected about a midpoint)."""
    import copy

    e0 = 4.5
    mir = []
    for d in reversed(layers):
        m = copy.deepcopy(d)
        ie = d["electron_affinity_eV"] + d["band_gap_eV"]
        m["electron_affinity_eV"] = 2 * e0 - ie
        m["electron_mobility_m2_Vs"], m["hole_mobility_m2_Vs"] = (
            d["hole_mobility_m2_Vs"],
            d["electron_mobility_m2_Vs"],
        )
        m["conduction_band_dos_m3"], m["valence_band_dos_m3"] = (
            d["valence_band_dos_m3"],
            d["conduction_band_dos_m3"],
        )
        m["donor_density_m3"], m["acceptor_density_m3"] = (
            d.get("acceptor_density_m3", 0.0),
            d.get("donor_density_m3", 0.0),
        )
        mir.append(m)
    a = build_arrays(layers, wf_a, wf_c, mesh=MeshSpec(nodes))
    b = build_arrays(mir, 2 * e0 - wf_c, 2 * e0 - wf_a, mesh=MeshSpec(nodes))
    return a, b


def inline_material(name, role, ea, eg, mu_e, mu_h=None, eps=3.5, **kw):
    """An inline material mapping for device files (cm-based units, like materials/*.yaml):
    Nc = Nv = 1e20 cm^-3, SRH 1 us, B = 1e-12 cm^3/s, n = 1.7; ``kw`` overrides/extends."""
    d = {
        "name": name,
        "role": role,
        "band_gap_eV": eg,
        "electron_affinity_eV": ea,
        "relative_permittivity": eps,
        "conduction_band_dos_cm3": 1e20,
        "valence_band_dos_cm3": 1e20,
        "electron_mobility_cm2_Vs": mu_e,
        "hole_mobility_cm2_Vs": mu_e if mu_h is None else mu_h,
        "srh_lifetime_electron_s": 1e-6,
        "srh_lifetime_hole_s": 1e-6,
        "radiative_coefficient_cm3_s": 1e-12,
        "refractive_index": 1.7,
    }
    d.update(kw)
    d["sources"] = {k: "test value" for k, v in d.items() if isinstance(v, int | float)}
    return d


def database_stack(name: str, anode: str, cathode: str, layers: list[tuple[str, float]]):
    """A device from default-database materials: contacts by electrode name (their own work
    functions), layers as (material name, thickness in nm) from anode to cathode, as the
    random stacks of the robustness test are built."""
    from peled.device import Contact, Device, Layer
    from peled.materials import default_database

    db = default_database()
    return Device(
        name,
        Contact(anode, db[anode].work_function_eV),
        Contact(cathode, db[cathode].work_function_eV),
        tuple(Layer(db[m], t) for m, t in layers),
    )
