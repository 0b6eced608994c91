"""``peled`` command line: a thin layer over the Python API.

The commands live in modules by job, each registering itself on ``main`` when imported:
``cmd_materials`` (materials), ``cmd_device`` (check, diagram), ``cmd_simulate``
(simulate), ``cmd_studies`` (sweep, optimize), ``cmd_optics`` (optics) and ``cmd_validate``
(validate); ``common`` holds the helpers they share.
"""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="peled")
def main() -> None:
    """peled: drift-diffusion simulator for perovskite-nanocrystal LEDs.

    Compiled solvers are kept in JAX's persistent cache under ~/.cache/peled/jax
    ($XDG_CACHE_HOME or $PELED_CACHE_DIR move it; PELED_NO_COMPILATION_CACHE=1 turns it
    off), so a later run of the same device shape skips the compilation.
    """
    # nothing heavy here: `peled <cmd> --help` runs this callback too, and JAX (~3 s to
    # import) is loaded only by the commands that solve (_enable_compilation_cache)


# the command modules import `main` from here to register their commands on it, so they
# are imported after it; the names are re-exported, as peled.cli had them as one module
from peled.cli.cmd_device import check, diagram  # noqa: E402, F401
from peled.cli.cmd_materials import (  # noqa: E402, F401
    materials,
    materials_list,
    materials_show,
    materials_table,
)
from peled.cli.cmd_optics import _scan_layer, optics  # noqa: E402, F401
from peled.cli.cmd_simulate import simulate  # noqa: E402, F401
from peled.cli.cmd_studies import optimize, sweep  # noqa: E402, F401
from peled.cli.cmd_validate import _reference_report_dir, validate  # noqa: E402, F401
from peled.cli.common import (  # noqa: E402, F401
    MESH_NODES,
    PHYSICS_OPTION,
    _add_provenance,
    _check_out_dir,
    _enable_compilation_cache,
    _fail,
    _float_list,
    _load,
    _make_out_dir,
    _remove_if_empty,
    _slug,
    _voltages,
)
