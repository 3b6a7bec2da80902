"""Rule preflight: the dataset roots and the config -> results/preflight_{dataset}.md (+ .csv)."""
from zs3core.preflight_report import run_preflight
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    findings = run_preflight(snakemake.wildcards.dataset, dict(snakemake.params.items()),
                             snakemake.output.md, snakemake.output.csv, workers=snakemake.threads)
    log.info("%d finding(s), %d error(s)", len(findings), sum(f.severity == "error" for f in findings))
