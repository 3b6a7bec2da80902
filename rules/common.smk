# Config validation, wildcard constraints and input functions shared by every stage.

from snakemake.utils import min_version, validate

from zs3core.config import check_config, normalise_split_keys, require_paths, stage_config, unseen_classes

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
    targets = []
    for ds in config["default_datasets"]:
        targets += [f"data/{ds}/index.csv", embedding_table(ds)]
    return targets


def segmenter_config(dataset):
    return stage_config(config, "segmenter", dataset)


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
