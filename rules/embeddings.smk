# Class names + word vectors -> embeddings/{source}/{dataset}.npy (+ .json provenance).


rule class_embeddings:
    """One row per class, in the dataset's class order, from the named source (word vectors, or
    the authors' tables shipped in zs3core/embedding_tables/authors/)."""
    input:
        external_inputs("word_vectors"),
    output:
        table="embeddings/{source}/{dataset}.npy",
        provenance="embeddings/{source}/{dataset}.json",
    params:
        classes=lambda wc: class_names(wc.dataset),
        source=embedding_source_spec,
        aliases=config["embeddings"]["aliases"],
        normalisation=lambda wc: source_normalisation(config, wc.source),
    log:
        "logs/embeddings/{source}/{dataset}.log",
    benchmark:
        "benchmarks/embeddings/{source}/{dataset}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/class_embeddings.py"
