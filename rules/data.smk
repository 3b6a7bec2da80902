# Datasets -> data/{dataset}/index.csv: one row per image (split, image, label, classes present).


rule synthetic_world:
    """Render a synthetic zero-shot world in Pascal-VOC's on-disk layout."""
    input:
        embeddings=lambda wc: embedding_table(wc.dataset, dataset_config(wc.dataset)["world"]["embedding_source"]),
    output:
        directory("data/{dataset}/VOC2012"),
    wildcard_constraints:
        dataset=datasets_of_format("synthetic"),
    params:
        classes=lambda wc: class_names(wc.dataset),
        world=lambda wc: dataset_config(wc.dataset)["world"],
        seed=config["seed"],
    log:
        "logs/synthetic_world/{dataset}.log",
    benchmark:
        "benchmarks/synthetic_world/{dataset}.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../workflow_scripts/synthetic_world.py"


rule index_synthetic:
    """Index a synthetic world with the VOC reader (it is written in VOC's layout)."""
    input:
        root="data/{dataset}/VOC2012",
    output:
        "data/{dataset}/index.csv",
    wildcard_constraints:
        dataset=datasets_of_format("synthetic"),
    params:
        **first_images_param(),
        classes=lambda wc: class_names(wc.dataset),
    log:
        "logs/index/{dataset}.log",
    benchmark:
        "benchmarks/index/{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../workflow_scripts/index_voc.py"


rule index_voc:
    """Index Pascal-VOC 2012 (+ SBD): train = VOC train + SBD train/val minus VOC val."""
    input:
        external_inputs("dataset_folders"),
    output:
        "data/{dataset}/index.csv",
    wildcard_constraints:
        dataset=datasets_of_format("voc"),
    params:
        **first_images_param(),
        classes=lambda wc: class_names(wc.dataset),
        root=lambda wc: dataset_config(wc.dataset)["root"],
        sbd_root=lambda wc: dataset_config(wc.dataset).get("sbd_root"),
    log:
        "logs/index/{dataset}.log",
    benchmark:
        "benchmarks/index/{dataset}.tsv"
    resources:
        mem_mb=2000,
        runtime=60,
    script:
        "../workflow_scripts/index_voc.py"


rule context_labels:
    """Convert Pascal-Context's 459-class .mat LabelMaps to 60-class palette PNGs, once."""
    input:
        external_inputs("dataset_folders"),
    output:
        directory("data/{dataset}/labels"),
    wildcard_constraints:
        dataset=datasets_of_format("context"),
    params:
        **first_images_param(),
        classes=lambda wc: class_names(wc.dataset),
        labels=lambda wc: dataset_config(wc.dataset)["labels"],
        splits=lambda wc: dataset_config(wc.dataset)["splits"],
        renames=lambda wc: dataset_config(wc.dataset).get("label_renames", {}),
    log:
        "logs/context_labels/{dataset}.log",
    benchmark:
        "benchmarks/context_labels/{dataset}.tsv"
    resources:
        mem_mb=2000,
        runtime=120,
    script:
        "../workflow_scripts/context_labels.py"


rule index_context:
    """Index Pascal-Context: VOC2010 images with the converted 60-class labels."""
    input:
        labels="data/{dataset}/labels",
    output:
        "data/{dataset}/index.csv",
    wildcard_constraints:
        dataset=datasets_of_format("context"),
    params:
        **first_images_param(),
        classes=lambda wc: class_names(wc.dataset),
        root=lambda wc: dataset_config(wc.dataset)["root"],
        splits=lambda wc: dataset_config(wc.dataset)["splits"],
    log:
        "logs/index/{dataset}.log",
    benchmark:
        "benchmarks/index/{dataset}.tsv"
    resources:
        mem_mb=2000,
        runtime=60,
    script:
        "../workflow_scripts/index_context.py"


rule holdout:
    """The calibration hold-out: a seeded share of the training images that no trained stage
    learns from (zs3core/holdout.py); gamma and the cross-validation are scored on it."""
    input:
        "data/{dataset}/index.csv",
    output:
        "data/{dataset}/holdout.txt",
    params:
        fraction=config["holdout"]["fraction"],
        seed=config["seed"],
    log:
        "logs/holdout/{dataset}.log",
    benchmark:
        "benchmarks/holdout/{dataset}.tsv"
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../workflow_scripts/choose_holdout.py"
