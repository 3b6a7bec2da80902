# Zero-shot cross-validation on seen classes (zs3core/cv.py): features -> cv/{dataset}/k{K}/
# gamma_{zs3,ceiling}.json (the calibration offset the classifiers apply under
# classifier.calibration.rule: cv) + sweep.csv; all splits -> results/cv_{dataset}.{csv,md}.


rule cross_validate:
    """Pseudo-unseen seen classes: a GMMN, bank and classifier on the rest, and the real-feature
    ceiling's classifier, scored on held-out seen-only images; gamma = best pseudo hIoU."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        embeddings=lambda wc: embedding_table(wc.dataset),
    output:
        zs3="cv/{dataset}{seedtag}/k{K}/gamma_zs3.json",
        ceiling="cv/{dataset}{seedtag}/k{K}/gamma_ceiling.json",
        sweep="cv/{dataset}{seedtag}/k{K}/sweep.csv",
    params:
        cv=config["cv"],
        generator=lambda wc: stage_config(config, "generator", wc.dataset),
        classifier={k: v for k, v in config["classifier"].items() if k != "protocol"},
        n_per_class=config["bank"]["n_per_class"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/cv/{dataset}{seedtag}_k{K}.log",
    benchmark:
        "benchmarks/cv/{dataset}{seedtag}_k{K}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/cross_validate.py"


rule cv_report:
    """Per K: the pseudo-unseen classes, the gamma sweep, the chosen gammas, and raw / CV / rate-rule
    hIoU of ZS3Net and the real-feature ceiling on the test split."""
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
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/cv_report.py"
