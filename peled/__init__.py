"""peled: a JAX drift-diffusion simulator for perovskite-nanocrystal LEDs.

Public API::

    device = peled.load_device("device.yaml")  # or peled.default_device_path()
    result = peled.simulate(device, voltages)
    result.to_dataframe(); result.summary(); result.plot("out/")

Importing peled sets no JAX flags, prints nothing and picks no matplotlib backend; the
public entry points run inside ``jax.enable_x64(True)``.
"""

from peled.core.newton import SolverSettings
from peled.core.params import MeshSpec
from peled.device import Device, default_device_path, device_from_mapping, load_device
from peled.errors import PeledInputError
from peled.materials import MaterialDatabase, load_material
from peled.simulate import SimulationResult, simulate

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
