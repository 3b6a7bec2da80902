# Step 1: features + embeddings -> generators/{dataset}/k{K}/gmmn.pt -> banks/{dataset}/k{K}/gmmn.h5.


rule train_generator:
    """GMMN trained by multi-kernel MMD on real seen-class features of seen-only images, with the
    settings its zero-shot cross-validation chose where `generator_cv` names a grid."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        embeddings=lambda wc: embedding_table(wc.dataset),
        holdout=stage_holdout,
        settings=generator_settings_file,  # the cross-validated settings (generator_cv), if any
    output:
        weights="generators/{dataset}{seedtag}/k{K}/gmmn.pt",
        loss_curve="generators/{dataset}{seedtag}/k{K}/gmmn_loss.csv",
    params:
        kind="gmmn",
        generator=lambda wc: stage_config(config, "generator", wc.dataset),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/train_generator/{dataset}{seedtag}_k{K}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/train_generator.py"


rule generate_bank:
    """N synthetic features per unseen class, from the class embedding alone."""
    input:
        generator="generators/{dataset}{seedtag}/k{K}/gmmn.pt",
        embeddings=lambda wc: embedding_table(wc.dataset),
        features="features/{dataset}{seedtag}/k{K}/train.h5",
    output:
        "banks/{dataset}{seedtag}/k{K}/gmmn.h5",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        n_per_class=config["bank"]["n_per_class"],
        dropout_at_generation=config["bank"]["dropout_at_generation"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/generate_bank/{dataset}{seedtag}_k{K}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/generate_bank.py"
