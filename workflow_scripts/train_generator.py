"""Rule train_generator: seen-class features + embeddings -> generators/{dataset}/k{K}/gmmn.pt."""
import numpy as np

from zs3core.runlog import job_log
from zs3core.train.generator import train_gmmn

with job_log(snakemake.log[0], snakemake.threads) as log:
    summary = train_gmmn(snakemake.input.features, np.load(snakemake.input.embeddings), snakemake.params.generator,
                         snakemake.output.weights, seed=snakemake.params.seed, log=log,
                         loss_csv=snakemake.output.loss_curve)
    log.info("%s", summary)
