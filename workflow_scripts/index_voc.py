"""Rules index_voc and index_synthetic: a VOC-layout folder (+ SBD) -> data/{dataset}/index.csv."""
from zs3core.data.index import first_of_each_split, index_rows, write_index
from zs3core.data.voc import voc_records
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    root = snakemake.input.get("root", snakemake.params.get("root"))
    records = first_of_each_split(voc_records(root, snakemake.params.get("sbd_root")),
                                  snakemake.params.get("first_images"))
    n = write_index(snakemake.output[0], index_rows(records, snakemake.params.classes))
    log.info("indexed %d images from %s", n, root)
