"""Batched-sweep throughput on whatever JAX backend is present (CPU or GPU).

Run: ``python benchmarks/vmap_throughput.py [--out DIR] [--batches 32,128,512]``

Measures, on the benchmark p-i-n (300 nodes, 29 biases 0-1.4 V, thickness scaled 0.5-2x
across the batch):

* compile time [s] of the single-device sweep and of the vmapped sweep;
* the warm time [s] of 32 sweeps run one after another (one compiled function reused);
* the warm time [s] of one vmapped call over the same 32 devices, and over larger batches;
* throughput [devices/s] and the vmap / sequential ratio (issue #3 asks for >= 5x at 32);
* agreement: the largest |u_vmap - u_seq| [kT/q] and identical convergence flags.

The states of the 32-device batch are written to ``DIR/vmap32_states.npz`` so that runs
on two backends (a GPU machine and this 2-core CPU) can be compared offline. This is a
measurement script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_benchmarks import pin_arrays  # noqa: E402

from peled.core.newton import solve_sweep  # noqa: E402
from peled.core.params import stack_arrays  # noqa: E402


def batch(n: int):
    """n copies of the 300-node p-i-n with every thickness scaled by 0.5..2.0."""
    base = pin_arrays(300)
    scales = np.linspace(0.5, 2.0, n)
    return [base.with_layers(thickness_m=base.layers.thickness_m * s) for s in scales]


def timed(fn, repeats: int) -> tuple[float, list[float]]:
    """Median and all wall times [s] of ``repeats`` calls of ``fn`` (which must block)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def compare(vm, seq_states, t_seq: float, t_vmap: float, out_dir: Path | None) -> None:
    """Print (and save) how the vmapped 32-device states compare with the sequential ones."""
    u_seq = np.stack([np.asarray(s.u) for s in seq_states])
    c_seq = np.stack([np.asarray(s.converged) for s in seq_states])
    du = float(np.max(np.abs(np.asarray(vm.u) - u_seq)))
    same = bool(np.array_equal(np.asarray(vm.converged), c_seq))
    print(f"vmap-32 vs sequential: max |du| = {du:.3e} kT/q, same convergence flags: {same}")
    print(f"throughput ratio vmap-32 / sequential-32 = {t_seq / t_vmap:.2f}x")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        np.savez(
            out_dir / "vmap32_states.npz",
            u_vmap=np.asarray(vm.u),
            converged_vmap=np.asarray(vm.converged),
            u_seq=u_seq,
            converged_seq=c_seq,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="folder for the states (.npz)")
    ap.add_argument("--batches", default="32,128,512", help="vmap batch sizes")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    dev = jax.devices()[0]
    print(f"backend {jax.default_backend()}  device {dev.device_kind}  jax {jax.__version__}")
    v = jnp.linspace(0.0, 1.4, 29)
    devs = batch(32)

    t0 = time.perf_counter()
    solve_sweep(devs[0], v).u.block_until_ready()
    compile_single = time.perf_counter() - t0

    seq_states = [solve_sweep(d, v) for d in devs]
    jax.block_until_ready(seq_states)
    t_seq, seq_all = timed(
        lambda: jax.block_until_ready([solve_sweep(d, v) for d in devs]), max(2, args.repeats // 2)
    )
    print(
        f"compile single sweep {compile_single:.1f} s; 32 sequential sweeps "
        f"{t_seq:.3f} s (runs {', '.join(f'{t:.3f}' for t in seq_all)})"
    )

    vsweep = jax.jit(jax.vmap(solve_sweep, in_axes=(0, None)))
    rows = []
    for b in [int(x) for x in args.batches.split(",")]:
        stacked = stack_arrays(batch(b) if b != 32 else devs)
        t0 = time.perf_counter()
        out = vsweep(stacked, v)
        out.u.block_until_ready()
        compile_b = time.perf_counter() - t0
        t_b, all_b = timed(lambda s=stacked: vsweep(s, v).u.block_until_ready(), args.repeats)
        conv = np.asarray(out.converged)
        rows.append((b, compile_b, t_b, b / t_b, int(conv.all(axis=1).sum())))
        print(
            f"vmap {b:5d}: first call {compile_b:.1f} s, warm {t_b:.3f} s "
            f"(runs {', '.join(f'{t:.3f}' for t in all_b)}), {b / t_b:.1f} devices/s, "
            f"{int(conv.all(axis=1).sum())}/{b} fully converged",
            flush=True,
        )
        if b == 32:
            compare(out, seq_states, t_seq, t_b, args.out)

    print("\n| batch | first call (s) | warm (s) | devices/s | vs 32 sequential |")
    print("|---|---|---|---|---|")
    print(f"| 32 sequential | {compile_single:.1f} | {t_seq:.3f} | {32 / t_seq:.1f} | 1.00x |")
    for b, c, t, thr, _ in rows:
        print(f"| {b} vmap | {c:.1f} | {t:.3f} | {thr:.1f} | {thr / (32 / t_seq):.2f}x |")


if __name__ == "__main__":
    main()
