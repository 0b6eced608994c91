"""Thin-film optics: dipole emission in the device's planar multilayer.

:mod:`.multilayer` (Fresnel coefficients of a stack) and :mod:`.dipole` (power spectra,
Purcell factor, mode budget) are pure JAX on arrays; :mod:`.stack` builds their inputs
from a :class:`peled.device.Device` and the materials' optical constants.
"""
