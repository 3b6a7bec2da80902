"""Rules train_generator, train_gan: seen-class features + embeddings -> generators/{dataset}/k{K}/{gmmn,gan}.pt,
with the settings the section's zero-shot cross-validation chose (cv/{dataset}/k{K}/settings_{section}.json)
where there is one."""
import numpy as np

from zs3core.generator_grid import trained_settings
from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.gan import train_gan
from zs3core.train.generator import train_gmmn

# the rule's generator kind -> its config section and trainer (same arguments)
TRAINERS = {"gmmn": ("generator", train_gmmn), "gan": ("gan", train_gan)}

with job_log(snakemake.log[0], snakemake.threads) as log:
    section, train = TRAINERS[snakemake.params.kind]
    holdout, settings = snakemake.input.get("holdout"), snakemake.input.get("settings")
    cfg, provenance = trained_settings(snakemake.params.generator, settings, section)
    log.info("settings %s", provenance)
    summary = train(snakemake.input.features, np.load(snakemake.input.embeddings), cfg,
                  snakemake.output.weights, seed=snakemake.params.seed,
                  holdout=read_holdout(holdout) if holdout else frozenset(), log=log,
                  loss_csv=snakemake.output.loss_curve, provenance=provenance)
    log.info("%s", {k: v for k, v in summary.items() if k != "curve"})
