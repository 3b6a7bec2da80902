# Config validation, wildcard constraints and input functions shared by every stage.

from snakemake.utils import min_version, validate

from zs3core.config import check_config, deep_merge, normalise_split_keys, require_paths, split_ks, stage_config, unseen_classes

min_version("9.0")


normalise_split_keys(config)
validate(config, "../schemas/config.schema.yaml")
check_config(config)

DATASETS = list(config["datasets"])


def datasets_of_format(fmt):
    """Wildcard pattern matching the datasets of one on-disk format (never matches if none)."""
    names = [ds for ds, spec in config["datasets"].items() if spec["format"] == fmt]
    return "|".join(names) if names else "(?!)"

EMBEDDING_SOURCE = config["embeddings"]["source"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    source="|".join(config["embeddings"]["sources"]),
    K=r"\d+",


def dataset_config(name):
    return config["datasets"][name]


def class_names(name):
    return dataset_config(name)["classes"]


def embedding_table(dataset, source=EMBEDDING_SOURCE):
    return f"embeddings/{source}/{dataset}.npy"


def vector_file(wildcards):
    """The word-vector file of a source, so that a new file reruns the tables built from it."""
    source = config["embeddings"]["sources"][wildcards.source]
    return [source["path"]] if "path" in source else []


def checked_roots(*fields):
    """Input function that stops the DAG with the config key of any dataset folder missing."""

    def check(wildcards):
        require_paths(config, wildcards.dataset, list(fields))
        return []

    return check


def default_targets():
    """The paper's tables of every default dataset."""
    return [f"results/table{n}_{ds}.md" for ds in config["default_datasets"]
            for n in dataset_config(ds).get("tables", [])]


def segmenter_config(dataset):
    return stage_config(config, "segmenter", dataset)


def step0_config(dataset, kind):
    """The segmenter settings of one step-0 network; the baseline may train for other epochs."""
    seg = segmenter_config(dataset)
    epochs = stage_config(config, "baseline", dataset)["epochs"]
    if kind == "baseline" and epochs:
        seg = deep_merge(seg, {"train": {"epochs": epochs}})
    return seg


def baseline_init(wildcards):
    """The seen-only checkpoint the baseline starts from, when `baseline.init: seenonly`."""
    if wildcards.kind == "baseline" and stage_config(config, "baseline", wildcards.dataset)["init"] == "seenonly":
        return f"checkpoints/{wildcards.dataset}/k{wildcards.K}/seenonly.pt"
    return []


def unseen_of(wildcards):
    """Unseen class names of the split in the wildcards (none for the supervised oracle)."""
    return unseen_classes(config, wildcards.dataset, wildcards.K) if "K" in wildcards.keys() else []


def results_meta(wildcards, method, protocol="none"):
    """The columns that make a results row comparable with others (`calibration` and `gamma`
    are set per row by the evaluation: raw, or calibrated with its seen-logit offset)."""
    seg = segmenter_config(wildcards.dataset)
    return {"dataset": wildcards.dataset, "K": int(wildcards.get("K", 0)), "method": method,
            "seed": config["seed"], "protocol": protocol, "calibration": "raw", "gamma": 0.0,
            "backbone": seg["backbone"], "unseen_pixels": seg["unseen_pixels"],
            "embedding_source": EMBEDDING_SOURCE}


def synthetic_source(wildcards):
    """What supplies unseen features to ZS3's classifier: the fixed bank (strict protocol) or
    the generator itself, run at the unseen pixels of training images (authors' protocol)."""
    if config["classifier"]["protocol"] == "authors":
        return f"generators/{wildcards.dataset}/k{wildcards.K}/gmmn.pt"
    return f"banks/{wildcards.dataset}/k{wildcards.K}/gmmn.h5"


def table_inputs(dataset, methods, ks=None, supervised=False):
    """The results CSVs a table reads."""
    files = [f"results/{dataset}_supervised.csv"] if supervised else []
    return files + [f"results/{dataset}_k{k}_{m}.csv" for k in (ks or split_ks(config, dataset)) for m in methods]
