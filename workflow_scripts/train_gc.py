"""Rule train_gc: seen-only features, masks + embeddings -> generators/{dataset}/k{K}/gc.pt."""
import numpy as np

from zs3core.runlog import job_log
from zs3core.train.graph_context import train_gc

with job_log(snakemake.log[0], snakemake.threads) as log:
    summary = train_gc(snakemake.input.features, np.load(snakemake.input.embeddings), snakemake.params.gc,
                       snakemake.output.weights, seed=snakemake.params.seed, loss_csv=snakemake.output.loss_curve,
                       log=log)
    log.info("%s", summary)
