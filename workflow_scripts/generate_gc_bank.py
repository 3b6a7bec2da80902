"""Rule generate_gc_bank: GC generator + training masks -> banks/{dataset}/k{K}/gc.h5 (unseen nodes)."""
import numpy as np

from zs3core.banks import default_bank_size
from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.graph_context import write_gc_bank

with job_log(snakemake.log[0], snakemake.threads) as log:
    holdout = snakemake.input.get("holdout")
    n = snakemake.params.n_per_class or default_bank_size(snakemake.input.features)
    log.info("%d synthetic features per unseen class", n)
    write_gc_bank(snakemake.input.generator, snakemake.input.features, np.load(snakemake.input.embeddings), n,
                  snakemake.output[0], seed=snakemake.params.seed,
                  dropout_at_generation=snakemake.params.dropout_at_generation,
                  holdout=read_holdout(holdout) if holdout else frozenset(), log=log)
