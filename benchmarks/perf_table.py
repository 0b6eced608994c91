"""Write the benchmark table of docs/numerics/performance.md from a pytest-benchmark JSON.

``make bench`` runs the benchmarks with ``--benchmark-json`` and then this script, which
replaces the lines between the markers ``<!-- bench-table:start -->`` and
``<!-- bench-table:end -->`` with one row per known benchmark (median wall time, and the
machine's CPU count and model from the JSON). Benchmarks not in ``ROWS``
are left out; rows whose benchmark did not run say so.

    python benchmarks/perf_table.py BENCH_JSON [BENCH_JSON ...]

Several JSON files are merged in order (a later file's benchmark replaces an earlier one's
of the same name), so that a rerun of some benchmarks updates their rows only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

START = "<!-- bench-table:start -->"
END = "<!-- bench-table:end -->"
DOC = Path(__file__).resolve().parents[1] / "docs" / "numerics" / "performance.md"

#: (benchmark name as pytest-benchmark records it, row label), in table order
ROWS: tuple[tuple[str, str], ...] = (
    (
        "test_green_example_warm[classic]",
        "green example, 161 biases 0–8 V, 64 nodes per layer, classic physics: warm sweep",
    ),
    (
        "test_green_example_warm[disorder_aware]",
        "the same, `physics: disorder_aware`: warm sweep",
    ),
    (
        "test_green_example_compile[classic]",
        "green example, classic: trace, lower and compile the sweep (no cache)",
    ),
    (
        "test_green_example_compile[disorder_aware]",
        "green example, disorder-aware: trace, lower and compile the sweep (no cache)",
    ),
    (
        "test_cli_simulate_cold",
        "`peled simulate` on the default device (bar and plots on), empty cache",
    ),
    (
        "test_cli_simulate_cached",
        "the same command again: compiled code and exported programs cached",
    ),
    ("test_pin_sweep_warm[250]", "p–i–n, 29 biases 0–1.4 V, 250 nodes"),
    ("test_pin_sweep_warm[500]", "p–i–n, 500 nodes"),
    ("test_pin_sweep_warm[1000]", "p–i–n, 1000 nodes"),
    ("test_pin_sweep_warm[2000]", "p–i–n, 2000 nodes"),
    ("test_batch_vmap_32", "32 p–i–n devices (300 nodes, 29 biases), one vmap batch"),
    ("test_batch_sequential_32", "the same 32 devices, sequential warm sweeps"),
    (
        "test_mode_budget_full_spectrum",
        "thin-film optics: mode budget of the green device, 31 wavelengths × 64 dipole "
        "positions × 3 dipole terms",
    ),
)


def _duration(seconds: float) -> str:
    """A median for people: ms below 10 s, s with 3 significant digits above."""
    if seconds < 10.0:
        return f"{seconds * 1e3:.3g} ms" if seconds < 1.0 else f"{seconds:.3g} s"
    return f"{seconds:.3g} s"


def table(bench: dict) -> str:
    """The markdown table for the benchmark JSON ``bench`` (pytest-benchmark's format)."""
    medians = {b["name"]: b["stats"]["median"] for b in bench.get("benchmarks", [])}
    info = bench.get("machine_info", {})
    cpu = info.get("cpu", {})
    cores = cpu.get("count", "?")
    lines = [
        f"Medians of `make bench` on {cores} CPU cores ({cpu.get('brand_raw', 'CPU')}):",
        "",
        "| case | median |",
        "|---|---|",
    ]
    for name, label in ROWS:
        value = _duration(medians[name]) if name in medians else "not run"
        lines.append(f"| {label} | {value} |")
    return "\n".join(lines)


def merged(paths) -> dict:
    """The benchmark JSON files ``paths`` as one (later files win per benchmark name;
    the machine of the last file)."""
    out: dict = {"benchmarks": []}
    by_name: dict[str, dict] = {}
    for path in paths:
        bench = json.loads(Path(path).read_text())
        out.update({k: v for k, v in bench.items() if k != "benchmarks"})
        by_name.update({b["name"]: b for b in bench.get("benchmarks", [])})
    out["benchmarks"] = list(by_name.values())
    return out


def write(bench_json, doc: Path = DOC) -> None:
    """Replace the table between the markers of ``doc`` with the one of ``bench_json``
    (a path, or a list of paths merged by :func:`merged`)."""
    paths = [bench_json] if isinstance(bench_json, (str, Path)) else list(bench_json)
    bench = merged(paths)
    text = doc.read_text()
    if START not in text or END not in text or text.index(START) > text.index(END):
        raise SystemExit(f"{doc}: needs the markers {START} ... {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{START}\n{table(bench)}\n{END}{tail}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    write([Path(p) for p in sys.argv[1:]])
