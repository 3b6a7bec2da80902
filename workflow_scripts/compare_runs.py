"""Rule compare: the tables of the main run and of its variants -> results/compare.{csv,md}."""
from zs3core.compare import compare, write_compare
from zs3core.runlog import job_log

with job_log(snakemake.log[0]):
    write_compare(compare(list(snakemake.input)), snakemake.output.csv, snakemake.output.md)
