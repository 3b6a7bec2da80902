"""Rule cv_report: every split's cross-validation + results CSVs -> results/cv_{dataset}.{csv,md}."""
import pandas as pd

from zs3core.cv_report import cv_markdown, cv_summary, sweep_table
from zs3core.io import write_text
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    splits = snakemake.params.splits
    summary = cv_summary(splits)
    sweeps = sweep_table({(s["seed"], s["K"], kind): pd.read_csv(s[f"sweep_{kind}"]) for s in splits
                          for kind in ("zs3", "ceiling")})
    write_text(snakemake.output.csv, summary.to_csv(index=False, na_rep="nan"))
    write_text(snakemake.output.md, cv_markdown(snakemake.wildcards.dataset, summary, sweeps))
    log.info("%s", summary.to_string())
