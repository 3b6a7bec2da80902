# Zero-shot cross-validation on seen classes (zs3core/cv.py): features -> cv/{dataset}/k{K}/
# gamma_{zs3,ceiling}.json (the calibration offset the classifiers apply under
# classifier.calibration.rule: cv) + sweep_{zs3,ceiling}.csv; all splits -> results/cv_{dataset}.{csv,md}.
# ZS5Net's p (zs3core/cv_selftrain.py): features -> cv/{dataset}/k{K}/p_zs5.json + sweep_p_zs5.csv,
# read by ZS5Net's jobs under selftrain.p: cv.


rule cross_validate:
    """Pseudo-unseen seen classes, scored on held-out seen-only images; gamma = best pseudo hIoU.
    kind zs3: a GMMN, bank and classifier on the other seen classes; kind ceiling: the classifier on
    real rows of every class (no generator: a generator setting does not rerun it)."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        embeddings=lambda wc: embedding_table(wc.dataset) if wc.kind == "zs3" else [],
    output:
        gamma="cv/{dataset}{seedtag}/k{K}/gamma_{kind}.json",
        sweep="cv/{dataset}{seedtag}/k{K}/sweep_{kind}.csv",
    wildcard_constraints:
        kind="zs3|ceiling",
    params:
        cv=config["cv"],
        generator=lambda wc: stage_config(config, "generator", wc.dataset) if wc.kind == "zs3" else None,
        classifier=cv_classifier_settings(),
        n_per_class=lambda wc: config["bank"]["n_per_class"] if wc.kind == "zs3" else None,
        dropout_at_generation=lambda wc: config["bank"]["dropout_at_generation"] if wc.kind == "zs3" else None,
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/cv/{dataset}{seedtag}_k{K}_{kind}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/cross_validate.py"


rule cross_validate_p:
    """ZS5Net's p on the pseudo-unseen split of cross_validate: its ZS3Net pseudo-labels the seen-only
    images that hold a pseudo-unseen class, a classifier is retrained per p of `selftrain.p_grid`,
    p = best pseudo hIoU on the held-out seen-only images (cv.choice)."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        embeddings=lambda wc: embedding_table(wc.dataset),
    output:
        p="cv/{dataset}{seedtag}/k{K}/p_zs5.json",
        sweep="cv/{dataset}{seedtag}/k{K}/sweep_p_zs5.csv",
    params:
        cv=config["cv"],
        generator=lambda wc: stage_config(config, "generator", wc.dataset),
        classifier=cv_classifier_settings(),
        n_per_class=config["bank"]["n_per_class"],
        dropout_at_generation=config["bank"]["dropout_at_generation"],
        p_grid=lambda wc: stage_config(config, "selftrain", wc.dataset)["p_grid"],
        calibrated=lambda wc: stage_config(config, "selftrain", wc.dataset)["calibrated"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/cv/{dataset}{seedtag}_k{K}_p_zs5.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/cross_validate_p.py"


rule cv_report:
    """Per K: the pseudo-unseen classes, the gamma sweep, the chosen gammas, and raw / CV / rate-rule
    hIoU of ZS3Net and the real-feature ceiling on the test split."""
    localrule: True
    input:
        lambda wc: [path for split in cv_report_splits(wc.dataset) for key, path in split.items()
                    if key not in ("seed", "K")],
    output:
        csv="results/cv_{dataset}.csv",
        md=report("results/cv_{dataset}.md", caption="../report/cv.rst", category="Tables"),
    params:
        splits=lambda wc: cv_report_splits(wc.dataset),
    log:
        "logs/tables/cv_{dataset}.log",
    benchmark:
        "benchmarks/tables/cv_{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/cv_report.py"
