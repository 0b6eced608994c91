"""The performance page's benchmark table is generated from pytest-benchmark's JSON
(benchmarks/perf_table.py, `make bench`), and the committed page carries one."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("perf_table", ROOT / "benchmarks" / "perf_table.py")
perf_table = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(perf_table)


def _bench(**medians):
    return {
        "machine_info": {"cpu": {"count": 2, "brand_raw": "Test CPU"}},
        "benchmarks": [{"name": k, "stats": {"median": v}} for k, v in medians.items()],
    }


def test_table_has_a_row_per_known_benchmark_with_its_median():
    text = perf_table.table(
        _bench(
            **{
                "test_green_example_warm[classic]": 0.6131,
                "test_green_example_compile[disorder_aware]": 118.4,
                "test_batch_vmap_32": 2.291,
                "test_something_else": 1.0,
            }
        )
    )
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(perf_table.ROWS)  # header + one per known benchmark
    assert "on 2 CPU cores (Test CPU):" in text
    assert "classic physics: warm sweep | 613 ms |" in text
    assert "disorder-aware: trace, lower and compile the sweep (no cache) | 118 s |" in text
    assert "one vmap batch | 2.29 s |" in text
    assert "test_something_else" not in text
    assert text.count("| not run |") == len(perf_table.ROWS) - 3


def test_write_replaces_only_the_marked_table(tmp_path):
    doc = tmp_path / "perf.md"
    doc.write_text(f"# P\nbefore\n{perf_table.START}\nold table\n{perf_table.END}\nafter\n")
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(_bench(test_batch_sequential_32=2.69)))
    perf_table.write(bench, doc)
    text = doc.read_text()
    assert text.startswith("# P\nbefore\n") and text.endswith("after\n")
    assert "old table" not in text and "sequential warm sweeps | 2.69 s |" in text
    perf_table.write(bench, doc)  # idempotent
    assert doc.read_text() == text
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        perf_table.write(bench, doc)


def test_the_performance_page_carries_a_generated_table():
    text = (ROOT / "docs" / "numerics" / "performance.md").read_text()
    body = text.split(perf_table.START, 1)[1].split(perf_table.END, 1)[0]
    assert "Medians of `make bench`" in body
    measured = [line for line in body.splitlines() if line.startswith("| ") and "ms |" in line]
    assert len(measured) >= 4, body


def test_a_rerun_of_some_benchmarks_updates_only_their_rows(tmp_path):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps(_bench(test_batch_vmap_32=2.0, test_batch_sequential_32=3.0)))
    second.write_text(json.dumps(_bench(test_batch_vmap_32=2.5)))
    bench = perf_table.merged([first, second])
    medians = {b["name"]: b["stats"]["median"] for b in bench["benchmarks"]}
    assert medians == {"test_batch_vmap_32": 2.5, "test_batch_sequential_32": 3.0}
