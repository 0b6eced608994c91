"""Block-tridiagonal Jacobians and their O(N) solution.

The residual of node i depends only on nodes i-1, i, i+1, so the Jacobian of the
(N, 3) system is block tridiagonal with 3x3 blocks:

    A_i du_{i-1} + B_i du_i + C_i du_{i+1} = r_i.

:func:`block_jacobian` gets the blocks exactly from 9 Jacobian-vector products of a
colored seed (nodes i = c mod 3 for colour c, one unknown at a time): every row sees at
most one seeded node per colour, so the product column splits into the three blocks
without any approximation (Curtis-Powell-Reid colouring).

:func:`solve_block_tridiagonal` is block cyclic reduction (Hockney; Heller, SIAM J.
Numer. Anal. 13, 484 (1976)): log2(N) levels, each a batched 3x3 elimination, so the
work is O(N) and every level is one vectorized operation (no sequential scan over
nodes). Within a block LU uses partial pivoting. Rows are equilibrated first.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class BlockTridiagonal(NamedTuple):
    """Blocks of a block-tridiagonal matrix: lower A (N,3,3), diagonal B, upper C.

    A[0] and C[N-1] are zero.
    """

    lower: jax.Array
    diag: jax.Array
    upper: jax.Array

    def matvec(self, x: jax.Array) -> jax.Array:
        """y_i = A_i x_{i-1} + B_i x_i + C_i x_{i+1} for x of shape (N, 3)."""
        z = jnp.zeros_like(x[:1])
        xm = jnp.concatenate([z, x[:-1]])
        xp = jnp.concatenate([x[1:], z])
        return (
            jnp.einsum("nij,nj->ni", self.lower, xm)
            + jnp.einsum("nij,nj->ni", self.diag, x)
            + jnp.einsum("nij,nj->ni", self.upper, xp)
        )

    def transpose(self) -> BlockTridiagonal:
        """The transposed matrix (also block tridiagonal)."""
        t = lambda m: jnp.swapaxes(m, -1, -2)  # noqa: E731
        z = jnp.zeros_like(self.diag[:1])
        lower = jnp.concatenate([z, t(self.upper[:-1])])
        upper = jnp.concatenate([t(self.lower[1:]), z])
        return BlockTridiagonal(lower, t(self.diag), upper)

    def dense(self) -> jax.Array:
        """Dense (3N, 3N) matrix (tests and debugging only)."""
        n = self.diag.shape[0]
        m = jnp.zeros((n, 3, n, 3), self.diag.dtype)
        i = jnp.arange(n)
        m = m.at[i, :, i, :].set(self.diag)
        m = m.at[i[1:], :, i[:-1], :].set(self.lower[1:])
        m = m.at[i[:-1], :, i[1:], :].set(self.upper[:-1])
        return m.reshape(3 * n, 3 * n)


def blocks_from_linear_map(lin, n: int, dtype) -> BlockTridiagonal:
    """The blocks of a block-tridiagonal linear map ``lin`` (N,3)->(N,3), from 9 JVPs."""
    node = jnp.arange(n)
    seeds = jnp.stack(
        [
            jnp.zeros((n, 3), dtype).at[:, v].set((node % 3 == c).astype(dtype))
            for c in range(3)
            for v in range(3)
        ]
    )  # (9, N, 3), seed index = 3 c + v
    cols = jax.vmap(lin)(seeds).reshape(3, 3, n, 3)  # [c, v, row node, row eq]

    def pick(colour):  # (N,) colour per row -> block (N, 3 eq, 3 var)
        return jnp.swapaxes(cols[colour, :, node, :], -1, -2)

    lower = pick((node - 1) % 3).at[0].set(0.0)
    upper = pick((node + 1) % 3).at[-1].set(0.0)
    return BlockTridiagonal(lower, pick(node % 3), upper)


def block_jacobian(fun, u: jax.Array, has_aux: bool = False):
    """F(u) (and aux) with the exact block-tridiagonal Jacobian of ``fun`` at ``u``.

    ``fun`` maps (N,3)->(N,3), or to (F, aux) when ``has_aux``; returns (F, J) or
    (F, aux, J).
    """
    if has_aux:
        (f, aux), lin_full = jax.linearize(fun, u)
        jac = blocks_from_linear_map(lambda s: lin_full(s)[0], u.shape[0], u.dtype)
        return f, aux, jac
    f, lin = jax.linearize(fun, u)
    return f, blocks_from_linear_map(lin, u.shape[0], u.dtype)


def _cr_solve(a, b, c, d):
    """Cyclic reduction for size 2^k - 1 systems (a[0] = c[-1] = 0)."""
    n = b.shape[0]
    if n == 1:
        return jnp.linalg.solve(b, d[..., None])[..., 0]
    # keep odd indices 1, 3, ..., eliminate the even ones
    ev = slice(0, None, 2)
    od = slice(1, None, 2)
    ae, be, ce, de = a[ev], b[ev], c[ev], d[ev]
    ao, bo, co, do = a[od], b[od], c[od], d[od]
    # solve with even diagonal blocks once: B_e^{-1} [A_e, C_e, d_e]
    rhs = jnp.concatenate([ae, ce, de[..., None]], axis=-1)  # (ne, 3, 7)
    sol = jnp.linalg.solve(be, rhs)
    inv_a, inv_c, inv_d = sol[..., :3], sol[..., 3:6], sol[..., 6]
    # odd row j (global 2j+1) has neighbours even j (left) and even j+1 (right)
    la, lc, ld = inv_a[:-1], inv_c[:-1], inv_d[:-1]
    ra, rc, rd = inv_a[1:], inv_c[1:], inv_d[1:]
    a2 = -jnp.einsum("nij,njk->nik", ao, la)
    c2 = -jnp.einsum("nij,njk->nik", co, rc)
    b2 = bo - jnp.einsum("nij,njk->nik", ao, lc) - jnp.einsum("nij,njk->nik", co, ra)
    d2 = do - jnp.einsum("nij,nj->ni", ao, ld) - jnp.einsum("nij,nj->ni", co, rd)
    xo = _cr_solve(a2, b2, c2, d2)
    # back-substitute even unknowns: x_e = B^-1 d - B^-1 A x_{left} - B^-1 C x_{right}
    z = jnp.zeros_like(xo[:1])
    x_left = jnp.concatenate([z, xo])
    x_right = jnp.concatenate([xo, z])
    xe = inv_d - jnp.einsum("nij,nj->ni", inv_a, x_left) - jnp.einsum("nij,nj->ni", inv_c, x_right)
    x = jnp.zeros((n, 3), d.dtype)
    return x.at[ev].set(xe).at[od].set(xo)


def solve_block_tridiagonal(mat: BlockTridiagonal, rhs: jax.Array) -> jax.Array:
    """Solve ``mat @ x = rhs`` for x of shape (N, 3) in O(N) work, log2(N) depth.

    Rows are first scaled by their largest entry (row equilibration: the continuity and
    Poisson rows differ by orders of magnitude), then the system is padded with
    identity rows to size 2^k - 1 and solved by block cyclic reduction.
    """
    a, b, c = mat
    n = b.shape[0]
    row_max = jnp.maximum(
        jnp.max(jnp.abs(b), axis=-1),
        jnp.maximum(jnp.max(jnp.abs(a), axis=-1), jnp.max(jnp.abs(c), axis=-1)),
    )
    s = 1.0 / jnp.where(row_max > 0, row_max, 1.0)
    a, b, c, d = a * s[..., None], b * s[..., None], c * s[..., None], rhs * s
    size = 1
    while size - 1 < n:
        size *= 2
    pad = size - 1 - n
    if pad:
        eye = jnp.broadcast_to(jnp.eye(3, dtype=b.dtype), (pad, 3, 3))
        zb = jnp.zeros((pad, 3, 3), b.dtype)
        a = jnp.concatenate([a, zb])
        b = jnp.concatenate([b, eye])
        c = jnp.concatenate([c, zb])
        d = jnp.concatenate([d, jnp.zeros((pad, 3), d.dtype)])
    return _cr_solve(a, b, c, d)[:n]
