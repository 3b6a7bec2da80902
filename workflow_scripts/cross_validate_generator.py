"""Rule cross_validate_generator: one split's features -> cv/{dataset}/k{K}/settings_{section}.json +
sweep_settings_{section}.csv (the generator section's grid point chosen by pseudo hIoU)."""
import numpy as np
import pandas as pd

from zs3core.cv import TooFewClasses, load_cv_data
from zs3core.cv_generator import cross_validate_settings, skipped_settings
from zs3core.holdout import read_holdout
from zs3core.io import atomic_path, write_json
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    section, seed, p = snakemake.wildcards.section, snakemake.params.seed, snakemake.params
    grid = p.generator_cv["grid"]
    try:
        data = load_cv_data(snakemake.input.features, read_holdout(snakemake.input.holdout), p.cv,
                            seed=seed, K=int(snakemake.wildcards.K))
    except TooFewClasses as problem:
        log.warning("generator cross-validation skipped, the grid's first point: %s", problem)
        record, sweep = skipped_settings(section, p.section, grid, str(problem))
    else:
        record, sweep = cross_validate_settings(
            section, data, np.load(snakemake.input.embeddings), p.section, grid, p.classifier, p.cv,
            choice=p.generator_cv["choice"], budget=p.generator_cv["budget"], n_per_class=p.n_per_class,
            dropout_at_generation=p.dropout_at_generation, seed=seed, log=log)
    with atomic_path(snakemake.output.sweep) as tmp:
        pd.DataFrame(sweep).to_csv(tmp, index=False)
    write_json(snakemake.output.settings, record)
