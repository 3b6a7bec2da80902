# model + test split -> results/{dataset}_k{K}_{method}.csv (+ _per_class.csv, _confusion.npy).
# Generalized evaluation over all classes at the original resolution; vanilla unseen mIoU too.


rule evaluate_step0:
    """The reference rows: the seen-only segmenter, the DeViSE baseline and ALE, over all classes."""
    input:
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/{method}.pt",
        index="data/{dataset}/index.csv",
        embeddings=step0_embeddings,
    output:
        metrics=report("results/{dataset}{seedtag}_k{K}_{method}.csv", caption="../report/metrics.rst",
                       category="Metrics", subcategory="{dataset}"),
        per_class=report("results/{dataset}{seedtag}_k{K}_{method}_per_class.csv", caption="../report/per_class.rst",
                         category="Per-class metrics", subcategory="{dataset}"),
        confusion="results/{dataset}{seedtag}_k{K}_{method}_confusion.npy",
    wildcard_constraints:
        method=evaluated_pattern("step0"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
        meta=lambda wc: results_meta(wc, wc.method),
        absent_as_zero=config["evaluation"]["absent_as_zero"],
    threads: config["compute"]["threads"]
    log:
        "logs/evaluate/{dataset}{seedtag}_k{K}_{method}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}{seedtag}_k{K}_{method}.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/evaluate_step0.py"


rule evaluate_supervised:
    """The oracle row: the segmenter trained on all classes."""
    input:
        checkpoint="checkpoints/{dataset}{seedtag}/supervised.pt",
        index="data/{dataset}/index.csv",
    output:
        metrics=report("results/{dataset}{seedtag}_supervised.csv", caption="../report/metrics.rst",
                       category="Metrics", subcategory="{dataset}"),
        per_class=report("results/{dataset}{seedtag}_supervised_per_class.csv", caption="../report/per_class.rst",
                         category="Per-class metrics", subcategory="{dataset}"),
        confusion="results/{dataset}{seedtag}_supervised_confusion.npy",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=[],
        segmenter=lambda wc: segmenter_config(wc.dataset),
        meta=lambda wc: results_meta(wc, "supervised"),
        absent_as_zero=config["evaluation"]["absent_as_zero"],
    threads: config["compute"]["threads"]
    log:
        "logs/evaluate/{dataset}{seedtag}_supervised.log",
    benchmark:
        "benchmarks/evaluate/{dataset}{seedtag}_supervised.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/evaluate_step0.py"


rule evaluate_retrained:
    """Frozen seen-only segmenter + a retrained classifier, raw (gamma 0) and calibrated."""
    input:
        checkpoint="checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
        classifier=classifier_file,
        index="data/{dataset}/index.csv",
        generator_settings=method_settings_file,  # the chosen generator settings its rows record
    output:
        metrics=report("results/{dataset}{seedtag}_k{K}_{method}.csv", caption="../report/metrics.rst",
                       category="Metrics", subcategory="{dataset}"),
        per_class=report("results/{dataset}{seedtag}_k{K}_{method}_per_class.csv", caption="../report/per_class.rst",
                         category="Per-class metrics", subcategory="{dataset}"),
        confusion="results/{dataset}{seedtag}_k{K}_{method}_confusion.npy",
    wildcard_constraints:
        method=evaluated_pattern("retrained"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        segmenter=lambda wc: segmenter_config(wc.dataset),
        meta=lambda wc: results_meta(wc, wc.method),
        absent_as_zero=config["evaluation"]["absent_as_zero"],
    threads: config["compute"]["threads"]
    log:
        "logs/evaluate/{dataset}{seedtag}_k{K}_{method}.log",
    benchmark:
        "benchmarks/evaluate/{dataset}{seedtag}_k{K}_{method}.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../workflow_scripts/evaluate_retrained.py"
