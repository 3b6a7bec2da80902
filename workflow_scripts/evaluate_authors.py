"""Rule evaluate_authors: one of the authors' stage-2 final models -> metrics on the test split."""
from zs3core.authors_checkpoints import authors_segmenter
from zs3core.evaluate import evaluate_on_split
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    model = authors_segmenter(snakemake.input.model, dataset=snakemake.wildcards.dataset, fmt=snakemake.params.format,
                              k=snakemake.wildcards.K, class_names=snakemake.params.classes,
                              unseen=snakemake.params.unseen)
    (row,) = evaluate_on_split(model, snakemake.input.index, snakemake.params.classes, snakemake.params.unseen,
                               snakemake.params.meta, metrics_csv=snakemake.output.metrics,
                               per_class_csv=snakemake.output.per_class, confusion_npy=snakemake.output.confusion,
                               absent_as_zero=snakemake.params.absent_as_zero)
    log.info("%s", row)
