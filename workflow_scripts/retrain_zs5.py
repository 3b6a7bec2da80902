"""Rule retrain_zs5: ZS5Net's classifier -> classifiers/{dataset}/k{K}/zs5_p{p}.pt, in either mode:
the 1x1 classifier on real seen + synthetic + pseudo-labelled rows, or the fine-tuned decoder."""
from pathlib import Path

from zs3core.banks import read_bank
from zs3core.cv import read_cv_gamma
from zs3core.cv_selftrain import resolve_p
from zs3core.holdout import read_holdout
from zs3core.classifiers import load_classifier
from zs3core.retrain import pseudo_rows, retrain
from zs3core.runlog import job_log
from zs3core.selftrain import pseudo_index
from zs3core.train.finetune import finetune_zs5
from zs3core.train.segmenter import SegmenterTraining
from zs3core.train.step0 import TRAINING_KEYS, load_step0

with job_log(snakemake.log[0], snakemake.threads) as log:
    classes, unseen, seed = snakemake.params.classes, snakemake.params.unseen, snakemake.params.seed
    finetune, calibration = snakemake.params.finetune, snakemake.params.classifier["calibration"]
    holdout = read_holdout(snakemake.input.holdout)
    p, rule = resolve_p(snakemake.wildcards.p, snakemake.input.p_cv)
    provenance = {"pseudo_p": p, "pseudo_p_rule": rule}
    log.info("p = %g (%s)", p, rule)
    if finetune:
        seg = snakemake.params.segmenter
        train = SegmenterTraining(seed=seed, **{**{k: seg["train"][k] for k in TRAINING_KEYS},
                                                **finetune})
        work_dir = Path(snakemake.params.work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        finetune_zs5(load_step0("seenonly", snakemake.input.checkpoint, len(classes), seg),
                     load_classifier(snakemake.input.zs3), snakemake.input.index, pseudo_index(snakemake.input.pseudo),
                     classes, unseen, train, seg["train"], calibration, holdout, out_path=snakemake.output[0],
                     work_dir=work_dir, cv_gamma=read_cv_gamma(snakemake.input.cv_gamma), provenance=provenance,
                     log=log)
    else:
        bank = read_bank(snakemake.input.synthetic)
        retrain("zs5", snakemake.input.features, classes, unseen, snakemake.params.classifier, holdout=holdout,
                out_path=snakemake.output[0], seed=seed,
                extra=[(bank.features, bank.class_id), pseudo_rows(snakemake.input.pseudo, unseen)],
                cv_gamma=read_cv_gamma(snakemake.input.cv_gamma), provenance=provenance, log=log)
