"""Sweep throughput (candidates/s): batched vs sequential, 1 vs 2 Dask workers.

256 candidates of the green example (layer-1 HTL x TPBi thickness grid, 16 x 16), 0-8 V in 0.1 V
steps (81 biases), 32 nodes per layer (the sweep default). Every mode is warmed up first
(the jitted solvers compiled in the process or on every Dask worker), so the figures are
warm throughput. Set PELED_SWEEP_BENCH_N to a square number (e.g. 36) for a reduced run.
Figures go to docs/user-guide/sweep.md; run with ``make bench``.
"""

import math
import os

import jax
import pytest

from peled.device import default_device_path
from peled.sweep import RunConfig, balanced_batch_size, run_sweep, solve_batch
from peled.sweep_spec import sweep_from_mapping

jax.config.update("jax_enable_x64", True)

N = int(os.environ.get("PELED_SWEEP_BENCH_N", "256"))
SIDE = math.isqrt(N)


def bench_sweep(batch_size=None):
    side = [float(x) for x in range(SIDE)]
    spec = {
        "name": f"bench {SIDE * SIDE}",
        "base_device": str(default_device_path()),
        "axes": [
            {"layer": 1, "parameter": "thickness_nm", "values": [10 + 50 * s / SIDE for s in side]},
            {"layer": 3, "parameter": "thickness_nm", "values": [20 + 50 * s / SIDE for s in side]},
        ],
        "voltages": {"start_V": 0, "stop_V": 8, "step_V": 0.1},
        "mesh": {"nodes_per_layer": 32},
    }
    if batch_size:
        spec["batch_size"] = batch_size
    return sweep_from_mapping(spec, "bench")


def _config(sw):
    from peled.core.newton import SolverSettings

    return RunConfig(tuple(sw.voltages_V), sw.mesh, SolverSettings(), ())


def _time(benchmark, fn, n):
    out = benchmark.pedantic(fn, rounds=1, iterations=1)
    benchmark.extra_info["candidates"] = n
    benchmark.extra_info["candidates_per_s"] = n / benchmark.stats.stats.mean
    print(f"\n{benchmark.name}: {n / benchmark.stats.stats.mean:.3f} candidates/s")
    return out


@pytest.mark.parametrize("batch_size", [8, 32])
def test_sweep_batched(benchmark, tmp_path, batch_size):
    sw = bench_sweep(batch_size)
    cands = sw.candidates()
    solve_batch(cands[:batch_size], _config(sw), True, batch_size)  # compile
    out = _time(
        benchmark, lambda: run_sweep(sw, tmp_path, batched=True, progress=False), len(cands)
    )
    benchmark.extra_info["all_converged"] = int(out.results["all_converged"].sum())


def test_sweep_sequential(benchmark, tmp_path):
    sw = bench_sweep()
    cands = sw.candidates()
    solve_batch(cands[:1], _config(sw), False)  # compile
    _time(benchmark, lambda: run_sweep(sw, tmp_path, batched=False, progress=False), len(cands))


@pytest.mark.parametrize("vmap", [False, True], ids=["one-by-one", "vmap"])
@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_dask_workers(benchmark, tmp_path, workers, vmap):
    from distributed import Client, LocalCluster

    sw = bench_sweep(32)
    cands = sw.candidates()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        bs = balanced_batch_size(len(cands), 32, workers)  # what run_sweep will use
        warm = cands[:bs] if vmap else cands[:1]
        client.run(solve_batch, warm, _config(sw), vmap, bs)  # compile on every worker
        _time(
            benchmark,
            lambda: run_sweep(sw, tmp_path, scheduler=client, batched=vmap, progress=False),
            len(cands),
        )
