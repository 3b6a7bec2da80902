"""Rule pseudo_label_quality: pseudo-labels vs the pool's ground truth (a diagnostic CSV)."""
import pandas as pd

from zs3core.io import atomic_path
from zs3core.runlog import job_log
from zs3core.selftrain import pseudo_label_quality

with job_log(snakemake.log[0]):
    rows = pseudo_label_quality(snakemake.input.pseudo, snakemake.input.index, snakemake.params.classes,
                                snakemake.params.unseen)
    with atomic_path(snakemake.output[0]) as tmp:
        pd.DataFrame(rows).assign(diagnostic="reads pool ground truth; never used in training").to_csv(
            tmp, index=False, float_format="%.2f")
