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

.PHONY: test test-slow bench lint
