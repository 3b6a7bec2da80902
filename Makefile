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

# greedy: Snakemake's default ILP scheduler starts a solver at every step, about 10% of the
# wall clock of the default's many short jobs (bench/README.md).
run: setup
	$(VENV)/bin/snakemake --cores $(CORES) --scheduler greedy

test: setup
	$(PY) -m pytest
