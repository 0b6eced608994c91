"""Device physics as small pure-JAX terms (statistics, transport, recombination, ...).

Every module here works on scaled arrays only: it reads no file, prints nothing, plots
nothing and knows no material names. The numerical core assembles these terms into the
residual; an import contract (``.importlinter``) keeps this package free of imports from
the rest of peled.
"""
