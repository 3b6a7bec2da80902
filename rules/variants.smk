# Named variants (`make variant NAME=<name> CONFIG=<file.yaml>`, docs/variants.md) run in
# runs/<name>/ and reuse the unchanged stages through Snakemake's between-workflow output cache
# (`cache: True` on the expensive rules). This rule puts their tables beside the main run's.


rule compare:
    """Each cell of the paper's tables: the main run (results/) and every variant (runs/<name>/results/)."""
    localrule: True
    input:
        compare_inputs,
    output:
        csv="results/compare.csv",
        md=report("results/compare.md", caption="../report/compare.rst", category="Tables"),
    log:
        "logs/tables/compare.log",
    benchmark:
        "benchmarks/tables/compare.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/compare_runs.py"
