"""Gradient-based device design: maximise an objective over bounded parameters.

The objective (``peled.objectives``) is a differentiable function of the design
variables through the implicit steady-state gradients; the optimizer is SciPy's
L-BFGS-B (bounded quasi-Newton; Byrd, Lu, Nocedal & Zhu, SIAM J. Sci. Comput. 16, 1190
(1995)) on JAX gradients.

Variables: each parameter's optimizer variable z (the value, or log10 of it for
quantities spanning decades, see ``peled.design``) is mapped linearly onto s in [0, 1]
by its bounds, s = (z - z_lo) / (z_hi - z_lo), so every variable has the same scale.
The minimised loss is -sum_i w_i ln(objective_i).

A sweep that does not converge at some bias makes the objective and its gradient NaN;
the optimizer is then handed a loss worse than every finite one seen so far (best +
``FAILED_PENALTY`` (1 + |best|)) with a zero gradient, which makes its line search step
back, and the evaluation is flagged (``all_converged``, ``objective_finite``) in the
history (never a silently used number). A start point that fails is an error. An
objective of 0 (a dark device: ln 0) counts as a failure in the same way, and so does a
NaN gradient from a bias accepted by a relaxed convergence rule that
``DesignProblem.allow_nonstrict`` does not allow (``peled.objectives``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import minimize

from peled.core.newton import SolverSettings, solve_sweep
from peled.core.params import MeshSpec
from peled.design import (
    Parameter,
    apply_parameters,
    check_band_gaps,
    check_parameters,
    check_value,
    current_value,
    resolve_parameter,
    updated_device_mapping,
)
from peled.device import Device, device_from_mapping, device_to_mapping
from peled.errors import PeledInputError
from peled.objectives import Objective, combined_log_objective, figures_from_states
from peled.optics.coupling import node_outcoupling
from peled.photometry import spectrum_metrics
from peled.simulate import default_outcoupling, radiative_weight_inputs

FAILED_PENALTY = 1.0e3  # relative loss penalty of a failed evaluation [-]


def parse_bounds(text: str, where: str = "--vary") -> tuple[str, float, float]:
    """``NAME=LOW:HIGH`` (user units of the quantity) -> (name, low, high)."""
    name, sep, rng = text.partition("=")
    lo_s, sep2, hi_s = rng.partition(":")
    if not sep or not sep2:
        raise PeledInputError(
            f"{where}: {text!r} must look like NAME=LOW:HIGH, e.g. 1.thickness_nm=10:60"
        )
    try:
        lo, hi = float(lo_s), float(hi_s)
    except ValueError:
        raise PeledInputError(f"{where}: bounds of {name!r} must be numbers, got {rng!r}") from None
    return name.strip(), lo, hi


@dataclass
class DesignProblem:
    """Objective(s), design parameters with bounds, and the sweep that evaluates them.

    ``vary`` maps parameter names (``peled.design``) to (low, high) bounds in the
    quantity's user units; ``voltages_V`` is the bias grid [V] every evaluation solves.
    ``allow_nonstrict``: the convergence rules besides the strict test whose biases still
    give implicit gradients (:func:`peled.objectives.implicit_gradient_allowed`; others
    give NaN, a failed evaluation). Default: the floor rule, a residual stalled at
    round-off below ``floor_rtol`` with psi settled, as the bright biases of the red
    example on 16 nodes per layer are accepted (relative residuals 1-3e-10 against the
    strict 1e-10; their gradients match central differences to 1e-4, test_gradients.py).
    """

    device: Device
    vary: Mapping[str, tuple[float, float]]
    objectives: Sequence[Objective]
    voltages_V: np.ndarray
    mesh: MeshSpec = field(default_factory=MeshSpec)
    settings: SolverSettings = field(default_factory=SolverSettings)
    base_mapping: Mapping[str, Any] | None = None
    allow_nonstrict: bool | tuple[str, ...] = ("floor",)

    def __post_init__(self) -> None:
        if not self.vary:
            raise PeledInputError("optimize: give at least one parameter to vary")
        if not self.objectives:
            raise PeledInputError("optimize: give at least one objective")
        if not self.device.emitter_indices:
            raise PeledInputError(f"{self.device.name}: the device has no emitting layer")
        self.params: list[Parameter] = [resolve_parameter(n, self.device) for n in self.vary]
        check_parameters(self.params, self.device)
        eta_out = self.device.outcoupling
        self.outcoupling0 = eta_out if eta_out is not None else default_outcoupling(self.device)
        # the dipole optics: per-node outcoupling recomputed from the traced thicknesses
        # at every evaluation, so the gradients run through the optics
        self.dipole = self.device.optics == "dipole" and eta_out is None
        if self.dipole and any(p.name == "device.outcoupling" for p in self.params):
            raise PeledInputError(
                "optimize: device.outcoupling cannot vary on a device with optics: dipole "
                "(its outcoupling is computed); set a constant 'outcoupling' to vary it"
            )
        zl, zh = [], []
        for p in self.params:
            lo, hi = self.vary[p.name]
            check_value(p, lo, f"bounds of {p.name}")
            check_value(p, hi, f"bounds of {p.name}")
            if not lo < hi:
                raise PeledInputError(f"bounds of {p.name}: need LOW < HIGH, got {lo}:{hi}")
            zl.append(p.to_variable(lo))
            zh.append(p.to_variable(hi))
        self.z_lo, self.z_hi = np.asarray(zl), np.asarray(zh)
        check_band_gaps(self.params, self.device, self.vary)
        self.voltages_V = np.asarray(self.voltages_V, np.float64)
        m = self.device.layers[self.device.emitter_indices[0]].material
        self.lumens_per_photon = spectrum_metrics(
            float(m.emission_peak_nm), float(m.emission_fwhm_nm)
        ).lumens_per_photon_per_s
        with jax.enable_x64(True):
            self._arrays = self.device.to_arrays(self.mesh)
            self._weights = radiative_weight_inputs(self.device)
        self._arrays_at = jax.jit(self._arrays_for)
        self._vg = jax.jit(jax.value_and_grad(self._log_objective, has_aux=True))

    # -- maps between user values, optimizer variables z and unit-box variables s --
    def initial_values(self) -> np.ndarray:
        """The device's own values, clipped into the bounds [user units]."""
        vals = [current_value(p, self.device, self.outcoupling0) for p in self.params]
        lo = [self.vary[p.name][0] for p in self.params]
        hi = [self.vary[p.name][1] for p in self.params]
        return np.clip(np.asarray(vals, np.float64), lo, hi)

    def to_unit(self, values: Sequence[float]) -> np.ndarray:
        z = np.asarray([p.to_variable(v) for p, v in zip(self.params, values, strict=True)])
        return (z - self.z_lo) / (self.z_hi - self.z_lo)

    def from_unit(self, s: np.ndarray) -> np.ndarray:
        z = self.z_lo + np.asarray(s) * (self.z_hi - self.z_lo)
        return np.asarray([float(p.to_value(zi)) for p, zi in zip(self.params, z, strict=True)])

    def _arrays_for(self, s: jax.Array):
        z = jnp.asarray(self.z_lo) + s * jnp.asarray(self.z_hi - self.z_lo)
        vals = [p.to_value(z[i]) for i, p in enumerate(self.params)]
        return apply_parameters(self._arrays, self.outcoupling0, self.params, vals)

    def _log_objective(
        self, s: jax.Array, u: jax.Array, converged: jax.Array, result_code: jax.Array
    ):
        # the states come from the shared compiled sweep (see evaluate); only the
        # implicit-gradient attachment and the observables are traced here
        arrays, eta_out = self._arrays_for(s)
        if self.dipole:
            eta_out = node_outcoupling(self.device, arrays)
        fig = figures_from_states(
            arrays,
            jnp.asarray(self.voltages_V),
            u,
            converged,
            self._weights,
            eta_out,
            self.lumens_per_photon,
            result_code=result_code,
            allow_nonstrict=self.allow_nonstrict,
        )
        total, parts = combined_log_objective(self.objectives, fig)
        return total, (parts, fig.all_converged)

    def evaluate(self, values: Sequence[float]) -> dict[str, Any]:
        """Objective and gradient at ``values`` [user units].

        Returns log_objective (sum w ln f), gradient_unit (d log_objective / d s, the
        unit-box variables), the value and reached flag of each objective, and
        all_converged.
        """
        with jax.enable_x64(True):
            s = jnp.asarray(self.to_unit(values), jnp.float64)
            arrays, _ = self._arrays_at(s)
            # forward: the module-level compiled sweep, shared by every problem, simulate()
            # and sweep with the same mesh shape, so a new problem compiles only the
            # (small) gradient program below
            states = solve_sweep(arrays, jnp.asarray(self.voltages_V), self.settings)
            (val, (parts, ok)), g = self._vg(s, states.u, states.converged, states.result_code)
        return {
            "log_objective": float(val),
            "gradient_unit": np.asarray(g, np.float64),
            "parts": {k: (float(v), bool(r)) for k, (v, r) in parts.items()},
            "all_converged": bool(ok),
        }


class OptimizationError(RuntimeError):
    """An optimization that cannot start or produced no usable evaluation."""


@dataclass(frozen=True)
class OptimizationResult:
    """What an optimization did: start, best point, history (one row per evaluation)."""

    problem: DesignProblem
    initial_values: np.ndarray
    best_values: np.ndarray
    initial_log_objective: float
    best_log_objective: float
    history: Any  # pandas.DataFrame
    iterations: int
    evaluations: int
    message: str
    wall_s: float
    initial_parts: dict[str, Any] = field(default_factory=dict)
    best_parts: dict[str, Any] = field(default_factory=dict)

    def parameter_table(self) -> list[dict[str, Any]]:
        return [
            {"parameter": p.name, "initial": float(a), "optimized": float(b)}
            for p, a, b in zip(
                self.problem.params, self.initial_values, self.best_values, strict=True
            )
        ]

    def optimized_mapping(self) -> dict[str, Any]:
        """Device-file mapping of the optimized design (reloads with device_from_mapping)."""
        base = self.problem.base_mapping or device_to_mapping(self.problem.device)
        out = updated_device_mapping(
            base, self.problem.device, self.problem.params, self.best_values
        )
        changes = ", ".join(
            f"{p.name}={v:.6g}" for p, v in zip(self.problem.params, self.best_values, strict=True)
        )
        out["description"] = (
            f"{out.get('description', '')} [optimized by peled optimize: {changes}]"
        ).strip()
        return out

    def optimized_device(self) -> Device:
        return device_from_mapping(self.optimized_mapping(), "<optimized device>")


def optimize(
    problem: DesignProblem,
    max_iterations: int = 30,
    progress: bool = False,
    tolerance: float = 1e-6,
    on_iteration: Callable[[int, float, np.ndarray], None] | None = None,
) -> OptimizationResult:
    """Maximise the problem's objective with L-BFGS-B from the device's own values.

    ``tolerance``: relative change of the loss that stops L-BFGS-B (its ``ftol``) and the
    projected-gradient norm in unit-box variables (its ``gtol``).
    """
    import pandas as pd

    rows: list[dict[str, Any]] = []
    names = [p.name for p in problem.params]
    state = {"iteration": 0}
    x0 = problem.initial_values()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=max_iterations, desc="optimize", unit="it", leave=False)
    t0 = time.perf_counter()

    best_loss = {"value": math.inf}

    def fun(s: np.ndarray) -> tuple[float, np.ndarray]:
        values = problem.from_unit(np.clip(s, 0.0, 1.0))
        ev = problem.evaluate(values)
        g = ev["gradient_unit"]
        finite = math.isfinite(ev["log_objective"]) and bool(np.all(np.isfinite(g)))
        ok = ev["all_converged"] and finite
        row: dict[str, Any] = {
            "evaluation": len(rows),
            "iteration": state["iteration"],
            "log_objective": ev["log_objective"],
            "gradient_norm": float(np.linalg.norm(g)) if ok else float("nan"),
            "all_converged": ev["all_converged"],
            "objective_finite": finite,
            "wall_s": time.perf_counter() - t0,
        }
        for label, (val, reached) in ev["parts"].items():
            row[label] = val
            row[f"{label}_reached"] = reached
        for name, val in zip(names, values, strict=True):
            row[name] = float(val)
        rows.append(row)
        if not ok:
            if not rows[:-1]:
                if not ev["all_converged"]:
                    why = "did not converge at every bias"
                elif math.isfinite(ev["log_objective"]):
                    why = (
                        "has a NaN gradient (a bias it depends on was accepted by a "
                        "convergence rule that gives no implicit gradient, see "
                        "DesignProblem.allow_nonstrict)"
                    )
                else:
                    why = (
                        f"gives a non-finite objective ({ev['log_objective']}; a dark device "
                        "has ln 0)"
                    )
                raise OptimizationError(
                    f"optimize: the start point {dict(zip(names, values, strict=True))} {why}"
                )
            b = best_loss["value"]
            return b + FAILED_PENALTY * (1.0 + abs(b)), np.zeros_like(s)
        loss = -ev["log_objective"]
        best_loss["value"] = min(best_loss["value"], loss)
        return loss, -g

    def callback(intermediate_result) -> None:
        state["iteration"] += 1
        loss = float(intermediate_result.fun)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(objective=f"{-loss:.5g}")
        if on_iteration is not None:
            on_iteration(state["iteration"], -loss, problem.from_unit(intermediate_result.x))

    try:
        res = minimize(
            fun,
            problem.to_unit(x0),
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, 1.0)] * len(names),
            callback=callback,
            options={"maxiter": max_iterations, "ftol": tolerance, "gtol": tolerance},
        )
    finally:
        if bar is not None:
            bar.close()
    hist = pd.DataFrame(rows)
    good = hist[hist["all_converged"] & hist["objective_finite"]]
    reached_cols = [c for c in hist.columns if c.endswith("_reached")]
    if reached_cols:
        # prefer designs that reach every operating point they are judged at
        full = good[good[reached_cols].all(axis=1)]
        good = full if not full.empty else good
    if good.empty:
        raise OptimizationError(
            f"optimize: no evaluation converged at every bias ({len(rows)} tried); "
            "check the device and the bias range"
        )
    best = good.loc[good["log_objective"].idxmax()]
    first = hist.iloc[0]
    return OptimizationResult(
        problem=problem,
        initial_values=x0,
        best_values=np.asarray([float(best[n]) for n in names]),
        initial_log_objective=float(first["log_objective"]),
        best_log_objective=float(best["log_objective"]),
        history=hist,
        iterations=int(res.nit),
        evaluations=len(rows),
        message=str(res.message),
        wall_s=time.perf_counter() - t0,
        initial_parts=_parts(first, problem),
        best_parts=_parts(best, problem),
    )


def _parts(row, problem: DesignProblem) -> dict[str, Any]:
    """Each objective's value and whether its operating point was reached, of one row."""
    return {
        o.label(): {"value": float(row[o.label()]), "reached": bool(row[f"{o.label()}_reached"])}
        for o in problem.objectives
    }
