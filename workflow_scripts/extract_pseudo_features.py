"""Rule extract_pseudo_features: pool images + pseudo-labels -> features/{dataset}/k{K}/pseudo_p{p}.h5."""
from zs3core.feature_extraction import extract_features
from zs3core.runlog import job_log
from zs3core.selftrain import pseudo_index
from zs3core.train.step0 import load_step0

with job_log(snakemake.log[0], snakemake.threads) as log:
    classes = snakemake.params.classes
    model = load_step0("seenonly", snakemake.input.checkpoint, len(classes), snakemake.params.segmenter)
    extract_features(model, pseudo_index(snakemake.input.pseudo), "train", classes, snakemake.params.unseen,
                     snakemake.output[0], max_per_class=snakemake.params.max_per_class,
                     seed=snakemake.params.seed, attrs={"checkpoint": snakemake.input.checkpoint,
                                                        "pseudo_labels": snakemake.input.pseudo},
                     num_workers=snakemake.params.segmenter["train"]["num_workers"], log=log)
