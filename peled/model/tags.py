"""Evaluating a term chosen per entry by a static tag, once per tag.

A device's layers choose their statistics and mobility terms by static tags, and the
residual evaluates them on nodes, edges and contacts, whose layers alternate
(left and right of every interface). Evaluating each *run* of equal tags separately puts
one copy of a term in the compiled program per run: the disordered green device had 14
copies of the Gauss-Fermi quadrature in one residual. :func:`evaluate_by_tag` gathers
every entry of a tag (static indices), evaluates the term once on them and puts the
results back in place by a static permutation, so the program holds one copy per tag.
The terms are elementwise, so the values are the same as run by run.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


def groups(tags: Sequence[Hashable]) -> list[tuple[Hashable, np.ndarray]]:
    """(tag, indices of its entries) for each distinct tag, in order of first appearance
    (static)."""
    order: dict[Hashable, list[int]] = {}
    for i, t in enumerate(tags):
        order.setdefault(t, []).append(i)
    return [(t, np.asarray(idx, dtype=np.int64)) for t, idx in order.items()]


def take(a: jax.Array, idx: np.ndarray) -> jax.Array:
    """a[idx] along the first axis for static indices: a slice when they are contiguous."""
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return a[int(idx[0]) : int(idx[0]) + idx.size]
    return a[idx]


def place(pieces: Sequence[jax.Array], index_groups: Sequence[np.ndarray]) -> jax.Array:
    """The array whose entries ``index_groups[g]`` are ``pieces[g]`` (the groups partition
    0..E-1): one concatenation and one static gather."""
    if len(pieces) == 1:
        return pieces[0]
    order = np.concatenate(index_groups)
    inverse = np.argsort(order, kind="stable")
    return jnp.concatenate(pieces)[inverse]


def evaluate_by_tag(
    tags: Sequence[Hashable], evaluate: Callable[..., jax.Array], *arrays: jax.Array
) -> jax.Array:
    """out[i] = evaluate(tags[i], *(a[i] for a in arrays)), with ``evaluate`` traced once
    per distinct tag on all of that tag's entries (arrays of shape (E, ...))."""
    grouped = groups(tags)
    pieces = [evaluate(t, *(take(a, idx) for a in arrays)) for t, idx in grouped]
    return place(pieces, [idx for _, idx in grouped])
