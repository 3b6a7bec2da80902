"""Rule index_voc_aug: VOC 2012 + the SegmentationClassAug/ PNGs of a list -> data/{dataset}/index.csv."""
from zs3core.data.index import first_of_each_split, index_rows, write_index
from zs3core.data.voc import voc_records
from zs3core.runlog import job_log

with job_log(snakemake.log[0]) as log:
    records = first_of_each_split(voc_records(snakemake.params.root, aug_list=snakemake.params.aug_list),
                                  snakemake.params.get("first_images"))
    n = write_index(snakemake.output[0], index_rows(records, snakemake.params.classes))
    log.info("indexed %d images from %s and %s", n, snakemake.params.root, snakemake.params.aug_list)
