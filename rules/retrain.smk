# Step 2: features (+ synthetic bank) -> classifiers/{dataset}/k{K}/{zs3,ceiling}.pt with gamma.


rule retrain_zs3:
    """ZS3Net: the 1x1 classifier retrained on real seen + synthetic unseen features."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        synthetic=synthetic_source,
        embeddings=lambda wc: embedding_table(wc.dataset),
        cv_gamma="cv/{dataset}{seedtag}/k{K}/gamma_zs3.json",
    output:
        "classifiers/{dataset}{seedtag}/k{K}/zs3.pt",
    params:
        method="zs3",
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        classifier=lambda wc: classifier_settings(wc.dataset),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/retrain/{dataset}{seedtag}_k{K}_zs3.log",
    benchmark:
        "benchmarks/retrain/{dataset}{seedtag}_k{K}_zs3.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/retrain_classifier.py"


rule retrain_ceiling:
    """Diagnostic oracle: the classifier retrained on REAL features of every class."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        cv_gamma="cv/{dataset}{seedtag}/k{K}/gamma_ceiling.json",
    output:
        "classifiers/{dataset}{seedtag}/k{K}/ceiling.pt",
    params:
        method="ceiling",
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        classifier=lambda wc: classifier_settings(wc.dataset),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/retrain/{dataset}{seedtag}_k{K}_ceiling.log",
    benchmark:
        "benchmarks/retrain/{dataset}{seedtag}_k{K}_ceiling.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/retrain_classifier.py"
