"""Rule index_context: VOC2010 images + converted labels -> data/{dataset}/index.csv."""
from zs3core.data.context import context_records
from zs3core.data.index import first_of_each_split, index_rows, write_index
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    records = first_of_each_split(context_records(snakemake.params.root, snakemake.params.splits,
                                                  snakemake.input.labels), snakemake.params.get("first_images"))
    n = write_index(snakemake.output[0], index_rows(records, snakemake.params.classes))
    log.info("indexed %d images", n)
