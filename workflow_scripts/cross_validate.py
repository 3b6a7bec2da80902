"""Rule cross_validate: one split's features -> cv/{dataset}/k{K}/gamma_{zs3,ceiling}.json + sweep.csv."""
import numpy as np
import pandas as pd

from zs3core.cv import cross_validate, load_cv_data, pseudo_bank
from zs3core.holdout import read_holdout
from zs3core.io import atomic_path, write_json
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    seed, K = snakemake.params.seed, int(snakemake.wildcards.K)
    data = load_cv_data(snakemake.input.features, read_holdout(snakemake.input.holdout), snakemake.params.cv,
                        seed=seed, K=K)
    log.info("pseudo-unseen %s; %d training rows, %d ceiling rows, %d scored rows",
             [data.class_names[c] for c in data.pseudo], len(data.train.class_id), len(data.pool_labels),
             len(data.eval_labels))
    bank = pseudo_bank(data, np.load(snakemake.input.embeddings), snakemake.params.generator,
                       snakemake.params.n_per_class, seed=seed, log=log)
    sweeps = []
    for kind in ("zs3", "ceiling"):
        result = cross_validate(kind, data, snakemake.params.classifier, seed=seed, bank=bank, log=log)
        sweeps += [dict(kind=kind, **s, chosen=s["gamma"] == result["gamma"]) for s in result.pop("sweep")]
        write_json(snakemake.output[kind], result)
    with atomic_path(snakemake.output.sweep) as tmp:
        pd.DataFrame(sweeps).to_csv(tmp, index=False)
