"""Rule pseudo_label: seen-only segmenter + ZS3 classifier -> pseudo/{dataset}/k{K}/p{p}/ (PNGs + index.csv)."""
from zs3core.cv_selftrain import resolve_p
from zs3core.holdout import read_holdout
from zs3core.classifiers import classifier_scorer, load_classifier
from zs3core.runlog import job_log
from zs3core.selftrain import pseudo_label_pool
from zs3core.train.step0 import load_step0

with job_log(snakemake.log[0], snakemake.threads) as log:
    classes = snakemake.params.classes
    segmenter = load_step0("seenonly", snakemake.input.checkpoint, len(classes), snakemake.params.segmenter)
    classifier = load_classifier(snakemake.input.classifier)
    gamma = classifier["gamma"] if snakemake.params.calibrated else 0.0
    p, rule = resolve_p(snakemake.wildcards.p, snakemake.input.p_cv)
    log.info("p = %g (%s)", p, rule)
    pseudo_label_pool(classifier_scorer(segmenter, classifier), snakemake.input.index, classes,
                      snakemake.params.unseen, p, gamma, snakemake.output[0],
                      holdout=read_holdout(snakemake.input.holdout), log=log)
