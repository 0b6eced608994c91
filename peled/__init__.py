"""peled: a JAX drift-diffusion simulator for perovskite-nanocrystal LEDs.

Public API::

    device = peled.load_device("device.yaml")  # or peled.default_device_path()
    result = peled.simulate(device, voltages)
    result.to_dataframe(); result.summary(); result.plot("out/")

Importing peled sets no JAX flags, prints nothing and picks no matplotlib backend; the
public entry points run inside ``jax.enable_x64(True)``. The names below are imported on
first use (PEP 562), so that ``import peled`` and ``peled --help`` do not load JAX.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from peled.core.newton import SolverSettings
    from peled.core.params import MeshSpec
    from peled.device import Device, default_device_path, device_from_mapping, load_device
    from peled.errors import PeledInputError
    from peled.materials import MaterialDatabase, load_material
    from peled.simulate import SimulationResult, simulate

#: public name -> the module that defines it
_EXPORTS = {
    "Device": "peled.device",
    "MaterialDatabase": "peled.materials",
    "MeshSpec": "peled.core.params",
    "PeledInputError": "peled.errors",
    "SimulationResult": "peled.simulate",
    "SolverSettings": "peled.core.newton",
    "default_device_path": "peled.device",
    "device_from_mapping": "peled.device",
    "load_device": "peled.device",
    "load_material": "peled.materials",
    "simulate": "peled.simulate",
}

__all__ = [
    "Device",
    "MaterialDatabase",
    "MeshSpec",
    "PeledInputError",
    "SimulationResult",
    "SolverSettings",
    "default_device_path",
    "device_from_mapping",
    "load_device",
    "load_material",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'peled' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


class _Package(types.ModuleType):
    """The peled package object: importing a submodule whose name is also a public
    function (``peled.simulate``) does not rebind that name to the submodule, so
    ``peled.simulate(...)`` stays the function, whatever was imported first (the module
    stays reachable as ``sys.modules["peled.simulate"]``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
