"""The device problem bound to the solver (:mod:`peled.solve`).

:data:`DEVICE_PROBLEM` gives the solver the drift-diffusion residual of
:mod:`peled.core.residual`, its physical quantities and the starting state; the functions
here take a device's :class:`~peled.core.params.DeviceArrays` where the solver's take a
problem and its parameters. The solver's names (settings, result codes, states) are
re-exported, so ``peled.core.newton`` is the one place the rest of peled imports the
solver from.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from peled.core.levels import band_offsets
from peled.core.params import DeviceArrays, node_positions_m
from peled.core.residual import (
    contact_values,
    edge_fluxes,
    geometry,
    node_state,
    residual_and_scale,
)
from peled.core.scaling import scaling_for
from peled.core.state import prepare_arrays
from peled.solve import chunked as _chunked
from peled.solve import continuation as _cont
from peled.solve import newton as _newton
from peled.solve.continuation import (  # noqa: F401  (re-exported)
    _PROGRESS_HOOKS,
    _RETRY_HOOKS,
    SweepStates,
)
from peled.solve.newton import NewtonResult, poisson_round_off, relative_residual  # noqa: F401
from peled.solve.problem import PhysicalQuantities, Problem
from peled.solve.settings import (  # noqa: F401  (re-exported)
    ACCEPT_DEFLATED,
    ACCEPT_DILUTE,
    ACCEPT_FAILED,
    ACCEPT_FLOOR,
    ACCEPT_PHYSICAL,
    ACCEPT_STRICT,
    ACCEPTANCE_CODES,
    ACCEPTANCE_DTYPE,
    RESULT_CODES,
    RESULT_FAILED,
    RESULT_STRICT,
    ROUTE_ALTERNATE_DEFLATED,
    ROUTE_ALTERNATE_DILUTE,
    ROUTE_ALTERNATE_ORDER,
    ROUTE_BACKWARD_FILL,
    ROUTE_CODES,
    ROUTE_FORWARD,
    ROUTE_STRIDE,
    STRUCTURE_FIELDS,
    SolverSettings,
    result_acceptance,
    result_code_names,
    result_route,
    strictly_converged,
)


def physical_quantities(u, arrays: DeviceArrays) -> PhysicalQuantities:
    """Space charge per cell, edge particle fluxes, recombination per cell (scaled), and
    the largest cancelling flux term per edge (for the round-off floor of the current)."""
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    fx = edge_fluxes(st, arrays, geo, sc)
    charge = sc.poisson_lambda * geo.vol * (st.p - st.n)
    f_n = fx.n_over_l * st.n[:-1]
    f_p = fx.p_over_l * st.p[:-1]
    rec = geo.vol * st.rec.total * st.n * st.p
    g_mag = jnp.maximum(fx.n_mag_l * st.n[:-1], fx.p_mag_l * st.p[:-1])
    return PhysicalQuantities(charge, f_n, f_p, rec, g_mag)


def edge_currents(u, arrays: DeviceArrays):
    """Electron and hole particle fluxes per edge and the summed cancelling terms G per
    edge (scaled), from the bulk and interface fluxes."""
    sc = scaling_for(arrays.temperature_K)
    geo = geometry(arrays, sc)
    st = node_state(u, arrays, sc)
    fx = edge_fluxes(st, arrays, geo, sc)
    f_n = fx.n_over_l * st.n[:-1]
    f_p = fx.p_over_l * st.p[:-1]
    return f_n, f_p, fx.n_mag_l * st.n[:-1] + fx.p_mag_l * st.p[:-1]


def densities(u, arrays: DeviceArrays):
    """Electron and hole densities per node [scaled by the density unit]."""
    st = node_state(u, arrays, scaling_for(arrays.temperature_K))
    return st.n, st.p


def initial_guess(arrays: DeviceArrays) -> jax.Array:
    """Equilibrium starting point with a flat Fermi level (phi = 0).

    Undoped layers: vacuum level linear between the contacts (they hold little space
    charge). Doped layers: the locally charge-neutral potential,
    psi = asinh(N_net / (2 n_i)) - (off_n + off_p)/2, from n - p = N_net with
    n = n_i exp(psi + (off_n + off_p)/2) ... written so that it cannot overflow. Starting
    doped layers far from neutrality costs Newton one thermal voltage per iteration.
    """
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


def thermal_voltage_V(arrays: DeviceArrays):
    """kT/q [V] at the device temperature."""
    return scaling_for(arrays.temperature_K).thermal_voltage_V


def density_unit_m3(arrays: DeviceArrays):
    """The density unit of the scaled state [m^-3]."""
    return scaling_for(arrays.temperature_K).density_m3


#: the drift-diffusion problem of a device, as the solver sees it
DEVICE_PROBLEM = Problem(
    residual_and_scale=residual_and_scale,
    physical_quantities=physical_quantities,
    edge_currents=edge_currents,
    densities=densities,
    initial_state=initial_guess,
    thermal_voltage_V=thermal_voltage_V,
    density_unit_m3=density_unit_m3,
    prepare=prepare_arrays,
)


def _fun_and_jacobian(u, arrays: DeviceArrays, voltage):
    """(F, row magnitudes, block Jacobian) of the device residual at u."""
    return _newton.fun_and_jacobian(DEVICE_PROBLEM, u, arrays, voltage)


def newton_solve(arrays: DeviceArrays, voltage, u0, settings: SolverSettings, **kw):
    """:func:`peled.solve.newton.newton_solve` on the device problem."""
    return _newton.newton_solve(DEVICE_PROBLEM, arrays, voltage, u0, settings, **kw)


def physically_resolved(u, du, arrays: DeviceArrays, m, settings, per_edge: bool = False):
    """:func:`peled.solve.newton.physically_resolved` on the device problem."""
    return _newton.physically_resolved(DEVICE_PROBLEM, u, du, arrays, m, settings, per_edge)


def resolved_to_round_off(u, f, m, jac, arrays: DeviceArrays, settings):
    """:func:`peled.solve.newton.resolved_to_round_off` on the device problem."""
    return _newton.resolved_to_round_off(DEVICE_PROBLEM, u, f, m, jac, arrays, settings)


def current_continuous(u, arrays: DeviceArrays, settings):
    """:func:`peled.solve.newton.current_continuous` on the device problem."""
    return _newton.current_continuous(DEVICE_PROBLEM, u, arrays, settings)


def dilute_weights(u, arrays: DeviceArrays, settings, active, jac=None):
    """:func:`peled.solve.newton.dilute_weights` on the device problem."""
    return _newton.dilute_weights(DEVICE_PROBLEM, u, arrays, settings, active, jac)


def solve_equilibrium(arrays: DeviceArrays, settings: SolverSettings) -> NewtonResult:
    """:func:`peled.solve.continuation.solve_equilibrium` on the device problem."""
    return _cont.solve_equilibrium(DEVICE_PROBLEM, arrays, settings)


def solve_sweep(
    arrays: DeviceArrays,
    voltages_V: jax.Array,
    settings: SolverSettings | None = None,
    report_progress: bool = False,
    n_biases: jax.Array | int | None = None,
) -> SweepStates:
    """The device's steady state at each bias of ``voltages_V`` [V] in order
    (:func:`peled.solve.continuation.solve_sweep`, compiled once per stack structure)."""
    return _cont.solve_sweep(
        DEVICE_PROBLEM,
        arrays,
        voltages_V,
        SolverSettings() if settings is None else settings,
        report_progress=report_progress,
        n_biases=n_biases,
    )


def solve_sweep_in_chunks(
    arrays: DeviceArrays,
    voltages_V: jax.Array,
    settings: SolverSettings | None = None,
    n_biases: int | None = None,
    on_forward=None,
    on_retry=None,
    run=None,
) -> SweepStates:
    """:func:`solve_sweep`'s states with progress reported between compiled chunks of the
    continuation (:func:`peled.solve.chunked.solve_sweep_in_chunks`): the compiled
    programs carry no host callback and enter the persistent compilation cache.
    ``run(fn, problem, *args)`` runs each piece (default: jitted; the CLI passes
    :meth:`peled.programs.ProgramStore.run`)."""
    _cont.require_float64()
    v = jnp.asarray(voltages_V, jnp.float64)
    return _chunked.solve_sweep_in_chunks(
        DEVICE_PROBLEM,
        arrays,
        v,
        SolverSettings() if settings is None else settings,
        v.shape[0] if n_biases is None else int(n_biases),
        on_forward=on_forward,
        on_retry=on_retry,
        run=_chunked.run_compiled_piece if run is None else run,
    )
