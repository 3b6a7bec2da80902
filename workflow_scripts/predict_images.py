"""Rule predict: a trained model on the user's folder of images -> index and colour PNGs."""
from zs3core.predict import load_predictor, predict_folder
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    p = snakemake.params
    classifier = snakemake.input.get(snakemake.wildcards.method)  # none for the seen-only segmenter
    predictor = load_predictor(snakemake.input.checkpoint, classifier, p.classes, p.unseen, p.segmenter)
    skipped = predict_folder(predictor, snakemake.input.images, p.classes, p.unseen, snakemake.output[0])
    for path, reason in skipped:
        log.warning("skipped %s: %s", path, reason)
    log.info("%d images predicted, gamma %g", len(snakemake.input.images) - len(skipped), predictor.gamma)
    if skipped:
        log.warning("%d unreadable image(s) skipped, listed in %s/skipped.csv", len(skipped), snakemake.output[0])
