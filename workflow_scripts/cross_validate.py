"""Rule cross_validate: one split's features -> cv/{dataset}/k{K}/gamma_{kind}.json + sweep_{kind}.csv."""
import numpy as np
import pandas as pd

from zs3core.cv import TooFewClasses, cross_validate, load_cv_data, pseudo_bank, skipped
from zs3core.generator_grid import with_chosen
from zs3core.holdout import read_holdout
from zs3core.io import atomic_path, write_json
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    kind, seed = snakemake.wildcards.kind, snakemake.params.seed
    try:
        data = load_cv_data(snakemake.input.features, read_holdout(snakemake.input.holdout), snakemake.params.cv,
                            seed=seed, K=int(snakemake.wildcards.K))
    except TooFewClasses as problem:
        log.warning("cross-validation skipped, gamma 0: %s", problem)
        result, sweep = skipped(kind, str(problem))
    else:
        log.info("pseudo-unseen %s; %d training rows, %d ceiling rows, %d scored rows",
                 [data.class_names[c] for c in data.pseudo], len(data.train.class_id), len(data.pool_labels),
                 len(data.eval_labels))
        bank, section = None, snakemake.params.section
        if section:
            bank = pseudo_bank(data, np.load(snakemake.input.embeddings),
                               with_chosen(snakemake.params.generator, snakemake.input.get("settings"), section),
                               snakemake.params.n_per_class, seed=seed, log=log, section=section,
                               dropout_at_generation=snakemake.params.dropout_at_generation)
        result = cross_validate(kind, data, snakemake.params.classifier, snakemake.params.cv, seed=seed, bank=bank,
                                log=log)
        sweep = result.pop("sweep")
    with atomic_path(snakemake.output.sweep) as tmp:
        pd.DataFrame(sweep).to_csv(tmp, index=False)
    write_json(snakemake.output.gamma, result)
