"""Rule qualitative_figure: test images containing unseen classes | ground truth | each method's prediction."""
from zs3core.figures import qualitative_figure
from zs3core.predict import load_predictor
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    p = snakemake.params
    predictors = {title: load_predictor(snakemake.input.checkpoint, snakemake.input.get(method), p.classes,
                                        p.unseen, p.segmenter)
                  for method, title in zip(p.methods, p.titles)}
    ids = qualitative_figure(snakemake.input.index, predictors, p.classes, p.unseen, p.n_images,
                             snakemake.output[0], p.title, p.short_side)
    log.info("drew test images %s", ids)
