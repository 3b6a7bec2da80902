"""Rule predict_named: the seen-only segmenter + a named model's classifier on the user's images."""
from zs3core.predict import load_predictor, predict_folder
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    p = snakemake.params
    predictor = load_predictor(snakemake.input.checkpoint, snakemake.input.classifier, p.classes, p.unseen,
                               p.segmenter, segmenter_classes=p.segmenter_classes)
    out = snakemake.output[0]
    title = f"{snakemake.wildcards.dataset}{snakemake.wildcards.seedtag} K={snakemake.wildcards.K}: " + (
        f"{', '.join(p.named)} named" if p.named else "the split's own classes")
    skipped = predict_folder(predictor, snakemake.input.images, p.classes, p.unseen, out, named=p.named, title=title)
    for path, reason in skipped:
        log.warning("skipped %s: %s", path, reason)
    log.info("%d images predicted with the named classes %s, gamma %g; open %s/index.html",
             len(snakemake.input.images) - len(skipped), p.named, predictor.gamma, out)
    if skipped:
        log.warning("%d unreadable image(s) skipped, listed in %s/skipped.csv", len(skipped), out)
