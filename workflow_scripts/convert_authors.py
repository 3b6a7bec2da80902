"""Rule convert_authors_step0: the authors' stage-1 file -> checkpoints/{dataset}/k{K}/seenonly.pt."""
from zs3core.authors_checkpoints import convert_step0
from zs3core.runlog import job_log

with job_log(snakemake.log[0], snakemake.threads) as log:
    convert_step0(snakemake.input.authors, snakemake.output[0], dataset=snakemake.wildcards.dataset,
                  fmt=snakemake.params.format, k=snakemake.wildcards.K, class_names=snakemake.params.classes,
                  unseen=snakemake.params.unseen, seg_cfg=snakemake.params.segmenter, log=log)
