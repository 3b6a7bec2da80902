"""Rule mechanisms: the grid's results CSVs -> results/mechanisms.{csv,md} (zs3core/mechanisms.py)."""
from zs3core.claims import claims_csv
from zs3core.io import write_text
from zs3core.mechanisms import GridPoint, judge_grid, mechanisms_markdown
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    points = [GridPoint(**pt) for pt in snakemake.params.points]
    df = judge_grid(list(snakemake.input.results), points, snakemake.params.ks, alpha=snakemake.params.alpha)
    write_text(snakemake.output.csv, claims_csv(df))
    write_text(snakemake.output.md, mechanisms_markdown(df, base=snakemake.params.base, alpha=snakemake.params.alpha,
                                                        n_seeds=snakemake.params.n_seeds, gc=snakemake.params.gc))
    log.info("%d verdicts over %d grid points", len(df), len(points))
