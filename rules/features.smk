# Seen-only checkpoint + index -> features/{dataset}/k{K}/{split}.h5: sampled pixel features.


rule extract_features:
    """Pixel features of the seen-only segmenter of split K, per image and class present."""
    input:
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
        index="data/{dataset}/index.csv",
    output:
        "features/{dataset}{seedtag}/k{K}/{split}.h5",
    wildcard_constraints:
        split="train|val",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
        max_per_class=lambda wc: stage_config(config, "features", wc.dataset)["max_per_class"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/extract_features/{dataset}{seedtag}_k{K}_{split}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/extract_features.py"
