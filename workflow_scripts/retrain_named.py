"""Rule retrain_named: features + the split's GMMN + the extended table -> classifiers/{dataset}/k{K}/named_{tag}.pt."""
import numpy as np

from zs3core.banks import default_bank_size
from zs3core.cv import read_cv_gamma
from zs3core.holdout import read_holdout
from zs3core.retrain import named_rows, retrain
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    p = snakemake.params
    if p.merged:
        log.info("%s: unseen classes of this split already, generated from their names as a named class is: merged",
                 ", ".join(p.merged))
    if p.classifier["protocol"] == "authors":
        log.warning("classifier.protocol is authors, but a named class has no pixels to place generated features at: "
                    "this classifier's generated rows follow the strict protocol (a fixed number per class)")
    n = p.n_per_class or default_bank_size(snakemake.input.features)
    log.info("%d generated features for each of %s", n, p.unseen)
    synthetic = named_rows(snakemake.input.generator, np.load(snakemake.input.embeddings), p.classes, p.unseen, n,
                           seed=p.seed, dropout_at_generation=p.dropout_at_generation)
    retrain("named", snakemake.input.features, p.classes, p.unseen, p.classifier,
            holdout=read_holdout(snakemake.input.holdout), out_path=snakemake.output[0], seed=p.seed,
            extra=[synthetic], cv_gamma=read_cv_gamma(snakemake.input.cv_gamma), log=log)
