"""peled's numerical core: pure JAX functions on arrays.

Nothing in this package reads files, prints, plots or knows a material's name. The
entry points are :func:`peled.core.sweep.solve_sweep` and the per-bias helpers in
:mod:`peled.core.residual`.
"""
