# Config validation, wildcard constraints and input functions shared by every stage.

import functools
from pathlib import Path
from types import SimpleNamespace

import yaml

from snakemake.utils import min_version

from zs3core.authors import authors_file, file_name, published, resolve_architecture, with_authors_backbone
from zs3core.authors_embeddings import FORMAT as AUTHORS_EMBEDDINGS
from zs3core.claims import claim_methods as claims_compare
from zs3core.config import (ConfigError, canonicalise, check_config, deep_merge, embedding_source, source_normalisation,
                            split_ks, stage_config, unseen_classes)
from zs3core.config_schema import validate_config
from zs3core.cpu_kernels import use_cpu_kernels
from zs3core.curves import tensorboard_available
from zs3core.data.images import image_files
from zs3core.data.layouts import LAYOUTS, LayoutError, choose_layout
from zs3core.embeddings import MissingWordsError, check_vocabulary
from zs3core.methods import (BY_NAME, classifier_methods, cv_kinds, evaluated_pattern, figure_pattern, split_methods,
                             table_methods)
from zs3core.generator_grid import section_grid
from zs3core.mechanisms import grid_datasets, grid_points, grid_results
from zs3core.named import named_model, named_tag, new_names
from zs3core.prerequisites import external_files, require as require_external
from zs3core.provenance import GENERATOR_METHODS, row_meta

min_version("9.0")


# The --config values win over config files, typed as config.yaml would type them (config_schema).
validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml", workflow.config_settings.config)
# Keys in config.yaml's order whatever route a setting came by (config.yaml, --configfile, --config),
# so that a rule's params change only when a value does (zs3core.config.canonical).
canonicalise(config, yaml.safe_load((Path(workflow.basedir) / "config.yaml").read_text()))
check_config(config)
use_cpu_kernels(config["compute"]["cpu_kernels"])  # every job inherits the pin (zs3core/cpu_kernels.py) or not
# The mechanisms bench's worlds: copies of its base dataset at other world settings (zs3core/mechanisms.py).
config["datasets"].update(grid_datasets(config))

DATASETS = list(config["datasets"])


def datasets_of_format(fmt):
    """Wildcard pattern matching the datasets of one on-disk format (never matches if none)."""
    names = [ds for ds, spec in config["datasets"].items() if spec["format"] == fmt]
    return "|".join(names) if names else "(?!)"


wildcard_constraints:
    dataset="|".join(DATASETS),
    source="|".join(config["embeddings"]["sources"]),
    K=r"\d+",
    seedtag=r"(_seed\d+)?",
    p=r"\d+(\.\d+)?|cv",  # cv: ZS5Net at the cross-validated p (selftrain.p: cv)


# Seeds: every run of the config's `seed` has plain paths (`results/synthvoc_k2_zs3.csv`); each
# other seed of `seeds` has its own, tagged after the dataset (`results/synthvoc_seed1_k2_zs3.csv`,
# `checkpoints/synthvoc_seed1/k2/seenonly.pt`). Tables average over all of `seeds`.
SEEDS = config.get("seeds") or [config["seed"]]


def seed_tag(seed):
    return "" if int(seed) == config["seed"] else f"_seed{seed}"


def seed_of(wildcards):
    """The seed of a seed-dependent job, from its `seedtag` wildcard."""
    return int(wildcards.seedtag.removeprefix("_seed")) if wildcards.seedtag else config["seed"]


def run_dir(wildcards):
    """`{dataset}{seedtag}/k{K}`: the folder part of one split's seed-dependent files."""
    return f"{wildcards.dataset}{wildcards.seedtag}/k{wildcards.K}"


def dataset_config(name):
    return config["datasets"][name]


def class_names(name):
    return dataset_config(name)["classes"]


def embedding_table(dataset, source=None):
    """The class table of `source`, by default the dataset's (`datasets.<name>.embeddings.source`)."""
    return f"embeddings/{source or embedding_source(config, dataset)}/{dataset}.npy"


def embedding_source_spec(wildcards):
    """A source's settings as the embedding job reads them; the authors' tables also name the
    dataset's format, whose table it takes (`zs3core.authors_embeddings`)."""
    source = config["embeddings"]["sources"][wildcards.source]
    if source["format"] == AUTHORS_EMBEDDINGS:
        return source | {"table": dataset_config(wildcards.dataset)["format"]}
    return source


def external_inputs(*kinds):
    """Input function for the files of `kinds` that a job reads and the workflow does not make
    (`zs3core.prerequisites.KINDS`; dataset folders, backbone weights, word vectors). When the DAG
    is built, a ConfigError names the config key, path and source of every one of them missing
    for the job's dataset (and `source`), before any job runs; the tracked ones (word vectors) are
    inputs, so that a new file reruns what was built from it."""

    def files(wildcards):
        needed = external_files(config, wildcards.dataset, kinds, source=wildcards.get("source"))
        require_external(needed)
        return [f.path for f in needed if f.tracked]

    return files


@functools.cache
def dataset_layout(name):
    """The on-disk layout of a real dataset (zs3core/data/layouts.py: named by its `layout`, or
    found from its paths and root); a ConfigError names the key when it cannot be read."""
    try:
        return choose_layout(name, dataset_config(name))
    except (FileNotFoundError, LayoutError) as exc:
        raise ConfigError(str(exc)) from exc


def datasets_of_layout(*layouts):
    """Wildcard pattern matching the real datasets read in one of `layouts`. A dataset whose layout
    cannot be told goes to its format's first layout, whose rule's input (`checked_layout`) stops
    the DAG with the reason if that dataset is needed at all."""

    def name(ds):
        try:
            return dataset_layout(ds).name
        except ConfigError:
            return LAYOUTS[dataset_config(ds)["format"]][0]

    names = [ds for ds, spec in config["datasets"].items() if spec["format"] in LAYOUTS and name(ds) in layouts]
    return "|".join(names) if names else "(?!)"


def checked_layout(wildcards):
    """Input function of the index rules: stops the DAG naming the config key of a dataset folder
    that is missing (`external_inputs`) or of a layout that cannot be read."""
    external_inputs("dataset_folders")(wildcards)
    dataset_layout(wildcards.dataset)
    return []


def default_targets():
    """The paper's tables of every default dataset, the verdicts on its claims, its figures
    (`figure_targets`) and its training curves (`curve_targets`)."""
    return [f"results/table{n}_{ds}.md" for ds in config["default_datasets"]
            for n in dataset_config(ds).get("tables", [])] + \
        [f"results/claims_{ds}.md" for ds in config["default_datasets"]] + figure_targets() + \
        [f"results/cv_{ds}.md" for ds in config["default_datasets"]] + curve_targets()


def claim_methods(dataset):
    """The methods whose rows the claims compare where this dataset's tables show them
    (zs3core/claims.py, zs3core/methods.py)."""
    return claims_compare(dataset_config(dataset).get("tables", []))


def segmenter_config(dataset):
    """A dataset's segmenter settings as built (the authors' architecture and backbone resolved)."""
    seg = resolve_architecture(stage_config(config, "segmenter", dataset))
    return with_authors_backbone(seg, dataset_config(dataset)["format"])


EMBEDDING_STEP0 = tuple(n for n, m in BY_NAME.items() if m.step0_embeddings)  # step-0 networks scoring class embeddings


def step0_embeddings(wildcards):
    """The class embedding table a step-0 job reads: that of the baseline and ALE, none else."""
    kind = wildcards.get("kind") or wildcards.get("method")
    return embedding_table(wildcards.dataset) if kind in EMBEDDING_STEP0 else []


def step0_config(dataset, kind):
    """The segmenter settings of one step-0 network; the baseline's carry its loss (`devise`),
    ALE's its margin (`ale`), and both may train for the baseline's other epochs."""
    seg = segmenter_config(dataset)
    if kind not in EMBEDDING_STEP0:
        return seg
    baseline = stage_config(config, "baseline", dataset)
    if kind == "ale":
        extra = {"ale": {"margin": stage_config(config, "ale", dataset)["margin"]}}
    else:
        extra = {"devise": {"loss": baseline["loss"], "margin": baseline["margin"]}}
    if baseline["epochs"]:
        extra["train"] = {"epochs": baseline["epochs"]}
    return deep_merge(seg, extra)


def baseline_init(wildcards):
    """The seen-only checkpoint the baseline (and ALE) starts from, when `baseline.init: seenonly`."""
    if wildcards.kind in EMBEDDING_STEP0 and stage_config(config, "baseline", wildcards.dataset)["init"] == "seenonly":
        return f"checkpoints/{run_dir(wildcards)}/seenonly.pt"
    return []


def stage_holdout(wildcards):
    """The hold-out file for the step-0 and generator jobs that leave it out (`holdout.scope:
    all_stages`; the supervised oracle never does); classifiers always read it."""
    return f"data/{wildcards.dataset}/holdout.txt" if config["holdout"]["scope"] == "all_stages" else []


def unseen_of(wildcards):
    """Unseen class names of the split in the wildcards (none for the supervised oracle)."""
    return unseen_classes(config, wildcards.dataset, wildcards.K) if "K" in wildcards.keys() else []


def results_meta(wildcards, method):
    """How a results row was made (`zs3core.provenance.row_meta`), from this run's config."""
    ds, base = wildcards.dataset, method.partition("_p")[0]
    generator = stage_config(config, GENERATOR_METHODS[base], ds) if base in GENERATOR_METHODS else None
    selftrain, baseline = None, None
    if base in EMBEDDING_STEP0:
        baseline = stage_config(config, "baseline", ds) | {"epochs": step0_config(ds, base)["train"]["epochs"]}
    if base == "zs5":
        p = method.removeprefix("zs5_p") if "_p" in method else selftrain_p(ds)
        selftrain = stage_config(config, "selftrain", ds) | {"p": p if p == "cv" else float(p)}
    return row_meta(dataset=ds, K=int(wildcards.get("K", 0)), method=method, seed=seed_of(wildcards),
                    classifier_protocol=config["classifier"]["protocol"], segmenter=segmenter_config(ds),
                    holdout_scope=config["holdout"]["scope"], embedding_source=embedding_source(config, ds),
                    generator=generator, dropout_at_generation=config["bank"]["dropout_at_generation"],
                    selftrain=selftrain, baseline=baseline,
                    ale=stage_config(config, "ale", ds) if base == "ale" else None, eval_short_side=config["evaluation"]["short_side"],
                    classifier=stage_config(config, "classifier", ds),
                    max_per_class=stage_config(config, "features", ds)["max_per_class"])


def synthetic_source(wildcards):
    """What supplies unseen features to ZS3's classifier: the fixed bank (strict protocol) or
    the generator itself, run at the unseen pixels of training images (authors' protocol)."""
    if config["classifier"]["protocol"] == "authors":
        return f"generators/{run_dir(wildcards)}/gmmn.pt"
    return f"banks/{run_dir(wildcards)}/gmmn.h5"


def selftrain_p(dataset):
    """ZS5Net's p (percent of unseen-predicted pixels kept per image) for a dataset, as a path part:
    `cv` where it is cross-validated (the jobs read it from `selftrain_p_cv`)."""
    p = stage_config(config, "selftrain", dataset)["p"]
    return p if p == "cv" else f"{p:g}"


def selftrain_p_cv(wildcards):
    """The cross-validated p that ZS5Net's jobs at `p{cv}` read; none at a fixed p."""
    return f"cv/{run_dir(wildcards)}/p_zs5.json" if wildcards.p == "cv" else []


def classifier_file(wildcards):
    """The classifier a results row evaluates; `zs5` is ZS5Net at the dataset's configured p."""
    method = wildcards.method
    if method == "zs5":
        method = f"zs5_p{selftrain_p(wildcards.dataset)}"
    return f"classifiers/{run_dir(wildcards)}/{method}.pt"


def zs5_inputs(wildcards):
    """What ZS5Net's training reads: stored features + bank + pseudo-labelled features (classifier
    mode), or the segmenter, the ZS3 classifier and the labelled images (finetune mode)."""
    run = run_dir(wildcards)
    p_cv = {"p_cv": selftrain_p_cv(wildcards)}  # the p it was trained at, recorded on the classifier
    if stage_config(config, "selftrain", wildcards.dataset)["mode"] == "finetune":
        return {"checkpoint": f"checkpoints/{run}/seenonly.pt", "zs3": f"classifiers/{run}/zs3.pt",
                "index": f"data/{wildcards.dataset}/index.csv", "pseudo": f"pseudo/{run}/p{wildcards.p}",
                "holdout": f"data/{wildcards.dataset}/holdout.txt", "cv_gamma": f"cv/{run}/gamma_zs3.json"} | p_cv
    return {"features": f"features/{run}/train.h5", "synthetic": f"banks/{run}/gmmn.h5",
            "pseudo": f"features/{run}/pseudo_p{wildcards.p}.h5", "holdout": f"data/{wildcards.dataset}/holdout.txt",
            "cv_gamma": f"cv/{run}/gamma_zs3.json"} | p_cv  # ZS3Net's CV gamma in both modes (no CV of its own)


def finetune_settings(wildcards):
    """ZS5Net's fine-tuning settings in finetune mode; None in classifier mode."""
    selftrain = stage_config(config, "selftrain", wildcards.dataset)
    return selftrain["finetune"] if selftrain["mode"] == "finetune" else None


# The authors' published models (rules/authors.smk).
def authors_init_datasets():
    """Datasets whose seen-only segmenters are the authors' stage-1 files (`segmenter.init: authors`)."""
    return [ds for ds in DATASETS if segmenter_config(ds)["init"] == "authors"]


def step0_dataset_constraint():
    """The `dataset` pattern of the train_step0 rule: every dataset, but not the seen-only
    checkpoints of `authors_init_datasets()` (convert_authors_step0 writes those). Snakemake
    constrains one wildcard at a time, so a lookahead over the rest of the path excludes the pair."""
    authors = authors_init_datasets()
    exclude = rf"(?!(?:{'|'.join(authors)})(?:_seed\d+)?/k\d+/seenonly\.pt$)" if authors else ""
    return f"{exclude}(?:{'|'.join(DATASETS)})"


def authors_input(wildcards, kind):
    """The authors' file of `kind` for the dataset and split in the wildcards (an error names the
    file and the config key when it is not there)."""
    fmt = dataset_config(wildcards.dataset)["format"]
    return str(authors_file(segmenter_config(wildcards.dataset), fmt, kind, wildcards.K))


def authors_results(dataset, kinds):
    """Results of the authors' stage-2 models of `kinds` (methods evaluated `authors`, which a
    table shows): those whose files are in `authors_dir`."""
    seg, fmt = segmenter_config(dataset), dataset_config(dataset)["format"]
    if not seg.get("authors_dir"):
        return []
    return [f"results/{dataset}{seed_tag(s)}_k{k}_{kind}.csv" for s in SEEDS for k in split_ks(config, dataset)
            for kind in kinds
            if published(fmt, kind, k) and Path(seg["authors_dir"], file_name(fmt, kind, k)).is_file()]


def table_results(dataset, table, ks=None):
    """The results CSVs paper table `table` reads (its methods in zs3core/methods.py): its per-split
    methods' at `ks` (default: the dataset's), the oracle's where it shows one, and the authors'
    models' where their files are."""
    shown = table_methods(table)
    return table_inputs(dataset, split_methods([table]), ks=ks, supervised="supervised" in shown) + \
        authors_results(dataset, [m for m in shown if BY_NAME[m].evaluation == "authors"])


def table_inputs(dataset, methods, ks=None, supervised=False):
    """The results CSVs a table reads: every seed of `seeds`."""
    files = []
    for tag in map(seed_tag, SEEDS):
        files += [f"results/{dataset}{tag}_supervised.csv"] if supervised else []
        files += [f"results/{dataset}{tag}_k{k}_{m}.csv" for k in (ks or split_ks(config, dataset)) for m in methods]
    return files


# Figures and predictions (rules/figures.smk).
def figure_targets():
    """Per default dataset: the qualitative panel and the confusion heatmaps of its methods at each
    K of `figures.ks` the dataset evaluates, and Figure 5 where `figures.fig5_datasets` names it."""
    fig = config["figures"]
    files = []
    for ds in config["default_datasets"]:
        for k in (k for k in fig["ks"] if k in split_ks(config, ds)):
            files.append(f"results/figures/{ds}_k{k}.png")
            files += [f"results/{ds}_k{k}_{m}_confusion.png" for m in fig["methods"]]
        if ds in fig["fig5_datasets"]:
            files.append(f"results/fig5_{ds}.png")
    return files


# Training curves (rules/figures.smk, zs3core/curves.py).
def builds_supervised(dataset):
    """Whether the dataset's tables show the supervised oracle (Tables 1 and 3)."""
    return bool({1, 3} & set(dataset_config(dataset).get("tables", [])))


def curve_targets():
    """Per default dataset and seed: the training curves of each split, and of the supervised
    oracle where its tables show one; their TensorBoard folders where tensorboard is installed."""
    runs = [(f"{ds}{seed_tag(s)}", run) for ds in config["default_datasets"] for s in SEEDS
            for run in [f"k{k}" for k in split_ks(config, ds)] + ["supervised"] * builds_supervised(ds)]
    return [f"results/curves/{name}_{run}_curves.png" for name, run in runs] + \
        [f"tensorboard/{name}/{run}" for name, run in runs if tensorboard_available()]


def curve_classifiers(dataset, K):
    """The classifiers the default target trains at split K: those of the methods the claims (and
    so the tables) compare and the figures draw at K, and Figure 5's sweep at its K."""
    figures, selftrain = config["figures"], stage_config(config, "selftrain", dataset)
    methods = claim_methods(dataset) + (figures["methods"] if K in figures["ks"] else [])
    names = [m for m in classifier_methods() if m in methods and not BY_NAME[m].per_p]
    ps = [selftrain_p(dataset)] * ("zs5" in methods) + [m.removeprefix("zs5_p") for m in methods if m.startswith("zs5_p")]
    if dataset in figures["fig5_datasets"] and K == selftrain["sweep_k"]:
        ps += [f"{p:g}" for p in selftrain["p_sweep"]]
    return names + [f"zs5_p{p}" for p in dict.fromkeys(ps)]


def curve_inputs(wildcards):
    """{training stage: the file its curve is read from (zs3core/curves.py)} of one split
    (`run` k{K}) or of the supervised oracle (`run` supervised)."""
    ds, tag = wildcards.dataset, wildcards.seedtag
    if wildcards.run == "supervised":
        return {"supervised": f"checkpoints/{ds}{tag}/supervised.pt"}
    K = int(wildcards.run.removeprefix("k"))
    run, methods = f"{ds}{tag}/k{K}", claim_methods(ds)
    classifiers = curve_classifiers(ds, K)
    inputs = {kind: f"checkpoints/{run}/{kind}.pt" for kind in ("seenonly", *EMBEDDING_STEP0) if kind in methods}
    banks = dict.fromkeys(BY_NAME[name.partition("_p")[0]].bank for name in classifiers)
    inputs |= {bank: f"generators/{run}/{bank}_loss.csv" for bank in banks if bank}
    inputs |= {name: f"classifiers/{run}/{name}.pt" for name in classifiers}
    inputs |= {f"cv_{kind}": f"cv/{run}/gamma_{kind}.json" for kind in cv_kinds() if kind in classifiers}
    return inputs


def tensorboard_output(path):
    """The TensorBoard folder as an output where the optional tensorboard package is installed
    (installing it later reruns the curves to write it); nothing otherwise."""
    return {"tensorboard": directory(path)} if tensorboard_available() else {}


def method_classifiers(wildcards, methods):
    """{method: classifier file} of the methods that retrain the classifier (not `seenonly`)."""
    return {m: classifier_file(SimpleNamespace(dataset=wildcards.dataset, seedtag=wildcards.seedtag, K=wildcards.K,
                                               method=m))
            for m in methods if BY_NAME[m.partition("_p")[0]].retrains_classifier}


def method_title(dataset, method):
    """A figure column's name: the tables' label, with ZS5Net's p."""
    base, _, p = method.partition("_p")
    p = p or (selftrain_p(dataset) if base == "zs5" else "")
    return BY_NAME[base].label + (" (p by CV)" if p == "cv" else f" (p={p}%)" if p else "")


def p_sweep_results(wildcards):
    """Figure 5's inputs: ZS5Net's results at K = `selftrain.sweep_k` for each p of `selftrain.p_sweep`."""
    cfg = stage_config(config, "selftrain", wildcards.dataset)
    return [f"results/{wildcards.dataset}{seed_tag(s)}_k{cfg['sweep_k']}_zs5_p{p:g}.csv"
            for s in SEEDS for p in cfg["p_sweep"]]


def prediction_images(wildcards):
    """The images of `predict.images`, listed so that an added or changed image reruns predictions."""
    folder = config["predict"]["images"]
    if folder is None:
        raise ConfigError("predict.images is null: set it to a folder of images "
                          "(e.g. --config 'predict={images: my_images}')")
    return [str(f) for f in image_files(folder)]


# Classes named at prediction time (rules/named.smk, zs3core/named.py). Every named job's input
# function checks `predict.classes` first, so a seen class or (spaCy-md) an unknown word stops the
# run while the DAG is built, before any job.
@functools.cache
def checked_new_names(dataset):
    """The names of `predict.classes` new to the dataset, once their words are known to the source."""
    names = config["predict"]["classes"]
    try:
        new = new_names(class_names(dataset), names)
        source = embedding_source(config, dataset)
        if new and config["embeddings"]["sources"][source]["format"] == AUTHORS_EMBEDDINGS:
            raise ValueError(f"predict.classes: {dataset}'s embedding source '{source}' is the authors' fixed "
                             f"tables, which hold only their classes; set datasets.{dataset}.embeddings.source to "
                             f"a word-vector source (word2vec, spacy_md) to name new classes")
        check_vocabulary(new, config["embeddings"]["sources"][source], config["embeddings"]["aliases"],
                         where=f"predict.classes ({source}): ")
    except (ValueError, MissingWordsError) as exc:
        raise ConfigError(str(exc)) from None
    return new


def named_split(wildcards):
    """The split's model extended by `predict.classes` (zs3core.named.NamedModel); a ConfigError
    for a seen class named, or a file `{tag}` that is not the configured names'."""
    checked_new_names(wildcards.dataset)
    try:
        named = named_model(class_names(wildcards.dataset), unseen_of(wildcards), config["predict"]["classes"])
    except ValueError as exc:
        raise ConfigError(f"{exc} (datasets.{wildcards.dataset}, K={wildcards.K})") from None
    if "tag" in wildcards.keys() and wildcards.tag != named.tag:
        raise ConfigError(f"named_{wildcards.tag} is not the tag of predict.classes {config['predict']['classes']} "
                          f"(named_{named.tag}): set predict.classes to the names that file was built for")
    return named


def named_embeddings_inputs(wildcards):
    """The dataset's table and its provenance (the new rows are normalised as its rows were), and
    the word-vector file; checks the names first."""
    new = checked_new_names(wildcards.dataset)
    if named_tag(new) != wildcards.tag:
        raise ConfigError(f"{wildcards.dataset}_named_{wildcards.tag} is not the table of predict.classes "
                          f"{config['predict']['classes']} ({wildcards.dataset}_named_{named_tag(new)})")
    base = f"embeddings/{wildcards.source}/{wildcards.dataset}"
    return {"table": f"{base}.npy", "provenance": f"{base}.json", "vectors": external_inputs("word_vectors")(wildcards)}


def named_file(wildcards, kind):
    """The named model's embedding table or classifier for the split in the wildcards."""
    tag = named_split(wildcards).tag
    if kind == "embeddings":
        return f"embeddings/{embedding_source(config, wildcards.dataset)}/{wildcards.dataset}_named_{tag}.npy"
    return f"classifiers/{run_dir(wildcards)}/named_{tag}.pt"


# The seed spread measured once by a multi-seed run (bench/seed_spread.py), beside the Snakefile.
SEED_SPREAD = "bench/seed_spread.csv"


def seed_spread_input(wildcards):
    """The committed seed-spread CSV when it exists (the claims quote it), else nothing."""
    path = Path(workflow.basedir) / SEED_SPREAD
    return [str(path)] if path.is_file() else []


def first_images_param():
    """`first_images` (a rehearsal on the first N images of each split) as a param only where
    some dataset sets it, so that runs without it keep their params and rerun nothing."""
    if any("first_images" in spec for spec in config["datasets"].values()):
        return {"first_images": lambda wc: dataset_config(wc.dataset).get("first_images")}
    return {}


def classifier_settings(dataset, job="retrain"):
    """The `classifier` settings (the dataset's, `stage_config`) a rule's job trains with, as its
    params. `retrain`: all of them; `bank`: without `protocol`, for a classifier whose unseen rows
    are always its generator's bank; `cv`: a cross-validation's, without `protocol` and with only
    the gamma grid of `calibration` (a calibration rule change reruns no cross-validation)."""
    settings = stage_config(config, "classifier", dataset)
    if job == "retrain":
        return settings
    if job == "bank":
        return {k: v for k, v in settings.items() if k != "protocol"}
    if job == "cv":
        return {k: v for k, v in settings.items() if k not in ("protocol", "calibration")} | {
            "calibration": {"gammas": settings["calibration"]["gammas"]}}
    raise ValueError(f"unknown classifier job {job!r}: retrain, bank or cv")


# Zero-shot cross-validation (rules/cv.smk).

def cv_report_splits(dataset):
    """Per seed and split: the cross-validation's files and the ZS3Net / ceiling results CSVs."""
    splits = []
    for seed in SEEDS:
        for k in split_ks(config, dataset):
            run = f"{dataset}{seed_tag(seed)}/k{k}"
            splits.append({"seed": int(seed), "K": int(k)}
                          | {f"{f}_{m}": f"cv/{run}/{f}_{m}.{ext}" for m in ("zs3", "ceiling")
                             for f, ext in (("gamma", "json"), ("sweep", "csv"))}
                          | {f"results_{m}": f"results/{dataset}{seed_tag(seed)}_k{k}_{m}.csv" for m in ("zs3", "ceiling")})
    return splits


# The generator's own zero-shot cross-validation (rule cross_validate_generator, zs3core/cv_generator.py).
def generator_cv_settings(dataset, section):
    """What a generator section's cross-validation reads: the choice, the budget and its grid."""
    cv = stage_config(config, "generator_cv", dataset)
    return {"choice": cv["choice"], "budget": cv["budget"], "grid": section_grid(cv, section)}


def cv_section(wildcards):
    """The generator section whose pseudo bank a gamma cross-validation trains (None: the ceiling's)."""
    return BY_NAME[wildcards.kind].generator


def generator_settings_file(wildcards, section="generator"):
    """The cross-validated settings a section's generator trains with; none where it has no grid."""
    if not section_grid(stage_config(config, "generator_cv", wildcards.dataset), section):
        return []
    return f"cv/{run_dir(wildcards)}/settings_{section}.json"


def method_settings_file(wildcards):
    """The settings file of the generator a method's rows are built from (their provenance columns)."""
    base = wildcards.method.partition("_p")[0]
    return generator_settings_file(wildcards, GENERATOR_METHODS[base]) if base in GENERATOR_METHODS else []


# Runs side by side (rules/variants.smk).
def compare_inputs(wildcards):
    """The tables the main run has built (results/) and those of every named variant
    (runs/<name>/results/, docs/variants.md): a new variant's tables rerun the comparison, and
    the main run's are brought up to date first."""
    return sorted(str(p) for p in Path("results").glob("table*_*.csv")) + \
        sorted(str(p) for p in Path("runs").glob("*/results/table*_*.csv"))
