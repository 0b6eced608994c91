"""Differentiable J-V-L figures and design objectives.

:func:`differentiable_sweep` solves a sweep (forward: the compiled Newton continuation on
``stop_gradient`` of the arrays), then re-attaches every converged state to the device
arrays through :func:`peled.core.implicit.steady_state`, so the per-bias current,
luminance and EQE are differentiable functions of every number in the arrays (implicit
function theorem; Newton is never differentiated). A non-converged bias makes its
figures NaN *multiplicatively*, so the value and every gradient that depends on it are
NaN (never a silently wrong number), and ``all_converged`` says so. A bias that converged
but not by the strict test (its result code, :class:`peled.core.newton.SweepStates`, is
not "strict" acceptance: a floor rule, a deflated step or the dilute-carrier control
accepted it) keeps its value but gets a NaN gradient: the implicit function theorem
needs F(u*) = 0, and those rules accept states whose residual or near-null modes are
not resolved. ``allow_nonstrict=True`` returns their implicit gradients anyway, a tuple
of acceptance names (e.g. ``("floor",)``) those of the rules named
(:func:`implicit_gradient_allowed`).

Objectives are figures to maximise. Each returns (value, reached): ``reached`` is False
when the sweep did not get to the requested operating point; the value is then a
documented continuous extension (below) so that an optimizer can still move back.

* ``eqe_max``                     max of EQE [%] over the trusted biases (|J| above its
  round-off floor and, where result codes are given, accepted by the strict test: the
  biases of summary.json's ``eqe_max_percent``, docs/decisions/0017); no trusted bias:
  the max over every bias, not reached
* ``eqe_at_luminance``            EQE [%] where L first reaches ``luminance_cd_m2``
  (linear in log10 L between the bracketing biases); not reached: EQE at the bias of
  largest L times L_max / L_target
* ``luminance_at_voltage``        L [cd/m^2] at ``voltage_V`` (linear in V between
  biases, in log10 L)
* ``eqe_at_voltage``              EQE [%] at ``voltage_V`` (linear in V between biases)
* ``rolloff``                     EQE(J_high) / EQE_max [-] at ``current_density_mA_cm2``
  (linear in log10 J); not reached: EQE at the largest current times J_max / J_high,
  over EQE_max (so a design is pushed towards reaching J_high); EQE_max as in ``eqe_max``

EQE is 0 (not NaN) at biases with J <= 0 here, so that max and interpolation stay
defined at V = 0; ``peled.simulate`` reports NaN there instead (no efficiency without
current). Both agree wherever J > 0.
* weighted combinations: sum_i w_i ln(objective_i) (scale-free, so weights are relative
  importances; a weight of 1 on a single objective is the same optimum as the objective)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from scipy import constants

from peled.core.implicit import steady_state
from peled.core.newton import (
    ACCEPT_FAILED,
    ACCEPT_STRICT,
    ACCEPTANCE_CODES,
    RESULT_STRICT,
    ROUTE_STRIDE,
    SolverSettings,
    solve_sweep,
)
from peled.core.observables import bias_observables, node_radiative_weight
from peled.core.params import DeviceArrays
from peled.errors import PeledInputError

A_M2_TO_MA_CM2 = 0.1


class SweepFigures(NamedTuple):
    """Per-bias figures of a differentiable sweep (JAX arrays, shape (n_bias,))."""

    voltage_V: jax.Array
    current_density_mA_cm2: jax.Array
    luminance_cd_m2: jax.Array
    eqe_percent: jax.Array
    converged: jax.Array
    all_converged: jax.Array
    # converged, |J| above its round-off floor and (with result codes) strictly accepted;
    # None: every converged bias (the caller vouches for them)
    trusted: jax.Array | None = None


def differentiable_sweep(
    arrays: DeviceArrays,
    voltages_V: jax.Array,
    weight_inputs: tuple[jax.Array, ...],
    outcoupling,
    lumens_per_photon_per_s: float,
    settings: SolverSettings | None = None,
    allow_nonstrict: bool | Collection[str] = False,
) -> SweepFigures:
    """J [mA/cm^2], L [cd/m^2] and EQE [%] per bias, differentiable in arrays/outcoupling.

    The forward solve runs on ``stop_gradient(arrays)``; see :func:`figures_from_states`
    (its ``result_code`` is the sweep's, so a bias not accepted by the strict test has a
    NaN gradient unless ``allow_nonstrict``).
    """
    voltages_V = jnp.asarray(voltages_V, jnp.float64)
    states = solve_sweep(jax.lax.stop_gradient(arrays), voltages_V, settings or SolverSettings())
    return figures_from_states(
        arrays,
        voltages_V,
        states.u,
        states.converged,
        weight_inputs,
        outcoupling,
        lumens_per_photon_per_s,
        result_code=states.result_code,
        allow_nonstrict=allow_nonstrict,
    )


def implicit_gradient_allowed(result_code, allow_nonstrict: bool | Collection[str] = False):
    """Per bias: whether :func:`figures_from_states` reports implicit gradients there,
    from the sweep's result codes (:class:`peled.core.newton.SweepStates`).

    Default: only where the acceptance is "strict" (the residual and update tests, on
    any pass of the sweep). ``allow_nonstrict=True``: wherever converged; a collection of
    acceptance names (``peled.core.newton.ACCEPTANCE_CODES``: "floor",
    "physically_resolved", "deflated", "dilute"): "strict" and those.
    """
    code = jnp.asarray(result_code)
    if isinstance(allow_nonstrict, bool):
        names: tuple[str, ...] = tuple(ACCEPTANCE_CODES.values()) if allow_nonstrict else ()
    else:
        names = tuple(allow_nonstrict)
    by_name = {v: k for k, v in ACCEPTANCE_CODES.items() if k != ACCEPT_FAILED}
    unknown = sorted(set(names) - set(by_name))
    if unknown:
        raise PeledInputError(
            f"allow_nonstrict: unknown acceptance rule(s) {unknown}; allowed: {sorted(by_name)}"
        )
    acceptance = code % ROUTE_STRIDE
    ok = acceptance == ACCEPT_STRICT
    for name in names:
        ok = ok | (acceptance == by_name[name])
    return (code >= 0) & ok


@jax.custom_vjp
def _nan_cotangent_where(u: jax.Array, bad: jax.Array) -> jax.Array:
    """``u`` (n_bias, ...) unchanged; in reverse mode its cotangent becomes NaN at the biases
    where ``bad`` (n_bias,) is true and the cotangent is non-zero (a figure that does not
    depend on such a bias keeps its gradient)."""
    return u


def _nan_cotangent_fwd(u, bad):
    return u, bad


def _nan_cotangent_bwd(bad, g):
    b = bad.reshape(bad.shape + (1,) * (g.ndim - bad.ndim))
    return jnp.where(b & (g != 0), jnp.nan, g), None


_nan_cotangent_where.defvjp(_nan_cotangent_fwd, _nan_cotangent_bwd)


def figures_from_states(
    arrays: DeviceArrays,
    voltages_V: jax.Array,
    u: jax.Array,
    converged: jax.Array,
    weight_inputs: tuple[jax.Array, ...],
    outcoupling,
    lumens_per_photon_per_s: float,
    result_code: jax.Array | None = None,
    allow_nonstrict: bool | Collection[str] = False,
) -> SweepFigures:
    """Figures of solved states ``u`` (n_bias, N, 3), attached to ``arrays`` implicitly.

    ``outcoupling``: the constant eta_out, or the pair (g, fwd) of per-node factors of the
    dipole optics (photons to air, forward lumens per sr per emitted photon/s; then
    Phi_out = sum_nodes Phi_node g and L = sum_nodes Phi_node fwd).

    L = eta_out Phi_int K / pi  (Lambertian; K = lumens per photon/s of the spectrum),
    EQE = 100 q eta_out Phi_int / J, with Phi_int = sum_nodes vol eta(x) R_rad and eta(x)
    the photon yield per radiative event (film PLQY times interface-quenching survival;
    ``weight_inputs`` from :func:`peled.simulate.radiative_weight_inputs`). Biases with
    ``converged`` False give NaN values and NaN gradients.

    ``result_code`` (n_bias,), the sweep's (:class:`peled.core.newton.SweepStates`):
    converged biases not accepted by the strict test keep their values, but every
    gradient that depends on them is NaN, unless ``allow_nonstrict`` allows their rule
    (:func:`implicit_gradient_allowed`). Without ``result_code`` every converged bias is
    taken as strictly converged (the caller vouches for it).
    """
    u = jax.vmap(steady_state, in_axes=(0, None, 0))(u, arrays, voltages_V)
    if result_code is not None and allow_nonstrict is not True:
        allowed = implicit_gradient_allowed(result_code, allow_nonstrict)
        u = _nan_cotangent_where(u, jnp.asarray(converged) & ~allowed)
    # photon yield per radiative event per node (PLQY x interface-quenching survival),
    # recomputed from the arrays so that thickness changes move it with the mesh
    eta = node_radiative_weight(arrays, *weight_inputs)
    obs = jax.vmap(bias_observables, in_axes=(0, None, None))(u, arrays, eta)
    # NaN * anything = NaN in the value and in every derivative of it
    poison = jnp.where(converged, 1.0, jnp.nan)
    j = obs.current_density_A_m2 * poison
    if isinstance(outcoupling, tuple):
        # the dipole optics (peled.optics.coupling.node_outcoupling): photons to air and
        # forward lumens per sr, per node, per photon the film emits there
        g, fwd = outcoupling
        phi_out = (obs.photon_rate_m2_s @ g) * poison
        lum = (obs.photon_rate_m2_s @ fwd) * poison
    else:
        phi_out = outcoupling * obs.internal_photon_flux_m2_s * poison
        lum = phi_out * lumens_per_photon_per_s / math.pi
    safe_j = jnp.where(j > 0, j, 1.0)
    eqe = jnp.where(j > 0, 100.0 * constants.e * phi_out / safe_j, 0.0 * phi_out)
    # the biases whose figures can be quoted (peled.result.SimulationResult.trusted): a
    # J below its float64 floor makes EQE = photons / J round-off
    trusted = jnp.asarray(converged) & (jnp.abs(obs.current_density_A_m2) > obs.current_floor_A_m2)
    if result_code is not None:
        trusted = trusted & (jnp.asarray(result_code) == RESULT_STRICT)
    return SweepFigures(
        voltages_V, j * A_M2_TO_MA_CM2, lum, eqe, converged, jnp.all(converged), trusted
    )


def trusted_eqe_max(fig: SweepFigures) -> tuple[jax.Array, jax.Array]:
    """(EQE_max [%] over the trusted biases, whether any bias is trusted); with none, the
    max over every bias (a continuous extension, flagged not reached)."""
    if fig.trusted is None:
        return jnp.max(fig.eqe_percent), jnp.asarray(True)
    any_trusted = jnp.any(fig.trusted)
    # EQE >= 0 here, so 0 at the other biases never wins against a trusted one
    over_trusted = jnp.max(jnp.where(fig.trusted, fig.eqe_percent, 0.0))
    return jnp.where(any_trusted, over_trusted, jnp.max(fig.eqe_percent)), any_trusted


def _log10_pos(x):
    """log10 of x where positive, -inf-free (-400) elsewhere, gradient-safe."""
    pos = x > 0
    return jnp.where(pos, jnp.log10(jnp.where(pos, x, 1.0)), -400.0)


def first_crossing_value(xs, ys, target, log_x: bool):
    """y where x first reaches ``target`` (linear in x or log10 x), and whether it does.

    Not reached (the largest x stays below the target): y at the largest x, times
    (largest x / target) when ``log_x``. A target below the first x gives y at the first
    x with ``reached`` False.
    """
    fx = _log10_pos(xs) if log_x else xs
    ft = jnp.log10(target) if log_x else target
    above = fx >= ft
    i = jnp.argmax(above)
    crossed = jnp.any(above)
    # a target below the first grid point is not "reached" (the sweep starts past it):
    # the value is y at the first point, flagged; only an exact hit of x[0] counts
    reached = crossed & ((i > 0) | (fx[0] == ft))
    i0 = jnp.maximum(i - 1, 0)
    denom = fx[i] - fx[i0]
    t = jnp.where(i > 0, (ft - fx[i0]) / jnp.where(denom != 0, denom, 1.0), 1.0)
    inside = ys[i0] + t * (ys[i] - ys[i0])
    k = jnp.argmax(jnp.where(jnp.isfinite(fx), fx, -jnp.inf))
    short = ys[k] * (xs[k] / target) if log_x else ys[k]
    return jnp.where(crossed, inside, short), reached


@dataclass(frozen=True)
class Objective:
    """One figure to maximise: ``kind`` and its operating-point options (units in keys)."""

    kind: str
    options: Mapping[str, float] = field(default_factory=dict)
    weight: float = 1.0

    def label(self) -> str:
        opts = ",".join(f"{k}={v:g}" for k, v in self.options.items())
        return f"{self.kind}({opts})" if opts else self.kind


OBJECTIVE_OPTIONS: dict[str, tuple[str, ...]] = {
    "eqe_max": (),
    "eqe_at_luminance": ("luminance_cd_m2",),
    "luminance_at_voltage": ("voltage_V",),
    "eqe_at_voltage": ("voltage_V",),
    "rolloff": ("current_density_mA_cm2",),
}


def parse_objective(text: str, where: str = "objective") -> Objective:
    """Parse ``kind[:key=value,...][*weight]``, e.g. ``eqe_at_luminance:luminance_cd_m2=1000``."""
    weight = 1.0
    if "*" in text:
        text, w = text.rsplit("*", 1)
        try:
            weight = float(w)
        except ValueError:
            raise PeledInputError(f"{where}: weight {w!r} is not a number") from None
    kind, _, rest = text.partition(":")
    kind = kind.strip()
    if kind not in OBJECTIVE_OPTIONS:
        raise PeledInputError(
            f"{where}: unknown objective {kind!r}; allowed: {sorted(OBJECTIVE_OPTIONS)}"
        )
    opts: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, _, val = item.partition("=")
        if key not in OBJECTIVE_OPTIONS[kind]:
            raise PeledInputError(
                f"{where}: option {key!r} not known for {kind}; allowed: "
                f"{list(OBJECTIVE_OPTIONS[kind])}"
            )
        try:
            opts[key] = float(val)
        except ValueError:
            raise PeledInputError(f"{where}: {key} = {val!r} is not a number") from None
        if not opts[key] > 0 and key != "voltage_V":
            raise PeledInputError(f"{where}: {key} must be > 0, got {opts[key]}")
    missing = [k for k in OBJECTIVE_OPTIONS[kind] if k not in opts]
    if missing:
        raise PeledInputError(f"{where}: {kind} needs {missing} (e.g. {kind}:{missing[0]}=...)")
    if not (weight > 0 and math.isfinite(weight)):
        raise PeledInputError(f"{where}: weight must be finite and > 0, got {weight}")
    return Objective(kind, opts, weight)


def objective_value(obj: Objective, fig: SweepFigures) -> tuple[jax.Array, jax.Array]:
    """(value, reached) of one objective on a differentiable sweep."""
    o = obj.options
    if obj.kind == "eqe_max":
        return trusted_eqe_max(fig)
    if obj.kind == "eqe_at_luminance":
        return first_crossing_value(
            fig.luminance_cd_m2, fig.eqe_percent, o["luminance_cd_m2"], log_x=True
        )
    if obj.kind == "luminance_at_voltage":
        logl, ok = first_crossing_value(
            fig.voltage_V, _log10_pos(fig.luminance_cd_m2), o["voltage_V"], log_x=False
        )
        return 10.0**logl, ok
    if obj.kind == "eqe_at_voltage":
        return first_crossing_value(fig.voltage_V, fig.eqe_percent, o["voltage_V"], log_x=False)
    if obj.kind == "rolloff":
        eqe_hi, ok = first_crossing_value(
            fig.current_density_mA_cm2, fig.eqe_percent, o["current_density_mA_cm2"], log_x=True
        )
        eqe_max, any_trusted = trusted_eqe_max(fig)
        return eqe_hi / eqe_max, ok & any_trusted
    raise PeledInputError(f"unknown objective {obj.kind!r}")


def combined_log_objective(
    objectives: Sequence[Objective], fig: SweepFigures
) -> tuple[jax.Array, dict[str, Any]]:
    """sum_i w_i ln(value_i) and the per-objective (value, reached) for reporting."""
    # a sweep with any non-converged bias has no value (NaN), whatever the objective reads
    total = jnp.where(fig.all_converged, 0.0, jnp.nan)
    parts: dict[str, Any] = {}
    for obj in objectives:
        val, ok = objective_value(obj, fig)
        parts[obj.label()] = (val, ok)
        total = total + obj.weight * jnp.log(val)
    return total, parts
