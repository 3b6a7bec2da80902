"""What a results row records about how its numbers were made.

Every metrics CSV row starts with these columns, so that a reader of one CSV can tell rows built
differently apart without the config that made them:

- `dataset`, `K`, `method`, `seed`; `calibration` and `gamma` (set per row by the evaluation);
- `protocol`: what ground truth of the unseen classes the method read. `strict`: none (the
  images containing unseen classes are only dropped, as in the paper); `authors`: generated
  features placed by the unseen masks of training images (the authors' code); `unseen_masks`:
  ZS3Net + GC, whose bank is generated at the unseen-class nodes of training images' true masks;
  `real_unseen`: the real-feature ceiling, trained on real unseen features; `supervised`: the
  oracle, trained on every class;
- `backbone`, `backbone_init` (`none`, `imagenet`, `authors_imagenet`, `file`, `authors`),
  `unseen_pixels`; `backbone_saw_unseen`: whether the backbone's pretraining saw the unseen
  classes (`yes` for torchvision's full ImageNet, whose classes include cow, cat, motorbike, ...;
  `no` from scratch or from the authors' ImageNet without Pascal classes; `unknown` for a
  user's file), which the tables mark;
- `holdout_excluded_from`: the stages that never trained on the calibration hold-out
  (`zs3core.holdout.excluded_from`);
- for methods with a generator: `bandwidth_mode` and `bandwidths` (the configured list, or the
  mode's default), `dropout_at_generation`, `generator_budget` (`30 epochs`: passes over the
  (image, seen class) pairs of the feature file, the authors' unit; or `800 iterations`),
  `generator_hidden`, and `generator_settings`: `configured` (the section's values) or `cv` (chosen
  by the generator's zero-shot cross-validation, `zs3core.cv_generator`: then `bandwidths`,
  `generator_hidden` and a `generator_<key>` per other key of its grid are the chosen values, which
  the evaluation takes from `cv/.../settings_<section>.json`, the file the generator trained with); for
  ZS3Net + GC also `gc_graphs`;
- for methods that retrain the classifier on feature rows: `features_per_class` (rows per image
  and class, `features.max_per_class`), `classifier_epochs` and `unseen_weight`;
- for ZS5Net: `pseudo_p` and `pseudo_p_rule` (`fixed`: the configured or the path's p; `cv`: chosen
  by zero-shot cross-validation, `zs3core.cv_selftrain`, which the classifier file records and
  the evaluation fills in), `pseudo_calibrated`, `selftrain_mode`;
- for the DeViSE baseline: `baseline_loss` (`cosine`, the paper's, or `rank`), `baseline_margin`
  (the rank loss's; empty for cosine, which has none), `baseline_init` (`scratch`, `seenonly`)
  and `baseline_epochs` (the epochs it trained for); for ALE, trained like it, `baseline_init`,
  `baseline_epochs` and `ale_margin`;
- `embedding_source`, and `eval_short_side` where the evaluation resized images.
"""
from __future__ import annotations

import math

from zs3core import bandwidths, holdout, methods
from zs3core.budgets import generator_budget

# All three from the method table (zs3core/methods.py), so that a new method cannot miss them.
GENERATOR_METHODS = {m: section for m, section in methods.generator_sections().items()
                     if methods.BY_NAME[m].evaluation}  # {method with results rows: its generator's section}
PROTOCOLS = ("strict", "authors", "unseen_masks", "real_unseen", "supervised")
CLASSIFIER_METHODS = methods.classifier_methods()  # a classifier retrained on feature rows
# Whether a backbone init's pretraining saw the unseen classes (`backbone_saw_unseen`).
SAW_UNSEEN = {"none": "no", "imagenet": "yes", "authors_imagenet": "no", "authors": "no", "file": "unknown"}


# The protocol of methods whose training reads the same ground truth whatever the classifier's
# protocol (the seen-only segmenter and the baseline read none: `strict`).
FIXED_PROTOCOLS = methods.fixed_protocols()


def protocol(method: str, classifier_protocol: str) -> str:
    """The `protocol` value of a method's rows (see the module docstring); ZS5Net's follows the
    classifier's, as its pseudo-labels come from the ZS3 model."""
    return FIXED_PROTOCOLS.get(methods.method(method).name, classifier_protocol)


def bandwidth_record(generator_cfg: dict) -> dict:
    """`bandwidth_mode` and the list of values as configured (the mode's default when null); none
    for a generator without an MMD kernel (the GAN)."""
    if "bandwidth_mode" not in generator_cfg:
        return {}
    mode = generator_cfg["bandwidth_mode"]
    values = generator_cfg["bandwidths"] or bandwidths.DEFAULT_BANDWIDTHS[mode]
    return {"bandwidth_mode": mode, "bandwidths": " ".join(f"{float(b):g}" for b in values)}


def generator_settings_record(generator_cfg: dict, rule: str = "configured", keys=()) -> dict:
    """`generator_settings` (`rule`), the bandwidth columns, `generator_hidden` and `generator_<key>`
    of each other key of `keys` (a cross-validated grid's), from the settings a generator trained with."""
    meta = bandwidth_record(generator_cfg) | {"generator_settings": rule}
    named = {"hidden", *keys} - {"bandwidths", "bandwidth_mode"}
    return meta | {f"generator_{k}": generator_cfg[k] for k in sorted(named) if k in generator_cfg}


def row_meta(*, dataset: str, K: int, method: str, seed: int, classifier_protocol: str, segmenter: dict,
             holdout_scope: str, embedding_source: str, generator: dict | None = None,
             dropout_at_generation: bool | None = None, selftrain: dict | None = None,
             baseline: dict | None = None, ale: dict | None = None, eval_short_side: int | None = None, classifier: dict | None = None,
             max_per_class: int | None = None) -> dict:
    """The provenance columns of one method's rows (`calibration`/`gamma` start as raw / 0).

    `generator` is the generator (or GC) section of methods that have one, with the bank's
    `dropout_at_generation`; `selftrain` ({p, calibrated, mode}) that of ZS5Net, its p a number or
    `cv` (then `pseudo_p` is NaN until the evaluation sets the classifier's); `baseline`
    ({loss, margin, init, epochs}, epochs resolved) that of the DeViSE baseline and of ALE, which
    trains like it, `ale` (the `ale` section) ALE's own; `classifier`
    (the `classifier` section) and `max_per_class` (`features.max_per_class`) those of the
    methods that retrain the classifier on feature rows.
    """
    base = method.partition("_p")[0]
    meta = {"dataset": dataset, "K": int(K), "method": base, "seed": int(seed),
            "protocol": protocol(base, classifier_protocol), "calibration": "raw", "gamma": 0.0,
            "backbone": segmenter["backbone"], "backbone_init": segmenter["init"],
            "backbone_saw_unseen": SAW_UNSEEN[segmenter["init"]], "unseen_pixels": segmenter["unseen_pixels"],
            "holdout_excluded_from": holdout.excluded_from(holdout_scope, segmenter["init"] != "authors"),
            "embedding_source": embedding_source}
    evaluation = methods.method(base).evaluation
    if evaluation in ("supervised", "authors"):  # the oracle; the authors' own stage-2 files
        meta["holdout_excluded_from"] = "none"
    if evaluation == "authors":
        meta |= {"backbone_init": "authors", "backbone_saw_unseen": SAW_UNSEEN["authors"]}
    if generator is not None and base in GENERATOR_METHODS:
        meta |= generator_settings_record(generator) | {"dropout_at_generation": bool(dropout_at_generation),
                                                        "generator_budget": generator_budget(generator)}
    if classifier is not None and base in CLASSIFIER_METHODS:
        meta |= {"features_per_class": int(max_per_class), "classifier_epochs": int(classifier["epochs"]),
                 "unseen_weight": float(classifier["unseen_weight"])}
    if base == "zs3gc":
        meta["gc_graphs"] = "true_masks"
    if base == "zs5" and selftrain is not None:
        cross_validated = selftrain["p"] == "cv"
        meta |= {"pseudo_p": math.nan if cross_validated else float(selftrain["p"]),
                 "pseudo_p_rule": "cv" if cross_validated else "fixed",
                 "pseudo_calibrated": bool(selftrain["calibrated"]), "selftrain_mode": selftrain["mode"]}
    if base == "baseline" and baseline is not None:
        meta |= {"baseline_loss": baseline["loss"],
                 "baseline_margin": float(baseline["margin"]) if baseline["loss"] == "rank" else None,
                 "baseline_init": baseline["init"], "baseline_epochs": int(baseline["epochs"])}
    if base == "ale" and baseline is not None and ale is not None:
        meta |= {"baseline_init": baseline["init"], "baseline_epochs": int(baseline["epochs"]),
                 "ale_margin": float(ale["margin"])}
    if eval_short_side:
        meta["eval_short_side"] = int(eval_short_side)
    return meta
