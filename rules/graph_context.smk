# ZS3Net + GC: features + masks + embeddings -> generators/{dataset}/k{K}/gc.pt
# -> banks/{dataset}/k{K}/gc.h5 -> classifiers/{dataset}/k{K}/zs3gc.pt (evaluated by evaluate_retrained).


rule train_gc:
    """The graph-context generator: MMD on seen pixels and on region-mean nodes of seen-only masks."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        embeddings=lambda wc: embedding_table(wc.dataset),
        holdout=stage_holdout,
    output:
        weights="generators/{dataset}{seedtag}/k{K}/gc.pt",
        loss_curve="generators/{dataset}{seedtag}/k{K}/gc_loss.csv",
    params:
        gc=lambda wc: stage_config(config, "gc", wc.dataset),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/train_gc/{dataset}{seedtag}_k{K}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/train_gc.py"


rule generate_gc_bank:
    """N synthetic features per unseen class, at the unseen nodes of the training masks' graphs
    (the held-out images' masks left out under `holdout.scope: all_stages`)."""
    input:
        generator="generators/{dataset}{seedtag}/k{K}/gc.pt",
        embeddings=lambda wc: embedding_table(wc.dataset),
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout=stage_holdout,
    output:
        "banks/{dataset}{seedtag}/k{K}/gc.h5",
    params:
        n_per_class=config["bank"]["n_per_class"],
        dropout_at_generation=config["bank"]["dropout_at_generation"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/generate_gc_bank/{dataset}{seedtag}_k{K}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/generate_gc_bank.py"


rule retrain_zs3gc:
    """ZS3Net + GC: the 1x1 classifier retrained on real seen + graph-context unseen features."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        bank="banks/{dataset}{seedtag}/k{K}/gc.h5",
        holdout="data/{dataset}/holdout.txt",
        cv_gamma="cv/{dataset}{seedtag}/k{K}/gamma_zs3.json",  # ZS3Net's CV gamma (no CV of its own)
    output:
        "classifiers/{dataset}{seedtag}/k{K}/zs3gc.pt",
    params:
        method="zs3gc",
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        classifier=lambda wc: classifier_settings(wc.dataset, "bank"),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/retrain/{dataset}{seedtag}_k{K}_zs3gc.log",
    benchmark:
        "benchmarks/retrain/{dataset}{seedtag}_k{K}_zs3gc.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/retrain_on_bank.py"
