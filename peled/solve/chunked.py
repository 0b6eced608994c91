"""The sweep of :mod:`peled.solve.continuation` in compiled chunks, reporting between them.

A program with a host callback never enters JAX's persistent compilation cache, so a
sweep that shows per-bias progress runs as three compiled pieces instead of one program
with a callback: :func:`chunk_prepare` (the problem's per-sweep preparation),
:func:`chunk_start` (the equilibrium and the task loop's initial state) and
:func:`chunk_advance` (at most a few continuation tasks of the loop), with the host
reporting between chunks. The task sequence is the one of
:func:`peled.solve.continuation.solve_sweep`, so the states are identical bit for bit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from peled.solve.continuation import (
    SweepStates,
    equilibrium_start,
    require_float64,
    sweep_states,
    task_loop,
)
from peled.solve.problem import Problem
from peled.solve.settings import SolverSettings


def chunk_prepare(problem: Problem, params):
    """``problem.prepare(params)``, run once for all the chunks of a sweep (first piece of
    :func:`solve_sweep_in_chunks`)."""
    return problem.prepare(params)


def chunk_start(problem: Problem, params, voltages_V, settings, n_biases):
    """The equilibrium start and the task loop's initial state (second piece of
    :func:`solve_sweep_in_chunks`)."""
    eq_start = equilibrium_start(problem, params, settings)
    _, _, init = task_loop(problem, params, voltages_V, settings, False, n_biases, eq_start)
    # strong types: the loop returns its counters strongly typed, and a weakly typed
    # start would give the chunk program a second signature (a second compile)
    return eq_start, jax.tree_util.tree_map(lambda x: jnp.asarray(x).astype(x.dtype), init)


def chunk_advance(problem: Problem, params, voltages_V, settings, n_biases, eq_start, s, tasks):
    """At most ``tasks`` further tasks of the loop from state ``s``: (state, whether tasks
    remain, tasks of the forward pass run, tasks of the retry passes run); the piece of
    :func:`solve_sweep_in_chunks` that runs between progress reports."""
    cond, body, _ = task_loop(problem, params, voltages_V, settings, False, n_biases, eq_start)

    def chunk_cond(c):
        done, _, _, st = c
        return (done < tasks) & cond(st)

    def chunk_body(c):
        done, fwd, retry, st = c
        forward = st[0] < jnp.asarray(n_biases)
        return done + 1, fwd + forward, retry + ~forward, body(st)

    zero = jnp.asarray(0)
    _, fwd, retry, s = jax.lax.while_loop(chunk_cond, chunk_body, (zero, zero, zero, s))
    return s, cond(s), fwd, retry


#: the compiled form of each piece of :func:`solve_sweep_in_chunks` (problem static)
_COMPILED_PIECES = {
    fn: jax.jit(fn, static_argnums=0) for fn in (chunk_prepare, chunk_start, chunk_advance)
}


def run_compiled_piece(fn, problem: Problem, *args):
    """Run a piece of :func:`solve_sweep_in_chunks` (:func:`chunk_prepare`,
    :func:`chunk_start`, :func:`chunk_advance`) as its jitted program, ``problem`` static:
    the default ``run`` of the chunked sweep."""
    return _COMPILED_PIECES[fn](problem, *args)


def solve_sweep_in_chunks(
    problem: Problem,
    params,
    voltages_V,
    settings: SolverSettings,
    n_biases: int,
    on_forward=None,
    on_retry=None,
    tasks_per_chunk: int = 4,
    run=run_compiled_piece,
) -> SweepStates:
    """:func:`solve_sweep`'s states, computed as the same sequence of continuation tasks
    run ``tasks_per_chunk`` at a time by a compiled program without host callbacks (so it
    enters JAX's persistent compilation cache), reporting between chunks:
    ``on_forward(V)`` for each bias the forward pass has finished, ``on_retry(V)`` with
    the bias of the last task of the retry passes in a chunk (once per such task).
    ``n_biases`` (int): the biases that are solved (the rest of ``voltages_V`` is
    padding). Not for vmap (the loop over chunks runs on the host).

    ``run(fn, problem, *args)`` runs each piece (:func:`chunk_prepare`,
    :func:`chunk_start`, :func:`chunk_advance`); the default compiles it with ``jax.jit``.
    A caller may run the same functions from programs it keeps elsewhere (the CLI:
    exported programs stored between processes, :mod:`peled.programs`), as long as each
    call returns what ``fn(problem, *args)`` returns."""
    require_float64()
    voltages_V = jnp.asarray(voltages_V, jnp.float64)
    live = jnp.asarray(n_biases)
    params = run(chunk_prepare, problem, params)
    eq_start, s = run(chunk_start, problem, params, voltages_V, settings, live)
    tasks = jnp.asarray(tasks_per_chunk)
    volts = np.asarray(voltages_V)
    done = 0
    more = True
    while more:
        s, more, fwd, retry = run(
            chunk_advance, problem, params, voltages_V, settings, live, eq_start, s, tasks
        )
        # one transfer of the three counters per chunk
        more, fwd, retry = (int(x) for x in jax.device_get((more, fwd, retry)))
        if on_forward is not None:
            for j in range(done, done + fwd):
                on_forward(float(volts[j]))
        done += fwd
        if on_retry is not None:
            for _ in range(retry):
                on_retry(float(s[8]))
    return sweep_states(s)
