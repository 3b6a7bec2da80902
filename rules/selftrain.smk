# ZS5Net self-training: the ZS3 model pseudo-labels the unlabelled pool ->
# pseudo/{dataset}/k{K}/p{p}/ -> features/{dataset}/k{K}/pseudo_p{p}.h5 -> classifiers/{dataset}/k{K}/zs5_p{p}.pt.
# p is a number, or `cv`: the p of cv/{dataset}/k{K}/p_zs5.json (rule cross_validate_p), read by the jobs.


rule pseudo_label:
    """Top p% most confident unseen-class pixels per pool image, from the ZS3 model (no pool label is read)."""
    input:
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
        classifier="classifiers/{dataset}{seedtag}/k{K}/zs3.pt",
        index="data/{dataset}/index.csv",
        holdout="data/{dataset}/holdout.txt",
        p_cv=selftrain_p_cv,
    output:
        directory("pseudo/{dataset}{seedtag}/k{K}/p{p}"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
        calibrated=lambda wc: stage_config(config, "selftrain", wc.dataset)["calibrated"],
    threads: config["compute"]["threads"]
    log:
        "logs/pseudo_label/{dataset}{seedtag}_k{K}_p{p}.log",
    benchmark:
        "benchmarks/pseudo_label/{dataset}{seedtag}_k{K}_p{p}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/pseudo_label.py"


rule pseudo_label_quality:
    """DIAGNOSTIC: pseudo-label precision and coverage against the pool's ground truth (never read by training)."""
    input:
        pseudo="pseudo/{dataset}{seedtag}/k{K}/p{p}",
        index="data/{dataset}/index.csv",
    output:
        report("pseudo/{dataset}{seedtag}/k{K}/p{p}_quality.csv", caption="../report/pseudo_quality.rst", category="Diagnostics"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
    log:
        "logs/pseudo_label/{dataset}{seedtag}_k{K}_p{p}_quality.log",
    benchmark:
        "benchmarks/pseudo_label/{dataset}{seedtag}_k{K}_p{p}_quality.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/pseudo_label_quality.py"


rule extract_pseudo_features:
    """Real features of the pool at its pseudo-labelled pixels (the seen-only segmenter, as for train.h5)."""
    input:
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
        pseudo="pseudo/{dataset}{seedtag}/k{K}/p{p}",
    output:
        "features/{dataset}{seedtag}/k{K}/pseudo_p{p}.h5",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
        max_per_class=lambda wc: stage_config(config, "features", wc.dataset)["max_per_class"],
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/extract_features/{dataset}{seedtag}_k{K}_pseudo_p{p}.log",
    benchmark:
        "benchmarks/extract_features/{dataset}{seedtag}_k{K}_pseudo_p{p}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/extract_pseudo_features.py"


rule retrain_zs5:
    """ZS5Net: the classifier retrained on real seen + synthetic unseen + pseudo-labelled pool features
    (`selftrain.mode: classifier`), or decoder + classifier fine-tuned on seen labels + pseudo-labels
    (`finetune`)."""
    input:
        unpack(zs5_inputs),
    output:
        "classifiers/{dataset}{seedtag}/k{K}/zs5_p{p}.pt",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        classifier=lambda wc: classifier_settings(wc.dataset),
        finetune=finetune_settings,
        segmenter=lambda wc: segmenter_config(wc.dataset),
        work_dir=lambda wc: f"classifiers/{wc.dataset}{wc.seedtag}/k{wc.K}/zs5_p{wc.p}.work",
        seed=seed_of,
    threads: config["compute"]["threads"]
    log:
        "logs/retrain/{dataset}{seedtag}_k{K}_zs5_p{p}.log",
    benchmark:
        "benchmarks/retrain/{dataset}{seedtag}_k{K}_zs5_p{p}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    script:
        "../workflow_scripts/retrain_zs5.py"
