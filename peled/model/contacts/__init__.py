"""Contact terms: image-force lowering of the injection barrier (:mod:`.image_force`).

The ohmic/Dirichlet and finite-surface-velocity contact rows are assembled in the core's
residual from the equilibrium contact densities that the layer's statistics give.
"""
