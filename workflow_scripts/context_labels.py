"""Rule context_labels: 459-class .mat LabelMaps -> data/{dataset}/labels/<id>.png (60 classes)."""
from zs3core.data.context import context_ids, convert_context_labels
from zs3core.io import atomic_dir
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log, atomic_dir(snakemake.output[0]) as out_dir:
    ids = context_ids(snakemake.params.splits)
    n = snakemake.params.get("first_images")
    all_ids = ids["train"][:n] + ids["val"][:n]
    log.info("converting %d LabelMaps from %s", len(all_ids), snakemake.params.labels)
    convert_context_labels(snakemake.params.labels, snakemake.params.classes,
                           snakemake.params.renames, all_ids, out_dir)
