# results CSVs -> results/table{N}_{dataset}.{csv,md}: the paper's tables, measured.
# Local rules (`localrule: True`), as every rule that only reads results files: a few seconds and
# ~100 MB each (bench/README.md), so on a cluster Snakemake builds them itself instead of queueing.


rule table1:
    """Table 1 layout (VOC-style): supervised row, then per K baseline and ZS3Net (raw and
    calibrated), with the seen-only model and the real-feature ceiling as reference rows."""
    localrule: True
    input:
        lambda wc: table_results(wc.dataset, 1),
    output:
        csv="results/table1_{dataset}.csv",
        md=report("results/table1_{dataset}.md", caption="../report/table1.rst", category="Tables"),
    params:
        table="table1",
        ks=lambda wc: split_ks(config, wc.dataset),
    log:
        "logs/tables/table1_{dataset}.log",
    benchmark:
        "benchmarks/tables/table1_{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/make_table.py"


rule table2:
    """Table 2 layout: generalized vs vanilla unseen mIoU at the largest K."""
    localrule: True
    input:
        lambda wc: table_results(wc.dataset, 2, ks=split_ks(config, wc.dataset)[-1:]),
    output:
        csv="results/table2_{dataset}.csv",
        md=report("results/table2_{dataset}.md", caption="../report/table2.rst", category="Tables"),
    params:
        table="table2",
        ks=lambda wc: split_ks(config, wc.dataset)[-1:],
    log:
        "logs/tables/table2_{dataset}.log",
    benchmark:
        "benchmarks/tables/table2_{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/make_table.py"


rule table3:
    """Table 3 layout (Context-style): as Table 1, with the graph-context (ZS3Net + GC) rows."""
    localrule: True
    input:
        lambda wc: table_results(wc.dataset, 3),
    output:
        csv="results/table3_{dataset}.csv",
        md=report("results/table3_{dataset}.md", caption="../report/table3.rst", category="Tables"),
    params:
        table="table3",
        ks=lambda wc: split_ks(config, wc.dataset),
    log:
        "logs/tables/table3_{dataset}.log",
    benchmark:
        "benchmarks/tables/table3_{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/make_table.py"


rule table4:
    """Table 4 layout: ZS5Net (self-training) per K, raw and calibrated."""
    localrule: True
    input:
        lambda wc: table_results(wc.dataset, 4),
    output:
        csv="results/table4_{dataset}.csv",
        md=report("results/table4_{dataset}.md", caption="../report/table4.rst", category="Tables"),
    params:
        table="table4",
        ks=lambda wc: split_ks(config, wc.dataset),
    log:
        "logs/tables/table4_{dataset}.log",
    benchmark:
        "benchmarks/tables/table4_{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/make_table.py"


rule claims:
    """The paper's claims checked on this run's results: one verdict per claim, split and
    calibration, by a paired one-sided t-test over seeds at claims.alpha; a single-seed run's
    claims are not tested and quote the committed seed spread (SEED_SPREAD)."""
    localrule: True
    input:
        results=lambda wc: table_inputs(wc.dataset, claim_methods(wc.dataset)),
        spread=seed_spread_input,
    output:
        csv="results/claims_{dataset}.csv",
        md=report("results/claims_{dataset}.md", caption="../report/claims.rst", category="Tables"),
    params:
        ks=lambda wc: split_ks(config, wc.dataset),
        spread_name=SEED_SPREAD,
        alpha=config["claims"]["alpha"],
        par_margin=config["claims"]["par_margin"],
    log:
        "logs/tables/claims_{dataset}.log",
    benchmark:
        "benchmarks/tables/claims_{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/check_claims.py"
