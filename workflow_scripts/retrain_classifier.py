"""Rules retrain_zs3 / retrain_ceiling: features (+ synthetic) -> classifiers/{dataset}/k{K}/{method}.pt."""
import numpy as np

from zs3core.banks import read_bank
from zs3core.cv import read_cv_gamma
from zs3core.holdout import read_holdout
from zs3core.retrain import authors_rows, retrain
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    method = snakemake.params.method
    cfg = snakemake.params.classifier
    holdout = read_holdout(snakemake.input.holdout)
    synthetic = None
    if method == "zs3" and cfg["protocol"] == "strict":
        bank = read_bank(snakemake.input.synthetic)
        synthetic = (bank.features, bank.class_id)
    elif method == "zs3":
        synthetic = authors_rows(snakemake.input.features, snakemake.input.synthetic,
                                 np.load(snakemake.input.embeddings), seed=snakemake.params.seed, holdout=holdout)
    retrain(method, snakemake.input.features, snakemake.params.classes, snakemake.params.unseen, cfg,
            holdout=holdout, out_path=snakemake.output[0], seed=snakemake.params.seed,
            extra=[synthetic] if synthetic is not None else (), cv_gamma=read_cv_gamma(snakemake.input.cv_gamma), log=log)
