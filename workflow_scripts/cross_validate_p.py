"""Rule cross_validate_p: one split's features -> cv/{dataset}/k{K}/p_zs5.json + sweep_p_zs5.csv."""
import numpy as np
import pandas as pd

from zs3core import cv_selftrain
from zs3core.cv import TooFewClasses, load_cv_data, pseudo_bank
from zs3core.generator_grid import with_chosen
from zs3core.holdout import read_holdout
from zs3core.io import atomic_path, write_json
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    seed, grid = snakemake.params.seed, snakemake.params.p_grid
    try:
        data = load_cv_data(snakemake.input.features, read_holdout(snakemake.input.holdout), snakemake.params.cv,
                            seed=seed, K=int(snakemake.wildcards.K))
    except TooFewClasses as problem:
        log.warning("cross-validation of p skipped, p %g (the smallest of selftrain.p_grid): %s", min(grid), problem)
        result, sweep = cv_selftrain.skipped(str(problem), grid)
    else:
        pool = cv_selftrain.unlabelled_pool(snakemake.input.features, data)
        log.info("pseudo-unseen %s; %d training rows, %d pool rows of %d images, %d scored rows",
                 [data.class_names[c] for c in data.pseudo], len(data.train.class_id), len(pool.labels),
                 np.unique(pool.images).size, len(data.eval_labels))
        bank = pseudo_bank(data, np.load(snakemake.input.embeddings),
                           with_chosen(snakemake.params.generator, snakemake.input.get("settings"), "generator"),
                           snakemake.params.n_per_class, seed=seed, log=log,
                           dropout_at_generation=snakemake.params.dropout_at_generation)
        result = cv_selftrain.cross_validate_p(data, pool, bank, snakemake.params.classifier, snakemake.params.cv,
                                               grid, calibrated=snakemake.params.calibrated, seed=seed, log=log)
        sweep = result.pop("sweep")
    with atomic_path(snakemake.output.sweep) as tmp:
        pd.DataFrame(sweep).to_csv(tmp, index=False)
    write_json(snakemake.output.p, result)
