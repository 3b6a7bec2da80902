"""Rules retrain_zs3gc, retrain_zs3gan: seen-only features + the method's bank (GC's, the GAN's) ->
classifiers/{dataset}/k{K}/{method}.pt, with its cross-validated gamma."""
from zs3core.banks import read_bank
from zs3core.cv import read_cv_gamma
from zs3core.holdout import read_holdout
from zs3core.retrain import retrain
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    bank = read_bank(snakemake.input.bank)
    retrain(snakemake.params.method, snakemake.input.features, snakemake.params.classes, snakemake.params.unseen,
            snakemake.params.classifier, holdout=read_holdout(snakemake.input.holdout), out_path=snakemake.output[0],
            seed=snakemake.params.seed, extra=[(bank.features, bank.class_id)],
            cv_gamma=read_cv_gamma(snakemake.input.cv_gamma), log=log)
