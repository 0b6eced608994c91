"""Equilibrium and the whole J-V sweep, all inside jit.

:func:`solve_sweep` is one ``lax.scan`` over the target biases with a ``lax.while_loop`` of
continuation sub-steps inside (each sub-step starts from the last converged state plus a
tangent predictor; a failed sub-step is retried once from the last converged state itself,
then halved), followed by the passes that revisit failed points (alternate start order,
backward fill), so the whole sweep is one compiled function that can be vmapped over
devices. Every bias carries a result code naming the rule and the pass that accepted it
(:class:`SweepStates`, :data:`peled.solve.settings.RESULT_CODES`).
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from peled.solve.linalg import BlockTridiagonal, solve_block_tridiagonal
from peled.solve.newton import NewtonResult, newton_solve
from peled.solve.problem import Problem
from peled.solve.settings import (
    ACCEPT_FAILED,
    ACCEPTANCE_DTYPE,
    RESULT_FAILED,
    ROUTE_BACKWARD_FILL,
    ROUTE_FORWARD,
    ROUTE_STRIDE,
    SolverSettings,
)


def _tangent(problem: Problem, params, voltage, u, jac):
    """du/dV at a converged point: solve J t = -dF/dV (dF/dV from the contact rows).

    The tangent is clipped to what the exact one can be: quasi-Fermi potentials move
    between 0 and 1 V per V of bias (maximum principle), the electrostatic potential by at
    most a few V per V. Without the clip, the near-null quasi-Fermi modes of layers
    isolated by barriers (docs/numerics/newton.md) give tangent
    components of 1e6 and more, and the predicted start of the next bias is garbage.
    """
    dfdv = jax.jvp(
        lambda v: problem.residual_and_scale(u, params, v)[0], (voltage,), (jnp.ones_like(voltage),)
    )[1]
    t = solve_block_tridiagonal(jac, -dfdv)
    inv_vt = 1.0 / problem.thermal_voltage_V(params)
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

    u: (M, N, k) scaled unknowns; converged: (M,) bool; iterations: (M,) Newton
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


def require_float64() -> None:
    """Refuse to trace the solver in single precision: without ``jax_enable_x64`` every
    float64 array of the solve is silently truncated to float32, whose round-off (1e-7)
    lies above the strict residual tolerance and the current floors the acceptance rules
    read, so a float32 sweep would return wrong states and result codes without an error.
    The public entry points (``peled.simulate`` and the CLI) run inside
    ``jax.enable_x64(True)``; callers of the numerical core do the same."""
    if jnp.result_type(float) != jnp.float64:
        raise RuntimeError(
            "peled's solver needs float64: call it inside `with jax.enable_x64(True):` or "
            'set jax.config.update("jax_enable_x64", True) before using it'
        )


def solve_equilibrium(problem: Problem, params, settings: SolverSettings) -> NewtonResult:
    """The equilibrium state (V = 0): Poisson alone from the problem's ``initial_state`` (flat Fermi
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
    require_float64()
    zero = jnp.asarray(0.0, jnp.float64)
    u_guess = problem.initial_state(params)

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
            problem,
            params,
            zero,
            jnp.where(k == 0, u_guess, u_poisson),
            settings,
            poisson_only=k == 0,
            retry=again,
            dilute=again,
        )
        return k + 1, r, jnp.where(k == 0, r.u, u_poisson)

    n, k = u_guess.shape
    z = jnp.zeros((n, k, k), u_guess.dtype)
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


def equilibrium_start(problem: Problem, params, settings: SolverSettings):
    """(u, V = 0, tangent, converged, acceptance) of the equilibrium: the first
    continuation start of every sweep."""
    zero = jnp.asarray(0.0, jnp.float64)
    eq = solve_equilibrium(problem, params, settings)
    t0 = jnp.where(eq.converged, _tangent(problem, params, zero, eq.u, eq.jacobian), 0.0)
    return (eq.u, zero, t0, eq.converged, eq.acceptance)


def task_loop(problem: Problem, params, voltages_V, settings, report_progress, n_biases, eq_start):
    """(cond, body, initial state) of the sweep's loop of continuation tasks from the
    equilibrium start ``eq_start``: one task per step of the forward pass, the alternate
    -order pass or the backward fill (below). The state's fields: forward index i, the
    alternate pass's index and attempt, the fill pointer, the two passes' carries, the
    per-bias records (u, reached, iterations, residual, sub-steps, V, result code), the
    tangents, and the bias of the last task [V]."""
    zero = jnp.asarray(0.0, jnp.float64)
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
            r = newton_solve(
                problem, params, v_try, u_start, settings, retry=deflate, dilute=dilute
            )
            ok = r.converged
            new_tan = (
                jnp.where(ok, _tangent(problem, params, v_try, r.u, r.jacobian), tan)
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
    n_node = eq_start[0].shape[0]
    index = jnp.arange(m_bias)
    # the targets that are solved: padding beyond them costs no pass any work
    n_live = jnp.asarray(m_bias if n_biases is None else n_biases)
    live = index < n_live
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
        i, i2, rnd, k, _, _, outs, _, _ = s
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
        i, i2, rnd, k, carry, carry2, outs, tans, _ = s
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
            voltages_V[at],
        )

    outs0 = (
        jnp.zeros((m_bias, n_node, eq_start[0].shape[1]), eq_start[0].dtype),
        jnp.zeros((m_bias,), bool),
        jnp.zeros((m_bias,), jnp.array(0).dtype),
        jnp.zeros((m_bias,), eq_start[0].dtype),
        jnp.zeros((m_bias,), jnp.array(0).dtype),
        jnp.zeros((m_bias,), eq_start[0].dtype),
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
        jnp.zeros((m_bias, n_node, eq_start[0].shape[1]), eq_start[0].dtype),
        zero,
    )
    return task_cond, task_body, init


@partial(jax.jit, static_argnames=("problem", "report_progress"))
def solve_sweep(
    problem: Problem,
    params,
    voltages_V: jax.Array,
    settings: SolverSettings = SolverSettings(),  # noqa: B008 (frozen: immutable)
    report_progress: bool = False,
    n_biases: jax.Array | int | None = None,
) -> SweepStates:
    """Solve the steady state at each bias of ``voltages_V`` [V] in order.

    ``n_biases`` (traced int, default all): only the first ``n_biases`` targets are
    solved; the rest are padding (``peled.simulate.padded_biases``), never attempted by
    any pass, and come back failed with zero states.

    Equilibrium (V = 0) is solved first from the problem's ``initial_state``; every target
    bias is then reached by continuation from the previous converged one.

    ``report_progress`` (static): compile in a host callback after each continuation task
    that calls the hooks registered with ``peled.simulate.progress_hook`` (also under
    vmap). JAX does not write programs with host callbacks to its persistent compilation
    cache; :func:`solve_sweep_in_chunks` gives the same states with progress reported
    between compiled chunks, and stays cacheable (docs/numerics/performance.md).
    """
    require_float64()
    voltages_V = jnp.asarray(voltages_V, jnp.float64)
    params = problem.prepare(params)
    eq_start = equilibrium_start(problem, params, settings)
    cond, body, init = task_loop(
        problem, params, voltages_V, settings, report_progress, n_biases, eq_start
    )
    return sweep_states(jax.lax.while_loop(cond, body, init))


def sweep_states(s) -> SweepStates:
    """The :class:`SweepStates` of a finished loop state of :func:`task_loop`."""
    u, conv, its, res, subs, v, code = s[6]
    return SweepStates(u, conv, its, res, subs, v, code)
