"""Rules train_step0 / train_supervised: index (+ embeddings) -> a trained step-0 network."""
import numpy as np

from zs3core.holdout import read_holdout
from zs3core.runlog import job_log
from zs3core.train.step0 import train_step0

with job_log(snakemake.log[0], snakemake.threads) as log:
    embeddings = snakemake.input.get("embeddings")
    init = snakemake.input.get("init")
    holdout = snakemake.input.get("holdout")
    train_step0(
        snakemake.wildcards.get("kind", "supervised"),
        snakemake.input.index,
        snakemake.params.classes,
        snakemake.params.unseen,
        snakemake.params.segmenter,
        out_path=snakemake.output[0],
        work_dir=snakemake.params.work_dir,
        seed=snakemake.params.seed,
        embeddings=np.load(embeddings) if embeddings else None,
        init_checkpoint=init or None,
        holdout=read_holdout(holdout) if holdout else frozenset(),
        log=log,
    )
