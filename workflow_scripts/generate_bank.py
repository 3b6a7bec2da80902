"""Rule generate_bank: a trained generator -> banks/{dataset}/k{K}/gmmn.h5 (unseen classes)."""
import numpy as np

from zs3core.banks import default_bank_size
from zs3core.runlog import job_log
from zs3core.train.generator import write_bank

with job_log(snakemake.log[0], snakemake.threads) as log:
    classes = snakemake.params.classes
    n = snakemake.params.n_per_class or default_bank_size(snakemake.input.features)
    log.info("%d synthetic features for each of %s", n, snakemake.params.unseen)
    write_bank(snakemake.input.generator, np.load(snakemake.input.embeddings),
               [classes.index(c) for c in snakemake.params.unseen], n, snakemake.output[0],
               seed=snakemake.params.seed, class_names=classes,
               dropout_at_generation=snakemake.params.dropout_at_generation)
