# The mechanisms bench: the paper's method claims on a grid of synthetic worlds (zs3core/mechanisms.py).
# Not in the default target: `snakemake results/mechanisms.md`.


rule mechanisms:
    """ZS3Net vs the baseline and GC vs ZS3Net at every grid point, judged over seeds at claims.alpha."""
    localrule: True
    input:
        results=grid_results(grid_points(config), config["mechanisms"]["ks"],
                             [seed_tag(s) for s in config["mechanisms"]["seeds"]]),
    output:
        csv="results/mechanisms.csv",
        md="results/mechanisms.md",
    params:
        points=[vars(pt) for pt in grid_points(config)],
        ks=config["mechanisms"]["ks"],
        base=config["mechanisms"]["base"],
        n_seeds=len(config["mechanisms"]["seeds"]),
        alpha=config["claims"]["alpha"],
        gc={key: config["gc"][key] for key in ("adjacency", "node_term")},
    log:
        "logs/tables/mechanisms.log",
    benchmark:
        "benchmarks/tables/mechanisms.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/mechanisms_report.py"
