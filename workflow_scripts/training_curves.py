"""Rule training_curves: the loss records of one split's training stages (or the supervised oracle's)
-> results/curves/{dataset}{seedtag}_{run}_curves.png, and TensorBoard event files when tensorboard is installed."""
from zs3core.charts import curves_figure, save_figure
from zs3core.curves import panels_of, read_curves, unrecorded_by_panel, write_tensorboard
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    inputs = dict(snakemake.input.items())
    curves, unrecorded = read_curves(inputs)
    wc = snakemake.wildcards
    run = "supervised oracle" if wc.run == "supervised" else f"K={wc.run.removeprefix('k')}"
    title = f"Training curves: {wc.dataset}{wc.seedtag}, {run}"
    save_figure(curves_figure(curves, panels_of(list(inputs)), title, unrecorded_by_panel(unrecorded)),
                snakemake.output.png)
    if unrecorded:
        log.warning("no curve recorded for %s (trained before curves were kept, or converted)", unrecorded)
    if "tensorboard" in snakemake.output.keys():
        write_tensorboard(curves, snakemake.output.tensorboard)
    log.info("%d curves of %d stages", len(curves), len(inputs))
