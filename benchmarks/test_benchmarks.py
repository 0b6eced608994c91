"""Speed benchmarks (pytest-benchmark; run with `make bench`). Never asserted in tests."""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from devices import layer  # noqa: E402

from peled.core.discretize import build_arrays  # noqa: E402
from peled.core.newton import DEVICE_PROBLEM, SolverSettings, solve_sweep  # noqa: E402
from peled.core.params import MeshSpec  # noqa: E402
from peled.solve.continuation import solve_sweep as compiled_sweep  # noqa: E402

jax.config.update("jax_enable_x64", True)


PIN_LAYERS = (
    layer(50, 3.0, 2.0, 1e-2, 1e-2, eps=10, acceptor_density_m3=1e24),
    layer(100, 3.0, 2.0, 1e-2, 1e-2, eps=10, radiative_coefficient_m3_s=1e-17),
    layer(50, 3.0, 2.0, 1e-2, 1e-2, eps=10, donor_density_m3=1e24),
)


def pin_arrays(nodes_total, anode_work_function_eV=4.9, cathode_work_function_eV=3.1):
    """The benchmark p-i-n (50 nm p / 100 nm i / 50 nm n, 1e18 cm^-3 doping)."""
    return build_arrays(
        list(PIN_LAYERS),
        anode_work_function_eV,
        cathode_work_function_eV,
        mesh=MeshSpec(nodes_total // 3),
    )


@pytest.mark.parametrize("nodes", [250, 500, 1000, 2000])
def test_pin_sweep_warm(benchmark, nodes):
    arr = pin_arrays(nodes)
    v = jnp.linspace(0, 1.4, 29)
    solve_sweep(arr, v).u.block_until_ready()  # compile once
    benchmark(lambda: solve_sweep(arr, v).u.block_until_ready())


def _green_arrays(physics):
    from peled.device import default_device_path, load_device

    return load_device(default_device_path(), physics=physics).to_arrays()


@pytest.mark.parametrize("physics", ["classic", "disorder_aware"])
def test_green_example_warm(benchmark, physics):
    arr = _green_arrays(physics)
    v = jnp.linspace(0, 8, 161)
    solve_sweep(arr, v).u.block_until_ready()
    benchmark(lambda: solve_sweep(arr, v).u.block_until_ready())


@pytest.mark.parametrize("physics", ["classic", "disorder_aware"])
def test_green_example_compile(benchmark, physics):
    """Tracing, lowering and compiling the green example's sweep (64 nodes per layer,
    161 biases), without the persistent cache: what a first `peled simulate` waits."""
    arr = _green_arrays(physics)
    v = jnp.linspace(0, 8, 161)
    # without clearing, the program compiled by an earlier benchmark in this process is
    # found in JAX's in-memory caches and the "compile" takes a millisecond
    benchmark.pedantic(
        lambda: compiled_sweep.trace(DEVICE_PROBLEM, arr, v, SolverSettings()).lower().compile(),
        setup=jax.clear_caches,
        rounds=1,
        iterations=1,
    )


def _batch(n):

    base = pin_arrays(300)
    scales = np.linspace(0.5, 2.0, n)
    return [base.with_layers(thickness_m=base.layers.thickness_m * s) for s in scales]


def test_batch_vmap_32(benchmark):
    from peled.core.params import stack_arrays

    batch = stack_arrays(_batch(32))
    v = jnp.linspace(0, 1.4, 29)
    f = jax.jit(jax.vmap(solve_sweep, in_axes=(0, None)))
    f(batch, v).u.block_until_ready()
    benchmark(lambda: f(batch, v).u.block_until_ready())


def test_batch_sequential_32(benchmark):
    devs = _batch(32)
    v = jnp.linspace(0, 1.4, 29)
    solve_sweep(devs[0], v).u.block_until_ready()

    def run():
        for d in devs:
            solve_sweep(d, v).u.block_until_ready()

    benchmark(run)


def _peled_simulate(cache_dir: Path, out_dir: Path) -> None:
    """`peled simulate` on the default device, progress bar and plots on, with the CLI's
    caches in ``cache_dir`` (a new process, as a user runs it)."""
    import os
    import subprocess

    env = {**os.environ, "PELED_CACHE_DIR": str(cache_dir)}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env.pop("PELED_NO_COMPILATION_CACHE", None)
    subprocess.run(
        [sys.executable, "-m", "peled.cli", "simulate", "--out", str(out_dir)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_cli_simulate_cold(benchmark, tmp_path):
    """`peled simulate` with an empty cache: compile, export and store everything."""
    rounds = iter(range(100))

    def fresh():
        k = next(rounds)
        return (tmp_path / f"cache{k}", tmp_path / f"out{k}"), {}

    benchmark.pedantic(_peled_simulate, setup=fresh, rounds=1, iterations=1)


def test_cli_simulate_cached(benchmark, tmp_path):
    """`peled simulate` again, everything cached (compilation cache and stored programs)."""
    cache = tmp_path / "cache"
    _peled_simulate(cache, tmp_path / "first")
    benchmark.pedantic(
        _peled_simulate, args=(cache, tmp_path / "again"), rounds=3, iterations=1
    )
