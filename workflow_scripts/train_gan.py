"""Rule train_gan: seen-class features + embeddings -> generators/{dataset}/k{K}/gan.pt (f-CLSWGAN)."""
import numpy as np

from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.gan import train_gan

with job_log(snakemake.log[0], snakemake.threads) as log:
    holdout = snakemake.input.get("holdout")
    summary = train_gan(snakemake.input.features, np.load(snakemake.input.embeddings), snakemake.params.generator,
                        snakemake.output.weights, seed=snakemake.params.seed,
                        holdout=read_holdout(holdout) if holdout else frozenset(), log=log,
                        loss_csv=snakemake.output.loss_curve)
    log.info("%s", {k: v for k, v in summary.items() if k != "curve"})
