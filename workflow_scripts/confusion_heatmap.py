"""Rule confusion_heatmap: a results run's confusion matrix (the calibrated one where it has one) as a heatmap."""
from zs3core.charts import confusion_heatmap, run_confusion, save_figure
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    cm, calibration, gamma = run_confusion(snakemake.input.confusion, snakemake.input.metrics)
    wc = snakemake.wildcards
    title = f"{wc.dataset}, K={wc.K}, {wc.method}: {calibration}" + (f" (γ={gamma:g})" if calibration != "raw" else "")
    save_figure(confusion_heatmap(cm, snakemake.params.classes, snakemake.params.unseen, title), snakemake.output[0])
    log.info("%s: the %s matrix", snakemake.output[0], calibration)
