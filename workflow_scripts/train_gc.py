"""Rule train_gc: seen-only features, masks + embeddings -> generators/{dataset}/k{K}/gc.pt."""
import numpy as np

from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.graph_context import train_gc

with job_log(snakemake.log[0], snakemake.threads) as log:
    holdout = snakemake.input.get("holdout")
    summary = train_gc(snakemake.input.features, np.load(snakemake.input.embeddings), snakemake.params.gc,
                       snakemake.output.weights, seed=snakemake.params.seed, loss_csv=snakemake.output.loss_curve,
                       holdout=read_holdout(holdout) if holdout else frozenset(), log=log)
    log.info("%s", summary)
