# ZS3Net (GAN), the paper's GAN variant: features + embeddings -> generators/{dataset}/k{K}/gan.pt
# -> banks/{dataset}/k{K}/gan.h5 -> classifiers/{dataset}/k{K}/zs3gan.pt (evaluated by evaluate_retrained).


rule train_gan:
    """f-CLSWGAN's conditional WGAN-GP + classification loss on real seen-class features of seen-only
    images, with the settings its zero-shot cross-validation chose where `generator_cv` names a grid."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        embeddings=lambda wc: embedding_table(wc.dataset),
        holdout=stage_holdout,
        settings=lambda wc: generator_settings_file(wc, "gan"),
    output:
        weights="generators/{dataset}{seedtag}/k{K}/gan.pt",
        loss_curve="generators/{dataset}{seedtag}/k{K}/gan_loss.csv",
    params:
        kind="gan",
        generator=lambda wc: stage_config(config, "gan", wc.dataset),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/train_gan/{dataset}{seedtag}_k{K}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/train_generator.py"


rule generate_gan_bank:
    """N synthetic features per unseen class from the GAN's generator, as the GMMN's bank."""
    input:
        generator="generators/{dataset}{seedtag}/k{K}/gan.pt",
        embeddings=lambda wc: embedding_table(wc.dataset),
        features="features/{dataset}{seedtag}/k{K}/train.h5",
    output:
        "banks/{dataset}{seedtag}/k{K}/gan.h5",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        n_per_class=config["bank"]["n_per_class"],
        dropout_at_generation=config["bank"]["dropout_at_generation"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/generate_bank/{dataset}{seedtag}_k{K}_gan.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/generate_bank.py"


rule retrain_zs3gan:
    """ZS3Net (GAN): the 1x1 classifier retrained on real seen + the GAN's unseen features."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        bank="banks/{dataset}{seedtag}/k{K}/gan.h5",
        holdout="data/{dataset}/holdout.txt",
        cv_gamma="cv/{dataset}{seedtag}/k{K}/gamma_zs3gan.json",  # its own CV gamma (a GAN on the pseudo split)
    output:
        "classifiers/{dataset}{seedtag}/k{K}/zs3gan.pt",
    params:
        method="zs3gan",
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        classifier=lambda wc: classifier_settings(wc.dataset, "bank"),
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/retrain/{dataset}{seedtag}_k{K}_zs3gan.log",
    benchmark:
        "benchmarks/retrain/{dataset}{seedtag}_k{K}_zs3gan.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/retrain_on_bank.py"
