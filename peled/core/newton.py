"""Damped Newton on the coupled system and bias continuation, all inside jit.

Configuration (:class:`SolverSettings`, static) is kept apart from state. One bias point:
:func:`newton_solve`; a whole J-V sweep: :func:`solve_sweep`, one ``lax.scan`` over the
target biases with a ``lax.while_loop`` of continuation sub-steps inside (each sub-step
starts from the last converged state plus a tangent predictor; a failed sub-step is
retried once from the last converged state itself, then halved), so the whole sweep is
one compiled function that can be vmapped over devices.

Convergence is judged on both the relative residual (each row's residual divided by the
magnitude of the terms that cancel in it) and the Newton update (in units of V_t), or by
one of the relaxed rules documented in :class:`SolverSettings`; every bias carries a
result code naming the rule and the pass that accepted it (:class:`SweepStates`,
:data:`RESULT_CODES`).
Damping: the whole update is scaled so that no electrostatic-potential change exceeds
``max_potential_step`` thermal voltages (this keeps exp() of the densities from
overshooting by many decades); quasi-Fermi updates are clipped individually where the
corresponding density is negligible.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.linalg import BlockTridiagonal, block_jacobian, solve_block_tridiagonal
from peled.core.params import DeviceArrays
from peled.core.residual import (
    cell_recombination,
    contact_values,
    edge_fluxes,
    geometry,
    node_state,
    residual_and_scale,
)
from peled.core.scaling import scaling_for


@dataclass(frozen=True)
class SolverSettings:
    """Newton and continuation settings: a pytree whose numbers are traced.

    The tolerances, step limits and iteration counts are the pytree's leaves, so a sweep
    compiled once serves every value of them; the switches that decide which passes and
    steps exist (``predictor``, ``predictor_retry``, ``near_null_deflation``,
    ``alternate_order_pass``, ``backward_fill``, ``compress_potential_updates``) are its
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
    compress_potential_updates: compress psi updates above 1 V_t to 1 + ln|d| (off: it
        bends the Newton direction, and with the line search a p-n junction's
        equilibrium then crawled; the uniform step cap keeps large first steps safe)
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
    continuity_regularization: relative amount sigma added to the continuity diagonal,
        J_ii (1 + sigma) [-]. Off by default: on the example stacks every sigma >= 1e-8
        tried slowed Newton in weakly coupled directions until bias points failed; the
        near-null quasi-Fermi directions of layers isolated by barriers are handled by the
        projection onto [0, V] and by the floor acceptance instead.
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
    continuity_regularization: float = 0.0
    line_search_steps: int = 8
    compress_potential_updates: bool = False
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
    "compress_potential_updates",
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


class NewtonResult(NamedTuple):
    """One Newton solve: the final iterate, whether it converged, iterations used, its
    relative residual, the Jacobian of its last iteration, and the rule that accepted it
    (``acceptance``: an ACCEPT_* code, ACCEPT_FAILED when not converged)."""

    u: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual_norm: jax.Array
    jacobian: BlockTridiagonal
    acceptance: jax.Array


def _fun_and_jacobian(u, arrays, voltage):
    """(F, row magnitudes, block Jacobian) at u."""
    return block_jacobian(lambda v: residual_and_scale(v, arrays, voltage), u, has_aux=True)


def _physical_quantities(u, arrays):
    """Space charge per cell, edge particle fluxes, recombination per cell (scaled), and
    the largest cancelling flux term per edge (for the round-off floor of the current)."""
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    cell = cell_recombination(st, arrays, geo, sc)
    fx = edge_fluxes(st, arrays, geo, sc, cell)
    charge = sc.poisson_lambda * geo.vol * (st.p - st.n)
    f_n = fx.n_over_l * st.n[:-1]
    f_p = fx.p_over_l * st.p[:-1]
    rec = cell.width * cell.rec.total * st.n * st.p
    g_mag = jnp.maximum(fx.n_mag_l * st.n[:-1], fx.p_mag_l * st.p[:-1])
    return charge, f_n, f_p, rec, g_mag


def _device_current(f_n, f_p, g_mag):
    """|J| (scaled particle flux) read on the edge where the cancelling drift and diffusion
    terms are smallest, i.e. where round-off disturbs it least (as the observables do)."""
    return jnp.abs((f_p - f_n)[jnp.argmin(g_mag)])


def physically_resolved(u, du, arrays, m, settings: SolverSettings, per_edge: bool = False):
    """Whether the Newton correction ``du`` at ``u`` leaves every physical quantity unchanged
    to tolerance (linearized): edge fluxes and summed recombination within
    ``physical_rtol`` of the device current or within its round-off floor, space charge within
    ``charge_rtol`` of each Poisson row's magnitude ``m[:, 0]``.

    The round-off floor is one ulp of the quasi-Fermi potential read as a current through
    the best-conducting edge (the whole device's floor), or, with ``per_edge``, through
    each edge's own conductance: stricter, since on the bottleneck edge, where J is
    resolved, it is far below the device's floor."""
    (_, f_n, f_p, _, g_mag), (d_charge, d_fn, d_fp, d_rec, _) = jax.jvp(
        lambda w: _physical_quantities(w, arrays), (u,), (du,)
    )
    j_scale = _device_current(f_n, f_p, g_mag)
    # one ulp of the quasi-Fermi potential on the best-conducting (or on each) edge, as
    # a current
    g_floor = g_mag if per_edge else jnp.max(g_mag)
    floor = 16.0 * jnp.finfo(u.dtype).eps * g_floor * jnp.max(jnp.abs(u))
    tol = jnp.maximum(settings.physical_rtol * j_scale, floor)
    flux_ok = jnp.all(jnp.abs(d_fn) < tol) & jnp.all(jnp.abs(d_fp) < tol)
    rec_ok = jnp.sum(jnp.abs(d_rec)) < jnp.max(tol)
    charge_ok = jnp.max(jnp.abs(d_charge) / jnp.maximum(m[:, 0], 1e-300)) < settings.charge_rtol
    return flux_ok & rec_ok & charge_ok


def resolved_to_round_off(u, f, m, jac, arrays, settings: SolverSettings):
    """(Poisson resolved, current continuous) for the state ``u`` with residual ``f`` (row
    magnitudes ``m``, Jacobian ``jac``): both true means ``u`` is a solution as far as
    float64 and the physics can tell, whatever Newton's next step would be.

    - Poisson: every row within ``floor_rtol`` of its terms or within the round-off of
      its potential differences, 64 eps sum_j |J_ij| |u_j| (on a graded mesh adjacent
      potentials differ by 1e-6 V_t, so the field terms carry 1e-9 relative round-off);
    - continuity: the total current J = q (F_p - F_n) is the same on every edge within
      ``physical_rtol`` of |J| or within its round-off floor, 32 eps max|u| G_max (G_max
      the largest edge conductance: one ulp of a quasi-Fermi potential read as a
      current), the criterion docs/numerics/accuracy.md "The current floor" states.
    """
    poisson_ok = jnp.all(
        jnp.abs(f[:, 0]) <= jnp.maximum(settings.floor_rtol * m[:, 0], poisson_round_off(u, jac))
    )
    return poisson_ok, current_continuous(u, arrays, settings)


def poisson_round_off(u, jac):
    """Round-off of each Poisson row at ``u`` [scaled]: 64 eps sum_j |J_ij| |u_j|, the
    error with which its terms can be evaluated (on a graded mesh, or near flat band,
    adjacent potentials differ by a few ulps of psi, and so do the field terms)."""
    eps = jnp.finfo(u.dtype).eps
    abs_jac = BlockTridiagonal(*(jnp.abs(b) for b in jac))
    return 64.0 * eps * abs_jac.matvec(jnp.abs(u))[:, 0]


def current_continuous(u, arrays, settings: SolverSettings):
    """Whether the total current J = q (F_p - F_n) at ``u`` is the same on every edge
    within ``physical_rtol`` of |J| or within its round-off floor, 32 eps max|u| G_max
    (G_max the largest edge conductance: one ulp of a quasi-Fermi potential read as a
    current; docs/numerics/accuracy.md "The current floor")."""
    eps = jnp.finfo(u.dtype).eps
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    fx = edge_fluxes(st, arrays, geo, sc)
    j_edge = fx.p_over_l * st.p[:-1] - fx.n_over_l * st.n[:-1]
    g_sum = fx.n_mag_l * st.n[:-1] + fx.p_mag_l * st.p[:-1]
    j = _device_current(fx.n_over_l * st.n[:-1], fx.p_over_l * st.p[:-1], g_sum)
    floor = 32.0 * eps * jnp.max(g_sum) * jnp.max(jnp.abs(u))
    spread = jnp.max(j_edge) - jnp.min(j_edge)
    return spread <= jnp.maximum(settings.physical_rtol * j, floor)


def dilute_weights(u, arrays, settings: SolverSettings, active, jac=None):
    """Absolute error control of dilute carriers (``settings.dilute_density_cm3``).

    Returns (row factors (N, 2) for the electron and hole continuity rows, update weights
    (N, 2), Poisson row-scale floors (N,)), ones and zeros where ``active`` is false. The
    floor is :func:`poisson_round_off` / ``residual_rtol`` given the Jacobian ``jac`` at
    ``u`` (zeros without it): a Poisson row within its round-off counts as converged.
    With n_ref the reference density and c the carrier density [scaled]: a row's
    magnitude is multiplied by 1 + n_ref / c_max
    (c_max the largest c on the row's nodes i-1, i, i+1, so a row fed by a dense
    neighbour stays judged on its own terms), and a quasi-Fermi update dphi [V_t],
    the relative density change dc / c, is weighted by c / (c + n_ref), which makes it the
    density error dc / (c + n_ref). The contact rows (Dirichlet phi = phi_bc, or the
    Robin balance) keep factor 1: the boundary condition is met exactly whatever the
    density there.
    """

    def weights():
        sc = scaling_for(arrays.temperature_K)
        st = node_state(u, arrays, sc)
        ref = settings.dilute_density_cm3 * 1e6 / sc.density_m3
        c = jnp.stack([st.n, st.p], axis=-1)
        c_max = jnp.maximum(c, jnp.maximum(jnp.roll(c, 1, axis=0), jnp.roll(c, -1, axis=0)))
        factor = 1.0 + ref / jnp.maximum(c_max, 1e-300)
        weight = c / (c + ref)
        floor = (
            poisson_round_off(u, jac) / settings.residual_rtol
            if jac is not None
            else jnp.zeros(u.shape[0], u.dtype)
        )
        return (
            factor.at[0].set(1.0).at[-1].set(1.0),
            weight.at[0].set(1.0).at[-1].set(1.0),
            floor,
        )

    ones = jnp.ones((u.shape[0], 2), u.dtype)
    # a cond, not a select: the forward pass (inactive) then pays nothing for it
    return jax.lax.cond(active, weights, lambda: (ones, ones, jnp.zeros(u.shape[0], u.dtype)))


def _cap_potential_step(du, settings: SolverSettings):
    """``du`` scaled as a whole so that no psi update exceeds ``max_potential_step`` [V_t]."""
    dpsi_max = jnp.max(jnp.abs(du[:, 0]))
    return du * jnp.minimum(1.0, settings.max_potential_step / jnp.maximum(dpsi_max, 1e-300))


def relative_residual(f, m):
    """max_i |F_i| / max(|terms_i|, tiny): the convergence measure of a residual."""
    return jnp.max(jnp.abs(f) / jnp.maximum(m, 1e-300))


def newton_solve(
    arrays: DeviceArrays,
    voltage,
    u0: jax.Array,
    settings: SolverSettings,
    poisson_only: bool = False,
    retry=True,
    dilute=None,
) -> NewtonResult:
    """Damped Newton for F(u; arrays, voltage) = 0 from ``u0`` (scaled, shape (N, 3)).

    ``retry`` (bool, may be traced): this solve revisits a point the plain sweep failed,
    so the near-null deflated step (``settings.near_null_deflation``) is allowed;
    ``dilute`` (bool, may be traced; None: as ``retry``): the absolute error control of
    dilute carriers (``settings.dilute_density_cm3``, :func:`dilute_weights`) is on.

    ``poisson_only`` (bool, may be traced): keep the quasi-Fermi potentials fixed and
    solve Poisson's equation alone (the equilibrium problem, where the continuity rows
    hold identically); the dilute-carrier control is then off.
    """
    poisson_only = jnp.asarray(poisson_only, bool)

    def cond(state):
        _, it, _, done, failed, _, _, _ = state
        return (~done) & (~failed) & (it < settings.max_iterations)

    def body(state):
        u, it, res_prev, _, _, _, deflated_before, _ = state
        f, m, jac = _fun_and_jacobian(u, arrays, voltage)
        # Poisson alone: the continuity rows become du_phi = 0 (identity, zero residual);
        # otherwise switched-evolution-relaxation: the continuity diagonal grows with the
        # residual (pseudo-transient continuation), so it steers far from the solution
        # and leaves the quadratic convergence near it intact. Selected by value, so that
        # a traced flag lets one compiled Newton serve both problems.
        keep3 = jnp.zeros((1, 3, 1), u.dtype).at[0, 0, 0].set(1.0)
        eye_rows = jnp.zeros((1, 3, 3), u.dtype).at[0, 1, 1].set(1.0).at[0, 2, 2].set(1.0)
        d = jnp.diagonal(jac.diag, axis1=-2, axis2=-1)[:, 1:]
        d = d * (1.0 + settings.continuity_regularization)
        regularized = jac.diag.at[:, 1, 1].set(d[:, 0]).at[:, 2, 2].set(d[:, 1])
        jac = BlockTridiagonal(
            jnp.where(poisson_only, jac.lower * keep3, jac.lower),
            jnp.where(poisson_only, jac.diag * keep3 + eye_rows, regularized),
            jnp.where(poisson_only, jac.upper * keep3, jac.upper),
        )
        f = jnp.where(poisson_only, f.at[:, 1:].set(0.0), f)
        # (a reference density of 0 switches the dilute-carrier control off; it is a
        # traced number, so the code path is always compiled in)
        dilute_on = (
            (retry if dilute is None else dilute)
            & ~poisson_only
            & (settings.dilute_density_cm3 > 0)
        )
        m_plain = m  # the row magnitudes of the strict test (before any dilute scaling)
        row_factor, update_weight, psi_floor = dilute_weights(u, arrays, settings, dilute_on, jac)
        m = m.at[:, 1:].multiply(row_factor)
        # ...and a Poisson row whose residual is within the round-off of its terms counts
        # as converged: near flat band the field terms that balance a dilute space charge
        # are psi differences of a few ulps of psi (ITO / TCTA / CsPbBrI-NC / BPhen / Ag at
        # its built-in voltage, 0.40 V: 100 Poisson rows at a relative residual of 1.0
        # while Newton asks psi to move by half an ulp)
        m = m.at[:, 0].set(jnp.maximum(m[:, 0], psi_floor))
        res = relative_residual(f, m)
        du = solve_block_tridiagonal(jac, -f)
        du_newton = du
        # optional: potential updates beyond 1 V_t compressed logarithmically (1 + ln|d|);
        # then the whole update is scaled to the step limit, so a 1e4 V_t first step on a
        # bad initial guess cannot over-/underflow every density
        dpsi = du[:, 0]
        big = jnp.abs(dpsi) > 1.0
        comp = jnp.where(
            big, jnp.sign(dpsi) * (1.0 + jnp.log(jnp.where(big, jnp.abs(dpsi), 1.0))), dpsi
        )
        if settings.compress_potential_updates:
            ratio = jnp.where(jnp.abs(dpsi) > 0, comp / jnp.where(dpsi == 0, 1.0, dpsi), 1.0)
            du = du * ratio[:, None]
        du = _cap_potential_step(du, settings)
        du = du.at[:, 1:].set(
            jnp.clip(du[:, 1:], -settings.max_quasi_fermi_step, settings.max_quasi_fermi_step)
        )
        # backtracking line search on the residual weighted by this iterate's row
        # magnitudes (fixed during the search): accept the first of 1, 1/2, 1/4, ...
        # that lowers it; without it, Newton on stacks with mobilities of 1e-8 cm2/Vs
        # and densities spanning 100 decades wanders off through ill-conditioned modes
        w = 1.0 / jnp.maximum(m, 1e-300)
        merit0 = jnp.sum((f * w) ** 2)

        def line_search(direction):
            def merit(alpha):
                fa = residual_and_scale(u + alpha * direction, arrays, voltage)[0]
                val = jnp.sum((fa * w) ** 2)
                return jnp.where(jnp.isfinite(val), val, jnp.inf)

            def ls_cond(c):
                alpha, val, k = c
                insufficient = val > (1.0 - 1e-4 * alpha) * merit0
                return (k < 0) | (insufficient & (k < settings.line_search_steps))

            def ls_body(c):
                alpha, _, k = c
                a2 = 0.5 * alpha
                return a2, merit(a2), k + 1

            # the full step is the loop's first iteration (alpha 2 -> 1, k -1 -> 0), not
            # a separate evaluation before it: the residual then appears once per line
            # search in the compiled program, not twice (the sweep holds it at every
            # Newton call site, and its size sets the compile time)
            start = (2.0, jnp.inf, -1)
            alpha, val, _ = jax.lax.while_loop(ls_cond, ls_body, start)
            return alpha * direction, val

        if settings.near_null_deflation:
            # When the line search had to cut the step below 1/16, the usual cause is a
            # near-null mode (the floating quasi-Fermi levels of carriers trapped behind
            # barriers): the step moves along it by 1e4 times the residual, the dilute
            # rows turn nonlinear, and every row, the linear contact rows included, then
            # gets only 1/128-1/512 of its correction (ITO / TCTA / CsPbBr3-NC / TPBi /
            # Mg:Ag stuck at 1.1348 V for 60 iterations). The step with that mode
            # projected out, v from two steps of inverse iteration started on the Newton
            # step, is tried as well and taken when it lowers the merit more: it leaves
            # the physically irrelevant mode where it is and converges the rest (there, to
            # a relative residual of 8e-12 in two iterations). docs/numerics/newton.md,
            # "Near-null deflation".
            def deflated_direction():
                def unit(x):
                    return x / jnp.maximum(jnp.sqrt(jnp.sum(x**2)), 1e-300)

                # two steps of inverse iteration, rolled: one copy of the block solve
                v = jax.lax.fori_loop(
                    0, 2, lambda _, x: unit(solve_block_tridiagonal(jac, x)), unit(du_newton)
                )
                dp = du_newton - jnp.sum(v * du_newton) * v
                dp = _cap_potential_step(dp, settings)
                cap = settings.max_quasi_fermi_step
                return dp.at[:, 1:].set(jnp.clip(dp[:, 1:], -cap, cap))

            # Both searches run in one loop of at most two phases (the Newton step, then
            # the deflated one), so the compiled program holds one line search, i.e. one
            # residual, per Newton loop. The deflated direction is computed inside a loop
            # that runs at most once rather than under lax.cond: under vmap a cond with a
            # batched predicate evaluates both branches for every device at every
            # iteration, the loop only when some device needs it.
            def phase_cond(c):
                first, _, _, _, _, cut = c
                return first | cut

            def phase(c):
                first, direction, best_step, best_val, _, _ = c
                step, val = line_search(direction)
                cut = first & (jnp.sum(jnp.abs(step)) < 0.0625 * jnp.sum(jnp.abs(du))) & retry
                _, direction = jax.lax.while_loop(
                    lambda d: ~d[0] & cut,
                    lambda d: (jnp.array(True), deflated_direction()),
                    (jnp.array(False), direction),
                )
                # the deflated step is taken only when it cuts the merit tenfold (at that
                # TCTA stack's wall: 5.8e-10 -> 1.6e-20); a deflated step that merely beats
                # the cut one bars the floor rules for nothing (the blue example took 100x
                # the Newton iterations)
                better = ~first & (val < best_val) & (val < 0.1 * merit0)
                take = first | better
                return (
                    jnp.array(False),
                    direction,
                    jnp.where(take, step, best_step),
                    jnp.where(take, val, best_val),
                    better,
                    cut,
                )

            inf = jnp.asarray(jnp.inf, du.dtype)
            start = (jnp.array(True), du, du, inf, jnp.array(False), jnp.array(False))
            _, _, du_ls, merit_ls, deflated_now, _ = jax.lax.while_loop(phase_cond, phase, start)
        else:
            du_ls, merit_ls = line_search(du)
            deflated_now = jnp.array(False)
        # a solve that took a deflated step may finish by the residual test alone: the
        # floor rules below judge the state against a floor read off the state itself,
        # and a state whose near-null mode was left unconverged can pass them while its
        # floating densities are off (ITO / TCTA / CsPbBrI-NC / BPhen / Ag at 3-6 V:
        # accepted at a residual of 2e-7 with a 2700x lower conductance floor and current
        # continuity 2x outside it)
        deflated_any = deflated_before | deflated_now
        du = du_ls
        # maximum principle: without generation the quasi-Fermi potentials lie between
        # the contacts' Fermi potentials (0 and V/V_t); projecting onto that interval
        # removes the wild excursions of weakly coupled (floating) quasi-Fermi levels
        vt_v = voltage / scaling_for(arrays.temperature_K).thermal_voltage_V
        lo = jnp.minimum(0.0, vt_v) - settings.quasi_fermi_margin
        hi = jnp.maximum(0.0, vt_v) + settings.quasi_fermi_margin
        du = du.at[:, 1:].set(jnp.clip(u[:, 1:] + du[:, 1:], lo, hi) - u[:, 1:])
        upd_psi = jnp.max(jnp.abs(du[:, 0]))
        upd_phi = jnp.max(jnp.abs(du[:, 1:]) * update_weight)
        u_new = u + du
        finite = jnp.all(jnp.isfinite(u_new)) & jnp.isfinite(res)
        done = (
            (res < settings.residual_rtol)
            & (upd_psi < settings.potential_update_atol)
            & (upd_phi < settings.quasi_fermi_update_atol)
            & finite
        )
        stalled = (res < settings.floor_rtol) & (res > 0.5 * res_prev) & finite & ~deflated_any
        at_floor = stalled & (
            (upd_psi < settings.floor_update_atol)
            | jax.lax.cond(
                stalled,
                lambda: physically_resolved(u, du_newton, arrays, m, settings),
                lambda: jnp.array(False),
            )
        )
        done = done | at_floor
        # with dilute rows judged on an absolute scale, the state must also carry a
        # continuous current: no point is accepted that the strict test would call wrong
        # in the one quantity the dilute carriers could still spoil
        done = done & jax.lax.cond(
            done & dilute_on,
            lambda: current_continuous(u_new, arrays, settings),
            lambda: jnp.array(True),
        )
        # the strict test on the unscaled rows and unweighted updates (the same as above
        # unless the dilute-carrier error control is on)
        strict = (
            (relative_residual(f, m_plain) < settings.residual_rtol)
            & (upd_psi < settings.potential_update_atol)
            & (jnp.max(jnp.abs(du[:, 1:])) < settings.quasi_fermi_update_atol)
            & finite
        )
        dilute_active = jnp.asarray(dilute_on, bool)
        # which rule accepted this iterate (ACCEPTANCE_CODES; only read where done): the
        # strict test, after a deflated step or not; else the dilute-carrier control when
        # it is on; else one of the two floor rules (barred after a deflated step)
        rule = jnp.where(
            strict,
            jnp.where(deflated_any, ACCEPT_DEFLATED, ACCEPT_STRICT),
            jnp.where(
                dilute_active,
                ACCEPT_DILUTE,
                jnp.where(upd_psi < settings.floor_update_atol, ACCEPT_FLOOR, ACCEPT_PHYSICAL),
            ),
        )
        acceptance = jnp.where(done, rule, ACCEPT_FAILED).astype(ACCEPTANCE_DTYPE)
        return (
            jnp.where(finite, u_new, u),
            it + 1,
            res,
            done,
            ~finite,
            jac,
            deflated_any,
            acceptance,
        )

    n = u0.shape[0]
    z = jnp.zeros((n, 3, 3), u0.dtype)
    init = (
        u0,
        jnp.array(0),
        jnp.array(jnp.inf),
        jnp.array(False),
        jnp.array(False),
        BlockTridiagonal(z, z, z),
        jnp.array(False),
        jnp.asarray(ACCEPT_FAILED, ACCEPTANCE_DTYPE),
    )
    u, it, res, done, _, jac, _, acceptance = jax.lax.while_loop(cond, body, init)
    return NewtonResult(u, done, it, res, jac, acceptance)


def initial_guess(arrays: DeviceArrays) -> jax.Array:
    """Equilibrium starting point with a flat Fermi level (phi = 0).

    Undoped layers: vacuum level linear between the contacts (they hold little space
    charge). Doped layers: the locally charge-neutral potential,
    psi = asinh(N_net / (2 n_i)) - (off_n + off_p)/2, from n - p = N_net with
    n = n_i exp(psi + (off_n + off_p)/2) ... written so that it cannot overflow. Starting
    doped layers far from neutrality costs Newton one thermal voltage per iteration.
    """
    from peled.core.params import node_positions_m
    from peled.core.residual import band_offsets

    sc = scaling_for(arrays.temperature_K)
    cv = contact_values(arrays, jnp.asarray(0.0), sc)
    x = node_positions_m(arrays)
    s = (x - x[0]) / (x[-1] - x[0])
    psi_lin = cv.psi_anode + (cv.psi_cathode - cv.psi_anode) * s
    lp = arrays.layers
    lay = arrays.node_layer
    net = (lp.donor_density_m3[lay] - lp.acceptor_density_m3[lay]) / sc.density_m3
    off_n, off_p, ln_ni = band_offsets(arrays, sc)
    psi_neutral = jnp.arcsinh(0.5 * net * jnp.exp(-ln_ni)) - 0.5 * (off_n + off_p)
    psi = jnp.where(net != 0.0, psi_neutral, psi_lin)
    z = jnp.zeros_like(psi)
    return jnp.stack([psi, z, z], axis=-1)


def _tangent(arrays, voltage, u, jac):
    """du/dV at a converged point: solve J t = -dF/dV (dF/dV from the contact rows).

    The tangent is clipped to what the exact one can be: quasi-Fermi potentials move
    between 0 and 1 V per V of bias (maximum principle), the electrostatic potential by at
    most a few V per V. Without the clip, the near-null quasi-Fermi modes of layers
    isolated by barriers (see SolverSettings.continuity_regularization) give tangent
    components of 1e6 and more, and the predicted start of the next bias is garbage.
    """
    dfdv = jax.jvp(
        lambda v: residual_and_scale(u, arrays, v)[0], (voltage,), (jnp.ones_like(voltage),)
    )[1]
    t = solve_block_tridiagonal(jac, -dfdv)
    inv_vt = 1.0 / scaling_for(arrays.temperature_K).thermal_voltage_V
    t = t.at[:, 0].set(jnp.clip(t[:, 0], -2.0 * inv_vt, 2.0 * inv_vt))
    return t.at[:, 1:].set(jnp.clip(t[:, 1:], 0.0, inv_vt))


_PROGRESS_HOOKS: list = []
_RETRY_HOOKS: list = []


def _report_progress(voltage, forward=True) -> None:
    """Host callback after each continuation task: calls the registered progress hooks
    with the bias [V] after each point of the forward pass, the retry hooks after each
    task of the passes that revisit failed points. Under vmap the arguments arrive
    batched (one entry per device); each entry is reported. It must never raise: an
    exception inside a host callback stalls the compiled sweep."""
    if not (_PROGRESS_HOOKS or _RETRY_HOOKS):
        return
    volts = np.ravel(np.asarray(voltage, dtype=float))
    fwd = np.broadcast_to(np.ravel(np.asarray(forward, dtype=bool)), volts.shape)
    for v, f in zip(volts, fwd, strict=True):
        for hook in _PROGRESS_HOOKS if f else _RETRY_HOOKS:
            hook(float(v))


class SweepStates(NamedTuple):
    """Converged states per bias and their convergence record.

    u: (M, N, 3) scaled unknowns; converged: (M,) bool; iterations: (M,) Newton
    iterations summed over continuation sub-steps; residual_norm: (M,) final relative
    residual; substeps: (M,) continuation sub-steps used; voltage_reached_V: (M,) the
    bias the returned state belongs to (equals the target when converged).

    result_code: (M,) int32, how each bias was accepted (names in :data:`RESULT_CODES`,
    :func:`result_code_names`): ``RESULT_FAILED`` (-1, "failed") where not converged,
    else ``ROUTE_STRIDE * route + acceptance`` (8 route + acceptance), with

    - acceptance, the rule that accepted the Newton solve whose state is recorded (the
      last continuation sub-step; for a target equal to the bias already held, e.g.
      V = 0 after equilibrium, the solve that produced that state): 0 "strict" (residual
      below ``residual_rtol`` and updates below ``potential_update_atol``,
      ``quasi_fermi_update_atol``, on the unscaled rows), 1 "floor" (stalled below
      ``floor_rtol`` with psi updates below ``floor_update_atol``), 2
      "physically_resolved" (stalled below ``floor_rtol``, the Newton correction changes
      no physical quantity: ``physical_rtol``, ``charge_rtol``), 3 "deflated" (the strict
      test, reached after a deflated Newton step, ``near_null_deflation``), 4 "dilute"
      (passed only with dilute carriers judged on the absolute scale
      ``dilute_density_cm3``, current continuous);
    - route, the pass that recorded the state: 0 "forward" (the first forward pass,
      equilibrium included), 1 "alternate_order", 2 "alternate_deflated", 3
      "alternate_dilute" (the three attempts of ``alternate_order_pass``), 4 "backward_fill".

    So 0 ("strict") is a point the plain forward sweep converged by the strict test; a
    forward-pass code is named by its rule alone ("floor"), a later route's as
    "route/rule" ("backward_fill/strict" = 32). :func:`strictly_converged` is true for
    acceptance 0 on any route (the state passed the strict test). The codes only record
    which branch was taken: every state is the one the sweep computed without them.
    """

    u: jax.Array
    converged: jax.Array
    iterations: jax.Array
    residual_norm: jax.Array
    substeps: jax.Array
    voltage_reached_V: jax.Array
    result_code: jax.Array


def solve_equilibrium(arrays: DeviceArrays, settings: SolverSettings) -> NewtonResult:
    """The equilibrium state (V = 0): Poisson alone from :func:`initial_guess` (flat Fermi
    level), then the coupled system from there.

    If the coupled solve fails it is repeated once as the sweep's last retry attempt does
    (deflated steps, dilute carriers judged on the absolute scale ``dilute_density_cm3``,
    Poisson rows within their round-off accepted, a current-continuity check on the
    result). The three attempts run in one ``while_loop`` with the problem as a traced
    flag, so the Newton loop is compiled once.
    On very fine meshes (first spacings ~1e-5 nm) the flat-band Poisson rows of some
    stacks stay at ~1e-4 relative residual, at the round-off of their field terms, and
    only that attempt converges them (ITO / poly-TPD / CsPbBr3-NC-DDAB / TPBi / Au on the
    log-linear mesh, docs/numerics/continuation.md, "Equilibrium"). The result is judged
    by the coupled solve alone: the Poisson-only solve is just its starting point, and
    the ``acceptance`` returned is that of the
    coupled solve that ended the loop.
    """
    zero = jnp.asarray(0.0, jnp.float64)
    u_guess = initial_guess(arrays)

    # attempt 0: Poisson alone from the flat-Fermi-level guess; 1: the coupled system from
    # its state; 2 (only if 1 failed): the coupled system again from that state, as the
    # sweep's last retry. One Newton in the compiled program serves all three.
    def cond(c):
        k, r, _ = c
        return (k < 2) | ((k == 2) & ~r.converged)

    def body(c):
        k, _, u_poisson = c
        again = k == 2
        r = newton_solve(
            arrays,
            zero,
            jnp.where(k == 0, u_guess, u_poisson),
            settings,
            poisson_only=k == 0,
            retry=again,
            dilute=again,
        )
        return k + 1, r, jnp.where(k == 0, r.u, u_poisson)

    n = u_guess.shape[0]
    z = jnp.zeros((n, 3, 3), u_guess.dtype)
    seed = NewtonResult(
        u_guess,
        jnp.array(False),
        jnp.array(0),
        jnp.array(jnp.inf),
        BlockTridiagonal(z, z, z),
        jnp.asarray(ACCEPT_FAILED, ACCEPTANCE_DTYPE),
    )
    # the seed only gives the carry its structure: attempts 0 and 1 always run
    return jax.lax.while_loop(cond, body, (jnp.asarray(0), seed, u_guess))[1]


@partial(jax.jit, static_argnames=("report_progress",))
def solve_sweep(
    arrays: DeviceArrays,
    voltages_V: jax.Array,
    settings: SolverSettings = SolverSettings(),
    report_progress: bool = False,
    n_biases: jax.Array | int | None = None,
) -> SweepStates:
    """Solve the steady state at each bias of ``voltages_V`` [V] in order.

    ``n_biases`` (traced int, default all): only the first ``n_biases`` targets are
    solved; the rest are padding (``peled.simulate.padded_biases``), never attempted by
    any pass, and come back failed with zero states.

    Equilibrium (V = 0) is solved first from :func:`initial_guess`; every target bias is
    then reached by continuation from the previous converged one.

    ``report_progress`` (static): compile in a host callback after each continuation task
    that calls the hooks registered with ``peled.simulate.progress_hook``. Off by
    default: JAX does not write programs with host callbacks to its persistent
    compilation cache, so only the sweeps that show a progress bar pay for it
    (docs/numerics/performance.md, "Compilation cache").
    """
    voltages_V = jnp.asarray(voltages_V, jnp.float64)
    zero = jnp.asarray(0.0, jnp.float64)
    eq = solve_equilibrium(arrays, settings)
    t0 = jnp.where(eq.converged, _tangent(arrays, zero, eq.u, eq.jacobian), 0.0)

    with_tangent = settings.predictor or settings.predictor_retry

    def to_target(carry, target, first, deflate, dilute):
        # first: whether the first attempt of each step starts from the tangent's
        # prediction; deflate, dilute: whether Newton may take deflated steps, and judges
        # dilute carriers on an absolute scale; all traced, so that the passes below
        # share one compiled continuation
        u_c, v_c, t_c, ok_c, acc_c = carry

        def cond(s):
            _, v, _, _, halv, _, subs, _, _, _ = s
            return (v != target) & (halv <= settings.max_halvings) & (subs < settings.max_substeps)

        def body(s):
            u, v, tan, step, halv, its, subs, res, use_tan, acc = s
            remaining = target - v
            step = jnp.where(jnp.abs(step) > jnp.abs(remaining), remaining, step)
            step = jnp.where(step * remaining <= 0, remaining, step)
            v_try = jnp.where(jnp.abs(remaining - step) < 1e-12, target, v + step)
            u_start = u + jnp.where(use_tan, v_try - v, 0.0) * tan if with_tangent else u
            r = newton_solve(arrays, v_try, u_start, settings, retry=deflate, dilute=dilute)
            ok = r.converged
            new_tan = (
                jnp.where(ok, _tangent(arrays, v_try, r.u, r.jacobian), tan)
                if with_tangent
                else tan
            )
            # a failed first attempt is retried once from the other start (with the
            # tangent's prediction if it was made without, and vice versa) before the
            # step is halved: the clipped tangent can point off the branch (random stack
            # 30 fails from 0.95 V on with it alone), and without it the red example
            # loses two biases
            retry = settings.predictor_retry & ~ok & (use_tan == first)
            return (
                jnp.where(ok, r.u, u),
                jnp.where(ok, v_try, v),
                new_tan,
                # after a success the step doubles (clipped to what remains), after a
                # failure it halves; max_halvings counts consecutive failures
                jnp.where(ok, 2.0 * step, jnp.where(retry, step, 0.5 * step)),
                jnp.where(ok, 0, jnp.where(retry, halv, halv + 1)),
                its + r.iterations,
                subs + 1,
                jnp.where(ok, r.residual_norm, res),
                jnp.where(retry, ~first, first),
                # the acceptance of the state held (of the last successful sub-step)
                jnp.where(ok, r.acceptance, acc),
            )

        init = (
            u_c,
            v_c,
            t_c,
            target - v_c,
            jnp.array(0),
            jnp.array(0),
            jnp.array(0),
            jnp.array(0.0),
            first,
            acc_c,
        )
        u, v, tan, _, _, its, subs, res, _, acc = jax.lax.while_loop(cond, body, init)
        reached = (v == target) & ok_c
        out = (u, reached, its, res, subs, v, acc)
        return (u, v, tan, ok_c, acc), out

    # One loop of tasks reuses one compiled copy of the continuation for three passes:
    # 1. forward: every target in order from equilibrium;
    # 2. alternate (only when pass 1 failed a point): from the last converged state
    #    before the first failure, forward again over the rest of the targets with the
    #    other start order (prediction first <-> last state first), keeping only
    #    successes. The two orders reach different states near walls: of the random
    #    database stacks of the robustness test, one sticks from 1.60 V with the
    #    predictor first and converges without it, another the other way round;
    # 3. backward fill: a bias still failed while the next one converged is approached
    #    again from that next bias's state, downward (a stack without the predictor
    #    fails 1.60 V alone, while the 1.55 -> 1.65 V step converges).
    # With no failed point passes 2 and 3 do no work, and under vmap they run only as
    # long as the batch's neediest member.
    m_bias = voltages_V.shape[0]
    n_node = eq.u.shape[0]
    index = jnp.arange(m_bias)
    # the targets that are solved: padding beyond them costs no pass any work
    n_live = jnp.asarray(m_bias if n_biases is None else n_biases)
    live = index < n_live
    eq_start = (eq.u, zero, t0, eq.converged, eq.acceptance)
    pick = lambda c, a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(c, x, y), a, b)  # noqa: E731

    def fill_candidates(conv, k):
        # failed bias j with a converged j + 1, at or below the fill pointer k
        nxt = jnp.concatenate([conv[1:], jnp.zeros((1,), bool)])
        return (~conv) & nxt & (index <= k) & live & settings.backward_fill

    def alternate_pending(conv, i2, rnd):
        # i2 < 0: attempt rnd of pass 2 not started (it starts at the first failed bias,
        # if any); the first attempt runs in the other start order, the second in the
        # usual one with deflated Newton steps allowed, the third with the dilute-carrier
        # error control too
        return settings.alternate_order_pass & (
            ((i2 < 0) & jnp.any(~conv & live) & (rnd <= 3)) | ((i2 >= 0) & (i2 < n_live))
        )

    def task_cond(s):
        i, i2, rnd, k, _, _, outs, _ = s
        conv = outs[1]
        return (i < n_live) | alternate_pending(conv, i2, rnd) | jnp.any(fill_candidates(conv, k))

    def stored(outs, tans, j):
        # the recorded state of bias j as a continuation start (equilibrium for j < 0)
        jj = jnp.clip(j, 0, m_bias - 1)
        code = outs[6][jj]
        acc = jnp.where(code < 0, ACCEPT_FAILED, code % ROUTE_STRIDE).astype(ACCEPTANCE_DTYPE)
        rec = (outs[0][jj], outs[5][jj], tans[jj], outs[1][jj], acc)
        return pick(j < 0, eq_start, rec)

    def task_body(s):
        i, i2, rnd, k, carry, carry2, outs, tans = s
        u_o, conv_o, its_o, res_o, subs_o, v_o, code_o = outs
        fwd = i < n_live
        alt = ~fwd & alternate_pending(conv_o, i2, rnd)
        # pass 2: its next target, and its start (a target that already converged only
        # hands its state on: the continuation returns at once when v == target)
        j2 = jnp.where(i2 < 0, jnp.argmax(~conv_o & live), i2)
        start2 = pick(i2 < 0, stored(outs, tans, j2 - 1), carry2)
        start2 = pick(conv_o[jnp.minimum(j2, m_bias - 1)], stored(outs, tans, j2), start2)
        # pass 3: the highest fill candidate, started from the bias above it
        j3 = jnp.max(jnp.where(fill_candidates(conv_o, k), index, -1))
        start = pick(fwd, carry, pick(alt, start2, stored(outs, tans, j3 + 1)))
        at = jnp.where(fwd, jnp.minimum(i, m_bias - 1), jnp.where(alt, j2, j3))
        at = jnp.clip(at, 0, m_bias - 1)
        # deflated steps only in the second and third attempts of pass 2 and in the
        # fill: taken anywhere they change the path of points that converge without
        # them (a random stack then fails from 1.6 V); the dilute-carrier error control
        # only in the third attempt: in the second it lost a TCTA stack fifteen biases
        # that the deflated attempt and the fill converge without it
        # (docs/numerics/continuation.md, "Passes over failed points")
        deflate = (alt & (rnd >= 2)) | (~fwd & ~alt)
        dilute = alt & (rnd == 3)
        first = jnp.where(alt & (rnd == 1), not settings.predictor, settings.predictor)
        new_carry, (u_t, reached, its_t, res_t, subs_t, v_t, acc_t) = to_target(
            start, voltages_V[at], first, deflate, dilute
        )
        # the result code: the route (forward pass, attempt rnd of pass 2, or the fill)
        # combined with the acceptance of the state reached
        route = jnp.where(fwd, ROUTE_FORWARD, jnp.where(alt, rnd, ROUTE_BACKWARD_FILL))
        code_t = jnp.where(reached, ROUTE_STRIDE * route + acc_t, RESULT_FAILED).astype(
            ACCEPTANCE_DTYPE
        )
        # pass 1 records every result (a failed point keeps the last state reached);
        # passes 2 and 3 replace only a failed record, only by a success, and add their work
        write = fwd | (reached & ~conv_o[at])
        outs = (
            u_o.at[at].set(jnp.where(write, u_t, u_o[at])),
            conv_o.at[at].set(jnp.where(write, reached, conv_o[at])),
            its_o.at[at].set(jnp.where(fwd, its_t, its_o[at] + its_t)),
            res_o.at[at].set(jnp.where(write, res_t, res_o[at])),
            subs_o.at[at].set(jnp.where(fwd, subs_t, subs_o[at] + subs_t)),
            v_o.at[at].set(jnp.where(write, v_t, v_o[at])),
            code_o.at[at].set(jnp.where(write, code_t, code_o[at])),
        )
        tans = tans.at[at].set(jnp.where(write, new_carry[2], tans[at]))
        if report_progress:
            jax.debug.callback(_report_progress, v_t, fwd)
        # a finished attempt of pass 2 hands over to the next one (or to pass 3)
        round_done = alt & (j2 + 1 >= n_live)
        return (
            i + fwd,
            jnp.where(round_done, -1, jnp.where(alt, j2 + 1, i2)),
            rnd + round_done,
            jnp.where(fwd | alt, k, j3 - 1),
            pick(fwd, new_carry, carry),
            pick(alt, new_carry, carry2),
            outs,
            tans,
        )

    outs0 = (
        jnp.zeros((m_bias, n_node, 3), eq.u.dtype),
        jnp.zeros((m_bias,), bool),
        jnp.zeros((m_bias,), jnp.array(0).dtype),
        jnp.zeros((m_bias,), eq.u.dtype),
        jnp.zeros((m_bias,), jnp.array(0).dtype),
        jnp.zeros((m_bias,), eq.u.dtype),
        jnp.full((m_bias,), RESULT_FAILED, ACCEPTANCE_DTYPE),
    )
    init = (
        jnp.array(0),
        jnp.array(-1),
        jnp.array(1),
        n_live - 1,
        eq_start,
        eq_start,
        outs0,
        jnp.zeros((m_bias, n_node, 3), eq.u.dtype),
    )
    _, _, _, _, _, _, (u, conv, its, res, subs, v, code), _ = jax.lax.while_loop(
        task_cond, task_body, init
    )
    return SweepStates(u, conv, its, res, subs, v, code)
