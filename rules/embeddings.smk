# Class names + word vectors -> embeddings/{source}/{dataset}.npy (+ .json provenance).


rule class_embeddings:
    """One row per class, in the dataset's class order, from the named word-vector source."""
    input:
        external_inputs("word_vectors"),
    output:
        table="embeddings/{source}/{dataset}.npy",
        provenance="embeddings/{source}/{dataset}.json",
    params:
        classes=lambda wc: class_names(wc.dataset),
        source=lambda wc: config["embeddings"]["sources"][wc.source],
        aliases=config["embeddings"]["aliases"],
        normalisation=config["embeddings"]["normalisation"],
    log:
        "logs/embeddings/{source}/{dataset}.log",
    benchmark:
        "benchmarks/embeddings/{source}/{dataset}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/class_embeddings.py"
