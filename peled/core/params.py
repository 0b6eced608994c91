"""Array form of a device: what the numerical core consumes.

A :class:`DeviceArrays` is a JAX pytree. Its *structure* (number of layers, nodes per
layer, emitter flags) is static; every physical number is a traced float64 array in SI
units, so one compiled solver serves every device with the same structure and any
number can be differentiated or vmapped over.

Per-layer values have shape ``(K,)`` for K layers (anode side first). The mesh is held
in reference coordinates: node ``i`` lies in layer ``node_layer[i]`` at the fraction
``node_fraction[i]`` of that layer's thickness, so a thickness change moves nodes but
never changes the mesh topology (this is what makes thicknesses differentiable).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class LayerParams:
    """Per-layer material parameters, SI units, each shape (K,)."""

    thickness_m: jax.Array
    electron_affinity_eV: jax.Array
    band_gap_eV: jax.Array
    relative_permittivity: jax.Array
    conduction_band_dos_m3: jax.Array
    valence_band_dos_m3: jax.Array
    electron_mobility_m2_Vs: jax.Array
    hole_mobility_m2_Vs: jax.Array
    donor_density_m3: jax.Array
    acceptor_density_m3: jax.Array
    srh_lifetime_electron_s: jax.Array
    srh_lifetime_hole_s: jax.Array
    trap_energy_eV: jax.Array  # relative to midgap, positive toward the conduction band
    radiative_coefficient_m3_s: jax.Array
    auger_coefficient_electron_m6_s: jax.Array
    auger_coefficient_hole_m6_s: jax.Array
    # occupancy of the band states (peled.model.statistics.occupancy): 0 = Boltzmann,
    # 0.27 = Blakemore's approximation to Fermi-Dirac, 1 = Fermi-Dirac on one level of N_c
    # sites; used where a carrier's statistics tag is "occupancy"
    statistics_gamma: jax.Array
    # Gaussian DOS widths sigma [eV] of the LUMO (electrons) and HOMO (holes); used where a
    # carrier's statistics tag is "gauss_fermi" (N_c, N_v then hold the site density N0)
    electron_disorder_eV: jax.Array
    hole_disorder_eV: jax.Array
    # a nanocrystal film's edge length [m], relative size dispersion sigma_L/L [-], packing
    # (volume) fraction [-] and the carriers' effective masses m*/m0 [-]; used where a
    # carrier's statistics tag is "nanocrystal" (N_c, N_v then follow as 2 phi / L^3)
    nanocrystal_size_m: jax.Array
    nanocrystal_size_dispersion: jax.Array
    nanocrystal_packing_fraction: jax.Array
    electron_effective_mass: jax.Array
    hole_effective_mass: jax.Array
    # the rise U [eV] of a crystal's levels per carrier it holds (charging energy e^2/C,
    # peled.model.statistics.nanocrystal); 0: no charging
    nanocrystal_charging_energy_eV: jax.Array
    # the excitonic emitter (peled.model.emitter.excitonic): exciton lifetime tau_X =
    # PLQY tau_r [s], trion and biexciton Auger lifetimes [s] at the crystal edge
    # auger_reference_size_m [m] (volume-scaled to nanocrystal_size_m); inf: no Auger
    exciton_lifetime_s: jax.Array
    trion_auger_lifetime_s: jax.Array
    biexciton_auger_lifetime_s: jax.Array
    auger_reference_size_m: jax.Array
    # Poole-Frenkel coefficients gamma [(m/V)^0.5]; used where a carrier's mobility model is
    # "poole_frenkel" (peled.model.mobility)
    electron_poole_frenkel_gamma: jax.Array
    hole_poole_frenkel_gamma: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ContactParams:
    """Contact parameters.

    Work functions [eV, positive, below vacuum]; surface recombination velocities
    [m/s] of electrons and holes at each contact (``inf`` = ideal Dirichlet contact).
    """

    anode_work_function_eV: jax.Array
    cathode_work_function_eV: jax.Array
    anode_electron_velocity_m_s: jax.Array
    anode_hole_velocity_m_s: jax.Array
    cathode_electron_velocity_m_s: jax.Array
    cathode_hole_velocity_m_s: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class InterfaceParams:
    """Heterointerface parameters, each shape (K-1,) (interface k joins layers k, k+1).

    ``electron_velocity_m_s`` / ``hole_velocity_m_s``: thermionic-emission transfer
    velocities [m/s]; ``recombination_velocity_m_s``: surface-SRH velocity [m/s] of the
    two nodes adjacent to the interface (0 = none).
    """

    electron_velocity_m_s: jax.Array
    hole_velocity_m_s: jax.Array
    recombination_velocity_m_s: jax.Array


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DeviceArrays:
    """Everything the solver needs, as arrays (see module docstring)."""

    layers: LayerParams
    contacts: ContactParams
    interfaces: InterfaceParams
    temperature_K: jax.Array
    node_layer: jax.Array  # int, (N,)
    node_fraction: jax.Array  # (N,), position within its layer in [0, 1]
    # static: whether any layer has statistics_gamma > 0 or a statistics tag other than
    # "occupancy". All-Boltzmann devices then compile without the state-filling terms
    # (they cost ~15 % of a sweep)
    degenerate_statistics: bool = field(default=False, metadata={"static": True})
    # static: the statistics term of each layer's electrons and holes
    # (peled.model.statistics.STATISTICS_TAGS); empty = "occupancy" in every layer
    electron_statistics: tuple[str, ...] = field(default=(), metadata={"static": True})
    hole_statistics: tuple[str, ...] = field(default=(), metadata={"static": True})
    # static: the mobility model of each layer's electrons and holes
    # (peled.model.mobility.MOBILITY_MODELS); empty = "constant" in every layer
    electron_mobility_model: tuple[str, ...] = field(default=(), metadata={"static": True})
    hole_mobility_model: tuple[str, ...] = field(default=(), metadata={"static": True})
    # static: image-force lowering at the (anode, cathode) (peled.model.contacts.image_force)
    image_force: tuple[bool, bool] = field(default=(False, False), metadata={"static": True})
    # static, one per interface (K-1,): +1 where the layer right of it sees the left layer
    # as an electrode's image plane, -1 where the left layer sees the right one, 0 for no
    # image (peled.model.interfaces.image_plane); empty = 0 everywhere
    interface_image: tuple[int, ...] = field(default=(), metadata={"static": True})
    # traced, derived: the tabulated Gauss-Fermi and nanocrystal terms
    # (peled.model.statistics.statistics_tables), set by peled.core.state.prepare_arrays
    # inside the solver only; None = built wherever they are needed
    statistics_tables: Any = None

    @property
    def n_nodes(self) -> int:
        return int(self.node_layer.shape[-1])

    @property
    def n_layers(self) -> int:
        return int(self.layers.thickness_m.shape[-1])

    def statistics_tags(self, carrier: str) -> tuple[str, ...]:
        """The static statistics tag of each layer for ``carrier`` ("electron"/"hole")."""
        tags = self.electron_statistics if carrier == "electron" else self.hole_statistics
        return tags or ("occupancy",) * self.n_layers

    def mobility_models(self, carrier: str) -> tuple[str, ...]:
        """The static mobility model of each layer for ``carrier`` ("electron"/"hole")."""
        tags = self.electron_mobility_model if carrier == "electron" else self.hole_mobility_model
        return tags or ("constant",) * self.n_layers

    def interface_images(self) -> tuple[int, ...]:
        """The static image-plane tag of each interface (+1, -1 or 0; ``interface_image``)."""
        return self.interface_image or (0,) * max(self.n_layers - 1, 0)

    @property
    def nodes_per_layer(self) -> int:
        """m [-]: every layer has the same number of nodes (static)."""
        return self.n_nodes // self.n_layers

    def with_layers(self, **changes: jax.Array) -> DeviceArrays:
        """A copy with some per-layer arrays replaced (for design studies)."""
        out = replace(self, layers=replace(self.layers, **changes), statistics_tables=None)
        if "statistics_gamma" in changes:
            out = replace(
                out,
                degenerate_statistics=uses_degenerate_statistics(
                    out.layers, out.electron_statistics + out.hole_statistics
                ),
            )
        return out


def uses_degenerate_statistics(layers: LayerParams, tags: tuple[str, ...] = ()) -> bool:
    """Whether any layer has statistics_gamma > 0 (True if the values are traced) or a
    statistics tag other than "occupancy" appears in ``tags``."""
    if any(t != "occupancy" for t in tags):
        return True
    try:
        return bool(np.any(np.asarray(layers.statistics_gamma) > 0.0))
    except jax.errors.TracerArrayConversionError:
        return True


def node_positions_m(arrays: DeviceArrays) -> jax.Array:
    """Node positions x_i [m] from the layer thicknesses and reference fractions."""
    t = arrays.layers.thickness_m
    starts = jnp.concatenate([jnp.zeros((1,), t.dtype), jnp.cumsum(t)[:-1]])
    return starts[arrays.node_layer] + arrays.node_fraction * t[arrays.node_layer]


def layer_boundaries_m(arrays: DeviceArrays) -> jax.Array:
    """Positions [m] of the K+1 layer boundaries (anode at 0)."""
    t = arrays.layers.thickness_m
    return jnp.concatenate([jnp.zeros((1,), t.dtype), jnp.cumsum(t)])


def stack_arrays(batch: list[DeviceArrays]) -> DeviceArrays:
    """Stack devices of identical structure into one batched pytree (leading axis)."""
    first = batch[0]
    for other in batch[1:]:
        if not np.array_equal(np.asarray(other.node_layer), np.asarray(first.node_layer)):
            raise ValueError("stack_arrays: devices differ in mesh structure (node_layer)")
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *batch)


@dataclass(frozen=True)
class MeshSpec:
    """How to mesh a stack: nodes per layer and the end-clustering strength.

    ``nodes_per_layer`` [-] is the same for every layer so that devices with the same
    layer count share one compiled solver; ``clustering`` in [0, 1) is beta of the map
    g(t) = t - beta sin(2 pi t) / (2 pi), whose spacing at a layer's ends is (1 - beta)
    times the mean spacing (interfaces and contacts need fine spacing: accumulation
    layers there are a few Debye lengths, ~0.2-2 nm, thick).

    ``grading = "loglinear"`` replaces the sine map by a node density proportional to
    1 + b / (d + eps) in d, the distance to the nearer layer end as a fraction of the
    layer (``loglinear_b``, ``loglinear_eps`` [-]): spacings grow geometrically from an
    eps-scale first spacing into a uniform bulk. It resolves boundary layers far thinner
    than the sine map can (docs/numerics/accuracy.md, "The log-linear grading");
    ``clustering`` is then unused.
    """

    nodes_per_layer: int = 64
    clustering: float = field(default=0.99)
    grading: str = "sine"
    loglinear_b: float = 0.03
    loglinear_eps: float = 1e-6


def _loglinear_map(t: np.ndarray, b: float, eps: float) -> np.ndarray:
    """Map t in [0, 1] -> g in [0, 1] with node density 1 + b/(d + eps), d = min(g, 1 - g).

    Integrating the density from the nearer end gives the uniform coordinate
    tau(s) = (s + b ln(1 + s/eps)) / (2 T), T = 1/2 + b ln(1 + 1/(2 eps)), for s in
    [0, 1/2]; tau is monotone, so s = tau^-1(min(t, 1 - t)) is found by bisection
    (64 halvings: exact to round-off) and mirrored about the layer centre.
    """
    total = 0.5 + b * np.log1p(0.5 / eps)
    u = np.minimum(t, 1.0 - t)
    lo, hi = np.zeros_like(u), np.full_like(u, 0.5)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        above = 0.5 * (mid + b * np.log1p(mid / eps)) / total > u
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    s = 0.5 * (lo + hi)
    return np.where(t <= 0.5, s, 1.0 - s)


def reference_mesh(n_layers: int, spec: MeshSpec) -> tuple[np.ndarray, np.ndarray]:
    """Node layer indices and in-layer fractions for ``n_layers`` layers.

    The anode (x = 0) and the cathode (x = L) are nodes. Interior interfaces lie midway
    between the last node of one layer and the first of the next, i.e. on a face of the
    finite-volume cells, so every node belongs to exactly one material.
    """
    m = spec.nodes_per_layer
    if m < 4:
        raise ValueError(f"nodes_per_layer must be >= 4, got {m}")
    if not 0.0 <= spec.clustering < 1.0:
        raise ValueError(f"clustering must be in [0, 1), got {spec.clustering}")
    if spec.grading not in ("sine", "loglinear"):
        raise ValueError(f"grading must be 'sine' or 'loglinear', got {spec.grading!r}")
    if spec.grading == "loglinear" and not (spec.loglinear_b > 0 and spec.loglinear_eps > 0):
        raise ValueError(
            f"loglinear_b and loglinear_eps must be > 0, got {spec.loglinear_b}, "
            f"{spec.loglinear_eps}"
        )
    layers, fractions = [], []
    j = np.arange(m, dtype=np.float64)
    for k in range(n_layers):
        first, last = k == 0, k == n_layers - 1
        if first and last:
            t = j / (m - 1)
        elif first:
            t = j / (m - 0.5)
        elif last:
            t = (j + 0.5) / (m - 0.5)
        else:
            t = (j + 0.5) / m
        if spec.grading == "loglinear":
            g = _loglinear_map(t, spec.loglinear_b, spec.loglinear_eps)
        else:
            g = t - spec.clustering * np.sin(2.0 * np.pi * t) / (2.0 * np.pi)
        layers.append(np.full(m, k, dtype=np.int32))
        fractions.append(g)
    return np.concatenate(layers), np.concatenate(fractions)
