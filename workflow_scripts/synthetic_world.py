"""Rule synthetic_world: class embeddings -> a synthetic dataset in VOC layout (data/{dataset}/VOC2012)."""
import numpy as np

from zs3core.data.synthetic import write_world
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    write_world(snakemake.output[0], snakemake.params.classes, np.load(snakemake.input.embeddings),
                snakemake.params.world, snakemake.params.seed)
    log.info("wrote %s", snakemake.output[0])
