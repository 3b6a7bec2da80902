# Two entry points for a fresh machine: `make run` (the embedded default) and `make test`;
# `make variant` and `make compare` for named variants (docs/variants.md).
VENV ?= .venv
CORES ?= $(shell nproc)
PY := $(VENV)/bin/python
# Snakemake's between-workflow output cache: the expensive stages (`cache: True` in rules/) of the
# main run and of every variant live here, keyed by a hash of their script, settings and inputs.
CACHE ?= .snakemake-cache
SNAKEMAKE := SNAKEMAKE_OUTPUT_CACHE=$(abspath $(CACHE)) $(VENV)/bin/snakemake --cache

.PHONY: setup run test variant compare

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# greedy: Snakemake's default ILP scheduler starts a solver at every step, about 10% of the
# wall clock of the default's many short jobs (bench/README.md).
run: setup
	mkdir -p $(CACHE)
	$(SNAKEMAKE) --cores $(CORES) --scheduler greedy

# A named variant: config.yaml with CONFIG merged over it, run in runs/NAME/ (its own results/,
# logs/, benchmarks/); whatever its settings leave unchanged comes from the cache.
variant: setup
	$(if $(NAME),,$(error NAME is not set: make variant NAME=<name> CONFIG=<file.yaml> [TARGETS="..."]))
	$(if $(CONFIG),,$(error CONFIG is not set: make variant NAME=<name> CONFIG=<file.yaml> [TARGETS="..."]))
	mkdir -p $(CACHE) runs/$(NAME)
	$(SNAKEMAKE) --snakefile $(abspath Snakefile) --directory runs/$(NAME) --cores $(CORES) --scheduler greedy --configfile $(abspath config.yaml) $(abspath $(CONFIG)) -- $(TARGETS)

# The main run's tables beside every variant's: results/compare.md.
compare: setup
	mkdir -p $(CACHE)
	$(SNAKEMAKE) --cores $(CORES) --scheduler greedy results/compare.md

test: setup
	$(PY) -m pytest
