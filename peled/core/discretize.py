"""Build :class:`DeviceArrays` from plain per-layer numbers (SI units).

This is the only bridge between named, unit-carrying descriptions (``peled.device``)
and the numerical core; it knows nothing of files. Every value here is a float in SI
units; the device layer converts from the database's cm-based units.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.params import (
    ContactParams,
    DeviceArrays,
    InterfaceParams,
    LayerParams,
    MeshSpec,
    reference_mesh,
    uses_degenerate_statistics,
)
from peled.core.residual import richardson_velocity_m_s
from peled.model.mobility import MOBILITY_MODELS
from peled.model.statistics import STATISTICS_TAGS

LAYER_FIELDS = tuple(LayerParams.__dataclass_fields__)

_LAYER_DEFAULTS = {
    "donor_density_m3": 0.0,
    "acceptor_density_m3": 0.0,
    "trap_energy_eV": 0.0,
    "radiative_coefficient_m3_s": 0.0,
    "auger_coefficient_electron_m6_s": 0.0,
    "auger_coefficient_hole_m6_s": 0.0,
    "srh_lifetime_electron_s": 1e-6,
    "srh_lifetime_hole_s": 1e-6,
    "statistics_gamma": 0.0,
    "electron_disorder_eV": 0.0,
    "hole_disorder_eV": 0.0,
    # read only by "nanocrystal" statistics
    "nanocrystal_size_m": 1e-8,
    "nanocrystal_size_dispersion": 0.0,
    "nanocrystal_packing_fraction": 0.0,  # 0: not a nanocrystal film
    "electron_effective_mass": 1.0,
    "hole_effective_mass": 1.0,
    "nanocrystal_charging_energy_eV": 0.0,
    # the excitonic emitter's per-crystal Auger (inf lifetimes: none)
    "exciton_lifetime_s": 1.0,
    "trion_auger_lifetime_s": float("inf"),
    "biexciton_auger_lifetime_s": float("inf"),
    "auger_reference_size_m": 1e-8,
    # read only by the "poole_frenkel" mobility model
    "electron_poole_frenkel_gamma": 0.0,
    "hole_poole_frenkel_gamma": 0.0,
}

# static (string) keys of a layer: the statistics term of each carrier
_TAG_KEYS = ("electron_statistics", "hole_statistics")
_MODEL_KEYS = ("electron_mobility_model", "hole_mobility_model")


def _in_float64(build: Callable[..., DeviceArrays]) -> Callable[..., DeviceArrays]:
    """``build`` run inside ``jax.enable_x64(True)``, so that its arrays are float64."""

    @functools.wraps(build)
    def wrapped(*args: Any, **kwargs: Any) -> DeviceArrays:
        with jax.enable_x64(True):
            return build(*args, **kwargs)

    return wrapped


@_in_float64
def build_arrays(
    layers: Sequence[Mapping[str, float]],
    anode_work_function_eV: float,
    cathode_work_function_eV: float,
    temperature_K: float = 300.0,
    mesh: MeshSpec | None = None,
    contact_velocities_m_s: Mapping[str, float] | None = None,
    interface_velocities_m_s: Sequence[Mapping[str, float]] | None = None,
    image_force: tuple[bool, bool] = (False, False),
    interface_image: Sequence[int] | None = None,
) -> DeviceArrays:
    """DeviceArrays of a stack given per-layer SI values (keys = LayerParams fields).

    A layer may also name the statistics term of its electrons and holes,
    ``electron_statistics`` / ``hole_statistics`` (peled.model.statistics.STATISTICS_TAGS,
    default "occupancy", whose gamma is ``statistics_gamma``) and the mobility model of each,
    ``electron_mobility_model`` / ``hole_mobility_model`` (peled.model.mobility, default
    "constant").

    ``contact_velocities_m_s`` may set ``anode_electron``, ``anode_hole``,
    ``cathode_electron``, ``cathode_hole`` surface recombination velocities [m/s]
    (default inf: ideal contacts). ``interface_velocities_m_s[k]`` may set
    ``electron``, ``hole`` (thermionic transfer velocity, default Richardson velocity of
    the free-electron mass) and ``recombination`` (default 0) for interface k.
    ``image_force`` (anode, cathode): image-force lowering of the transport levels next to
    each electrode (peled.model.contacts.image_force). ``interface_image[k]`` (K-1
    entries, default none): +1 where layer k+1 sees layer k as an electrode's image plane,
    -1 where layer k sees layer k+1, 0 for no image (peled.model.interfaces.image_plane).

    The arrays are float64 whatever the caller's JAX setting (built inside
    ``jax.enable_x64(True)``): outside it they would be truncated to float32 silently.
    """
    mesh = mesh or MeshSpec()
    k = len(layers)
    if k == 0:
        raise ValueError("a device needs at least one layer")
    cols: dict[str, list[float]] = {f: [] for f in LAYER_FIELDS}
    tags: dict[str, list[str]] = {t: [] for t in _TAG_KEYS}
    models: dict[str, list[str]] = {t: [] for t in _MODEL_KEYS}
    for i, lay in enumerate(layers):
        unknown = set(lay) - set(LAYER_FIELDS) - set(_TAG_KEYS) - set(_MODEL_KEYS)
        if unknown:
            raise ValueError(f"layer {i}: unknown keys {sorted(unknown)}")
        for t in _TAG_KEYS:
            tag = str(lay.get(t, "occupancy"))
            if tag not in STATISTICS_TAGS:
                raise ValueError(f"layer {i}: {t} = {tag!r}; allowed {list(STATISTICS_TAGS)}")
            tags[t].append(tag)
        for t in _MODEL_KEYS:
            model = str(lay.get(t, "constant"))
            if model not in MOBILITY_MODELS:
                raise ValueError(f"layer {i}: {t} = {model!r}; allowed {list(MOBILITY_MODELS)}")
            models[t].append(model)
        for f in LAYER_FIELDS:
            if f in lay:
                cols[f].append(float(lay[f]))
            elif f in _LAYER_DEFAULTS:
                cols[f].append(_LAYER_DEFAULTS[f])
            else:
                raise ValueError(f"layer {i}: missing {f}")
    lp = LayerParams(**{f: jnp.asarray(v, jnp.float64) for f, v in cols.items()})
    cv = {
        "anode_electron": np.inf,
        "anode_hole": np.inf,
        "cathode_electron": np.inf,
        "cathode_hole": np.inf,
    }
    cv.update(contact_velocities_m_s or {})
    contacts = ContactParams(
        anode_work_function_eV=jnp.asarray(anode_work_function_eV, jnp.float64),
        cathode_work_function_eV=jnp.asarray(cathode_work_function_eV, jnp.float64),
        anode_electron_velocity_m_s=jnp.asarray(cv["anode_electron"], jnp.float64),
        anode_hole_velocity_m_s=jnp.asarray(cv["anode_hole"], jnp.float64),
        cathode_electron_velocity_m_s=jnp.asarray(cv["cathode_electron"], jnp.float64),
        cathode_hole_velocity_m_s=jnp.asarray(cv["cathode_hole"], jnp.float64),
    )
    v_r = float(richardson_velocity_m_s(temperature_K))
    iv = list(interface_velocities_m_s or [{} for _ in range(k - 1)])
    if len(iv) != k - 1:
        raise ValueError(f"expected {k - 1} interface entries, got {len(iv)}")
    interfaces = InterfaceParams(
        electron_velocity_m_s=jnp.asarray([d.get("electron", v_r) for d in iv], jnp.float64),
        hole_velocity_m_s=jnp.asarray([d.get("hole", v_r) for d in iv], jnp.float64),
        recombination_velocity_m_s=jnp.asarray(
            [d.get("recombination", 0.0) for d in iv], jnp.float64
        ),
    )
    images = tuple(int(t) for t in (interface_image or (0,) * (k - 1)))
    if len(images) != k - 1 or any(t not in (-1, 0, 1) for t in images):
        raise ValueError(f"interface_image: expected {k - 1} entries of -1, 0 or 1, got {images}")
    node_layer, frac = reference_mesh(k, mesh)
    return DeviceArrays(
        layers=lp,
        contacts=contacts,
        interfaces=interfaces,
        temperature_K=jnp.asarray(temperature_K, jnp.float64),
        node_layer=jnp.asarray(node_layer),
        node_fraction=jnp.asarray(frac, jnp.float64),
        degenerate_statistics=uses_degenerate_statistics(
            lp, tuple(tags["electron_statistics"] + tags["hole_statistics"])
        ),
        electron_statistics=tuple(tags["electron_statistics"]),
        hole_statistics=tuple(tags["hole_statistics"]),
        electron_mobility_model=tuple(models["electron_mobility_model"]),
        hole_mobility_model=tuple(models["hole_mobility_model"]),
        image_force=(bool(image_force[0]), bool(image_force[1])),
        interface_image=images if any(images) else (),
    )
