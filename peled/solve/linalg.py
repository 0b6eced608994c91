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
        """Dense (kN, kN) matrix (tests and debugging only)."""
        n, k = self.diag.shape[0], self.diag.shape[-1]
        m = jnp.zeros((n, k, n, k), self.diag.dtype)
        i = jnp.arange(n)
        m = m.at[i, :, i, :].set(self.diag)
        m = m.at[i[1:], :, i[:-1], :].set(self.lower[1:])
        m = m.at[i[:-1], :, i[1:], :].set(self.upper[:-1])
        return m.reshape(k * n, k * n)


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
    by_colour = jnp.transpose(cols, (0, 2, 3, 1))  # [c, row node, row eq, v]

    def pick(colour):  # (N,) colour per row -> block (N, 3 eq, 3 var)
        # a select over the three colours, not a gather (XLA's CPU gathers are element
        # loops); exact, every entry is copied from one product
        sel = colour[:, None, None]
        return jnp.where(sel == 0, by_colour[0], jnp.where(sel == 1, by_colour[1], by_colour[2]))

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


def solve_small(mat: jax.Array, rhs: jax.Array) -> jax.Array:
    """Solve a batch of small dense systems ``mat @ x = rhs``: mat (..., k, k), rhs (..., k, m).

    Gaussian elimination with partial pivoting, a ``fori_loop`` over the k columns (k is
    static and small: 3 for the drift-diffusion blocks), every step elementwise over the
    batch. Why not ``jnp.linalg.solve``: on CPU, jaxlib 0.10 lowers a batched solve to
    LAPACK custom calls (getrf + triangular solves) that are slow for many tiny systems
    (jax issue 36927) and, on a 2-core machine inside ``vmap``, were seen to deadlock in
    the batched getrf's thread pool (docs/decisions/0008). Elementwise code has neither
    problem and vectorizes on every backend.

    The algorithm of LAPACK's unblocked getrf/getrs (row swaps to the largest remaining
    pivot in the column, forward elimination, back substitution), not its operation
    order, so results agree to round-off, not bit for bit; a singular block gives inf/nan,
    as the LAPACK path does.
    """
    k = mat.shape[-1]
    aug = jnp.concatenate([mat, rhs], axis=-1)  # (..., k, k + m)
    # explicit ranks throughout (the test suite runs with jax_numpy_rank_promotion="raise")
    rows = jnp.arange(k).reshape((1,) * (mat.ndim - 2) + (k,))  # (1.., k)

    def eliminate(j, aug):
        # pivot: the largest |entry| of column j among rows j..k-1
        col_j = jax.lax.dynamic_index_in_dim(aug, j, axis=-1, keepdims=False)  # (..., k)
        p = jnp.argmax(jnp.where(rows >= j, jnp.abs(col_j), -1.0), axis=-1)  # (...,)
        row_j = jax.lax.dynamic_index_in_dim(aug, j, axis=-2, keepdims=True)  # (..., 1, k+m)
        row_p = jnp.take_along_axis(aug, p[..., None, None], axis=-2)  # (..., 1, k+m)
        aug = jnp.where((rows == p[..., None])[..., None], row_j, aug)
        aug = jnp.where((rows == j)[..., None], row_p, aug)
        # eliminate column j below the pivot
        pivot = jax.lax.dynamic_index_in_dim(row_p, j, axis=-1, keepdims=False)  # (..., 1)
        col_j = jax.lax.dynamic_index_in_dim(aug, j, axis=-1, keepdims=False)  # after the swap
        factor = jnp.where(rows > j, col_j, 0.0) / pivot  # (..., k)
        return aug - factor[..., None] * row_p

    aug = jax.lax.fori_loop(0, k, eliminate, aug)
    u, y = aug[..., :k], aug[..., k:]

    def back(i, x):
        j = k - 1 - i
        u_j = jax.lax.dynamic_index_in_dim(u, j, axis=-2, keepdims=False)  # (..., k)
        y_j = jax.lax.dynamic_index_in_dim(y, j, axis=-2, keepdims=False)  # (..., m)
        # x rows > j are solved, rows <= j still zero, so the full dot product is the sum
        acc = y_j - jnp.einsum("...l,...lm->...m", jnp.where(rows > j, u_j, 0.0), x)
        u_jj = jax.lax.dynamic_index_in_dim(u_j, j, axis=-1, keepdims=True)  # (..., 1)
        return jnp.where((rows == j)[..., None], (acc / u_jj)[..., None, :], x)

    return jax.lax.fori_loop(0, k, back, jnp.zeros_like(y))


def _pad_odd(a, b, c, d):
    """Append one decoupled identity row when the block count is even, so that every
    kept (odd-index) row of the next level has both neighbours."""
    if b.shape[0] % 2:
        return a, b, c, d
    k = b.shape[-1]
    z = jnp.zeros((1, k, k), b.dtype)
    eye = jnp.eye(k, dtype=b.dtype)[None]
    return (
        jnp.concatenate([a, z]),
        jnp.concatenate([b, eye]),
        jnp.concatenate([c, z]),
        jnp.concatenate([d, jnp.zeros((1, k), d.dtype)]),
    )


def _cr_solve(a, b, c, d):
    """Cyclic reduction for any number of blocks of any size k (a[0] = c[-1] = 0).

    Each level pads to an odd count with at most one identity row (padding once to
    2^m - 1 would nearly double the work for N = 2^m, the mesh sizes peled uses)."""
    n = b.shape[0]
    if n == 1:
        return solve_small(b, d[..., None])[..., 0]
    a, b, c, d = _pad_odd(a, b, c, d)
    # keep odd indices 1, 3, ..., eliminate the even ones
    ev = slice(0, None, 2)
    od = slice(1, None, 2)
    ae, be, ce, de = a[ev], b[ev], c[ev], d[ev]
    ao, bo, co, do = a[od], b[od], c[od], d[od]
    # solve with even diagonal blocks once: B_e^{-1} [A_e, C_e, d_e]
    k = b.shape[-1]
    rhs = jnp.concatenate([ae, ce, de[..., None]], axis=-1)  # (ne, k, 2k + 1)
    sol = solve_small(be, rhs)
    inv_a, inv_c, inv_d = sol[..., :k], sol[..., k : 2 * k], sol[..., 2 * k]
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
    # interleave (xe_0, xo_0, xe_1, ..., xo_last, xe_last) by stack + reshape: XLA on CPU
    # runs the equivalent two strided scatters as slow element loops
    x = jnp.stack([xe[:-1], xo], axis=1).reshape(-1, k)
    return jnp.concatenate([x, xe[-1:]])[:n]


def solve_block_tridiagonal(mat: BlockTridiagonal, rhs: jax.Array) -> jax.Array:
    """Solve ``mat @ x = rhs`` for x of shape (N, k) in O(N) work, log2(N) depth (blocks
    of any size k; the drift-diffusion Jacobian has k = 3).

    Rows are first scaled by their largest entry (row equilibration: the continuity and
    Poisson rows differ by orders of magnitude), then the system is solved by block
    cyclic reduction.
    """
    a, b, c = mat
    row_max = jnp.maximum(
        jnp.max(jnp.abs(b), axis=-1),
        jnp.maximum(jnp.max(jnp.abs(a), axis=-1), jnp.max(jnp.abs(c), axis=-1)),
    )
    s = 1.0 / jnp.where(row_max > 0, row_max, 1.0)
    return _cr_solve(a * s[..., None], b * s[..., None], c * s[..., None], rhs * s)
