"""Rule holdout: data/{dataset}/index.csv -> data/{dataset}/holdout.txt (held-out training image ids)."""
from zs3core.data.index import read_index
from zs3core.holdout import choose_holdout, write_holdout
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    train = [r["image_id"] for r in read_index(snakemake.input[0]) if r["split"] == "train"]
    held = choose_holdout(train, snakemake.params.fraction, snakemake.params.seed)
    write_holdout(snakemake.output[0], held)
    log.info("held out %d of %d training images", len(held), len(train))
