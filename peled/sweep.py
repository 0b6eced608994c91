"""``peled sweep``: design-space screening, batched on one machine or on a Dask cluster.

:func:`run_sweep` solves every candidate of a :class:`peled.sweep_spec.Sweep` and writes

* ``chunks/chunk-<first>-<last>.parquet``: the rows of one finished batch, each written to
  a temporary file and renamed (a killed sweep leaves only whole chunks);
* ``results.parquet`` (and ``results.csv`` on request): all rows, merged atomically;
* ``ranking.csv``, ``pareto.png`` and, for grid sweeps of two or more axes, ``heatmap.png``;
* ``sweep.json``: the sweep's fingerprint and its parts (base device, axes, sampling,
  biases, mesh, solver settings, a digest of each database material used), so that
  ``resume`` refuses a changed sweep, solver setting or material file and says what changed.

The chunks and ``sweep.json`` are written and read by :mod:`peled.sweep_store`.

Batching: candidates with the same layer count share array shapes (the mesh has
``nodes_per_layer`` nodes in every layer), and each shape group runs in batches through
``jax.jit(jax.vmap(solve_sweep))``, built once per shape. The last batch is padded by
repeating its last candidate so that every batch has the same shape and nothing recompiles.
Batch size (docs/user-guide/sweep.md):

    bytes per candidate  B = 8 (3 M N + 256 N)
    batch = min(cap, max(1, floor(0.25 * available memory / B)))

with M biases, N nodes, cap = 32 (a vmapped Newton loop runs until the slowest member has
converged, so very large batches waste work); a user ``batch_size`` overrides it. On a CPU
backend a batch's candidates are solved one by one by default (measured faster than vmap
there, docs/user-guide/sweep.md); the batch stays the unit of work, chunk writing and resume.

Each row holds the candidate id, its inputs (axis columns named as in
:func:`peled.sweep_spec.layer_column_label`, units in the names), and the figures of merit
of :func:`peled.metrics.summarize` (``eqe_max_percent`` is the EQE maximum over the
biases whose current is resolved and which converged strictly, NaN where there are none;
``eqe_max_all_biases_percent`` the maximum over every converged bias and
``eqe_max_all_biases_trusted`` whether it lies at a trusted bias) plus

    eqe_rolloff_percent = 100 (1 - EQE(V_last) / EQE_max)

where V_last is the highest bias with a finite EQE (0: no roll-off inside the sweep), the
luminance and the EQE at each ``luminance_voltages_V`` (linear interpolation between the
two neighbouring biases, NaN if either is not converged) and the convergence record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from peled.core.newton import SolverSettings, solve_sweep
from peled.core.params import MeshSpec, stack_arrays
from peled.device import device_from_mapping
from peled.errors import PeledInputError
from peled.io import atomic_path
from peled.runtime import release_compiled_code_if_near_limit
from peled.simulate import SimulationResult, result_from_states
from peled.sweep_analysis import pareto_mask, ranking, write_analysis  # noqa: F401
from peled.sweep_spec import Candidate, Sweep, eqe_column, load_sweep, luminance_column
from peled.sweep_store import (  # noqa: F401  (re-exported)
    _check_manifest,
    _write_chunk,
    _write_parquet,
    fingerprint_changes,
    read_chunks,
)

BATCH_CAP = 32
#: What the progress bar says until the first batch is done.
COMPILING_NOTE = "compiling the solver with the first batch (once per stack shape)"
MEMORY_FRACTION = 0.25
SUMMARY_KEYS = (
    "eqe_max_percent",
    "voltage_at_eqe_max_V",
    "current_density_at_eqe_max_mA_cm2",
    "eqe_max_all_biases_percent",
    "voltage_at_eqe_max_all_biases_V",
    "current_density_at_eqe_max_all_biases_mA_cm2",
    "luminance_max_cd_m2",
    "turn_on_voltage_V",
    "current_density_at_half_eqe_mA_cm2",
)


@dataclass(frozen=True)
class RunConfig:
    """What a batch task needs besides its candidates (picklable, sent to Dask workers)."""

    voltages_V: tuple[float, ...]
    mesh: MeshSpec
    settings: SolverSettings
    luminance_voltages_V: tuple[float, ...]


# ---------------------------------------------------------------- solving one batch

_SOLVERS: dict[tuple, Callable] = {}


def batched_solver(shape_key: tuple, settings: SolverSettings) -> Callable:
    """``jax.jit(jax.vmap(solve_sweep))`` for one array shape, built once and reused."""
    key = (shape_key, settings)
    if key not in _SOLVERS:
        _SOLVERS[key] = jax.jit(
            jax.vmap(partial(solve_sweep, settings=settings), in_axes=(0, None))
        )
    return _SOLVERS[key]


def memory_per_candidate_bytes(n_biases: int, n_nodes: int) -> int:
    """B = 8 (3 M N + 256 N) bytes: the (M, N, 3) states of the sweep plus ~256 doubles per
    node of Newton work space (the 3x3-block tridiagonal Jacobian, 27 N doubles, its
    factorization, forward-mode tangents, residual, scale and line-search copies)."""
    return 8 * (3 * n_biases * n_nodes + 256 * n_nodes)


def available_memory_bytes() -> int:
    """Physical memory not in use [bytes] (sysconf), or 4 GiB where it cannot be read."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def auto_batch_size(n_biases: int, n_nodes: int, cap: int = BATCH_CAP) -> int:
    """min(cap, floor(0.25 * available memory / B)), at least 1."""
    fit = int(
        MEMORY_FRACTION * available_memory_bytes() // memory_per_candidate_bytes(n_biases, n_nodes)
    )
    return max(1, min(cap, fit))


def balanced_batch_size(n_candidates: int, max_batch: int, n_workers: int = 1) -> int:
    """The batch size that splits ``n_candidates`` into the fewest batches of at most
    ``max_batch``, rounded up to a multiple of ``n_workers`` batches, with the least padding:
    n_b = n_workers ceil(ceil(n / max_batch) / n_workers), batch = ceil(n / n_b)."""
    if n_candidates <= 0:
        return max(1, max_batch)
    n_b = math.ceil(n_candidates / max(1, max_batch))
    n_b = min(n_candidates, n_workers * math.ceil(n_b / max(1, n_workers)))
    return math.ceil(n_candidates / n_b)


def _interp_at(v: np.ndarray, y: np.ndarray, x: float) -> float:
    k = int(np.searchsorted(v, x))
    if k < v.size and math.isclose(v[k], x, abs_tol=1e-9):
        return float(y[k])
    if k == 0 or k >= v.size:
        return math.nan
    t = (x - v[k - 1]) / (v[k] - v[k - 1])
    return float(y[k - 1] + t * (y[k] - y[k - 1]))


def candidate_row(cand: Candidate, res: SimulationResult, cfg: RunConfig) -> dict[str, Any]:
    """One results row: id, inputs and the candidate's figures of merit (NaN if absent)."""
    s = res.summary()
    row: dict[str, Any] = {"candidate_id": cand.candidate_id, "candidate_index": cand.index}
    row.update(cand.inputs)
    for k in SUMMARY_KEYS:
        row[k] = math.nan if s[k] is None else float(s[k])
    row["turn_on_below_sweep_start"] = bool(s["turn_on_below_sweep_start"])
    # the light-extraction model behind every EQE and luminance of the row, and its
    # (effective) outcoupling [-]: candidates that change the optics are comparable
    row["outcoupling_model"] = str(s["outcoupling_model"])
    row["outcoupling"] = float(s["outcoupling"])
    # whether the maximum over every bias lies at a trusted one (|J| above its round-off
    # floor, strict result: SimulationResult.trusted), i.e. equals eqe_max_percent
    row["eqe_max_all_biases_trusted"] = bool(s["eqe_max_all_biases_trusted"])
    eqe = res.eqe_percent
    finite = np.nonzero(np.isfinite(eqe))[0]
    if finite.size and row["eqe_max_percent"] > 0:
        row["eqe_rolloff_percent"] = 100.0 * (1.0 - eqe[finite[-1]] / row["eqe_max_percent"])
    else:
        row["eqe_rolloff_percent"] = math.nan
    j = res.current_density_mA_cm2
    row["current_density_max_mA_cm2"] = float(np.nanmax(j)) if np.any(np.isfinite(j)) else math.nan
    for lv in cfg.luminance_voltages_V:
        row[luminance_column(lv)] = _interp_at(res.voltage_V, res.luminance_cd_m2, lv)
        row[eqe_column(lv)] = _interp_at(res.voltage_V, res.eqe_percent, lv)
    row["n_converged"] = int(np.sum(res.converged))
    row["n_biases"] = int(res.voltage_V.size)
    row["all_converged"] = bool(np.all(res.converged))
    return row


def solve_batch(
    cands: Sequence[Candidate],
    cfg: RunConfig,
    batched: bool | None = None,
    pad_to: int | None = None,
) -> list[dict[str, Any]]:
    """Solve candidates (one vmap batch, padded to ``pad_to``, or one by one) -> rows.

    ``batched=None`` decides where it runs: vmap on an accelerator, one by one on a CPU
    (where a vmapped batch measured slower than sequential solves, docs/user-guide/sweep.md). Runs
    inside ``jax.enable_x64(True)``, so it is also the Dask task function.
    """
    if batched is None:
        batched = jax.default_backend() != "cpu"
    # each new shape compiles a sweep: stay clear of the memory-map limit (peled.runtime)
    release_compiled_code_if_near_limit()
    v = np.asarray(cfg.voltages_V, dtype=np.float64)
    with jax.enable_x64(True):
        devices = [device_from_mapping(c.mapping, f"candidate {c.candidate_id}") for c in cands]
        arrays = [d.to_arrays(cfg.mesh) for d in devices]
        vj = jnp.asarray(v)
        if batched:
            n = len(arrays)
            padded = arrays + [arrays[-1]] * max(0, (pad_to or n) - n)
            shape = (arrays[0].n_layers, arrays[0].n_nodes, len(padded), v.size)
            states = batched_solver(shape, cfg.settings)(stack_arrays(padded), vj)
            states = jax.tree_util.tree_map(np.asarray, states)
            per = [jax.tree_util.tree_map(lambda a, i=i: a[i], states) for i in range(n)]
        else:
            per = [solve_sweep(a, vj, cfg.settings) for a in arrays]
        return [
            candidate_row(c, result_from_states(d, a, v, s), cfg)
            for c, d, a, s in zip(cands, devices, arrays, per, strict=True)
        ]


# ---------------------------------------------------------------- running a sweep


@dataclass(frozen=True)
class SweepOutcome:
    """What :func:`run_sweep` produced: the rows (DataFrame) and the files written."""

    results: Any  # pandas.DataFrame
    files: dict[str, Path]
    ranking_text: str
    n_solved: int
    batch_size: int


def sweep_candidates(sweep: Sweep, n_samples: int | None = None) -> tuple[Sweep, list[Candidate]]:
    """The sweep and the candidates a run solves; ``n_samples`` makes a smaller trial.

    random / latin_hypercube: the same method and seed with ``n_samples`` draws (a new
    sampling, so its fingerprint differs from the file's). grid: ``n_samples`` of its
    candidates spread evenly through the grid order (indices round(linspace(0, n - 1,
    n_samples))), keeping their grid ids and inputs, so that a later ``resume`` of the full
    grid in the same folder adds the rest; more than the grid holds is refused.
    """
    if n_samples is None:
        return sweep, sweep.candidates()
    if n_samples < 1:
        raise PeledInputError(f"--n-samples {n_samples}: allowed a positive integer")
    if sweep.method != "grid":
        sweep = dataclasses.replace(sweep, n_samples=int(n_samples))
        return sweep, sweep.candidates()
    cands = sweep.candidates()
    if n_samples > len(cands):
        raise PeledInputError(
            f"--n-samples {n_samples}: the grid of {sweep.source} has {len(cands)} candidates; "
            f"allowed 1 to {len(cands)}"
        )
    picks = sorted({int(round(x)) for x in np.linspace(0, len(cands) - 1, n_samples)})
    return sweep, [cands[i] for i in picks]


def run_sweep(
    sweep: Sweep | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    scheduler: Any = None,
    batch_size: int | None = None,
    batched: bool | None = None,
    csv: bool = False,
    progress: bool = True,
    settings: SolverSettings | None = None,
    on_chunk: Callable[[Path, list[dict[str, Any]]], None] | None = None,
    analysis: bool = True,
    n_samples: int | None = None,
) -> SweepOutcome:
    """Solve every candidate not yet in ``out_dir`` and write results and analysis.

    ``scheduler``: None (in-process), a ``tcp://host:port`` address or a
    ``distributed.Client``; ``batched``: True runs each batch as one vmap, False solves
    its candidates one by one, None (default) picks vmap on accelerators and one by one on
    CPUs, in the process that runs the batch; ``on_chunk(path, rows)`` is called after
    each chunk file is written; ``n_samples``: a smaller trial
    (:func:`sweep_candidates`).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    out = Path(out_dir)
    sweep, cands = sweep_candidates(sweep, n_samples)
    out.mkdir(parents=True, exist_ok=True)
    # every candidate is built (validated) before the first solve: a bad value fails now,
    # naming the sweep file, not hours later inside a batch
    for c in cands:
        sweep.build(c)
    settings = settings or SolverSettings()
    _check_manifest(out, sweep, len(cands), resume, settings)
    done = set(read_chunks(out).get("candidate_id", []))
    pending = [c for c in cands if c.candidate_id not in done]
    cfg = RunConfig(
        tuple(float(x) for x in sweep.voltages_V),
        sweep.mesh,
        settings,
        sweep.luminance_voltages_V,
    )
    n_nodes_of = {}
    groups: dict[int, list[Candidate]] = {}
    for c in pending:  # same layer count -> same array shapes (fixed nodes per layer)
        k = len(c.mapping["layers"])
        groups.setdefault(k, []).append(c)
        n_nodes_of[k] = k * sweep.mesh.nodes_per_layer
    client, own_client = _client(scheduler)
    try:
        n_workers = len(client.scheduler_info()["workers"]) if client is not None else 1
        if n_workers == 0:
            raise PeledInputError(
                f"--scheduler: the Dask cluster at {scheduler!r} has no workers; start one "
                "(dask worker <address>) and run again"
            )
        size = batch_size or sweep.batch_size
        jobs: list[tuple[list[Candidate], int]] = []
        for k, group in groups.items():
            bs = balanced_batch_size(
                len(group),
                size or auto_batch_size(sweep.voltages_V.size, n_nodes_of[k]),
                n_workers,
            )
            jobs += [(group[i : i + bs], bs) for i in range(0, len(group), bs)]
        used = max((b for _, b in jobs), default=size or 0)
        bar = _progress(progress, len(cands), len(done), sweep.name)
        try:
            with contextlib.closing(_execute(jobs, cfg, batched, client)) as finished:
                for rows in finished:
                    path = _write_chunk(out, rows)
                    if bar is not None:
                        if bar.postfix == COMPILING_NOTE:
                            bar.set_postfix_str("", refresh=False)
                        bar.update(len(rows))
                    if on_chunk is not None:
                        on_chunk(path, rows)
        finally:
            if bar is not None:
                bar.close()
    finally:
        if own_client:
            client.close()
    results = read_chunks(out)
    files = {"results": _write_parquet(results, out / "results.parquet")}
    if csv:
        with atomic_path(out / "results.csv") as tmp:
            results.to_csv(tmp, index=False, float_format="%.10g")
        files["results_csv"] = out / "results.csv"
    text = ""
    if analysis and len(results):
        text, more = write_analysis(results, sweep, out)
        files.update(more)
    return SweepOutcome(results, files, text, len(pending), used)


def _client(scheduler):
    if scheduler is None:
        return None, False
    from distributed import Client

    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        try:
            return Client(scheduler, timeout="20s"), True
        except (OSError, TimeoutError) as err:
            raise PeledInputError(
                f"--scheduler {scheduler!r}: cannot connect to a Dask scheduler there ({err}); "
                "give the address a running 'dask scheduler' prints, tcp://host:port"
            ) from None
    raise PeledInputError(f"scheduler: expected a 'tcp://host:port' address, got {scheduler!r}")


def _progress(enabled: bool, total: int, initial: int, name: str):
    if not enabled:
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, unit="cand", desc=f"sweep {name}", smoothing=0.1)
    # no candidate finishes before the first batch's solver is compiled (a minute or more
    # on 2 cores, once per stack shape): say so instead of showing an empty rate
    bar.set_postfix_str(COMPILING_NOTE)
    return bar


def _execute(jobs, cfg: RunConfig, batched: bool | None, client):
    """Yield the rows of each finished batch (in-process, or as Dask futures complete)."""
    if client is None:
        for group, bs in jobs:
            yield solve_batch(group, cfg, batched, bs)
        return
    from distributed import as_completed

    futures = [client.submit(solve_batch, g, cfg, batched, bs, pure=False) for g, bs in jobs]
    try:
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.cancel(futures)


# ---------------------------------------------------------------- analysis
