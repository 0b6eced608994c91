"""Gradients of converged steady states by implicit differentiation.

A converged state u* satisfies F(u*, theta, V) = 0, where theta are the device arrays
(every physical number of :class:`~peled.core.params.DeviceArrays`) and V the bias. By
the implicit function theorem

    du*/dtheta = -(dF/du)^-1 dF/dtheta,

so for any scalar g(u*, theta) the reverse-mode cotangent is

    gbar_theta = dg/dtheta - lambda^T dF/dtheta,   with (dF/du)^T lambda = dg/du*.

:func:`steady_state` returns u* unchanged in the forward pass and supplies exactly this
rule (a ``jax.custom_vjp``), so the Newton iterations that produced u* are never
differentiated: the backward pass costs one block-tridiagonal Jacobian at u* (9
JVPs), one O(N) block cyclic-reduction solve with its transpose, and one VJP of the
residual with respect to theta. The Jacobian is rebuilt at u* rather than kept from the
last Newton iteration: the sweep does not return its factorization (it would cost
O(N) memory per bias for every forward sweep, gradient or not), and 9 JVPs cost
about one Newton iteration.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from peled.core.params import DeviceArrays
from peled.core.residual import residual
from peled.solve.linalg import block_jacobian, solve_block_tridiagonal


def _f_of_u(arrays: DeviceArrays, voltage_V):
    return lambda u: residual(u, arrays, voltage_V)


@jax.custom_vjp
def steady_state(u_star: jax.Array, arrays: DeviceArrays, voltage_V: jax.Array) -> jax.Array:
    """u* itself, differentiable with respect to ``arrays`` and ``voltage_V``.

    ``u_star`` must be a converged solution of F(u, arrays, V) = 0 (scaled, shape
    (N, 3)), typically from :func:`peled.core.newton.solve_sweep` run on
    ``jax.lax.stop_gradient(arrays)``. Its own cotangent is zero: u* is a function of
    (arrays, V), not an independent input.
    """
    return u_star


def _fwd(u_star, arrays, voltage_V):
    return u_star, (u_star, arrays, voltage_V)


def _bwd(res, u_bar):
    u_star, arrays, voltage_V = res
    _, jac = block_jacobian(_f_of_u(arrays, voltage_V), u_star)
    # adjoint: (dF/du)^T lambda = u_bar
    lam = solve_block_tridiagonal(jac.transpose(), u_bar)
    _, vjp = jax.vjp(lambda a, v: residual(u_star, a, v), arrays, voltage_V)
    a_bar, v_bar = vjp(-lam)
    return jnp.zeros_like(u_star), a_bar, v_bar


steady_state.defvjp(_fwd, _bwd)
