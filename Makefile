PY ?= .venv/bin/python

.venv/bin/python:
	python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]"

test: .venv/bin/python
	$(PY) -m pytest

test-slow: .venv/bin/python
	$(PY) -m pytest -m slow

bench: .venv/bin/python
	$(PY) -m pytest benchmarks --benchmark-enable -p no:cacheprovider -o addopts=""

lint: .venv/bin/python
	$(PY) -m ruff check peled tests benchmarks

sweep-tutorial: .venv/bin/python
	.venv/bin/peled sweep examples/sweeps/green-htl-etl.yaml --out green-htl-etl-sweep --csv

.PHONY: test test-slow bench lint sweep-tutorial
