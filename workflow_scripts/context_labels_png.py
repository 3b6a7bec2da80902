"""Rule context_labels_png: mmsegmentation's Context PNGs -> data/{dataset}/labels/<id>.png
(the configured classes)."""
from zs3core.data.context import context_ids, convert_mmseg_context_labels
from zs3core.io import atomic_dir
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log, atomic_dir(snakemake.output[0]) as out_dir:
    ids = context_ids(snakemake.params.splits, "datasets.context.root")
    n = snakemake.params.get("first_images")
    all_ids = ids["train"][:n] + ids["val"][:n]
    log.info("mapping %d mmsegmentation PNGs from %s", len(all_ids), snakemake.params.labels)
    convert_mmseg_context_labels(snakemake.params.labels, snakemake.params.classes,
                                 snakemake.params.renames, all_ids, out_dir)
