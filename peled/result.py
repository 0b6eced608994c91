"""``peled.result``: the result of a simulation: the J-V-L table, the figures of merit and
the profiles of one device's sweep (:class:`SimulationResult`, numpy arrays, units in
names), with its J-V-L table as a DataFrame, its summary and its plots.

A data module: it solves nothing. :func:`peled.simulate.simulate` (and
:func:`peled.simulate.result_from_states`) build the result; ``peled.simulate`` re-exports
:class:`SimulationResult`, so ``from peled.simulate import SimulationResult`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from peled.core.newton import (
    RESULT_CODES,
    RESULT_FAILED,
    result_code_names,
    strictly_converged,
)
from peled.device import Device
from peled.photometry import SpectrumMetrics


def _code_order(code: int) -> int:
    # converged codes first (in increasing order), failed last
    return (1 << 30) if code == RESULT_FAILED else code


@dataclass(frozen=True)
class SimulationResult:
    """Everything a J-V-L simulation produced (numpy arrays, units in names)."""

    device: Device
    voltage_V: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    residual_norm: np.ndarray
    current_density_mA_cm2: np.ndarray
    current_spread: np.ndarray
    radiative_current_mA_cm2: np.ndarray
    recombination_current_mA_cm2: np.ndarray
    outcoupled_photon_flux_m2_s: np.ndarray
    luminance_cd_m2: np.ndarray
    eqe_percent: np.ndarray
    current_efficiency_cd_A: np.ndarray
    power_efficiency_lm_W: np.ndarray
    outcoupling: float
    spectrum: SpectrumMetrics | None
    position_nm: np.ndarray
    node_layer: np.ndarray
    profiles: dict[str, np.ndarray] = field(repr=False)
    # charge balance of the first emitter (NaN-free only where converged; None: no emitter)
    emitter_electron_current_mA_cm2: np.ndarray | None = None
    emitter_hole_current_mA_cm2: np.ndarray | None = None
    electron_hole_current_ratio: np.ndarray | None = None
    charge_balance_factor: np.ndarray | None = None
    emitter_electron_hole_sheet_density_ratio: np.ndarray | None = None
    emitter_recombination_fraction: np.ndarray | None = None
    radiative_weight: np.ndarray | None = field(default=None, repr=False)  # (N,) photons/event
    # |J| below this [mA/cm^2] is round-off (peled.core.observables); NaN where not converged
    current_floor_mA_cm2: np.ndarray | None = None
    # (M,) int: how each bias was accepted (peled.core.newton.SweepStates.result_code;
    # names in RESULT_CODES, per bias in ``result``); None: not recorded
    result_code: np.ndarray | None = None
    # how ``outcoupling`` was obtained: "constant" (the device's value), "ray_optics"
    # (1/(2 n^2)) or "dipole" (peled.optics.coupling: per node, Purcell included; then
    # ``outcoupling`` is its mean over the emitter's nodes and ``effective_outcoupling``
    # (M,) the photons to air per photon emitted at each bias, for its recombination zone)
    outcoupling_model: str = "ray_optics"
    effective_outcoupling: np.ndarray | None = None
    optics: Any = field(default=None, repr=False)  # peled.optics.coupling.DeviceOutcoupling
    # (M, N) photons the film emits from each node's cell [m^-2 s^-1] (NaN where not
    # converged): the recombination zone as light sources
    photon_rate_m2_s: np.ndarray | None = field(default=None, repr=False)
    # where the current recombines or leaves [mA/cm^2] (peled.core.observables):
    # (M, K) per layer, (M, K-1) per interface, (M,) minority carriers leaving at the
    # anode (electrons) and the cathode (holes); J = their sum. NaN where not converged.
    layer_recombination_current_mA_cm2: np.ndarray | None = None
    interface_recombination_current_mA_cm2: np.ndarray | None = None
    electron_leakage_mA_cm2: np.ndarray | None = None
    hole_leakage_mA_cm2: np.ndarray | None = None

    #: result code -> name ("strict", "floor", ..., "failed"), as in peled.core.newton
    RESULT_CODES = RESULT_CODES

    @property
    def result(self) -> np.ndarray:
        """Per bias: the name of its result code ("strict": the forward sweep converged it
        by the strict residual and update tests; "failed": not converged; the other names
        in :data:`peled.core.newton.RESULT_CODES`). Without recorded codes: "converged" or
        "failed"."""
        if self.result_code is None:
            return np.where(self.converged, "converged", "failed").astype(object)
        return result_code_names(self.result_code)

    @property
    def strictly_converged(self) -> np.ndarray:
        """Per bias: accepted by the strict residual and update tests (on any pass), the
        points whose implicit gradients :mod:`peled.objectives` reports by default."""
        if self.result_code is None:
            return self.converged.copy()
        return np.asarray(strictly_converged(self.result_code))

    @property
    def trusted(self) -> np.ndarray:
        """Per bias: figures that can be quoted, |J| above its round-off floor
        (``current_resolved``) and accepted by the strict tests on the forward pass
        (result name "strict")."""
        return np.asarray(self.current_resolved, bool) & (np.asarray(self.result) == "strict")

    def result_counts(self) -> dict[str, int]:
        """How many biases carry each result name (names in code order, only those
        present), e.g. {"strict": 15, "failed": 2}."""
        names = self.result
        if self.result_code is None:
            order = ["converged", "failed"]
        else:
            order = [RESULT_CODES[c] for c in sorted(RESULT_CODES, key=_code_order)]
        return {n: int(np.sum(names == n)) for n in order if np.any(names == n)}

    @property
    def current_resolved(self) -> np.ndarray:
        """Per bias: converged and |J| above the float64 resolution of the current
        (``current_floor_mA_cm2``). Where False, J and the ratios to it (EQE, current and
        power efficiency) may be round-off: check them against a second mesh or solver."""
        if self.current_floor_mA_cm2 is None:
            return self.converged.copy()
        with np.errstate(invalid="ignore"):
            above = np.abs(self.current_density_mA_cm2) > self.current_floor_mA_cm2
        return self.converged & above

    def to_dataframe(self):
        """The J-V-L table as a pandas DataFrame (columns of jv.csv)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "voltage_V": self.voltage_V,
                "current_density_mA_cm2": self.current_density_mA_cm2,
                "luminance_cd_m2": self.luminance_cd_m2,
                "eqe_percent": self.eqe_percent,
                "current_efficiency_cd_A": self.current_efficiency_cd_A,
                "power_efficiency_lm_W": self.power_efficiency_lm_W,
                "radiative_current_mA_cm2": self.radiative_current_mA_cm2,
                "recombination_current_mA_cm2": self.recombination_current_mA_cm2,
                **(
                    {}
                    if self.effective_outcoupling is None
                    else {"outcoupling_effective": self.effective_outcoupling}
                ),
                **self._balance_columns(),
                **self._recombination_columns(),
                "current_floor_mA_cm2": (
                    self.current_floor_mA_cm2
                    if self.current_floor_mA_cm2 is not None
                    else np.full_like(self.voltage_V, np.nan)
                ),
                "current_resolved": self.current_resolved,
                "converged": self.converged,
                "result": self.result,
                "newton_iterations": self.iterations,
                "residual_norm": self.residual_norm,
            }
        )

    def layer_labels(self) -> list[str]:
        """The layers' material names as the device file gives them, with a 1-based
        position appended where a material occurs more than once."""
        names = [lay.material.name for lay in self.device.layers]
        return [f"{n}_{k + 1}" if names.count(n) > 1 else n for k, n in enumerate(names)]

    def _recombination_columns(self) -> dict[str, np.ndarray]:
        """jv.csv columns saying where the current recombines or leaves [mA/cm^2]:
        ``recombination_<layer>_mA_cm2`` per layer, ``interface_recombination_<a>|<b>
        _mA_cm2`` per interface, ``electron_leakage_anode_mA_cm2`` and
        ``hole_leakage_cathode_mA_cm2``; they add up to the current density."""
        if self.layer_recombination_current_mA_cm2 is None:
            return {}
        labels = self.layer_labels()
        cols = {
            f"recombination_{lab}_mA_cm2": self.layer_recombination_current_mA_cm2[:, k]
            for k, lab in enumerate(labels)
        }
        for k in range(len(labels) - 1):
            cols[f"interface_recombination_{labels[k]}|{labels[k + 1]}_mA_cm2"] = (
                self.interface_recombination_current_mA_cm2[:, k]
            )
        cols["electron_leakage_anode_mA_cm2"] = self.electron_leakage_mA_cm2
        cols["hole_leakage_cathode_mA_cm2"] = self.hole_leakage_mA_cm2
        return cols

    def _balance_columns(self) -> dict[str, np.ndarray]:
        if self.emitter_electron_current_mA_cm2 is None:
            return {}
        return {
            "emitter_electron_current_in_mA_cm2": self.emitter_electron_current_mA_cm2,
            "emitter_hole_current_in_mA_cm2": self.emitter_hole_current_mA_cm2,
            "electron_hole_current_ratio": self.electron_hole_current_ratio,
            "charge_balance_factor": self.charge_balance_factor,
            "emitter_electron_hole_sheet_density_ratio": (
                self.emitter_electron_hole_sheet_density_ratio
            ),
            "emitter_recombination_fraction": self.emitter_recombination_fraction,
        }

    def zone_summary(self, bias_index: int) -> dict[str, Any]:
        """Recombination-zone metrics at one bias (see :func:`peled.metrics.zone_summary`)."""
        from peled.metrics import zone_summary

        return zone_summary(self, bias_index)

    def summary(self, profile_biases_V: Sequence[float] | None = None) -> dict[str, Any]:
        """Device figures of merit (keys of summary.json); recombination zones at the
        converged biases nearest to ``profile_biases_V`` [V] (default: turn-on, EQE_max,
        highest bias)."""
        from peled.metrics import summarize

        return summarize(self, profile_biases_V)

    def plot(self, out_dir, biases_V: Sequence[float] | None = None) -> list:
        """Write the standard PNG plots into ``out_dir``; returns their paths."""
        from peled.plotting import plot_all

        return plot_all(self, out_dir, biases_V)
