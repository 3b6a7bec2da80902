"""Rule train_generator: seen-class features + embeddings -> generators/{dataset}/k{K}/gmmn.pt."""
import numpy as np

from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.generator import train_gmmn

with job_log(snakemake.log[0], snakemake.threads) as log:
    holdout = snakemake.input.get("holdout")
    summary = train_gmmn(snakemake.input.features, np.load(snakemake.input.embeddings), snakemake.params.generator,
                         snakemake.output.weights, seed=snakemake.params.seed,
                         holdout=read_holdout(holdout) if holdout else frozenset(), log=log,
                         loss_csv=snakemake.output.loss_curve)
    log.info("%s", summary)
