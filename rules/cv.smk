# Zero-shot cross-validation on seen classes (zs3core/cv.py): features -> cv/{dataset}/k{K}/
# gamma_{zs3,ceiling}.json (the calibration offset the classifiers apply under
# classifier.calibration.rule: cv) + sweep_{zs3,ceiling}.csv; all splits -> results/cv_{dataset}.{csv,md}.
# ZS5Net's p (zs3core/cv_selftrain.py): features -> cv/{dataset}/k{K}/p_zs5.json + sweep_p_zs5.csv,
# read by ZS5Net's jobs under selftrain.p: cv.
# The generator's settings (zs3core/cv_generator.py): features -> cv/{dataset}/k{K}/settings_{section}.json +
# sweep_settings_{section}.csv, read by the section's generator and by the two rules above.


rule cross_validate:
    """Pseudo-unseen seen classes, scored on held-out seen-only images; gamma = best pseudo hIoU.
    kind zs3 (zs3gan): a GMMN (GAN), bank and classifier on the other seen classes; kind ceiling: the classifier on
    real rows of every class (no generator: a generator setting does not rerun it)."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        embeddings=lambda wc: embedding_table(wc.dataset) if cv_section(wc) else [],
        settings=lambda wc: generator_settings_file(wc, cv_section(wc)) if cv_section(wc) else [],
    output:
        gamma="cv/{dataset}{seedtag}/k{K}/gamma_{kind}.json",
        sweep="cv/{dataset}{seedtag}/k{K}/sweep_{kind}.csv",
    wildcard_constraints:
        kind="|".join(cv_kinds()),
    params:
        cv=config["cv"],
        section=cv_section,
        generator=lambda wc: stage_config(config, cv_section(wc), wc.dataset) if cv_section(wc) else None,
        classifier=lambda wc: classifier_settings(wc.dataset, "cv"),
        n_per_class=lambda wc: config["bank"]["n_per_class"] if cv_section(wc) else None,
        dropout_at_generation=lambda wc: config["bank"]["dropout_at_generation"] if cv_section(wc) else None,
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
        settings=generator_settings_file,
    output:
        p="cv/{dataset}{seedtag}/k{K}/p_zs5.json",
        sweep="cv/{dataset}{seedtag}/k{K}/sweep_p_zs5.csv",
    params:
        cv=config["cv"],
        generator=lambda wc: stage_config(config, "generator", wc.dataset),
        classifier=lambda wc: classifier_settings(wc.dataset, "cv"),
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


rule cross_validate_generator:
    """A generator section's settings from its grid (`generator_cv`) on the pseudo-unseen split of
    cross_validate: per point a generator (at `budget` of its steps), bank and classifier; the point
    by pseudo hIoU at its cross-validated gamma (generator_cv.choice)."""
    input:
        features="features/{dataset}{seedtag}/k{K}/train.h5",
        holdout="data/{dataset}/holdout.txt",
        embeddings=lambda wc: embedding_table(wc.dataset),
    output:
        settings="cv/{dataset}{seedtag}/k{K}/settings_{section}.json",
        sweep="cv/{dataset}{seedtag}/k{K}/sweep_settings_{section}.csv",
    wildcard_constraints:
        section="[a-z][a-z0-9_]*",
    params:
        generator_cv=lambda wc: generator_cv_settings(wc.dataset, wc.section),
        section=lambda wc: stage_config(config, wc.section, wc.dataset),
        cv=config["cv"],
        classifier=lambda wc: classifier_settings(wc.dataset, "cv"),
        n_per_class=config["bank"]["n_per_class"],
        dropout_at_generation=config["bank"]["dropout_at_generation"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/cv/{dataset}{seedtag}_k{K}_settings_{section}.log",
    cache: True  # reused by later runs and variants (docs/variants.md)
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/cross_validate_generator.py"


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
