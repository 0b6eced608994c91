PY ?= .venv/bin/python

.venv/bin/python:
	python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]"

test: .venv/bin/python
	$(PY) -m pytest

test-slow: .venv/bin/python
	$(PY) -m pytest -m slow

# benchmarks/test_devsim.py needs `pip install -e ".[bench]"` and Debian's
# libopenblas0-pthread + liblapack3 (devsim loads BLAS/LAPACK at run time); skipped otherwise
# both write the medians to bench.json and the table of docs/numerics/performance.md from
# it (benchmarks/perf_table.py); bench-table runs only the benchmarks of that table
bench: .venv/bin/python
	DEVSIM_MATH_LIBS=$${DEVSIM_MATH_LIBS:-libopenblas.so.0} \
	$(PY) -m pytest benchmarks --benchmark-enable -p no:cacheprovider -o addopts="" \
	  --benchmark-json=bench.json
	$(PY) benchmarks/perf_table.py bench.json

bench-table: .venv/bin/python
	$(PY) -m pytest benchmarks/test_benchmarks.py benchmarks/test_optics_bench.py \
	  --benchmark-enable -p no:cacheprovider -o addopts="" --benchmark-json=bench.json
	$(PY) benchmarks/perf_table.py bench.json

sweep-tutorial: .venv/bin/python
	.venv/bin/peled sweep examples/sweeps/green-htl-etl.yaml --out green-htl-etl-sweep --csv

# validation against the review's Table 2: regenerates validation/report/ (docs/validation/index.md)
validate: .venv/bin/python
	.venv/bin/peled validate --out validation/report --update-reference

# the documentation site (mkdocs.yml) into site/, strict: broken links, pages missing from
# the nav and docstring errors fail, as in .ci/run
docs: .venv/bin/python
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict

# the README's and the model pages' figures: J-V-L, band diagram and carrier densities of
# the built-in default device
readme-figures: .venv/bin/python
	.venv/bin/peled simulate --out build/readme --no-progress
	cp build/readme/jvl.png docs/figures/default-device-jvl.png
	cp build/readme/band_diagram.png docs/figures/default-device-bands.png
	cp build/readme/carrier_densities.png docs/figures/default-device-densities.png

# the optics figures of docs/model/optics.md: mode budget against position, angular
# emission and an ETL thickness scan of the default device (about 2 minutes)
optics-figures: .venv/bin/python
	.venv/bin/peled optics --positions 11 --out build/optics
	.venv/bin/peled optics --positions 7 --scan-layer TPBi \
	  --thicknesses-nm 10,15,20,25,30,35,40,45,50,55,60,65,70,75,80,85,90,95,100,105,110,115,120,125,130 \
	  --out build/optics-tpbi
	cp build/optics/mode_budget.png docs/figures/optics-green-mode-budget.png
	cp build/optics/angular.png docs/figures/optics-green-angular.png
	cp build/optics-tpbi/thickness_scan.png docs/figures/optics-green-tpbi-scan.png

# the model and numerics figures of docs/model/ and docs/numerics/, from the model functions
# only (no device solves; a few minutes on one CPU core)
model-figures: .venv/bin/python
	$(PY) docs/figures/model_figures.py

# figures of solved devices for docs/numerics/ (each mesh size compiles: ~3 min)
numerics-figures: .venv/bin/python
	$(PY) docs/figures/mesh_convergence.py

lint: .venv/bin/python
	$(PY) -m ruff check peled tests benchmarks

.PHONY: test test-slow bench bench-table lint sweep-tutorial validate docs readme-figures model-figures numerics-figures optics-figures
