"""Rules evaluate_step0 / evaluate_supervised: a step-0 checkpoint -> metrics on the test split."""
import numpy as np

from zs3core.evaluate import evaluate_on_split
from zs3core.runlog import job_log
from zs3core.train.step0 import load_step0, scorer

with job_log(snakemake.log[0], snakemake.threads) as log:
    embeddings = snakemake.input.get("embeddings")
    model = load_step0(snakemake.params.meta["method"], snakemake.input.checkpoint,
                       len(snakemake.params.classes), snakemake.params.segmenter,
                       np.load(embeddings) if embeddings else None)
    (row,) = evaluate_on_split(scorer(model), snakemake.input.index, snakemake.params.classes,
                            snakemake.params.unseen, snakemake.params.meta,
                            metrics_csv=snakemake.output.metrics, per_class_csv=snakemake.output.per_class,
                            confusion_npy=snakemake.output.confusion,
                            absent_as_zero=snakemake.params.absent_as_zero)
    log.info("%s", row)
