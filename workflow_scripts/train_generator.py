"""Rule train_generator: seen-class features + embeddings -> generators/{dataset}/k{K}/gmmn.pt, with the
settings its zero-shot cross-validation chose (cv/{dataset}/k{K}/settings_generator.json) where there is one."""
import numpy as np

from zs3core.generator_grid import trained_settings
from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.generator import train_gmmn

with job_log(snakemake.log[0], snakemake.threads) as log:
    holdout, settings = snakemake.input.get("holdout"), snakemake.input.get("settings")
    cfg, provenance = trained_settings(snakemake.params.generator, settings, "generator")
    log.info("settings %s", provenance)
    summary = train_gmmn(snakemake.input.features, np.load(snakemake.input.embeddings), cfg,
                         snakemake.output.weights, seed=snakemake.params.seed,
                         holdout=read_holdout(holdout) if holdout else frozenset(), log=log,
                         loss_csv=snakemake.output.loss_curve, provenance=provenance)
    log.info("%s", summary)
