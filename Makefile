# Two entry points for a fresh machine: `make run` (the embedded default) and `make test`.
VENV ?= .venv
CORES ?= $(shell nproc)
PY := $(VENV)/bin/python

.PHONY: setup run test

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: setup
	$(VENV)/bin/snakemake --cores $(CORES)

test: setup
	$(PY) -m pytest
