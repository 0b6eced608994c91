"""``peled.simulate``: a J-V-L sweep of a device, and its result.

The numerical core (``peled.core``) solves the states; this module adds the light output
model (PLQY-weighted radiative recombination, outcoupling, photometry) and packages
everything in a :class:`SimulationResult`. Non-converged bias points are kept, flagged in
``converged`` and their observables set to NaN, so that nothing wrong is reported as a
number. Every bias also carries the solver's result code (``result_code``, named by
``result``: "strict", "floor", ..., "failed"; :data:`peled.core.newton.RESULT_CODES`),
which says which convergence rule and which pass of the sweep accepted it.

Light output (docs/model/light-output.md):

    Phi_out = eta_out * sum_emitters vol * PLQY * q(x) * R_rad    [photons m^-2 s^-1]
    EQE     = q Phi_out / J
    L       = Phi_out * K_ph / pi   (Lambertian, K_ph = lumens per photon/s of the spectrum)
    CE      = L / J  [cd/A],   PE = pi L / (J V)  [lm/W]

with the default outcoupling eta_out = 1 / (2 n^2) of the emitter's refractive index n
(classical ray optics for a source in a high-index slab emitting through one face) and
q(x) = prod (1 - s exp(-d / L_q)) the survival of excitons against quenching at the
emitter's interfaces (1 unless the materials set the optional quenching keys).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from scipy import constants

from peled.core.newton import (
    _PROGRESS_HOOKS,
    _RETRY_HOOKS,
    SolverSettings,
    solve_sweep,
    solve_sweep_in_chunks,
)
from peled.core.observables import (
    charge_balance,
    emitter_injection_currents,
    layer_integral,
    node_radiative_weight,
    sweep_observables,
)
from peled.core.params import MeshSpec, layer_boundaries_m, node_positions_m
from peled.device import Device
from peled.errors import PeledInputError
from peled.photometry import spectrum_metrics
from peled.programs import active_store
from peled.result import SimulationResult  # noqa: F401 (re-exported)
from peled.runtime import release_compiled_code_if_near_limit

A_M2_TO_MA_CM2 = 0.1  # 1 A/m^2 = 0.1 mA/cm^2
M3_TO_CM3 = 1e-6
CM2_PER_M2 = 1e-4  # a rate per m^2 times 1e-4 is per cm^2


def default_outcoupling(device: Device) -> float:
    """eta_out = 1 / (2 n^2) of the first emitter's refractive index [-]."""
    idx = device.emitter_indices
    if not idx:
        return 0.0
    n = device.layers[idx[0]].material.refractive_index
    return 1.0 / (2.0 * n * n)


@contextlib.contextmanager
def progress_hook(callback, on_retry=None) -> Iterator[None]:
    """Call ``callback(voltage_V)`` after each solved bias of the forward pass inside the
    compiled sweep, and ``on_retry(voltage_V)`` after each task of the passes that revisit
    failed biases (docs/numerics/continuation.md, "Passes over failed points")."""
    _PROGRESS_HOOKS.append(callback)
    if on_retry is not None:
        _RETRY_HOOKS.append(on_retry)
    try:
        yield
    finally:
        _PROGRESS_HOOKS.remove(callback)
        if on_retry is not None:
            _RETRY_HOOKS.remove(on_retry)


class SweepBar:
    """The terminal's per-bias progress bar of a sweep: it says "compiling" until the
    first bias is solved (the compile of a new device shape takes a minute and more, and
    an ETA over it would mislead), then counts the biases of the forward pass, then names
    each bias the retry passes revisit and how many they have revisited."""

    def __init__(self, n_biases: int, name: str, file=None):
        from tqdm import tqdm

        self.name = name
        self.bar = tqdm(
            total=n_biases,
            desc=f"compiling the solver for {name} (once per stack shape)",
            unit="bias",
            leave=False,
            file=file,
            bar_format="{desc}: {n_fmt}/{total_fmt} {postfix}",
        )
        self.started = False
        self.revisits = 0

    def solved(self, voltage_V: float) -> None:
        if not self.started:
            self.started = True
            self.bar.set_description(f"sweep {self.name}")
            self.bar.bar_format = None  # the full bar with its rate and ETA from here
            # restart the clock: a rate measured over the compile would give an ETA of hours
            self.bar.reset(total=self.bar.total)
        self.bar.update(1)

    def revisited(self, voltage_V: float) -> None:
        self.revisits += 1
        self.bar.set_postfix_str(
            f"retry pass revisits a bias that failed: {voltage_V:.3g} V "
            f"({self.revisits} revisits so far)"
        )

    def close(self) -> None:
        self.bar.close()


#: The smallest bias bucket of :func:`padded_biases`.
MIN_BIAS_BUCKET = 16


def padded_biases(voltages_V: np.ndarray) -> np.ndarray:
    """``voltages_V`` [V] padded to the next bucket (16, 32, 64, ...) with its last bias.

    The compiled sweep depends on the number of biases, so every new count would compile
    again (about a minute on 2 cores). Padded to a bucket, sweeps of up to 16, 17 to 32,
    ... biases share one program. :func:`simulate` passes the number of requested biases
    to the sweep (``solve_sweep(..., n_biases=)``), which never attempts the padding in
    any pass, so the requested biases are solved exactly as without it, and drops the
    padding from the result.
    """
    n = voltages_V.size
    bucket = MIN_BIAS_BUCKET
    while bucket < n:
        bucket *= 2
    return np.concatenate([voltages_V, np.full(bucket - n, voltages_V[-1])])


def simulate(
    device: Device,
    voltages_V: Sequence[float] | np.ndarray | None = None,
    mesh: MeshSpec | None = None,
    settings: SolverSettings | None = None,
    progress: bool = False,
) -> SimulationResult:
    """Solve the J-V-L sweep of ``device`` at ``voltages_V`` [V] (default: its sweep).

    ``progress``: a per-bias bar (tqdm, on stderr). With the bar, or with a program store
    set (:func:`peled.programs.use_store`; :func:`peled.runtime.enable_compilation_cache`
    sets one, as the CLI does), the continuation runs in compiled chunks, from the
    store's exported programs when there is one; the states are those of the one
    compiled sweep bit for bit."""
    v = np.asarray(device.voltages() if voltages_V is None else voltages_V, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError("voltages_V must be a non-empty 1-D array of finite biases [V]")
    settings = settings or SolverSettings()
    # a loop over many stack shapes compiles a sweep for each: stay clear of the
    # process's memory-map limit (peled.runtime)
    release_compiled_code_if_near_limit()
    with jax.enable_x64(True):
        arrays = device.to_arrays(mesh)
        # the CLI's stored exported programs (peled.programs), when it set a store
        store = active_store()
        if progress or store is not None:
            # the continuation in compiled chunks (the same states as the one compiled
            # sweep, bit for bit): no host callback in the programs, so they enter the
            # persistent compilation cache and the store, and the bar moves between them
            bar = SweepBar(v.size, device.name) if progress else None
            try:
                states = solve_sweep_in_chunks(
                    arrays,
                    jnp.asarray(padded_biases(v)),
                    settings,
                    n_biases=v.size,
                    on_forward=None if bar is None else bar.solved,
                    on_retry=None if bar is None else bar.revisited,
                    run=None if store is None else store.run,
                )
            finally:
                if bar is not None:
                    bar.close()
        else:
            states = solve_sweep(
                arrays,
                jnp.asarray(padded_biases(v)),
                settings,
                n_biases=jnp.asarray(v.size),
            )
        jax.block_until_ready(states.u)
        states = type(states)(*(field[: v.size] for field in states))
    return result_from_states(device, arrays, v, states)


def emitter_plqy(device: Device) -> jax.Array:
    """Per-layer radiative weight: the film PLQY of emitting layers, 0 elsewhere [-]."""
    return jnp.asarray(
        [
            (la.material.photoluminescence_quantum_yield or 0.0) if la.material.emits else 0.0
            for la in device.layers
        ],
        jnp.float64,
    )


def radiative_weight(device: Device, arrays) -> jax.Array:
    """Per-node photon yield per radiative event (N,) [-]: film PLQY times the survival
    against interface exciton quenching (:func:`peled.core.observables.node_radiative_weight`).

    The quenching length L_q is the emitter material's ``exciton_quenching_length_nm``;
    the efficiency s of each interface is the ``exciton_quenching_efficiency`` of the
    neighbouring layer's material, or of the contact where the emitter touches one.
    Without those optional keys the weight is the film PLQY everywhere in the emitter.
    """
    return node_radiative_weight(arrays, *radiative_weight_inputs(device))


def radiative_weight_inputs(device: Device) -> tuple[jax.Array, ...]:
    """(layer PLQY, quenching length [m], left and right quenching efficiency), each (K,):
    the per-layer arguments of :func:`peled.core.observables.node_radiative_weight`
    (kept apart from the arrays so that a thickness change re-evaluates the weights)."""
    layers = device.layers
    k_tot = len(layers)
    lengths, left, right = [], [], []
    for k, la in enumerate(layers):
        m = la.material
        length_nm = m.exciton_quenching_length_nm if m.emits else None
        lengths.append(0.0 if length_nm is None else length_nm * 1e-9)
        left.append(
            layers[k - 1].material.exciton_quenching_efficiency
            if k > 0
            else device.anode.exciton_quenching_efficiency
        )
        right.append(
            layers[k + 1].material.exciton_quenching_efficiency
            if k < k_tot - 1
            else device.cathode.exciton_quenching_efficiency
        )
    f64 = jnp.float64
    return (
        emitter_plqy(device),
        jnp.asarray(lengths, f64),
        jnp.asarray(left, f64),
        jnp.asarray(right, f64),
    )


def _sweep_observables(_static, u, arrays, eta):
    """:func:`peled.core.observables.sweep_observables` in the form a
    :class:`peled.programs.ProgramStore` runs (a first, static argument; unused)."""
    return sweep_observables(u, arrays, eta)


def result_from_states(device: Device, arrays, voltages_V, states) -> SimulationResult:
    """Package solved states of one device (from ``solve_sweep``) as a SimulationResult.

    ``states`` holds u [bias, node, 3], converged, iterations, residual_norm and
    result_code (optional) for the biases ``voltages_V`` [V]; a batched (vmapped) solve is
    split per device first.
    """
    v = np.asarray(voltages_V, dtype=np.float64)
    store = active_store()
    with jax.enable_x64(True):
        eta = radiative_weight(device, arrays)
        if store is None:
            obs = sweep_observables(states.u, arrays, eta)
        else:
            # from the CLI's stored exported program: no tracing in a later run
            obs = store.run(_sweep_observables, None, states.u, arrays, eta)
        balance = None
        if device.emitter_indices:
            inj = emitter_injection_currents(
                obs.electron_current_A_m2,
                obs.hole_current_A_m2,
                arrays.node_layer,
                device.emitter_indices[0],
            )
            ratio, factor = charge_balance(inj.electron_in_A_m2, inj.hole_in_A_m2)
            geo = (node_positions_m(arrays), layer_boundaries_m(arrays), arrays.node_layer)
            k_em = device.emitter_indices[0]
            sheet_n = layer_integral(*geo, obs.electron_density_m3, k_em)
            sheet_p = layer_integral(*geo, obs.hole_density_m3, k_em)
            rec = obs.radiative_rate_m3_s + obs.srh_rate_m3_s + obs.auger_rate_m3_s
            j_rec_em = constants.e * layer_integral(*geo, rec, k_em)
            balance = [
                np.asarray(a)
                for a in (
                    inj.electron_in_A_m2,
                    inj.hole_in_A_m2,
                    ratio,
                    factor,
                    sheet_n / sheet_p,
                    j_rec_em / obs.current_density_A_m2,
                )
            ]
        obs = jax.tree_util.tree_map(np.asarray, obs)
        eta = np.asarray(eta)
        x_nm = np.asarray(node_positions_m(arrays)) * 1e9
        conv = np.asarray(states.converged)
        code = getattr(states, "result_code", None)
        code = None if code is None else np.asarray(code)
    optics = None
    if device.outcoupling is not None:
        eta_out, model = device.outcoupling, "constant"
    elif device.optics == "dipole" and device.emitter_indices:
        from peled.optics.coupling import device_outcoupling

        optics = device_outcoupling(device, x_nm, np.asarray(arrays.node_layer))
        em = np.isin(np.asarray(arrays.node_layer), device.emitter_indices)
        eta_out, model = float(np.mean(optics.photons_to_air[em])), "dipole"
    else:
        eta_out, model = default_outcoupling(device), "ray_optics"
    spec = None
    if device.emitter_indices:
        m = device.layers[device.emitter_indices[0]].material
        lines = {
            (device.layers[k].material.emission_peak_nm, device.layers[k].material.emission_fwhm_nm)
            for k in device.emitter_indices
        }
        if len(lines) > 1:
            # luminance needs the photons of each spectrum apart; not modelled yet
            raise PeledInputError(
                f"{device.source_file or device.name}: emitting layers with different "
                f"emission lines {sorted(lines)} (peak_nm, fwhm_nm) are not supported yet; "
                "use one emitter material"
            )
        spec = spectrum_metrics(float(m.emission_peak_nm), float(m.emission_fwhm_nm))
    nan = np.where(conv, 1.0, np.nan)
    j_a_m2 = obs.current_density_A_m2 * nan
    floor_a_m2 = obs.current_floor_A_m2 * nan
    if optics is None:
        phi_out = eta_out * obs.internal_photon_flux_m2_s * nan
        lum = phi_out * (spec.lumens_per_photon_per_s if spec else 0.0) / math.pi
        effective = None
    else:
        # photons start at each node with its own outcoupling and forward radiance
        phi_out = (obs.photon_rate_m2_s @ optics.photons_to_air) * nan
        lum = (obs.photon_rate_m2_s @ optics.forward_lm_sr) * nan
        with np.errstate(divide="ignore", invalid="ignore"):
            effective = phi_out / obs.internal_photon_flux_m2_s
    # ratios to J wherever J > 0; where |J| is below its round-off floor they are flagged
    # (current_resolved), not removed: on the Table 2 devices EQE_max at J ~ 1e-7 mA/cm^2,
    # below that floor, is still reproducible to 1e-4 across meshes (docs/validation/index.md),
    # so the floor is a warning, not proof that the digits are noise
    j_ok = j_a_m2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        eqe = np.where(j_ok, 100.0 * constants.e * phi_out / j_a_m2, np.nan)
        ce = np.where(j_ok, lum / j_a_m2, np.nan)
        pe = np.where(j_ok & (v > 0), math.pi * lum / (j_a_m2 * v), np.nan)
    profiles = {
        "conduction_band_eV": obs.conduction_band_eV,
        "valence_band_eV": obs.valence_band_eV,
        "electron_quasi_fermi_eV": obs.electron_quasi_fermi_eV,
        "hole_quasi_fermi_eV": obs.hole_quasi_fermi_eV,
        "electron_density_cm3": obs.electron_density_m3 * M3_TO_CM3,
        "hole_density_cm3": obs.hole_density_m3 * M3_TO_CM3,
        "radiative_rate_cm3_s": obs.radiative_rate_m3_s * M3_TO_CM3,
        "srh_rate_cm3_s": obs.srh_rate_m3_s * M3_TO_CM3,
        "auger_rate_cm3_s": obs.auger_rate_m3_s * M3_TO_CM3,
        "interface_recombination_rate_cm2_s": obs.interface_rate_m2_s * CM2_PER_M2,
        "electron_current_mA_cm2": obs.electron_current_A_m2 * A_M2_TO_MA_CM2,
        "hole_current_mA_cm2": obs.hole_current_A_m2 * A_M2_TO_MA_CM2,
        "recombination_width_nm": obs.recombination_width_m * 1e9,
        # nanocrystal films: (n + p) L^3 / phi, and the share of excitons not lost to
        # per-crystal Auger (0 and 1 outside a film; peled.model.emitter.excitonic)
        "carriers_per_crystal": obs.carriers_per_crystal,
        "auger_survival": obs.auger_survival,
    }
    # a non-converged bias carries no profile either (NaN rows, never stale numbers)
    profiles = {k: val * nan[:, None] for k, val in profiles.items()}
    return SimulationResult(
        device=device,
        voltage_V=v,
        converged=conv,
        iterations=np.asarray(states.iterations),
        residual_norm=np.asarray(states.residual_norm),
        current_density_mA_cm2=j_a_m2 * A_M2_TO_MA_CM2,
        current_spread=obs.current_spread * nan,
        current_floor_mA_cm2=floor_a_m2 * A_M2_TO_MA_CM2,
        radiative_current_mA_cm2=obs.radiative_current_A_m2 * A_M2_TO_MA_CM2 * nan,
        recombination_current_mA_cm2=obs.recombination_current_A_m2 * A_M2_TO_MA_CM2 * nan,
        outcoupled_photon_flux_m2_s=phi_out,
        luminance_cd_m2=lum,
        eqe_percent=eqe,
        current_efficiency_cd_A=ce,
        power_efficiency_lm_W=pe,
        outcoupling=float(eta_out),
        outcoupling_model=model,
        effective_outcoupling=effective,
        optics=optics,
        photon_rate_m2_s=obs.photon_rate_m2_s * nan[:, None],
        spectrum=spec,
        position_nm=x_nm,
        node_layer=np.asarray(arrays.node_layer),
        profiles=profiles,
        emitter_electron_current_mA_cm2=None
        if balance is None
        else balance[0] * A_M2_TO_MA_CM2 * nan,
        emitter_hole_current_mA_cm2=None if balance is None else balance[1] * A_M2_TO_MA_CM2 * nan,
        electron_hole_current_ratio=None if balance is None else balance[2] * nan,
        charge_balance_factor=None if balance is None else balance[3] * nan,
        emitter_electron_hole_sheet_density_ratio=None if balance is None else balance[4] * nan,
        emitter_recombination_fraction=None if balance is None else balance[5] * nan,
        radiative_weight=eta,
        result_code=code,
        layer_recombination_current_mA_cm2=obs.layer_recombination_current_A_m2
        * A_M2_TO_MA_CM2
        * nan[:, None],
        interface_recombination_current_mA_cm2=obs.interface_recombination_current_A_m2
        * A_M2_TO_MA_CM2
        * nan[:, None],
        electron_leakage_mA_cm2=obs.electron_leakage_A_m2 * A_M2_TO_MA_CM2 * nan,
        hole_leakage_mA_cm2=obs.hole_leakage_A_m2 * A_M2_TO_MA_CM2 * nan,
    )
