"""Solver settings (:class:`SolverSettings`) and the result codes that say how each bias
point was accepted (:data:`RESULT_CODES`).

Numeric settings are traced values of the compiled sweep (changing a tolerance does not
recompile); only :data:`STRUCTURE_FIELDS` shape the program.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class SolverSettings:
    """Newton and continuation settings: a pytree whose numbers are traced.

    The tolerances, step limits and iteration counts are the pytree's leaves, so a sweep
    compiled once serves every value of them; the switches that decide which passes and
    steps exist (``predictor``, ``predictor_retry``, ``near_null_deflation``,
    ``alternate_order_pass``, ``backward_fill``) are its
    static structure, and changing one compiles anew (:data:`STRUCTURE_FIELDS`). The
    object is hashable as well, for the callers that key caches on it.

    A point is accepted by the strict test (``residual_rtol`` and the two update
    tolerances), by one of the floor rules (``floor_rtol`` ...), or on a revisiting pass
    with deflated steps or dilute carriers judged on an absolute scale; which rule and
    which pass accepted each bias is reported as its result code
    (:class:`SweepStates` ``.result_code``, :data:`RESULT_CODES`).

    residual_rtol: converged when max_i |F_i| / (sum of |terms| in row i) is below this [-]
    potential_update_atol: ...and the largest psi update is below this [V_t]
    quasi_fermi_update_atol: ...and the largest phi_n, phi_p update is below this [V_t]
        (looser: in a layer that is nearly isolated by barriers, round-off moves the
        quasi-Fermi level by ~1e-6 V_t per iteration without changing any density
        noticeably)
    max_iterations: Newton iterations per attempt
    max_potential_step: damping limit on psi updates [V_t]
    max_quasi_fermi_step: clip on individual quasi-Fermi updates [V_t]
    max_halvings: consecutive continuation step halvings before a bias point is declared
        failed
    max_substeps: continuation sub-steps allowed per target bias
    predictor: start each continuation step from the tangent du/dV's prediction (else
        from the last converged state itself)
    predictor_retry: retry a failed step once from the other start before halving it
        (docs/numerics/continuation.md: with the predictor, a MoO3 / PTAA / CsPbBrI-NC /
        BCP / Mg:Ag stack converges everywhere with the retry and fails 20 biases without)
    near_null_deflation: when the line search cuts a Newton step below 1/16, also try the
        step with the Jacobian's near-null direction projected out, and take it if it
        lowers the merit tenfold and more than the cut step; a solve that took one may
        then finish by the residual test only. Used only where the sweep revisits failed
        points (the deflated and dilute attempts of the alternate pass, and the backward
        fill), so points that converge without it keep their states
        (docs/numerics/newton.md, "Near-null deflation")
    dilute_density_cm3: reference density n_ref [cm^-3] of the absolute error control
        used in the last attempt of the alternate pass (points still failed after the
        deflated attempt; see ``alternate_order_pass``). There a carrier's continuity row
        is judged relative to its terms times 1 + n_ref / c (c the largest density of
        that carrier on the row's three nodes) and its quasi-Fermi update weighted by
        c / (c + n_ref), i.e. as the density error dc / (c + n_ref): rows of carriers
        far below n_ref, whose quasi-Fermi levels float along near-null modes, no
        longer hold up the solve; a Poisson row within the round-off of its terms
        (:func:`poisson_round_off`) counts as converged too. A point accepted so must
        carry a current continuous to ``physical_rtol`` or its round-off floor. 0 turns
        it off. 1e10 cm^-3 is the absolute density error DEVSIM's examples use
        (docs/numerics/newton.md, "Dilute carriers on an absolute scale")
    alternate_order_pass: after the forward sweep, if it failed a point, run forward again
        from the last converged state before the first failure with the other start
        order (see ``predictor``), then, if points are still failed, once more from the
        first of them in the usual order with deflated Newton steps allowed, and, if
        points are still failed, a third time with the dilute-carrier error control on
        as well (``dilute_density_cm3``), keeping only successes
        (docs/numerics/continuation.md, "Passes over failed points")
    backward_fill: after the forward sweep, approach each failed bias whose next bias
        converged once more, downward from that bias's state
        (docs/numerics/continuation.md, "Passes over failed points")
    quasi_fermi_margin: slack of the projection of phi onto the interval from min(0, V)
        to max(0, V) [V_t]
    line_search_steps: halvings of the Newton step tried by the line search
    floor_rtol, floor_update_atol: a point whose residual stops falling (less than a
        factor 2 per iteration) while below floor_rtol with psi updates below
        floor_update_atol [V_t] has reached its floor and is accepted. The quasi-Fermi
        updates are not required to be small there: in a layer isolated by barriers of
        ~1 eV (condition numbers beyond 1e15) the quasi-Fermi level of the trapped
        carrier is not determined better than round-off allows and keeps jittering
        inside [0, V] without changing any residual
    physical_rtol, charge_rtol: the second way to reach the floor. At a stalled residual
        below floor_rtol, the point is also accepted when the full Newton correction
        changes no physical quantity beyond tolerance, even if it still moves potentials:
        every edge flux, and the summed recombination, by less than physical_rtol of the
        device current or than the round-off floor of the current (one ulp of the
        quasi-Fermi potential on the best-conducting edge), whichever is larger, and
        every cell's space charge by less than charge_rtol of its Poisson row. In dark
        devices whose carriers float behind ~1 eV steps, psi and the floating
        quasi-Fermi level move together along a valley of physically identical states
        (the carrier densities stay fixed to 4 digits over thousands of iterations)
        while the current lies 5 decades below what float64 can resolve; see
        docs/numerics/newton.md, "Acceptance rules"
    """

    residual_rtol: float = 1e-10
    potential_update_atol: float = 1e-7
    quasi_fermi_update_atol: float = 1e-5
    max_iterations: int = 60
    max_potential_step: float = 20.0
    max_quasi_fermi_step: float = 5.0
    max_halvings: int = 10
    max_substeps: int = 200
    predictor: bool = True
    predictor_retry: bool = True
    near_null_deflation: bool = True
    dilute_density_cm3: float = 1e10
    alternate_order_pass: bool = True
    backward_fill: bool = True
    line_search_steps: int = 8
    quasi_fermi_margin: float = 1e-6
    floor_rtol: float = 1e-6
    floor_update_atol: float = 1e-5
    physical_rtol: float = 1e-6
    charge_rtol: float = 1e-5


#: the SolverSettings fields that shape the compiled program (static); every other field is
#: a traced number
STRUCTURE_FIELDS = (
    "predictor",
    "predictor_retry",
    "near_null_deflation",
    "alternate_order_pass",
    "backward_fill",
)
jax.tree_util.register_dataclass(
    SolverSettings,
    data_fields=[f.name for f in fields(SolverSettings) if f.name not in STRUCTURE_FIELDS],
    meta_fields=list(STRUCTURE_FIELDS),
)

# How a bias point was accepted: the rule that accepted the final Newton solve
# (``NewtonResult.acceptance``) and the route of the sweep that produced it, combined
# into one result code per bias (``SweepStates.result_code``); see SweepStates.
ACCEPT_FAILED = -1  # not converged
ACCEPT_STRICT = 0  # residual and update tests (``residual_rtol``, ``*_update_atol``)
ACCEPT_FLOOR = 1  # floor rule: stalled below ``floor_rtol``, psi updates small
ACCEPT_PHYSICAL = 2  # floor rule: stalled, correction physically invisible
ACCEPT_DEFLATED = 3  # residual and update tests, after a deflated Newton step
ACCEPT_DILUTE = 4  # only with dilute carriers judged on the absolute scale
ACCEPTANCE_CODES: dict[int, str] = {
    ACCEPT_FAILED: "failed",
    ACCEPT_STRICT: "strict",
    ACCEPT_FLOOR: "floor",
    ACCEPT_PHYSICAL: "physically_resolved",
    ACCEPT_DEFLATED: "deflated",
    ACCEPT_DILUTE: "dilute",
}
ROUTE_FORWARD = 0  # the first forward pass (and the equilibrium solve)
ROUTE_ALTERNATE_ORDER = 1  # alternate-order pass, first attempt: the other start order
ROUTE_ALTERNATE_DEFLATED = 2  # second attempt: deflated Newton steps allowed
ROUTE_ALTERNATE_DILUTE = 3  # third attempt: deflated steps and the dilute-carrier control
ROUTE_BACKWARD_FILL = 4  # backward fill (deflated steps allowed)
ROUTE_CODES: dict[int, str] = {
    ROUTE_FORWARD: "forward",
    ROUTE_ALTERNATE_ORDER: "alternate_order",
    ROUTE_ALTERNATE_DEFLATED: "alternate_deflated",
    ROUTE_ALTERNATE_DILUTE: "alternate_dilute",
    ROUTE_BACKWARD_FILL: "backward_fill",
}
#: result code = ROUTE_STRIDE * route + acceptance for a converged point, RESULT_FAILED else
ROUTE_STRIDE = 8
RESULT_FAILED = -1
RESULT_STRICT = ROUTE_STRIDE * ROUTE_FORWARD + ACCEPT_STRICT  # = 0
ACCEPTANCE_DTYPE = jnp.int32


def _result_name(code: int) -> str:
    if code == RESULT_FAILED:
        return "failed"
    route, acceptance = divmod(code, ROUTE_STRIDE)
    if route == ROUTE_FORWARD:
        return ACCEPTANCE_CODES[acceptance]
    return f"{ROUTE_CODES[route]}/{ACCEPTANCE_CODES[acceptance]}"


#: every result code and its name: "failed" (-1); on the forward pass the acceptance
#: rule's name ("strict" (0), "floor" (1), "physically_resolved" (2), "deflated" (3),
#: "dilute" (4)); on the later routes "<route>/<rule>", e.g. "backward_fill/strict" (32)
RESULT_CODES: dict[int, str] = {
    code: _result_name(code)
    for code in [RESULT_FAILED]
    + [ROUTE_STRIDE * r + a for r in ROUTE_CODES for a in ACCEPTANCE_CODES if a != ACCEPT_FAILED]
}


def result_code_names(codes) -> np.ndarray:
    """The names (:data:`RESULT_CODES`) of an array of result codes, as a string array."""
    codes = np.asarray(codes)
    return np.asarray([RESULT_CODES[int(c)] for c in codes.ravel()], dtype=object).reshape(
        codes.shape
    )


def result_acceptance(codes):
    """The acceptance rule (ACCEPT_*) of result codes (ACCEPT_FAILED where failed)."""
    return np.where(np.asarray(codes) < 0, ACCEPT_FAILED, np.asarray(codes) % ROUTE_STRIDE)


def result_route(codes):
    """The route (ROUTE_*) of result codes (-1 where failed)."""
    return np.where(np.asarray(codes) < 0, -1, np.asarray(codes) // ROUTE_STRIDE)


def strictly_converged(codes):
    """Per bias: accepted by the strict residual and update tests (on any route) without a
    deflated step, i.e. a solution of F = 0 to ``residual_rtol`` whose implicit gradient
    is meaningful. Works on numpy and (traced) JAX arrays alike."""
    xp = jnp if isinstance(codes, jax.Array) else np
    codes = xp.asarray(codes)
    return (codes >= 0) & (codes % ROUTE_STRIDE == ACCEPT_STRICT)
