"""Rules table1 / table2 / table3 / table4: results CSVs -> the paper's table as CSV and Markdown."""
from zs3core import tables
from zs3core.runlog import job_log

TITLES = {
    "table1": "Table 1: zero-shot semantic segmentation on {dataset}",
    "table2": "Table 2: generalized vs vanilla zero-shot evaluation (unseen mIoU) on {dataset}, K={k}",
    "table3": "Table 3: zero-shot semantic segmentation on {dataset}",
    "table4": "Table 4: zero-shot segmentation with self-training (ZS5Net) on {dataset}",
}
NOTES = ("Generalized evaluation over all classes at the original resolution, in percent. "
         "Calibrated rows subtract a seen-logit offset chosen on held-out seen-only training images "
         "(never the test split); the real-feature ceiling is an oracle diagnostic trained on real "
         "unseen features.")

with job_log(snakemake.log[0]):
    name, dataset, ks = snakemake.params.table, snakemake.wildcards.dataset, snakemake.params.ks
    if name == "table2":
        df = tables.table2(list(snakemake.input), dataset=dataset, k=ks[-1])
    elif name == "table4":
        df = tables.table4(list(snakemake.input), datasets=[dataset], ks=ks)
    else:
        df = getattr(tables, name)(list(snakemake.input), dataset=dataset, ks=ks)
    notes = [NOTES] + ([tables.p_note(df)] if name == "table4" else [])
    tables.write_table(df, snakemake.output.csv, snakemake.output.md,
                       TITLES[name].format(dataset=dataset, k=ks[-1]), notes)
