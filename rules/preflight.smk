# Dataset roots + config -> results/preflight_{dataset}.md (+ .csv): a check of every file the
# run will read, before the first GPU job (zs3core/preflight*.py). Never a default target.


rule preflight:
    """Decode every image and label once, check splits, class names, word vectors and weight
    files, and estimate disk and GPU hours; problems are findings, not failures."""
    output:
        md="results/preflight_{dataset}.md",
        csv="results/preflight_{dataset}.csv",
    wildcard_constraints:
        dataset="|".join(ds for ds in DATASETS if dataset_config(ds)["format"] in ("voc", "context")) or "(?!)",
    params:
        format=lambda wc: dataset_config(wc.dataset)["format"],
        classes=lambda wc: class_names(wc.dataset),
        root=lambda wc: dataset_config(wc.dataset).get("root"),
        sbd_root=lambda wc: dataset_config(wc.dataset).get("sbd_root"),
        labels=lambda wc: dataset_config(wc.dataset).get("labels"),
        splits=lambda wc: dataset_config(wc.dataset).get("splits"),
        layout=lambda wc: dataset_config(wc.dataset).get("layout", "auto"),
        label_renames=lambda wc: dataset_config(wc.dataset).get("label_renames", {}),
        unseen=lambda wc: {k: unseen_classes(config, wc.dataset, k) for k in split_ks(config, wc.dataset)},
        segmenter=lambda wc: segmenter_config(wc.dataset),
        baseline_epochs=lambda wc: stage_config(config, "baseline", wc.dataset)["epochs"],
        max_per_class=lambda wc: stage_config(config, "features", wc.dataset)["max_per_class"],
        n_per_class=config["bank"]["n_per_class"],
        generator=lambda wc: stage_config(config, "generator", wc.dataset),
        gc=lambda wc: stage_config(config, "gc", wc.dataset),
        gan=lambda wc: stage_config(config, "gan", wc.dataset),
        tables=lambda wc: dataset_config(wc.dataset).get("tables", []),
        holdout_fraction=config["holdout"]["fraction"],
        seed=config["seed"],
        embedding_source=lambda wc: embedding_source(config, wc.dataset),
        embedding=lambda wc: embedding_source_spec(SimpleNamespace(source=embedding_source(config, wc.dataset),
                                                                   dataset=wc.dataset)),
        aliases=config["embeddings"]["aliases"],
    threads: 8
    log:
        "logs/preflight/{dataset}.log",
    benchmark:
        "benchmarks/preflight/{dataset}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/preflight.py"
