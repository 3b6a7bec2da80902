"""Rule fig5: ZS5Net's results over p -> results/fig5_{dataset}.csv and .png (the paper's Figure 5)."""
from zs3core.charts import p_sweep_figure, p_sweep_table, save_figure, write_p_sweep
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    table = p_sweep_table(dict(zip(snakemake.params.p, snakemake.input)))
    write_p_sweep(table, snakemake.output.csv)
    title = (f"Figure 5: ZS5Net on {snakemake.wildcards.dataset}, K={snakemake.params.K}: mIoU against p "
             "on the test split (a diagnostic, not a way to choose p)")
    save_figure(p_sweep_figure(table, title), snakemake.output.png)
    log.info("%d rows", len(table))
