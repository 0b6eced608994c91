"""The solver: Newton with line search and acceptance rules, bias continuation with its
retry passes, and block-tridiagonal linear algebra, for any problem F(u; params, V) = 0.

It knows a residual, its block-tridiagonal Jacobian (built here by colouring) and a small
protocol of physical quantities (:class:`peled.solve.problem.Problem`), and imports
nothing from the physics (``peled.model``) or the device core (``peled.core``): the
device problem is bound in :mod:`peled.core.newton`.

* :mod:`.problem` -- the protocol and the layout of the unknowns per node;
* :mod:`.settings` -- :class:`~.settings.SolverSettings` and the result codes;
* :mod:`.newton` -- one bias point: damped Newton, line search, acceptance rules;
* :mod:`.continuation` -- equilibrium and the whole sweep with its retry passes;
* :mod:`.linalg` -- block cyclic reduction, its transpose, the coloured Jacobian.
"""
