"""One bias point: damped Newton on F(u; params, V) = 0 with a line search (plain and
deflated), the switched-evolution regularization of the continuity rows, and the rules
that accept a state (:mod:`peled.solve.settings`).

Convergence is judged on both the relative residual (each row's residual divided by the
magnitude of the terms that cancel in it) and the Newton update (in units of V_t), or by
one of the relaxed rules documented in :class:`~peled.solve.settings.SolverSettings`.
Damping: the whole update is scaled so that no electrostatic-potential change exceeds
``max_potential_step`` thermal voltages (this keeps exp() of the densities from
overshooting by many decades); quasi-Fermi updates are clipped individually where the
corresponding density is negligible. The physics comes in only through the
:class:`~peled.solve.problem.Problem` passed in.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from peled.solve.linalg import BlockTridiagonal, block_jacobian, solve_block_tridiagonal
from peled.solve.problem import Problem
from peled.solve.settings import (
    ACCEPT_DEFLATED,
    ACCEPT_DILUTE,
    ACCEPT_FAILED,
    ACCEPT_FLOOR,
    ACCEPT_PHYSICAL,
    ACCEPT_STRICT,
    ACCEPTANCE_DTYPE,
    SolverSettings,
)


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


def fun_and_jacobian(problem: Problem, u, params, voltage):
    """(F, row magnitudes, block Jacobian) at u."""
    return block_jacobian(lambda v: problem.residual_and_scale(v, params, voltage), u, has_aux=True)


def _device_current(f_n, f_p, g_mag):
    """|J| (scaled particle flux) read on the edge where the cancelling drift and diffusion
    terms are smallest, i.e. where round-off disturbs it least (as the observables do)."""
    return jnp.abs((f_p - f_n)[jnp.argmin(g_mag)])


def physically_resolved(
    problem: Problem, u, du, params, m, settings: SolverSettings, per_edge: bool = False
):
    """Whether the Newton correction ``du`` at ``u`` leaves every physical quantity unchanged
    to tolerance (linearized): edge fluxes and summed recombination within
    ``physical_rtol`` of the device current or within its round-off floor, space charge within
    ``charge_rtol`` of each Poisson row's magnitude ``m[:, 0]``.

    The round-off floor is one ulp of the quasi-Fermi potential read as a current through
    the best-conducting edge (the whole device's floor), or, with ``per_edge``, through
    each edge's own conductance: stricter, since on the bottleneck edge, where J is
    resolved, it is far below the device's floor."""
    (_, f_n, f_p, _, g_mag), (d_charge, d_fn, d_fp, d_rec, _) = jax.jvp(
        lambda w: tuple(problem.physical_quantities(w, params)), (u,), (du,)
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


def resolved_to_round_off(problem: Problem, u, f, m, jac, params, settings: SolverSettings):
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
    return poisson_ok, current_continuous(problem, u, params, settings)


def poisson_round_off(u, jac):
    """Round-off of each Poisson row at ``u`` [scaled]: 64 eps sum_j |J_ij| |u_j|, the
    error with which its terms can be evaluated (on a graded mesh, or near flat band,
    adjacent potentials differ by a few ulps of psi, and so do the field terms)."""
    eps = jnp.finfo(u.dtype).eps
    abs_jac = BlockTridiagonal(*(jnp.abs(b) for b in jac))
    return 64.0 * eps * abs_jac.matvec(jnp.abs(u))[:, 0]


def current_continuous(problem: Problem, u, params, settings: SolverSettings):
    """Whether the total current J = q (F_p - F_n) at ``u`` is the same on every edge
    within ``physical_rtol`` of |J| or within its round-off floor, 32 eps max|u| G_max
    (G_max the largest edge conductance: one ulp of a quasi-Fermi potential read as a
    current; docs/numerics/accuracy.md "The current floor")."""
    eps = jnp.finfo(u.dtype).eps
    f_n, f_p, g_sum = problem.edge_currents(u, params)
    j_edge = f_p - f_n
    j = _device_current(f_n, f_p, g_sum)
    floor = 32.0 * eps * jnp.max(g_sum) * jnp.max(jnp.abs(u))
    spread = jnp.max(j_edge) - jnp.min(j_edge)
    return spread <= jnp.maximum(settings.physical_rtol * j, floor)


def dilute_weights(problem: Problem, u, params, settings: SolverSettings, active, jac=None):
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
        n, p = problem.densities(u, params)
        ref = settings.dilute_density_cm3 * 1e6 / problem.density_unit_m3(params)
        c = jnp.stack([n, p], axis=-1)
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
    problem: Problem,
    params,
    voltage,
    u0: jax.Array,
    settings: SolverSettings,
    poisson_only: bool = False,
    retry=True,
    dilute=None,
) -> NewtonResult:
    """Damped Newton for F(u; params, voltage) = 0 from ``u0`` (scaled, shape (N, k)).

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
        f, m, jac = fun_and_jacobian(problem, u, params, voltage)
        # Poisson alone: the continuity rows become du_phi = 0 (identity, zero residual);
        # otherwise switched-evolution-relaxation: the continuity diagonal grows with the
        # residual (pseudo-transient continuation), so it steers far from the solution
        # and leaves the quadratic convergence near it intact. Selected by value, so that
        # a traced flag lets one compiled Newton serve both problems.
        # (k unknowns per node: column 0 the potential, the others quasi-Fermi levels)
        k = u.shape[1]
        keep_psi = jnp.zeros((1, k, 1), u.dtype).at[0, 0, 0].set(1.0)
        eye_rows = jnp.eye(k, dtype=u.dtype)[None].at[0, 0, 0].set(0.0)
        jac = BlockTridiagonal(
            jnp.where(poisson_only, jac.lower * keep_psi, jac.lower),
            jnp.where(poisson_only, jac.diag * keep_psi + eye_rows, jac.diag),
            jnp.where(poisson_only, jac.upper * keep_psi, jac.upper),
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
        row_factor, update_weight, psi_floor = dilute_weights(
            problem, u, params, settings, dilute_on, jac
        )
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
        # the whole update scaled to the step limit, so a 1e4 V_t first step on a bad
        # initial guess cannot over-/underflow every density
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
                fa = problem.residual_and_scale(u + alpha * direction, params, voltage)[0]
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
        vt_v = voltage / problem.thermal_voltage_V(params)
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
                lambda: physically_resolved(problem, u, du_newton, params, m, settings),
                lambda: jnp.array(False),
            )
        )
        done = done | at_floor
        # with dilute rows judged on an absolute scale, the state must also carry a
        # continuous current: no point is accepted that the strict test would call wrong
        # in the one quantity the dilute carriers could still spoil
        done = done & jax.lax.cond(
            done & dilute_on,
            lambda: current_continuous(problem, u_new, params, settings),
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

    n, k = u0.shape
    z = jnp.zeros((n, k, k), u0.dtype)
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
