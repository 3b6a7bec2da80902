# The authors' published files (segmenter.authors_dir; docs/authors-checkpoints.md)
# -> the seen-only checkpoints (segmenter.init: authors), and their stage-2 models
# scored by this project's evaluator. Nothing is downloaded.


rule convert_authors_step0:
    """The authors' stage-1 DeepLab of split K, converted: the seen-only segmenter, without training."""
    input:
        authors=lambda wc: authors_input(wc, "seenonly"),
    output:
        "checkpoints/{dataset}{seedtag}/k{K}/seenonly.pt",
    wildcard_constraints:
        dataset="|".join(authors_init_datasets()) or "(?!)",
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        format=lambda wc: dataset_config(wc.dataset)["format"],
        segmenter=lambda wc: segmenter_config(wc.dataset),
    threads: config["compute"]["threads"]
    log:
        "logs/convert_authors/{dataset}{seedtag}_k{K}.log",
    benchmark:
        "benchmarks/convert_authors/{dataset}{seedtag}_k{K}.tsv"
    resources:
        mem_mb=8000,
        runtime=10,
    script:
        "../workflow_scripts/convert_authors.py"


rule evaluate_authors:
    """The authors' stage-2 final models (ZS3Net; + GC on Context), generalized evaluation."""
    input:
        model=lambda wc: authors_input(wc, wc.method),
        index="data/{dataset}/index.csv",
    output:
        metrics="results/{dataset}{seedtag}_k{K}_{method}.csv",
        per_class="results/{dataset}{seedtag}_k{K}_{method}_per_class.csv",
        confusion="results/{dataset}{seedtag}_k{K}_{method}_confusion.npy",
    wildcard_constraints:
        method=evaluated_pattern("authors"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        unseen=unseen_of,
        format=lambda wc: dataset_config(wc.dataset)["format"],
        meta=lambda wc: results_meta(wc, wc.method) | {"backbone": "resnet101"},
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
        "../workflow_scripts/evaluate_authors.py"
