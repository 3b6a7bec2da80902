"""Rule evaluate_retrained: seen-only segmenter + retrained classifier -> raw and calibrated metrics."""
from zs3core.evaluate import evaluate_on_split
from zs3core.classifiers import calibration_rows, classifier_scorer, load_classifier
from zs3core.generator_grid import read_settings
from zs3core.runlog import job_log
from zs3core.train.step0 import load_step0

with job_log(snakemake.log[0], snakemake.threads) as log:
    classes = snakemake.params.classes
    segmenter = load_step0("seenonly", snakemake.input.checkpoint, len(classes), snakemake.params.segmenter)
    classifier = load_classifier(snakemake.input.classifier)
    calibrations, row_meta = calibration_rows(classifier)
    meta = dict(snakemake.params.meta) | classifier.get("provenance", {})  # e.g. ZS5Net's cross-validated p
    if snakemake.input.get("generator_settings"):  # the generator's cross-validated settings
        meta |= read_settings(snakemake.input.generator_settings)["columns"]
    rows = evaluate_on_split(classifier_scorer(segmenter, classifier), snakemake.input.index, classes,
                             snakemake.params.unseen, meta,
                             calibrations=calibrations, row_meta=row_meta,
                             metrics_csv=snakemake.output.metrics, per_class_csv=snakemake.output.per_class,
                             confusion_npy=snakemake.output.confusion,
                             absent_as_zero=snakemake.params.absent_as_zero)
    for row in rows:
        log.info("%s", row)
